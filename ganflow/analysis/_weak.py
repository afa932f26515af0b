r"""Weak-error orders of discrete GAN training against its continuous-time approximations.

Cao–Guo Theorems 1 and 2 (eqs. 11, 12): for a test function f and horizon T,

$$e(η) = \max_{k η \le T} \big|\mathbb E f(x_k) - \mathbb E f(X_{kη})\big| \le C η^p,$$

with p = 1 for simultaneous SGA (eq. 7) against the SDE (9), p = 2 for alternating SGA (eqs. 5–6)
against the SDE (10) (and for simultaneous SGA against the modified equation (13), Remark 1).
Without noise (full batch) the same orders hold for the deterministic iterates, which makes them
testable to high precision in float64 (docs/conventions.md §Continuous time: b1, the SDEs, β, Σ
and its factor, "Weak error").

This module estimates e(η) over a set of learning rates and fits the order p as the
least-squares slope of $\log e$ against $\log η$, with a confidence interval:

- `fit_order`: the regression and its t-interval, with Monte Carlo standard errors of the errors
  propagated to the slope (delta method: $\mathrm{sd}(\log e) ≈ \mathrm{se}(e)/e$);
- `weak_error`: e(η) from arrays — exact expectations or Monte Carlo samples over seeds — with
  standard errors and, given a key, a bootstrap over seeds of the fitted slope;
- `deterministic_weak_error`: discrete iterates against diffrax ODE solutions at t = kη
  (tight tolerances), for the full-batch case.
"""

import math
from collections.abc import Callable, Sequence
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._checks import check_choice, check_int_at_least, check_positive, check_state
from ..dynamics import modified_field

__all__ = [
    "WeakOrder",
    "deterministic_weak_error",
    "fit_order",
    "student_t_quantile",
    "weak_error",
]


# ---------------------------------------------------------------------------------------------
# Student-t quantile without scipy (scipy is a test-only dependency)


def student_t_quantile(q: float, dof: float) -> float:
    r"""The quantile $t_{q, ν}$ of Student's t distribution with ν = `dof` degrees of freedom.

    Inverts the CDF $F(t) = 1 - \tfrac12 I_{ν/(ν+t^2)}(ν/2, 1/2)$ (t > 0, regularised incomplete
    beta function) by bisection to machine precision; symmetric for q < 1/2. `dof = inf` gives the
    normal quantile.
    """
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must lie in (0, 1), got {q!r}")
    check_positive("dof", dof)
    if q == 0.5:
        return 0.0
    if q < 0.5:
        return -student_t_quantile(1.0 - q, dof)
    if math.isinf(dof):
        # Normal quantile by bisection on erfc.
        def tail(t):
            return 0.5 * math.erfc(t / math.sqrt(2.0))
    else:
        def tail(t):
            x = dof / (dof + t * t)
            return 0.5 * float(jax.scipy.special.betainc(dof / 2.0, 0.5, jnp.float64(x)))

    target = 1.0 - q
    lo, hi = 0.0, 1.0
    while tail(hi) > target:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if tail(mid) > target:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


# ---------------------------------------------------------------------------------------------
# The result and the regression


class WeakOrder(eqx.Module):
    r"""A fitted weak-error order: $\log e(η) ≈ \text{intercept} + \text{slope}\,\log η$.

    - `etas`, `errors`, `stderrs`: the learning rates, the errors $e(η)$ and their Monte Carlo
      standard errors (zeros when the expectations were exact);
    - `slope`, `intercept`: least squares on $(\log η, \log e)$;
    - `slope_se`: the slope's standard error, regression residuals and propagated Monte Carlo
      errors combined;
    - `ci`: the `confidence` t-interval of the slope (n − 2 degrees of freedom; the normal quantile
      when only two η are given and the Monte Carlo errors are the only spread);
    - `ci_bootstrap`: the percentile interval of the slope over a bootstrap of seeds (NaN when not
      computed).

    `consistent_with(p)` is True when p lies in `ci` or in `ci_bootstrap`.
    """

    etas: Float[Array, " n"]
    errors: Float[Array, " n"]
    stderrs: Float[Array, " n"]
    slope: Float[Array, ""]
    intercept: Float[Array, ""]
    slope_se: Float[Array, ""]
    ci: Float[Array, "2"]
    ci_bootstrap: Float[Array, "2"]
    confidence: float = eqx.field(static=True)

    def consistent_with(self, order: float) -> bool:
        """True when `order` lies within the t-interval or the bootstrap interval."""
        lo, hi = (float(v) for v in self.ci)
        inside = lo <= order <= hi
        blo, bhi = (float(v) for v in self.ci_bootstrap)
        if not (math.isnan(blo) or math.isnan(bhi)):
            inside = inside or (blo <= order <= bhi)
        return inside


def _check_etas(etas: Any) -> np.ndarray:
    arr = np.asarray(etas, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"etas must be a 1-D sequence of learning rates, got shape {arr.shape}")
    if arr.size < 2:
        raise ValueError(f"at least 2 learning rates are needed to fit an order, got {arr.size}")
    check_positive("eta", arr)
    if np.unique(arr).size != arr.size:
        raise ValueError(f"etas must be distinct, got {arr.tolist()}")
    return arr


def _ols(logx: np.ndarray, logy: np.ndarray) -> tuple[float, float, float, float]:
    """slope, intercept, residual variance s² (NaN without dof), Sxx."""
    xbar = logx.mean()
    sxx = float(np.sum((logx - xbar) ** 2))
    slope = float(np.sum((logx - xbar) * (logy - logy.mean())) / sxx)
    intercept = float(logy.mean() - slope * xbar)
    dof = logx.size - 2
    resid = logy - (intercept + slope * logx)
    s2 = float(np.sum(resid**2) / dof) if dof > 0 else float("nan")
    return slope, intercept, s2, sxx


def fit_order(
    etas: Float[ArrayLike, " n"],
    errors: Float[ArrayLike, " n"],
    stderrs: Float[ArrayLike, " n"] | None = None,
    *,
    confidence: float = 0.95,
    bootstrap_slopes: Float[ArrayLike, " m"] | None = None,
) -> WeakOrder:
    r"""Fits the order p of $e(η) ≈ C η^p$ by least squares of $\log e$ on $\log η$
    (Cao–Guo Theorems 1–2 predict p = 2 for (5)/(10), p = 1 for (7)/(9)).

    The slope's variance adds the regression's residual variance $s^2/S_{xx}$ and the Monte
    Carlo variance propagated through the weights of the regression,
    $\sum_i w_i^2 (\mathrm{se}_i / e_i)^2$ with $w_i = (\log η_i - \overline{\log η})/S_{xx}$; the
    interval is slope ± $t_{(1+c)/2,\, n-2}$ · se (normal quantile when n = 2).
    `bootstrap_slopes` (e.g. from `weak_error(..., key=...)`) gives `ci_bootstrap`.

    **Example**

    ```python
    res = fit_order([0.1, 0.05, 0.025], [2e-2, 1e-2, 5e-3])
    res.slope   # 1.0
    ```
    """
    etas_np = _check_etas(etas)
    err = np.asarray(errors, dtype=np.float64)
    if err.shape != etas_np.shape:
        raise ValueError(f"errors must have the shape of etas {etas_np.shape}, got {err.shape}")
    if np.any(~np.isfinite(err)) or np.any(err <= 0):
        raise ValueError(
            f"errors must be finite and > 0 to fit a log-log slope, got {err.tolist()}"
        )
    if stderrs is None:
        se = np.zeros_like(err)
    else:
        se = np.asarray(stderrs, dtype=np.float64)
        if se.shape != err.shape:
            raise ValueError(f"stderrs must have the shape of errors {err.shape}, got {se.shape}")
        check_positive("stderrs", se, allow_zero=True)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")

    logx, logy = np.log(etas_np), np.log(err)
    slope, intercept, s2, sxx = _ols(logx, logy)
    w = (logx - logx.mean()) / sxx
    var_mc = float(np.sum(w**2 * (se / err) ** 2))
    dof = logx.size - 2
    q = 0.5 * (1.0 + confidence)
    if dof > 0:
        slope_se = math.sqrt(s2 / sxx + var_mc)
        half = student_t_quantile(q, dof) * slope_se
    else:
        slope_se = math.sqrt(var_mc)
        half = student_t_quantile(q, math.inf) * slope_se if var_mc > 0 else math.inf
    ci = np.array([slope - half, slope + half])

    if bootstrap_slopes is None:
        ci_b = np.array([np.nan, np.nan])
    else:
        bs = np.asarray(bootstrap_slopes, dtype=np.float64)
        bs = bs[np.isfinite(bs)]
        alpha = 100.0 * (1.0 - confidence) / 2.0
        ci_b = np.percentile(bs, [alpha, 100.0 - alpha]) if bs.size else np.array([np.nan] * 2)

    f64 = lambda a: jnp.asarray(a, dtype=jnp.float64)
    return WeakOrder(
        etas=f64(etas_np),
        errors=f64(err),
        stderrs=f64(se),
        slope=f64(slope),
        intercept=f64(intercept),
        slope_se=f64(slope_se),
        ci=f64(ci),
        ci_bootstrap=f64(ci_b),
        confidence=float(confidence),
    )


# ---------------------------------------------------------------------------------------------
# Weak errors from arrays (exact expectations or Monte Carlo samples)


def _as_estimate(name: str, a: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(mean over seeds, standard error, samples or None) of a (steps,) or (seeds, steps) array."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 1:
        return arr, np.zeros_like(arr), None
    if arr.ndim == 2:
        n = arr.shape[0]
        if n < 2:
            raise ValueError(f"{name}: Monte Carlo samples need at least 2 seeds, got {n}")
        return arr.mean(0), arr.std(0, ddof=1) / math.sqrt(n), arr
    raise ValueError(
        f"{name} must be (steps,) exact expectations or (seeds, steps) samples, got {arr.shape}"
    )


def _max_error(d_mean, r_mean, d_se, r_se):
    diff = np.abs(d_mean - r_mean)
    k = int(np.argmax(diff))
    return float(diff[k]), float(math.hypot(d_se[k], r_se[k]))


def weak_error(
    etas: Float[ArrayLike, " n"],
    discrete: Sequence[Float[ArrayLike, "..."]],
    reference: Sequence[Float[ArrayLike, "..."]],
    *,
    confidence: float = 0.95,
    key: PRNGKeyArray | None = None,
    num_bootstrap: int = 1000,
) -> WeakOrder:
    r"""$e(η) = \max_k |\mathbb E f(x_k) - \mathbb E f(X_{kη})|$ for each η, and the fitted order
    (Cao–Guo eqs. 11–12).

    `discrete[i]` and `reference[i]` hold f along the discrete scheme with step `etas[i]` and along
    the continuous process at the same times t = kη (k = 1..K_i, kη ≤ T), each either

    - a 1-D array `(K_i,)` of exact expectations (standard error 0), or
    - a 2-D array `(seeds, K_i)` of Monte Carlo samples: the mean over seeds and its standard error
      $s/\sqrt n$.

    The standard error of e(η) is that of the difference at the maximising k (the two estimates
    are independent). With Monte Carlo samples the maximum over k of noisy differences is biased
    upwards by about the noise level: choose enough seeds that e(η) ≫ its standard error at the
    smallest η (check `errors > 3 * stderrs`), otherwise the fitted order is flattened.
    With `key`, `num_bootstrap` resamplings of the seeds (independently for each
    array given as samples) refit the slope and give `ci_bootstrap`.
    """
    etas_np = _check_etas(etas)
    if len(discrete) != etas_np.size or len(reference) != etas_np.size:
        raise ValueError(
            f"discrete and reference need one array per eta ({etas_np.size}); got "
            f"{len(discrete)} and {len(reference)}"
        )
    ests = []
    errors, ses = [], []
    for i, (d, r) in enumerate(zip(discrete, reference)):
        dm, ds, dsamp = _as_estimate(f"discrete[{i}]", d)
        rm, rs, rsamp = _as_estimate(f"reference[{i}]", r)
        if dm.shape != rm.shape:
            raise ValueError(
                f"discrete[{i}] and reference[{i}] must cover the same steps: "
                f"{dm.shape} vs {rm.shape}"
            )
        if dm.size == 0:
            raise ValueError(f"discrete[{i}] has no steps")
        e, s = _max_error(dm, rm, ds, rs)
        errors.append(e)
        ses.append(s)
        ests.append((dm, dsamp, rm, rsamp))

    boot = None
    if key is not None and any(d is not None or r is not None for _, d, _, r in ests):
        check_int_at_least("num_bootstrap", num_bootstrap, 2)
        keys = jax.random.split(key, 2 * len(ests))
        logx = np.log(etas_np)
        log_errs = np.empty((num_bootstrap, len(ests)))
        for i, (dm, dsamp, rm, rsamp) in enumerate(ests):
            dmb = _bootstrap_means(keys[2 * i], dsamp, dm, num_bootstrap)
            rmb = _bootstrap_means(keys[2 * i + 1], rsamp, rm, num_bootstrap)
            with np.errstate(divide="ignore"):
                log_errs[:, i] = np.log(np.max(np.abs(dmb - rmb), axis=1))
        xc = logx - logx.mean()
        boot = (log_errs - log_errs.mean(1, keepdims=True)) @ xc / np.sum(xc**2)
    return fit_order(etas_np, errors, ses, confidence=confidence, bootstrap_slopes=boot)


def _bootstrap_means(key, samples, mean, num):
    if samples is None:
        return np.broadcast_to(mean, (num, mean.size))
    n = samples.shape[0]
    # Resampled means without a (num, n, steps) array: multinomial counts @ samples, in chunks
    # of 64 resamplings to bound the memory by 64·n counts.
    counts_fn = jax.jit(
        jax.vmap(lambda k: jnp.bincount(jax.random.randint(k, (n,), 0, n), length=n)),
    )
    keys = jax.random.split(key, num)
    out = np.empty((num, samples.shape[1]))
    for start in range(0, num, 64):
        counts = np.asarray(counts_fn(keys[start : start + 64]), dtype=np.float64)
        out[start : start + 64] = counts @ samples / n
    return out


# ---------------------------------------------------------------------------------------------
# The deterministic (full-batch) variant: discrete iterates against ODE solutions


def _default_f(x):
    return ravel_pytree(x)[0]


def deterministic_weak_error(
    step: Callable[[Any, Any], Any],
    field: Callable[..., Any],
    x0: Any,
    etas: Float[ArrayLike, " n"],
    T: float,
    f: Callable[[Any], Any] | None = None,
    *,
    modified: str | None = None,
    args: tuple = (),
    solver: diffrax.AbstractSolver | None = None,
    rtol: float = 1e-12,
    atol: float = 1e-12,
    max_steps: int = 1_000_000,
    confidence: float = 0.95,
) -> WeakOrder:
    r"""The full-batch weak error $e(η) = \max_{1 \le k \le \lfloor T/η \rfloor}
    \|f(x_k) - f(X(kη))\|$ of a discrete scheme against an ODE, and its fitted order.

    - `step(x, eta) -> x_next` is the discrete scheme, e.g. simultaneous GDA
      $x + η b_0(x)$ (Cao–Guo eq. 7) or alternating GDA (eq. 5);
    - `field` is the continuous drift b(x, *args) (e.g. `ganflow.vector_field(phi)`: the gradient
      flow); with `modified="simultaneous"` the ODE is eq. 13, $b - \tfrac η2 J b$, and with
      `modified="alternating"` eq. 10, $b + η b_1$ (`ganflow.modified_field`), rebuilt for each η;
    - `f` maps a state to a scalar or an array (default: the flat state; the norm of the difference
      is taken).

    All η run in one compiled `vmap`: the discrete scheme for $\lfloor T/η_{min}\rfloor$ steps (the
    steps past each η's horizon are masked), the ODE with diffrax (`Dopri8` by default, PID step
    control at `rtol`, `atol`) saved at t = kη. Use float64 (`jax_enable_x64`) for errors below
    1e-7.

    **Example** (simultaneous GD against its modified equation: order 2)

    ```python
    b = ganflow.vector_field(phi)
    step = lambda x, eta: jax.tree_util.tree_map(lambda a, v: a + eta * v, x, b(x))
    res = deterministic_weak_error(step, b, x0, [0.1, 0.05, 0.025, 0.0125], 2.0,
                                   modified="simultaneous")
    ```
    """
    check_state(x0, "x0")
    etas_np = _check_etas(etas)
    check_positive("T", T)
    if modified is not None:
        check_choice("modified", modified, ("simultaneous", "alternating"))
    if not callable(step):
        raise ValueError(f"step must be a callable step(x, eta) -> x, got {type(step).__name__}")
    if not callable(field):
        raise ValueError(f"field must be a vector field b(x, *args), got {type(field).__name__}")
    ks = np.floor(T / etas_np * (1.0 + 1e-12)).astype(np.int64)
    if np.any(ks < 1):
        raise ValueError(f"every eta must be <= T = {T}; got etas {etas_np.tolist()}")
    kmax = int(ks.max())
    fn = _default_f if f is None else f
    solver = diffrax.Dopri8() if solver is None else solver
    dtype = jnp.result_type(*[a for a in jax.tree_util.tree_leaves(x0)], float)

    def one(eta, k_eta):
        def body(x, _):
            x = step(x, eta)
            return x, fn(x)

        _, fd = jax.lax.scan(body, x0, None, length=kmax)
        b = field if modified is None else modified_field(field, eta, modified)
        term = diffrax.ODETerm(lambda t, y, a: b(y, *a))
        steps = jnp.arange(1, kmax + 1)
        ts = eta * jnp.minimum(steps, k_eta).astype(dtype)
        t1 = eta * k_eta.astype(dtype)
        sol = diffrax.diffeqsolve(
            term,
            solver,
            t0=jnp.zeros((), dtype),
            t1=t1,
            dt0=None,
            y0=x0,
            args=tuple(args),
            saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
            max_steps=max_steps,
        )
        fc = jax.vmap(fn)(sol.ys)
        diff = jnp.reshape(fd - fc, (kmax, -1))
        dist = jnp.sqrt(jnp.sum(diff**2, axis=1))
        dist = jnp.where(steps <= k_eta, dist, 0.0)
        return jnp.max(dist)

    errs = eqx.filter_jit(jax.vmap(one))(jnp.asarray(etas_np, dtype), jnp.asarray(ks))
    return fit_order(etas_np, np.asarray(errs), None, confidence=confidence)
