r"""Mean-field runs as labelled results, and what is read off them (Wang–Hu–Lu 2019; survey
§5.3.1): the concentration error of simulated trajectories around the ODE, the phases of a grid
of simulations beside the ODE's and the linear theory's (docs/mean_field.md §7), the text
grids, the order of the phases in the noise, and the disagreements near phase boundaries.

The summaries are `xarray.Dataset`s (xarray is imported inside the functions); the readers
(`phase_tables`, `phase_order`, `boundary_disagreements`, `representative_cells`) take the
dataset of `phase_verdicts` (or the same variables loaded back from a results store).
"""

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..analysis import fit_order
from ._analysis import PHASES, PhaseDiagram, classify_phase, feature_overlaps
from ._model import MeanFieldGAN
from ._ode import solve_mean_field


def linear_theory_phase(eta_t: float, eta_g: float, tau_g: float, tau_d: float,
                        strengths: Sequence[float]) -> str:
    r"""The phase predicted by the linearisation of the ODE at the equilibrium manifold
    q = r = 0 (docs/mean_field.md §7), with s = η_T² + η_G², λ₁ = max λ, λ_d = min λ:
    failure if s > 2λ₁/τ_D (not even the strongest feature is detected), oscillation if
    s < τ_Gλ₁/τ_D² (no point of the manifold is stable), success if s < 2λ_d/τ_D, mode
    collapse otherwise (the weaker features are not detected)."""
    s = eta_t**2 + eta_g**2
    lam1, lamd = max(strengths), min(strengths)
    if s > 2 * lam1 / tau_d:
        return "failure"
    if s < tau_g * lam1 / tau_d**2:
        return "oscillation"
    if s < 2 * lamd / tau_d:
        return "success"
    return "mode_collapse"


def phase_names(codes: Any) -> np.ndarray:
    """The names (`PHASES`) of integer phase codes of `classify_phase`, same shape."""
    return np.asarray(PHASES)[np.asarray(codes)]


# ---------------------------------------------------------------------------------------------
# summaries


def concentration_summary(model: MeanFieldGAN, M: Any, ns: Sequence[int], t_max: int) -> Any:
    r"""The concentration error of simulated trajectories (Wang–Hu–Lu Theorem 1:
    $\max_k E\|M_k - M(k/n)\|_F ≤ C(T)/\sqrt n$) as a labelled summary.

    **Arguments:** `model` (its ODE, `solve_mean_field` at rtol = atol = 1e-10, is the
    reference; its n does not matter); `M` (seed, n, step, m, m): the simulated M at t = 0, 1,
    …, `t_max` for each size of `ns` (e.g. `MeanFieldTime` runs over a static axis `n`).

    **Returns:** an `xarray.Dataset` with `error` (n): the largest over t = 1…t_max of the
    seed mean of ‖M_t − M(t)‖_F (t = 0 is exact by construction of `MeanFieldGAN.init`),
    `error_se` (its standard error at the maximising time), `error_time`, `distance`
    (seed, n, step), `ode_M`, `ode_status`, the log-log slope `concentration_slope` of the
    error against n (`ganflow.analysis.fit_order`; −1/2 expected) with `_se`, `_ci` and
    `intercept`, and `ode_drift` = max_t ‖M(t) − M(0)‖_F.
    """
    import xarray as xr

    ns = [int(n) for n in ns]
    M = np.asarray(M, np.float64)
    ode = solve_mean_field(model, None, float(t_max), rtol=1e-10, atol=1e-10)
    ref = np.asarray(ode.xs, np.float64)  # (step, m, m), t = 0, 1, ..., t_max
    dist = np.linalg.norm(M - ref[None, None], axis=(-2, -1))  # (seed, n, step)
    mean = dist[:, :, 1:].mean(axis=0)  # t = 0 is exact by construction (init)
    j = np.argmax(mean, axis=1)
    errors = mean[np.arange(len(ns)), j]
    S = dist.shape[0]
    ses = (dist[:, np.arange(len(ns)), j + 1].std(axis=0, ddof=1) / np.sqrt(S) if S > 1
           else np.zeros(len(ns)))
    fit = fit_order(np.asarray(ns, np.float64), errors, ses)
    steps = np.arange(t_max + 1)
    return xr.Dataset(
        {
            "error": (("n",), errors, {"long_name": "max_k E‖M_k − M(k/n)‖_F (mean over seeds)"}),
            "error_se": (("n",), ses, {"long_name": "standard error at the maximising time"}),
            "error_time": (("n",), (j + 1).astype(np.int64)),
            "distance": (("seed", "n", "step"), dist),
            "ode_M": (("step", "row", "col"), ref),
            "ode_status": ((), int(ode.status)),
            "concentration_slope": ((), float(fit.slope),
                                    {"expected": -0.5, "long_name": "log-log slope of the "
                                     "concentration error against n (Wang–Hu–Lu Theorem 1: −1/2)"}),
            "concentration_slope_se": ((), float(fit.slope_se)),
            "concentration_slope_ci": (("bound",), np.asarray(fit.ci, np.float64),
                                       {"confidence": float(fit.confidence)}),
            "intercept": ((), float(fit.intercept)),
            "ode_drift": ((), float(np.max(np.linalg.norm(ref - ref[0], axis=(-2, -1)))),
                          {"long_name": "max_t ‖M(t) − M(0)‖_F of the ODE"}),
        },
        coords={"n": ns, "seed": np.arange(S), "step": steps, "time": ("step", steps * 1.0),
                "bound": ["lower", "upper"]},
        attrs={"setting": f"d = {model.d}", "t_max": t_max},
    )


def phase_verdicts(model: MeanFieldGAN, M: Any, taus: Sequence[float],
                   eta_ts: Sequence[float], eta_gs: Sequence[float]) -> Any:
    r"""The phases (`classify_phase`) of simulated trajectories on the grid τ × η_T × η_G,
    beside the ODE's (`solve_mean_field` of each cell, one vmapped solve) and the linear
    theory's (`linear_theory_phase`); τ multiplies both learning rates (τ_G = τ·model.tau_g,
    τ_D = τ·model.tau_d), as `MeanFieldTime`'s axis `tau`.

    **Arguments:** `model` (d features, n, base rates); `M` (seed, tau, eta_t, eta_g, step,
    m, m): the simulated M at t = 0, 1, …, T (e.g. `MeanFieldTime` over the three axes);
    the grid's values.

    **Returns:** an `xarray.Dataset` with `ode_phase`, `theory_phase` (tau, eta_t, eta_g),
    `simulation_phase` (seed, …) as phase names, the final best overlaps `ode_overlap` and
    `simulation_overlap` (…, feature; `feature_overlaps`), the ODE's `ode_M` and
    `ode_status`, and the agreements: `agreement` (fraction of (seed, cell) pairs whose
    simulated phase is the ODE's) and `agreement_theory` (fraction of cells whose ODE phase,
    pursuit read as success, is the linear theory's); attrs d, strengths, n, t_max, phases,
    tau_g, tau_d.
    """
    import xarray as xr

    axes = {"tau": [float(v) for v in taus], "eta_t": [float(v) for v in eta_ts],
            "eta_g": [float(v) for v in eta_gs]}
    M = np.asarray(M, np.float64)  # (seed, tau, eta_t, eta_g, step, m, m)
    T = M.shape[-3] - 1
    d = model.d
    strengths = [float(x) for x in np.asarray(model.strengths, np.float64)]
    shape = tuple(len(v) for v in axes.values())
    grid = np.meshgrid(*[np.asarray(v) for v in axes.values()], indexing="ij")
    tau, et, eg = (g.ravel() for g in grid)
    hyper = {"tau_g": jnp.asarray(tau * model.tau_g), "tau_d": jnp.asarray(tau * model.tau_d),
             "eta_t": jnp.asarray(et), "eta_g": jnp.asarray(eg)}
    sols = jax.vmap(lambda h: solve_mean_field(model, h, float(T)))(hyper)
    ode_M = np.asarray(sols.xs, np.float64).reshape(shape + (T + 1,) + M.shape[-2:])
    # one compiled classification of the ODE's and the simulation's trajectories together
    flat = np.concatenate([ode_M.reshape((-1,) + ode_M.shape[-3:]),
                           M.reshape((-1,) + M.shape[-3:])])
    codes = np.asarray(jax.jit(classify_phase)(flat))
    ode_phase = phase_names(codes[: math.prod(shape)]).reshape(shape)
    sim_phase = phase_names(codes[math.prod(shape):]).reshape(M.shape[:-3])
    theory = np.asarray([linear_theory_phase(a, b, t * model.tau_g, t * model.tau_d, strengths)
                         for t, a, b in zip(tau, et, eg)]).reshape(shape)
    like = lambda p: np.where(p == "pursuit", "success", p)  # noqa: E731 (not in the theory)
    dims = ("tau", "eta_t", "eta_g")
    steps = np.arange(T + 1)
    return xr.Dataset(
        {
            "ode_phase": (dims, ode_phase),
            "simulation_phase": (("seed",) + dims, sim_phase),
            "theory_phase": (dims, theory),
            "ode_overlap": (dims + ("feature",),
                            np.asarray(feature_overlaps(ode_M[..., -1, :, :]))),
            "simulation_overlap": (("seed",) + dims + ("feature",),
                                   np.asarray(feature_overlaps(M[..., -1, :, :]))),
            "ode_M": (dims + ("step", "row", "col"), ode_M),
            "ode_status": (dims, np.asarray(sols.status).reshape(shape).astype(np.int8)),
            "agreement": ((), float(np.mean(sim_phase == ode_phase[None])),
                          {"long_name": "fraction of (seed, cell) pairs whose simulated phase "
                           "equals the ODE's"}),
            "agreement_theory": ((), float(np.mean(like(ode_phase) == theory)),
                                 {"long_name": "fraction of cells whose ODE phase (pursuit read "
                                  "as success) equals the linear theory's"}),
        },
        coords={**{k: v for k, v in axes.items()}, "seed": np.arange(M.shape[0]),
                "feature": np.arange(1, d + 1), "step": steps, "time": ("step", steps * 1.0)},
        attrs={"d": d, "strengths": strengths, "n": model.n, "t_max": T,
               "phases": list(PHASES), "tau_g": model.tau_g, "tau_d": model.tau_d},
    )


# ---------------------------------------------------------------------------------------------
# readers of phase_verdicts


def _side_by_side(left: str, right: str, gap: int = 4) -> str:
    a, b = left.splitlines(), right.splitlines()
    width = max(len(x) for x in a) + gap
    rows = max(len(a), len(b))
    a += [""] * (rows - len(a))
    b += [""] * (rows - len(b))
    return "\n".join(x.ljust(width) + y for x, y in zip(a, b)).rstrip()


def _diagram(v, names, values, ode, sim) -> PhaseDiagram:
    code = {p: i for i, p in enumerate(PHASES)}
    to = np.vectorize(code.__getitem__)
    d = int(v.attrs["d"])
    return PhaseDiagram(
        names=names, values=tuple(jnp.asarray(x) for x in values),
        ode=jnp.asarray(to(ode)), ode_overlap=jnp.zeros(ode.shape + (d,)),
        simulation=jnp.asarray(to(sim)), simulation_overlap=None,
        n=int(v.attrs["n"]), t_max=int(v.attrs["t_max"]),
    )


def phase_tables(verdicts: Any) -> str:
    """Text grids of `phase_verdicts` (docs/mean_field.md §8), one letter per phase
    (`PhaseDiagram.table`): per τ, the (η_T, η_G) grid of the ODE beside the simulation's
    (one letter per seed) with their agreement; then the diagonal η_T = η_G = η against τ."""
    v = verdicts
    out = []
    et, eg = v.eta_t.values, v.eta_g.values
    ode, sim = v.ode_phase.values, v.simulation_phase.values
    for i, tau in enumerate(v.tau.values):
        pd = _diagram(v, ("eta_t", "eta_g"), (et, eg), ode[i], sim[:, i])
        head = f"τ = {tau:g} (τ_G = {tau * v.attrs['tau_g']:g}, τ_D = {tau * v.attrs['tau_d']:g})"
        agree = float(np.mean(sim[:, i] == ode[i][None]))
        out.append(f"{head}; agreement {agree:.2f}\n\n```text\n"
                   + _side_by_side("ODE\n" + pd.table("ode"),
                                   "simulation\n" + pd.table("simulation")) + "\n```")
    common = [x for x in et if np.any(np.isclose(eg, x))]
    if common and len(v.tau) > 0:
        ia = [int(np.argmin(np.abs(et - x))) for x in common]
        ib = [int(np.argmin(np.abs(eg - x))) for x in common]
        diag_ode = np.stack([ode[:, a, b] for a, b in zip(ia, ib)], axis=1)
        diag_sim = np.stack([sim[:, :, a, b] for a, b in zip(ia, ib)], axis=2)
        pd = _diagram(v, ("tau", "eta"), (v.tau.values, np.asarray(common)), diag_ode, diag_sim)
        agree = float(np.mean(diag_sim == diag_ode[None]))
        out.append(f"η_T = η_G = η against τ; agreement {agree:.2f}\n\n```text\n"
                   + _side_by_side("ODE\n" + pd.table("ode"),
                                   "simulation\n" + pd.table("simulation")) + "\n```")
    return "\n\n".join(out)


def phase_order(verdicts: Any) -> dict[str, Any]:
    """The order of the ODE's phases in the noise s = η_T² + η_G² (Wang–Hu–Lu abstract and
    Fig. 1: oscillation at weak noise, then success, mode collapse, failure). Returns
    `per_tau`: for each τ, (τ, mean s of the cells of each phase (pursuit counted as success),
    mean s of the success cells or NaN); `holds`: the order oscillation < success < mode
    collapse < failure at every τ; `decidable`: oscillation and a large-noise phase (mode
    collapse or failure) both appear; `reversed`: mode collapse below oscillation wherever both
    appear (the survey's §5.3.1 reading), None when they never appear together."""
    v = verdicts
    s = v.eta_t.values[:, None] ** 2 + v.eta_g.values[None, :] ** 2
    order = ["oscillation", "success", "mode_collapse", "failure"]
    per_tau, holds, seen, rev = [], True, set(), []
    for i, tau in enumerate(v.tau.values):
        ph = np.where(v.ode_phase.values[i] == "pursuit", "success", v.ode_phase.values[i])
        means = {p: float(s[ph == p].mean()) for p in order if np.any(ph == p)}
        seen |= set(means)
        seq = [means[p] for p in order if p in means]
        holds &= all(a < b for a, b in zip(seq, seq[1:]))
        if "oscillation" in means and "mode_collapse" in means:
            rev.append(means["mode_collapse"] < means["oscillation"])
        per_tau.append((float(tau), means, means.get("success", float("nan"))))
    decidable = "oscillation" in seen and bool(seen & {"mode_collapse", "failure"})
    return {"per_tau": per_tau, "holds": holds, "decidable": decidable,
            "reversed": all(rev) if rev else None}


def boundary_disagreements(verdicts: Any) -> tuple[int, int]:
    """(the (seed, cell) pairs whose simulated phase differs from the ODE's, how many of them
    lie on an ODE phase boundary: a neighbouring cell in τ, η_T or η_G has another ODE
    phase)."""
    ode, sim = verdicts.ode_phase.values, verdicts.simulation_phase.values
    edge = np.zeros(ode.shape, bool)
    for ax in range(ode.ndim):
        lo = [slice(None)] * ode.ndim
        hi = [slice(None)] * ode.ndim
        lo[ax], hi[ax] = slice(0, -1), slice(1, None)
        change = ode[tuple(lo)] != ode[tuple(hi)]
        edge[tuple(lo)] |= change
        edge[tuple(hi)] |= change
    bad = sim != ode[None]
    return int(bad.sum()), int((bad & edge[None]).sum())


def representative_cells(verdicts: Any) -> list[tuple[str, int, int, int]]:
    """One grid cell per ODE phase at the τ closest to 1, preferring cells where every seed
    agrees with the ODE (the middle one of the candidates): a list of (phase, i_tau, i_eta_t,
    i_eta_g), in the order of `PHASES`."""
    v = verdicts
    i = int(np.argmin(np.abs(np.log(v.tau.values))))
    ode, sim = v.ode_phase.values[i], v.simulation_phase.values[:, i]
    out = []
    for p in PHASES:
        cells = np.argwhere(ode == p)
        if not len(cells):
            continue
        agree = [c for c in cells if np.all(sim[:, c[0], c[1]] == p)]
        a, b = (agree or list(cells))[len(agree or cells) // 2]
        out.append((p, i, int(a), int(b)))
    return out
