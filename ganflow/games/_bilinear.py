r"""The bilinear game Φ(x, y) = xᵀy (Mounjid–Guo §2, Fig. 1; Balduzzi 2018)."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import ArrayLike

from .._checks import check_int_at_least
from ..dynamics import Objective
from ._base import AbstractGame


def _bilinear(theta, omega):
    return jnp.vdot(theta, omega)


class Bilinear(AbstractGame):
    r"""$Φ(θ, ω) = θ^T ω$ with θ = x, ω = y ∈ ℝ^dim (plain arrays); the generator minimises over
    x, the discriminator maximises over y. The unique equilibrium is (0, 0), where
    b0 = (−y, x) and $J = \begin{pmatrix} 0 & -I \\ I & 0 \end{pmatrix}$ (eigenvalues ±i): the
    gradient flow rotates, simultaneous GDA spirals out, alternating GDA cycles
    (Mounjid–Guo Fig. 1).

    There are no data: `sample` returns a dummy batch (zeros of shape (B,)) that the objective
    ignores, so the minibatch objective equals the population one exactly.
    """

    dim: int = eqx.field(static=True)

    def __init__(self, dim: int = 1):
        self.dim = check_int_at_least("dim", dim, 1)

    def make_state(self, x: ArrayLike, y: ArrayLike):
        """x = (θ, ω) = (x, y) as float vectors of length `dim` (scalars are broadcast)."""
        dtype = jnp.result_type(float)
        shape = (self.dim,)
        return (
            jnp.broadcast_to(jnp.asarray(x, dtype), shape),
            jnp.broadcast_to(jnp.asarray(y, dtype), shape),
        )

    def init(self, key):
        """(x, y) ∼ N(0, I)."""
        kx, ky = jax.random.split(key)
        dtype = jnp.result_type(float)
        return (
            jax.random.normal(kx, (self.dim,), dtype),
            jax.random.normal(ky, (self.dim,), dtype),
        )

    def sample(self, key, batch_size):
        check_int_at_least("batch_size", batch_size, 1)
        return jnp.zeros((batch_size,), jnp.result_type(float))

    def example_discriminator(self, theta, omega, example):
        del example
        return _bilinear(theta, omega)

    def population(self):
        return Objective.from_phi(_bilinear)

    def equilibrium(self):
        return self.make_state(0.0, 0.0)
