r"""The convergence-atlas figure: the fraction of seeds that converged over (method × learning
rate), one heatmap per game."""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from jaxtyping import ArrayLike, Float

from ._common import new_figure, save

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def atlas_heatmap(
    panels: Mapping[str, tuple[Sequence[str], Sequence[float], Float[ArrayLike, "m e"]]],
    *,
    annotate: bool = True,
    title: str | None = None,
    path: str | Path | None = None,
) -> "Figure":
    r"""Heatmaps of the fraction of seeds converged, one panel per game.

    - `panels`: game → `(methods, etas, fractions)` with `fractions` of shape
      (len(methods), len(etas)) in [0, 1] (NaN for cells not run, drawn hatched);
    - `annotate`: write each fraction in its cell.

    Rows are methods (loss × stabiliser × scheme), columns learning rates; one colour scale,
    0 (white–red: no seed converged) to 1 (green: every seed converged).

    ```python
    atlas_heatmap({"Dirac-GAN": (["sim", "alt"], [0.01, 0.1], [[0, 0], [0.5, 1]])})
    ```
    """
    if not panels:
        raise ValueError("atlas_heatmap needs at least one panel")
    checked = {}
    for game, panel in panels.items():
        if len(panel) != 3:
            raise ValueError(f"panel {game!r} must be (methods, etas, fractions)")
        methods, etas, frac = panel
        frac = np.asarray(frac, dtype=float)
        if frac.shape != (len(methods), len(etas)):
            raise ValueError(f"panel {game!r}: fractions have shape {frac.shape}, expected "
                             f"({len(methods)}, {len(etas)}) = (methods, etas)")
        checked[game] = ([str(m) for m in methods], [float(e) for e in etas], frac)
    n = len(checked)
    ncols = 1 if n == 1 else 2  # panels side by side, two per row
    nrows = -(-n // ncols)
    rows = max(len(m) for m, _, _ in checked.values())
    cols = max(len(e) for _, e, _ in checked.values())
    width = min(4.0 + 0.55 * cols, 11.0)
    height = 1.2 + 0.32 * rows
    fig, axes = new_figure(nrows, ncols, size=(width * ncols + 0.8, height * nrows + 0.4))
    flat_axes = axes.ravel()
    for ax in flat_axes[n:]:
        ax.set_visible(False)
    image = None
    for ax, (game, (methods, etas, frac)) in zip(flat_axes, checked.items()):
        masked = np.ma.masked_invalid(frac)
        image = ax.imshow(masked, cmap="RdYlGn", vmin=0.0, vmax=1.0, aspect="auto",
                          interpolation="nearest")
        ax.set_facecolor("0.85")
        ax.set_xticks(range(len(etas)), [f"{e:g}" for e in etas], fontsize=7)
        ax.set_yticks(range(len(methods)), methods, fontsize=7)
        ax.set_xlabel("learning rate η")
        ax.set_title(game)
        if annotate:
            for (r, c), v in np.ndenumerate(frac):
                text = "–" if not np.isfinite(v) else f"{v:.2f}".rstrip("0").rstrip(".")
                ax.text(c, r, text, ha="center", va="center", fontsize=6,
                        color="k" if not np.isfinite(v) or 0.25 < v < 0.8 else "w")
    fig.colorbar(image, ax=flat_axes[:n].tolist(), label="fraction converged", shrink=0.9)
    if title:
        fig.suptitle(title)
    return save(fig, path)
