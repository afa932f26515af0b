r"""Ensembles of SDE (or stochastic training) paths: the mean ± a band over time and a few paths."""

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import ArrayLike, Float

from ._common import COLOURS, new_figure, save

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def _as_ensemble(paths: Any) -> np.ndarray:
    """(S, T, d) from an array (S, T) / (S, T, d) or a pytree of states with leaves (S, T, ...)."""
    if isinstance(paths, (np.ndarray, jax.Array)):
        arr = np.asarray(paths, dtype=float)
        if arr.ndim == 2:
            arr = arr[..., None]
        if arr.ndim != 3:
            raise ValueError(f"paths must have shape (seeds, times[, dim]), got {arr.shape}")
        return arr
    leaves = jax.tree_util.tree_leaves(paths)
    if not leaves or any(np.ndim(a) < 2 for a in leaves):
        raise ValueError("paths must be an array (seeds, times, dim) or a pytree of states whose "
                         "leaves have leading (seeds, times) axes")
    flat = jax.vmap(jax.vmap(lambda x: ravel_pytree(x)[0]))(paths)
    return np.asarray(flat, dtype=float)


def ensemble_plot(
    ts: Float[ArrayLike, " T"],
    paths: Any,
    *,
    labels: Sequence[str] | None = None,
    num_paths: int = 5,
    band: str = "std",
    reference: Any = None,
    reference_label: str = "reference",
    title: str | None = None,
    path: str | Path | None = None,
) -> "Figure":
    r"""One panel per coordinate: the ensemble mean over seeds, a band (`band="std"`: mean ± one
    standard deviation; `"quantile"`: the 5 %–95 % quantiles) and `num_paths` individual paths.

    - `ts`: (T,) save times; `paths`: (S, T, d) or (S, T) arrays, or states with leaves
      (S, T, ...) flattened in ganflow's flat order (θ first);
    - `reference`: optional (T, d) values drawn dashed (e.g. the deterministic flow, or a
      closed-form mean), labelled `reference_label`.

    ```python
    ensemble_plot(sol.ts, sol.ys, labels=["θ", "ψ"], path="sde.png")
    ```
    """
    if band not in ("std", "quantile"):
        raise ValueError(f"band must be one of ('std', 'quantile'), got {band!r}")
    ts = np.asarray(ts, dtype=float)
    arr = _as_ensemble(paths)
    seeds, times, dim = arr.shape
    if ts.shape != (times,):
        raise ValueError(f"ts has shape {ts.shape} but the paths have {times} save times")
    labels = list(labels) if labels is not None else [f"x[{i}]" for i in range(dim)]
    if len(labels) != dim:
        raise ValueError(f"{len(labels)} labels for {dim} coordinates")
    ref = None if reference is None else np.asarray(reference, dtype=float).reshape(times, -1)
    fig, axes = new_figure(dim, 1, size=(7.0, 2.3 * dim + 0.6))
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(arr, axis=0)
        if band == "std":
            sd = np.nanstd(arr, axis=0)
            lo, hi, band_label = mean - sd, mean + sd, "mean ± 1 sd"
        else:
            lo, hi = np.nanquantile(arr, 0.05, axis=0), np.nanquantile(arr, 0.95, axis=0)
            band_label = "5 %–95 % quantiles"
    for i, ax in enumerate(axes[:, 0]):
        colour = COLOURS[i % len(COLOURS)]
        for s in range(min(num_paths, seeds)):
            ax.plot(ts, arr[s, :, i], color="0.55", lw=0.6, alpha=0.8,
                    label="sample paths" if s == 0 else None)
        ax.fill_between(ts, lo[:, i], hi[:, i], color=colour, alpha=0.22, label=band_label)
        ax.plot(ts, mean[:, i], color=colour, lw=2.0, label=f"mean over {seeds} seeds")
        if ref is not None:
            ax.plot(ts, ref[:, i], color="k", ls="--", lw=1.0, label=reference_label)
        ax.set_ylabel(labels[i])
        ax.grid(alpha=0.25)
        if i == 0:
            ax.legend(loc="upper right", fontsize=7, framealpha=0.85)
    axes[-1, 0].set_xlabel("time t")
    if title:
        fig.suptitle(title)
    return save(fig, path)
