r"""The sections of the main job. A section is a function `(config, out_dir) -> SectionResult`
that writes its figures into `out_dir` as it goes and returns a Markdown fragment; `SECTIONS`
lists them in run order, so adding one is one entry.

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

**atlas** (issue 3): the default `convergence_atlas` (four games), table and heatmaps.
**sde** (issue 4): an Euler–Maruyama ensemble of the R1-regularised Dirac-GAN SDE (Cao–Guo
eq. 9 with additive noise) against its exact mean. **weak-error** (issue 4): the deterministic
orders of simultaneous and alternating GD on the R1 Dirac-GAN (Cao–Guo Theorems 1, 2; eqs. 10, 13).
"""

import dataclasses
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ._config import RunConfig
from ._report import SectionResult, markdown_table

SectionFn = Callable[[RunConfig, Path], SectionResult]

LOSSES = ("gan", "nsgan", "wgan")
RATE_TOL = 1e-3  # |growth rate| per unit time below which a run counts as orbiting


@dataclasses.dataclass(frozen=True)
class Section:
    """A named part of the report: `run(config, out_dir)` returns a `SectionResult`."""

    name: str
    title: str
    run: SectionFn
    description: str


# ---------------------------------------------------------------------------------------------
# closed forms


# f′(0) and f″(0) of each loss (docs/conventions.md §The game): logistic f(t) = −log(1 + e^{−t}) has
# f′(0) = 1/2, f″(0) = −1/4 (the non-saturating variant shares the discriminator's f and, at x*,
# the Jacobian); WGAN f(t) = t has f′(0) = 1, f″(0) = 0.
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


def format_eigenvalues(eigs: np.ndarray, digits: int = 6) -> str:
    """`a+bi; c-di` with ASCII signs (parseable), sorted by decreasing imaginary part."""
    eigs = np.asarray(eigs, dtype=complex)
    eigs = eigs[np.lexsort((-eigs.real, -eigs.imag))]
    out = []
    for v in eigs:
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


# ---------------------------------------------------------------------------------------------
# the spectra section


def _games():
    from ..games import DiracGAN, NagarajanKolter2D

    return {
        "Dirac-GAN": (DiracGAN, ("θ", "ψ")),
        "NK-2D": (NagarajanKolter2D, ("a", "w₂")),
    }


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


def _simulate(games: list, config: RunConfig) -> list[dict]:
    """Gradient flow (`ganflow.continuous.solve_ode`: diffrax Tsit5, rtol = atol = 1e-10) and
    simultaneous / alternating GD (`ganflow.training.run`) from x* + offset·(1, …, 1) for every
    game at once (as one product game). Returns per game {kind: (times, path (T, 2),
    distances (T,))}; a non-finite state gives infinite distances from then on."""
    from jax.flatten_util import ravel_pytree

    from ..continuous import solve_ode
    from ..training import AlternatingGDA, SimultaneousGDA, run

    fields = [g.vector_field(population=True) for g in games]
    stars = [ravel_pytree(g.equilibrium()) for g in games]
    starts = [unravel(flat + config.offset) for flat, unravel in stars]
    x0 = (tuple(x[0] for x in starts), tuple(x[1] for x in starts))
    field = _product_field(fields)
    h, n = config.eta, config.num_steps
    times = np.arange(n + 1) * h
    out = [{} for _ in games]

    def record(kind, paths):
        for k, path in enumerate(paths):
            dist = np.linalg.norm(path - np.asarray(stars[k][0]), axis=1)
            bad = ~np.all(np.isfinite(path), axis=1)
            if bad.any():
                dist[int(np.argmax(bad)):] = np.inf
            out[k][kind] = (times, path, dist)

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


def spectra_section(config: RunConfig, out_dir: Path) -> SectionResult:
    """Spectra, closed forms, trajectories and convergence of Dirac-GAN and NK-2D for each loss."""
    from .. import plotting
    from ..analysis import update_stability
    from ..dynamics import jacobian
    from ..plotting._common import new_figure, save

    h = config.eta
    rows, figures, mismatches = [], [], []
    games = _games()
    losses = ("gan", "wgan") if config.quick else LOSSES  # quick: a smoke run
    sims = iter(_simulate([cls(loss) for cls, _ in games.values() for loss in losses], config))
    for game_name, (cls, labels) in games.items():
        traj_fig, traj_axes = new_figure(1, len(losses), size=(4.4 * len(losses), 5.0))
        spec_fig, spec_axes = new_figure(2, len(losses), size=(4.4 * len(losses), 8.6))
        for j, loss_name in enumerate(losses):
            game = cls(loss_name)
            b = game.vector_field(population=True)
            x_star = game.equilibrium()
            c, d = _linearisation(game_name, loss_name)
            theory = closed_form_eigenvalues(c, d, h)
            jac = np.asarray(jacobian(b, x_star))
            numeric = {
                "flow": np.asarray(eigenvalues(jac)),
                "simultaneous": np.asarray(eigenvalues(np.eye(len(jac)) + h * jac)),
                "alternating": np.asarray(
                    update_stability(b, x_star, eta=h, scheme="alternating").eigenvalues),
            }
            sims_k = next(sims)
            for kind in ("flow", "simultaneous", "alternating"):
                err = _matched_error(numeric[kind], theory[kind])
                if err > 1e-8:
                    mismatches.append(f"{game_name}/{loss_name}/{kind}: {err:.2e}")
                local_rate = _rate(kind, theory[kind], h)
                predicted = _verdict_from_rate(local_rate)
                theory_says = {
                    "converges": f"yes (rate {local_rate:+.4f})",
                    "diverges": f"no: x* repels (rate {local_rate:+.4f})",
                    "orbits": "undecided: neutral (a centre)",
                }[predicted]
                times, _, dist = sims_k[kind]
                measured, rate = measured_verdict(times, dist)
                if predicted == "orbits":
                    agree = "n/a (neutral)" if measured != "orbits" else "yes"
                else:
                    same = (measured == "converges") == (predicted == "converges")
                    agree = "yes" if same else "NO"
                modulus = ("max Re λ" if kind == "flow" else "ρ")
                value = (np.max(numeric[kind].real) if kind == "flow"
                         else np.max(np.abs(numeric[kind])))
                rows.append([
                    game_name, loss_name, _DYNAMICS[kind], format_eigenvalues(numeric[kind]),
                    f"{_THEORY_TEXT[(game_name, kind)]} = {format_eigenvalues(theory[kind])}",
                    f"{modulus} = {value:.6f}", f"{err:.1e}", theory_says,
                    f"{'yes' if measured == 'converges' else 'no'}: {measured} "
                    f"(‖x−x*‖ {dist[0]:.3g} → {dist[-1]:.3g}; rate {rate:+.4f})",
                    agree,
                ])
            plotting.phase_plane(
                b, x_star, equilibrium=x_star, labels=labels, ax=traj_axes[0, j], legend=False,
                title=f"{game_name}, {loss_name}",
                trajectories={
                    "gradient flow": sims_k["flow"][1],
                    f"simultaneous GD, h = {h:g}": sims_k["simultaneous"][1],
                    f"alternating GD, h = {h:g}": sims_k["alternating"][1],
                },
            )
            plotting.eigenvalue_plot(
                {"J (ganflow)": numeric["flow"], "closed form": theory["flow"]},
                reference="imaginary-axis", ax=spec_axes[0, j],
                title=f"{game_name}, {loss_name}: J at x*")
            plotting.eigenvalue_plot(
                {"simultaneous I + hJ": numeric["simultaneous"],
                 "alternating F′": numeric["alternating"],
                 "closed forms": np.concatenate([theory["simultaneous"], theory["alternating"]])},
                reference="unit-circle", ax=spec_axes[1, j],
                title=f"update operators, h = {h:g}")
        slug = game_name.lower().replace("-", "")
        handles, names = traj_axes[0, 0].get_legend_handles_labels()
        traj_fig.legend(handles, names, loc="outside lower center", ncol=len(names), fontsize=8)
        traj_fig.suptitle(f"{game_name}: trajectories from x* + {config.offset:g}·(1, 1) "
                          f"over T = {h * config.num_steps:g}")
        spec_fig.suptitle(f"{game_name}: eigenvalues at the equilibrium")
        for stem, fig in (("trajectories", traj_fig), ("spectra", spec_fig)):
            figures.append(out_dir / f"{stem}_{slug}.png")
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
x* + {config.offset:g}·(1, 1) for time T = {h * config.num_steps:g} (the flow with diffrax Tsit5
at rtol = atol = 1e-10, `ganflow.continuous.solve_ode`; the schemes with `ganflow.training.run`)
and applies the same thresholds to the measured growth rate of the distance to x* (largest
distance in the last quarter against the second quarter): converges, orbits (bounded, no
convergence) or diverges. *agree?* says whether the simulation confirms the theory ("n/a" where
the theory is neutral).

{markdown_table(header, rows)}
"""
    if mismatches:
        text += ("\n**Closed form and ganflow disagree** (above 1e-8) for: "
                 + ", ".join(mismatches) + "\n")
    else:
        text += "\nEvery ganflow spectrum matches its closed form to 1e-8.\n"
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
    return SectionResult(text, figures)


# ---------------------------------------------------------------------------------------------
# the atlas section (issue 3): ganflow.experiments._atlas.convergence_atlas, kept small


def atlas_section(config: RunConfig, out_dir: Path) -> SectionResult:
    """The convergence atlas (`convergence_atlas`, its default grid), as a table and heatmaps."""
    from .. import plotting
    from ._atlas import convergence_atlas

    if config.quick:
        kwargs = dict(games=("dirac",), stabilisers=("none", "r1"), schemes=("alternating",),
                      etas=(0.1, 1.0), num_seeds=8, num_steps=300)
    else:
        # the library's default atlas: Dirac-GAN, NK-2D, bilinear and LQ-Gaussian, every loss ×
        # {none, R1, consensus, NK} × {simultaneous, alternating, extragradient}, 5 η × 64 seeds
        # (`convergence_atlas(full=True)` adds more stabilisers, schemes and learning rates)
        kwargs = {}
    atlas = convergence_atlas(**kwargs, key=jax.random.key(config.seed))
    panels: dict[str, tuple[list[str], list[float], list[np.ndarray]]] = {}
    for (game, loss, stab, scheme), cell in atlas.cells.items():
        methods, etas, fracs = panels.setdefault(game, ([], [float(e) for e in cell["eta"]], []))
        methods.append(f"{loss}/{stab}/{scheme}")
        fracs.append(np.asarray(cell["frac_converged"], dtype=float))
    figure = out_dir / "atlas.png"
    plotting.atlas_heatmap({g: (m, e, np.stack(f)) for g, (m, e, f) in panels.items()},
                           title="Fraction of seeds converged (convergence atlas)", path=figure)
    cfg = atlas.config
    skipped = "".join(f"\n- {g}/{l}/{st}/{sc}: {why}" for g, l, st, sc, why in atlas.skipped)
    text = f"""Every row is one game × loss × stabiliser × scheme × learning rate η
(`ganflow.experiments._atlas.convergence_atlas`): {cfg['num_seeds']} initial states
x* + {cfg['radius']:g}·N(0, I) trained for {cfg['num_steps']} steps. *frac_converged*: the
fraction of seeds within {cfg['tol']:g} of x* at the end (*frac_diverged*: flagged diverged);
*rate_measured*: the median per-step contraction factor; *rho_theory*: the spectral radius
ρ(F′(x*)) of the actual update map (Mescheder 2017: local convergence iff ρ < 1);
*max_re_eig_field* / *max_re_eig_modified*: max Re λ of the Jacobian of the stabilised field and of
its first-order modified field (Cao–Guo eqs. 13, 10); *agree*: the measurement agrees with the
local theory (all seeds converge when ρ^n·‖x0 − x*‖ is far below the tolerance, none when ρ > 1).

Measurement agrees with theory in {100 * atlas.agreement():.0f} % of the rows
({cfg['seconds']:.1f} s).

{atlas.to_markdown()}
"""
    if skipped:
        text += "\nCombinations that do not apply:" + skipped + "\n"
    return SectionResult(text, [figure])


# ---------------------------------------------------------------------------------------------
# the sde section (issue 4): an ensemble of the R1-regularised Dirac-GAN SDE


def sde_section(config: RunConfig, out_dir: Path) -> SectionResult:
    r"""An Euler–Maruyama ensemble of $dx = b(x)\,dt + σ\,dW$ with b the field of the
    R1-regularised Dirac-GAN (WGAN loss, γ = 1), against the exact mean.

    With f(t) = t the field is linear, $b(x) = Ax$ with $A = [[0, 1], [-1, -γ]]$ (ganflow's
    convention Φ = −ψθ − (γ/2)ψ²), so the mean of the SDE solves the ODE exactly:
    $E x(t) = e^{tA} x_0$ for additive noise. The Dirac-GAN has no gradient noise (one data point,
    Σ = 0), so the diffusion is a constant σ = sqrt(η/B) with η = 0.1, B = 10, the scale of the
    Cao–Guo SDE (eq. 9) for unit per-example gradient variance."""
    from .. import plotting
    from ..continuous import SDE, ConstantDiffusion, sde_ensemble, solve_ode
    from ..games import DiracGAN
    from ..stabilisers import R1, stabilise

    gamma, eta, batch = 1.0, 0.1, 10
    sigma = float(np.sqrt(eta / batch))
    seeds, t1, dt, save_every = (256, 5.0, 0.01, 10) if config.quick else (4096, 10.0, 0.01, 10)
    game = DiracGAN("wgan")
    field = stabilise(game, R1(gamma), population=True)
    x0 = game.make_state(1.0, 1.0)
    keys = jax.random.split(jax.random.key(config.seed), seeds)
    sol = sde_ensemble(SDE(field, ConstantDiffusion(sigma)), x0, 0.0, t1, dt=dt, keys=keys,
                       save_every=save_every)
    ts = np.asarray(sol.ts)
    paths = np.stack([np.asarray(sol.xs[0].theta), np.asarray(sol.xs[1].psi)], axis=-1)
    ok = np.all(np.isfinite(paths), axis=(1, 2))
    a_mat = np.array([[0.0, 1.0], [-1.0, -gamma]])
    expm = jax.vmap(lambda t: jax.scipy.linalg.expm(t * jnp.asarray(a_mat)) @ jnp.ones(2))
    exact = np.asarray(expm(jnp.asarray(ts)))
    flow = solve_ode(field, x0, 0.0, t1, ts=jnp.asarray(ts), rtol=1e-10, atol=1e-10)
    flow_path = np.stack([np.asarray(flow.xs[0].theta), np.asarray(flow.xs[1].psi)], axis=-1)
    # the exact mean of the Euler–Maruyama chain itself: (I + dt A)^k x0 (additive noise)
    steps = np.round(ts / dt).astype(int)
    em_step = np.eye(2) + dt * a_mat
    em_exact = np.stack([np.linalg.matrix_power(em_step, k) @ np.ones(2) for k in steps])
    mean = paths[ok].mean(axis=0)
    stderr = paths[ok].std(axis=0, ddof=1) / np.sqrt(ok.sum())
    z = np.abs(mean - em_exact)[1:] / stderr[1:]
    spread = paths[ok][:, -1].std(axis=0)
    figure = out_dir / "sde_ensemble.png"
    plotting.ensemble_plot(ts, paths[ok], labels=["θ", "ψ"], reference=exact,
                           reference_label="exact mean e^(tA) x0",
                           title=f"R1 Dirac-GAN SDE (WGAN, γ = {gamma:g}, σ = {sigma:.3g}), "
                                 f"Euler–Maruyama dt = {dt:g}",
                           path=figure)
    checks = [
        ["seeds finite at the end", f"{int(ok.sum())} / {seeds}"],
        ["max over t of |ensemble mean − (I + dt A)^k x0| in standard errors (the exact mean "
         "of the Euler–Maruyama chain: Monte Carlo error only)", f"{z.max():.2f}"],
        ["max over t of |ensemble mean − e^(tA) x0| (Monte Carlo error and O(dt) bias)",
         f"{np.abs(mean - exact).max():.2e}"],
        ["max over t of |(I + dt A)^k x0 − e^(tA) x0| (the O(dt) bias alone)",
         f"{np.abs(em_exact - exact).max():.2e}"],
        ["max over t of |ODE solve (`solve_ode`) − e^(tA) x0|",
         f"{np.abs(flow_path - exact).max():.2e}"],
        [f"spread at t = {t1:g}: sd(θ), sd(ψ)", f"{spread[0]:.4f}, {spread[1]:.4f}"],
    ]
    table = markdown_table(["check", "value"], checks)
    text = f"""An ensemble of {seeds} paths of the SDE dx = b(x) dt + σ dW
(`ganflow.continuous.sde_ensemble`, Euler–Maruyama, dt = {dt:g}, to t = {t1:g}), b the field of
the Dirac-GAN with the WGAN loss and the R1 penalty γ = {gamma:g} (`ganflow.stabilisers.R1`),
σ = sqrt(η/B) = {sigma:.4f} (η = {eta:g}, B = {batch}; the Dirac-GAN itself has no gradient
noise, so the noise is additive), from (θ, ψ) = (1, 1). The field is linear,
b(x) = A x with A = [[0, 1], [−1, −γ]], so the exact mean is E x(t) = e^(tA) x0.

{table}

With additive noise the Euler–Maruyama mean follows x ← (I + dt A) x exactly, so the second row
compares the ensemble with its own exact mean (a value of about 3 or less is Monte Carlo noise over
{len(ts) - 1} correlated save times); e^(tA) x0 differs from it by the O(dt) weak error of
Euler–Maruyama (fourth row).
"""
    return SectionResult(text, [figure])


# ---------------------------------------------------------------------------------------------
# the weak-error section (issue 4): deterministic orders of the R1 Dirac-GAN


def weak_error_section(config: RunConfig, out_dir: Path) -> SectionResult:
    """Deterministic (full-batch) weak orders of simultaneous and alternating GD on the
    R1-regularised Dirac-GAN against the gradient flow and the modified equations (Cao–Guo
    Theorems 1, 2; eqs. 10, 13), fitted with `ganflow.analysis.deterministic_weak_error`."""
    from .. import plotting
    from ..analysis import alternating_update, deterministic_weak_error, simultaneous_update
    from ..games import DiracGAN
    from ..stabilisers import R1, stabilise

    gamma, horizon = 1.0, 2.0
    etas = 0.1 / 2.0 ** np.arange(4 if config.quick else 6)
    game = DiracGAN("gan")
    field = stabilise(game, R1(gamma), population=True)
    x0 = game.make_state(1.0, 1.0)
    steps = {
        "simultaneous": lambda x, eta: simultaneous_update(field, x, eta=eta),
        "alternating": lambda x, eta: alternating_update(field, x, eta=eta),
    }
    cases = [("simultaneous", None, 1.0), ("simultaneous", "simultaneous", 2.0),
             ("alternating", None, 1.0), ("alternating", "alternating", 2.0)]
    if not config.quick:
        cases.append(("alternating", "simultaneous", 1.0))
    ode_name = {None: "gradient flow ẋ = b", "simultaneous": "eq. 13: b − (η/2)Jb",
                "alternating": "eq. 10: b + ηb1"}
    results, rows = {}, []
    for scheme, modified, expected in cases:
        res = deterministic_weak_error(steps[scheme], field, x0, etas, horizon, modified=modified)
        label = f"{scheme} GD vs {ode_name[modified]}"
        results[label] = res
        lo, hi = (float(v) for v in res.ci)
        rows.append([scheme, ode_name[modified], f"{expected:g}", f"{float(res.slope):.3f}",
                     f"[{lo:.3f}, {hi:.3f}]", f"{float(res.errors[0]):.2e}",
                     f"{float(res.errors[-1]):.2e}",
                     "yes" if abs(float(res.slope) - expected) < 0.1 else "NO"])
    figure = out_dir / "weak_error.png"
    plotting.weak_error_plot(results, title=f"R1 Dirac-GAN (γ = {gamma:g}), T = {horizon:g}",
                             path=figure)
    header = ["scheme", "against", "expected order", "fitted slope", "95 % CI",
              f"e(η = {etas[0]:g})", f"e(η = {etas[-1]:g})", "within 0.1?"]
    text = f"""The full-batch weak error e(η) = max over kη ≤ T of ‖x_k − X(kη)‖ of the discrete
scheme against an ODE (`ganflow.analysis.deterministic_weak_error`; diffrax Dopri8 at
rtol = atol = 1e-12), for the Dirac-GAN (GAN loss) with the R1 penalty γ = {gamma:g}, from
(θ, ψ) = (1, 1) to T = {horizon:g}, η = {', '.join(f'{e:g}' for e in etas)}. The order is the
least-squares slope of log e against log η. Cao–Guo: simultaneous GD is order 1 against the
gradient flow and order 2 against its modified equation (Remark 1, eq. 13); alternating GD is
order 1 against the flow and order 2 against eq. 10 (b1 is its own correction; against eq. 13 it
stays order 1).

{markdown_table(header, rows)}
"""
    return SectionResult(text, [figure])


SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        Section("spectra", "Spectra, trajectories and convergence of the small games",
                spectra_section,
                "Dirac-GAN and NK-2D for each loss: Jacobian and update-operator eigenvalues "
                "against closed forms, trajectories, convergence"),
        Section("atlas", "Convergence atlas", atlas_section,
                "fraction of seeds converged over learning rates x (loss, stabiliser, scheme)"),
        Section("sde", "SDE ensemble of the R1-regularised Dirac-GAN", sde_section,
                "Euler-Maruyama ensemble against the exact mean e^(tA)x0"),
        Section("weak-error", "Weak-error orders (deterministic)", weak_error_section,
                "orders of simultaneous/alternating GD against the flow and eqs. 10, 13"),
    )
}

