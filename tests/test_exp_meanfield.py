"""The `mean-field` experiment (Wang–Hu–Lu 2019; survey §5.3.1): the engine member against
`ganflow.meanfield.simulate`, the compiled step's memory O(n·d), the linear phase thresholds of
docs/mean_field.md §7, a tiny run (labelled results, summaries, report), and (slow) the
concentration slope −1/2 through the experiment."""

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

import ganflow.meanfield as mf
from ganflow.analysis import fit_order
from ganflow.engine import Sweep, run_ensemble
from ganflow.experiments import (
    ConfigError,
    get_experiment,
    make_config,
    run_experiment,
    write_report,
)
from ganflow.experiments._exp_meanfield import (
    MeanFieldTime,
    conc_keys,
    conc_model,
    linear_theory_phase,
    member_memory,
)

EXP = get_experiment("mean-field")
TINY = {"seeds": 3, "ns": (16, 32), "t_max": 2, "dims": (1,), "taus": (1.0,),
        "eta_ts": (0.3, 1.2), "eta_gs": (0.3, 1.2), "phase_n": 24, "phase_seeds": 2,
        "phase_t_max": 8, "dtype": "float64"}


def test_engine_member_is_simulate():
    """One engine step = one unit of time: run_ensemble(MeanFieldTime) reproduces
    `simulate`'s paths (microscopic step k draws from fold_in(seed_key, k)), with `tau` and
    `eta` translated as phase_diagram does (τ_G = τ·tau_g, τ_D = τ·tau_d, η_T = η_G = η)."""
    model = mf.MeanFieldGAN(n=10, strengths=[1.0, 0.5], tau_g=0.5, tau_d=1.0)
    keys = jax.random.split(jax.random.key(7), 2)
    res = run_ensemble(MeanFieldTime(model), Sweep(seeds=keys, axes={"tau": [2.0],
                                                                     "eta": [0.6]}),
                       2, save_every=1, progress=False)
    _, M = mf.simulate(model, dict(tau_g=1.0, tau_d=2.0, eta_t=0.6, eta_g=0.6), keys, t_max=2)
    np.testing.assert_allclose(res.observations["M"][:, 0, 0], np.asarray(M), atol=1e-12)
    with pytest.raises(ValueError, match="unknown hyper-parameter"):
        MeanFieldTime(model)._hyper({"lr": 1.0}, 1)


def test_member_memory_is_linear_in_n():
    """The compiled step of one member (a unit of time, n microscopic steps) holds the state,
    n(2d + 1) numbers, and O(n) temporaries: both ×10 when n grows ×10 (lowered from shapes:
    nothing of size 10⁵ is allocated)."""
    small = member_memory(mf.MeanFieldGAN(n=10_000, strengths=[1.0], dtype=jnp.float32))
    big = member_memory(mf.MeanFieldGAN(n=100_000, strengths=[1.0], dtype=jnp.float32))
    assert small["state"] == 10_000 * 3 * 4 and big["state"] == 100_000 * 3 * 4
    assert 9.5 < big["temp"] / small["temp"] < 10.5
    assert big["temp"] < 100 * 100_000  # about a dozen float32 numbers per dimension


def test_linear_theory_thresholds():
    """docs/mean_field.md §7 with s = η_T² + η_G²: d = 1, λ = 1, τ_G = 0.5, τ_D = 1:
    oscillation for s < 0.5, failure for s > 2; d = 2, λ = (1, 0.7): success for s < 1.4,
    mode collapse for 1.4 < s < 2; doubling τ halves the failure threshold."""
    phase = lambda e, tau=1.0, lam=(1.0,): linear_theory_phase(  # noqa: E731
        e, e, 0.5 * tau, 1.0 * tau, lam)
    assert [phase(e) for e in (0.4, 0.6, 0.9, 1.05)] == [
        "oscillation", "success", "success", "failure"]
    assert [phase(e, lam=(1.0, 0.7)) for e in (0.4, 0.8, 0.9, 1.05)] == [
        "oscillation", "success", "mode_collapse", "failure"]
    assert phase(0.8, tau=2.0) == "failure" and phase(0.8, tau=1.0) == "success"


def test_config_checks():
    for bad, match in (({"ns": (100,)}, "two distinct"), ({"dims": (3,)}, "dims"),
                       ({"conc_p0": 0.9, "conc_q0": 0.9, "conc_r0": 0.0}, "Gram"),
                       ({"dtype": "float16"}, "dtype"), ({"phase_t_max": 2}, "phase_t_max")):
        with pytest.raises(ConfigError, match=match):
            make_config(EXP, bad)
    assert EXP.preset("paper").ns[-1] == 100_000


def test_mean_field_tiny(tmp_path):
    config = make_config(EXP, TINY)
    report = run_experiment(EXP, config, tmp_path)
    store = tmp_path / "results.zarr"

    conc = xr.open_zarr(store / "concentration")
    assert conc["M"].dims == ("seed", "n", "step", "M_dim0", "M_dim1")
    assert list(conc.n.values) == [16, 32] and list(conc.step.values) == [0, 1, 2]
    # the engine's paths are simulate's (same keys: microscopic step k from fold_in(key, k))
    _, M = mf.simulate(conc_model(config, 16), None, conc_keys(config), t_max=2)
    np.testing.assert_allclose(conc["M"].sel(n=16).values, np.asarray(M), atol=1e-12)

    fit = xr.open_zarr(store / "concentration_fit")
    assert fit["concentration_slope"].dims == ()
    assert fit["concentration_slope_ci"].dims == ("bound",)
    # the summary is what its definition says: max over t ≥ 1 of the seed-mean Frobenius
    # distance to the ODE, and fit_order's slope of it against n
    dist = np.linalg.norm(conc["M"].values - fit["ode_M"].values[None, None], axis=(-2, -1))
    np.testing.assert_allclose(fit["error"], dist[:, :, 1:].mean(0).max(-1), rtol=1e-12)
    ref = fit_order([16.0, 32.0], fit["error"].values, fit["error_se"].values)
    np.testing.assert_allclose(float(fit["concentration_slope"]), float(ref.slope), rtol=1e-12)
    np.testing.assert_allclose(fit["ode_M"].values[0], np.asarray(conc_model(config, 16).M0),
                               atol=1e-14)
    mem = xr.open_zarr(store / "memory")
    assert int(mem["state_bytes"].sel(n=32)) == 32 * 3 * 8

    v = xr.open_zarr(store / "phases_d1_verdicts")
    assert v["ode_phase"].dims == ("tau", "eta_t", "eta_g")
    assert v["simulation_phase"].dims == ("seed", "tau", "eta_t", "eta_g")
    assert xr.open_zarr(store / "phases_d1")["M"].dims == (
        "seed", "tau", "eta_t", "eta_g", "step", "M_dim0", "M_dim1")
    # η_T = η_G = 1.2: s = 2.88 > 2λ/τ_D = 2, nothing is detected (theory and ODE agree)
    assert str(v["theory_phase"].values[0, 1, 1]) == "failure"
    assert str(v["ode_phase"].values[0, 1, 1]) == "failure"
    assert float(v["ode_overlap"].values[0, 1, 1, 0]) < 0.5
    assert set(np.unique(v["simulation_phase"].values)) <= set(mf.PHASES)

    text = report.read_text()
    for needle in ("Concentration (Theorem 1)", "Fitted log-log slope", "### d = 1",
                   "Which statements hold", "converges to the initial state"):
        assert needle in text, needle
    for name in ("mean_field_concentration.png", "mean_field_phases_d1.png",
                 "mean_field_trajectories.png"):
        assert (tmp_path / name).stat().st_size > 10_000, name
    # `ganflow report` rewrites the same report from the saved results alone
    (tmp_path / "report.md").unlink()
    assert write_report(EXP, config, tmp_path).read_text() == text


@pytest.mark.slow
def test_concentration_slope_through_the_experiment(tmp_path):
    """The default concentration settings (d = 1, n = 10²…10⁴, 32 seeds, t ≤ 2, float32
    simulation against the float64 ODE) run as the experiment: concentration_slope within
    −0.5 ± 0.1 (Wang–Hu–Lu Theorem 1). Phase diagrams off (dims = ())."""
    config = make_config(EXP, {"dims": ()})
    start = time.perf_counter()
    run_experiment(EXP, config, tmp_path)
    seconds = time.perf_counter() - start
    fit = xr.open_zarr(tmp_path / "results.zarr" / "concentration_fit")
    slope = float(fit["concentration_slope"])
    print(f"errors {fit['error'].values} se {fit['error_se'].values} slope {slope:.3f} "
          f"ci {fit['concentration_slope_ci'].values} wall {seconds:.0f} s")
    assert np.all(np.diff(fit["error"].values) < 0)
    assert abs(slope + 0.5) < 0.1
