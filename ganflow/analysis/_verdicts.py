r"""Convergence verdicts, one vocabulary: `converges`, `slow`, `orbits`, `diverges` (best to
worst; `VERDICTS`).

- `converges`: the run reached its tolerance (measured), or x* attracts (theory: ρ < 1, or
  max Re λ < 0 for a flow);
- `slow`: contracting, but not yet within the tolerance in the budget (measured only);
- `orbits`: neither contracts nor expands to the precision available (ρ = 1, a centre, a
  bounded oscillation without trend);
- `diverges`: expands or blows up. Where the reason matters (an unstable flow against a step too
  large for a stable one, `local_verdict`), a reason string says which, not a new word.

Three sources of a verdict share it:

- **theory from ρ** (Mescheder 2017: a discrete scheme converges locally iff ρ(F′(x*)) < 1):
  `theory_verdicts` with `rho_precision` and `defective_on_unit_circle`; from a growth rate per
  unit time (max Re λ for a flow, log ρ / η for a scheme: `local_growth_rate`) by
  `rate_verdict`;
- **measured, from distances ‖x_k − x*‖**: one rate fit (`fit_log_rate`: the least-squares
  slope of log d against the step, with the slope a bounded oscillation could fake), the
  verdict of one series (`series_verdict`) or of an ensemble of seeds with the engine's outcomes
  (`ensemble_verdicts`); `envelope_growth_rate` is the growth of an orbit's envelope (windowed
  maxima), for runs that rotate;
- **local, at a point from the spectra** (Mescheder 2017, "The numerics of GANs" §3):
  `local_verdict` from J's rightmost eigenvalue and simultaneous GD's update operator.

`verdicts_agree` compares a measured verdict with the theory's; `steps_to_tol` is the budget
that `converges` needs at the predicted rate.
"""

import math
from typing import Any, NamedTuple

import numpy as np

VERDICTS = ("converges", "slow", "orbits", "diverges")
"""The verdicts, from best to worst."""

THEORY_VERDICTS = ("converges", "orbits", "diverges")
"""The verdicts local theory can give (no budget, hence no `slow`)."""


# ---------------------------------------------------------------------------------------------
# theory


def rho_precision(jacobian: Any) -> float:
    r"""How precisely ρ(F′) is known: $δ = 10\sqrt{ε}\,\max(1, \|F'\|_F)$, ε the machine epsilon
    of the Jacobian's dtype.

    An eigenvalue of a matrix known to relative precision ε moves by O(ε·cond) when it is simple
    and by O(√ε) when two eigenvalues coalesce into a Jordan block (alternating GD on the
    Dirac-GAN at α = 2); √ε bounds both, and ρ within δ of 1 is indistinguishable from 1 (float64:
    δ ≈ 1.5e-7·max(1, ‖F′‖)).
    """
    jac = np.asarray(jacobian)
    eps = float(np.finfo(jac.dtype if np.issubdtype(jac.dtype, np.floating) else float).eps)
    return 10.0 * math.sqrt(eps) * max(1.0, float(np.linalg.norm(jac)))


def defective_on_unit_circle(jacobian: Any, delta: float) -> bool:
    r"""Whether F′ has a defective eigenvalue on the unit circle (a Jordan block of size m > 1
    at |λ| = 1), so that ‖F′^k‖ grows like k^{m−1} although ρ = 1: eigenvalues within `delta` of
    each other and of the circle form a cluster of algebraic multiplicity m; its geometric
    multiplicity is the number of singular values of F′ − λ̄I below √δ·‖F′‖ (a Jordan block
    keeps one of order 1, a semisimple eigenvalue none). Alternating GD on the Dirac-GAN at
    α = ηf′(0) = 2 has λ = −1 twice with one eigenvector."""
    jac = np.asarray(jacobian, dtype=np.float64)
    lam = np.linalg.eigvals(jac)
    on = lam[np.abs(np.abs(lam) - 1) <= delta]
    threshold = math.sqrt(delta) * max(1.0, float(np.linalg.norm(jac, 2)))
    seen = np.zeros(on.size, dtype=bool)
    for i in range(on.size):
        if seen[i]:
            continue
        cluster = np.abs(on - on[i]) <= delta
        seen |= cluster
        if cluster.sum() > 1:
            centre = on[cluster].mean()
            sv = np.linalg.svd(jac - centre * np.eye(jac.shape[0]), compute_uv=False)
            if np.sum(sv <= threshold) < cluster.sum():
                return True
    return False


def theory_verdicts(rho: Any, delta: Any, defective: Any = False) -> np.ndarray:
    r"""The local theory's verdict from the spectral radius ρ = ρ(F′(x*)) (Mescheder 2017):
    `converges` when ρ < 1 − δ, `diverges` when ρ > 1 + δ, else `orbits` (ρ = 1 to the precision
    δ of ρ, e.g. `rho_precision`: the linearisation neither contracts nor expands — alternating GD
    on the Dirac-GAN, whose eigenvalues lie on the unit circle) — unless the eigenvalue on the
    circle is `defective` (`defective_on_unit_circle`): then ‖F′^k‖ grows polynomially and the
    verdict is `diverges`.

    **Arguments:** `rho`, `delta`, `defective`: arrays (broadcast together).

    **Returns:** an array of strings from `THEORY_VERDICTS`.
    """
    rho, delta, defective = np.broadcast_arrays(
        np.asarray(rho, float), np.asarray(delta, float), np.asarray(defective, bool)
    )
    out = np.full(rho.shape, "orbits", dtype=object)
    out[rho < 1 - delta] = "converges"
    out[(rho > 1 + delta) | ((np.abs(rho - 1) <= delta) & defective)] = "diverges"
    return out


def local_growth_rate(eigenvalues: Any, eta: float | None = None) -> float:
    r"""The local growth rate per unit time of a linearisation: max Re λ of the Jacobian J of a
    flow (`eta` None), or log ρ(F′) / η of a discrete scheme's update operator F′ with step η
    (ρ^k = e^{(kη)·log ρ/η})."""
    eigs = np.asarray(eigenvalues)
    if eta is None:
        return float(np.max(eigs.real))
    return float(np.log(np.max(np.abs(eigs))) / eta)


def rate_verdict(rate: float, tol: float) -> str:
    """The verdict of a growth rate (per unit time, or a log per-step factor) known to `tol`:
    `orbits` when |rate| ≤ tol, `converges` below −tol, `diverges` above tol or when the rate
    is NaN or +∞ (a blow-up)."""
    if math.isnan(rate) or rate > tol:
        return "diverges"
    if rate < -tol:
        return "converges"
    return "orbits"


# ---------------------------------------------------------------------------------------------
# measured: one rate fit


def fit_log_rate(steps: Any, distances: Any, floor: float = 0.0, *,
                 min_points: int = 2) -> tuple[float, float]:
    r"""The least-squares slope s of log d_k against the step k (d_k = ‖x_k − x*‖: the run
    contracts by the factor e^s per step), over the points with a finite d_k > `floor` (below
    the floor: round-off), and the fit's resolution: the largest slope that a bounded
    oscillation of log d of the residuals' amplitude A can fake,
    $A\,Σ|t_i − \bar t| / Σ(t_i − \bar t)^2$ (≈ 3A/L over a window of L steps) — a non-normal
    update map on an orbit makes ‖x_k − x*‖ oscillate without a trend.

    **Returns:** (s, resolution); (nan, nan) with fewer than `min_points` (at least 2) points.
    """
    t, y = np.asarray(steps, float), np.asarray(distances, float)
    keep = np.isfinite(y) & (y > floor)
    t, y = t[keep], y[keep]
    if t.size < max(min_points, 2):
        return math.nan, math.nan
    y = np.log(y)
    tc = t - t.mean()
    sxx = float(tc @ tc)
    slope = float(tc @ (y - y.mean())) / sxx
    resid = y - y.mean() - slope * tc
    return slope, float(np.max(np.abs(resid))) * float(np.abs(tc).sum()) / sxx


def envelope_growth_rate(times: Any, distances: Any) -> float:
    """The growth rate per unit time of the envelope of a trajectory's distances to x*: the log
    ratio of the largest distance in the last quarter of the run to the largest in the second
    quarter, over the time between them. Maxima over windows longer than one rotation make a
    closed orbit (an ellipse, whose distance to x* oscillates) read as rate 0."""
    d = np.asarray(distances, dtype=float)
    n = len(d) - 1
    q = n // 4
    second, last = d[q : 2 * q + 1], d[3 * q :]
    tiny = 1e-300
    dt = float(times[3 * q] - times[q])
    return float(np.log(max(last.max(), tiny) / max(second.max(), tiny)) / dt)


def series_verdict(log_rate: float, band: float, start: float, final: float, *,
                   converged_ratio: float, blowup_ratio: float = math.inf) -> str:
    """The measured verdict of one distance series (or of a summary over seeds) from its growth
    rate (`log_rate`, known to `band`; per step or per unit time) and its first and last
    distances to x*:

    - `diverges` when the last distance is not finite or above `blowup_ratio`·start;
    - `converges` when it is within `converged_ratio`·start;
    - `orbits` when |log_rate| ≤ band; `slow` when log_rate < −band (contracting, not yet
      within the tolerance); `diverges` otherwise (expanding, or no rate)."""
    if not np.isfinite(final) or final > blowup_ratio * start:
        return "diverges"
    if final <= converged_ratio * start:
        return "converges"
    if np.isfinite(log_rate) and abs(log_rate) <= band:
        return "orbits"
    if log_rate < -band:
        return "slow"
    return "diverges"


_LOCAL = 10.0
"""A rate fit stops where a seed's distance first exceeds `_LOCAL` times its initial distance."""


def _fit_local(d: np.ndarray, ts: np.ndarray, floor: float, dstep: int) -> tuple[float, float]:
    r"""`fit_log_rate` of one seed over its local regime: the save points `ts` (ts[0] = 0) up
    to the first one where d_k exceeds `_LOCAL`·d_0 (that point included), beyond which the
    linearisation at x* need not describe the run (the Dirac-GAN with the logistic loss leaves
    x* at the rate ρ and stalls where f′ saturates), and before the divergence step `dstep` (a
    diverged seed adds its last good state, step `dstep` − 1)."""
    t, y = ts.astype(float), np.asarray(d, float)
    if dstep >= 0:  # the engine froze the seed at its last good state, step dstep - 1
        t, y = t[ts <= dstep - 1], y[ts <= dstep - 1]
        if not np.any(t == dstep - 1):
            t, y = np.append(t, dstep - 1.0), np.append(y, d[-1])
    out = np.flatnonzero(~(y <= _LOCAL * d[0]))  # first exit from the local regime (or nan)
    if out.size:
        t, y = t[: out[0] + 1], y[: out[0] + 1]
    return fit_log_rate(t, y, floor)


def ensemble_verdicts(
    distances: Any, ts: Any, status: Any, diverged_step: Any, tol: float, delta: Any, floor: float
) -> dict[str, np.ndarray]:
    r"""The measured verdict per learning rate from a run over E learning rates × S seeds.

    Per seed, the per-step factor r = exp(s) of `fit_log_rate` over the local regime (points
    above `floor` up to the first exit beyond 10·d_0; a diverged seed up to its last good
    state) and the fit's resolution b. The engine's outcomes split the seeds into diverged (D),
    converged (C, within `tol` at the end) and the rest (R); per learning rate:

    - `diverges` when at least half the seeds diverged;
    - `converges` when every seed that did not diverge converged (`frac_diverged` says how many
      did);
    - otherwise the rest decide, by their median slope s_R and the orbit band
      β = max(median b_R, δ) (δ: the precision of the ρ the measurement is compared with):
      - `slow`: contracting — s_R < −β and the median ratio d_end/d_0 over R is < 1 — but not
        within tol in the budget;
      - if R does not contract and more than half of all seeds converged: `converges` (a few
        seeds stall or leave: see the fractions);
      - else `diverges` when s_R > β (expanding, not yet beyond the blow-up bound), `orbits`
        when |s_R| ≤ β (no trend that a bounded oscillation could not explain) or when the
        fit contracts but the distances have not decreased.

    `rate` is exp(s̄) with s̄ the median slope of the seeds the verdict is about (all seeds for
    a majority of diverged ones, R for `orbits` and an expanding `diverges`, all but D
    otherwise), `band` the β of the decision (or of those seeds).

    **Arguments:** `distances` (E, S, T) at the save points `ts` (T,) (ts[0] = 0);
    `status`, `diverged_step` (E, S) from the engine (`ganflow.engine.RESULTS`); `tol`; `delta`
    (E,) or scalar; `floor`: distances below it are round-off, left out of the fits.

    **Returns:** a dict of arrays (E,): `rate` (exp s̄), `band` (β, a tolerance on log rate),
    `verdict`.
    """
    from ..engine import RESULTS

    ds = np.asarray(distances, float)
    ts = np.asarray(ts)
    status = np.asarray(status)
    dstep = np.asarray(diverged_step)
    num_etas, num_seeds = status.shape
    delta = np.broadcast_to(np.asarray(delta, float), (num_etas,))
    rate = np.full(num_etas, np.nan)
    band = np.full(num_etas, np.nan)
    verdict = np.empty(num_etas, dtype=object)

    def summary(fits, mask, d):
        use = mask & np.isfinite(fits[:, 0])
        if not use.any():
            return math.nan, d
        return float(np.median(fits[use, 0])), max(float(np.median(fits[use, 1])), d)

    for i in range(num_etas):
        fits = np.array([_fit_local(ds[i, j], ts, floor, int(dstep[i, j]))
                         for j in range(num_seeds)])
        div = status[i] == RESULTS.diverged
        conv = status[i] == RESULTS.converged
        rest = ~div & ~conv
        slope, beta = summary(fits, ~div, delta[i])
        if 2 * div.sum() >= num_seeds:
            verdict[i] = "diverges"
            slope, beta = summary(fits, np.ones_like(div), delta[i])
        elif not rest.any():
            verdict[i] = "converges"
        else:
            s_r, b_r = summary(fits, rest, delta[i])
            shrinking = np.median(ds[i, rest, -1] / ds[i, rest, 0]) < 1
            if s_r < -b_r and shrinking:
                verdict[i], beta = "slow", b_r
            elif 2 * conv.sum() > num_seeds:
                verdict[i] = "converges"
            else:
                verdict[i] = "diverges" if s_r > b_r else "orbits"
                slope, beta = s_r, b_r
        rate[i], band[i] = math.exp(slope), beta
    return {"rate": rate, "band": band, "verdict": verdict}


def verdicts_agree(measured: Any, theory: Any, rho: Any, band: Any) -> np.ndarray:
    r"""Whether the measured verdict is what the local theory predicts: `converges` or `slow`
    where ρ < 1, `orbits` where ρ ≈ 1, `diverges` where ρ > 1 — and `orbits` also where
    |log ρ| ≤ `band`, the measurement's resolution over its budget (the predicted contraction or
    expansion is too slow to be seen in the run)."""
    measured, theory = np.asarray(measured, object), np.asarray(theory, object)
    with np.errstate(divide="ignore"):  # ρ = 0 (one-step convergence): log ρ = −∞
        unresolved = np.abs(np.log(np.asarray(rho, float))) <= np.asarray(band, float)
    expected = {"converges": ("converges", "slow"), "orbits": ("orbits",),
                "diverges": ("diverges",)}
    return np.array([m in expected[t] or (m == "orbits" and u)
                     for m, t, u in zip(measured.ravel(), theory.ravel(), unresolved.ravel())],
                    dtype=bool).reshape(measured.shape)


def steps_to_tol(rho: Any, d0: Any, tol: float) -> np.ndarray:
    r"""Steps the linearisation needs to bring a distance d0 within tol:
    $n^* = \lceil\log(\mathrm{tol}/d_0)/\log ρ\rceil$ where ρ < 1 (0 when d0 ≤ tol, 1 when
    ρ = 0), nan where ρ ≥ 1."""
    rho, d0 = np.broadcast_arrays(np.asarray(rho, float), np.asarray(d0, float))
    out = np.full(rho.shape, np.nan)
    ok = rho < 1
    with np.errstate(divide="ignore"):
        n = np.ceil(np.log(tol / d0[ok]) / np.log(rho[ok]))
    out[ok] = np.where(d0[ok] <= tol, 0.0, np.maximum(n, 1.0))
    return out


# ---------------------------------------------------------------------------------------------
# local, at a point


class LocalVerdict(NamedTuple):
    """`local_verdict`'s answer: the stored `code`, the `verdict` (one of `VERDICTS`), the
    `kind` that tells the two ways to diverge apart, and the `reason` with the numbers."""

    code: int
    verdict: str
    kind: str
    reason: str


LOCAL_VERDICTS = {
    0: ("converges", ""),
    1: ("orbits", "rotational"),
    2: ("diverges", "unstable flow"),
    3: ("diverges", "step too large"),
}
"""code → (verdict, kind) of `local_verdict`."""


def local_verdict(rho: float, lr_eig: complex, upd_eig: complex, eta: float,
                  tol: float = 1e-9) -> LocalVerdict:
    r"""The local verdict at a point from the spectra of the followed field b (`lr_eig`: the
    eigenvalue of J of largest real part) and of simultaneous GD's update operator
    $F' = I + ηJ$ (`rho` = ρ(F′), `upd_eig` its eigenvalue of largest modulus, μ = 1 + ηλ):

    - code 0, *converges*: ρ < 1;
    - code 2, *diverges* (unstable flow): max Re λ(J) > tol·(1 + |λ|);
    - code 1, *orbits* (rotational): otherwise, when the eigenvalue λ = (μ − 1)/η behind ρ is
      rotational, |Im λ| > 10 |Re λ| (Mescheder 2017: eigenvalues near the imaginary axis make
      simultaneous steps fail whatever η);
    - code 3, *diverges* (step too large): otherwise (the flow contracts; η > 2|Re λ|/|λ|²).
    """
    lam = (complex(upd_eig) - 1.0) / eta

    def out(code, reason):
        return LocalVerdict(code, *LOCAL_VERDICTS[code], reason)

    if rho < 1.0:
        return out(0, f"ρ(I + ηJ) = {rho:.6f} < 1")
    if lr_eig.real > tol * (1.0 + abs(lr_eig)):
        return out(2, f"Re λ_max(J) = {lr_eig.real:.3g} > 0 (λ = {lr_eig.real:.3g} "
                      f"{lr_eig.imag:+.3g}i); ρ = {rho:.6f}")
    if abs(lam.imag) > 10.0 * abs(lam.real):
        return out(1, f"ρ = {rho:.6f} from λ = {lam.real:.3g} {lam.imag:+.3g}i: |Im λ|/|Re λ| = "
                      f"{abs(lam.imag) / max(abs(lam.real), 1e-300):.3g}")
    need = 2.0 * abs(lam.real) / max(abs(lam) ** 2, 1e-300)
    return out(3, f"ρ = {rho:.6f} from λ = {lam.real:.3g} {lam.imag:+.3g}i: needs η < {need:.3g}")


# ---------------------------------------------------------------------------------------------
# divergence: the engine's per-member outcomes, one rule for every table and figure


class DivergenceCount(NamedTuple):
    """`count_diverged`'s answer, arrays over the cells: `diverged` members, all `members`, and
    the `first_step` at which one of them diverged (−1 where none did)."""

    diverged: np.ndarray
    members: np.ndarray
    first_step: np.ndarray


def count_diverged(status: Any, diverged_step: Any, axis: int | tuple[int, ...] = 0
                   ) -> DivergenceCount:
    """How many members of each cell the engine flagged diverged (`ganflow.engine.RESULTS`:
    non-finite or beyond the blow-up bound, then frozen at the last good state) and the first
    step at which one did.

    **Arguments:** `status`, `diverged_step`: the engine's per-member outcome and divergence step
    (same shape, e.g. (seed, cell)); `axis`: the member axis (or axes) to count over (default 0,
    the seeds).

    **Returns:** a `DivergenceCount` of arrays over the remaining axes.
    """
    from ..engine import RESULTS

    div = np.asarray(status) == int(RESULTS.diverged)
    dstep = np.where(div, np.asarray(diverged_step, dtype=np.int64), np.iinfo(np.int64).max)
    count = div.sum(axis=axis)
    first = dstep.min(axis=axis)
    first = np.where(count > 0, first, -1)
    members = np.full(np.shape(count), np.prod([div.shape[a] for a in np.atleast_1d(axis)]))
    return DivergenceCount(np.asarray(count), members.astype(np.int64), np.asarray(first))


def divergence_text(diverged: int, members: int, first_step: int) -> str:
    """One table cell of `count_diverged`: `0 of n` where no member diverged, else `k of n
    (first at step s)`."""
    if int(diverged) == 0:
        return f"0 of {int(members)}"
    return f"{int(diverged)} of {int(members)} (first at step {int(first_step)})"


def mostly_diverged(diverged: Any, members: Any) -> np.ndarray:
    """Whether at least half the members diverged: then a cell's verdict is `diverges` whatever
    the rest do (`ensemble_verdicts`'s rule), and no rate is reported from frozen states."""
    return 2 * np.asarray(diverged) >= np.asarray(members)


def mask_diverged(values: Any, steps: Any, status: Any, diverged_step: Any) -> np.ndarray:
    """`values` as floats with NaN at every save point where the member was frozen: a diverged
    member's entries at steps ≥ its `diverged_step` (the engine keeps its last good state there,
    which a table or a plot would read as a flat line or a finite rate).

    **Arguments:** `values` of shape `status.shape + (T,) + extra` (the engine's layout: the
    members' dims, then the save points, then the observable's own dims); `steps` (T,), the
    save points' steps; `status`, `diverged_step`: the engine's per-member outcomes.
    """
    from ..engine import RESULTS

    vals = np.array(values, dtype=float)
    status = np.asarray(status)
    steps = np.asarray(steps)
    if vals.shape[: status.ndim + 1] != status.shape + steps.shape:
        raise ValueError(f"values of shape {vals.shape} do not start with the members' shape "
                         f"{status.shape} and the {steps.size} save points")
    div = status == int(RESULTS.diverged)
    frozen = div[..., None] & (steps >= np.asarray(diverged_step)[..., None])
    frozen = frozen.reshape(frozen.shape + (1,) * (vals.ndim - frozen.ndim))
    return np.where(frozen, np.nan, vals)


# ---------------------------------------------------------------------------------------------
# claims from an interval

INTERVAL_VERDICTS = ("consistent", "contradicted", "unresolved")
"""What an interval estimate says of a claimed value (`interval_verdict`)."""


def interval_verdict(low: Any, high: Any, claimed: float, margin: float) -> np.ndarray:
    r"""Whether an interval estimate [low, high] of a quantity decides a claim that it equals
    `claimed`, where a value at distance ≥ `margin` from the claim would contradict it (e.g. a
    convergence order p: margin 0.5, half the way to the neighbouring orders p ± 1):

    - `consistent`: the interval lies within claimed ± margin (every value it admits agrees);
    - `contradicted`: it lies entirely beyond claimed ± margin (every value it admits contradicts);
    - `unresolved`: it admits both kinds (too wide to decide: 1.996 [−1.425, 5.417] of an order
      2), or it is not finite.

    **Arguments:** `low`, `high`: the interval's ends (arrays, broadcast together); `claimed`;
    `margin` (> 0).

    **Returns:** an array of strings from `INTERVAL_VERDICTS`.
    """
    if not margin > 0:
        raise ValueError(f"margin must be > 0, got {margin}")
    low, high = np.broadcast_arrays(np.asarray(low, float), np.asarray(high, float))
    out = np.full(low.shape, "unresolved", dtype=object)
    finite = np.isfinite(low) & np.isfinite(high) & (low <= high)
    inside = finite & (low > claimed - margin) & (high < claimed + margin)
    beyond = finite & ((high <= claimed - margin) | (low >= claimed + margin))
    out[inside] = "consistent"
    out[beyond] = "contradicted"
    return out
