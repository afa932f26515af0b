r"""The convergence-atlas figure: one heatmap per game over (method × learning rate), showing
the measured verdict of every cell (converges / slow / orbits / diverges) or, without verdicts,
the fraction of seeds that converged."""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from jaxtyping import ArrayLike, Float

from ._common import new_figure, save

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

# ganflow's verdict vocabulary (`ganflow.analysis.VERDICTS`, best to worst): colour (Okabe–Ito)
# and the short label written in the cell
VERDICT_STYLE = {
    "converges": ("#009E73", "conv"),
    "slow": ("#F0E442", "slow"),
    "orbits": ("#56B4E9", "orbit"),
    "diverges": ("#D55E00", "div"),
}


def _check_panel(game: str, panel: Sequence[Any]) -> tuple:
    if len(panel) not in (3, 4, 5):
        raise ValueError(f"panel {game!r} must be (methods, etas, fractions[, verdicts[, agree]])")
    methods, etas, frac = panel[:3]
    shape = (len(methods), len(etas))
    frac = np.asarray(frac, dtype=float)
    if frac.shape != shape:
        raise ValueError(f"panel {game!r}: fractions have shape {frac.shape}, expected "
                         f"({len(methods)}, {len(etas)}) = (methods, etas)")
    verdicts = agree = None
    if len(panel) >= 4:
        verdicts = np.asarray(panel[3], dtype=object)
        if verdicts.shape != shape:
            raise ValueError(f"panel {game!r}: verdicts have shape {verdicts.shape}, expected "
                             f"{shape} = (methods, etas)")
        bad = {str(v) for v in verdicts.ravel() if v is not None and v != ""} - set(VERDICT_STYLE)
        if bad:
            raise ValueError(f"panel {game!r}: unknown verdicts {sorted(bad)}; expected some of "
                             f"{list(VERDICT_STYLE)} (or '' for a cell not run)")
    if len(panel) == 5:
        agree = np.asarray(panel[4], dtype=bool)
        if agree.shape != shape:
            raise ValueError(f"panel {game!r}: agree has shape {agree.shape}, expected {shape}")
    return [str(m) for m in methods], [float(e) for e in etas], frac, verdicts, agree


def atlas_heatmap(
    panels: Mapping[str, tuple[Sequence[str], Sequence[float], Float[ArrayLike, "m e"]]
                    | tuple[Sequence[str], Sequence[float], Float[ArrayLike, "m e"], Any]
                    | tuple[Sequence[str], Sequence[float], Float[ArrayLike, "m e"], Any, Any]],
    *,
    annotate: bool = True,
    title: str | None = None,
    path: str | Path | None = None,
) -> "Figure":
    r"""Heatmaps of the convergence atlas, one panel per game; rows are methods
    (loss/stabiliser/scheme), columns learning rates.

    **Arguments:**

    - `panels`: game → `(methods, etas, fractions[, verdicts[, agree]])`, each array of shape
      (len(methods), len(etas)):
      - `fractions` in [0, 1]: the fraction of seeds converged (NaN: a cell not run, drawn grey);
      - `verdicts` (optional): the measured verdict of each cell, one of "converges", "slow",
        "orbits", "diverges" ("" or None: not run), as `ganflow.analysis.Atlas` computes
        them (`Atlas.heatmap_panels()`). With verdicts, the colour is the verdict (green:
        converges, yellow: slow — contracting, not yet within tol —, blue: orbits, vermillion:
        diverges) and the cell says it in a word; without, the colour is the fraction
        converged, 0 (red) to 1 (green), and the cell gives it;
      - `agree` (optional, with verdicts): whether the measured verdict agrees with the theory's
        (from ρ(F′(x*))); a cell where it does not is marked "*".
    - `annotate`: write the verdict (or fraction) in each cell;
    - `title`, `path`: a title above the panels; save as PNG there.

    **Returns:** the `matplotlib.figure.Figure`.

    ```python
    atlas_heatmap({"Dirac-GAN": (["sim", "alt"], [0.01, 0.1], [[0, 0], [0.5, 1]],
                                 [["diverges", "diverges"], ["slow", "converges"]])})
    ```
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    if not panels:
        raise ValueError("atlas_heatmap needs at least one panel")
    checked = {game: _check_panel(game, panel) for game, panel in panels.items()}
    with_verdicts = [v is not None for *_, v, _ in checked.values()]
    if any(with_verdicts) and not all(with_verdicts):
        raise ValueError("give verdicts for every panel or for none")
    with_verdicts = all(with_verdicts)
    n = len(checked)
    ncols = 1 if n == 1 else 2  # panels side by side, two per row
    nrows = -(-n // ncols)
    rows = max(len(m) for m, *_ in checked.values())
    cols = max(len(e) for _, e, *_ in checked.values())
    width = min(4.0 + 0.55 * cols, 11.0)
    height = 1.2 + 0.32 * rows
    fig, axes = new_figure(nrows, ncols, size=(width * ncols + 0.8, height * nrows + 0.4))
    flat_axes = axes.ravel()
    for ax in flat_axes[n:]:
        ax.set_visible(False)
    names = list(VERDICT_STYLE)
    image = None
    disagree_any = False
    for ax, (game, (methods, etas, frac, verdicts, agree)) in zip(flat_axes, checked.items()):
        if with_verdicts:
            codes = np.array([[names.index(v) if v in VERDICT_STYLE else np.nan for v in row]
                              for row in verdicts], dtype=float).reshape(frac.shape)
            cmap = ListedColormap([c for c, _ in VERDICT_STYLE.values()])
            image = ax.imshow(np.ma.masked_invalid(codes), cmap=cmap, vmin=-0.5,
                              vmax=len(names) - 0.5, aspect="auto", interpolation="nearest")
        else:
            image = ax.imshow(np.ma.masked_invalid(frac), cmap="RdYlGn", vmin=0.0, vmax=1.0,
                              aspect="auto", interpolation="nearest")
        ax.set_facecolor("0.85")
        ax.set_xticks(range(len(etas)), [f"{e:g}" for e in etas], fontsize=7)
        ax.set_yticks(range(len(methods)), methods, fontsize=7)
        ax.set_xlabel("learning rate η")
        ax.set_title(game)
        if not annotate:
            continue
        for (r, c), v in np.ndenumerate(frac):
            if with_verdicts:
                verdict = verdicts[r, c]
                text = VERDICT_STYLE[verdict][1] if verdict in VERDICT_STYLE else "–"
                if agree is not None and verdict in VERDICT_STYLE and not agree[r, c]:
                    text += "*"
                    disagree_any = True
                ax.text(c, r, text, ha="center", va="center", fontsize=6, color="k")
            else:
                text = "–" if not np.isfinite(v) else f"{v:.2f}".rstrip("0").rstrip(".")
                ax.text(c, r, text, ha="center", va="center", fontsize=6,
                        color="k" if not np.isfinite(v) or 0.25 < v < 0.8 else "w")
    if with_verdicts:
        handles = [Patch(facecolor=c, edgecolor="0.3", label=v)
                   for v, (c, _) in VERDICT_STYLE.items()]
        if disagree_any:
            handles.append(Patch(facecolor="none", edgecolor="none",
                                 label="* disagrees with ρ(F′(x*))"))
        fig.legend(handles=handles, loc="outside right upper", fontsize=7, title="measured",
                   title_fontsize=7)
    else:
        fig.colorbar(image, ax=flat_axes[:n].tolist(), label="fraction converged", shrink=0.9)
    if title:
        fig.suptitle(title)
    return save(fig, path)
