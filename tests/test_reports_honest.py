"""Reports that hide nothing: a member the engine froze after a divergence is counted (how many,
from which step) and masked, never read as data (`analysis.count_diverged`, `mask_diverged`);
a claim judged from an interval says *unresolved* when the interval is too wide to decide
(`analysis.interval_verdict`); figures mark diverged members and draw the data they are given
(small multiples, labelled reference lines, a round unit circle)."""

import numpy as np
import pytest
import xarray as xr

from ganflow import analysis, plotting
from ganflow.engine import RESULTS

DIV, OK = int(RESULTS.diverged), int(RESULTS.successful)


# ---------------------------------------------------------------------------------------------
# divergence


def test_count_diverged_counts_members_and_the_first_step():
    status = np.array([[OK, DIV, DIV], [DIV, OK, DIV], [OK, OK, DIV]])  # (seed, cell)
    dstep = np.array([[-1, 7, 2], [4, -1, 1], [-1, -1, 9]])
    c = analysis.count_diverged(status, dstep)
    np.testing.assert_array_equal(c.diverged, [1, 1, 3])
    np.testing.assert_array_equal(c.members, [3, 3, 3])
    np.testing.assert_array_equal(c.first_step, [4, 7, 1])
    none = analysis.count_diverged(np.full((2, 2), OK), np.full((2, 2), -1))
    np.testing.assert_array_equal(none.first_step, [-1, -1])
    assert analysis.divergence_text(0, 16, -1) == "0 of 16"
    assert analysis.divergence_text(16, 16, 1) == "16 of 16 (first at step 1)"
    np.testing.assert_array_equal(analysis.mostly_diverged(c.diverged, c.members),
                                  [False, False, True])
    np.testing.assert_array_equal(analysis.mostly_diverged([1, 2], [4, 4]), [False, True])


def test_mask_diverged_hides_exactly_the_frozen_save_points():
    steps = np.array([0, 2, 4, 6])
    status = np.array([OK, DIV, DIV])
    dstep = np.array([-1, 3, 6])  # member 1 frozen at its step-2 state, member 2 at step 5
    values = np.arange(3 * 4 * 2, dtype=float).reshape(3, 4, 2)  # (member, step, extra)
    out = analysis.mask_diverged(values, steps, status, dstep)
    np.testing.assert_array_equal(out[0], values[0])
    np.testing.assert_array_equal(out[1, :2], values[1, :2])
    assert np.isnan(out[1, 2:]).all()
    np.testing.assert_array_equal(out[2, :3], values[2, :3])
    assert np.isnan(out[2, 3]).all()
    with pytest.raises(ValueError, match="save points"):
        analysis.mask_diverged(values[:, :3], steps, status, dstep)


# ---------------------------------------------------------------------------------------------
# claims from an interval


@pytest.mark.parametrize("low, high, want", [
    (-1.425, 5.417, "unresolved"),  # 1.996 [−1.425, 5.417]: admits order 2 and order 1 or 3
    (1.8, 2.2, "consistent"),
    (1.55, 2.45, "consistent"),
    (1.5, 2.2, "unresolved"),  # touches 1.5, a value that contradicts
    (2.6, 3.1, "contradicted"),
    (0.4, 1.5, "contradicted"),
    (1.2, 1.9, "unresolved"),
    (np.nan, 2.1, "unresolved"),
    (2.1, 1.9, "unresolved"),  # not an interval
])
def test_interval_verdict_of_an_order_two(low, high, want):
    assert analysis.interval_verdict(low, high, 2.0, 0.5)[()] == want


def test_interval_verdict_broadcasts_and_refuses_a_bad_margin():
    got = analysis.interval_verdict([0.95, 0.5, 1.05], [1.05, 1.5, 1.2], 1.0, 0.1)
    assert list(got) == ["consistent", "unresolved", "unresolved"]
    assert set(analysis.INTERVAL_VERDICTS) == {"consistent", "contradicted", "unresolved"}
    with pytest.raises(ValueError, match="margin"):
        analysis.interval_verdict(1.0, 2.0, 1.5, 0.0)


# ---------------------------------------------------------------------------------------------
# figures


def test_distance_curves_mark_diverged_seeds_and_draw_the_survivors():
    steps = np.array([0, 1, 2, 3])
    d = np.array([[1.0, 0.5, 0.25, 0.125], [1.0, 2.0, np.nan, np.nan]])  # seed 1 diverged
    fig = plotting.distance_curves(steps, {"a": d, "b": d[1:]})
    ax = fig.axes[0]
    curves = [ln for ln in ax.lines if ln.get_linestyle() == "-"]
    np.testing.assert_allclose(curves[0].get_ydata(), [1.0, np.sqrt(0.5 * 2.0), 0.25, 0.125])
    np.testing.assert_allclose(curves[1].get_ydata()[:2], [1.0, 2.0])
    assert np.isnan(curves[1].get_ydata()[2:]).all()  # stops: no flat line after divergence
    crosses = [ln for ln in ax.lines if ln.get_marker() == "x" and len(ln.get_xdata())]
    assert [(float(c.get_xdata()[0]), float(c.get_ydata()[0])) for c in crosses] == [
        (1.0, 2.0), (1.0, 2.0)]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[:2] == ["a (1 of 2 diverged)", "b (1 of 1 diverged)"]
    assert "member diverged (its last good state)" in texts


def test_ensemble_band_panels_one_per_value_with_labelled_reference():
    rng = np.random.default_rng(0)
    vals = rng.uniform(0, 8, size=(3, 4, 5))  # (seed, variant, step)
    vals[2, 1, 3:] = np.nan  # seed 2 of variant b diverged after step 20
    da = xr.DataArray(vals, dims=("seed", "variant", "step"),
                      coords={"variant": list("abcd"), "step": [0, 10, 20, 30, 40]})
    fig = plotting.ensemble_band(da, by="variant", panels=True, reference={"all 8 modes": 8},
                                 diverged_marks=True)
    axes = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title() for a in axes] == list("abcd")
    assert len({a.get_ylim() for a in axes}) == 1  # shared axes
    for i, a in enumerate(axes):
        mean = [ln for ln in a.lines if ln.get_linestyle() == "-" and ln.get_marker() != "x"][0]
        want = np.nanmean(vals[:, i], axis=0)
        want[np.isnan(vals[:, i]).any(axis=0)] = np.nan  # solid only where every seed has a value
        np.testing.assert_allclose(mean.get_ydata(), want)
        ref = [ln for ln in a.lines if ln.get_label() == "all 8 modes"]
        assert len(ref) == 1 and list(ref[0].get_ydata()) == [8, 8]
        assert "all 8 modes" in [t.get_text() for t in a.get_legend().get_texts()]
    crosses = [ln for ln in axes[1].lines if ln.get_marker() == "x"]
    assert len(crosses) == 1 and float(crosses[0].get_ydata()[0]) == vals[2, 1, 2]
    assert "1 diverged" in axes[1].get_legend().get_texts()[0].get_text()
    with pytest.raises(ValueError, match="panels"):
        plotting.ensemble_band(da.isel(variant=0), panels=True)


def test_spectra_over_training_draws_a_round_unit_circle_and_a_legend_outside():
    rng = np.random.default_rng(1)
    shape = (2, 3, 4)
    lm = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    upd = 1 + 0.01 * (rng.normal(size=shape) + 1j * rng.normal(size=shape))
    fig = plotting.spectra_over_training(lm, lm, upd, [0, 10, 20], ["b0", "consensus"], eta=0.1)
    axes = np.asarray(fig.axes).reshape(2, 2)
    for i in range(2):
        assert axes[1, i].get_aspect() == 1.0  # equal: the circle is round
        assert axes[0, i].get_legend() is None and axes[1, i].get_legend() is None
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()][-3:] == ["step 0", "step 10", "step 20"]
    assert min(t.get_fontsize() for t in legend.get_texts()) >= 9


# ---------------------------------------------------------------------------------------------
# an experiment whose members all diverge


@pytest.mark.slow
def test_wgan_qc_report_says_every_seed_diverged(tmp_path):
    """η = 1e6: every member leaves the blow-up ball at step 1 or 2. The table counts them and
    gives no rate; the verdict is `diverges`, never a rate fitted to frozen states."""
    from ganflow.studies import get_experiment, make_config, run_experiment

    exp = get_experiment("wgan-qc")
    cfg = make_config(exp, {"seeds": 2, "gammas": (1.0,), "eta": 1e6, "steps": 4, "saves": 2})
    text = run_experiment(exp, cfg, tmp_path).read_text()
    s = xr.open_zarr(tmp_path / "results.zarr" / "dirac_summary")
    assert list(s["diverged"].values) == [2, 2, 2, 2]
    assert set(s["diverged_first_step"].values) <= {1, 2}
    assert (s["verdict"] == "diverges").all()
    assert np.isnan(s["rate_measured"].values).all()
    assert np.isnan(s["final_distance_mean"].values).all()
    rows = [r.split(" | ") for r in text.splitlines() if r.startswith("| wgan-")]
    assert len(rows) == 4
    for r in rows:  # no rate and no distance read off frozen states
        assert r[3] == "–" and r[4] == "–" and r[5].startswith("2 of 2 (first at step ")
        assert r[-1] == "diverges |"
