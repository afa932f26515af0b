"""Shared helpers of the figure functions: figures without pyplot, saving, flattening states.

matplotlib is imported inside the functions, never at module level, so that `import ganflow`
(and even `import ganflow.plotting`) does not import it.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import numpy as np
from jax.flatten_util import ravel_pytree

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# A colour-blind-safe cycle (Okabe–Ito), used in the same order by every figure.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def new_figure(nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] | None = None,
               **subplot_kw: Any) -> tuple["Figure", np.ndarray]:
    """A Figure with an Agg canvas (no pyplot, no global state) and its axes as a 2-D array."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if size is None:
        size = (4.6 * ncols, 4.2 * nrows)
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, subplot_kw=subplot_kw or None)
    return fig, axes


def figure_and_axis(ax: "Axes | None", size: tuple[float, float] = (5.0, 4.6)):
    """`(fig, ax)`: the given axis and its figure, or a new one-axis figure."""
    if ax is not None:
        return ax.figure, ax
    fig, axes = new_figure(size=size)
    return fig, axes[0, 0]


def save(fig: "Figure", path: str | Path | None, dpi: int = 110) -> "Figure":
    """Writes `fig` as PNG to `path` (parent folders created) when `path` is given; returns it."""
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi, format="png")
    return fig


def flat_path(states: Any) -> np.ndarray:
    """A trajectory as a (T, d) float array: an array of shape (T, d) is taken as it is; a pytree
    of states (leaves with a leading time axis T) is flattened in ganflow's flat order (θ first,
    `jax.flatten_util.ravel_pytree`)."""
    leaves = jax.tree_util.tree_leaves(states)
    if len(leaves) == 1 and np.ndim(leaves[0]) == 2 and not isinstance(states, tuple):
        return np.asarray(leaves[0], dtype=float)
    if not leaves:
        raise ValueError("empty trajectory")
    lengths = {np.shape(a)[0] if np.ndim(a) else None for a in leaves}
    if len(lengths) != 1 or None in lengths:
        raise ValueError(
            f"every leaf of a trajectory needs the same leading time axis; got {lengths}"
        )
    flat = jax.vmap(lambda x: ravel_pytree(x)[0])(states)
    return np.asarray(flat, dtype=float)


def as_mapping(data: Any, default_label: str) -> dict[str, Any]:
    """A mapping label → data; a bare datum becomes `{default_label: data}`."""
    if isinstance(data, Mapping):
        return dict(data)
    return {default_label: data}


def diverged_rows(members: Any) -> np.ndarray:
    """Indices of the rows of a (members, T) array that end in NaN after a finite value: members
    the engine froze after a divergence, masked by `ganflow.analysis.mask_diverged`."""
    m = np.atleast_2d(np.asarray(members, dtype=float))
    finite = np.isfinite(m)
    return np.flatnonzero(finite.any(axis=1) & ~finite[:, -1])


def mark_diverged(ax: "Axes", x: Any, members: Any, colour: str, *, log: bool = False) -> int:
    """Marks with a cross, in `colour`, the last finite point of every member of a (members, T)
    array (`x`: the T abscissae) whose series ends in NaN (`diverged_rows`), so that a member
    frozen after a divergence is seen to stop, not drawn as a flat line. Returns how many."""
    m = np.atleast_2d(np.asarray(members, dtype=float))
    rows = diverged_rows(m)
    x = np.asarray(x)
    for r in rows:
        last = np.flatnonzero(np.isfinite(m[r]))[-1]
        y = max(m[r, last], 1e-300) if log else m[r, last]
        ax.plot([x[last]], [y], marker="x", markersize=9, markeredgewidth=2, color=colour,
                linestyle="none", zorder=5)
    return len(rows)


def diverged_legend_entry(ax: "Axes") -> None:
    """Adds the legend entry of `mark_diverged`'s crosses to `ax` (call before `ax.legend`)."""
    ax.plot([], [], marker="x", markersize=9, markeredgewidth=2, color="#555555",
            linestyle="none", label="member diverged (its last good state)")


def outside_legend(ax: "Axes", *, fontsize: int = 8, **kwargs: Any) -> None:
    """The legend of `ax` to the right of it, outside the plotting area, so that it hides no
    data (the constrained layout makes room for it)."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
              fontsize=fontsize, framealpha=0.85, **kwargs)
