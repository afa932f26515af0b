r"""The four experiments of the main job `ganflow`: `spectra`, `atlas`, `sde`, `weak-error`.

Each is a registered `Experiment` (see `_registry`): a frozen config with documented defaults and
presets, `run` (computes and saves labelled results under `out/results.zarr`) and `report`
(rewrites the Markdown and the figures from the saved results only). The computations and the
renderings live in `_sections` (one `*_dataset` and one `render_*` per experiment).
"""

import dataclasses
import datetime
import json
import math
from pathlib import Path
from typing import Any

from .._checks import check_choice, check_int_at_least, check_positive
from ..studies import Experiment, ReportPart, RunOptions, register, write_summary
from ._sections import (
    LOSSES,
    SPECTRA_GAMES,
    atlas_dataset,
    render_atlas,
    render_sde,
    render_spectra,
    render_weak_error,
    sde_datasets,
    spectra_dataset,
    spectra_num_steps,
    weak_error_dataset,
)


def _check_names(name: str, values: tuple, choices: tuple) -> None:
    if not values:
        raise ValueError(f"{name} must name at least one of {', '.join(choices)}")
    for v in values:
        check_choice(name, v, choices)
    if len(set(values)) != len(values):
        raise ValueError(f"{name} lists a value twice: {', '.join(values)}")


# Runtimes (quick_runtime: preset quick; full_runtime: the defaults) are the CPU times measured on
# the 2-core machine (2026-11-28; run and report, the process included): spectra 21 s / 27 s,
# atlas 11 s / 185 s, sde 10 s / 10 s, weak-error 18 s / 23 s. The wall times were 3–5× longer
# there because the cores were shared. Atlas preset full: 28 of its ~360 cells (all games ×
# {none, sga} × {alternating, unrolled-3}) had not finished after 690 s of CPU time.


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _save(out: Path, group: str, ds: Any, config: Any, started: str) -> None:
    """`write_summary` of `ds` with the config and the time the computation started."""
    ds.attrs["config"] = json.dumps(dataclasses.asdict(config), sort_keys=True)
    ds.attrs["start_time"] = started
    write_summary(out, group, ds)


# ---------------------------------------------------------------------------------------------
# spectra


@dataclasses.dataclass(frozen=True)
class SpectraConfig:
    r"""Spectra, closed forms, trajectories and convergence of the Dirac-GAN (Mescheder 2018,
    slides p. 5: J(x*) has eigenvalues ±f′(0)i, simultaneous GD |λ| = sqrt(1 + h²f′(0)²),
    alternating GD on the unit circle) and of the two-parameter GAN of Nagarajan–Kolter §4
    (Fig. 3: the GAN converges, the WGAN orbits), for each loss: eigenvalues of J and of the
    update operators of simultaneous and alternating GD at x* beside their closed forms, and the
    gradient flow and both schemes simulated from x* + offset·(1, 1) for time `horizon`.
    Settings: those of the main job `ganflow` before the registry (h = 0.1, offset 0.3, T = 200).
    Writes `results.zarr/spectra` (eigenvalues as real and imaginary parts, trajectories,
    distances, verdicts, the field on the phase-plane window), the table in `report.md`,
    `trajectories_<game>.png` and `spectra_<game>.png`.

    - `games`: games with closed-form spectra: dirac (Dirac-GAN), nk2d (Nagarajan–Kolter 2-D)
    - `losses`: losses of each game: gan (logistic), nsgan (non-saturating generator), wgan
    - `eta`: learning rate h of simultaneous and alternating GD
    - `offset`: every trajectory starts at x* + offset·(1, 1)
    - `horizon`: simulated time T = h·(number of steps), at least 20 steps
    - `seed`: root PRNG seed (recorded only: the experiment is deterministic)
    """

    games: tuple[str, ...] = ("dirac", "nk2d")
    losses: tuple[str, ...] = LOSSES
    eta: float = 0.1
    offset: float = 0.3
    horizon: float = 200.0
    seed: int = 0

    def __post_init__(self):
        _check_names("games", self.games, tuple(SPECTRA_GAMES))
        _check_names("losses", self.losses, LOSSES)
        check_positive("eta", self.eta)
        check_positive("offset", self.offset)
        check_positive("horizon", self.horizon)
        check_int_at_least("seed", self.seed, 0)
        if self.horizon < 20 * self.eta:
            raise ValueError(
                f"horizon={self.horizon} is too short for eta={self.eta}: at least 20 steps needed"
            )

    @property
    def num_steps(self) -> int:
        """Steps of the discrete schemes: T / h rounded to a multiple of 4."""
        return spectra_num_steps(self.eta, self.horizon)


def run_spectra(config: SpectraConfig, out: Path, options: RunOptions) -> None:
    started = _now()
    ds = spectra_dataset(config.games, config.losses, eta=config.eta, offset=config.offset,
                         num_steps=config.num_steps)
    _save(out, "spectra", ds, config, started)


def report_spectra(config: SpectraConfig, results: dict[str, Any], out: Path) -> ReportPart:
    return render_spectra(results["spectra"].load(), out)


register(Experiment(
    name="spectra",
    config=SpectraConfig,
    run=run_spectra,
    report=report_spectra,
    reproduces="Mescheder 2018 (Dirac-GAN) and Nagarajan–Kolter 2017 §4, Fig. 3: Jacobian and "
               "update-operator eigenvalues against closed forms, trajectories, convergence",
    presets={"quick": {"losses": ("gan", "wgan"), "horizon": 100.0}},
    quick_runtime="20 s",
    full_runtime="30 s",
))


# ---------------------------------------------------------------------------------------------
# atlas


def _atlas_catalogue(full: bool) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(games, stabilisers, schemes) of `convergence_atlas`'s catalogue (`full` or default)."""
    from ._atlas import _games, _schemes, _stabilisers

    return tuple(_games(full)), tuple(_stabilisers(full)), tuple(_schemes(full))


_DEFAULT_GAMES, _DEFAULT_STABS, _DEFAULT_SCHEMES = _atlas_catalogue(False)
_FULL_GAMES, _FULL_STABS, _FULL_SCHEMES = _atlas_catalogue(True)


@dataclasses.dataclass(frozen=True)
class AtlasConfig:
    r"""The convergence atlas (`ganflow.experiments.convergence_atlas`): small games × losses ×
    stabilisers × schemes over a learning-rate grid, the fraction of seeds converged and the
    measured contraction rate beside the local theory — the spectral radius ρ(F′(x*)) of the
    actual update map (Mescheder 2017: local convergence iff ρ < 1) and the eigenvalues of the
    stabilised field and of its modified field (Cao–Guo eqs. 10, 13). Settings: the library's
    default atlas (4 games, stabilisers none/R1/consensus/NK, schemes simultaneous/alternating/
    extragradient, 5 η × 64 seeds × 600 steps); preset `full` is `convergence_atlas(full=True)`.
    Writes `results.zarr/atlas` (dims cell × eta, cell coordinates game/loss/stabiliser/scheme,
    one variable per column of the atlas), the table in `report.md` and `atlas.png`.

    - `games`: games: dirac, nk2d, bilinear, lq-gaussian
    - `stabilisers`: none, r1, consensus, nk (`full`: + r2, instance-noise, sga, lss)
    - `schemes`: simultaneous, alternating, extragradient (full: + optimistic, cgd, unrolled-3, …)
    - `etas`: the learning-rate grid
    - `seeds`: initial states x* + radius·N(0, I) per cell and learning rate
    - `num_steps`: training steps (rounded down to a multiple of num_steps // 60)
    - `radius`: scale of the initial perturbation of x*
    - `tol`: a seed has converged when it ends within tol of x*
    - `full`: the full catalogue (more losses, stabilisers, schemes; fine quadratures)
    - `seed`: root PRNG seed of the initial states
    """

    games: tuple[str, ...] = _DEFAULT_GAMES
    stabilisers: tuple[str, ...] = _DEFAULT_STABS
    schemes: tuple[str, ...] = _DEFAULT_SCHEMES
    etas: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0, 2.0)
    seeds: int = 64
    num_steps: int = 600
    radius: float = 0.1
    tol: float = 1e-6
    full: bool = False
    seed: int = 0

    def __post_init__(self):
        choices = _atlas_catalogue(self.full)
        for name, choice, every in zip(("games", "stabilisers", "schemes"), choices,
                                       _atlas_catalogue(True)):
            values = getattr(self, name)
            extra = [v for v in values if v not in choice and v in every]
            if extra:
                raise ValueError(f"{name} {', '.join(extra)} need full = true")
            _check_names(name, values, choice)
        if not self.etas:
            raise ValueError("etas must list at least one learning rate")
        check_positive("etas", self.etas)
        check_int_at_least("seeds", self.seeds, 1)
        check_int_at_least("num_steps", self.num_steps, 1)
        check_positive("radius", self.radius)
        check_positive("tol", self.tol)
        check_int_at_least("seed", self.seed, 0)


def run_atlas(config: AtlasConfig, out: Path, options: RunOptions) -> None:
    import jax

    from ._atlas import convergence_atlas

    started = _now()
    atlas = convergence_atlas(
        config.games, config.stabilisers, config.schemes, config.etas, num_seeds=config.seeds,
        num_steps=config.num_steps, radius=config.radius, tol=config.tol,
        key=jax.random.key(config.seed), full=config.full,
    )
    _save(out, "atlas", atlas_dataset(atlas), config, started)


def report_atlas(config: AtlasConfig, results: dict[str, Any], out: Path) -> ReportPart:
    return render_atlas(results["atlas"].load(), out)


register(Experiment(
    name="atlas",
    config=AtlasConfig,
    run=run_atlas,
    report=report_atlas,
    reproduces="Mescheder 2017 (local convergence iff ρ(F′(x*)) < 1) measured over small games "
               "× losses × stabilisers × schemes × learning rates, with Cao–Guo eqs. 10/13",
    presets={
        "quick": {"games": ("dirac",), "stabilisers": ("none", "r1"),
                  "schemes": ("alternating",), "etas": (0.1, 1.0), "seeds": 8,
                  "num_steps": 300},
        "full": {"full": True, "games": _FULL_GAMES, "stabilisers": _FULL_STABS,
                 "schemes": _FULL_SCHEMES, "etas": (0.01, 0.03, 0.1, 0.2, 0.5, 1.0, 2.0),
                 "num_steps": 2000},
    },
    quick_runtime="10 s",
    full_runtime="3 min (preset full: about 2 h)",
))


# ---------------------------------------------------------------------------------------------
# sde


@dataclasses.dataclass(frozen=True)
class SDEConfig:
    r"""An Euler–Maruyama ensemble of the SDE dx = b(x) dt + σ dW (Cao–Guo eq. 9 with additive
    noise), b the field of the Dirac-GAN with the WGAN loss and the R1 penalty γ, σ = sqrt(η/B),
    against its exact mean: the field is linear, b = Ax with A = [[0, 1], [−1, −γ]], so
    E x(t) = e^{tA} x0, and the Euler–Maruyama chain's own mean is (I + dt A)^k x0. Settings:
    those of the main job `ganflow` before the registry (4096 seeds, dt = 0.01 to t = 10,
    η = 0.1, B = 10, γ = 1, x0 = (1, 1)). Writes `results.zarr/sde` (the ensemble from the
    engine: `theta`, `psi` (seed, step), `status`) and `results.zarr/sde_checks` (mean, standard
    error, exact means, ODE solve, z-scores), the table in `report.md` and `sde_ensemble.png`.

    - `seeds`: paths in the ensemble
    - `t1`: final time
    - `dt`: Euler–Maruyama step
    - `save_every`: steps between saved states (must divide t1 / dt)
    - `gamma`: R1 penalty γ
    - `eta`: learning rate η of the noise scale σ = sqrt(η/B)
    - `batch`: batch size B of the noise scale
    - `theta0`: initial θ (generator)
    - `psi0`: initial ψ (discriminator)
    - `seed`: root PRNG seed of the Brownian paths
    """

    seeds: int = 4096
    t1: float = 10.0
    dt: float = 0.01
    save_every: int = 10
    gamma: float = 1.0
    eta: float = 0.1
    batch: int = 10
    theta0: float = 1.0
    psi0: float = 1.0
    seed: int = 0

    def __post_init__(self):
        check_int_at_least("seeds", self.seeds, 2)
        check_positive("t1", self.t1)
        check_positive("dt", self.dt)
        check_int_at_least("save_every", self.save_every, 1)
        check_positive("gamma", self.gamma)
        check_positive("eta", self.eta)
        check_int_at_least("batch", self.batch, 1)
        check_int_at_least("seed", self.seed, 0)
        steps = self.t1 / self.dt
        if abs(steps - round(steps)) > 1e-9 * max(steps, 1.0) or round(steps) < 1:
            raise ValueError(f"t1/dt = {steps:g} must be a whole number of steps")
        if round(steps) % self.save_every:
            raise ValueError(f"save_every={self.save_every} must divide t1/dt = {round(steps)}")
        if not (math.isfinite(self.theta0) and math.isfinite(self.psi0)):
            raise ValueError("theta0 and psi0 must be finite")


def run_sde(config: SDEConfig, out: Path, options: RunOptions) -> None:
    started = _now()
    ens, checks = sde_datasets(
        seeds=config.seeds, seed=config.seed, t1=config.t1, dt=config.dt,
        save_every=config.save_every, gamma=config.gamma, eta=config.eta, batch=config.batch,
        x0=(config.theta0, config.psi0), progress=options.progress,
    )
    _save(out, "sde", ens, config, ens.attrs.get("start_time", started))
    _save(out, "sde_checks", checks, config, started)


def report_sde(config: SDEConfig, results: dict[str, Any], out: Path) -> ReportPart:
    return render_sde(results["sde"].load(), results["sde_checks"].load(), out)


register(Experiment(
    name="sde",
    config=SDEConfig,
    run=run_sde,
    report=report_sde,
    reproduces="Cao–Guo eq. 9: an Euler–Maruyama ensemble of the R1-regularised Dirac-GAN SDE "
               "against its exact mean e^(tA)x0",
    presets={"quick": {"seeds": 256, "t1": 5.0}},
    quick_runtime="10 s",
    full_runtime="10 s",
))


# ---------------------------------------------------------------------------------------------
# weak-error


@dataclasses.dataclass(frozen=True)
class WeakErrorConfig:
    r"""The deterministic (full-batch) weak orders of Cao–Guo Theorems 1, 2 and Remark 1 on the
    R1-regularised Dirac-GAN: simultaneous GD (eq. 7) is order 1 against the gradient flow and
    order 2 against its modified equation (eq. 13); alternating GD (eq. 5) is order 1 against the
    flow and order 2 against eq. 10 (and order 1 against eq. 13: `cross_check`). Errors
    e(η) = max over kη ≤ T of ‖x_k − X(kη)‖ (`ganflow.analysis.deterministic_weak_error`, Dopri8
    at rtol = atol = 1e-12), order = least-squares slope of log e against log η. Settings: those
    of the main job `ganflow` before the registry (GAN loss, γ = 1, T = 2, x0 = (1, 1),
    η = 0.1·2^-k, k < 6). Writes `results.zarr/weak_error` (errors per case × η, fitted slopes and
    intervals), the table in `report.md` and `weak_error.png`.

    - `etas`: learning rates η (at least two, each ≤ horizon)
    - `horizon`: time T over which the error is measured
    - `gamma`: R1 penalty γ
    - `loss`: the Dirac-GAN's loss: gan, nsgan or wgan
    - `theta0`: initial θ (generator)
    - `psi0`: initial ψ (discriminator)
    - `cross_check`: also fit alternating GD against eq. 13 (expected order 1)
    - `seed`: root PRNG seed (recorded only: the experiment is deterministic)
    """

    etas: tuple[float, ...] = (0.1, 0.05, 0.025, 0.0125, 0.00625, 0.003125)
    horizon: float = 2.0
    gamma: float = 1.0
    loss: str = "gan"
    theta0: float = 1.0
    psi0: float = 1.0
    cross_check: bool = True
    seed: int = 0

    def __post_init__(self):
        if len(self.etas) < 2:
            raise ValueError(f"etas must list at least two learning rates, got {self.etas}")
        check_positive("etas", self.etas)
        check_positive("horizon", self.horizon)
        if max(self.etas) > self.horizon:
            raise ValueError(f"every eta must be <= horizon = {self.horizon}")
        check_positive("gamma", self.gamma)
        check_choice("loss", self.loss, LOSSES)
        check_int_at_least("seed", self.seed, 0)


def run_weak_error(config: WeakErrorConfig, out: Path, options: RunOptions) -> None:
    started = _now()
    ds = weak_error_dataset(etas=config.etas, horizon=config.horizon, gamma=config.gamma,
                            loss=config.loss, x0=(config.theta0, config.psi0),
                            cross_check=config.cross_check)
    _save(out, "weak_error", ds, config, started)


def report_weak_error(config: WeakErrorConfig, results: dict[str, Any],
                      out: Path) -> ReportPart:
    return render_weak_error(results["weak_error"].load(), out)


register(Experiment(
    name="weak-error",
    config=WeakErrorConfig,
    run=run_weak_error,
    report=report_weak_error,
    reproduces="Cao–Guo Theorems 1, 2 (eqs. 10, 13): deterministic weak orders of simultaneous "
               "and alternating GD on the R1 Dirac-GAN",
    presets={"quick": {"etas": (0.1, 0.05, 0.025, 0.0125), "cross_check": False}},
    quick_runtime="20 s",
    full_runtime="25 s",
))
