"""The experiments `sde-neural` and `fdr-schedule` (Cao–Guo 2020 §3–4 on an MLP GAN).

Fast tests run tiny configurations; the slow test asserts the headline weak orders (order 1 for
simultaneous SGDA against the SDE (9), order 2 for alternating SGDA against the SDE (10)).
"""

import numpy as np
import pytest

from ganflow.analysis import WEAK_TEST_FUNCTIONS, local_slope_medians
from ganflow.studies import (
    RunOptions,
    get_experiment,
    make_config,
    open_results,
    run_experiment,
)
from tests.test_dataset_names import assert_every_group_selectable

SDE_NEURAL, FDR_SCHEDULE = get_experiment("sde-neural"), get_experiment("fdr-schedule")
TEST_FUNCTIONS = WEAK_TEST_FUNCTIONS


def test_sde_neural_config_checks():
    with pytest.raises(ValueError, match="multiple of num_times"):
        make_config(SDE_NEURAL, {"etas": (0.3, 0.2), "horizon": 1.0})
    with pytest.raises(ValueError, match="not one of"):
        make_config(SDE_NEURAL, {"variants": ("momentum=0.9",)})
    with pytest.raises(ValueError, match="fit_max_eta"):
        make_config(SDE_NEURAL, {"fit_max_eta": 0.01})
    cfg = make_config(SDE_NEURAL, {"variants": ("activation=relu;batch_size=8",)})
    label, variant = cfg.settings[1]
    assert (variant.activation, variant.batch_size, variant.variants) == ("relu", 8, ())


def test_sde_neural_tiny_run(tmp_path):
    """The experiment end to end at tiny sizes (simultaneous only): labelled runs and the
    summary `weak` with `order` over (scheme, test_function); the control variates have mean
    ≈ 0 and cut the variance; the noise-free errors (no Monte Carlo) have order ≈ 1.

    The noise-free error is Cη + O(η²), so a two-point slope is 1 + O(η): at η = 0.2/0.1 the
    slopes are 1.04–1.25, at η = 0.1/0.05 they are 1.02–1.14 (the excess halves with η, as it
    must for order 1), hence the smaller pair here."""
    cfg = make_config(SDE_NEURAL, {
        "seeds": 16, "etas": (0.1, 0.05), "horizon": 0.8, "width": 4, "depth": 1,
        "num_examples": 8, "batch_size": 8, "variants": (), "bootstrap": 20,
        "num_latents": 16, "schemes": ("simultaneous",), "min_z": 1.0})
    report = run_experiment(SDE_NEURAL, cfg, tmp_path, RunOptions())
    assert assert_every_group_selectable(tmp_path) >= 2
    results = open_results(tmp_path)
    assert {"runs_base", "weak"} <= set(results)
    runs, weak = results["runs_base"], results["weak"]
    assert runs["f"].dims[:5] == ("seed", "eta", "scheme", "process", "step")
    assert weak["order"].dims == ("scheme", "test_function")
    assert list(weak["test_function"].values) == list(TEST_FUNCTIONS)
    assert list(weak["scheme"].values) == ["simultaneous"]
    det = weak["deterministic_order"].sel(variant="base", scheme="simultaneous").values
    assert np.all(np.abs(det - 1.0) < 0.2), det
    ratio = weak["cv_variance_ratio"].values
    assert np.nanmedian(ratio) > 10, np.nanmedian(ratio)
    z = weak["cv_mean_z"].values
    assert np.nanmax(np.abs(z)) < 6, z
    text = report.read_text()
    assert "Fitted orders: base" in text and "sde_neural_simultaneous.png" in text
    assert (tmp_path / "sde_neural_simultaneous.png").stat().st_size > 1000


def _fdr_tiny(methods, fdr1):
    return make_config(FDR_SCHEDULE, {
        "seeds": 2, "windows": 3, "window": 4, "save_every": 1, "width": 4, "depth": 1,
        "fdr_examples": 8, "eval_samples": 64, "batch_size": 8, "tol": 0.8,
        "methods": methods, "fdr1": fdr1})


def _check_schedule(cfg, runs):
    """η of the FDR2 schedule is lowered by `decay` exactly after the windows whose FDR2 ratio
    was within `tol` of 1 (recorded every window)."""
    eta = runs["eta"].sel({"schedule": "fdr2"}).values
    ratio = runs["window_ratio"].sel({"schedule": "fdr2"}).values
    assert np.all(np.isfinite(ratio[:, 1:]))
    for s in range(cfg.seeds):
        expected = cfg.eta
        for w in range(cfg.windows):
            if abs(ratio[s, w + 1] - 1) <= cfg.tol:
                expected = max(cfg.decay * expected, cfg.eta_min)
            np.testing.assert_allclose(eta[s, w + 1], expected, rtol=1e-12)


def test_fdr_schedule_tiny_run(tmp_path):
    """`fdr-schedule` end to end at tiny sizes (the scheduled method only): traces of the FDR2
    sides and the mode metrics over (seed, method, step), the schedule's rule, the summary and
    the report."""
    cfg = _fdr_tiny(("fdr2",), False)
    report = run_experiment(FDR_SCHEDULE, cfg, tmp_path, RunOptions())
    assert assert_every_group_selectable(tmp_path) == 2
    results = open_results(tmp_path)
    runs, summ = results["runs"], results["fdr"]
    for name in ("fdr2_lhs", "fdr2_rhs", "eta", "modes_covered", "high_quality_fraction",
                 "kl_uniform", "window_ratio"):
        assert runs[name].dims == ("seed", "schedule", "step"), name
    assert np.all(runs["fdr2_rhs"].values > 0)  # β⁻¹ Tr Σ
    _check_schedule(cfg, runs)
    assert summ["modes_covered"].dims == ("schedule",)
    assert np.all((summ["modes_covered"].values >= 0) & (summ["modes_covered"].values <= 8))
    text = report.read_text()
    assert "Mode metrics at the end" in text and "FDR ratios" in text
    for name in ("fdr_fdr2_fdr2.png", "fdr_modes_covered.png", "fdr_eta.png"):
        assert (tmp_path / name).stat().st_size > 1000, name


@pytest.mark.slow
def test_fdr_schedule_all_methods(tmp_path):
    """All four methods with FDR1 tracked: the constant η never changes, β⁻¹ Tr Σ > 0, the
    schedule's rule, FDR1 traces of the alternating run, every figure."""
    cfg = _fdr_tiny(("constant", "fdr2", "adam", "alternating"), True)
    report = run_experiment(FDR_SCHEDULE, cfg, tmp_path, RunOptions())
    runs = open_results(tmp_path)["runs"]
    assert list(runs["schedule"].values) == ["constant", "fdr2", "adam", "alternating"]
    for name in ("fdr1_lhs", "fdr1_rhs"):
        assert runs[name].dims == ("seed", "schedule", "step")
        assert np.all(np.isfinite(runs[name].values))
    np.testing.assert_array_equal(runs["eta"].sel({"schedule": "constant"}).values, cfg.eta)
    _check_schedule(cfg, runs)
    assert "FDR1" in report.read_text()
    for name in ("fdr_fdr2_constant.png", "fdr_fdr1_alternating.png", "fdr_modes_covered.png"):
        assert (tmp_path / name).stat().st_size > 1000, name


@pytest.mark.slow
def test_sde_neural_headline_orders(tmp_path):
    """Cao–Guo Theorems 1–2 on the MLP GAN (tanh, B = 64): simultaneous SGDA is weak order 1
    against the SDE (9), alternating SGDA order 2 against the SDE (10).

    The theorems bound e(η) by Cη^p as η → 0; at finite η, e(η) = Cη^p (1 + O(η)), so a fit
    over η ∈ [0.05, 0.4] carries an O(η) excess (measured: simultaneous median fitted order
    1.25, noise-free 1.25 as well; the median local slopes fall 1.45, 1.22, 1.08 as η halves).
    The asymptotic check: the median local slope of the smallest resolved η pair is within
    [0.8, 1.25]·p; for alternating, whose slopes show no O(η) excess, the fitted median too;
    most test functions resolved."""
    cfg = make_config(SDE_NEURAL, {"seeds": 256, "variants": (), "etas": (0.4, 0.2, 0.1, 0.05)})
    run_experiment(SDE_NEURAL, cfg, tmp_path, RunOptions())
    weak = open_results(tmp_path)["weak"].sel(variant="base")
    for scheme, p in (("simultaneous", 1.0), ("alternating", 2.0)):
        orders = weak["order"].sel(scheme=scheme).values
        resolved = orders[np.isfinite(orders)]
        assert resolved.size >= 4, (scheme, orders)
        w = weak.sel(scheme=scheme)
        meds = local_slope_medians(w["local_slope"].values, w["error"].values,
                                   w["error_se"].values, cfg.min_z)
        finite = meds[np.isfinite(meds)]
        assert finite.size >= 2, (scheme, meds)
        assert 0.8 * p <= finite[-1] <= 1.25 * p, (scheme, meds)
        if scheme == "alternating":
            assert 1.6 <= np.median(resolved) <= 2.4, (scheme, orders)
