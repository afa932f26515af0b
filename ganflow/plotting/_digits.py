r"""Figures of image GANs over training: samples of fixed latents per method and save point
(the layout of Nagarajan–Kolter 2017 Fig. 2), and mode coverage and KL(p̂ ‖ uniform) curves (the
stacked-MNIST protocol of VEEGAN and PacGAN; `ganflow.games.StackedDigits`)."""

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._bands import ensemble_band
from ._common import new_figure, save

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def tile_images(images: Any, cols: int = 2) -> np.ndarray:
    """(n, h, w) images as one (rows·(h + 1) − 1, cols·(w + 1) − 1) image, `cols` per row in
    reading order, with 1-pixel gaps of NaN between them (and NaN for empty places)."""
    images = np.asarray(images, float)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, h, w), got {images.shape}")
    n, h, w = images.shape
    rows = -(-n // cols)
    canvas = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan)
    for i in range(n):
        r, c = divmod(i, cols)
        canvas[r * (h + 1): r * (h + 1) + h, c * (w + 1): c * (w + 1) + w] = images[i]
    return canvas


def samples_over_training(samples: Any, columns: Sequence[int] | None = None, *,
                          by: str = "variant", title: str | None = None,
                          path: str | Path | None = None) -> "Figure":
    """Samples of fixed latents over training: one row per method, one column per save point
    (Nagarajan–Kolter 2017 Fig. 2 layout); each panel tiles one save point's samples
    (`tile_images`, 4 per row from 8 samples, gaps light blue) in grey levels on [−1, 1]
    (dark = 1); a panel with a non-finite value says "diverged".

    **Arguments:** `samples`, an `xarray.DataArray` with dims (`by`, "step", n, h, w)
    (select the seed first, e.g. `ds["samples"].isel(seed=0)`); `columns`: positions of the
    save points to show (default all); `by`: the dim with one row per value (default
    "variant"); `title`; `path`: save as PNG.
    """
    import matplotlib

    methods = [str(m) for m in samples[by].values]
    steps = np.asarray(samples["step"].values)
    cols = list(range(len(steps))) if columns is None else [int(c) for c in columns]
    values = np.asarray(samples.transpose(by, "step", ...).values, float)  # (M, T, n, h, w)
    cmap = matplotlib.colormaps["gray_r"].with_extremes(bad="#9ecae1")  # gaps between samples
    per_row = 4 if values.shape[2] >= 8 else 2 if values.shape[2] >= 2 else 1
    h, w = tile_images(values[0, 0], per_row).shape
    fig, axes = new_figure(len(methods), len(cols),
                           size=(2.9 * len(cols) + 0.8, (2.9 * h / w + 0.35) * len(methods) + 0.6))
    for i, m in enumerate(methods):
        for j, t in enumerate(cols):
            ax = axes[i, j]
            imgs = values[i, t]
            if np.all(np.isfinite(imgs)):
                ax.imshow(tile_images(imgs, per_row), cmap=cmap, vmin=-1, vmax=1,
                          interpolation="nearest")
            else:
                ax.text(0.5, 0.5, "diverged", ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(f"step {int(steps[t])}", fontsize=10)
            if j == 0:
                ax.set_ylabel(m, fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    return save(fig, path)


def mode_coverage_curves(modes: Any, kl: Any, *, real: tuple[float, float] | None = None,
                         by: str = "variant", path: str | Path | None = None) -> "Figure":
    """Modes covered and KL(p̂ ‖ uniform) over training, mean ± s.e. over seeds per value of
    `by` (`ensemble_band`; modes on a log scale), side by side; with `real` = (modes, KL) of
    real data, labelled dotted horizontal lines. `modes`, `kl`: `xarray.DataArray`s (seed,
    `by`, step), NaN where a seed is left out (a diverged seed masked by
    `ganflow.analysis.mask_diverged`: marked with a cross where it stops); `path`: save as
    PNG."""
    fig, axes = new_figure(1, 2, size=(11.0, 4.4))
    ref = (None, None) if real is None else ({"real digits": real[0]}, {"real digits": real[1]})
    # log scale: the real digits' level (~900) would flatten a generator's few modes to 0
    ensemble_band(modes.astype(float), by=by, ylabel="modes covered (of 1000, log scale)",
                  ax=axes[0, 0], reference=ref[0], diverged_marks=True, logy=True)
    ensemble_band(kl, by=by, ylabel="KL(p̂ ‖ uniform)", ax=axes[0, 1], reference=ref[1],
                  diverged_marks=True)
    return save(fig, path)
