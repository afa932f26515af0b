r"""The Dirac-GAN lineup (Mescheder et al. 2018, §2–3; the convergence slides): how
simultaneous and alternating GD, the WGAN with n_d = 5, R1, instance noise and consensus move
from one start in the (θ, ψ) plane.

`dirac_lineup_trajectories` computes the trajectories with `ganflow.training.run` (through the
ensemble engine); it needs no matplotlib. `dirac_lineup` draws them, one panel per method, over
the streamlines of each method's field.
"""

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_choice, check_int_at_least, check_positive
from ..games import DiracGAN
from ..losses import AbstractLoss
from ..stabilisers import R1, Consensus, InstanceNoise, WeightClipping, stabilise
from ..training import AlternatingGDA, SimultaneousGDA, run
from ._common import COLOURS, flat_path, new_figure, save
from ._streamlines import draw_streamlines

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def dirac_lineup_schemes(
    *,
    eta: float = 0.1,
    loss: str | AbstractLoss = "gan",
    n_d: int = 5,
    clip: float = 1.0,
    r1_gamma: float = 0.3,
    noise_sigma: float = 1.0,
    consensus_gamma: float = 1.0,
    scheme: str = "alternating",
) -> dict[str, Any]:
    r"""The training schemes of the Dirac-GAN lineup, label → scheme (population fields, step
    size `eta` for both players):

    | label | field | scheme |
    |---|---|---|
    | simultaneous GD | b0 of `DiracGAN(loss)` | `SimultaneousGDA` |
    | alternating GD | b0 | `AlternatingGDA` |
    | WGAN (n_d = 5) | `DiracGAN("wgan")`, ψ clipped to ±`clip` | `AlternatingGDA(n_d=n_d)` |
    | R1 | `R1(r1_gamma)` | `scheme` |
    | instance noise | `InstanceNoise(noise_sigma, mode="expected")` | `scheme` |
    | consensus | `Consensus(consensus_gamma)` | `scheme` |

    `scheme` ("alternating" or "simultaneous") trains the three regularised methods. Local
    spectra at 0 (docs/conventions.md §Stabilisers): R1 $-γ/2 ± \sqrt{γ^2/4 - f'(0)^2}$,
    instance noise $f''(0)σ^2 ± \sqrt{f''(0)^2σ^4 - f'(0)^2}$, consensus
    $-γf'(0)^2 ± i f'(0)$: all in the left half-plane.
    """
    check_positive("eta", eta)
    check_choice("scheme", scheme, ("alternating", "simultaneous"))
    n_d = check_int_at_least("n_d", n_d, 1)
    game = DiracGAN(loss)
    regularised = AlternatingGDA if scheme == "alternating" else SimultaneousGDA
    b0 = game.vector_field(population=True)
    wgan = stabilise(DiracGAN("wgan"), WeightClipping(clip), population=True)
    return {
        "simultaneous GD": SimultaneousGDA(b0, eta),
        "alternating GD": AlternatingGDA(b0, eta),
        f"WGAN (n_d = {n_d}, |ψ| ≤ {clip:g})": AlternatingGDA(wgan, eta, n_d=n_d),
        f"R1 (γ = {r1_gamma:g})": regularised(
            stabilise(game, R1(r1_gamma), population=True), eta),
        f"instance noise (σ = {noise_sigma:g})": regularised(
            stabilise(game, InstanceNoise(noise_sigma, mode="expected"), population=True), eta),
        f"consensus (γ = {consensus_gamma:g})": regularised(
            stabilise(game, Consensus(consensus_gamma), population=True), eta),
    }


def dirac_lineup_trajectories(
    start: tuple[float, float] = (1.0, 1.0),
    num_steps: int = 500,
    *,
    save_every: int = 1,
    **scheme_kwargs: Any,
) -> dict[str, np.ndarray]:
    r"""Trajectories of the Dirac-GAN lineup from one start (θ₀, ψ₀): every scheme of
    `dirac_lineup_schemes(**scheme_kwargs)` run for `num_steps` steps by
    `ganflow.training.run` (one seed, through the ensemble engine), saving every `save_every`
    steps.

    **Returns:** label → a (T, 2) array of (θ, ψ), T = num_steps / save_every + 1, starting at
    `start`. A run that diverges is frozen at its last finite state by the engine.
    """
    num_steps = check_int_at_least("num_steps", num_steps, 1)
    theta0, psi0 = (float(s) for s in start)
    x0 = jax.tree_util.tree_map(lambda a: jnp.asarray(a)[None],
                                DiracGAN.make_state(theta0, psi0))
    out = {}
    for label, scheme in dirac_lineup_schemes(**scheme_kwargs).items():
        sol = run(scheme, x0, num_steps, save_every=save_every)
        out[label] = flat_path(jax.tree_util.tree_map(lambda a: a[0], sol.xs))
    return out


def dirac_lineup_fields(**scheme_kwargs: Any) -> dict[str, Callable[..., Any]]:
    """label → the field b(x) of each method of `dirac_lineup_schemes(**scheme_kwargs)` (the
    direction its scheme follows; the clipping of the WGAN is a projection, not part of it)."""
    return {k: s.field for k, s in dirac_lineup_schemes(**scheme_kwargs).items()}


def _field_grid(field: Callable[..., Any], xs: np.ndarray, ys: np.ndarray):
    gx, gy = np.meshgrid(xs, ys)

    def at(t, p):
        g, d = field(DiracGAN.make_state(t, p))
        return g.theta, d.psi

    u, v = jax.jit(jax.vmap(at))(jnp.asarray(gx.ravel()), jnp.asarray(gy.ravel()))
    return np.asarray(u, float).reshape(gx.shape), np.asarray(v, float).reshape(gx.shape)


def dirac_lineup(
    trajectories: Mapping[str, Any] | None = None,
    *,
    fields: Mapping[str, Callable[..., Any]] | None = None,
    start: tuple[float, float] = (1.0, 1.0),
    num_steps: int = 500,
    bounds: float | None = None,
    ncols: int = 3,
    grid: int = 31,
    title: str | None = None,
    path: str | Path | None = None,
    **scheme_kwargs: Any,
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
      time axis); None computes `dirac_lineup_trajectories(start, num_steps, **scheme_kwargs)`
      and its fields;
    - `fields`: label → field b(x) on Dirac-GAN states, drawn as streamlines in the panel of
      that label (panels without one show the trajectory only);
    - `bounds`: the half-width of the square window around 0 (default: the trajectories'
      reach, between 1.6 and 3 times the largest |coordinate| of the starts);
    - `ncols`: panels per row; `grid`: streamline grid size;
    - `path`: save the figure as PNG.

    **Returns:** the `matplotlib.figure.Figure`.

    ```python
    dirac_lineup(path="dirac_lineup.png")                       # computes the trajectories
    paths = dirac_lineup_trajectories((1.0, 1.0), 300, eta=0.2)
    dirac_lineup(paths, fields=dirac_lineup_fields(eta=0.2))    # precomputed
    ```
    """
    if trajectories is None:
        trajectories = dirac_lineup_trajectories(start, num_steps, **scheme_kwargs)
        if fields is None:
            fields = dirac_lineup_fields(**scheme_kwargs)
    elif scheme_kwargs:
        raise ValueError("scheme options are only used when the trajectories are computed here "
                         f"(trajectories=None); got {sorted(scheme_kwargs)}")
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

