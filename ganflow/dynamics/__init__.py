"""The dynamics layer: b0, J·u, Jᵀ·u, HVPs, dense Jacobians, b1, per-example gradient noise.

Works on any objective Φ(θ, ω, *args) over arbitrary pytrees; see MATH.md for the signs.
"""

from ._field import (
    GameField as GameField,
)
from ._field import (
    ModifiedField as ModifiedField,
)
from ._field import (
    b0 as b0,
)
from ._field import (
    b1 as b1,
)
from ._field import (
    hessian_blocks as hessian_blocks,
)
from ._field import (
    hvp_omega as hvp_omega,
)
from ._field import (
    hvp_theta as hvp_theta,
)
from ._field import (
    jacobian as jacobian,
)
from ._field import (
    jvp as jvp,
)
from ._field import (
    linearize as linearize,
)
from ._field import (
    mixed_omega_theta as mixed_omega_theta,
)
from ._field import (
    mixed_theta_omega as mixed_theta_omega,
)
from ._field import (
    modified_field as modified_field,
)
from ._field import (
    ravel_state as ravel_state,
)
from ._field import (
    simultaneous_correction as simultaneous_correction,
)
from ._field import (
    split_index as split_index,
)
from ._field import (
    vector_field as vector_field,
)
from ._field import (
    vjp as vjp,
)
from ._noise import (
    NoiseFactor as NoiseFactor,
)
from ._noise import (
    noise_factor as noise_factor,
)
from ._noise import (
    per_example_grads as per_example_grads,
)
from ._objective import (
    Objective as Objective,
)
from ._objective import (
    as_objective as as_objective,
)
from ._objective import (
    discriminator_grad as discriminator_grad,
)
from ._objective import (
    generator_grad as generator_grad,
)
from ._objective import (
    grads as grads,
)
