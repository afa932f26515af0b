r"""Constraints on the discriminator's weights: spectral normalisation (a reparametrisation
inside the objective) and weight clipping (a projection after each step)."""

from collections.abc import Callable
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._checks import check_choice, check_int_at_least
from .._custom_types import State
from .._hyper import hyperparameter
from ..dynamics import Objective
from ..games import AbstractGame
from ._base import AbstractStabiliser

_tmap = jax.tree_util.tree_map


def spectral_norm(
    w: Float[Array, "m n"], method: str = "exact", num_iters: int = 20
) -> Float[Array, ""]:
    r"""$σ_1(W)$, the largest singular value.

    - `"exact"`: from the SVD (`jnp.linalg.norm(W, 2)`); its derivative is $u_1 v_1^\top$ when
      σ₁ is simple.
    - `"power"`: `num_iters` power iterations from a fixed start vector, then
      $σ = u^\top W v$ with u, v held constant in the derivative (Miyato et al. 2018, Alg. 1:
      $∂σ/∂W = u v^\top$). Converges like $(σ_2/σ_1)^{2k}$.
    """
    if method == "exact":
        return jnp.linalg.norm(w, 2)
    v = jax.random.normal(jax.random.key(0), (w.shape[1],), w.dtype)
    v = v / jnp.linalg.norm(v)
    ws = jax.lax.stop_gradient(w)

    def body(_, v):
        u = ws @ v
        u = u / jnp.linalg.norm(u)
        v = ws.T @ u
        return v / jnp.linalg.norm(v)

    v = jax.lax.fori_loop(0, num_iters, body, v)
    u = ws @ v
    u = jax.lax.stop_gradient(u / jnp.linalg.norm(u))
    v = jax.lax.stop_gradient(v)
    return u @ w @ v


class _Normalised(eqx.Module):
    fn: Callable[..., Any]
    sn: "SpectralNorm"

    def __call__(self, theta, omega, *args):
        return self.fn(theta, self.sn.normalise(omega), *args)


class SpectralNorm(AbstractStabiliser):
    r"""Spectral normalisation of the discriminator (Miyato et al. 2018; survey §5.1.4): every
    weight matrix W of ω (every leaf with `ndim == 2`) is used as $W/σ_1(W)$, so a
    discriminator of 1-Lipschitz activations is 1-Lipschitz:
    $\|D\|_L ≤ \prod_i σ_1(\tilde W^i) = 1$.

    **Why stateless.** `equinox.nn.SpectralNorm` keeps the power-iteration vector u in an
    `eqx.nn.State` updated at every call (one iteration per training step, as in Miyato's
    Alg. 1). ganflow's fields are functions b(x, *args) of the state x = (θ, ω) alone — they are
    differentiated (J·u, Jᵀ·u, Jacobian spectra), integrated by ODE/SDE solvers and evaluated
    at arbitrary points — so a hidden state updated as a side effect has no place there: the
    field would depend on the call history and its Jacobian would not be that of any vector
    field. Here σ₁ is recomputed inside the objective: exactly from the SVD (`method="exact"`,
    the default; the reparametrised game is then a smooth game in ω wherever σ₁ is simple) or
    by `num_iters` power iterations from a fixed start (`method="power"`, cheaper for large
    matrices, Miyato's gradient). Cost on the ~35k-parameter MoG MLP GAN on CPU
    (`scripts/benchmarks/bench_stabilisers.py`): "exact" ≈ 15–30× b0 (three SVDs and their
    derivatives), "power" with 5 iterations ≈ 1× b0. The players' parameters stay the raw W; apply
    `normalise(ω)` to read the effective discriminator.
    """

    method: Literal["exact", "power"] = eqx.field(static=True)
    num_iters: int = eqx.field(static=True)

    def __init__(self, method: str = "exact", num_iters: int = 20):
        self.method = check_choice("method", method, ("exact", "power"))
        self.num_iters = check_int_at_least("num_iters", num_iters, 1)

    def normalise(self, omega: Any) -> Any:
        """ω with every 2-D leaf W replaced by W/σ₁(W)."""

        def norm(a):
            if eqx.is_inexact_array(a) and a.ndim == 2:
                return a / spectral_norm(a, self.method, self.num_iters)
            return a

        return _tmap(norm, omega)

    def objective(self, objective: Objective, game: AbstractGame | None) -> Objective:
        del game
        return Objective(
            _Normalised(objective.generator, self),
            _Normalised(objective.discriminator, self),
            objective.zero_sum,
        )


class WeightClipping(AbstractStabiliser):
    r"""Weight clipping of the original WGAN (Arjovsky, Chintala & Bottou 2017, Alg. 1): after
    every training step each discriminator parameter is clipped to [−c, c]. Only `project`
    changes; the field is b0 (the clipping is not a vector field).

    `c` (> 0, default 0.01): an array leaf (one compilation for any value).
    """

    c: Any

    def __init__(self, c: ArrayLike = 0.01):
        self.c = hyperparameter("c", c)

    def project(self, x: State) -> State:
        theta, omega = x
        clip = lambda a: jnp.clip(a, -self.c, self.c) if eqx.is_inexact_array(a) else a
        return theta, _tmap(clip, omega)
