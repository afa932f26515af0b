r"""The Dirac-GAN lineup figure (Mescheder et al. 2018, §2–3; the convergence slides): how
simultaneous and alternating GD, the WGAN with n_d = 5, R1, instance noise and consensus move
from one start in the (θ, ψ) plane. `dirac_lineup` draws trajectories it is given
(`ganflow.analysis.dirac_lineup_trajectories` computes them), one panel per method, over the
streamlines of each method's field.
"""

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_int_at_least
from ..games import DiracGAN
from ._common import COLOURS, flat_path, new_figure, save
from ._streamlines import draw_streamlines

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def _field_grid(field: Callable[..., Any], xs: np.ndarray, ys: np.ndarray):
    gx, gy = np.meshgrid(xs, ys)

    def at(t, p):
        g, d = field(DiracGAN.make_state(t, p))
        return g.theta, d.psi

    u, v = jax.jit(jax.vmap(at))(jnp.asarray(gx.ravel()), jnp.asarray(gy.ravel()))
    return np.asarray(u, float).reshape(gx.shape), np.asarray(v, float).reshape(gx.shape)


def dirac_lineup(
    trajectories: Mapping[str, Any],
    *,
    fields: Mapping[str, Callable[..., Any]] | None = None,
    bounds: float | None = None,
    ncols: int = 3,
    grid: int = 31,
    title: str | None = None,
    path: str | Path | None = None,
) -> "Figure":
    r"""The Dirac-GAN lineup as one figure, one panel per method: the trajectory of the discrete
    scheme in the (θ, ψ) plane (start •, end ×, equilibrium ★ at 0) over the streamlines of
    the method's field — the Dirac-GAN figures of Mescheder et al. 2018 ("Which training
    methods for GANs do actually converge?", §2–3) as the convergence slides show them
    ((a) SimGD, (b) AltGD, (c) WGAN (n_d = 5), (f) instance noise), with R1 and consensus.
    Data δ₀, generator δ_θ, discriminator D(x) = ψx; simultaneous GD spirals out, alternating
    GD and the WGAN circle, the regularised methods spiral in.

    **Arguments:**

    - `trajectories`: label → a (T, 2) array of (θ, ψ) (or Dirac-GAN states with a leading
      time axis), e.g. `ganflow.analysis.dirac_lineup_trajectories(...)`;
    - `fields`: label → field b(x) on Dirac-GAN states, drawn as streamlines in the panel of
      that label (panels without one show the trajectory only), e.g.
      `ganflow.analysis.dirac_lineup_fields(...)`;
    - `bounds`: the half-width of the square window around 0 (default: the trajectories'
      reach, between 1.6 and 3 times the largest |coordinate| of the starts);
    - `ncols`: panels per row; `grid`: streamline grid size;
    - `path`: save the figure as PNG.

    **Returns:** the `matplotlib.figure.Figure`.

    ```python
    paths = gf.analysis.dirac_lineup_trajectories((1.0, 1.0), 300, eta=0.2)
    dirac_lineup(paths, fields=gf.analysis.dirac_lineup_fields(eta=0.2), path="lineup.png")
    ```
    """
    paths = {k: flat_path(v) for k, v in trajectories.items()}
    if not paths:
        raise ValueError("dirac_lineup needs at least one trajectory")
    for name, p in paths.items():
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(f"trajectory {name!r} must have shape (T, 2), got {p.shape}")
    fields = dict(fields or {})
    ncols = min(check_int_at_least("ncols", ncols, 1), len(paths))
    nrows = -(-len(paths) // ncols)
    if bounds is None:
        firsts = np.stack([p[0] for p in paths.values()])
        scale = max(float(np.max(np.abs(firsts[np.isfinite(firsts)]), initial=0.0)), 0.5)
        reach = max(float(np.max(np.abs(p[np.isfinite(p)]), initial=0.0)) for p in paths.values())
        bounds = min(max(1.6 * scale, 1.1 * reach), 3.0 * scale)
    half = float(bounds)
    xs = ys = np.linspace(-half, half, grid)
    fig, axes = new_figure(nrows, ncols, size=(3.3 * ncols + 0.3, 3.4 * nrows + 0.4))
    for i, (name, p) in enumerate(paths.items()):
        ax = axes.flat[i]
        if name in fields:
            draw_streamlines(ax, xs, ys, *_field_grid(fields[name], xs, ys), density=0.8)
        colour = COLOURS[i % len(COLOURS)]
        q = p[np.all(np.isfinite(p), axis=1)]
        ax.plot(q[:, 0], q[:, 1], color=colour, lw=1.3, zorder=3)
        if len(q):
            ax.plot(*q[0], "o", color=colour, ms=5, zorder=4)
            ax.plot(*q[-1], "x", color="k", ms=7, mew=2, zorder=4)
        ax.plot(0.0, 0.0, "*", color="gold", mec="k", ms=12, zorder=5)
        ax.set_xlim(-half, half)
        ax.set_ylim(-half, half)
        ax.set_aspect("equal", adjustable="box")
        ax.set_title(name, fontsize=10)
        if i // ncols == nrows - 1 or i + ncols >= len(paths):
            ax.set_xlabel("θ (generator)")
        if i % ncols == 0:
            ax.set_ylabel("ψ (discriminator)")
    for ax in axes.flat[len(paths):]:
        ax.set_axis_off()
    if title is None:
        title = "Dirac-GAN: trajectories from one start (• start, × end, ★ equilibrium)"
    if title:
        fig.suptitle(title)
    return save(fig, path)

