r"""Quadrature for the population objectives of the small games.

Two families of rules, both with a static number of nodes (so they jit, vmap and differentiate):

- **Gauss–Hermite** (`hermite_rule`, `normal_expectation_hermite`): $E g(U)$, $U ∼ N(0, 1)$, with
  n fixed nodes. Exact for polynomials of degree ≤ 2n − 1 and excellent for integrands that are
  smooth on the scale of the Gaussian; it **silently misses** features narrower than its node
  spacing (a sigmoid window of a discriminator with large weights falls between two nodes), which
  can make a fixed-node rule report a spurious stationary point (see `ganflow.games`, the
  linear–quadratic Gaussian GAN).
- **Graded composite Gauss–Legendre** (`graded_rule`, `graded_normal_rule`, `normal_expectation`,
  `integrate`): the interval is cut at *breakpoints* (where the integrand has sharp features: the
  roots and the vertex of a quadratic logit, `quadratic_breakpoints`), and every piece is covered by
  Gauss–Legendre panels whose sizes shrink geometrically (ratio 1/2) towards both of its ends.
  A feature of any width ε ≥ (piece length)·2^{-levels} sitting at a breakpoint is then resolved
  by panels of size comparable to ε, while panels far from it are large: for an integrand analytic
  except for singularities at distance ≳ ε from a breakpoint, each panel [d, 2d] sees its nearest
  singularity outside a Bernstein ellipse of parameter ≥ 3 + √8, so n nodes per panel give a
  relative error of order (3 + √8)^{-2n} ≈ 5e-13 for n = 8, uniformly in ε (hp-refinement).
  The breakpoints are treated as constants under differentiation (`stop_gradient`), so the
  derivative of a quadrature is the quadrature of the derivative of the integrand at fixed nodes.

The Gaussian rules integrate over the truncated standard interval [−h, h] (h = 12 by default; the
mass outside is 3.6e-33) with fixed extra breakpoints at 0, ±1.5, ±3, ±6 so that the Gaussian
weight itself is resolved to machine precision.

Validated in `tests/test_quadrature.py` against Gaussian moments, exact sigmoid expectations and
`scipy.integrate.quad` at hard parameters (steep and narrow sigmoid windows).
"""

from collections.abc import Callable
from functools import cache

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ._checks import check_int_at_least, check_positive

_STANDARD_BREAKPOINTS = (-6.0, -3.0, -1.5, 0.0, 1.5, 3.0, 6.0)


@cache
def _legendre(num_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(num_nodes)
    return x, w


@cache
def _hermite(num_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.hermite_e.hermegauss(num_nodes)
    return x, w / np.sqrt(2.0 * np.pi)


@cache
def _graded_half(num_nodes: int, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights on [0, 1], panels [0, 2^-levels], …, [1/4, 1/2], [1/2, 1]."""
    edges = np.concatenate([[0.0], 0.5 ** np.arange(levels, -1, -1, dtype=np.float64)])
    x, w = _legendre(num_nodes)
    lo, hi = edges[:-1, None], edges[1:, None]
    nodes = 0.5 * (hi - lo) * x[None, :] + 0.5 * (hi + lo)
    weights = 0.5 * (hi - lo) * w[None, :]
    return nodes.ravel(), weights.ravel()


def _dtype():
    return jnp.result_type(float)


def hermite_rule(num_nodes: int = 20) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    r"""Gauss–Hermite nodes u and weights w (probabilists', normalised) with
    $\sum_i w_i g(u_i) ≈ E g(U)$, $U ∼ N(0, 1)$; exact for polynomials of degree ≤ 2n − 1."""
    check_int_at_least("num_nodes", num_nodes, 1)
    x, w = _hermite(num_nodes)
    return jnp.asarray(x, _dtype()), jnp.asarray(w, _dtype())


def normal_rule(num_nodes: int, sigma: ArrayLike = 1.0) -> tuple[Array, Array]:
    r"""Nodes $s_i = σu_i$ and weights $w_i$ with $\sum_i w_i g(s_i) ≈ E\,g(ε)$,
    ε ∼ N(0, σ²): the Gauss–Hermite rule of `hermite_rule` scaled by σ (exact for polynomials
    of degree ≤ 2n − 1). σ may be traced."""
    u, w = hermite_rule(num_nodes)
    return sigma * u, w


def legendre_rule_01(num_nodes: int) -> tuple[Array, Array]:
    r"""Nodes and weights of the n-point Gauss–Legendre rule on [0, 1]:
    $\sum_i w_i g(t_i) ≈ E\,g(T)$, T ∼ U[0, 1] (exact for degree ≤ 2n − 1)."""
    check_int_at_least("num_nodes", num_nodes, 1)
    x, w = _legendre(num_nodes)
    return jnp.asarray(0.5 * (x + 1.0), _dtype()), jnp.asarray(0.5 * w, _dtype())


def gauss_legendre(
    fn: Callable[[Array], ArrayLike], a: float, b: float, num_nodes: int = 64
) -> Float[Array, ""]:
    r"""$\int_a^b fn(x)\,dx$ by n-node Gauss–Legendre (exact for polynomials of degree ≤ 2n − 1).
    `fn` acts on one scalar."""
    check_int_at_least("num_nodes", num_nodes, 1)
    x, w = _legendre(num_nodes)
    x, w = jnp.asarray(x, _dtype()), jnp.asarray(w, _dtype())
    half, mid = 0.5 * (b - a), 0.5 * (b + a)
    return half * jnp.dot(w, jax.vmap(fn)(half * x + mid))


def graded_rule(
    breakpoints: Float[ArrayLike, " k"], num_nodes: int = 8, levels: int = 30
) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    r"""Nodes and weights of the graded composite Gauss–Legendre rule on
    [min(breakpoints), max(breakpoints)].

    The breakpoints are sorted; NaNs are replaced by the smallest finite breakpoint (they then
    bound empty pieces of zero weight). Each piece between consecutive breakpoints is split at its
    midpoint and each half is covered by `levels + 1` panels graded geometrically (ratio 1/2)
    towards the piece's end, with `num_nodes` Gauss–Legendre nodes per panel: in all
    `2 (k − 1) (levels + 1) num_nodes` nodes for k breakpoints. Breakpoints are constants under
    differentiation."""
    check_int_at_least("num_nodes", num_nodes, 1)
    check_int_at_least("levels", levels, 0)
    bp = jax.lax.stop_gradient(jnp.asarray(breakpoints, _dtype()))
    if bp.ndim != 1 or bp.shape[0] < 2:
        raise ValueError(f"breakpoints must be a vector of at least 2 points, got shape {bp.shape}")
    finite_min = jnp.min(jnp.where(jnp.isnan(bp), jnp.inf, bp))
    bp = jnp.sort(jnp.where(jnp.isnan(bp), finite_min, bp))
    s, ws = _graded_half(num_nodes, levels)
    s, ws = jnp.asarray(s, _dtype()), jnp.asarray(ws, _dtype())
    lo, hi = bp[:-1, None], bp[1:, None]
    half = 0.5 * (hi - lo)
    nodes = jnp.concatenate([lo + half * s, hi - half * s], axis=1)
    weights = jnp.concatenate([half * ws, half * ws], axis=1)
    return nodes.ravel(), weights.ravel()


def integrate(
    fn: Callable[[Array], ArrayLike],
    breakpoints: Float[ArrayLike, " k"],
    num_nodes: int = 8,
    levels: int = 30,
) -> Float[Array, ""]:
    r"""$\int fn(x)\,dx$ over [min(breakpoints), max(breakpoints)] by the graded rule
    (`graded_rule`); put a breakpoint at every sharp feature of `fn` (a scalar function)."""
    x, w = graded_rule(breakpoints, num_nodes, levels)
    return jnp.dot(w, jax.vmap(fn)(x))


def graded_normal_rule(
    breakpoints: Float[ArrayLike, " k"] = (),
    half_width: float = 12.0,
    num_nodes: int = 8,
    levels: int = 30,
) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    r"""Nodes u and weights w with $\sum_i w_i g(u_i) ≈ E g(U)$, $U ∼ N(0, 1)$, for integrands
    with sharp features at `breakpoints` (in standard units; clipped to [−h, h], NaNs ignored):
    the graded rule on [−h, h] cut at the breakpoints and at 0, ±1.5, ±3, ±6, times the density."""
    check_positive("half_width", half_width)
    h = float(half_width)
    fixed = jnp.asarray([-h, *(b for b in _STANDARD_BREAKPOINTS if abs(b) < h), h], _dtype())
    extra = jnp.ravel(jnp.asarray(breakpoints, _dtype()))
    extra = jnp.clip(jnp.where(jnp.isnan(extra), -h, extra), -h, h)
    u, w = graded_rule(jnp.concatenate([fixed, extra]), num_nodes, levels)
    return u, w * jnp.exp(-0.5 * u * u) / jnp.sqrt(2.0 * jnp.pi)


def normal_expectation(
    fn: Callable[[Array], ArrayLike],
    mean: ArrayLike,
    std: ArrayLike,
    breakpoints: Float[ArrayLike, " k"] = (),
    half_width: float = 12.0,
    num_nodes: int = 8,
    levels: int = 30,
) -> Float[Array, ""]:
    r"""$E\,fn(X)$, $X ∼ N(\mathrm{mean}, \mathrm{std}^2)$, by the graded rule, with sharp
    features of `fn` at `breakpoints` (in the units of X). A point mass when std = 0."""
    mean = jnp.asarray(mean, _dtype())
    std = jnp.asarray(std, _dtype())
    safe = jnp.where(std == 0, 1.0, std)
    bp = (jnp.ravel(jnp.asarray(breakpoints, _dtype())) - mean) / safe
    u, w = graded_normal_rule(bp, half_width, num_nodes, levels)
    return jnp.dot(w, jax.vmap(fn)(mean + std * u))


def normal_expectation_hermite(
    fn: Callable[[Array], ArrayLike], mean: ArrayLike, std: ArrayLike, num_nodes: int = 20
) -> Float[Array, ""]:
    r"""$E\,fn(X)$, $X ∼ N(\mathrm{mean}, \mathrm{std}^2)$, by n-node Gauss–Hermite (fast; blind
    to features narrower than the node spacing)."""
    u, w = hermite_rule(num_nodes)
    return jnp.dot(w, jax.vmap(fn)(jnp.asarray(mean) + jnp.asarray(std) * u))


def quadratic_breakpoints(
    a2: ArrayLike, a1: ArrayLike, a0: ArrayLike
) -> Float[Array, "3"]:
    r"""The sharp features of $s(a_2 u^2 + a_1 u + a_0)$ for a sigmoid-like s: the real roots of
    the quadratic and its vertex $-a_1/(2a_2)$ (NaN where a point does not exist; a linear
    function has one root). Pass them to `graded_rule` / `graded_normal_rule`."""
    a2, a1, a0 = (jnp.asarray(a, _dtype()) for a in (a2, a1, a0))
    quad = a2 != 0
    a2s = jnp.where(quad, a2, 1.0)
    disc = a1 * a1 - 4.0 * a2 * a0
    sq = jnp.sqrt(jnp.where(disc >= 0, disc, 0.0))
    # roots without cancellation: q = −(a1 + sign(a1) √disc)/2, r1 = q/a2, r2 = a0/q
    q = -0.5 * (a1 + jnp.where(a1 >= 0, 1.0, -1.0) * sq)
    qs = jnp.where(q == 0, 1.0, q)
    r1 = jnp.where(quad & (disc >= 0), q / a2s, jnp.nan)
    real = quad & (disc >= 0)
    r2 = jnp.where(real & (q != 0), a0 / qs, jnp.where(real, r1, jnp.nan))
    vertex = jnp.where(quad, -a1 / (2.0 * a2s), jnp.nan)
    lin_root = jnp.where(~quad & (a1 != 0), -a0 / jnp.where(a1 == 0, 1.0, a1), jnp.nan)
    r1 = jnp.where(quad, r1, lin_root)
    return jnp.stack([r1, r2, vertex])
