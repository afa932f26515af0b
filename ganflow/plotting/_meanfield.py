r"""Figures of the mean-field GAN (Wang–Hu–Lu 2019; survey §5.3.1): the concentration of the
simulation around the ODE, phase grids (linear theory, ODE, simulated seeds), and simulated
overlaps against the ODE's over time. They draw the summaries of `ganflow.meanfield`
(`concentration_summary`, `phase_verdicts`) as they are given."""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..meanfield import PHASES, feature_overlaps, representative_cells
from ._common import figure_and_axis, new_figure, save

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PHASE_COLOURS = {"success": "#2ca02c", "oscillation": "#ff7f0e", "mode_collapse": "#9467bd",
                 "failure": "#7f7f7f", "pursuit": "#1f77b4"}
"""The colour of each phase of `ganflow.meanfield.PHASES` in the mean-field figures."""


def mean_field_concentration(summary: Any, *, path: str | Path | None = None) -> "Figure":
    r"""The concentration error against n on log-log axes (Wang–Hu–Lu Theorem 1): the
    simulation's `error` ± `error_se` (error bars), the fitted line
    exp(`intercept`)·n^`concentration_slope` and the n^(−1/2) line through the points.

    **Arguments:** `summary`, an `xarray.Dataset` as `ganflow.meanfield.concentration_summary`
    returns (variables `error`, `error_se`, `concentration_slope`, `concentration_slope_ci`,
    `intercept` over the coordinate `n`; attr `t_max`); `path`: save as PNG.

    **Returns:** the Figure (one axis: the error bars first, then the two lines).
    """
    ns = summary.n.values.astype(float)
    err, se = summary.error.values, summary.error_se.values
    slope, b = float(summary.concentration_slope), float(summary.intercept)
    ci = summary.concentration_slope_ci.values
    fig, axes = new_figure(size=(6, 4.2))
    ax = axes[0, 0]
    ax.errorbar(ns, err, yerr=se, fmt="o", capsize=3, label="simulation (mean ± s.e. over seeds)")
    grid = np.geomspace(ns.min(), ns.max(), 50)
    ax.loglog(grid, np.exp(b) * grid**slope, "-",
              label=f"fit: slope {slope:.3f} [{ci[0]:.2f}, {ci[1]:.2f}]")
    c = np.exp(np.mean(np.log(err) + 0.5 * np.log(ns)))
    ax.loglog(grid, c * grid**-0.5, "k--", lw=1, label="n^(−1/2) (Wang–Hu–Lu Theorem 1)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n")
    ax.set_ylabel("max_k E‖M_k − M(k/n)‖_F")
    ax.set_title(f"Concentration around the mean-field ODE (t ≤ {int(summary.attrs['t_max'])})")
    ax.legend(fontsize=8)
    return save(fig, path)


def mean_field_phase_grid(phases: Any, eta_t: Sequence[float], eta_g: Sequence[float], *,
                          title: str = "", ax: "Axes | None" = None,
                          path: str | Path | None = None) -> "Figure":
    """A phase grid, rows η_T and columns η_G, one colour per phase (`PHASE_COLOURS`):
    `phases` holds phase names (`ganflow.meanfield.PHASES`), shape (a, b), or (seeds, a, b)
    with the seeds as vertical stripes within each cell. The image drawn is
    (a, b·seeds) of phase codes, seed s of cell (i, j) in column j·seeds + s."""
    from matplotlib.colors import ListedColormap

    fig, ax = figure_and_axis(ax, size=(4.0, 3.4))
    cmap = ListedColormap([PHASE_COLOURS[p] for p in PHASES])
    idx = {p: i for i, p in enumerate(PHASES)}
    c = np.vectorize(idx.__getitem__)(np.asarray(phases))
    if c.ndim == 2:
        c = c[None]
    S, A, B = c.shape
    img = np.zeros((A, B * S), int)
    for s in range(S):
        img[:, s::S] = c[s]
    ax.imshow(img, cmap=cmap, vmin=-0.5, vmax=len(PHASES) - 0.5, origin="lower",
              aspect="auto", extent=(-0.5, B - 0.5, -0.5, A - 0.5), interpolation="nearest")
    for x in np.arange(B - 1) + 0.5:
        ax.axvline(x, color="white", lw=1.5)
    for y in np.arange(A - 1) + 0.5:
        ax.axhline(y, color="white", lw=1.5)
    ax.set_xticks(range(B), [f"{x:g}" for x in eta_g], fontsize=7)
    ax.set_yticks(range(A), [f"{x:g}" for x in eta_t], fontsize=7)
    ax.set_xlabel("η_G")
    ax.set_ylabel("η_T")
    ax.set_title(title, fontsize=9)
    return save(fig, path)


def mean_field_phases(verdicts: Any, *, path: str | Path | None = None) -> "Figure":
    """The phase grids of `ganflow.meanfield.phase_verdicts`: one row per τ, columns linear
    theory, ODE and simulation (seeds as stripes; `mean_field_phase_grid`), a legend of the
    phases. `verdicts`: the `xarray.Dataset` (variables `theory_phase`, `ode_phase`,
    `simulation_phase`; attrs `d`, `n`, `strengths`, `t_max`); `path`: save as PNG."""
    from matplotlib.patches import Patch

    v = verdicts
    d = int(v.attrs["d"])
    taus = v.tau.values
    fig, axes = new_figure(len(taus), 3, size=(11, 3.3 * len(taus) + 0.6))
    et, eg = v.eta_t.values, v.eta_g.values
    for i, tau in enumerate(taus):
        mean_field_phase_grid(v.theory_phase.values[i], et, eg,
                              title=f"linear theory, τ = {tau:g}", ax=axes[i, 0])
        mean_field_phase_grid(v.ode_phase.values[i], et, eg, title=f"ODE, τ = {tau:g}",
                              ax=axes[i, 1])
        mean_field_phase_grid(v.simulation_phase.values[:, i], et, eg, ax=axes[i, 2],
                              title=f"simulation n = {int(v.attrs['n'])} "
                                    f"({v.sizes['seed']} seeds as stripes)")
    handles = [Patch(color=PHASE_COLOURS[p], label=p.replace("_", " ")) for p in PHASES]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(PHASES), fontsize=8)
    lam = ", ".join(f"{x:g}" for x in v.attrs["strengths"])
    fig.suptitle(f"Phases of the mean-field GAN, d = {d} (λ = {lam}), t ≤ {int(v.attrs['t_max'])}")
    return save(fig, path, dpi=100)


def mean_field_trajectories(verdicts: Mapping[int, Any], simulations: Mapping[int, Any], *,
                            path: str | Path | None = None) -> "Figure":
    """Simulated overlaps against the ODE's over time, one row per number of features d and
    one panel per ODE phase (the cell of `ganflow.meanfield.representative_cells`): for each
    feature f, each seed's best overlap max_ℓ|P_fℓ| (thin), the ODE's (dashed) and the ODE's
    |q_f| (dotted).

    **Arguments:** `verdicts`: d → `phase_verdicts` dataset (`ode_M`, the phases, coordinates
    `step`, `tau`, `eta_t`, `eta_g`); `simulations`: d → the simulated M, an `xarray.DataArray`
    (seed, tau, eta_t, eta_g, step, m, m); `path`: save as PNG.
    """
    picks = {d: representative_cells(v) for d, v in verdicts.items()}
    cols = max(len(p) for p in picks.values())
    fig, axes = new_figure(len(picks), cols, size=(3.6 * cols, 3.0 * len(picks)))
    for r, (d, chosen) in enumerate(picks.items()):
        v, M = verdicts[d], simulations[d]
        t = v.step.values
        for c, (p, i, a, b) in enumerate(chosen):
            ax = axes[r, c]
            sim = np.asarray(M.isel(tau=i, eta_t=a, eta_g=b).values, np.float64)  # (seed, T, m, m)
            ode = v.ode_M.values[i, a, b]
            for f in range(d):
                colour = f"C{f}"
                best_sim = np.asarray(feature_overlaps(sim))[..., f]
                for s in range(best_sim.shape[0]):
                    ax.plot(t, best_sim[s], color=colour, lw=0.8, alpha=0.6)
                ax.plot(t, np.asarray(feature_overlaps(ode))[:, f], color=colour, ls="--",
                        lw=2, label=f"max_ℓ|P_{f + 1}ℓ|")
                ax.plot(t, np.abs(ode[:, f, 2 * d]), color=colour, ls=":", lw=1.5,
                        label=f"|q_{f + 1}| (ODE)")
            ax.set_ylim(-0.02, 1.02)
            ax.set_title(f"d = {d}: {p.replace('_', ' ')}\nτ = {float(v.tau[i]):g}, "
                         f"η_T = {float(v.eta_t[a]):g}, η_G = {float(v.eta_g[b]):g}", fontsize=9)
            ax.set_xlabel("t = k/n")
            if c == 0:
                ax.set_ylabel("overlap (thin: simulated seeds;\ndashed: ODE)", fontsize=8)
            ax.legend(fontsize=7, loc="best")
        for c in range(len(chosen), cols):
            axes[r, c].axis("off")
    fig.suptitle("M(t): simulation against the mean-field ODE", fontsize=11)
    return save(fig, path, dpi=100)
