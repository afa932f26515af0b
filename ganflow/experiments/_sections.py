r"""The four experiments of the main job (`spectra`, `atlas`, `sde`, `weak-error`), computation
and rendering apart: each `*_dataset(...)` computes the labelled results (an `xarray.Dataset`,
saved by `ganflow.experiments._exp_legacy` under `results.zarr/<group>`), each `render_*(...)`
writes the Markdown and the figures from such a dataset alone (`report` never recomputes).

**spectra** (issue 2, item 6): for the Dirac-GAN (Mescheder 2018) and the two-parameter GAN of
Nagarajan–Kolter §4 (NK-2D), with each loss ("gan", "nsgan", "wgan"): the eigenvalues of the
Jacobian J of b0 at the equilibrium and of the update operators of simultaneous and alternating
GD, beside their closed forms; trajectories of the gradient flow and of both schemes; whether they
converge.

Both games linearise at x* to $J = \begin{pmatrix} 0 & c \\ -c & d \end{pmatrix}$ (θ first):
Dirac-GAN $c = f'(0)$, $d = 0$ (Mescheder 2018, slides p. 5); NK-2D $c = 2f'(0)/3$,
$d = 2f''(0)/5$ (Nagarajan–Kolter §4, with $E x^2 = 1/3$, $E x^4 = 1/5$ for U[−1, 1]). Hence
- flow: $λ = d/2 ± \sqrt{d^2/4 - c^2}$;
- simultaneous GD, $F' = I + hJ$ (Cao–Guo eq. 7): $1 + hλ$; on the Dirac-GAN
  $|1 + hλ| = \sqrt{1 + h^2 f'(0)^2}$;
- alternating GD, discriminator first (Cao–Guo eq. 5): $ω' = ω + h(-cθ + dω)$,
  $θ' = θ + h c ω'$, so $F' = \begin{pmatrix} 1 - h^2c^2 & hc(1 + hd) \\ -hc & 1 + hd
  \end{pmatrix}$ with trace $2 - h^2c^2 + hd$ and determinant $1 + hd$: on the unit circle when
  d = 0 and $hc < 2$ (Dirac: $1 - α^2/2 ± \sqrt{(1 - α^2/2)^2 - 1}$, α = h f′(0)).

**atlas** (issue 3): `convergence_atlas` (every column of its rows, per cell × η), table and
heatmaps. **sde** (issue 4): an Euler–Maruyama ensemble of the R1-regularised Dirac-GAN SDE
(Cao–Guo eq. 9 with additive noise) against its exact mean. **weak-error** (issue 4): the
deterministic orders of simultaneous and alternating GD on the R1 Dirac-GAN (Cao–Guo Theorems 1,
2; eqs. 10, 13).
"""

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..studies import ReportPart
from ..studies import markdown_table

LOSSES = ("gan", "nsgan", "wgan")
RATE_TOL = 1e-3  # |growth rate| per unit time below which a run counts as orbiting
MATCH_TOL_TEXT = "1e-8"  # |ganflow − closed form| above which a spectrum is a mismatch
MATCH_TOL = float(MATCH_TOL_TEXT)


# ---------------------------------------------------------------------------------------------
# closed forms


# f′(0) and f″(0) of each loss (docs/conventions.md §The game): logistic f(t) = −log(1 + e^{−t})
# has f′(0) = 1/2, f″(0) = −1/4 (the non-saturating variant shares the discriminator's f and, at
# x*, the Jacobian); WGAN f(t) = t has f′(0) = 1, f″(0) = 0.
F_DERIVATIVES = {"gan": (0.5, -0.25), "nsgan": (0.5, -0.25), "wgan": (1.0, 0.0)}


def _linearisation(game_name: str, loss_name: str) -> tuple[float, float]:
    """(c, d) of J(x*) = [[0, c], [−c, d]] from f′(0), f″(0) (see the module docstring)."""
    f1, f2 = F_DERIVATIVES[loss_name]
    if game_name == "Dirac-GAN":
        return f1, 0.0
    return 2.0 * f1 / 3.0, 2.0 * f2 / 5.0


def closed_form_eigenvalues(c: float, d: float, h: float) -> dict[str, np.ndarray]:
    """Eigenvalues of J, of I + hJ and of the alternating update operator for
    J = [[0, c], [−c, d]] (module docstring)."""
    flow = np.roots([1.0, -d, c * c]).astype(complex)
    sim = 1.0 + h * flow
    alt = np.roots([1.0, -(2.0 - h * h * c * c + h * d), 1.0 + h * d]).astype(complex)
    return {"flow": flow, "simultaneous": sim, "alternating": alt}


def eigenvalues(matrix: np.ndarray) -> np.ndarray:
    """All eigenvalues of a small dense matrix."""
    return np.linalg.eigvals(np.asarray(matrix))


def _rate(kind: str, eigs: np.ndarray, h: float) -> float:
    """The local growth rate per unit time: max Re λ for the flow, log ρ(F′)/h for a scheme."""
    if kind == "flow":
        return float(np.max(eigs.real))
    return float(np.log(np.max(np.abs(eigs))) / h)


def _verdict_from_rate(rate: float) -> str:
    if not np.isfinite(rate) or rate > RATE_TOL:
        return "diverges"
    if rate < -RATE_TOL:
        return "converges"
    return "orbits"


def measured_verdict(times: np.ndarray, distances: np.ndarray) -> tuple[str, float]:
    """(verdict, rate) of a trajectory from its distances to x* at `times`.

    The growth rate compares the largest distance in the last quarter of the run with the
    largest in the second quarter: rate = log(max_last / max_second) / (time between them).
    Using maxima over windows longer than one rotation makes a closed orbit (an ellipse, whose
    distance to x* oscillates) read as rate 0. A non-finite state means "diverges"."""
    d = np.asarray(distances, dtype=float)
    if not np.all(np.isfinite(d)):
        return "diverges", float("inf")
    n = len(d) - 1
    q = n // 4
    second, last = d[q : 2 * q + 1], d[3 * q :]
    tiny = 1e-300
    dt = float(times[3 * q] - times[q])
    rate = float(np.log(max(last.max(), tiny) / max(second.max(), tiny)) / dt)
    if d[-1] <= 1e-10 * max(d[0], tiny):
        return "converges", rate
    return _verdict_from_rate(rate), rate


def _sorted(eigs: np.ndarray) -> np.ndarray:
    """Eigenvalues by decreasing imaginary part, then decreasing real part."""
    eigs = np.asarray(eigs, dtype=complex)
    return eigs[np.lexsort((-eigs.real, -eigs.imag))]


def format_eigenvalues(eigs: np.ndarray, digits: int = 6) -> str:
    """`a+bi; c-di` with ASCII signs (parseable), sorted by decreasing imaginary part."""
    out = []
    for v in _sorted(eigs):
        re, im = (0.0 if abs(p) < 0.5 * 10**-digits else p for p in (v.real, v.imag))
        out.append(f"{re:+.{digits}f}{im:+.{digits}f}i")
    return "; ".join(out)


def _matched_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a_i − b_j| over a nearest-neighbour pairing of two spectra of the same size."""
    a, rest = np.asarray(a, dtype=complex), list(np.asarray(b, dtype=complex))
    if len(a) != len(rest):
        return float("inf")
    err = 0.0
    for v in a:
        j = int(np.argmin([abs(v - w) for w in rest]))
        err = max(err, abs(v - rest.pop(j)))
    return float(err)


def _complex(ds: Any, name: str) -> np.ndarray:
    """A complex array stored as `<name>_real` and `<name>_imag`."""
    return np.asarray(ds[f"{name}_real"].values) + 1j * np.asarray(ds[f"{name}_imag"].values)


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


# ---------------------------------------------------------------------------------------------
# spectra: compute


SPECTRA_GAMES = {"dirac": "Dirac-GAN", "nk2d": "NK-2D"}
"""Config name → title of the games with closed-form spectra."""

DYNAMICS = ("flow", "simultaneous", "alternating")
PHASE_GRID = 25  # points per axis of the saved field (the phase-plane background)
_AXIS_LABELS = {"Dirac-GAN": ("θ", "ψ"), "NK-2D": ("a", "w₂")}


def _make_game(title: str, loss: str) -> Any:
    from ..games import DiracGAN, NagarajanKolter2D

    return {"Dirac-GAN": DiracGAN, "NK-2D": NagarajanKolter2D}[title](loss)


def spectra_num_steps(eta: float, horizon: float) -> int:
    """Steps of the discrete schemes: T / h, rounded to a multiple of 4 (the convergence verdict
    compares the second and the last quarter of the run)."""
    n = int(round(horizon / eta))
    return max(4 * (n // 4), 4)


def _product_field(fields: list) -> Callable:
    """The field of the product game of independent games: a state ((θ_1, …, θ_K),
    (ω_1, …, ω_K)) moves as each (θ_k, ω_k) under its own field. Simultaneous and alternating GD
    on the product are exactly the same schemes on every factor (each step acts factor by
    factor), so one compiled solve serves all the games and losses."""

    def field(x):
        outs = [f((t, w)) for f, t, w in zip(fields, x[0], x[1])]
        return tuple(o[0] for o in outs), tuple(o[1] for o in outs)

    return field


def _factor_paths(xs, num: int) -> list[np.ndarray]:
    """(T, d_k) flat paths of each factor of product states with a leading time axis."""
    from jax.flatten_util import ravel_pytree

    return [np.asarray(jax.vmap(lambda x, k=k: ravel_pytree((x[0][k], x[1][k]))[0])(xs))
            for k in range(num)]


def _simulate(games: list, eta: float, offset: float, num_steps: int) -> list[dict]:
    """Gradient flow (`ganflow.continuous.solve_ode`: diffrax Tsit5, rtol = atol = 1e-10) and
    simultaneous / alternating GD (`ganflow.training.run`) from x* + offset·(1, …, 1) for every
    game at once (as one product game). Returns per game {kind: path (T, 2)}; a non-finite
    state is +inf from then on."""
    from jax.flatten_util import ravel_pytree

    from ..continuous import solve_ode
    from ..training import AlternatingGDA, SimultaneousGDA, run

    fields = [g.vector_field(population=True) for g in games]
    stars = [ravel_pytree(g.equilibrium()) for g in games]
    starts = [unravel(flat + offset) for flat, unravel in stars]
    x0 = (tuple(x[0] for x in starts), tuple(x[1] for x in starts))
    field = _product_field(fields)
    h, n = eta, num_steps
    times = np.arange(n + 1) * h
    out = [{} for _ in games]

    def record(kind, paths):
        for k, path in enumerate(paths):
            path = np.array(path, dtype=float)
            bad = ~np.all(np.isfinite(path), axis=1)
            if bad.any():
                path[int(np.argmax(bad)):] = np.inf
            out[k][kind] = path

    sol = solve_ode(field, x0, 0.0, h * n, ts=jnp.asarray(times), rtol=1e-10, atol=1e-10)
    paths = _factor_paths(sol.xs, len(games))
    if not bool(sol.ok):  # a failed solve reads as "diverges"
        for p in paths:
            p[-1] = np.nan
    record("flow", paths)
    batch = lambda x: jax.tree_util.tree_map(lambda a: a[None], x)  # noqa: E731
    first = lambda x: jax.tree_util.tree_map(lambda a: a[0], x)  # noqa: E731
    for kind, scheme_cls in (("simultaneous", SimultaneousGDA), ("alternating", AlternatingGDA)):
        res = run(scheme_cls(field, h), batch(x0), n, save_every=1, blowup=np.inf)
        if not bool(res.diverged[0]):
            record(kind, _factor_paths(first(res.xs), len(games)))
            continue
        # an overflow in one factor froze them all: run the games one by one instead
        paths = []
        for f, x in zip(fields, starts):
            one = run(scheme_cls(f, h), batch(x), n, save_every=1, blowup=1e100)
            path = np.asarray(jax.vmap(lambda y: ravel_pytree(y)[0])(first(one.xs)))
            if bool(one.diverged[0]):
                path[int(one.diverged_step[0]):] = np.inf
            paths.append(path)
        record(kind, paths)
    return out


def _field_grid(field: Callable, x_star: Any, offset: float) -> tuple[np.ndarray, ...]:
    """The field on the `PHASE_GRID`² grid of the phase-plane window (a square of half-width
    max(1.6·offset, 0.5) around x*, the window `ganflow.plotting.phase_plane` chooses for
    trajectories that start at x* + offset·(1, 1)): (xs, ys, u, v), u and v of shape (gy, gx)."""
    from jax.flatten_util import ravel_pytree

    star, unravel = ravel_pytree(x_star)
    star = np.asarray(star, dtype=float)
    half = max(1.6 * offset, 0.5)
    xs = np.linspace(star[0] - half, star[0] + half, PHASE_GRID)
    ys = np.linspace(star[1] - half, star[1] + half, PHASE_GRID)
    gx, gy = np.meshgrid(xs, ys)
    flat = jax.jit(jax.vmap(lambda p: ravel_pytree(field(unravel(p)))[0]))
    uv = np.asarray(flat(jnp.asarray(np.stack([gx.ravel(), gy.ravel()], axis=1))), dtype=float)
    return xs, ys, uv[:, 0].reshape(gx.shape), uv[:, 1].reshape(gx.shape)


def spectra_dataset(games: Sequence[str], losses: Sequence[str], *, eta: float, offset: float,
                    num_steps: int) -> Any:
    """The spectra experiment's results as one `xarray.Dataset`, dims (game, loss, dynamics,
    eig, time, coord, gy, gx):

    - `eig_real`/`eig_imag`: eigenvalues of J (`dynamics="flow"`), I + hJ and the alternating
      update Jacobian at x* computed by ganflow; `theory_real`/`theory_imag`: the closed forms;
      `eig_error`: the largest |ganflow − theory| (matched); `stability`: max Re λ (flow) or ρ;
    - `rate_theory`, `verdict_theory`: the local growth rate per unit time of the closed form
      and what it says (converges, orbits: neutral, diverges);
    - `path` (…, time, coord) and `distance` (…, time): the simulated trajectories from
      x* + offset·(1, 1) and their distances to x* (+inf after a blow-up); `rate_measured`,
      `verdict_measured`; `agree`;
    - `c`, `d`: the linearisation J(x*) = [[0, c], [−c, d]]; `x_star`, `axis_label` (game, coord);
      `grid_x`, `grid_y`, `field_u`, `field_v`: the field on the phase-plane window.
    """
    import xarray as xr

    from ..analysis import update_stability
    from ..dynamics import jacobian

    titles = [SPECTRA_GAMES[g] for g in games]
    instances = [_make_game(t, loss) for t in titles for loss in losses]
    sims = iter(_simulate(instances, eta, offset, num_steps))
    h = eta
    times = np.arange(num_steps + 1) * h
    ng, nl, nk = len(titles), len(losses), len(DYNAMICS)
    dim = 2
    eig = np.zeros((ng, nl, nk, dim), complex)
    theo = np.zeros_like(eig)
    err, stab, rate_t, rate_m = (np.zeros((ng, nl, nk)) for _ in range(4))
    verdict_t, verdict_m, agree = (np.empty((ng, nl, nk), dtype=object) for _ in range(3))
    paths = np.zeros((ng, nl, nk, num_steps + 1, dim))
    dists = np.zeros((ng, nl, nk, num_steps + 1))
    cs, ds_ = np.zeros((ng, nl)), np.zeros((ng, nl))
    stars = np.zeros((ng, dim))
    grid_x, grid_y = np.zeros((ng, PHASE_GRID)), np.zeros((ng, PHASE_GRID))
    fu, fv = np.zeros((ng, nl, PHASE_GRID, PHASE_GRID)), np.zeros((ng, nl, PHASE_GRID, PHASE_GRID))
    games_iter = iter(instances)
    for gi, title in enumerate(titles):
        for li, loss in enumerate(losses):
            game = next(games_iter)
            b = game.vector_field(population=True)
            x_star = game.equilibrium()
            star = np.concatenate([np.ravel(np.asarray(a, float))
                                   for a in jax.tree_util.tree_leaves(x_star)])
            if star.shape != (dim,):
                raise ValueError(f"{title} has {star.size} coordinates; spectra needs 2")
            stars[gi] = star
            c, d = _linearisation(title, loss)
            cs[gi, li], ds_[gi, li] = c, d
            theory = closed_form_eigenvalues(c, d, h)
            jac = np.asarray(jax.jit(lambda x, b=b: jacobian(b, x))(x_star))  # eager: 10× slower
            numeric = {
                "flow": eigenvalues(jac),
                "simultaneous": eigenvalues(np.eye(len(jac)) + h * jac),
                "alternating": np.asarray(
                    update_stability(b, x_star, eta=h, scheme="alternating").eigenvalues),
            }
            sim = next(sims)
            for ki, kind in enumerate(DYNAMICS):
                eig[gi, li, ki] = _sorted(numeric[kind])
                theo[gi, li, ki] = _sorted(theory[kind])
                err[gi, li, ki] = _matched_error(numeric[kind], theory[kind])
                stab[gi, li, ki] = (np.max(numeric[kind].real) if kind == "flow"
                                    else np.max(np.abs(numeric[kind])))
                rate_t[gi, li, ki] = _rate(kind, theory[kind], h)
                verdict_t[gi, li, ki] = predicted = _verdict_from_rate(rate_t[gi, li, ki])
                path = sim[kind]
                paths[gi, li, ki] = path
                dist = np.linalg.norm(path - star, axis=1)
                dist[~np.isfinite(dist)] = np.inf
                dists[gi, li, ki] = dist
                measured, rate = measured_verdict(times, dist)
                verdict_m[gi, li, ki], rate_m[gi, li, ki] = measured, rate
                if predicted == "orbits":
                    agree[gi, li, ki] = "yes" if measured == "orbits" else "n/a (neutral)"
                else:
                    same = (measured == "converges") == (predicted == "converges")
                    agree[gi, li, ki] = "yes" if same else "NO"
            xs, ys, u, v = _field_grid(b, x_star, offset)
            grid_x[gi], grid_y[gi], fu[gi, li], fv[gi, li] = xs, ys, u, v
    G, GL, GLK = ("game",), ("game", "loss"), ("game", "loss", "dynamics")
    data = {
        "eig_real": (GLK + ("eig",), eig.real), "eig_imag": (GLK + ("eig",), eig.imag),
        "theory_real": (GLK + ("eig",), theo.real), "theory_imag": (GLK + ("eig",), theo.imag),
        "eig_error": (GLK, err), "stability": (GLK, stab),
        "rate_theory": (GLK, rate_t), "verdict_theory": (GLK, verdict_t.astype(str)),
        "path": (GLK + ("time", "coord"), paths), "distance": (GLK + ("time",), dists),
        "rate_measured": (GLK, rate_m), "verdict_measured": (GLK, verdict_m.astype(str)),
        "agree": (GLK, agree.astype(str)),
        "c": (GL, cs), "d": (GL, ds_),
        "x_star": (G + ("coord",), stars),
        "axis_label": (G + ("coord",), np.array([_AXIS_LABELS[t] for t in titles])),
        "grid_x": (G + ("gx",), grid_x), "grid_y": (G + ("gy",), grid_y),
        "field_u": (GL + ("gy", "gx"), fu), "field_v": (GL + ("gy", "gx"), fv),
    }
    return xr.Dataset(
        data,
        coords={"game": list(titles), "loss": list(losses), "dynamics": list(DYNAMICS),
                "time": times, "step": ("time", np.arange(num_steps + 1))},
        attrs={"eta": float(eta), "offset": float(offset), "num_steps": int(num_steps),
               "horizon": float(eta * num_steps), "rate_tol": RATE_TOL},
    )


# ---------------------------------------------------------------------------------------------
# spectra: render


_THEORY_TEXT = {
    ("Dirac-GAN", "flow"): "±f′(0)i",
    ("Dirac-GAN", "simultaneous"): "1 ± ihf′(0), |λ| = sqrt(1 + h²f′(0)²)",
    ("Dirac-GAN", "alternating"): "1 − α²/2 ± sqrt((1 − α²/2)² − 1), α = hf′(0): |λ| = 1",
    ("NK-2D", "flow"): "d/2 ± sqrt(d²/4 − c²), c = 2f′(0)/3, d = 2f″(0)/5",
    ("NK-2D", "simultaneous"): "1 + hλ(J)",
    ("NK-2D", "alternating"): "roots of μ² − (2 − h²c² + hd)μ + 1 + hd, |μ|² = 1 + hd",
}
_DYNAMICS = {"flow": "gradient flow ẋ = b0 (J)", "simultaneous": "simultaneous GD (I + hJ)",
             "alternating": "alternating GD (F′)"}


def _grid_field(xs: np.ndarray, ys: np.ndarray, u: np.ndarray, v: np.ndarray) -> Callable:
    """The saved field as a function of (2,) points: the value at the nearest grid point (exact
    on the grid, which is where `phase_plane` evaluates it with these bounds and `grid`)."""
    table = jnp.asarray(np.stack([u, v], axis=-1))
    x0, dx, y0, dy = xs[0], xs[1] - xs[0], ys[0], ys[1] - ys[0]

    def field(p):
        i = jnp.clip(jnp.round((p[0] - x0) / dx), 0, len(xs) - 1).astype(jnp.int32)
        j = jnp.clip(jnp.round((p[1] - y0) / dy), 0, len(ys) - 1).astype(jnp.int32)
        return table[j, i]

    return field


def render_spectra(ds: Any, out: Path) -> ReportPart:
    """The spectra table (ganflow beside the closed forms, simulated verdicts) and the
    trajectory and spectrum figures, from a `spectra_dataset` alone."""
    from .. import plotting
    from ..plotting._common import new_figure, save

    out = Path(out)
    h, offset, horizon = float(ds.attrs["eta"]), float(ds.attrs["offset"]), float(
        ds.attrs["horizon"])
    eig, theo = _complex(ds, "eig"), _complex(ds, "theory")
    titles = [str(g) for g in ds["game"].values]
    losses = [str(v) for v in ds["loss"].values]
    kinds = [str(k) for k in ds["dynamics"].values]
    val = {k: np.asarray(ds[k].values) for k in (
        "eig_error", "stability", "rate_theory", "verdict_theory", "rate_measured",
        "verdict_measured", "agree", "path", "distance", "x_star", "axis_label", "grid_x",
        "grid_y", "field_u", "field_v")}
    rows, figures, mismatches = [], [], []
    for gi, title in enumerate(titles):
        ncol = len(losses)
        traj_fig, traj_axes = new_figure(1, ncol, size=(4.4 * ncol, 5.0))
        spec_fig, spec_axes = new_figure(2, ncol, size=(4.4 * ncol, 11.2))
        spec_fig.set_layout_engine("compressed")  # room for the legends below square panels
        star = val["x_star"][gi]
        xs, ys = val["grid_x"][gi], val["grid_y"][gi]
        for li, loss in enumerate(losses):
            for ki, kind in enumerate(kinds):
                err = float(val["eig_error"][gi, li, ki])
                if err > MATCH_TOL:
                    mismatches.append(f"{title}/{loss}/{kind}: {err:.2e}")
                local_rate = float(val["rate_theory"][gi, li, ki])
                theory_says = {
                    "converges": f"yes (rate {local_rate:+.4f})",
                    "diverges": f"no: x* repels (rate {local_rate:+.4f})",
                    "orbits": "undecided: neutral (a centre)",
                }[str(val["verdict_theory"][gi, li, ki])]
                dist = val["distance"][gi, li, ki]
                measured = str(val["verdict_measured"][gi, li, ki])
                rate = float(val["rate_measured"][gi, li, ki])
                modulus = "max Re λ" if kind == "flow" else "ρ"
                rows.append([
                    title, loss, _DYNAMICS[kind], format_eigenvalues(eig[gi, li, ki]),
                    f"{_THEORY_TEXT[(title, kind)]} = {format_eigenvalues(theo[gi, li, ki])}",
                    f"{modulus} = {float(val['stability'][gi, li, ki]):.6f}", f"{err:.1e}",
                    theory_says,
                    f"{'yes' if measured == 'converges' else 'no'}: {measured} "
                    f"(‖x−x*‖ {dist[0]:.3g} → {dist[-1]:.3g}; rate {rate:+.4f})",
                    str(val["agree"][gi, li, ki]),
                ])
            paths = val["path"][gi, li]
            plotting.phase_plane(
                _grid_field(xs, ys, val["field_u"][gi, li], val["field_v"][gi, li]),
                equilibrium=star, labels=tuple(str(a) for a in val["axis_label"][gi]),
                bounds=((xs[0], xs[-1]), (ys[0], ys[-1])), grid=len(xs),
                ax=traj_axes[0, li], legend=False, title=f"{title}, {loss}",
                trajectories={
                    "gradient flow": paths[kinds.index("flow")],
                    f"simultaneous GD, h = {h:g}": paths[kinds.index("simultaneous")],
                    f"alternating GD, h = {h:g}": paths[kinds.index("alternating")],
                },
            )
            k_flow, k_sim, k_alt = (kinds.index(k) for k in DYNAMICS)
            plotting.eigenvalue_plane(
                {"J (ganflow)": eig[gi, li, k_flow], "closed form": theo[gi, li, k_flow]},
                ax=spec_axes[0, li], title=f"{title}, {loss}: J at x*")
            plotting.eigenvalue_plane(  # all near 1 for small h: an inset zooms onto them
                {"simultaneous I + hJ": eig[gi, li, k_sim],
                 "alternating F′": eig[gi, li, k_alt],
                 "closed forms": np.concatenate([theo[gi, li, k_sim], theo[gi, li, k_alt]])},
                unit_circle=True, zoom="auto", ax=spec_axes[1, li],
                title=f"update operators, h = {h:g}")
            for ax in spec_axes[:, li]:  # below the panel: eigenvalues near the top stay in view
                ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=7,
                          markerscale=0.7)
        slug = _slug(title)
        handles, names = traj_axes[0, 0].get_legend_handles_labels()
        traj_fig.legend(handles, names, loc="outside lower center", ncol=len(names), fontsize=8)
        traj_fig.suptitle(f"{title}: trajectories from x* + {offset:g}·(1, 1) over T = {horizon:g}")
        spec_fig.suptitle(f"{title}: eigenvalues at the equilibrium")
        for stem, fig in (("trajectories", traj_fig), ("spectra", spec_fig)):
            figures.append(out / f"{stem}_{slug}.png")
            save(fig, figures[-1])

    header = ["game", "loss", "dynamics", "eigenvalues (ganflow)", "theory (closed form)",
              "stability value", "|ganflow − theory|", "converges? (theory)",
              "converges? (simulated)", "agree?"]
    text = f"""Each row is one game (at its equilibrium x*: Dirac-GAN (θ, ψ) = (0, 0); NK-2D
(a, w₂) = (1, 0)), one loss (gan: logistic, zero-sum; nsgan: logistic discriminator with the
non-saturating generator loss; wgan: f(t) = t) and one dynamics:

- **gradient flow**: the eigenvalues of J = ∂b0/∂x at x* (dense `ganflow.analysis.eigenvalues`);
  the flow is locally stable when every Re λ < 0 (stability value: max Re λ);
- **simultaneous GD** with h = {h:g}: the eigenvalues of its update operator F′ = I + hJ;
- **alternating GD** with h = {h:g} (discriminator step first, n_d = n_g = 1): the eigenvalues of
  the exact Jacobian of one round (`ganflow.analysis.update_stability`); a scheme is locally
  stable when ρ(F′) < 1 (stability value: ρ).

*theory* gives the closed form (both games linearise to J = [[0, c], [−c, d]]: Dirac-GAN c = f′(0),
d = 0; NK-2D c = 2f′(0)/3, d = 2f″(0)/5) and its value; *|ganflow − theory|* is the largest
difference between the two spectra. *converges? (theory)* turns the closed-form spectrum into
a local growth rate per unit time (max Re λ, or log ρ / h): below −{RATE_TOL:g} x* attracts
("yes"), above +{RATE_TOL:g} it repels ("no"), in between the linearisation is a centre and
cannot decide (the nonlinear terms do). *converges? (simulated)* runs the dynamics from
x* + {offset:g}·(1, 1) for time T = {horizon:g} (the flow with diffrax Tsit5
at rtol = atol = 1e-10, `ganflow.continuous.solve_ode`; the schemes with `ganflow.training.run`)
and applies the same thresholds to the measured growth rate of the distance to x* (largest
distance in the last quarter against the second quarter): converges, orbits (bounded, no
convergence) or diverges. *agree?* says whether the simulation confirms the theory ("n/a" where
the theory is neutral).

{markdown_table(header, rows)}
"""
    if mismatches:
        text += (f"\n**Closed form and ganflow disagree** (above {MATCH_TOL_TEXT}) for: "
                 + ", ".join(mismatches) + "\n")
    else:
        text += f"\nEvery ganflow spectrum matches its closed form to {MATCH_TOL_TEXT}.\n"
    disagree = [f"{r[0]}/{r[1]}/{r[2]}" for r in rows if r[-1] == "NO"]
    neutral = [f"{r[0]}/{r[1]}/{r[2]}" for r in rows if r[-1].startswith("n/a")]
    if disagree:
        text += "\n**Simulation and theory disagree** for: " + ", ".join(disagree) + ".\n"
    else:
        text += "\nWhere the theory decides, every simulation agrees with it.\n"
    if neutral:
        text += "\nNeutral linearisations settled by the nonlinear terms: " + ", ".join(neutral)
        if any(n.startswith("Dirac-GAN/nsgan") for n in neutral):
            text += (" (the non-saturating Dirac-GAN spirals in slowly: with u = ψθ,"
                     " d(θ² + ψ²)/dt = 2u(σ(−u) − σ(u)) ≤ 0 along its flow)")
        text += ".\n"
    return ReportPart(text, figures)


# ---------------------------------------------------------------------------------------------
# the atlas: every column of `convergence_atlas`'s rows, per cell × η


ATLAS_CELL = ("game", "loss", "stabiliser", "scheme")
"""The row keys that name a cell (the coordinates of the `cell` dimension)."""


def _column(values: list) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind == "O":  # strings (or mixed values) as fixed-width text
        arr = np.asarray([str(v) for v in values])
    return arr


def atlas_dataset(atlas: Any) -> Any:
    """An `Atlas` (`convergence_atlas`) as an `xarray.Dataset` with dims (cell, eta): cell
    coordinates game, loss, stabiliser, scheme; one variable per other column of its rows
    (whatever columns the atlas returns); its settings (`config`) and the combinations that do
    not apply (`skipped`) as JSON attributes."""
    import xarray as xr

    cells: list[tuple] = []
    etas: list[float] = []
    by_key: dict[tuple, dict] = {}
    columns: list[str] = []
    for row in atlas.rows:
        cell = tuple(str(row[k]) for k in ATLAS_CELL)
        eta = float(row["eta"])
        if cell not in cells:
            cells.append(cell)
        if eta not in etas:
            etas.append(eta)
        by_key[(cell, eta)] = row
        for k in row:
            if k not in ATLAS_CELL and k != "eta" and k not in columns:
                columns.append(k)
    data = {}
    for col in columns:
        values = []
        for cell in cells:
            for eta in etas:
                row = by_key.get((cell, eta))
                if row is None:
                    raise ValueError(f"the atlas has no row for {'/'.join(cell)} at eta={eta}")
                values.append(row[col])
        arr = _column(values)
        data[col] = (("cell", "eta"), arr.reshape((len(cells), len(etas)) + arr.shape[1:]))
    coords = {k: ("cell", np.asarray([c[i] for c in cells], dtype=str))
              for i, k in enumerate(ATLAS_CELL)}
    coords["eta"] = np.asarray(etas, dtype=float)
    config = {k: v for k, v in atlas.config.items()}
    return xr.Dataset(
        data, coords=coords,
        attrs={"atlas_config": json.dumps(config, default=str),
               "skipped": json.dumps([list(s) for s in atlas.skipped]),
               "columns": json.dumps(["game", "loss", "stabiliser", "scheme", "eta", *columns])},
    )


def _py(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def atlas_from_dataset(ds: Any) -> Any:
    """The `Atlas` of an `atlas_dataset` (rows in their original order, cells per
    game/loss/stabiliser/scheme with their η-arrays)."""
    from ._atlas import Atlas

    columns = json.loads(ds.attrs["columns"])
    values = {k: np.asarray(ds[k].values) for k in ds.data_vars}
    keys = {k: [str(v) for v in ds[k].values] for k in ATLAS_CELL}
    etas = np.asarray(ds["eta"].values, dtype=float)
    rows, cells = [], {}
    for ci in range(ds.sizes["cell"]):
        cell = tuple(keys[k][ci] for k in ATLAS_CELL)
        for ei, eta in enumerate(etas):
            row = dict(zip(ATLAS_CELL, cell))
            row["eta"] = float(eta)
            row.update({k: _py(values[k][ci, ei]) for k in values})
            rows.append({k: row[k] for k in columns if k in row})
        cells[cell] = {"eta": etas, **{k: values[k][ci] for k in values}}
    skipped = [tuple(s) for s in json.loads(ds.attrs["skipped"])]
    return Atlas(rows=rows, cells=cells, config=json.loads(ds.attrs["atlas_config"]),
                 skipped=skipped)


_ATLAS_DOC = {
    "frac_converged": "the fraction of seeds within tol of x* at the end",
    "frac_diverged": "the fraction flagged diverged (non-finite or beyond the blow-up bound)",
    "rate_measured": "the median over seeds of the fitted per-step factor of ‖x_k − x*‖",
    "rate_band": "the tolerance on log(rate_measured) within which it counts as 1",
    "rho_theory": "the spectral radius ρ(F′(x*)) of the actual update map (Mescheder 2017: "
                  "local convergence iff ρ < 1)",
    "rate_rel_err": "|rate_measured − ρ| / ρ",
    "verdict": "what the runs say: converges (every seed within tol), slow (contracting, not "
               "yet within tol), orbits (no trend), diverges",
    "verdict_theory": "what ρ says: converges (ρ < 1), orbits (ρ = 1 to its precision), "
                      "diverges (ρ > 1)",
    "agree": "the measurement agrees with the local theory",
    "steps_to_tol": "n* = log(tol/d0)/log ρ, the steps the linearisation needs from the "
                    "largest initial distance d0 (– when ρ ≥ 1)",
    "max_re_eig_field": "max Re λ of the Jacobian of the stabilised field",
    "max_re_eig_modified": "the same for its first-order modified field (Cao–Guo eqs. 13, 10)",
}


def render_atlas(ds: Any, out: Path) -> ReportPart:
    """The atlas table (`Atlas.to_markdown` of the saved rows) and its heatmaps
    (`Atlas.plot`), from an `atlas_dataset` alone."""
    out = Path(out)
    atlas = atlas_from_dataset(ds)
    cfg = atlas.config
    figures = []
    if atlas.rows:
        figures.append(out / "atlas.png")
        atlas.plot(path=figures[-1])
    columns = [c for c in json.loads(ds.attrs["columns"]) if c not in ATLAS_CELL + ("eta",)]
    known = "; ".join(f"*{c}*: {_ATLAS_DOC[c]}" for c in columns if c in _ATLAS_DOC)
    others = [c for c in columns if c not in _ATLAS_DOC]
    text = f"""Every row is one game × loss × stabiliser × scheme × learning rate η
(`ganflow.experiments.convergence_atlas`): {cfg['num_seeds']} initial states
x* + {cfg['radius']:g}·N(0, I) trained for {cfg['num_steps']} steps (tol = {cfg['tol']:g})."""
    if known:
        text += f"\nColumns: {known}."
    if others:
        text += (" Further columns (see `convergence_atlas`): "
                 + ", ".join(f"*{c}*" for c in others) + ".")
    if atlas.rows:
        counts = ", ".join(f"{k} {v}" for k, v in atlas.verdict_counts().items())
        text += f"""

Measurement agrees with theory in {100 * atlas.agreement():.0f} % of the rows
({len(atlas.cells)} cells × {ds.sizes['eta']} learning rates; measured verdicts: {counts};
{cfg.get('seconds', float('nan')):.1f} s).

{atlas.to_markdown()}
"""
    else:
        text += "\n\nNo combination of this configuration applies: the atlas is empty.\n"
    if atlas.skipped:
        text += "\nCombinations that do not apply:" + "".join(
            f"\n- {g}/{l}/{st}/{sc}: {why}" for g, l, st, sc, why in atlas.skipped) + "\n"
    return ReportPart(text, figures)


# ---------------------------------------------------------------------------------------------
# sde: an ensemble of the R1-regularised Dirac-GAN SDE


def sde_datasets(*, seeds: int, seed: int, t1: float, dt: float, save_every: int, gamma: float,
                 eta: float, batch: int, x0: tuple[float, float],
                 progress: bool | None = False) -> tuple[Any, Any]:
    r"""An Euler–Maruyama ensemble of $dx = b(x)\,dt + σ\,dW$ with b the field of the
    R1-regularised Dirac-GAN (WGAN loss, penalty γ), σ = sqrt(η/B), against the exact mean.

    With f(t) = t the field is linear, $b(x) = Ax$ with $A = [[0, 1], [-1, -γ]]$ (ganflow's
    convention Φ = −ψθ − (γ/2)ψ²), so the mean of the SDE solves the ODE exactly:
    $E x(t) = e^{tA} x_0$ for additive noise. The Dirac-GAN has no gradient noise (one data point,
    Σ = 0), so the diffusion is a constant σ = sqrt(η/B), the scale of the Cao–Guo SDE (eq. 9)
    for unit per-example gradient variance.

    **Returns:** (ensemble, checks): the engine's dataset of `ganflow.continuous.sde_ensemble`
    with the paths as `theta`, `psi` (seed, step) and `status`; and the derived checks over the
    save times (`time`, `coord`): `mean`, `stderr` (over the finite seeds), `exact_mean`
    e^{tA}x0, `em_mean` (I + dt A)^k x0, `ode` (`solve_ode`), `z` = |mean − em_mean|/stderr,
    `spread` (sd at t1), `num_finite`.
    """
    import xarray as xr

    from ..continuous import SDE, ConstantDiffusion, sde_ensemble, solve_ode
    from ..games import DiracGAN
    from ..stabilisers import R1, stabilise

    sigma = float(np.sqrt(eta / batch))
    game = DiracGAN("wgan")
    field = stabilise(game, R1(gamma), population=True)
    start = game.make_state(*x0)
    keys = jax.random.split(jax.random.key(seed), seeds)
    sol = sde_ensemble(SDE(field, ConstantDiffusion(sigma)), start, 0.0, t1, dt=dt, keys=keys,
                       save_every=save_every, progress=progress)
    ts = np.asarray(sol.ts)
    paths = np.stack([np.asarray(sol.xs[0].theta), np.asarray(sol.xs[1].psi)], axis=-1)
    ok = np.all(np.isfinite(paths), axis=(1, 2))
    a_mat = np.array([[0.0, 1.0], [-1.0, -gamma]])
    x0v = np.asarray(x0, dtype=float)
    expm = jax.vmap(lambda t: jax.scipy.linalg.expm(t * jnp.asarray(a_mat)) @ jnp.asarray(x0v))
    exact = np.asarray(expm(jnp.asarray(ts)))
    flow = solve_ode(field, start, 0.0, t1, ts=jnp.asarray(ts), rtol=1e-10, atol=1e-10)
    flow_path = np.stack([np.asarray(flow.xs[0].theta), np.asarray(flow.xs[1].psi)], axis=-1)
    # the exact mean of the Euler–Maruyama chain itself: (I + dt A)^k x0 (additive noise)
    steps = np.round(ts / dt).astype(int)
    em_step = np.eye(2) + dt * a_mat
    em_exact = np.stack([np.linalg.matrix_power(em_step, k) @ x0v for k in steps])
    mean = paths[ok].mean(axis=0)
    stderr = paths[ok].std(axis=0, ddof=1) / np.sqrt(ok.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(stderr > 0, np.abs(mean - em_exact) / stderr, 0.0).max(axis=1)
    spread = paths[ok][:, -1].std(axis=0)

    ens = sol.dataset
    names = sorted(k for k in ens.data_vars if k.startswith("x_"))
    ens = ens.rename({names[0]: "theta", names[1]: "psi"})
    ens["theta"].attrs["long_name"] = "θ (generator)"
    ens["psi"].attrs["long_name"] = "ψ (discriminator)"
    TC = ("time", "coord")
    checks = xr.Dataset(
        {"mean": (TC, mean), "stderr": (TC, stderr), "exact_mean": (TC, exact),
         "em_mean": (TC, em_exact), "ode": (TC, flow_path), "z": (("time",), z),
         "spread": (("coord",), spread), "num_finite": ((), int(ok.sum()))},
        coords={"time": ts, "coord": ["theta", "psi"]},
        attrs={"seeds": int(seeds), "t1": float(t1), "dt": float(dt), "gamma": float(gamma),
               "eta": float(eta), "batch": int(batch), "sigma": sigma,
               "x0": [float(v) for v in x0v], "save_every": int(save_every)},
    )
    return ens, checks


def render_sde(ens: Any, checks: Any, out: Path) -> ReportPart:
    """The checks table and the ensemble figure, from `sde_datasets` alone."""
    from .. import plotting

    out = Path(out)
    a = checks.attrs
    seeds, t1, dt, gamma = int(a["seeds"]), float(a["t1"]), float(a["dt"]), float(a["gamma"])
    sigma, eta, batch = float(a["sigma"]), float(a["eta"]), int(a["batch"])
    x0 = [float(v) for v in a["x0"]]
    ts = np.asarray(checks["time"].values)
    mean, exact = np.asarray(checks["mean"].values), np.asarray(checks["exact_mean"].values)
    em_exact, ode = np.asarray(checks["em_mean"].values), np.asarray(checks["ode"].values)
    z, spread = np.asarray(checks["z"].values), np.asarray(checks["spread"].values)
    paths = np.stack([np.asarray(ens["theta"].values), np.asarray(ens["psi"].values)], axis=-1)
    ok = np.all(np.isfinite(paths), axis=(1, 2))
    figure = out / "sde_ensemble.png"
    plotting.ensemble_plot(ts, paths[ok], labels=["θ", "ψ"], reference=exact,
                           reference_label="exact mean e^(tA) x0",
                           title=f"R1 Dirac-GAN SDE (WGAN, γ = {gamma:g}, σ = {sigma:.3g}), "
                                 f"Euler–Maruyama dt = {dt:g}",
                           path=figure)
    checks_rows = [
        ["seeds finite at the end", f"{int(checks['num_finite'].values)} / {seeds}"],
        ["max over t of |ensemble mean − (I + dt A)^k x0| in standard errors (the exact mean "
         "of the Euler–Maruyama chain: Monte Carlo error only)", f"{z[1:].max():.2f}"],
        ["max over t of |ensemble mean − e^(tA) x0| (Monte Carlo error and O(dt) bias)",
         f"{np.abs(mean - exact).max():.2e}"],
        ["max over t of |(I + dt A)^k x0 − e^(tA) x0| (the O(dt) bias alone)",
         f"{np.abs(em_exact - exact).max():.2e}"],
        ["max over t of |ODE solve (`solve_ode`) − e^(tA) x0|",
         f"{np.abs(ode - exact).max():.2e}"],
        [f"spread at t = {t1:g}: sd(θ), sd(ψ)", f"{spread[0]:.4f}, {spread[1]:.4f}"],
    ]
    table = markdown_table(["check", "value"], checks_rows)
    text = f"""An ensemble of {seeds} paths of the SDE dx = b(x) dt + σ dW
(`ganflow.continuous.sde_ensemble`, Euler–Maruyama, dt = {dt:g}, to t = {t1:g}), b the field of
the Dirac-GAN with the WGAN loss and the R1 penalty γ = {gamma:g} (`ganflow.stabilisers.R1`),
σ = sqrt(η/B) = {sigma:.4f} (η = {eta:g}, B = {batch}; the Dirac-GAN itself has no gradient
noise, so the noise is additive), from (θ, ψ) = ({x0[0]:g}, {x0[1]:g}). The field is linear,
b(x) = A x with A = [[0, 1], [−1, −γ]], so the exact mean is E x(t) = e^(tA) x0.

{table}

With additive noise the Euler–Maruyama mean follows x ← (I + dt A) x exactly, so the second row
compares the ensemble with its own exact mean (a value of about 3 or less is Monte Carlo noise over
{len(ts) - 1} correlated save times); e^(tA) x0 differs from it by the O(dt) weak error of
Euler–Maruyama (fourth row).
"""
    return ReportPart(text, [figure])


# ---------------------------------------------------------------------------------------------
# weak-error: deterministic orders of the R1 Dirac-GAN


_ODE_NAME = {"flow": "gradient flow ẋ = b", "simultaneous": "eq. 13: b − (η/2)Jb",
             "alternating": "eq. 10: b + ηb1"}
ORDER_TOL = 0.1  # |fitted slope − expected order| counted as agreement


def weak_error_cases(cross_check: bool) -> list[tuple[str, str, float]]:
    """(scheme, ODE, expected order): Cao–Guo Theorems 1, 2 and Remark 1; `cross_check` adds
    alternating GD against eq. 13 (order 1: b1 is its own correction)."""
    cases = [("simultaneous", "flow", 1.0), ("simultaneous", "simultaneous", 2.0),
             ("alternating", "flow", 1.0), ("alternating", "alternating", 2.0)]
    if cross_check:
        cases.append(("alternating", "simultaneous", 1.0))
    return cases


def weak_error_dataset(*, etas: Sequence[float], horizon: float, gamma: float, loss: str,
                       x0: tuple[float, float], cross_check: bool) -> Any:
    """Deterministic (full-batch) weak errors of simultaneous and alternating GD on the
    R1-regularised Dirac-GAN against the gradient flow and the modified equations (Cao–Guo
    Theorems 1, 2; eqs. 10, 13), `ganflow.analysis.deterministic_weak_error`: dims (case, eta);
    `errors` (case, eta), the fit `slope`, `intercept`, `slope_se`, `ci_low`, `ci_high` and
    `expected_order` (case); case coordinates `scheme`, `against` (flow / simultaneous: eq. 13 /
    alternating: eq. 10)."""
    import xarray as xr

    from ..analysis import alternating_update, deterministic_weak_error, simultaneous_update
    from ..games import DiracGAN
    from ..stabilisers import R1, stabilise

    game = DiracGAN(loss)
    field = stabilise(game, R1(gamma), population=True)
    start = game.make_state(*x0)
    steps = {
        "simultaneous": lambda x, eta: simultaneous_update(field, x, eta=eta),
        "alternating": lambda x, eta: alternating_update(field, x, eta=eta),
    }
    cases = weak_error_cases(cross_check)
    etas = np.asarray(etas, dtype=float)
    out = {k: [] for k in ("errors", "slope", "intercept", "slope_se", "ci_low", "ci_high")}
    for scheme, against, _ in cases:
        res = deterministic_weak_error(steps[scheme], field, start, etas, horizon,
                                       modified=None if against == "flow" else against)
        out["errors"].append(np.asarray(res.errors, dtype=float))
        for k in ("slope", "intercept", "slope_se"):
            out[k].append(float(getattr(res, k)))
        lo, hi = (float(v) for v in res.ci)
        out["ci_low"].append(lo)
        out["ci_high"].append(hi)
    C = ("case",)
    data = {"errors": (("case", "eta"), np.stack(out["errors"])),
            "expected_order": (C, np.asarray([c[2] for c in cases]))}
    data.update({k: (C, np.asarray(out[k])) for k in out if k != "errors"})
    return xr.Dataset(
        data,
        coords={"eta": etas, "scheme": (C, [c[0] for c in cases]),
                "against": (C, [c[1] for c in cases])},
        attrs={"horizon": float(horizon), "gamma": float(gamma), "loss": loss,
               "x0": [float(v) for v in x0], "order_tol": ORDER_TOL},
    )


def render_weak_error(ds: Any, out: Path) -> ReportPart:
    """The orders table and the log-log figure, from a `weak_error_dataset` alone."""
    from .. import plotting

    out = Path(out)
    etas = np.asarray(ds["eta"].values, dtype=float)
    gamma, horizon = float(ds.attrs["gamma"]), float(ds.attrs["horizon"])
    loss, x0 = str(ds.attrs["loss"]), [float(v) for v in ds.attrs["x0"]]
    tol = float(ds.attrs.get("order_tol", ORDER_TOL))
    v = {k: np.asarray(ds[k].values) for k in ("errors", "slope", "intercept", "ci_low",
                                               "ci_high", "expected_order", "scheme",
                                               "against")}
    series, rows = {}, []
    for i in range(ds.sizes["case"]):
        scheme, against = str(v["scheme"][i]), str(v["against"][i])
        expected, slope = float(v["expected_order"][i]), float(v["slope"][i])
        errors = v["errors"][i]
        series[f"{scheme} GD vs {_ODE_NAME[against]}"] = {
            "etas": etas, "errors": errors, "slope": slope,
            "intercept": float(v["intercept"][i]),
            "ci": np.array([v["ci_low"][i], v["ci_high"][i]], dtype=float)}
        rows.append([scheme, _ODE_NAME[against], f"{expected:g}", f"{slope:.3f}",
                     f"[{float(v['ci_low'][i]):.3f}, {float(v['ci_high'][i]):.3f}]",
                     f"{float(errors[0]):.2e}", f"{float(errors[-1]):.2e}",
                     "yes" if abs(slope - expected) < tol else "NO"])
    figure = out / "weak_error.png"
    plotting.weak_error_plot(series, title=f"R1 Dirac-GAN (γ = {gamma:g}), T = {horizon:g}",
                             path=figure)
    header = ["scheme", "against", "expected order", "fitted slope", "95 % CI",
              f"e(η = {etas[0]:g})", f"e(η = {etas[-1]:g})", f"within {tol:g}?"]
    failed = [f"{r[0]} vs {r[1]} (slope {r[3]}, expected {r[2]})" for r in rows if r[-1] == "NO"]
    verdict = ("Every fitted order is within {tol:g} of the theorem's." if not failed else
               "**Orders off by more than {tol:g}**: " + "; ".join(failed) + ".").format(tol=tol)
    text = f"""The full-batch weak error e(η) = max over kη ≤ T of ‖x_k − X(kη)‖ of the discrete
scheme against an ODE (`ganflow.analysis.deterministic_weak_error`; diffrax Dopri8 at
rtol = atol = 1e-12), for the Dirac-GAN ({loss} loss) with the R1 penalty γ = {gamma:g}, from
(θ, ψ) = ({x0[0]:g}, {x0[1]:g}) to T = {horizon:g}, η = {', '.join(f'{e:g}' for e in etas)}. The
order is the least-squares slope of log e against log η. Cao–Guo: simultaneous GD is order 1
against the gradient flow and order 2 against its modified equation (Remark 1, eq. 13);
alternating GD is order 1 against the flow and order 2 against eq. 10 (b1 is its own correction;
against eq. 13 it stays order 1).

{markdown_table(header, rows)}

{verdict}
"""
    return ReportPart(text, [figure])
