r"""Generated samples over training, one row per method and one column per save point
(Nagarajan–Kolter 2017, Fig. 1)."""

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from jaxtyping import ArrayLike, Float

from ._common import COLOURS, new_figure, save

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def mog_sample_grid(
    samples: Float[ArrayLike, "methods steps n 2"],
    steps: Sequence[int],
    methods: Sequence[str],
    means: Float[ArrayLike, "modes 2"] | None = None,
    *,
    bounds: tuple[tuple[float, float], tuple[float, float]] | None = None,
    marker_size: float = 2.0,
    title: str | None = None,
    path: str | Path | None = None,
) -> "Figure":
    r"""Generator samples over training, per method: rows are methods, columns the save points,
    with the mixture means marked — the layout of Nagarajan–Kolter 2017, Fig. 1 (their
    gradient-regularised GAN against a 10-unrolled GAN on the mixture of eight Gaussians of
    Metz et al. 2017) for any set of methods.

    **Arguments:**

    - `samples`: shape (methods, steps, n, 2): n generated points per method and save point
      (e.g. `G(z)` for a fixed batch z; NaN points, of a diverged run, are not drawn);
    - `steps`: the training step of each save point (column titles); `methods`: row labels;
    - `means`: (modes, 2) mixture means, marked × in every panel
      (e.g. `ganflow.games.MixtureOfGaussians("ring").modes`);
    - `bounds`: ((x_min, x_max), (y_min, y_max)); by default the means with a margin of a
      quarter of their spread (points far outside are not shown), else the samples' 1–99 %
      quantiles;
    - `marker_size`: scatter point size; `path`: save the figure as PNG.

    Every panel has the same window and equal aspect. Below each panel the number of points
    drawn outside the window is written when there are any.

    **Returns:** the `matplotlib.figure.Figure`.

    ```python
    mog_sample_grid(samples, steps=[0, 2000, 10000], methods=["GAN", "NK λ = 0.5"],
                    means=game.modes, path="mog.png")
    ```
    """
    arr = np.asarray(samples, dtype=float)
    if arr.ndim != 4 or arr.shape[-1] != 2:
        raise ValueError(f"samples must have shape (methods, steps, n, 2), got {arr.shape}")
    m, s = arr.shape[:2]
    steps, methods = list(steps), [str(k) for k in methods]
    if len(steps) != s:
        raise ValueError(f"{len(steps)} steps for {s} save points in samples")
    if len(methods) != m:
        raise ValueError(f"{len(methods)} method names for {m} methods in samples")
    mus = None
    if means is not None:
        mus = np.asarray(means, dtype=float)
        if mus.ndim != 2 or mus.shape[1] != 2:
            raise ValueError(f"means must have shape (modes, 2), got {mus.shape}")
    if bounds is None:
        if mus is not None:
            lo, hi = mus.min(axis=0), mus.max(axis=0)
            spread = float(np.max(hi - lo))
            margin = 0.25 * spread if spread > 0 else 1.0
        else:
            finite = arr.reshape(-1, 2)
            finite = finite[np.all(np.isfinite(finite), axis=1)]
            if finite.size == 0:
                raise ValueError("no finite sample to draw and no means to frame the window")
            lo, hi = np.quantile(finite, 0.01, axis=0), np.quantile(finite, 0.99, axis=0)
            margin = 0.1 * max(float(np.max(hi - lo)), 1e-3)
        centre, half = (lo + hi) / 2, float(np.max(hi - lo)) / 2 + margin
        bounds = tuple((float(c - half), float(c + half)) for c in centre)
    (x0, x1), (y0, y1) = bounds
    fig, axes = new_figure(m, s, size=(2.2 * s + 0.9, 2.3 * m + 0.6))
    for i in range(m):
        for j in range(s):
            ax = axes[i, j]
            pts = arr[i, j]
            pts = pts[np.all(np.isfinite(pts), axis=1)]
            ax.scatter(pts[:, 0], pts[:, 1], s=marker_size, color=COLOURS[0], alpha=0.6,
                       linewidths=0, zorder=2, rasterized=True)
            if mus is not None:
                ax.plot(mus[:, 0], mus[:, 1], "x", color=COLOURS[1], ms=5, mew=1.5, zorder=3,
                        label="mixture means")
            outside = int(np.sum((pts[:, 0] < x0) | (pts[:, 0] > x1) | (pts[:, 1] < y0)
                                 | (pts[:, 1] > y1)))
            dropped = arr.shape[2] - len(pts)
            note = [f"{outside} outside"] if outside else []
            note += [f"{dropped} non-finite"] if dropped else []
            if note:
                ax.text(0.02, 0.02, ", ".join(note), transform=ax.transAxes, fontsize=6,
                        color="0.3", va="bottom")
            ax.set_xlim(x0, x1)
            ax.set_ylim(y0, y1)
            ax.set_aspect("equal", adjustable="box")
            ax.tick_params(labelsize=6)
            if i == 0:
                ax.set_title(f"step {steps[j]}", fontsize=10)
            if j == 0:
                ax.set_ylabel(methods[i], fontsize=10)
            if i < m - 1:
                ax.set_xticklabels([])
            if j > 0:
                ax.set_yticklabels([])
    if mus is not None:
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center",
                   fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    return save(fig, path)
