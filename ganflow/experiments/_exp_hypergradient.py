r"""`hypergradient`: tuning a stabiliser's hyper-parameters by gradient, beside a grid search of
the same compute.

Two settings. On the Dirac-GAN the objective is the local rate ρ(F′(x*)) of simultaneous GDA
with consensus optimisation (η, γ; Mescheder et al. 2017) or the Nagarajan–Kolter penalty
(η, λ; NK 2017 eq. 4), differentiated through ganflow's update Jacobian and its eigenvalues; its
minimiser over a box is known in closed form. On the MoG ring GAN the objective is the Sinkhorn
divergence (ott-jax) between generated samples and the data after a fixed horizon of N training
steps, differentiated through the N steps (`ganflow.training.iterate`, pathwise, checkpointed);
the settings each search finds are then re-run with fresh seeds at N and at a longer horizon, to
see whether the short-horizon objective ranks them as training longer does.
"""

import dataclasses
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ..analysis import (
    dirac_stabilised_optimum,
    dirac_stabilised_rate,
    extreme_eigenvalue,
    gradient_search,
    grid_search,
)
from ..studies import Experiment, ReportPart, markdown_table, register, write_summary

STABILISERS = ("consensus", "nk")
WEIGHT = {"consensus": "γ", "nk": "λ"}


@dataclasses.dataclass(frozen=True)
class HypergradientConfig:
    r"""Gradient against grid search for (η, γ) of consensus and (η, λ) of the
    Nagarajan–Kolter penalty, both with simultaneous GDA. Writes `results.zarr/dirac` and
    `mog` (the gradient path: dims stabiliser, iteration), `dirac_grid` and `mog_grid` (the
    grid: dims stabiliser, point), `dirac_summary` (closed-form optimum beside each search's
    best) and `mog_eval` (each search's best re-run: dims stabiliser, search, horizon).

    Same compute: a gradient step is charged `grad_cost` objective evaluations (reverse mode
    through the training run and the Sinkhorn solve costs about 5–6 forward runs on 2 CPU
    cores), so the grid gets `grad_cost` × the gradient steps, as a square grid.

    - `dirac_loss`: the Dirac-GAN's loss (gan: f′(0) = 1/2; wgan: f′(0) = 1)
    - `dirac_steps`: gradient steps on the Dirac-GAN
    - `dirac_box`: upper bounds (η, weight) of the search box (lower bound 1e-3 both)
    - `start`: the starting (η, weight) of every gradient search
    - `hyper_lr`: Adam's step on log (η, weight)
    - `mog_steps`: gradient steps on the MoG ring GAN
    - `mog_box`: (η_lo, η_hi, w_lo, w_hi) of the MoG search box
    - `horizon`: training steps N inside the MoG objective
    - `long_horizon`: the horizon of the re-run of each search's best
    - `seeds`: training seeds per objective evaluation (the same seeds for every evaluation)
    - `eval_seeds`: fresh seeds of the re-runs
    - `samples`: generated and data samples in each Sinkhorn divergence
    - `batch`: minibatch size of the training steps
    - `width`: hidden width of both MLPs (two hidden layers each)
    - `epsilon`: Sinkhorn's entropic regularisation
    - `grad_cost`: objective evaluations charged per gradient step
    - `seed`: root PRNG seed
    """

    dirac_loss: str = "gan"
    dirac_steps: int = 40
    dirac_box: tuple[float, float] = (4.0, 4.0)
    start: tuple[float, float] = (0.05, 0.1)
    hyper_lr: float = 0.2
    mog_steps: int = 8
    mog_box: tuple[float, float, float, float] = (0.005, 0.2, 0.01, 5.0)
    horizon: int = 200
    long_horizon: int = 1000
    seeds: int = 4
    eval_seeds: int = 8
    samples: int = 256
    batch: int = 64
    width: int = 32
    epsilon: float = 0.05
    grad_cost: int = 6
    seed: int = 0

    def __post_init__(self):
        for name in ("dirac_steps", "mog_steps", "horizon", "long_horizon", "seeds",
                     "eval_seeds", "samples", "batch", "width", "grad_cost"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.dirac_loss not in ("gan", "wgan"):
            raise ValueError(f"dirac_loss must be gan or wgan, got {self.dirac_loss!r}")
        lo = 1e-3
        if min(self.dirac_box) <= lo or not all(lo <= s <= b for s, b in
                                                zip(self.start, self.dirac_box)):
            raise ValueError(f"start={self.start} must lie in the box [{lo}, {self.dirac_box}]")
        e0, e1, w0, w1 = self.mog_box
        if not (0 < e0 < e1 and 0 < w0 < w1):
            raise ValueError(f"mog_box must be (eta_lo < eta_hi, w_lo < w_hi), all > 0, "
                             f"got {self.mog_box}")
        if not (e0 <= self.start[0] <= e1 and w0 <= self.start[1] <= w1):
            raise ValueError(f"start={self.start} must lie in mog_box={self.mog_box}")
        if self.hyper_lr <= 0 or self.epsilon <= 0:
            raise ValueError("hyper_lr and epsilon must be > 0")


def _stabiliser(name: str, weight: Any):
    from .. import stabilisers as st

    return st.Consensus(weight) if name == "consensus" else st.NagarajanKolter(weight)


def _grid_num(config: HypergradientConfig, steps: int) -> int:
    return max(2, round(float(np.sqrt(config.grad_cost * steps))))


def _search_pair(objective, config, steps, lower, upper):
    grad = gradient_search(objective, config.start, lower, upper, steps=steps,
                           learning_rate=config.hyper_lr)
    grid = grid_search(objective, lower, upper, _grid_num(config, steps))
    return grad, grid


def _path_dataset(searches: dict, value: str) -> tuple[xr.Dataset, xr.Dataset]:
    path = xr.Dataset(
        {"eta": (("stabiliser", "iteration"), np.stack([np.asarray(g.params[:, 0])
                                                        for g, _ in searches.values()])),
         "weight": (("stabiliser", "iteration"), np.stack([np.asarray(g.params[:, 1])
                                                           for g, _ in searches.values()])),
         value: (("stabiliser", "iteration"), np.stack([np.asarray(g.values)
                                                        for g, _ in searches.values()]))},
        coords={"stabiliser": list(searches)})
    grid = xr.Dataset(
        {"eta": (("stabiliser", "point"), np.stack([np.asarray(g.params[:, 0])
                                                    for _, g in searches.values()])),
         "weight": (("stabiliser", "point"), np.stack([np.asarray(g.params[:, 1])
                                                       for _, g in searches.values()])),
         value: (("stabiliser", "point"), np.stack([np.asarray(g.values)
                                                    for _, g in searches.values()]))},
        coords={"stabiliser": list(searches)})
    return path, grid


def _dirac(config: HypergradientConfig, out: Path) -> None:
    from .. import games, training

    game = games.DiracGAN(config.dirac_loss)
    x_star = game.equilibrium()
    fprime = 0.5 if config.dirac_loss == "gan" else 1.0
    lower, upper = (1e-3, 1e-3), config.dirac_box
    searches, rows = {}, []
    for name in STABILISERS:
        def rho(p, name=name):
            scheme = training.make_scheme("simultaneous", game, p[0],
                                          stabilisers=(_stabiliser(name, p[1]),),
                                          population=True)
            return jnp.abs(extreme_eigenvalue(training.update_jacobian(scheme, x_star), "LM"))

        searches[name] = _search_pair(rho, config, config.dirac_steps, lower, upper)
        grad, grid = searches[name]
        probe = jnp.asarray(config.start)
        rows.append({
            "optimum_eta": (eta_w := dirac_stabilised_optimum(name, upper, fprime))[0],
            "optimum_weight": eta_w[1], "optimum_rho": eta_w[2],
            "closed_form_error": float(abs(rho(probe) - dirac_stabilised_rate(
                name, probe[0], probe[1], fprime))),
        })
    path, grid = _path_dataset(searches, "rho")
    write_summary(out, "dirac", path)
    write_summary(out, "dirac_grid", grid)
    summary = xr.Dataset({k: ("stabiliser", np.array([r[k] for r in rows]))
                          for k in rows[0]}, coords={"stabiliser": list(STABILISERS)})
    write_summary(out, "dirac_summary", summary)


def _mog_divergence(config: HypergradientConfig, name: str, horizon: int):
    """(p, seed key) ↦ the Sinkhorn divergence to the data after `horizon` steps from the
    seed's initial players, with (η, weight) = p."""
    from ott.geometry import pointcloud
    from ott.tools import sinkhorn_divergence

    from .. import games, training

    game = games.MoGNetsGame("ring", "gan", latent_dim=4, gen_width=config.width, gen_depth=2,
                             disc_width=config.width, disc_depth=2)
    sampler = games.GameSampler(game, config.batch)

    def divergence(p, k):
        scheme = training.make_scheme("simultaneous", game, p[0],
                                      stabilisers=(_stabiliser(name, p[1]),), sampler=sampler)
        sol = training.iterate(scheme, game.init(jax.random.fold_in(k, 0)), horizon,
                               key=jax.random.fold_in(k, 1))
        gen = game.generate(sol.x[0], jax.random.fold_in(k, 2), config.samples)
        data = game.sample_data(jax.random.fold_in(k, 3), config.samples)
        dtype = jnp.result_type(float)  # the OT solve in jax's default precision
        gen, data = gen.astype(dtype), data.astype(dtype)
        return sinkhorn_divergence.sinkhorn_divergence(
            pointcloud.PointCloud, gen, data, epsilon=config.epsilon)[0]

    return divergence


def _rerun(divergence, keys, points):
    """The divergence of every point (rows) on every seed key (columns), one compilation."""
    return jax.jit(jax.vmap(lambda p: jax.vmap(lambda k: divergence(p, k))(keys)))(points)


def _mog(config: HypergradientConfig, out: Path) -> None:
    e0, e1, w0, w1 = config.mog_box
    lower, upper = (e0, w0), (e1, w1)
    root = jax.random.key(config.seed)
    searches, evals = {}, []
    for name in STABILISERS:
        divergence = _mog_divergence(config, name, config.horizon)
        keys = jax.random.split(jax.random.fold_in(root, 1), config.seeds)

        def objective(p, divergence=divergence, keys=keys):  # the mean over the fixed seeds
            return jnp.mean(jax.vmap(lambda k: divergence(p, k))(keys))

        searches[name] = _search_pair(objective, config, config.mog_steps, lower, upper)
        picks = [s.params[s.best] for s in searches[name]]
        fresh = jax.random.split(jax.random.fold_in(root, 2), config.eval_seeds)
        per = [np.asarray(_rerun(_mog_divergence(config, name, horizon), fresh,
                                 jnp.stack(picks)))  # (search, seed)
               for horizon in (config.horizon, config.long_horizon)]
        evals.append(np.stack(per, axis=1))  # (search, horizon, eval seed)
    path, grid = _path_dataset(searches, "divergence")
    write_summary(out, "mog", path)
    write_summary(out, "mog_grid", grid)
    ev = xr.Dataset(
        {"divergence": (("stabiliser", "search", "horizon", "eval_seed"), np.stack(evals)),
         "eta": (("stabiliser", "search"), np.array([[float(s.params[s.best][0])
                                                      for s in searches[n]]
                                                     for n in STABILISERS])),
         "weight": (("stabiliser", "search"), np.array([[float(s.params[s.best][1])
                                                         for s in searches[n]]
                                                        for n in STABILISERS]))},
        coords={"stabiliser": list(STABILISERS), "search": ["gradient", "grid"],
                "horizon": [config.horizon, config.long_horizon]})
    write_summary(out, "mog_eval", ev)


def run_hypergradient(config: HypergradientConfig, out: Path, options) -> None:
    del options  # two small searches: nothing to resume
    _dirac(config, out)
    _mog(config, out)


def _g(x: float) -> str:
    return f"{x:.4g}"


def _dirac_finding(d, dg, ds, name: str) -> str:
    p, g, s = d.sel(stabiliser=name), dg.sel(stabiliser=name), ds.sel(stabiliser=name)
    opt, grad, grid = float(s.optimum_rho), float(np.nanmin(p.rho)), float(np.nanmin(g.rho))
    closer = "the gradient search" if grad - opt < grid - opt else "the grid"
    return (f"Dirac-GAN, {name}: {closer} comes closer to the closed-form optimum ρ* = "
            f"{_g(opt)} (gradient {_g(grad)}, grid {_g(grid)}, same compute).")


def _better(a: np.ndarray, b: np.ndarray) -> str:
    """'gradient', 'grid' or 'neither' (the means within two standard errors of their
    difference, or a diverged re-run)."""
    from ..analysis import mean_se

    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return "neither"
    (ma, sa), (mb, sb) = mean_se(a), mean_se(b)
    if abs(ma - mb) <= 2 * float(np.hypot(sa, sb)):
        return "neither"
    return "gradient" if ma < mb else "grid"


def _mog_finding(ev, name: str, config: HypergradientConfig) -> str:
    e = ev.sel(stabiliser=name)
    at = [_better(e.divergence.sel(search="gradient", horizon=h).values,
                  e.divergence.sel(search="grid", horizon=h).values) for h in e.horizon.values]
    words = {"gradient": "the gradient's setting is better",
             "grid": "the grid's setting is better", "neither": "neither is better (2 s.e.)"}
    text = (f"MoG ring GAN, {name}: at N = {config.horizon} {words[at[0]]}; at "
            f"N = {config.long_horizon} {words[at[1]]}")
    if "neither" not in at and at[0] != at[1]:
        text += (" — the ranking flips with the horizon: the short-horizon objective misled "
                 f"the {at[0]} search")
    return text + "."


def report_hypergradient(config: HypergradientConfig, results: dict[str, Any],
                         out: Path) -> ReportPart:
    from ..analysis import format_pm, mean_se
    from ..plotting import hyper_search_map

    d, dg, ds = results["dirac"], results["dirac_grid"], results["dirac_summary"]
    m, mg, ev = results["mog"], results["mog_grid"], results["mog_eval"]
    rows, figures = [], []
    for name in STABILISERS:
        p, g, s = d.sel(stabiliser=name), dg.sel(stabiliser=name), ds.sel(stabiliser=name)
        ig, ip = int(np.nanargmin(g.rho.values)), int(np.nanargmin(p.rho.values))
        rows.append([f"{name} (η, {WEIGHT[name]})",
                     f"({_g(s.optimum_eta)}, {_g(s.optimum_weight)}) → {_g(s.optimum_rho)}",
                     f"({_g(p.eta[ip])}, {_g(p.weight[ip])}) → {_g(p.rho[ip])}",
                     f"({_g(g.eta[ig])}, {_g(g.weight[ig])}) → {_g(g.rho[ig])}",
                     f"{config.dirac_steps} gradients / {g.sizes['point']} values",
                     f"{float(s.closed_form_error):.1e}"])
    dtable = markdown_table(["stabiliser", "closed-form optimum (η, w) → ρ*",
                             "gradient search: best → ρ", "grid search: best → ρ", "compute",
                             "|ρ − closed form| at the start"], rows)
    path = Path(out) / "hypergradient_dirac.png"
    hyper_search_map({n: (dg.sel(stabiliser=n).eta.values, dg.sel(stabiliser=n).weight.values,
                          dg.sel(stabiliser=n).rho.values) for n in STABILISERS},
                     {n: (d.sel(stabiliser=n).eta.values, d.sel(stabiliser=n).weight.values)
                      for n in STABILISERS},
                     optima={n: (float(ds.sel(stabiliser=n).optimum_eta),
                                 float(ds.sel(stabiliser=n).optimum_weight))
                             for n in STABILISERS},
                     value_label="ρ(F′(x*))", weight_labels=WEIGHT,
                     title=f"Dirac-GAN ({config.dirac_loss}): simultaneous GDA", path=path)
    figures.append(path)
    mrows = []
    for name in STABILISERS:
        p, g = m.sel(stabiliser=name), mg.sel(stabiliser=name)
        cells = []
        for search in ("gradient", "grid"):
            e = ev.sel(stabiliser=name, search=search)
            cells.append(f"({_g(e.eta)}, {_g(e.weight)})")
            for h in ev.horizon.values:
                v = e.divergence.sel(horizon=h).values
                cells.append(format_pm(*mean_se(v), ".3g") if np.all(np.isfinite(v))
                             else f"{int((~np.isfinite(v)).sum())}/{v.size} diverged")
        first = float(p.divergence[0])
        mrows.append([name, _g(first), _g(float(np.nanmin(p.divergence))),
                      _g(float(np.nanmin(g.divergence))), *cells])
    n_grid = mg.sizes["point"]
    findings = [_dirac_finding(d, dg, ds, name) for name in STABILISERS]
    findings += [_mog_finding(ev, name, config) for name in STABILISERS]
    mtable = markdown_table(
        ["stabiliser", "objective at the start", "gradient: best",
         f"grid ({n_grid} points): best", "gradient's (η, w)",
         f"re-run, N = {config.horizon}", f"re-run, N = {config.long_horizon}",
         "grid's (η, w)", f"re-run, N = {config.horizon}", f"re-run, N = {config.long_horizon}"],
        mrows)
    path = Path(out) / "hypergradient_mog.png"
    hyper_search_map({n: (mg.sel(stabiliser=n).eta.values, mg.sel(stabiliser=n).weight.values,
                          mg.sel(stabiliser=n).divergence.values) for n in STABILISERS},
                     {n: (m.sel(stabiliser=n).eta.values, m.sel(stabiliser=n).weight.values)
                      for n in STABILISERS},
                     value_label=f"Sinkhorn divergence after {config.horizon} steps",
                     weight_labels=WEIGHT, title="MoG ring GAN: simultaneous GDA", path=path)
    figures.append(path)
    md = f"""**Dirac-GAN.** The objective is ρ(F′(x*)), the spectral radius of the update map's
Jacobian at the equilibrium (`ganflow.training.update_jacobian`, eigenvalue derivatives by
`ganflow.analysis.extreme_eigenvalue`), over the box 10⁻³ ≤ η, w ≤ {config.dirac_box}; the
gradient search takes {config.dirac_steps} projected Adam steps on log (η, w) from
{config.start}, the grid has the same compute at {config.grad_cost} evaluations per gradient.
With consensus ρ² = (1 − ηγa²)² + η²a² (a = f′(0)) is smooth and its minimiser sits on the edge
γ = γ_max; with the NK penalty ρ = 0 at η = λ = 1/a, where the two eigenvalues of F′ meet
(a Jordan block): ρ has a cusp there (|dρ| → ∞), which a grid reaches only by landing on it.

{dtable}

**MoG ring GAN.** The objective is the Sinkhorn divergence (ε = {config.epsilon:g}, ott-jax)
between {config.samples} generated samples and {config.samples} data samples after
N = {config.horizon} steps of simultaneous GDA (minibatch {config.batch}, MLPs of width
{config.width}), averaged over {config.seeds} fixed seeds; its gradient with respect to
(η, w) goes through the N steps (`ganflow.training.iterate`, pathwise with the seeds' keys
fixed, √N checkpointing) and the Sinkhorn solve. {config.mog_steps} gradient steps against a
grid of {n_grid} points. Each search's best setting is then re-run on {config.eval_seeds}
fresh seeds at N = {config.horizon} and N = {config.long_horizon} (mean ± s.e.): where the
ranking at the long horizon differs from that at N, the short-horizon objective has misled the
search.

{mtable}

**What this run shows.**

""" + "\n".join(f"- {f}" for f in findings) + "\n"
    return ReportPart(md, figures)


register(Experiment(
    name="hypergradient",
    config=HypergradientConfig,
    run=run_hypergradient,
    report=report_hypergradient,
    reproduces="tuning (η, γ) of consensus and (η, λ) of the NK penalty by gradient through "
               "ρ(F′) on the Dirac-GAN (against its closed-form optimum) and through N "
               "training steps of the MoG ring GAN (Sinkhorn divergence), beside a grid search "
               "of the same compute",
    presets={"quick": {"dirac_steps": 20, "mog_steps": 2, "horizon": 20, "long_horizon": 60,
                       "seeds": 2, "eval_seeds": 2, "samples": 64, "batch": 16, "width": 8,
                       "grad_cost": 2}},
    quick_runtime="1.5 min",
))
