"""The experiments `sde-neural` and `fdr-schedule` (Cao–Guo 2020 §3–4 on an MLP GAN).

Fast tests run tiny configurations; the slow test asserts the headline weak orders (order 1 for
simultaneous SGDA against the SDE (9), order 2 for alternating SGDA against the SDE (10)).
"""


import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganflow.continuous import sde_ensemble
from ganflow.engine import Sweep, run_ensemble
from ganflow.experiments._exp_noise import (
    FDR_SCHEDULE,
    PROCESSES,
    SDE_NEURAL,
    TEST_FUNCTIONS,
    HeunDrift,
    WeakErrorMember,
    neural_setting,
    weak_adjoints,
)
from ganflow.studies import RunOptions, make_config, open_results, run_experiment
from ganflow.training import sgda_ensemble

_tmap = jax.tree_util.tree_map


def _tiny_setting():
    return neural_setting(jax.random.key(3), width=4, depth=1, latent_dim=2,
                          activation="tanh", num_examples=8, num_latents=16)


def test_heun_drift_is_heuns_method():
    """Euler with the Heun-predictor drift is Heun's method: on ẋ = a x one step multiplies by
    1 + ah + (ah)²/2 exactly (the exponential to O(h³))."""
    a, h = -1.3, 0.1
    drift = HeunDrift(lambda x: (a * x[0], a * x[1]), h)
    x = (jnp.asarray(0.7), jnp.asarray(-0.2))
    b = drift(x)
    for xi, bi in zip(x, b):
        np.testing.assert_allclose(xi + h * bi, xi * (1 + a * h + (a * h) ** 2 / 2), rtol=1e-14)


def test_adjoints_are_derivatives_of_the_noise_free_path():
    """The control-variate coefficients a_k = ∂f(x̄_K)/∂u_k equal central finite differences of
    the noise-free simultaneous GDA path x̄_{k+1} = x̄_k + η b0(x̄_k) + u_k (float64)."""
    s = _tiny_setting()
    eta, T = 0.2, 0.8
    tables, values = weak_adjoints(s, (eta,), T, "simultaneous", "sgda", 1, 2)
    b0 = s.field
    K = 4

    def path(us):
        x = s.x0
        snaps = []
        for k in range(K):
            x = _tmap(lambda a, b, u: a + eta * b + u, x, b0(x, s.data), us[k])
            if k + 1 in (2, 4):
                snaps.append(s.tests(x))
        return jnp.stack(snaps)

    path = jax.jit(path)
    zero = [_tmap(jnp.zeros_like, s.x0) for _ in range(K)]
    np.testing.assert_allclose(values[0], path(zero), rtol=1e-12, atol=1e-14)
    key = jax.random.key(0)
    for k in (0, 1, 3):
        leaves, tdef = jax.tree_util.tree_flatten(s.x0)
        ks = jax.random.split(jax.random.fold_in(key, k), len(leaves))
        d = jax.tree_util.tree_unflatten(
            tdef, [jax.random.normal(kk, a.shape) for kk, a in zip(ks, leaves)])
        eps = 1e-5
        up = [d if j == k else z for j, z in enumerate(zero)]
        dn = [_tmap(jnp.negative, d) if j == k else z for j, z in enumerate(zero)]
        scaled_up = [_tmap(lambda a: eps * a, u) for u in up]  # noqa: B023
        scaled_dn = [_tmap(lambda a: eps * a, u) for u in dn]  # noqa: B023
        fd = (path(scaled_up) - path(scaled_dn)) / (2 * eps)
        table_k = _tmap(lambda a, k=k: a[0, k], tables)  # (J·F, ...)
        pred = sum(jnp.tensordot(a, b, axes=b.ndim) for a, b in zip(
            jax.tree_util.tree_leaves(table_k), jax.tree_util.tree_leaves(d)))
        np.testing.assert_allclose(pred.reshape(fd.shape), fd, rtol=1e-6, atol=1e-9)


def test_alternating_members_follow_the_library_schemes():
    """A member's alternating SGDA path is `sgda_ensemble`'s (independent batches, eq. 6) and its
    SDE path is `sde_ensemble`'s for the SDE (10) of `cao_guo_sde` with the Heun drift, seed by
    seed (same keys); zero control-variate tables leave f untouched."""
    s = _tiny_setting()
    etas, T, B, m = (0.4,), 0.8, 4, 2
    L = {"sgda": 2, "sde": 4}

    def zeros(process):
        def z(tree):
            return _tmap(lambda a: jnp.zeros((1, L[process], 2 * len(TEST_FUNCTIONS)) + a.shape,
                                             a.dtype), tree)
        return (z(s.x0[1]), z(s.x0[0])) if process == "sgda" else z(s.x0)

    def make(process):
        return WeakErrorMember(s, zeros(process), etas, process, "alternating", T, B, m, 2)

    keys = jax.random.split(jax.random.key(9), 3)
    res = run_ensemble(make, Sweep(seeds=keys, axes={"eta": [0.4], "process": list(PROCESSES)}),
                       2)
    f = res.dataset["f"].isel(step=-1, eta=0).values  # (seed, process, J, F)
    sol = sgda_ensemble(s.game, s.x0, 0.4, B, 2, keys, scheme="alternating", data=s.data)
    ref = jax.vmap(s.tests)(_tmap(lambda a: a[:, -1], sol.xs))
    np.testing.assert_allclose(f[:, 0, -1], ref, rtol=1e-12, atol=1e-14)
    sde = make("sde").sde(0.4)
    so = sde_ensemble(sde, s.x0, 0.0, T, dt=0.2, keys=keys)
    ref = jax.vmap(s.tests)(_tmap(lambda a: a[:, -1], so.xs))
    np.testing.assert_allclose(f[:, 1, -1], ref, rtol=1e-12, atol=1e-14)
    assert np.all(res.dataset["cv"].values == 0)


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
    eta = runs["eta"].sel({"method": "fdr2"}).values
    ratio = runs["window_ratio"].sel({"method": "fdr2"}).values
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
    results = open_results(tmp_path)
    runs, summ = results["runs"], results["fdr"]
    for name in ("fdr2_lhs", "fdr2_rhs", "eta", "modes_covered", "high_quality_fraction",
                 "kl_uniform", "window_ratio"):
        assert runs[name].dims == ("seed", "method", "step"), name
    assert np.all(runs["fdr2_rhs"].values > 0)  # β⁻¹ Tr Σ
    _check_schedule(cfg, runs)
    assert summ["modes_covered"].dims == ("method",)
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
    assert list(runs["method"].values) == ["constant", "fdr2", "adam", "alternating"]
    for name in ("fdr1_lhs", "fdr1_rhs"):
        assert runs[name].dims == ("seed", "method", "step")
        assert np.all(np.isfinite(runs[name].values))
    np.testing.assert_array_equal(runs["eta"].sel({"method": "constant"}).values, cfg.eta)
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
    from ganflow.experiments._exp_noise import local_slope_medians

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
