"""ganflow: GAN training as a dynamical system, in JAX.

The public API is re-exported here; logic lives in private modules. `import ganflow` does not
import matplotlib (`ganflow.plotting` imports it lazily).
"""

from . import dynamics as dynamics
from . import games as games
from . import losses as losses
from . import models as models
from .dynamics import (
    GameField as GameField,
)
from .dynamics import (
    ModifiedField as ModifiedField,
)
from .dynamics import (
    NoiseFactor as NoiseFactor,
)
from .dynamics import (
    Objective as Objective,
)
from .dynamics import (
    as_objective as as_objective,
)
from .dynamics import (
    b0 as b0,
)
from .dynamics import (
    b1 as b1,
)
from .dynamics import (
    discriminator_grad as discriminator_grad,
)
from .dynamics import (
    generator_grad as generator_grad,
)
from .dynamics import (
    grads as grads,
)
from .dynamics import (
    hessian_blocks as hessian_blocks,
)
from .dynamics import (
    hvp_omega as hvp_omega,
)
from .dynamics import (
    hvp_theta as hvp_theta,
)
from .dynamics import (
    jacobian as jacobian,
)
from .dynamics import (
    jvp as jvp,
)
from .dynamics import (
    linearize as linearize,
)
from .dynamics import (
    mixed_omega_theta as mixed_omega_theta,
)
from .dynamics import (
    mixed_theta_omega as mixed_theta_omega,
)
from .dynamics import (
    modified_field as modified_field,
)
from .dynamics import (
    noise_factor as noise_factor,
)
from .dynamics import (
    per_example_grads as per_example_grads,
)
from .dynamics import (
    ravel_state as ravel_state,
)
from .dynamics import (
    simultaneous_correction as simultaneous_correction,
)
from .dynamics import (
    split_index as split_index,
)
from .dynamics import (
    vector_field as vector_field,
)
from .dynamics import (
    vjp as vjp,
)
from .games import AbstractGame as AbstractGame
from .games import AbstractGANGame as AbstractGANGame
from .games import DiracGAN as DiracGAN
from .losses import AbstractLoss as AbstractLoss
from .losses import GANLoss as GANLoss
from .losses import WGANLoss as WGANLoss
from .losses import get_loss as get_loss

__version__ = "0.1.0"
