r"""Hyper-parameter search by gradient and by grid, in log coordinates inside a box.

Both searches minimise a scalar `objective(p)` of a vector p of positive hyper-parameters
(e.g. (η, γ) of consensus optimisation). The gradient search takes projected Adam steps on
log p — the natural scale of learning rates and penalty weights — and the grid search evaluates
the objective on a log-spaced grid of the same box, so that the two can be given the same
compute and compared. The objective must be differentiable for the gradient search (a spectral
radius from `ganflow.analysis.extreme_eigenvalue`, a divergence after N steps of
`ganflow.training.iterate`, ...); both searches are one compiled program each (`lax.scan` over
the steps, `vmap` over the grid).
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float

from .._checks import check_int_at_least, check_positive


class HyperSearch(NamedTuple):
    r"""The path of a search: `params` (T, d) the hyper-parameters p evaluated (in natural
    units), `values` (T,) the objective there; `best` the index of the smallest finite value."""

    params: Float[Array, "T d"]
    values: Float[Array, " T"]

    @property
    def best(self) -> int:
        v = np.where(np.isfinite(np.asarray(self.values)), np.asarray(self.values), np.inf)
        return int(np.argmin(v))


def _box(lower: Any, upper: Any, init: Any | None = None) -> tuple[Array, Array]:
    lo, hi = np.asarray(lower, float), np.asarray(upper, float)
    if lo.ndim != 1 or lo.shape != hi.shape:
        raise ValueError(f"lower and upper must be 1-D of equal length, got shapes {lo.shape}, "
                         f"{hi.shape}")
    if np.any(lo <= 0) or np.any(hi <= lo):
        raise ValueError(f"the box needs 0 < lower < upper, got lower={lo}, upper={hi}")
    if init is not None:
        p = np.asarray(init, float)
        if p.shape != lo.shape or np.any(p < lo) or np.any(p > hi):
            raise ValueError(f"init={p} must lie in the box [{lo}, {hi}]")
    return jnp.log(jnp.asarray(lo)), jnp.log(jnp.asarray(hi))


def gradient_search(
    objective: Callable[[Array], Array],
    init: Any,
    lower: Any,
    upper: Any,
    *,
    steps: int,
    learning_rate: float = 0.1,
) -> HyperSearch:
    r"""Minimises `objective(p)` by `steps` projected Adam steps on u = log p inside the box
    `lower ≤ p ≤ upper`: u ← clip(u + Adam(∇_u objective(e^u)), log lower, log upper).

    - `objective`: p (d,) ↦ scalar, differentiable (`jax.value_and_grad`);
    - `init`: the starting p, inside the box;
    - `lower`, `upper`: the box (d,), 0 < lower < upper;
    - `steps`: gradient evaluations (each costs one value and one gradient of `objective`);
    - `learning_rate`: Adam's step in log units (default 0.1: about 10 % of p per step).

    Returns the `HyperSearch` of the `steps` points where the gradient was taken (the value at
    the final update's point is not evaluated: the search costs exactly `steps` value-and-
    gradient evaluations). A non-finite gradient stops the search where it is (later points
    repeat the last one).
    """
    steps = check_int_at_least("steps", steps, 1)
    learning_rate = check_positive("learning_rate", learning_rate)
    lo, hi = _box(lower, upper, init)
    opt = optax.adam(learning_rate)
    vg = jax.value_and_grad(lambda u: objective(jnp.exp(u)))

    def body(carry, _):
        u, state = carry
        value, grad = vg(u)
        ok = jnp.all(jnp.isfinite(grad))
        upd, new_state = opt.update(jnp.where(ok, grad, 0.0), state, u)
        new_u = jnp.where(ok, jnp.clip(u + upd, lo, hi), u)
        return (new_u, new_state), (jnp.exp(u), value)

    u0 = jnp.log(jnp.asarray(init, dtype=lo.dtype))
    _, (params, values) = jax.jit(
        lambda u: jax.lax.scan(body, (u, opt.init(u)), None, length=steps))(u0)
    return HyperSearch(params, values)


def grid_points(lower: Any, upper: Any, num: Any) -> Float[Array, "T d"]:
    r"""The log-spaced grid of the box: `num[i]` points from `lower[i]` to `upper[i]` on axis i
    (an int `num` for every axis), as a (∏ num, d) array in C order (the last axis fastest)."""
    lo, hi = _box(lower, upper)
    nums = np.broadcast_to(np.asarray(num, int), lo.shape)
    if np.any(nums < 1):
        raise ValueError(f"num must be >= 1 on every axis, got {num}")
    axes = [jnp.exp(jnp.linspace(a, b, int(n))) if n > 1 else jnp.exp(a)[None]
            for a, b, n in zip(lo, hi, nums)]
    mesh = jnp.meshgrid(*axes, indexing="ij")
    return jnp.stack([m.ravel() for m in mesh], axis=-1)


def grid_search(
    objective: Callable[[Array], Array],
    lower: Any,
    upper: Any,
    num: Any,
) -> HyperSearch:
    r"""Evaluates `objective(p)` on the log-spaced grid `grid_points(lower, upper, num)` (one
    `vmap`, one compilation) and returns its `HyperSearch` (`best`: the grid's minimiser)."""
    points = grid_points(lower, upper, num)
    return HyperSearch(points, jax.jit(jax.vmap(objective))(points))


# ---------------------------------------------------------------------------------------------
# closed forms on the Dirac-GAN


def dirac_stabilised_rate(stabiliser: str, eta: Any, weight: Any, fprime: float) -> Array:
    r"""ρ(F′(0)) of simultaneous GDA with a stabiliser on the Dirac-GAN (Φ = f(ψθ) + f(0),
    a = f′(0); b0 has J = [[0, −a], [a, 0]] at the equilibrium, Mescheder et al. 2018):

    - `"consensus"` (weight γ, Mescheder et al. 2017): J − γJᵀJ = J − γa²I, so
      F′ = I + η(J − γa²I) has eigenvalues 1 − ηγa² ± iηa and
      ρ² = (1 − ηγa²)² + η²a²;
    - `"nk"` (weight λ, Nagarajan–Kolter eq. 4; J_DD = 0 here): J = [[−2λa², −a], [a, 0]]
      with eigenvalues μ = −λa² ± √(λ²a⁴ − a²), and ρ = max |1 + ημ| (for λa < 1:
      ρ² = 1 − 2ηλa² + η²a²).
    """
    eta, weight = jnp.asarray(eta), jnp.asarray(weight)
    a = fprime
    if stabiliser == "consensus":
        return jnp.sqrt((1 - eta * weight * a**2) ** 2 + (eta * a) ** 2)
    if stabiliser == "nk":
        disc = (weight * a**2) ** 2 - a**2 + 0j
        mu = -weight * a**2 + jnp.stack([jnp.sqrt(disc), -jnp.sqrt(disc)])
        return jnp.max(jnp.abs(1 + eta * mu), axis=0)
    raise ValueError(f"stabiliser must be 'consensus' or 'nk', got {stabiliser!r}")


def dirac_stabilised_optimum(stabiliser: str, upper: Any, fprime: float) -> tuple[float, ...]:
    r"""(η*, weight*, ρ*): the minimiser of `dirac_stabilised_rate` over the box
    0 < η ≤ upper[0], 0 < weight ≤ upper[1] (a = f′(0)).

    - consensus: for fixed γ, ρ² is smallest at η = γ/(1 + γ²a²), where ρ² = 1/(1 + γ²a²),
      decreasing in γ: γ* = upper[1], η* = γ*/(1 + γ*²a²) (when ≤ upper[0]), ρ* = 1/√(1 + γ*²a²);
    - NK: ρ = 0 at λ = η = 1/a, where the two eigenvalues of F′ meet at 0 (a Jordan block), when
      the box holds that point; else (λ < 1/a, λa < 1) ρ² = 1 − 2ηλa² + η²a² is smallest at
      λ* = upper[1], η* = λ*, ρ* = √(1 − λ*²a²).
    """
    a = fprime
    eta_max, w_max = float(upper[0]), float(upper[1])
    if stabiliser == "consensus":
        eta = w_max / (1 + w_max**2 * a**2)
        if eta > eta_max:
            raise ValueError("the box cuts the consensus optimum: use upper[0] >= "
                             f"{eta:.4g}")
        return eta, w_max, 1 / np.sqrt(1 + w_max**2 * a**2)
    if stabiliser == "nk":
        if eta_max >= 1 / a and w_max >= 1 / a:
            return 1 / a, 1 / a, 0.0
        lam = min(w_max, eta_max)
        return lam, lam, float(np.sqrt(1 - lam**2 * a**2))
    raise ValueError(f"stabiliser must be 'consensus' or 'nk', got {stabiliser!r}")
