r"""The convergence atlas: small games × losses × stabilisers × schemes over a learning-rate grid,
measured (fraction of seeds converged, empirical contraction rate, a verdict) beside the theory
(spectral radius ρ(F′) of the actual update map at x*, its verdict, eigenvalues of the Jacobian of
the stabilised field and of its first-order modified field, Cao–Guo eqs. 10/13).

Each cell (game, loss, stabiliser, scheme) is **one compilation**: the engine runs the η-grid ×
seeds in one compiled function (`training.run_grid`, the scheme rebuilt from a traced learning
rate); the update Jacobians $F'(x^*) = ∂F_η/∂x$ (`jax.jacfwd` of one step) and the
modified-field Jacobians are computed in one more. Local theory (Mescheder 2017;
docs/conventions.md §Discrete schemes): the scheme converges from near x* iff ρ(F′(x*)) < 1,
at the rate ρ per step, so that $‖x_k − x^*‖ ≈ ρ^k ‖x_0 − x^*‖$ and tol is reached after
$n^* = \log(\mathrm{tol}/d_0) / \log ρ$ steps.

The verdicts answer "does it converge?" without mistaking a short budget for "no": a cell that
contracts at the predicted rate but has not reached tol yet is `slow`, with n* beside it.
"""

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import training as tr
from .._checks import check_choice, check_int_at_least, check_positive
from ..dynamics import ModifiedField, jacobian
from ..engine import RESULTS

# ---------------------------------------------------------------------------------------------
# the catalogue


def _games(full: bool) -> dict[str, tuple[Callable[[str | None], Any], tuple[str | None, ...]]]:
    """name -> (make(loss), losses). Bilinear has no loss."""
    from .. import games as g

    # near x* the integrands are smooth: coarser quadrature keeps the default atlas fast
    lq_kwargs = {} if full else {"quadrature": "hermite", "num_nodes": 20}
    nk_kwargs = {} if full else {"levels": 2}
    return {
        "dirac": (lambda loss: g.get_game("dirac", loss=loss), ("gan", "wgan")),
        "nk2d": (lambda loss: g.get_game("nk2d", loss=loss, **nk_kwargs), ("gan", "wgan")),
        "bilinear": (lambda loss: g.get_game("bilinear"), (None,)),
        "lq-gaussian": (
            lambda loss: g.get_game("lq-gaussian", loss=loss, **lq_kwargs),
            ("gan", "nsgan") if full else ("gan",),
        ),
    }


def _stabilisers(full: bool) -> dict[str, Callable[[], tuple]]:
    from .. import stabilisers as s

    out = {
        "none": lambda: (),
        "r1": lambda: (s.R1(1.0),),
        "consensus": lambda: (s.Consensus(0.5),),
        "nk": lambda: (s.NagarajanKolter(0.5),),
    }
    if full:
        out.update(
            {
                "r2": lambda: (s.R2(1.0),),
                "instance-noise": lambda: (s.InstanceNoise(0.7, mode="expected"),),
                "sga": lambda: (s.SGA(0.5),),
                "lss": lambda: (s.LSS(),),
            }
        )
    return out


def _schemes(full: bool) -> dict[str, Callable[[Any, Any], tr.AbstractScheme]]:
    out = {
        "simultaneous": lambda b, eta: tr.SimultaneousGDA(b, optax.sgd(eta)),
        "alternating": lambda b, eta: tr.AlternatingGDA(b, optax.sgd(eta)),
        "extragradient": lambda b, eta: tr.Extragradient(b, optax.sgd(eta)),
    }
    if full:
        out.update(
            {
                "optimistic": lambda b, eta: tr.OptimisticGDA(b, optax.sgd(eta)),
                "alternating-5": lambda b, eta: tr.AlternatingGDA(b, optax.sgd(eta), n_d=5),
                "cgd": lambda b, eta: tr.CompetitiveGD(b, eta),
                "unrolled-3": lambda b, eta: tr.Unrolled(
                    b, k=3, unroll_lr=eta, optimizer=optax.sgd(eta)
                ),
            }
        )
    return out


_MODIFIED = {"simultaneous": "simultaneous", "alternating": "alternating"}

# ---------------------------------------------------------------------------------------------
# verdicts: what the measurement says, what the theory says


VERDICTS = ("converges", "slow", "orbits", "diverges")
"""The measured verdicts, from best to worst (see `measured_verdicts`)."""

THEORY_VERDICTS = ("converges", "orbits", "diverges")
"""The verdicts of local theory from ρ(F′(x*)) (see `theory_verdicts`)."""


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


_LOCAL = 10.0
"""A rate fit stops where a seed's distance first exceeds `_LOCAL` times its initial distance."""


def _fit_one(d: np.ndarray, ts: np.ndarray, floor: float, dstep: int) -> tuple[float, float]:
    r"""(log rate, resolution) of one seed from its distances d_k = ‖x_k − x*‖ at the save
    points `ts` (ts[0] = 0).

    The fit window is the local regime: the save points up to the first one where d_k exceeds
    `_LOCAL`·d_0 (that point included), beyond which the linearisation at x* need not describe
    the run (the Dirac-GAN with the logistic loss leaves x* at the rate ρ and stalls where f′
    saturates), and before the divergence step `dstep` (a diverged seed adds its last good state,
    step `dstep` − 1); points with d_k ≤ `floor` (round-off) are left out. Over it, the
    least-squares slope s of log d_k against k, and the largest slope that a bounded oscillation
    of log d of the fit's residual amplitude A can fake,
    $A\,Σ|t_i − \bar t| / Σ(t_i − \bar t)^2$ (≈ 3A/L over a window of L steps): a non-normal
    update map on an orbit makes ‖x_k − x*‖ oscillate without a trend. nan with < 2 points.
    """
    t, y = ts.astype(float), np.asarray(d, float)
    if dstep >= 0:  # the engine froze the seed at its last good state, step dstep - 1
        t, y = t[ts <= dstep - 1], y[ts <= dstep - 1]
        if not np.any(t == dstep - 1):
            t, y = np.append(t, dstep - 1.0), np.append(y, d[-1])
    out = np.flatnonzero(~(y <= _LOCAL * d[0]))  # first exit from the local regime (or nan)
    if out.size:
        t, y = t[: out[0] + 1], y[: out[0] + 1]
    keep = np.isfinite(y) & (y > floor)
    t, y = t[keep], y[keep]
    if t.size < 2:
        return math.nan, math.nan
    y = np.log(y)
    tc = t - t.mean()
    sxx = float(tc @ tc)
    slope = float(tc @ (y - y.mean())) / sxx
    resid = y - y.mean() - slope * tc
    return slope, float(np.max(np.abs(resid))) * float(np.abs(tc).sum()) / sxx


def measured_verdicts(
    distances: Any, ts: Any, status: Any, diverged_step: Any, tol: float, delta: Any, floor: float
) -> dict[str, np.ndarray]:
    r"""The measurement's verdict per learning rate from a run over E learning rates × S seeds.

    Per seed, the per-step factor r = exp(s) of a least-squares fit of log‖x_k − x*‖ against k
    (points above `floor` in the local regime; a diverged seed up to its last good state) and the
    fit's resolution b (see `_fit_one`: the slope a bounded oscillation of the residuals'
    amplitude could fake). The engine's outcomes split the seeds into diverged (D), converged
    (C, within `tol` at the end) and the rest (R); per learning rate:

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
        fits = np.array([_fit_one(ds[i, j], ts, floor, int(dstep[i, j])) for j in range(num_seeds)])
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
# the result


@dataclasses.dataclass
class Atlas:
    """The atlas: `rows` (one dict per game × loss × stabiliser × scheme × η, with the measured
    and the theory's verdicts, `VERDICTS` / `THEORY_VERDICTS`) and `cells` (per combination:
    the η-grid with measured and theoretical arrays, for a figure: `figure_data`, `plot`)."""

    rows: list[dict[str, Any]]
    cells: dict[tuple[str, str, str, str], dict[str, np.ndarray]]
    config: dict[str, Any]
    skipped: list[tuple[str, str, str, str, str]]

    VERDICTS = VERDICTS
    THEORY_VERDICTS = THEORY_VERDICTS

    COLUMNS = (
        "game",
        "loss",
        "stabiliser",
        "scheme",
        "eta",
        "frac_converged",
        "frac_diverged",
        "rate_measured",
        "rho_theory",
        "rate_rel_err",
        "verdict",
        "verdict_theory",
        "agree",
        "steps_to_tol",
        "max_re_eig_field",
        "max_re_eig_modified",
    )

    def to_markdown(self) -> str:
        """The rows as a Markdown table (`COLUMNS`; n* = `steps_to_tol` as an integer, – when
        ρ ≥ 1)."""

        def fmt(col, v):
            if isinstance(v, float):
                if math.isnan(v):
                    return "–" if col == "steps_to_tol" else "nan"
                return f"{v:.0f}" if col == "steps_to_tol" else f"{v + 0.0:.4g}"  # no -0
            return str(v)

        head = "| " + " | ".join(self.COLUMNS) + " |"
        sep = "|" + "---|" * len(self.COLUMNS)
        lines = [head, sep]
        for r in self.rows:
            lines.append("| " + " | ".join(fmt(c, r[c]) for c in self.COLUMNS) + " |")
        return "\n".join(lines)

    def agreement(self) -> float:
        """Fraction of rows whose measured verdict agrees with the theory's (see `agree`)."""
        return float(np.mean([r["agree"] for r in self.rows])) if self.rows else float("nan")

    def verdict_counts(self) -> dict[str, int]:
        """How many rows got each measured verdict."""
        return {v: sum(r["verdict"] == v for r in self.rows) for v in VERDICTS}

    def figure_data(self) -> dict[str, Any]:
        """Arrays per cell, keyed "game/loss/stabiliser/scheme": eta, frac_converged,
        frac_diverged, rate_measured, rate_band, rho_theory, rate_rel_err, verdict,
        verdict_theory, agree, steps_to_tol (for a plot of measured vs predicted against η)."""
        return {"/".join(k): v for k, v in self.cells.items()}

    def heatmap_panels(self) -> dict[str, tuple[list[str], list[float], np.ndarray, np.ndarray,
                                                np.ndarray]]:
        """Per game, `(methods, etas, frac_converged, verdicts, agree)` for
        `ganflow.plotting.atlas_heatmap` (methods "loss/stabiliser/scheme"; every cell of a
        game shares the η-grid)."""
        panels: dict[str, Any] = {}
        for (game, loss, stab, scheme), cell in self.cells.items():
            p = panels.setdefault(game, ([], [float(e) for e in cell["eta"]], [], [], []))
            p[0].append(f"{loss}/{stab}/{scheme}")
            for slot, key in zip(p[2:], ("frac_converged", "verdict", "agree")):
                slot.append(np.asarray(cell[key]))
        return {g: (m, e, np.stack(f).astype(float), np.stack(v), np.stack(a).astype(bool))
                for g, (m, e, f, v, a) in panels.items()}

    def plot(self, path: Any = None, title: str | None = "Convergence atlas: measured verdicts"):
        """The verdict heatmaps (`ganflow.plotting.atlas_heatmap` of `heatmap_panels`), saved
        as PNG to `path` when given; returns the figure."""
        from ..plotting import atlas_heatmap

        return atlas_heatmap(self.heatmap_panels(), title=title, path=path)


# ---------------------------------------------------------------------------------------------
# one cell


def _seeds_near(x_star: Any, key: Any, radius: float, n: int) -> Any:
    leaves, treedef = jax.tree_util.tree_flatten(x_star)
    keys = jax.random.split(key, len(leaves))
    noisy = [
        jnp.asarray(a) + radius * jax.random.normal(k, (n, *jnp.shape(a)), jnp.result_type(float))
        for a, k in zip(leaves, keys)
    ]
    return jax.tree_util.tree_unflatten(treedef, noisy)


@eqx.filter_jit
def _cell_jacobians(make, field, scheme_name, etas, x_star):
    """Per η: the Jacobian of the actual update map at x* and of the modified field."""

    def per_eta(eta):
        scheme = make(field, eta)
        jac_update = tr.update_jacobian(scheme, x_star)
        if scheme_name in _MODIFIED:
            jac_mod = jacobian(ModifiedField(field, eta, _MODIFIED[scheme_name]), x_star)
        else:
            jac_mod = jnp.full_like(jac_update[:0, :0], jnp.nan)
        return jac_update, jac_mod

    return jax.vmap(per_eta)(etas)


def _cell(make, field, scheme_name, etas, x0s, x_star, num_steps, save_every, tol, blowup):
    """One atlas cell: η × seeds through the engine (`training.run_grid`, one compilation),
    and the update/modified-field Jacobians at x*."""
    sol = tr.run_grid(
        lambda eta: make(field, eta), np.asarray(etas), x0s, num_steps, save_every=save_every,
        x_star=x_star, tol=tol, blowup=blowup,
    )
    jac_u, jac_m = _cell_jacobians(make, field, scheme_name, jnp.asarray(etas), x_star)
    return sol, jac_u, jac_m


def convergence_atlas(
    games: tuple[str, ...] | None = None,
    stabilisers: tuple[str, ...] | None = None,
    schemes: tuple[str, ...] | None = None,
    etas: Any = None,
    *,
    num_seeds: int = 64,
    num_steps: int | None = None,
    radius: float = 0.1,
    tol: float = 1e-6,
    blowup: float = 1e4,
    key: Any = None,
    full: bool = False,
    verbose: bool = False,
) -> Atlas:
    r"""Runs the atlas and returns an `Atlas` (`.rows`, `.to_markdown()`, `.figure_data()`,
    `.plot()`).

    For every game × loss × stabiliser × scheme (combinations a stabiliser does not apply to —
    R1 on the data-free bilinear game — are listed in `skipped`) and every η in `etas`,
    `num_seeds` initial states $x^* + $ `radius`·N(0, I) are trained for `num_steps` steps.
    Each row holds

    - `frac_converged`: fraction within `tol` of x* at the end; `frac_diverged`: flagged
      `diverged` by the engine (non-finite or beyond `blowup`);
    - `rate_measured`: the median over seeds of exp(slope of log‖x_k − x*‖ against k), the
      empirical per-step factor (a diverged seed up to its last good state); `rate_band`: the
      tolerance on its logarithm within which it counts as 1 (`measured_verdicts`);
    - `rho_theory`: ρ(F′(x*)) of the actual update map (`jax.jacfwd` of one step), and
      `rate_rel_err` = |rate_measured − ρ| / ρ (nan when either is undefined);
    - `verdict`: the measurement's, one of `VERDICTS` — `converges` (every seed that did not
      diverge is within tol), `slow` (contracting, not yet within tol), `orbits` (rate 1 within
      `rate_band`), `diverges` (at least half the seeds diverged, or expanding) — see
      `measured_verdicts`;
    - `verdict_theory`: from ρ (`theory_verdicts`, ρ = 1 to `rho_precision`); `agree`: the two
      agree (`verdicts_agree`: `slow` agrees with ρ < 1; `orbits` also agrees with any ρ whose
      |log ρ| the run's budget cannot resolve);
    - `steps_to_tol`: n* = log(tol/d0)/log ρ for ρ < 1, d0 the largest initial distance: the
      budget that `converges` needs (`steps_to_tol`);
    - `max_re_eig_field`: max Re λ(J) of the stabilised field at x* (η-independent);
      `max_re_eig_modified`: the same for its first-order modified field b − (η/2)Jb
      (simultaneous, Cao–Guo eq. 13) or b + ηb1 (alternating, eq. 10); nan for other schemes.

    The default (4 games, 6 game × loss pairs, stabilisers none/R1/consensus/NK, schemes
    simultaneous/alternating/extragradient: 69 compiled cells, 5 η × 64 seeds × 600 steps each)
    is sized for < 3 minutes on 2 cores; `full=True` adds losses (nsgan), stabilisers (R2,
    instance noise in expectation, SGA, LSS), schemes (optimistic, alternating n_d = 5, CGD,
    unrolled-3), more learning rates and steps, and the finer quadratures of NK-2D and LQ.

    **Returns:** an `Atlas`.
    """
    t_start = time.perf_counter()
    all_games, all_stabs, all_schemes = _games(full), _stabilisers(full), _schemes(full)
    games = tuple(all_games) if games is None else tuple(games)
    stabilisers = tuple(all_stabs) if stabilisers is None else tuple(stabilisers)
    schemes = tuple(all_schemes) if schemes is None else tuple(schemes)
    for g in games:
        check_choice("game", g, tuple(all_games))
    for s in stabilisers:
        check_choice("stabiliser", s, tuple(all_stabs))
    for s in schemes:
        check_choice("scheme", s, tuple(all_schemes))
    if etas is None:
        etas = (0.03, 0.1, 0.3, 1.0, 2.0) if not full else (0.01, 0.03, 0.1, 0.2, 0.5, 1.0, 2.0)
    etas = np.asarray(etas, dtype=float)
    check_positive("etas", etas)
    num_seeds = check_int_at_least("num_seeds", num_seeds, 1)
    if num_steps is None:
        num_steps = 2000 if full else 600
    num_steps = check_int_at_least("num_steps", num_steps, 1)
    save_every = max(num_steps // 60, 1)
    num_steps = save_every * (num_steps // save_every)
    check_positive("radius", radius)
    check_positive("tol", tol)
    key = jax.random.key(0) if key is None else key

    from ..stabilisers import stabilise

    rows, cells, skipped = [], {}, []
    for gi, gname in enumerate(games):
        make_game, losses = all_games[gname]
        for loss in losses:
            game = make_game(loss)
            x_star = game.equilibrium()
            x0s = _seeds_near(x_star, jax.random.fold_in(key, gi), radius, num_seeds)
            star_leaves = jax.tree_util.tree_leaves(x_star)
            eps = float(jnp.finfo(jnp.result_type(*star_leaves, float)).eps)
            size_star = math.sqrt(sum(float(jnp.sum(jnp.square(a))) for a in star_leaves))
            # distances below this are round-off of ‖x − x*‖: left out of the rate fits
            floor = max(tol * 1e-3, 100 * eps * (1.0 + size_star))
            for sname in stabilisers:
                try:
                    field = stabilise(game, *all_stabs[sname](), population=True)
                    eig_field = np.linalg.eigvals(np.asarray(jacobian(field, x_star)))
                except ValueError as err:
                    for scheme in schemes:
                        skipped.append(
                            (gname, str(loss or "-"), sname, scheme, str(err).split("\n")[0])
                        )
                    continue
                for scheme in schemes:
                    t0 = time.perf_counter()
                    sol, jac_u, jac_m = _cell(
                        all_schemes[scheme],
                        field,
                        scheme,
                        jnp.asarray(etas),
                        x0s,
                        x_star,
                        num_steps,
                        save_every,
                        tol,
                        blowup,
                    )
                    cell = _analyse_cell(sol, jac_u, etas, save_every, tol, floor)
                    jac_m = np.asarray(jac_m)
                    for i, eta in enumerate(etas):
                        mod = (
                            float(np.max(np.linalg.eigvals(jac_m[i]).real))
                            if jac_m.shape[-1]
                            else float("nan")
                        )
                        row = {
                            "game": gname,
                            "loss": str(loss or "-"),
                            "stabiliser": sname,
                            "scheme": scheme,
                            "eta": float(eta),
                        }
                        for k, v in cell.items():
                            if k != "eta":
                                v = v[i]
                                row[k] = v if isinstance(v, str) else (
                                    bool(v) if k == "agree" else float(v))
                        row["max_re_eig_field"] = float(np.max(eig_field.real))
                        row["max_re_eig_modified"] = mod
                        rows.append(row)
                    cells[(gname, str(loss or "-"), sname, scheme)] = cell
                    if verbose:
                        print(f"{gname}/{loss}/{sname}/{scheme}: {time.perf_counter() - t0:.2f}s")
    config = {
        "games": games,
        "stabilisers": stabilisers,
        "schemes": schemes,
        "etas": etas.tolist(),
        "num_seeds": num_seeds,
        "num_steps": num_steps,
        "radius": radius,
        "tol": tol,
        "full": full,
        "seconds": time.perf_counter() - t_start,
    }
    return Atlas(rows=rows, cells=cells, config=config, skipped=skipped)


def _analyse_cell(sol, jac_u, etas, save_every, tol, floor) -> dict[str, np.ndarray]:
    """The measured and theoretical columns of one cell (arrays over η)."""
    ds, status = np.asarray(sol.distances), np.asarray(sol.status)
    ts = np.arange(ds.shape[-1]) * save_every
    jac_u = np.asarray(jac_u)
    rho = np.array([np.max(np.abs(np.linalg.eigvals(j.astype(np.float64)))) for j in jac_u])
    delta = np.array([rho_precision(j) for j in jac_u])
    defective = np.array([defective_on_unit_circle(j, d) for j, d in zip(jac_u, delta)])
    meas = measured_verdicts(ds, ts, status, np.asarray(sol.diverged_step), tol, delta, floor)
    theory = theory_verdicts(rho, delta, defective)
    with np.errstate(invalid="ignore"):
        rel = np.abs(meas["rate"] - rho) / rho
    return {
        "eta": np.asarray(etas),
        "frac_converged": (status == RESULTS.converged).mean(axis=1),
        "frac_diverged": (status == RESULTS.diverged).mean(axis=1),
        "rate_measured": meas["rate"],
        "rate_band": meas["band"],
        "rho_theory": rho,
        "rate_rel_err": rel,
        "verdict": meas["verdict"],
        "verdict_theory": theory,
        "agree": verdicts_agree(meas["verdict"], theory, rho, meas["band"]),
        "steps_to_tol": np.where(theory == "converges",
                                 steps_to_tol(rho, ds[:, :, 0].max(axis=1), tol), np.nan),
    }
