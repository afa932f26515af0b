"""The `mean-field` experiment (Wang–Hu–Lu 2019; survey §5.3.1): the config checks, a tiny run
(labelled results, summaries, report), and (slow) the concentration slope −1/2 through the
experiment. The library it declares (`MeanFieldTime`, `member_memory`, the summaries and their
readers, the figures) is tested in tests/test_meanfield_study.py and
tests/test_plotting_meanfield.py."""

import time

import numpy as np
import pytest
import xarray as xr

import ganflow.meanfield as mf
from ganflow.analysis import fit_order
from ganflow.experiments._exp_meanfield import conc_keys, conc_model
from ganflow.studies import (
    ConfigError,
    get_experiment,
    make_config,
    run_experiment,
    write_report,
)

EXP = get_experiment("mean-field")
TINY = {"seeds": 3, "ns": (16, 32), "t_max": 2, "dims": (1,), "taus": (1.0,),
        "eta_ts": (0.3, 1.2), "eta_gs": (0.3, 1.2), "phase_n": 24, "phase_seeds": 2,
        "phase_t_max": 8, "dtype": "float64"}


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
