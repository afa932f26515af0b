"""The dynamics layer: b0, J·u, Jᵀ·u, HVPs, dense Jacobians, b1, per-example gradient noise.

Works on any objective Φ(θ, ω, *args) over arbitrary pytrees; see MATH.md for the signs.
"""

from ._field import (
    b0 as b0,
    b1 as b1,
    GameField as GameField,
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
    ravel_state as ravel_state,
    simultaneous_correction as simultaneous_correction,
    split_index as split_index,
    vector_field as vector_field,
    vjp as vjp,
)
from ._noise import (
    noise_factor as noise_factor,
    NoiseFactor as NoiseFactor,
    per_example_grads as per_example_grads,
)
from ._objective import (
    as_objective as as_objective,
    discriminator_grad as discriminator_grad,
    generator_grad as generator_grad,
    grads as grads,
    Objective as Objective,
)
