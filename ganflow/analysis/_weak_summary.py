r"""Summaries of weak-error ensembles (Cao–Guo 2020, Theorems 1–2, eqs. 11–12): the weak
errors of minibatch SGDA against the Cao–Guo SDEs over a grid of η, their fitted and local
orders, and the control-variate diagnostics, from `WeakErrorMember` runs."""

import math
from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from ..engine import RESULTS
from ._weak import fit_order
from ._weak_neural import WEAK_PROCESSES, WEAK_TEST_FUNCTIONS

CAO_GUO_WEAK_ORDERS = {"simultaneous": 1.0, "alternating": 2.0}
"""The weak orders of Cao–Guo Theorems 1–2: simultaneous SGDA (eq. 7) against the SDE (9) is
order 1, alternating SGDA (eq. 6) against the SDE (10) order 2."""


def bootstrap_error_slopes(etas: Any, sgda: Any, sde: Any, rng: np.random.Generator,
                           num: int) -> np.ndarray:
    r"""Bootstrap over seeds of the least-squares slope of $\log e(η)$ on $\log η$ with
    $e(η) = \max_j |\bar f^{sgda}_j - \bar f^{sde}_j|$ (Cao–Guo eqs. 11–12): `sgda[i]`,
    `sde[i]` (seeds, J) are the two ensembles' estimates at `etas[i]`, resampled independently
    (multinomial counts from `rng`), `num` times. **Returns:** the `num` slopes, for
    `fit_order(..., bootstrap_slopes=)`."""
    logs = np.empty((num, len(etas)))
    for i, (a, b) in enumerate(zip(sgda, sde)):
        ca = rng.multinomial(a.shape[0], np.full(a.shape[0], 1.0 / a.shape[0]), size=num)
        cb = rng.multinomial(b.shape[0], np.full(b.shape[0], 1.0 / b.shape[0]), size=num)
        diff = ca @ a / a.shape[0] - cb @ b / b.shape[0]
        with np.errstate(divide="ignore"):
            logs[:, i] = np.log(np.max(np.abs(diff), axis=1))
    x = np.log(np.asarray(etas))
    xc = x - x.mean()
    return (logs - logs.mean(1, keepdims=True)) @ xc / np.sum(xc**2)


def weak_error_summary(runs: dict[str, tuple[Any, Any]], *, schemes: Sequence[str],
                       etas: Sequence[float], horizon: float, num_times: int, seeds: int,
                       fit_max_eta: float, min_z: float, bootstrap: int, seed: int) -> Any:
    r"""The weak errors of minibatch SGDA against the Cao–Guo SDEs and their fitted orders
    (Cao–Guo Theorems 1–2, eqs. 11–12) from `WeakErrorMember` ensembles.

    - `runs[label] = (dataset, values)`: the engine's dataset of one setting (dims seed, eta,
      scheme, process, step; variables `f`, `cv`, `status`) and its noise-free values
      `values[scheme, process]` (eta, J, F) from `weak_adjoints`; the label "base" must be
      among them (its orders are `order`, ...);
    - the estimate of $\mathbb E f(t_j)$ is the mean over non-diverged seeds of f − M (M the
      control variate), with its standard error; $e(η) = \max_j |\text{sgda} - \text{sde}|$;
    - orders: `fit_order` over the η ≤ `fit_max_eta` whose error is ≥ `min_z` standard errors
      (with `bootstrap` resamplings of the seeds, from `numpy.random.default_rng(seed)`, for a
      Monte Carlo interval); local slopes between neighbouring η; the noise-free order.

    **Returns:** an `xarray.Dataset` (dims variant, scheme, process, eta, time, test_function):
    `order`, `order_ci_low/high`, `expected_order`, `variant_order*`, `fit_points`,
    `deterministic_order`, `error`, `error_se`, `deterministic_error`, `local_slope`, `mean`,
    `mean_se`, `noise_free`, `cv_variance_ratio`, `cv_mean_z`, `diverged_fraction`.
    """
    import xarray as xr

    labels = list(runs)
    schemes, etas = list(schemes), [float(e) for e in etas]
    nv, ns, ne, nt, nf = len(labels), len(schemes), len(etas), num_times, \
        len(WEAK_TEST_FUNCTIONS)
    nan = lambda *shape: np.full(shape, np.nan)  # noqa: E731
    mean = nan(nv, ns, 2, ne, nt, nf)
    se = nan(nv, ns, 2, ne, nt, nf)
    det = nan(nv, ns, 2, ne, nt, nf)
    var_ratio = nan(nv, ns, 2, ne, nf)
    cv_z = nan(nv, ns, 2, ne, nf)
    diverged = nan(nv, ns, 2, ne)
    error, error_se, det_error = nan(nv, ns, ne, nf), nan(nv, ns, ne, nf), nan(nv, ns, ne, nf)
    order, ci_lo, ci_hi = nan(nv, ns, nf), nan(nv, ns, nf), nan(nv, ns, nf)
    b_lo, b_hi, det_order = nan(nv, ns, nf), nan(nv, ns, nf), nan(nv, ns, nf)
    points = np.zeros((nv, ns, nf), np.int64)
    local = nan(nv, ns, ne, nf)
    rng = np.random.default_rng(seed)
    samples: dict = {}
    for v, label in enumerate(labels):
        ds, values = runs[label]
        for s, scheme in enumerate(schemes):
            for p, process in enumerate(WEAK_PROCESSES):
                det[v, s, p] = values[scheme, process]
                for e, eta in enumerate(etas):
                    sel = ds.sel(eta=eta, scheme=scheme, process=process).isel(step=-1)
                    f = np.asarray(sel["f"].values, dtype=float)  # (seeds, J, F)
                    m = np.asarray(sel["cv"].values, dtype=float)
                    ok = np.asarray(sel["status"].values) != RESULTS.diverged
                    diverged[v, s, p, e] = 1.0 - ok.mean()
                    est = (f - m)[ok]
                    samples[v, s, p, e] = est
                    if est.shape[0] >= 2:
                        mean[v, s, p, e] = est.mean(0)
                        se[v, s, p, e] = est.std(0, ddof=1) / math.sqrt(est.shape[0])
                        with np.errstate(divide="ignore", invalid="ignore"):
                            var_ratio[v, s, p, e] = f[ok][:, -1].var(0, ddof=1) / \
                                est[:, -1].var(0, ddof=1)
                            cv_z[v, s, p, e] = m[ok][:, -1].mean(0) / (
                                m[ok][:, -1].std(0, ddof=1) / math.sqrt(est.shape[0]))
            diff = mean[v, s, 0] - mean[v, s, 1]  # (E, J, F)
            dse = np.hypot(se[v, s, 0], se[v, s, 1])
            ddet = np.abs(det[v, s, 0] - det[v, s, 1])
            for e in range(ne):
                for i in range(nf):
                    col = np.abs(diff[e, :, i])
                    if np.all(np.isnan(col)):
                        continue
                    j = int(np.nanargmax(col))
                    error[v, s, e, i], error_se[v, s, e, i] = col[j], dse[e, j, i]
                    det_error[v, s, e, i] = np.max(ddet[e, :, i])
            with np.errstate(divide="ignore", invalid="ignore"):
                local[v, s, :-1] = np.log(error[v, s, :-1] / error[v, s, 1:]) / \
                    np.log(np.asarray(etas[:-1]) / np.asarray(etas[1:]))[:, None]
            for i in range(nf):
                small = [e for e in range(ne) if etas[e] <= fit_max_eta]
                if len(small) >= 2 and np.all(det_error[v, s, small, i] > 0):
                    det_order[v, s, i] = float(fit_order([etas[e] for e in small],
                                                         det_error[v, s, small, i]).slope)
                use = [e for e in small if np.isfinite(error[v, s, e, i])
                       and error[v, s, e, i] >= min_z * error_se[v, s, e, i]
                       and error[v, s, e, i] > 0]
                points[v, s, i] = len(use)
                if len(use) < 2:
                    continue
                boot = None
                if bootstrap:
                    boot = bootstrap_error_slopes([etas[e] for e in use],
                                                  [samples[v, s, 0, e][:, :, i] for e in use],
                                                  [samples[v, s, 1, e][:, :, i] for e in use],
                                                  rng, bootstrap)
                fit = fit_order([etas[e] for e in use], error[v, s, use, i],
                                error_se[v, s, use, i], bootstrap_slopes=boot)
                order[v, s, i] = float(fit.slope)
                ci_lo[v, s, i], ci_hi[v, s, i] = (float(c) for c in fit.ci)
                b_lo[v, s, i], b_hi[v, s, i] = (float(c) for c in fit.ci_bootstrap)
    base = labels.index("base")
    coords = {"variant": labels, "scheme": schemes, "process": list(WEAK_PROCESSES),
              "eta": etas,
              "time": [horizon * (j + 1) / nt for j in range(nt)],
              "test_function": list(WEAK_TEST_FUNCTIONS)}
    d6 = ("variant", "scheme", "process", "eta", "time", "test_function")
    d4 = ("variant", "scheme", "eta", "test_function")
    d3 = ("variant", "scheme", "test_function")
    ds = xr.Dataset(
        {
            "order": (("scheme", "test_function"), order[base]),
            "order_ci_low": (("scheme", "test_function"), ci_lo[base]),
            "order_ci_high": (("scheme", "test_function"), ci_hi[base]),
            "expected_order": (("scheme",), [CAO_GUO_WEAK_ORDERS[s] for s in schemes]),
            "variant_order": (d3, order),
            "variant_order_ci_low": (d3, ci_lo),
            "variant_order_ci_high": (d3, ci_hi),
            "variant_order_bootstrap_low": (d3, b_lo),
            "variant_order_bootstrap_high": (d3, b_hi),
            "fit_points": (d3, points),
            "deterministic_order": (d3, det_order),
            "error": (d4, error),
            "error_se": (d4, error_se),
            "deterministic_error": (d4, det_error),
            "local_slope": (d4, local),
            "mean": (d6, mean),
            "mean_se": (d6, se),
            "noise_free": (d6, det),
            "cv_variance_ratio": (("variant", "scheme", "process", "eta", "test_function"),
                                  var_ratio),
            "cv_mean_z": (("variant", "scheme", "process", "eta", "test_function"), cv_z),
            "diverged_fraction": (("variant", "scheme", "process", "eta"), diverged),
        },
        coords=coords,
        attrs={"dtype": str(jnp.result_type(float)), "seeds": seeds,
               "fit_max_eta": fit_max_eta, "min_z": min_z},
    )
    return ds


def local_slope_medians(local: np.ndarray, error: np.ndarray, error_se: np.ndarray,
                        min_z: float) -> np.ndarray:
    """Median over test functions of the local slope log(e(η_i)/e(η_{i+1})) / log(η_i/η_{i+1})
    of each η pair (`local`, `error`, `error_se`: (eta, test_function)), over the test functions
    whose errors at both η are resolved (≥ `min_z` standard errors); NaN where none is. The
    weak orders of Cao–Guo Theorems 1–2 are asymptotic, $e(η) = Cη^p(1 + O(η))$: the local
    slopes approach p as η halves."""
    ok = np.isfinite(error) & (error >= min_z * error_se) & (error > 0)
    both = ok[:-1] & ok[1:] & np.isfinite(local[:-1])
    out = np.full(local.shape[0] - 1, np.nan)
    for e in range(out.size):
        if both[e].any():
            out[e] = float(np.median(local[e][both[e]]))
    return out
