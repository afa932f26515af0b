r"""`sde` and `weak-error`: Cao–Guo on the R1-regularised Dirac-GAN — an Euler–Maruyama ensemble
of the SDE (eq. 9, additive noise) against its exact mean, and the deterministic weak orders of
simultaneous and alternating GD against the gradient flow and the modified equations
(Theorems 1, 2; eqs. 10, 13)."""

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_choice, check_int_at_least, check_positive
from ..losses import LOSS_NAMES
from ..studies import Experiment, ReportPart, RunOptions, markdown_table, register
from ._exp_spectra import now, save


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
    from ..engine import Execution, seed_keys
    from ..games import DiracGAN
    from ..stabilisers import R1, stabilise

    sigma = float(np.sqrt(eta / batch))
    game = DiracGAN("wgan")
    field = stabilise(game, R1(gamma), population=True)
    start = game.make_state(*x0)
    keys = seed_keys(seeds, root=seed)
    sol = sde_ensemble(SDE(field, ConstantDiffusion(sigma)), start, 0.0, t1, dt=dt, keys=keys,
                       save_every=save_every, execution=Execution(progress=progress))
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
    names = sorted(k for k in ens.data_vars if k.startswith("x."))  # x.0.theta, x.1.psi
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


def report_sde(config: Any, results: dict[str, Any], out: Path) -> ReportPart:
    """The checks table and the ensemble figure, from the saved `sde_datasets` alone."""
    from .. import plotting

    ens, checks = results["sde"].load(), results["sde_checks"].load()
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


@dataclasses.dataclass(frozen=True)
class SDEConfig:
    r"""An Euler–Maruyama ensemble of the SDE dx = b(x) dt + σ dW (Cao–Guo eq. 9 with additive
    noise), b the field of the Dirac-GAN with the WGAN loss and the R1 penalty γ, σ = sqrt(η/B),
    against its exact mean: the field is linear, b = Ax with A = [[0, 1], [−1, −γ]], so
    E x(t) = e^{tA} x0, and the Euler–Maruyama chain's own mean is (I + dt A)^k x0. Settings:
    4096 seeds, dt = 0.01 to t = 10, η = 0.1, B = 10, γ = 1, x0 = (1, 1). Writes
    `results.zarr/sde` (the ensemble from the engine: `theta`, `psi` (seed, step), `status`) and
    `results.zarr/sde_checks` (mean, standard error, exact means, ODE solve, z-scores), the table
    in `report.md` and `sde_ensemble.png`.

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
    started = now()
    ens, checks = sde_datasets(
        seeds=config.seeds, seed=config.seed, t1=config.t1, dt=config.dt,
        save_every=config.save_every, gamma=config.gamma, eta=config.eta, batch=config.batch,
        x0=(config.theta0, config.psi0), progress=options.progress,
    )
    save(out, "sde", ens, config, ens.attrs.get("start_time", started))
    save(out, "sde_checks", checks, config, started)


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


def report_weak_error(config: Any, results: dict[str, Any], out: Path) -> ReportPart:
    """The orders table and the log-log figure, from the saved `weak_error_dataset` alone."""
    from .. import plotting
    from ..analysis import interval_verdict

    ds = results["weak_error"].load()
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
                     str(interval_verdict(v["ci_low"][i], v["ci_high"][i], expected, tol)[()])])
    figure = out / "weak_error.png"
    plotting.weak_error_plot(series, title=f"R1 Dirac-GAN (γ = {gamma:g}), T = {horizon:g}",
                             path=figure)
    header = ["scheme", "against", "expected order", "fitted slope", "95 % CI",
              f"e(η = {etas[0]:g})", f"e(η = {etas[-1]:g})", f"order ± {tol:g}"]
    failed = [f"{r[0]} vs {r[1]} (slope {r[3]} {r[4]}, expected {r[2]}: {r[-1]})"
              for r in rows if r[-1] != "consistent"]
    verdict = (f"Every fitted order's 95 % interval lies within {tol:g} of the theorem's "
               f"(*consistent*; `ganflow.analysis.interval_verdict`)." if not failed else
               f"**Not every order is consistent** (an interval beyond expected ± {tol:g}: "
               f"*contradicted*; one that admits values on both sides: *unresolved*): "
               + "; ".join(failed) + ".")
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


@dataclasses.dataclass(frozen=True)
class WeakErrorConfig:
    r"""The deterministic (full-batch) weak orders of Cao–Guo Theorems 1, 2 and Remark 1 on the
    R1-regularised Dirac-GAN: simultaneous GD (eq. 7) is order 1 against the gradient flow and
    order 2 against its modified equation (eq. 13); alternating GD (eq. 5) is order 1 against the
    flow and order 2 against eq. 10 (and order 1 against eq. 13: `cross_check`). Errors
    e(η) = max over kη ≤ T of ‖x_k − X(kη)‖ (`ganflow.analysis.deterministic_weak_error`, Dopri8
    at rtol = atol = 1e-12), order = least-squares slope of log e against log η. Settings: GAN
    loss, γ = 1, T = 2, x0 = (1, 1), η = 0.1·2^-k, k < 6. Writes `results.zarr/weak_error`
    (errors per case × η, fitted slopes and intervals), the table in `report.md` and
    `weak_error.png`.

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
        check_choice("loss", self.loss, LOSS_NAMES)
        check_int_at_least("seed", self.seed, 0)


def run_weak_error(config: WeakErrorConfig, out: Path, options: RunOptions) -> None:
    started = now()
    ds = weak_error_dataset(etas=config.etas, horizon=config.horizon, gamma=config.gamma,
                            loss=config.loss, x0=(config.theta0, config.psi0),
                            cross_check=config.cross_check)
    save(out, "weak_error", ds, config, started)


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
