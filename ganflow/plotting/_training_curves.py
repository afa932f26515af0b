"""Figures of GAN training curves over seeds and of the per-layer learning-rate check of
Mounjid & Guo 2021 (§3, §4 Figs. 3–5). They draw the labelled results they are given (`xarray`,
as `ganflow.engine.run_ensemble` writes them); nothing is computed but means and standard
deviations over seeds."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._common import COLOURS, new_figure, outside_legend, save

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def seed_band(ax: "Axes", x: Any, values: Any, colour: str, label: str) -> None:
    """Draws the mean over seeds (axis 0 of `values`, shape (seeds, len(x))) against `x` with a
    band of ± one standard deviation (NaN-aware) into `ax`."""
    values = np.asarray(values, np.float64)
    mean = np.nanmean(values, axis=0)
    sd = np.nanstd(values, axis=0)
    ax.plot(x, mean, color=colour, lw=1.4, label=label)
    ax.fill_between(x, mean - sd, mean + sd, color=colour, alpha=0.18, lw=0)


def seed_band_panels(ds: Any, var: str, panel_dim: str, line_dim: str, *, ylabel: str,
                     hline: float | None = None, hline_label: str = "reference",
                     logy: bool = False, titles: list[str] | None = None,
                     path: str | Path | None = None) -> "Figure":
    """One panel per value of `panel_dim`, in it one `seed_band` per value of `line_dim`: the
    variable `var` of `ds` (dims seed, `panel_dim`, `line_dim`, step) against the step, e.g.
    the discriminator's test accuracy of SGD and LSGD over the base rates (Mounjid–Guo
    Figs. 3, 4). `hline`: a dashed reference level (½ for the accuracy), named `hline_label`
    in the legend; `titles`: one per panel (default `"<panel_dim> = <value>"`). One legend
    below the panels (the curves are the same in each), outside the data."""
    panels = list(ds[panel_dim].values)
    fig, axes = new_figure(1, len(panels), size=(4.8 * len(panels), 4.4))
    steps = ds["step"].values.astype(np.float64)
    for j, pv in enumerate(panels):
        ax = axes[0, j]
        for i, lv in enumerate(ds[line_dim].values):
            vals = ds[var].sel({panel_dim: pv, line_dim: lv}).transpose("seed", "step").values
            seed_band(ax, steps, vals, COLOURS[i % len(COLOURS)], f"{line_dim} = {lv:g}"
                      if not isinstance(lv, str) else f"{line_dim} = {lv}")
        if hline is not None:
            ax.axhline(hline, color="0.4", lw=0.8, ls="--", label=hline_label)
        if logy:
            ax.set_yscale("log")
        ax.set_title(titles[j] if titles else f"{panel_dim} = {pv}")
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 5),
               fontsize=9, frameon=False)
    return save(fig, path)


def batch_size_accuracy(ds: Any, n_train: int, *, title: str = "",
                        path: str | Path | None = None) -> "Figure":
    """The discriminator's test accuracy (`ds["accuracy"]`, dims seed, batch_size, step) per
    batch size B, against the step (left) and the epoch = step · B / `n_train` (right, log
    scale): Mounjid–Guo Fig. 5. `title`: the left panel's title."""
    fig, axes = new_figure(1, 2, size=(9.6, 4.4))
    steps = ds["step"].values.astype(np.float64)
    for i, b in enumerate(ds["batch_size"].values):
        vals = ds["accuracy"].sel(batch_size=b).transpose("seed", "step").values
        for j, x in enumerate((steps, steps * float(b) / n_train)):
            seed_band(axes[0, j], x, vals, COLOURS[i % len(COLOURS)], f"B = {int(b)}")
    for j, lab in enumerate(("step", "epoch")):
        axes[0, j].axhline(0.5, color="0.4", lw=0.8, ls="--", label="chance level ½")
        axes[0, j].set_xlabel(lab)
        axes[0, j].set_ylabel("discriminator test accuracy")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 6),
               fontsize=9, frameon=False)
    axes[0, 1].set_xscale("log")
    axes[0, 0].set_title(title)
    axes[0, 1].set_title("per epoch (log scale)")
    return save(fig, path)


def layer_descent_figure(summary: Any, ds: Any, layer: str | None = None, *,
                         path: str | Path | None = None) -> "Figure":
    """Mounjid–Guo §3 (eq. 11) per layer. Left: the measured growth factor per step of the top
    mode (`summary["top_rate"]`, median over the seeds with positive curvature) against
    η / (2/a), per layer, beside the quadratic's |1 − ηa| = |1 − 2·factor|. Right: for `layer`,
    ‖∇ℓ‖ / ‖∇ℓ‖ at the start of seed 0 over the gradient-descent steps, one line per factor
    (`ds["grad_norm"]`, dims seed, layer, factor, step); by default the layer whose top mode
    follows eq. 11 best (the largest fraction of (seed, factor) cells of the seeds with positive
    curvature where `unstable` equals `predicted`; the last on ties). `summary` is a
    `ganflow.analysis.layer_descent_summary` of `ds`."""
    factors = np.asarray([float(f) for f in summary["factor"].values])
    if layer is None:
        def agreement(name):
            cell = summary.sel(layer=name)
            pos = cell["positive"].isel(factor=0).values.astype(bool)
            same = cell["unstable"].values.astype(bool) == cell["predicted"].values.astype(bool)
            return float(np.mean(same[pos])) if pos.any() else -1.0

        names = list(summary["layer"].values)
        layer = names[max(range(len(names)), key=lambda i: (agreement(names[i]), i))]
    fig, axes = new_figure(1, 2, size=(11.5, 4.0))
    ax = axes[0, 0]
    for i, name in enumerate(summary["layer"].values):
        cell = summary.sel(layer=name)
        pos = cell["positive"].isel(factor=0).values.astype(bool)
        if not pos.any():
            continue
        ax.plot(factors, np.nanmedian(cell["top_rate"].values[pos], axis=0), marker="o",
                color=COLOURS[i % len(COLOURS)], label=str(name))
    fine = np.linspace(factors.min(), factors.max(), 200)
    ax.plot(fine, np.abs(1 - 2 * fine), color="0.2", lw=0.9, ls=":", label="|1 − ηa|")
    ax.axvline(1.0, color="0.4", lw=0.8, ls="--", label="η = 2/a (eq. 11 threshold)")
    ax.axhline(1.0, color="0.6", lw=0.8, ls="-.", label="growth 1 per step")
    ax.set_xlabel("η / (2/a)")
    ax.set_ylabel("growth per step of the top mode")
    ax.set_title("eq. 11 on each layer (median over seeds)")
    outside_legend(ax)
    ax = axes[0, 1]
    steps = ds["step"].values
    for k, f in enumerate(factors):
        gn = ds["grad_norm"].sel(layer=layer, factor=f).transpose("seed", "step").values
        ax.plot(steps, gn[0] / gn[0, 0], color=COLOURS[k % len(COLOURS)], label=f"{f:g}·2/a")
    ax.set_yscale("log")
    ax.set_xlabel("gradient-descent step")
    ax.set_ylabel("‖∇ℓ‖ / ‖∇ℓ‖ at start (seed 0)")
    ax.set_title(f"layer {layer}")
    outside_legend(ax, title="η")
    return save(fig, path)
