r"""Streamline portraits: the Nagarajan–Kolter 2-D game with and without their gradient
regulariser (NK 2017, Fig. 3), and 2-D slices through the parameter space of a neural GAN.

Every grid of field values is one `jax.jit` of a `jax.vmap` over the grid points (for
`nk_streamlines`, over the regularisation weights too: one compilation per row).
"""

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, ArrayLike, Float

from .._checks import check_int_at_least
from ..games import NagarajanKolter2D
from ..losses import AbstractLoss, get_loss
from ..stabilisers import NagarajanKolter, stabilise
from ._common import COLOURS, figure_and_axis, new_figure, save

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def draw_streamlines(
    ax: "Axes", xs: np.ndarray, ys: np.ndarray, u: np.ndarray, v: np.ndarray,
    density: float = 1.0,
) -> Any:
    """Streamlines of the grid field (u, v) on `xs × ys` (arrays shaped (len(ys), len(xs))),
    grey by speed and never lighter than a visible grey (as `phase_plane` draws them).
    Non-finite values are drawn as a zero field."""
    from matplotlib.colors import Normalize

    u = np.where(np.isfinite(u), u, 0.0)
    v = np.where(np.isfinite(v), v, 0.0)
    speed = np.hypot(u, v)
    top = float(np.max(speed)) if speed.size and np.max(speed) > 0 else 1.0
    return ax.streamplot(xs, ys, u, v, color=speed, cmap="Greys",
                         norm=Normalize(-0.4 * top, top), density=density, linewidth=0.7,
                         arrowsize=0.9, zorder=1)


# ---------------------------------------------------------------------------------------------
# Nagarajan–Kolter Fig. 3


def loss_label(loss: AbstractLoss) -> str:
    """"GAN", "NS-GAN", "WGAN" (or the class name) for a figure title."""
    name = type(loss).__name__.removesuffix("Loss").upper() or type(loss).__name__
    return ("NS-" + name) if getattr(loss, "non_saturating", False) else name


def nk_field_grid(
    loss: str | AbstractLoss,
    lams: Float[ArrayLike, " L"],
    w2s: Float[ArrayLike, " nw"],
    as_: Float[ArrayLike, " na"],
    **game_kwargs: Any,
) -> tuple[Float[Array, "L na nw"], Float[Array, "L na nw"]]:
    r"""The regularised field of the Nagarajan–Kolter 2-D game on a grid, for several λ:
    `b = stabilise(NagarajanKolter2D(loss), NagarajanKolter(λ), population=True)` at
    $(a, w_2)$ for every $a$ in `as_`, $w_2$ in `w2s`. One compilation: a `jax.jit` of a
    `jax.vmap` over λ and the grid points.

    **Returns:** `(b_w2, b_a)`, each of shape (len(lams), len(as_), len(w2s)) — the components
    along the horizontal ($w_2$) and vertical ($a$) axes of NK Fig. 3.
    """
    game = NagarajanKolter2D(loss, **game_kwargs)
    lams = jnp.asarray(lams, jnp.result_type(float))
    gw, ga = jnp.meshgrid(jnp.asarray(w2s, lams.dtype), jnp.asarray(as_, lams.dtype))

    def at(lam, a, w2):
        b = stabilise(game, NagarajanKolter(lam), population=True)
        gen, disc = b(game.make_state(a, w2))
        return disc.w2, gen.weight

    def grid(lam):
        return jax.vmap(jax.vmap(lambda a, w2: at(lam, a, w2)))(ga, gw)

    return jax.jit(jax.vmap(grid))(lams)


def nk_streamlines(
    lams: Sequence[float] = (0.0, 0.25, 0.5, 1.0),
    losses: Sequence[str | AbstractLoss] = ("gan", "wgan"),
    *,
    w2_range: tuple[float, float] = (-1.0, 1.0),
    a_range: tuple[float, float] = (0.0, 2.0),
    grid: int = 41,
    density: float = 1.0,
    title: str | None = "Nagarajan–Kolter 2-D GAN: D(x) = w₂x², G(z) = az",
    path: str | Path | None = None,
    **game_kwargs: Any,
) -> "Figure":
    r"""Streamline portraits of the Nagarajan–Kolter 2-D game around its equilibrium
    $(w_2, a) = (0, 1)$, with their gradient regulariser of weight λ — the layout of
    Nagarajan–Kolter 2017, Fig. 3: one row per loss (GAN on top, WGAN below), one column per λ
    (λ = 0 is the vanilla simultaneous gradient field).

    Data and latent are uniform on [−1, 1], $D(x) = w_2 x^2$, $G(z) = a z$
    (`ganflow.games.NagarajanKolter2D`). The field is ganflow's own
    `stabilise(game, NagarajanKolter(λ), population=True)`: b0 of the game whose generator
    descends $Φ + λ\|∇_ωΦ\|^2$ (NK eq. 4, where the weight is called η). The GAN converges and
    the WGAN orbits at λ = 0; both converge for λ > 0 (NK §4).

    **Arguments:**

    - `lams`: the regularisation weights, one column each;
    - `losses`: one row each (`"gan"`, `"wgan"`, `"nsgan"` or an `AbstractLoss`);
    - `w2_range`, `a_range`: the window (horizontal $w_2$, vertical $a$);
    - `grid`: grid points per axis; `density`: streamline density (matplotlib's);
    - `path`: save the figure as PNG; `game_kwargs`: passed to `NagarajanKolter2D`
      (quadrature nodes).

    **Returns:** the `matplotlib.figure.Figure`.

    ```python
    nk_streamlines(path="nk_fig3.png")
    ```
    """
    lams = [float(lam) for lam in lams]
    if not lams or not losses:
        raise ValueError("nk_streamlines needs at least one λ and one loss")
    if any(not np.isfinite(lam) or lam < 0 for lam in lams):
        raise ValueError(f"every λ must be a finite number >= 0, got {lams}")
    grid = check_int_at_least("grid", grid, 3)
    for name, (lo, hi) in (("w2_range", w2_range), ("a_range", a_range)):
        if not hi > lo:
            raise ValueError(f"{name} must be (low, high) with low < high, got {(lo, hi)}")
    w2s = np.linspace(*w2_range, grid)
    as_ = np.linspace(*a_range, grid)
    nrows, ncols = len(losses), len(lams)
    fig, axes = new_figure(nrows, ncols, size=(3.0 * ncols + 0.4, 3.0 * nrows + 0.5))
    for r, loss in enumerate(losses):
        loss = get_loss(loss)
        name = loss_label(loss)
        bw, ba = (np.asarray(c, dtype=float) for c in nk_field_grid(loss, lams, w2s, as_,
                                                                      **game_kwargs))
        for c, lam in enumerate(lams):
            ax = axes[r, c]
            draw_streamlines(ax, w2s, as_, bw[c], ba[c], density=density)
            ax.plot(0.0, 1.0, "*", color="gold", mec="k", ms=12, zorder=5)
            ax.set_xlim(*w2_range)
            ax.set_ylim(*a_range)
            ax.set_aspect("equal", adjustable="box")
            vanilla = " (vanilla)" if lam == 0 else ""
            ax.set_title(f"{name}, λ = {lam:g}{vanilla}", fontsize=10)
            if r == nrows - 1:
                ax.set_xlabel("w₂ (discriminator)")
            if c == 0:
                ax.set_ylabel("a (generator)")
    if title:
        fig.suptitle(title)
    return save(fig, path)


# ---------------------------------------------------------------------------------------------
# slices through parameter space


def _direction(name: str, d: Any, size: int) -> np.ndarray:
    flat = np.asarray(ravel_pytree(d)[0] if not isinstance(d, (np.ndarray, jax.Array)) else d)
    flat = flat.ravel()
    if np.iscomplexobj(flat):
        raise ValueError(
            f"{name} is complex: for a complex eigenvector w pass its real plane, "
            "u = w.real and v = w.imag"
        )
    if flat.size != size:
        raise ValueError(f"{name} has {flat.size} coordinates but x has {size}")
    if not np.all(np.isfinite(flat)):
        raise ValueError(f"{name} has non-finite entries")
    return flat.astype(float)


def slice_coordinates(points: Any, x: Any, u: Any, v: Any) -> np.ndarray:
    r"""The (s, t) coordinates of states in the plane $x + s u + t v$: the least-squares
    solution of $s u + t v ≈ p - x$, $(s, t) = G^{-1} (u·(p - x), v·(p - x))$ with the Gram
    matrix $G$ of (u, v). `points`: a (T, d) array or states with a leading axis T (flattened
    in ganflow's flat order); returns a (T, 2) array."""
    x0 = np.asarray(ravel_pytree(x)[0], dtype=float)
    basis = np.stack([_direction("u", u, x0.size), _direction("v", v, x0.size)])
    from ._common import flat_path

    pts = flat_path(points)
    if pts.ndim != 2 or pts.shape[1] != x0.size:
        raise ValueError(f"points must have shape (T, {x0.size}), got {pts.shape}")
    gram = basis @ basis.T
    return np.linalg.solve(gram, basis @ (pts - x0).T).T


def parameter_slice_grid(
    field: Callable[..., Any],
    x: Any,
    u: Any,
    v: Any,
    ss: Float[ArrayLike, " ns"],
    ts: Float[ArrayLike, " nt"],
    args: tuple = (),
) -> tuple[np.ndarray, np.ndarray]:
    r"""The field `b(·, *args)` on the plane $x + s u + t v$, projected on the plane in (s, t)
    coordinates: $(c_s, c_t) = G^{-1}(u·b, v·b)$ with the Gram matrix $G$ of (u, v) (for
    orthonormal u, v simply $(u·b, v·b)$). One `jax.jit` of a `jax.vmap` over the grid.

    **Returns:** `(c_s, c_t)`, each of shape (len(ts), len(ss)).
    """
    flat0, unravel = ravel_pytree(x)
    size = int(flat0.size)
    basis = np.stack([_direction("u", u, size), _direction("v", v, size)])
    gram = basis @ basis.T
    if np.linalg.cond(gram) > 1e12:
        raise ValueError(
            "u and v are (nearly) parallel or zero: the plane x + s u + t v is degenerate"
        )
    basis_j = jnp.asarray(basis, flat0.dtype)
    gram_inv = jnp.asarray(np.linalg.inv(gram), flat0.dtype)
    gs, gt = np.meshgrid(np.asarray(ss, float), np.asarray(ts, float))
    st = jnp.asarray(np.stack([gs.ravel(), gt.ravel()], axis=1), flat0.dtype)

    def at(c, args):
        point = unravel(flat0 + c @ basis_j)
        b = ravel_pytree(field(point, *args))[0]
        return gram_inv @ (basis_j @ b)

    out = np.asarray(jax.jit(jax.vmap(at, in_axes=(0, None)))(st, tuple(args)), dtype=float)
    if out.shape[-1] != 2:
        raise ValueError("the field must return a state shaped like x")
    return out[:, 0].reshape(gs.shape), out[:, 1].reshape(gs.shape)


def parameter_slice_streamlines(
    field: Callable[..., Any],
    x: Any,
    u: Any,
    v: Any,
    *,
    args: tuple = (),
    span: float | tuple[float, float] = 1.0,
    grid: int = 25,
    trajectories: Mapping[str, Any] | None = None,
    labels: Sequence[str] = ("s (along u)", "t (along v)"),
    title: str | None = None,
    density: float = 1.0,
    ax: "Axes | None" = None,
    path: str | Path | None = None,
) -> "Figure":
    r"""A two-dimensional slice through the parameter space of a (neural) GAN: the field $b$
    (b0 or a stabilised field) at the points $x + s u + t v$ around a trained point x, projected
    on the plane, as streamlines in the (s, t) coordinates; x is marked at the origin.

    The slice shows the local rotation (a complex eigenvalue pair of J) or attraction that
    Mescheder et al. 2017 ("The numerics of GANs", §3) read off the spectrum: with u, v the
    real and imaginary parts of an eigenvector of $J(x)$ for λ (e.g. from
    `ganflow.analysis.top_eigenvalues`, whose eigenvectors are in ganflow's flat order), the
    streamlines near x turn with angular speed Im λ and grow or shrink at rate Re λ.

    **Arguments:**

    - `field`: `b(x, *args)` on states shaped like x; `x`: the centre (a state, any pytree);
    - `u`, `v`: the directions, pytrees shaped like x or flat arrays of its size (real; they
      need not be orthonormal: the projection solves with their Gram matrix);
    - `span`: half-widths of the window in s and t (one number for both);
    - `grid`: grid points per axis (the field is evaluated by one vmapped jit);
    - `trajectories`: label → states with a leading time axis (or (T, d) arrays), drawn
      projected on the plane (least-squares coordinates, see `slice_coordinates`);
    - `ax`: draw into an existing axis; `path`: save the figure as PNG.

    **Returns:** the `matplotlib.figure.Figure`.

    ```python
    spec = gf.analysis.top_eigenvalues(b, x_trained, k=2)
    w = spec.eigenvectors[:, 0]
    parameter_slice_streamlines(b, x_trained, w.real, w.imag, span=0.5, path="slice.png")
    ```
    """
    grid = check_int_at_least("grid", grid, 3)
    hs, ht = (float(span), float(span)) if np.ndim(span) == 0 else map(float, span)
    if not (hs > 0 and ht > 0):
        raise ValueError(f"span must be positive, got {span!r}")
    ss, ts = np.linspace(-hs, hs, grid), np.linspace(-ht, ht, grid)
    cs, ct = parameter_slice_grid(field, x, u, v, ss, ts, args)
    fig, ax = figure_and_axis(ax)
    draw_streamlines(ax, ss, ts, cs, ct, density=density)
    for i, (name, traj) in enumerate((trajectories or {}).items()):
        p = slice_coordinates(traj, x, u, v)
        colour = COLOURS[i % len(COLOURS)]
        ax.plot(p[:, 0], p[:, 1], color=colour, lw=1.4, label=name, zorder=3)
        ax.plot(*p[0], "o", color=colour, ms=5, zorder=4)
    ax.plot(0.0, 0.0, "*", color="gold", mec="k", ms=13, zorder=5, label="x (centre)")
    ax.set_xlim(-hs, hs)
    ax.set_ylim(-ht, ht)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(title or "field b projected on the plane x + s·u + t·v", fontsize=10, wrap=True)
    ax.legend(loc="upper right", fontsize=7, framealpha=0.85)
    return save(fig, path)
