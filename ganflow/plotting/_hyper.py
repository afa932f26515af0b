r"""Hyper-parameter searches drawn over their objective: a grid search's values as a map over
(η, weight) in log coordinates, a gradient search's path on top, and a known optimum."""

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._common import new_figure, save

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def hyper_search_map(
    grids: Mapping[str, tuple[Any, Any, Any]],
    paths: Mapping[str, tuple[Any, Any]],
    *,
    optima: Mapping[str, tuple[float, float]] | None = None,
    value_label: str = "objective",
    weight_labels: Mapping[str, str] | None = None,
    title: str | None = None,
    path: str | Path | None = None,
) -> "Figure":
    r"""One panel per entry of `grids`: the grid search's objective as a colour map over
    (η, w) on log axes (log colour scale; a non-finite value — a diverged run — is left blank),
    the gradient search's path from `paths` (start ○, end ●), the grid's best point (■) and,
    from `optima`, a known optimum (★).

    - `grids`: name → (η, w, value), each (n,) over a square log grid (`grid_points` order);
    - `paths`: name → (η, w) along the gradient search, each (T,);
    - `optima`: name → (η*, w*) (optional);
    - `value_label`: the colour bar's label; `weight_labels`: name → the weight's symbol;
    - `path`: where to save the PNG (optional). Returns the figure.
    """
    from matplotlib.colors import LogNorm

    names = list(grids)
    fig, axes = new_figure(1, len(names), size=(5.2 * len(names), 4.4))
    axes = axes.ravel()
    for ax, name in zip(axes, names):
        eta, w, val = (np.asarray(a, float) for a in grids[name])
        n = int(round(np.sqrt(eta.size)))
        if n * n != eta.size:
            raise ValueError(f"{name}: the grid must be square, got {eta.size} points")
        v = np.where(np.isfinite(val) & (val > 0), val, np.nan).reshape(n, n)
        finite = v[np.isfinite(v)]
        norm = LogNorm(finite.min(), finite.max()) if finite.size and finite.max() > \
            finite.min() else None
        mesh = ax.pcolormesh(eta.reshape(n, n), w.reshape(n, n), v, shading="nearest",
                             cmap="viridis", norm=norm)
        fig.colorbar(mesh, ax=ax, label=value_label)
        pe, pw = (np.asarray(a, float) for a in paths[name])
        ax.plot(pe, pw, "-", color="white", lw=1.6, label="gradient search")
        ax.plot(pe[:1], pw[:1], "o", mfc="none", mec="white", ms=8, label="start")
        ax.plot(pe[-1:], pw[-1:], "o", color="white", ms=7, label="gradient's last point")
        if finite.size:
            i = int(np.nanargmin(np.where(np.isfinite(val), val, np.nan)))
            ax.plot(eta[i], w[i], "s", color="tab:red", ms=7, label="grid's best")
        if optima and name in optima:
            ax.plot(*optima[name], "*", color="gold", mec="black", ms=14,
                    label="closed-form optimum")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("η")
        ax.set_ylabel((weight_labels or {}).get(name, "weight"))
        ax.set_title(name)
        ax.legend(fontsize=8, loc="lower left", framealpha=0.8)
    if title:
        fig.suptitle(title)
    return save(fig, path)
