"""ganflow: GAN training as a dynamical system, in JAX.

The public API is re-exported here; logic lives in private modules. `import ganflow` does not
import matplotlib (`ganflow.plotting` imports it lazily).
"""

from . import dynamics as dynamics, games as games, losses as losses, models as models
from .dynamics import (
    as_objective as as_objective,
    b0 as b0,
    b1 as b1,
    discriminator_grad as discriminator_grad,
    GameField as GameField,
    generator_grad as generator_grad,
    grads as grads,
    hessian_blocks as hessian_blocks,
    hvp_omega as hvp_omega,
    hvp_theta as hvp_theta,
    jacobian as jacobian,
    jvp as jvp,
    linearize as linearize,
    mixed_omega_theta as mixed_omega_theta,
    mixed_theta_omega as mixed_theta_omega,
    modified_field as modified_field,
    ModifiedField as ModifiedField,
    noise_factor as noise_factor,
    NoiseFactor as NoiseFactor,
    Objective as Objective,
    per_example_grads as per_example_grads,
    ravel_state as ravel_state,
    simultaneous_correction as simultaneous_correction,
    split_index as split_index,
    vector_field as vector_field,
    vjp as vjp,
)
from .games import AbstractGame as AbstractGame, AbstractGANGame as AbstractGANGame, DiracGAN as DiracGAN
from .losses import AbstractLoss as AbstractLoss, GANLoss as GANLoss, get_loss as get_loss, WGANLoss as WGANLoss

__version__ = "0.1.0"
