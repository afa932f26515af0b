r"""Per-example gradients and the gradient-noise factor of the Cao–Guo SDEs.

With $G_c$ the (n × d) matrix of centred per-example gradients, $C = G_c/\sqrt n$ satisfies
$C^\top C = \hat Σ$ (the per-example gradient covariance), so $C^\top ξ$ with $ξ ∼ N(0, I_n)$ has
covariance exactly $\hat Σ$: a square root of Σ in O(n d) work and memory, never a d × d matrix
(docs/conventions.md §Continuous time: b1, the SDEs, β, Σ and its factor). The two players get
separate factors and separate Brownian motions: $Σ = \mathrm{blockdiag}(Σ_θ, Σ_ω)$ (Cao–Guo
eq. 10).
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .._checks import check_state
from ._objective import Objective, as_objective

_tmap = jax.tree_util.tree_map


def _batch_size(batch: Any) -> int:
    leaves = jax.tree_util.tree_leaves(batch)
    if not leaves:
        raise ValueError("batch must contain at least one array with a leading example axis")
    sizes = {jnp.shape(a)[0] if jnp.ndim(a) else None for a in leaves}
    if None in sizes or len(sizes) != 1:
        raise ValueError(
            "every leaf of batch must have the same leading (example) axis; got leading sizes "
            f"{sorted(str(s) for s in sizes)}"
        )
    return sizes.pop()


def per_example_grads(
    example_phi: Callable[..., Any] | Objective, x: Any, batch: Any, *args: Any
) -> tuple[Any, Any]:
    r"""Per-example gradients $(g_θ^{i}, g_ω^{i})_{i=1..n}$ (Cao–Guo eq. 3), stacked on a
    leading axis of size n.

    `example_phi(θ, ω, example, *args)` is the objective of one example (a slice of `batch`
    along its leading axis); the minibatch objective is its mean. For a non-zero-sum game pass
    an `Objective` of per-example functions.
    """
    obj = as_objective(example_phi)
    theta, omega = check_state(x)
    _batch_size(batch)
    if obj.zero_sum:
        g = jax.grad(obj.discriminator_value, argnums=(0, 1))
        return jax.vmap(lambda e: g(theta, omega, e, *args))(batch)
    gt = jax.grad(obj.generator_value, argnums=0)
    gw = jax.grad(obj.discriminator_value, argnums=1)
    return jax.vmap(lambda e: (gt(theta, omega, e, *args), gw(theta, omega, e, *args)))(batch)


class NoiseFactor(eqx.Module):
    r"""The factor $C = (C_θ, C_ω)$ with $C_θ^\top C_θ = \hat Σ_θ$ and $C_ω^\top C_ω = \hat Σ_ω$:
    the centred per-example gradients divided by $\sqrt n$, leading axis n.

    `factor.apply((ξ_θ, ξ_ω))` with $ξ_θ, ξ_ω ∈ \mathbb R^n$ returns $(C_θ^\top ξ_θ, C_ω^\top
    ξ_ω)$, a pytree shaped like x: the diffusion $Σ^{1/2} dW$ of the SDEs (up to the
    $\sqrt{η/B}$ factor) with one Brownian motion per player.
    """

    theta: Any
    omega: Any

    @property
    def n(self) -> int:
        return jax.tree_util.tree_leaves(self.theta)[0].shape[0]

    def apply(self, xi: tuple[Any, Any]) -> tuple[Any, Any]:
        xi_theta, xi_omega = xi

        def contract(c, v):
            return jnp.tensordot(v, c, axes=(0, 0))

        return (
            _tmap(lambda c: contract(c, xi_theta), self.theta),
            _tmap(lambda c: contract(c, xi_omega), self.omega),
        )

    def covariance(self) -> tuple[jax.Array, jax.Array]:
        """Dense $(\\hat Σ_θ, \\hat Σ_ω)$ in each player's flat order (small games, tests)."""

        def dense(tree):
            flat = jnp.concatenate(
                [a.reshape(a.shape[0], -1) for a in jax.tree_util.tree_leaves(tree)], axis=1
            )
            return flat.T @ flat

        return dense(self.theta), dense(self.omega)

    def trace(self) -> tuple[jax.Array, jax.Array]:
        r"""$(\mathrm{Tr}\,\hat Σ_θ, \mathrm{Tr}\,\hat Σ_ω)$ without forming Σ (FDRs)."""

        def tr(tree):
            return sum(jnp.sum(a**2) for a in jax.tree_util.tree_leaves(tree))

        return tr(self.theta), tr(self.omega)


def noise_factor(
    example_phi: Callable[..., Any] | Objective, x: Any, batch: Any, *args: Any
) -> NoiseFactor:
    r"""The square-root factor of the per-example gradient covariance (see `NoiseFactor`)."""
    g_theta, g_omega = per_example_grads(example_phi, x, batch, *args)
    n = _batch_size(batch)
    scale = 1.0 / jnp.sqrt(n)

    def centre(a):
        return (a - jnp.mean(a, axis=0, keepdims=True)) * scale

    return NoiseFactor(_tmap(centre, g_theta), _tmap(centre, g_omega))
