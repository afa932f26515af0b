"""The dynamics layer: b0, J·u, Jᵀ·u, HVPs, dense Jacobians, b1, per-example gradient noise,
and the field protocol (`AbstractField`, `field_needs_key`, `field_project`).

Works on any objective Φ(θ, ω, *args) over arbitrary pytrees. Signs, flat order and the field
protocol: docs/conventions.md §The vector field b0 and its Jacobian J, §Flat order, §The field
protocol.
"""

from ._field import (
    GameField as GameField,
    ModifiedField as ModifiedField,
    b0 as b0,
    b1 as b1,
    hessian_blocks as hessian_blocks,
    hvp_omega as hvp_omega,
    hvp_theta as hvp_theta,
    jacobian as jacobian,
    jvp as jvp,
    linearize as linearize,
    mixed_omega_theta as mixed_omega_theta,
    mixed_theta_omega as mixed_theta_omega,
    modified_field as modified_field,
    ravel_state as ravel_state,
    self_jvp as self_jvp,
    self_vjp as self_vjp,
    simultaneous_correction as simultaneous_correction,
    split_index as split_index,
    vector_field as vector_field,
    vjp as vjp,
)
from ._noise import (
    NoiseFactor as NoiseFactor,
    noise_factor as noise_factor,
    per_example_grads as per_example_grads,
)
from ._objective import (
    Objective as Objective,
    as_objective as as_objective,
    discriminator_grad as discriminator_grad,
    generator_grad as generator_grad,
    grads as grads,
)
from ._protocol import (
    AbstractField as AbstractField,
    field_needs_key as field_needs_key,
    field_project as field_project,
)
