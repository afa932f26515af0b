"""The one verdict vocabulary of `ganflow.analysis` (converges / slow / orbits / diverges): the
theory's verdict from ρ, the measured verdict from distances (one rate fit), and the local
verdict at a point from the spectra."""

import math

import numpy as np
import pytest

from ganflow.analysis import (
    LOCAL_VERDICTS,
    THEORY_VERDICTS,
    VERDICTS,
    defective_on_unit_circle,
    ensemble_verdicts,
    envelope_growth_rate,
    fit_log_rate,
    local_growth_rate,
    local_verdict,
    rate_verdict,
    rho_precision,
    series_verdict,
    steps_to_tol,
    theory_verdicts,
    verdicts_agree,
)
from ganflow.engine import RESULTS


def test_one_vocabulary():
    assert VERDICTS == ("converges", "slow", "orbits", "diverges")
    assert set(THEORY_VERDICTS) < set(VERDICTS)
    assert {v for v, _ in LOCAL_VERDICTS.values()} < set(VERDICTS)
    from ganflow.plotting._atlas import VERDICT_STYLE

    assert tuple(VERDICT_STYLE) == VERDICTS


# ---------------------------------------------------------------------------------------------
# the verdict functions on synthetic distances (no compilation)


def _verdict(d, status=RESULTS.max_steps_reached, dstep=-1, tol=1e-6, delta=1e-7):
    d = np.asarray(d, float)[None, None]
    ts = np.arange(d.shape[-1]) * 5
    out = ensemble_verdicts(d, ts, np.array([[status]]), np.array([[dstep]]), tol, delta, 1e-9)
    return out["verdict"][0], out["rate"][0], out["band"][0]


def test_ensemble_verdicts_synthetic():
    k = np.arange(61) * 5.0
    v, rate, _ = _verdict(0.1 * 0.99**k)  # 0.1 · 0.99^300 = 4.9e-3 > tol
    assert v == "slow" and rate == pytest.approx(0.99, rel=1e-12)
    v, rate, _ = _verdict(np.maximum(0.1 * 0.9**k, 1e-12), status=RESULTS.converged)
    assert v == "converges" and rate == pytest.approx(0.9, rel=1e-12)  # round-off floor left out
    v, rate, band = _verdict(0.1 * (1 + 0.5 * np.sin(0.3 * k)))  # bounded oscillation: no trend
    assert v == "orbits" and abs(math.log(rate)) <= band < 3 * math.log(3) / 300
    v, rate, _ = _verdict(0.1 * 1.001**k)  # slow expansion: +35 % in 300 steps
    assert v == "diverges" and rate == pytest.approx(1.001, rel=1e-12)
    # leaves x* at 1.05 per step and stalls at 5 (a saturating loss): the fit stops at 10·d0
    v, rate, _ = _verdict(np.minimum(0.1 * 1.05**k, 5.0))
    assert v == "diverges" and rate == pytest.approx(1.05, rel=1e-12)
    # diverged at step 23, frozen at its last good state (step 22): the rate from before
    d = 0.1 * 1.5**np.minimum(k, 22)
    v, rate, _ = _verdict(d, status=RESULTS.diverged, dstep=23)
    assert v == "diverges" and rate == pytest.approx(1.5, rel=1e-12)
    # mixed cells, 4 seeds: C converged, D diverged, S slow (0.99^k), O orbiting
    conv_d, div_d = np.maximum(0.1 * 0.9**k, 1e-12), 0.1 * 1.5 ** np.minimum(k, 22)
    slow_d, orbit_d = 0.1 * 0.99**k, 0.1 * (1 + 0.5 * np.sin(0.3 * k))
    kinds = {"C": (conv_d, RESULTS.converged, -1), "D": (div_d, RESULTS.diverged, 23),
             "S": (slow_d, RESULTS.max_steps_reached, -1),
             "O": (orbit_d, RESULTS.max_steps_reached, -1)}
    for seeds, expected, rate in (
        ("CCCD", "converges", 0.9),  # every seed that did not diverge converged
        ("CCDD", "diverges", None),  # at least half diverged
        ("CCCO", "converges", 0.9),  # a stalled seed among converged ones
        ("CSSS", "slow", 0.99),  # the budget is short for three seeds
        ("COOO", "orbits", 1.0),
        ("CCOO", "orbits", 1.0),  # not more than half converged: the rest decide
    ):
        d, st, dst = (np.stack([kinds[c][n] for c in seeds])[None] for n in range(3))
        out = ensemble_verdicts(d, k, st, dst, 1e-6, 1e-7, 1e-9)
        assert out["verdict"][0] == expected, seeds
        if rate is not None:
            assert out["rate"][0] == pytest.approx(rate, abs=0.03), seeds


def test_theory_verdicts_precision_and_steps():
    rho = np.array([0.5, 1 - 1e-9, 1.0, 1 + 1e-9, 1.01])
    assert theory_verdicts(rho, 1e-7).tolist() == [
        "converges", "orbits", "orbits", "orbits", "diverges"]
    # ρ = 1 with a Jordan block on the unit circle grows like k: `diverges`. Alternating GD on
    # the Dirac-GAN, F′ = [[1 − α², α], [−α, 1]]: det 1, λ = −1 twice at α = 2, one eigenvector
    for a, defective in ((1.0, False), (1.99, False), (2.0, True)):
        f = np.array([[1 - a * a, a], [-a, 1.0]])
        delta = rho_precision(f)
        assert defective_on_unit_circle(f, delta) is defective
        rho = np.max(np.abs(np.linalg.eigvals(f)))
        assert theory_verdicts(rho, delta, defective).item() == (
            "diverges" if defective else "orbits")
    assert not defective_on_unit_circle(-np.eye(2), 1e-7)  # semisimple double eigenvalue
    # √ε of float64, scaled by ‖F′‖_F
    assert rho_precision(np.eye(2)) == pytest.approx(10 * math.sqrt(2.0**-52) * math.sqrt(2))
    assert rho_precision(np.eye(2, dtype=np.float32)) > 1e-3
    # n* = ceil(log(tol/d0)/log ρ); 0 when already within tol; nan when ρ ≥ 1
    out = steps_to_tol([0.5, 0.5, 0.0, 1.0], [1.0, 1e-4, 1.0, 1.0], 1e-3)
    assert out[:3].tolist() == [10.0, 0.0, 1.0] and math.isnan(out[3])
    # `orbits` agrees with a ρ that the budget cannot resolve, not with one it can
    agree = verdicts_agree(["orbits", "orbits", "slow", "diverges", "converges"],
                           ["converges", "converges", "converges", "orbits", "diverges"],
                           [0.9999, 0.9, 0.9, 1.0, 1.1], [1e-3, 1e-3, 1e-3, 1e-3, 1e-3])
    assert agree.tolist() == [True, False, True, False, False]


def test_rate_fit_and_rate_verdicts():
    k = np.arange(100.0)
    slope, res = fit_log_rate(k, 0.3 * 0.97**k)
    assert slope == pytest.approx(math.log(0.97), rel=1e-12) and res < 1e-12
    # points at or below the floor (round-off) and non-finite ones are left out
    d = np.where(k < 50, 0.3 * 0.9**k, 1e-15)
    d[3] = np.inf
    assert fit_log_rate(k, d, 1e-14)[0] == pytest.approx(math.log(0.9), rel=1e-12)
    assert math.isnan(fit_log_rate(k[:2], [1.0, 0.5], min_points=3)[0])
    # a bounded oscillation has no trend beyond its resolution
    slope, res = fit_log_rate(k, 1 + 0.5 * np.sin(0.3 * k))
    assert abs(slope) <= res
    assert [rate_verdict(r, 1e-3) for r in (-0.1, 0.0, 5e-4, 0.1, math.nan, math.inf)] == [
        "converges", "orbits", "orbits", "diverges", "diverges", "diverges"]
    # local growth rates: max Re λ (flow), log ρ / η (scheme)
    assert local_growth_rate([-0.05 + 0.3j, -0.05 - 0.3j]) == pytest.approx(-0.05)
    assert local_growth_rate([1.01, -0.5], eta=0.1) == pytest.approx(math.log(1.01) / 0.1)


def test_envelope_rate_and_series_verdicts():
    t = np.linspace(0, 100, 1001)

    def verdict(d):
        rate = envelope_growth_rate(t, d) if np.all(np.isfinite(d)) else math.inf
        return series_verdict(rate, 1e-3, d[0], d[-1], converged_ratio=1e-10), rate

    assert verdict(np.exp(-0.05 * t))[0] == "slow"  # contracting, e^-5 is not within 1e-10
    assert verdict(np.exp(-0.3 * t))[0] == "converges"
    assert verdict(np.exp(0.02 * t))[0] == "diverges"
    ellipse = np.hypot(np.cos(t), 0.5 * np.sin(t))  # a closed orbit, distance oscillating
    v, rate = verdict(ellipse)
    assert v == "orbits" and abs(rate) < 1e-3
    assert verdict(np.where(t > 50, np.inf, 1.0))[0] == "diverges"
    # a blow-up bound relative to the start
    assert series_verdict(0.0, 1e-3, 1.0, 2e3, converged_ratio=1e-6, blowup_ratio=1e3) == \
        "diverges"


def test_local_verdicts_keep_their_codes():
    eta = 0.1
    assert local_verdict(0.99, -0.1 + 0j, 0.99 + 0j, eta)[:3] == (0, "converges", "")
    assert local_verdict(1.01, 0.2 + 0j, 1.02 + 0j, eta)[:3] == (2, "diverges", "unstable flow")
    lam = -0.001 + 2j  # rotational, |1 + ηλ| > 1: orbits (the linearised flow circles)
    mu = 1 + eta * lam
    assert local_verdict(abs(mu), lam, mu, eta)[:3] == (1, "orbits", "rotational")
    lam = -30.0 + 0j  # stiff and real: η = 0.1 > 2/30
    mu = 1 + eta * lam
    out = local_verdict(abs(mu), -0.5 + 0j, mu, eta)
    assert out.code == 3 and out.verdict == "diverges" and out.kind == "step too large"
    assert "0.0667" in out.reason
