r"""Long-run behaviour of GAN training (Cao–Guo §4): dissipativity, ellipticity, the generator A f,
the fluctuation–dissipation relations FDR1/FDR2 and an FDR2-driven learning-rate schedule.

The SDEs (Cao–Guo eqs. 9, 10) are $dx = b(x)\,dt + σ(x)\,dW$ with $σσ^\top = (2/β)Σ$,
$β = 2B/η$ and $Σ = \mathrm{blockdiag}(Σ_θ, Σ_ω)$ (docs/conventions.md §Continuous time: b1,
the SDEs, β, Σ and its factor; §Long-run behaviour and FDRs). Everything here is matrix-free:
Σ enters only through the per-example factor C of `ganflow.noise_factor` ($C^\top C = \hat Σ$),
so traces are sums over the n rows of C and never need a d × d matrix.

- Theorem 3 (existence of an invariant measure): the drift is *dissipative*,
  $x^\top b(x) \le -r\|x\|^2$ for $\|x\| \ge M_0$ (`dissipativity`), and σσᵀ is *uniformly
  elliptic*, $σσ^\top \succeq l I$ (`ellipticity`).
- eq. 15: the generator $\mathcal A f = b^\top ∇f + \tfrac12 \mathrm{Tr}(σσ^\top ∇^2 f)$
  (`generator`).
- Theorem 4 (FDR1, alternating, eq. 10) and Theorem 5 (FDR2, simultaneous, eq. 9): both sides
  pointwise (`fdr1_terms`, `fdr2_terms`) and their stationary expectations with standard errors,
  from an ensemble or from time averages of one run with batch means (`fdr_estimate`, `fdr1`,
  `fdr2`).
- `fdr2_schedule`: run a discrete scheme in windows and lower η when the FDR2 ratio is within a
  tolerance of 1 (Cao–Guo, after Theorem 5: "(FDR2) can be used to schedule the learning rate").
"""

import math
from collections.abc import Callable
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, ArrayLike, Bool, Float, PRNGKeyArray

from .._checks import check_choice, check_int_at_least, check_positive, check_state
from ..dynamics import NoiseFactor, as_objective, grads, hvp_omega, hvp_theta

__all__ = [
    "Dissipativity",
    "Ellipticity",
    "FDREstimate",
    "FDRSchedule",
    "dissipativity",
    "ellipticity",
    "fdr1",
    "fdr1_terms",
    "fdr2",
    "fdr2_schedule",
    "fdr2_terms",
    "fdr_estimate",
    "sde_generator",
    "inverse_temperature",
]

_tmap = jax.tree_util.tree_map


def _tree_vdot(a: Any, b: Any) -> jax.Array:
    pairs = zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b))
    return sum((jnp.vdot(x, y) for x, y in pairs), start=jnp.zeros(()))


def inverse_temperature(eta: Any, batch_size: Any) -> Any:
    r"""$β = 2B/η$ (Cao–Guo eq. 9), so that $σσ^\top = (2/β)Σ = (η/B)Σ$."""
    check_positive("eta", eta)
    check_positive("batch_size", batch_size)
    return 2.0 * batch_size / eta


# ---------------------------------------------------------------------------------------------
# Dissipativity (Theorem 3, condition 2)


class Dissipativity(eqx.Module):
    r"""Result of `dissipativity`: sampled $q(x) = x^\top b(x)/\|x\|^2$ on shells $\|x\| = R_j$.

    - `radii` (R_j, increasing) and `worst` ($\max_i q$ on shell j);
    - `r_profile[j]` $= -\max_{l \ge j} \text{worst}_l$: the largest r such that
      $x^\top b \le -r\|x\|^2$ on every sample with $\|x\| \ge R_j$;
    - `dissipative`: some `r_profile[j] > tol`; then `M0` is the smallest such $R_j$ and `r` is
      `r_profile` there. Otherwise `M0 = inf` and `r` is the (non-positive) value at the largest
      shell: the condition fails on the samples.
    """

    radii: Float[Array, " m"]
    worst: Float[Array, " m"]
    r_profile: Float[Array, " m"]
    r: Float[Array, ""]
    M0: Float[Array, ""]
    dissipative: bool = eqx.field(static=True)


def dissipativity(
    field: Callable[..., Any],
    like: Any,
    radii: Float[ArrayLike, " m"],
    key: PRNGKeyArray,
    *args: Any,
    num_directions: int = 1024,
    centre: Any = None,
    tol: float = 1e-10,
) -> Dissipativity:
    r"""Samples the dissipativity condition of Cao–Guo Theorem 3,
    $x^\top b(x) \le -r\|x\|^2$ for $\|x\| \ge M_0$.

    Points lie on shells of the given radii around the origin (or around `centre`, for
    $(x - c)^\top b(x) \le -r \|x - c\|^2$): `num_directions` uniform directions on the unit sphere
    of the flat state (shaped like `like`) plus the ± coordinate axes, the same directions on every
    shell. All evaluations run in one `vmap`. A sampled test: it can miss a bad direction in high
    dimension, never report a violation that is not there.

    The unregularised Dirac-GAN is a rotation, $x^\top b_0 = 0$: it is reported non-dissipative.
    """
    check_state(like, "like")
    radii_np = np.asarray(radii, dtype=np.float64)
    if radii_np.ndim != 1 or radii_np.size < 1:
        raise ValueError(f"radii must be a non-empty 1-D array, got shape {radii_np.shape}")
    check_positive("radii", radii_np)
    if np.any(np.diff(radii_np) <= 0):
        raise ValueError(f"radii must be strictly increasing, got {radii_np.tolist()}")
    check_int_at_least("num_directions", num_directions, 1)
    if not callable(field):
        raise ValueError(f"field must be a vector field b(x, *args), got {type(field).__name__}")
    flat, unravel = ravel_pytree(like)
    d = flat.size
    dtype = flat.dtype
    c = jnp.zeros_like(flat) if centre is None else ravel_pytree(centre)[0]
    if c.shape != flat.shape:
        raise ValueError(f"centre must have the structure of like ({d} entries), got {c.shape}")
    u = jax.random.normal(key, (num_directions, d), dtype=dtype)
    u = u / jnp.linalg.norm(u, axis=1, keepdims=True)
    eye = jnp.eye(d, dtype=dtype)
    u = jnp.concatenate([u, eye, -eye])

    @eqx.filter_jit
    def evaluate(u, radii):
        def q(radius, direction):
            y = radius * direction
            b = ravel_pytree(field(unravel(c + y), *args))[0]
            return jnp.vdot(y, b) / radius**2

        per_shell = jax.vmap(lambda r: jnp.max(jax.vmap(lambda v: q(r, v))(u)))
        return per_shell(radii)

    worst = np.asarray(evaluate(u, jnp.asarray(radii_np, dtype)), dtype=np.float64)
    r_profile = -np.maximum.accumulate(worst[::-1])[::-1]
    ok = np.nonzero(r_profile > tol)[0]
    if ok.size:
        j = int(ok[0])
        r, m0, diss = r_profile[j], radii_np[j], True
    else:
        r, m0, diss = r_profile[-1], np.inf, False
    f64 = lambda a: jnp.asarray(a, dtype=jnp.float64)
    return Dissipativity(
        radii=f64(radii_np),
        worst=f64(worst),
        r_profile=f64(r_profile),
        r=f64(r),
        M0=f64(m0),
        dissipative=diss,
    )


# ---------------------------------------------------------------------------------------------
# Ellipticity (Theorem 3, condition 3)


class Ellipticity(eqx.Module):
    r"""Result of `ellipticity`: the smallest eigenvalue of $σσ^\top = (2/β)\hat Σ$ at each point.

    - `lambda_min[i]`: $λ_{min}(σσ^\top(x_i)) = (2/β)\min(λ_{min}(\hat Σ_θ), λ_{min}(\hat Σ_ω))$;
    - `l`: the minimum over points (the sampled ellipticity constant);
    - `elliptic`: `l > tol`;
    - `rank_deficient`: a player has more parameters than the factor has rows (d ≥ n for centred
      per-example gradients), so $\hat Σ$ is singular at *every* point — uniform ellipticity
      fails unless noise is added (e.g. a constant diffusion).
    """

    lambda_min: Float[Array, " m"]
    l: Float[Array, ""]
    elliptic: bool = eqx.field(static=True)
    rank_deficient: bool = eqx.field(static=True)
    n: int = eqx.field(static=True)
    d_theta: int = eqx.field(static=True)
    d_omega: int = eqx.field(static=True)


def _factor_matrix(tree: Any) -> jax.Array:
    leaves = jax.tree_util.tree_leaves(tree)
    return jnp.concatenate([a.reshape(a.shape[0], -1) for a in leaves], axis=1)


def ellipticity(
    factor_fn: Callable[[Any], NoiseFactor],
    points: Any,
    eta: float,
    batch_size: int,
    *,
    centred: bool = True,
    tol: float = 1e-12,
) -> Ellipticity:
    r"""The uniform-ellipticity bound of Cao–Guo Theorem 3 (condition 3) on sample points:
    $\min_i λ_{min}(σσ^\top(x_i))$ with $σσ^\top = (2/β)\hat Σ$, $β = 2B/η$.

    `factor_fn(x)` returns the `NoiseFactor` C at x (e.g.
    `lambda x: ganflow.noise_factor(example_phi, x, data)`), and `points` is a batch of states
    (a leading axis on every leaf). $\hat Σ_p = C_p^\top C_p$ for each player p has rank at most
    n − 1 for centred per-example gradients (`centred=True`; n otherwise): when a player's
    dimension reaches it, its smallest eigenvalue is exactly 0 and is reported as such (no
    eigen-solve); otherwise it is the smallest eigenvalue of the small $d_p × d_p$ matrix
    $C_p^\top C_p$.
    """
    check_positive("eta", eta)
    check_positive("batch_size", batch_size)
    if not callable(factor_fn):
        raise ValueError("factor_fn must be a callable x -> NoiseFactor")
    beta = inverse_temperature(eta, batch_size)
    first = jax.tree_util.tree_map(lambda a: a[0], points)
    check_state(first, "points[0]")
    fac0 = jax.eval_shape(factor_fn, first)
    n = jax.tree_util.tree_leaves(fac0.theta)[0].shape[0]
    d_theta = sum(math.prod(a.shape[1:]) for a in jax.tree_util.tree_leaves(fac0.theta))
    d_omega = sum(math.prod(a.shape[1:]) for a in jax.tree_util.tree_leaves(fac0.omega))
    max_rank = n - 1 if centred else n
    deficient = d_theta > max_rank or d_omega > max_rank

    def lam(cmat, d):
        if d > max_rank:
            return jnp.zeros((), cmat.dtype)
        return jnp.linalg.eigvalsh(cmat.T @ cmat)[0]

    @eqx.filter_jit
    def per_point(points):
        def one(x):
            fac = factor_fn(x)
            ct, co = _factor_matrix(fac.theta), _factor_matrix(fac.omega)
            return (2.0 / beta) * jnp.minimum(lam(ct, d_theta), lam(co, d_omega))

        return jax.vmap(one)(points)

    lam_min = jnp.asarray(per_point(points), dtype=jnp.float64)
    l = jnp.min(lam_min)
    return Ellipticity(
        lambda_min=lam_min,
        l=l,
        elliptic=bool(l > tol),
        rank_deficient=bool(deficient),
        n=int(n),
        d_theta=int(d_theta),
        d_omega=int(d_omega),
    )


# ---------------------------------------------------------------------------------------------
# The generator A f (eq. 15)


def _second_directional(f: Callable[[Any], Any], x: Any, v: Any) -> jax.Array:
    """vᵀ ∇²f(x) v by forward-over-forward differentiation."""
    return jax.jvp(lambda y: jax.jvp(f, (y,), (v,))[1], (x,), (v,))[1]


def _row_tangents(factor: NoiseFactor, x: Any) -> tuple[Any, Any]:
    """Tangents (c_θ,i, 0) and (0, c_ω,j) stacked on a leading axis."""
    theta, omega = x
    n_t = jax.tree_util.tree_leaves(factor.theta)[0].shape[0]
    n_o = jax.tree_util.tree_leaves(factor.omega)[0].shape[0]
    zt = _tmap(lambda a: jnp.zeros((n_o,) + jnp.shape(a), jnp.result_type(a)), theta)
    zo = _tmap(lambda a: jnp.zeros((n_t,) + jnp.shape(a), jnp.result_type(a)), omega)
    return (factor.theta, zo), (zt, factor.omega)


def sde_generator(
    f: Callable[[Any], Any],
    field: Callable[..., Any],
    x: Any,
    *args: Any,
    factor: NoiseFactor | None = None,
    eta: Any = None,
    batch_size: Any = None,
) -> Float[Array, ""]:
    r"""The infinitesimal generator of the SDE (Cao–Guo eq. 15) at x:

    $$\mathcal A f = b^\top ∇f + \tfrac12 \mathrm{Tr}(σσ^\top ∇^2 f)
      = b^\top ∇f + β^{-1} \sum_i c_i^\top ∇^2 f\, c_i,$$

    with $σσ^\top = (2/β) C^\top C$, β = 2B/η and $c_i$ the rows of the block-diagonal factor
    (the θ rows padded with zeros in ω, and vice versa). $b^\top ∇f$ is one JVP of f; each
    $c_i^\top ∇^2 f c_i$ is a forward-over-forward second directional derivative, vmapped over
    the n_θ + n_ω rows: no d × d matrix. Without `factor` (full batch) A f = bᵀ∇f.

    `f` maps a state to a scalar; `field` is the drift b(x, *args) (b0 for eq. 9, a
    `ganflow.modified_field(b0, eta, "alternating")` for eq. 10).
    """
    check_state(x)
    drift = field(x, *args)
    first = jax.jvp(f, (x,), (drift,))[1]
    if factor is None:
        return first
    if eta is None or batch_size is None:
        raise ValueError("with a noise factor, pass eta and batch_size (beta = 2B/eta)")
    beta = inverse_temperature(eta, batch_size)
    t_theta, t_omega = _row_tangents(factor, x)
    quad = jax.vmap(lambda v: _second_directional(f, x, v))
    second = jnp.sum(quad(t_theta)) + jnp.sum(quad(t_omega))
    return first + second / beta


# ---------------------------------------------------------------------------------------------
# FDR terms (Theorems 4 and 5)


def fdr2_terms(
    phi: Any,
    x: Any,
    factor: NoiseFactor,
    eta: Any,
    batch_size: Any,
    *args: Any,
    discrete: bool = False,
) -> tuple[Float[Array, ""], Float[Array, ""]]:
    r"""Both sides of FDR2 (Cao–Guo Theorem 5) at one point x, whose stationary expectations are
    equal for the SDE (9):

    $$\underbrace{θ^\top g_θ - ω^\top g_ω}_{\text{lhs}} \quad\text{and}\quad
      \underbrace{β^{-1}\,\mathrm{Tr}(Σ_θ + Σ_ω)}_{\text{rhs}}, \qquad β = 2B/η.$$

    It is the stationarity of $\mathbb E\|x\|^2$: Itô gives
    $d\|x\|^2 = (2x^\top b_0 + \mathrm{Tr}\,σσ^\top)dt + dM$ and $x^\top b_0 = -θ^\top g_θ +
    ω^\top g_ω$. `factor` is the noise factor at x ($\mathrm{Tr}\,Σ_p = \|C_p\|_F^2$).

    `discrete=True` adds $\tfrac η2\|b_0\|^2$ to the rhs: the exact identity of simultaneous
    minibatch SGA (eq. 7) at its own stationarity, from
    $\mathbb E\|x_{k+1}\|^2 = \mathbb E\|x_k\|^2 + 2η\,\mathbb E[x_k^\top b_0] +
    η^2\,\mathbb E\|b_0\|^2 + (η^2/B)\,\mathbb E\,\mathrm{Tr}\,Σ$ (derived here, not in the
    paper; the SDE relation holds for the discrete chain up to this O(η) term).
    """
    theta, omega = check_state(x)
    g_theta, g_omega = grads(phi, x, *args)
    lhs = _tree_vdot(theta, g_theta) - _tree_vdot(omega, g_omega)
    tr_t, tr_o = factor.trace()
    rhs = (tr_t + tr_o) / inverse_temperature(eta, batch_size)
    if discrete:
        rhs = rhs + 0.5 * eta * (_tree_vdot(g_theta, g_theta) + _tree_vdot(g_omega, g_omega))
    return lhs, rhs


def fdr1_terms(
    phi: Any,
    x: Any,
    factor: NoiseFactor,
    eta: Any,
    batch_size: Any,
    *args: Any,
) -> tuple[Float[Array, ""], Float[Array, ""]]:
    r"""Both sides of FDR1 (Cao–Guo Theorem 4, the alternating SDE (10)) at one point x:

    $$\text{lhs} = \|∇_θΦ\|^2 - \|∇_ωΦ\|^2,\qquad
      \text{rhs} = β^{-1}\mathrm{Tr}(Σ_θ ∇^2_θΦ + Σ_ω ∇^2_ωΦ)
      - \tfrac η2\big(g_θ^\top ∇^2_θΦ\, g_θ + g_ω^\top ∇^2_ωΦ\, g_ω\big).$$

    lhs − rhs = −𝒜Φ with the drift $b_0 + ηb_1$, whose cross terms
    $-\tfrac η2 (g_θ^\top ∇_ω g_θ\, g_ω - g_ω^\top ∇_θ g_ω\, g_θ)$ cancel because
    $∇_θ g_ω = (∇_ω g_θ)^\top$ for a zero-sum Φ: a non-zero-sum `Objective` is refused.
    $\mathrm{Tr}(Σ_p H_p) = \sum_i c_{p,i}^\top H_p c_{p,i}$ uses one HVP per row of the factor.
    """
    obj = as_objective(phi)
    if not obj.zero_sum:
        raise ValueError("FDR1 (Cao-Guo Theorem 4) holds for a zero-sum objective Phi only")
    check_state(x)
    g_theta, g_omega = grads(obj, x, *args)
    lhs = _tree_vdot(g_theta, g_theta) - _tree_vdot(g_omega, g_omega)

    def quad_theta(v):
        return _tree_vdot(v, hvp_theta(obj, x, v, *args))

    def quad_omega(v):
        return _tree_vdot(v, hvp_omega(obj, x, v, *args))

    trace = jnp.sum(jax.vmap(quad_theta)(factor.theta))
    trace = trace + jnp.sum(jax.vmap(quad_omega)(factor.omega))
    curv = quad_theta(g_theta) + quad_omega(g_omega)
    rhs = trace / inverse_temperature(eta, batch_size) - 0.5 * eta * curv
    return lhs, rhs


# ---------------------------------------------------------------------------------------------
# Estimators with standard errors


class FDREstimate(eqx.Module):
    r"""Stationary expectations of both sides of an FDR, with standard errors.

    `lhs`, `rhs` (means), `lhs_se`, `rhs_se`; `gap = lhs − rhs` with its paired standard error
    `gap_se`; `ratio = lhs/rhs` with its delta-method standard error `ratio_se`; `z = gap/gap_se`.
    `method` is "ensemble" (independent samples) or "batch_means" (one correlated series,
    `num_batches` contiguous batches).
    """

    lhs: Float[Array, ""]
    rhs: Float[Array, ""]
    lhs_se: Float[Array, ""]
    rhs_se: Float[Array, ""]
    gap: Float[Array, ""]
    gap_se: Float[Array, ""]
    ratio: Float[Array, ""]
    ratio_se: Float[Array, ""]
    z: Float[Array, ""]
    method: str = eqx.field(static=True)
    num_samples: int = eqx.field(static=True)

    def agrees(self, num_se: float = 3.0) -> bool:
        """|lhs − rhs| ≤ num_se · gap_se."""
        return bool(jnp.abs(self.gap) <= num_se * self.gap_se)


def _mean_se(a: jax.Array, method: str, num_batches: int) -> tuple[jax.Array, jax.Array]:
    if method == "ensemble":
        n = a.shape[0]
        return jnp.mean(a), jnp.std(a, ddof=1) / jnp.sqrt(n)
    n = a.shape[0] // num_batches * num_batches
    means = jnp.mean(a[:n].reshape(num_batches, -1), axis=1)
    return jnp.mean(means), jnp.std(means, ddof=1) / jnp.sqrt(num_batches)


def fdr_estimate(
    lhs: Float[ArrayLike, " n"],
    rhs: Float[ArrayLike, " n"],
    *,
    method: Literal["ensemble", "batch_means"] = "ensemble",
    num_batches: int = 20,
) -> FDREstimate:
    r"""Estimates $\mathbb E[\text{lhs}]$ and $\mathbb E[\text{rhs}]$ of an FDR from samples at
    stationarity, with standard errors.

    - `method="ensemble"`: independent samples (many seeds at one late time), se $= s/\sqrt n$;
    - `method="batch_means"`: one long correlated series (a time average), split into
      `num_batches` contiguous batches; se = sd(batch means)/√(num_batches), valid when a batch
      is much longer than the correlation time.

    The gap's standard error is that of the paired differences lhs_i − rhs_i, and the ratio's is
    the delta method's: the se of $(\text{lhs}_i - \hat r\,\text{rhs}_i)/\overline{\text{rhs}}$.
    """
    check_choice("method", method, ("ensemble", "batch_means"))
    lhs = jnp.ravel(jnp.asarray(lhs))
    rhs = jnp.ravel(jnp.asarray(rhs))
    if lhs.shape != rhs.shape:
        raise ValueError(
            f"lhs and rhs must have the same number of samples: {lhs.shape}, {rhs.shape}"
        )
    n = lhs.shape[0]
    if method == "ensemble":
        check_int_at_least("number of samples", n, 2)
    else:
        check_int_at_least("num_batches", num_batches, 2)
        if n < 2 * num_batches:
            raise ValueError(f"batch_means needs at least 2 samples per batch: {n} samples, "
                             f"{num_batches} batches")
    lm, ls = _mean_se(lhs, method, num_batches)
    rm, rs = _mean_se(rhs, method, num_batches)
    gm, gs = _mean_se(lhs - rhs, method, num_batches)
    ratio = lm / rm
    _, ratio_se = _mean_se((lhs - ratio * rhs) / rm, method, num_batches)
    return FDREstimate(
        lhs=lm, rhs=rm, lhs_se=ls, rhs_se=rs, gap=gm, gap_se=gs, ratio=ratio,
        ratio_se=jnp.abs(ratio_se), z=gm / gs, method=method, num_samples=int(n),
    )


def _fdr(terms_fn, phi, samples, factor_fn, eta, batch_size, args, method, num_batches, **kw):
    if not callable(factor_fn):
        raise ValueError("factor_fn must be a callable x -> NoiseFactor")
    check_positive("eta", eta)
    check_positive("batch_size", batch_size)

    @eqx.filter_jit
    def terms(samples):
        return jax.vmap(
            lambda x: terms_fn(phi, x, factor_fn(x), eta, batch_size, *args, **kw)
        )(samples)

    lhs, rhs = terms(samples)
    return fdr_estimate(lhs, rhs, method=method, num_batches=num_batches)


def fdr2(
    phi: Any,
    samples: Any,
    factor_fn: Callable[[Any], NoiseFactor],
    eta: float,
    batch_size: int,
    *args: Any,
    method: Literal["ensemble", "batch_means"] = "ensemble",
    num_batches: int = 20,
    discrete: bool = False,
) -> FDREstimate:
    r"""FDR2 (Cao–Guo Theorem 5): $\mathbb E[θ^\top g_θ - ω^\top g_ω] =
    β^{-1}\mathbb E\,\mathrm{Tr}(Σ_θ + Σ_ω)$ estimated from stationary `samples` (a batch of
    states, leading axis = seeds for `method="ensemble"` or time for `"batch_means"`).
    `factor_fn(x)` gives the noise factor at x (e.g. `lambda x: ganflow.noise_factor(ex, x,
    data)` with a large data sample standing for the population). See `fdr2_terms`."""
    return _fdr(fdr2_terms, phi, samples, factor_fn, eta, batch_size, args, method, num_batches,
                discrete=discrete)


def fdr1(
    phi: Any,
    samples: Any,
    factor_fn: Callable[[Any], NoiseFactor],
    eta: float,
    batch_size: int,
    *args: Any,
    method: Literal["ensemble", "batch_means"] = "ensemble",
    num_batches: int = 20,
) -> FDREstimate:
    r"""FDR1 (Cao–Guo Theorem 4) estimated from stationary `samples` of the alternating
    dynamics (10); see `fdr1_terms` and `fdr2`."""
    return _fdr(fdr1_terms, phi, samples, factor_fn, eta, batch_size, args, method, num_batches)


# ---------------------------------------------------------------------------------------------
# FDR2-driven learning-rate schedule


class FDRSchedule(eqx.Module):
    r"""Result of `fdr2_schedule`: the final state, and per window the learning rate used
    (`etas`), the measured FDR2 ratio $\overline{\text{lhs}}/\overline{\text{rhs}}$ over the
    window's measured steps (`ratios`) and whether η was lowered after it (`lowered`)."""

    x: Any
    etas: Float[Array, " windows"]
    ratios: Float[Array, " windows"]
    lowered: Bool[Array, " windows"]


def fdr2_schedule(
    step: Callable[[Any, Any, PRNGKeyArray], Any],
    terms: Callable[[Any, Any], tuple[Any, Any]],
    x0: Any,
    eta0: float,
    key: PRNGKeyArray,
    *,
    num_windows: int,
    window: int,
    burn_in: float = 0.5,
    tol: float = 0.1,
    decay: float = 0.5,
    eta_min: float = 0.0,
) -> FDRSchedule:
    r"""Runs a discrete stochastic scheme in windows and lowers η when FDR2 says stationarity has
    been reached (Cao–Guo §4.2: "(FDR2) can be used to schedule the learning rate").

    In each window of `window` steps at a fixed η, `terms(x, eta) -> (lhs, rhs)` (e.g.
    `fdr2_terms` with the noise factor at x; arrays are averaged, so a vmapped ensemble of chains
    works) is averaged over the steps after the first `burn_in` fraction; the ratio
    $\overline{\text{lhs}}/\overline{\text{rhs}}$ is compared with 1 and, when
    $|\text{ratio} - 1| \le$ `tol`, $η \leftarrow \max(\text{decay}·η, η_{min})$ for the next
    window. `step(x, eta, key) -> x` is one step of the scheme (e.g. simultaneous minibatch SGA).

    Jit-compatible: one `lax.scan` over windows around a `lax.scan` over steps.
    """
    check_positive("eta0", eta0)
    check_int_at_least("num_windows", num_windows, 1)
    check_int_at_least("window", window, 2)
    if not 0.0 <= burn_in < 1.0:
        raise ValueError(f"burn_in must lie in [0, 1), got {burn_in!r}")
    check_positive("tol", tol)
    if not 0.0 < decay < 1.0:
        raise ValueError(f"decay must lie in (0, 1), got {decay!r}")
    check_positive("eta_min", eta_min, allow_zero=True)
    skip = min(int(burn_in * window), window - 1)
    measured = window - skip
    dtype = jnp.result_type(*jax.tree_util.tree_leaves(x0), float)

    def run_window(carry, _):
        x, eta, key = carry
        key, sub = jax.random.split(key)

        def body(c, inp):
            x, sl, sr = c
            i, k = inp
            x = step(x, eta, k)
            lhs, rhs = terms(x, eta)
            use = i >= skip
            sl = sl + jnp.where(use, jnp.mean(lhs), 0.0)
            sr = sr + jnp.where(use, jnp.mean(rhs), 0.0)
            return (x, sl, sr), None

        zero = jnp.zeros((), dtype)
        (x, sl, sr), _ = jax.lax.scan(
            body, (x, zero, zero), (jnp.arange(window), jax.random.split(sub, window))
        )
        ratio = (sl / measured) / (sr / measured)
        lower = jnp.abs(ratio - 1.0) <= tol
        new_eta = jnp.where(lower, jnp.maximum(decay * eta, eta_min), eta)
        return (x, new_eta, key), (eta, ratio, lower)

    @eqx.filter_jit
    def run(x0, eta0, key):
        return jax.lax.scan(run_window, (x0, eta0, key), None, length=num_windows)

    (x, _, _), (etas, ratios, lowered) = run(x0, jnp.asarray(eta0, dtype), key)
    return FDRSchedule(x=x, etas=etas, ratios=ratios, lowered=lowered)
