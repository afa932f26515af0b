r"""Phase-plane figures of two-dimensional games: the field b0 and trajectories around x*."""

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ._common import COLOURS, figure_and_axis, flat_path, save

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _flat_field(field: Callable[..., Any], template: Any, args: tuple) -> Callable:
    """The field as a function of a flat (2,) vector, vmapped over a grid of points."""
    if template is None:
        fn = lambda v: jnp.asarray(field(v, *args))  # noqa: E731
    else:
        flat0, unravel = ravel_pytree(template)
        if flat0.size != 2:
            raise ValueError(
                "a phase plane needs a two-dimensional state; this one has "
                f"{flat0.size} coordinates"
            )
        fn = lambda v: ravel_pytree(field(unravel(v), *args))[0]  # noqa: E731
    return jax.jit(jax.vmap(fn))


def _is_array(x: Any) -> bool:
    return isinstance(x, (np.ndarray, jax.Array, list))


def phase_plane(
    field: Callable[..., Any],
    template: Any = None,
    *,
    trajectories: Mapping[str, Any] | None = None,
    equilibrium: Any = None,
    bounds: Sequence[Sequence[float]] | None = None,
    labels: Sequence[str] = ("θ", "ω"),
    title: str | None = None,
    kind: str = "stream",
    grid: int = 25,
    args: tuple = (),
    legend: bool = True,
    ax: "Axes | None" = None,
    path: str | Path | None = None,
) -> "Figure":
    r"""The phase plane of a two-dimensional game: the vector field $b(x)$ as streamlines
    (`kind="stream"`) or arrows (`kind="quiver"`), trajectories, and the equilibrium.

    - `field`: a field `b(x, *args)` (e.g. `game.vector_field(population=True)`, a stabilised or
      modified field) on states shaped like `template` (a state whose flat form has two
      coordinates, θ on the horizontal axis); with `template=None`, `field` maps (2,) arrays;
    - `trajectories`: label → a trajectory, either a (T, 2) array or a pytree of states with a
      leading time axis; each is drawn with a dot at its start and a cross at its end;
    - `equilibrium`: a state (or a (2,) array) marked with a star;
    - `bounds`: ((x_min, x_max), (y_min, y_max)); by default a square around the trajectories'
      starts and the equilibrium (diverging paths simply leave the window);
    - `legend`: draw the legend inside the axes (pass False and call `fig.legend` to share one
      legend between panels); `ax`: draw into an existing axis; `path`: save the figure as PNG.

    The axes have equal aspect, so rotations look like circles.

    ```python
    game = gf.DiracGAN("wgan")
    fig = phase_plane(game.vector_field(population=True), game.equilibrium(),
                      equilibrium=game.equilibrium(), path="dirac.png")
    ```
    """
    if kind not in ("stream", "quiver"):
        raise ValueError(f"kind must be one of ('stream', 'quiver'), got {kind!r}")
    if template is None and equilibrium is not None and not _is_array(equilibrium):
        template = equilibrium
    fn = _flat_field(field, template, tuple(args))
    paths = {k: flat_path(v) for k, v in (trajectories or {}).items()}
    for name, p in paths.items():
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(f"trajectory {name!r} must have shape (T, 2), got {p.shape}")
    star = None
    if equilibrium is not None:
        star = np.asarray(ravel_pytree(equilibrium)[0], dtype=float)
        if star.shape != (2,):
            raise ValueError(f"the equilibrium must have two coordinates, got {star.shape}")
    if bounds is None:
        anchor = [p[:1] for p in paths.values()] + ([star[None]] if star is not None else [])
        if not anchor:
            bounds = ((-1.0, 1.0), (-1.0, 1.0))
        else:
            pts = np.concatenate(anchor)
            centre = star if star is not None else pts.mean(axis=0)
            half = max(float(np.max(np.abs(pts - centre))) * 1.6, 0.5)
            bounds = tuple((float(c - half), float(c + half)) for c in centre)
    (x0, x1), (y0, y1) = bounds

    from matplotlib.colors import Normalize

    fig, ax = figure_and_axis(ax)
    xs, ys = np.linspace(x0, x1, grid), np.linspace(y0, y1, grid)
    gx, gy = np.meshgrid(xs, ys)
    uv = np.asarray(fn(jnp.asarray(np.stack([gx.ravel(), gy.ravel()], axis=1))), dtype=float)
    u, v = uv[:, 0].reshape(gx.shape), uv[:, 1].reshape(gx.shape)
    if kind == "stream":
        speed = np.hypot(u, v)
        top = float(np.max(speed)) if np.isfinite(speed).any() else 1.0
        # grey levels by speed, never lighter than a visible grey
        ax.streamplot(xs, ys, u, v, color=speed, cmap="Greys", norm=Normalize(-0.4 * top, top),
                      density=1.0, linewidth=0.7, arrowsize=0.9, zorder=1)
    else:
        ax.quiver(gx, gy, u, v, color="0.55", angles="xy", zorder=1)
    for i, (name, p) in enumerate(paths.items()):
        colour = COLOURS[i % len(COLOURS)]
        ok = np.all(np.isfinite(p), axis=1)
        p = p[ok]
        ax.plot(p[:, 0], p[:, 1], color=colour, lw=1.4, label=name, zorder=3)
        if len(p):
            ax.plot(*p[0], "o", color=colour, ms=5, zorder=4)
            ax.plot(*p[-1], "x", color=colour, ms=7, mew=2, zorder=4)
    if star is not None:
        ax.plot(*star, "*", color="gold", mec="k", ms=14, zorder=5, label="equilibrium x*")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if title:
        ax.set_title(title)
    if legend and (paths or star is not None):
        ax.legend(loc="best", fontsize=7, framealpha=0.85)
    return save(fig, path)
