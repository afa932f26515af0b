r"""Figures of two-parameter games beside their closed forms (Dirac-GAN, Mescheder 2018;
Nagarajan–Kolter §4): one row of phase planes (a field given on a grid, trajectories of the flow
and of the discrete schemes), a grid of eigenvalue planes (J against the imaginary axis, update
operators against the unit circle), and distances to the equilibrium over training."""

import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax.numpy as jnp
import numpy as np

from ._common import (
    COLOURS,
    diverged_legend_entry,
    diverged_rows,
    mark_diverged,
    new_figure,
    save,
)
from ._eigenplane import eigenvalue_plane
from ._phase import phase_plane

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def gridded_field(xs: Any, ys: Any, u: Any, v: Any) -> Callable:
    """A field given on a grid (u, v of shape (len(ys), len(xs))) as a function of (2,) points:
    the value at the nearest grid point — exact on the grid, which is where `phase_plane`
    evaluates it with `bounds=((xs[0], xs[-1]), (ys[0], ys[-1]))` and `grid=len(xs)`."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    table = jnp.asarray(np.stack([np.asarray(u), np.asarray(v)], axis=-1))
    x0, dx, y0, dy = xs[0], xs[1] - xs[0], ys[0], ys[1] - ys[0]

    def field(p):
        i = jnp.clip(jnp.round((p[0] - x0) / dx), 0, len(xs) - 1).astype(jnp.int32)
        j = jnp.clip(jnp.round((p[1] - y0) / dy), 0, len(ys) - 1).astype(jnp.int32)
        return table[j, i]

    return field


def phase_plane_row(
    panels: Mapping[str, Mapping[str, Any]],
    *,
    equilibrium: Any = None,
    labels: Sequence[str] = ("θ", "ω"),
    title: str | None = None,
    path: str | Path | None = None,
) -> "Figure":
    """One row of phase planes (`phase_plane`), one legend below them.

    - `panels`: panel title → {"grid": (xs, ys, u, v), the field on a grid (`gridded_field`;
      e.g. `ganflow.analysis.field_on_grid`), "trajectories": label → a (T, 2) array};
    - `equilibrium`: the (2,) point marked ★ in every panel; `labels`: the axis labels.
    """
    if not panels:
        raise ValueError("phase_plane_row needs at least one panel")
    ncol = len(panels)
    fig, axes = new_figure(1, ncol, size=(4.4 * ncol, 5.0))
    for ax, (name, panel) in zip(axes[0], panels.items()):
        xs, ys, u, v = panel["grid"]
        phase_plane(gridded_field(xs, ys, u, v), equilibrium=equilibrium, labels=tuple(labels),
                    bounds=((xs[0], xs[-1]), (ys[0], ys[-1])), grid=len(xs), ax=ax,
                    legend=False, title=name, trajectories=dict(panel["trajectories"]))
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=max(len(names), 1), fontsize=8)
    if title:
        fig.suptitle(title)
    return save(fig, path)


def eigenvalue_grid(
    panels: Mapping[str, tuple[Mapping[str, Any], Mapping[str, Any]]],
    *,
    update_title: str = "update operators",
    title: str | None = None,
    path: str | Path | None = None,
) -> "Figure":
    """Eigenvalue planes in two rows, one column per panel: the eigenvalues of J (top, against
    the imaginary axis: the flow is stable when every Re λ < 0) and of update operators F′
    (bottom, against the unit circle, with an inset onto eigenvalues crowded near 1: a scheme
    is stable when every |λ| < 1, Mescheder 2017), by `eigenvalue_plane`.

    - `panels`: column title → (label → eigenvalues of J, label → eigenvalues of F′);
    - `update_title`: the title of the bottom panels.
    """
    if not panels:
        raise ValueError("eigenvalue_grid needs at least one panel")
    ncol = len(panels)
    fig, axes = new_figure(2, ncol, size=(4.4 * ncol, 11.2))
    fig.set_layout_engine("compressed")  # room for the legends below square panels
    for li, (name, (jac, upd)) in enumerate(panels.items()):
        eigenvalue_plane(dict(jac), ax=axes[0, li], title=f"{name}: J at x*")
        eigenvalue_plane(dict(upd), unit_circle=True, zoom="auto", ax=axes[1, li],
                         title=update_title)
        for ax in axes[:, li]:  # below the panel: eigenvalues near the top stay in view
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=7,
                      markerscale=0.7)
    if title:
        fig.suptitle(title)
    return save(fig, path)


def distance_curves(
    steps: Any,
    distances: Mapping[str, Any],
    *,
    ylabel: str = "‖x − x*‖ (geometric mean over seeds)",
    title: str | None = None,
    path: str | Path | None = None,
) -> "Figure":
    """Distances to the equilibrium against the step on a log axis, one curve per label: the
    geometric mean over seeds of a (seeds, steps) array (a (steps,) array is one seed). NaN
    entries are left out: a seed masked from its divergence on (`ganflow.analysis.mask_diverged`)
    is marked with a cross at its last good state and counted in its label, and a curve whose
    every seed diverged stops there."""
    fig, axes = new_figure(size=(7.0, 4.2))
    ax = axes[0, 0]
    any_diverged = False
    for i, (label, d) in enumerate(distances.items()):
        d = np.atleast_2d(np.asarray(d, dtype=float))
        colour = COLOURS[i % len(COLOURS)]
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a step where every seed diverged
            mean = np.exp(np.nanmean(np.log(np.maximum(d, 1e-300)), axis=0))
        k = len(diverged_rows(d))
        ax.semilogy(np.asarray(steps), mean, color=colour,
                    label=label + (f" ({k} of {d.shape[0]} diverged)" if k else ""))
        any_diverged |= mark_diverged(ax, steps, d, colour, log=True) > 0
    if any_diverged:
        diverged_legend_entry(ax)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=9, loc="best", framealpha=0.8)
    return save(fig, path)
