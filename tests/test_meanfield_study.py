"""ganflow.meanfield's study layer (Wang–Hu–Lu 2019; survey §5.3.1): the engine member with one
step per unit of time against `simulate`, the compiled step's memory O(n·d), the linear phase
thresholds of docs/mean_field.md §7, the concentration and phase summaries against their
definitions, and the readers of a phase summary (tables, order in the noise, boundary
disagreements, representative cells) on hand-made grids."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

import ganflow.meanfield as mf
from ganflow.analysis import fit_order
from ganflow.engine import Execution, Sweep, run_ensemble


def test_engine_member_is_simulate():
    """One engine step = one unit of time: run_ensemble(MeanFieldTime) reproduces
    `simulate`'s paths (microscopic step k draws from fold_in(seed_key, k)), with `tau` and
    `eta` translated as phase_diagram does (τ_G = τ·tau_g, τ_D = τ·tau_d, η_T = η_G = η)."""
    model = mf.MeanFieldGAN(n=10, strengths=[1.0, 0.5], tau_g=0.5, tau_d=1.0)
    keys = jax.random.split(jax.random.key(7), 2)
    res = run_ensemble(mf.MeanFieldTime(model), Sweep(seeds=keys, axes={"tau": [2.0],
                                                                        "eta": [0.6]}),
                       2, save_every=1, execution=Execution(progress=False))
    _, M = mf.simulate(model, dict(tau_g=1.0, tau_d=2.0, eta_t=0.6, eta_g=0.6), keys, t_max=2)
    np.testing.assert_allclose(res.observations["M"][:, 0, 0], np.asarray(M), atol=1e-12)
    with pytest.raises(ValueError, match="unknown hyper-parameter"):
        mf.MeanFieldTime(model)._hyper({"lr": 1.0}, 1)


def test_member_memory_is_linear_in_n():
    """The compiled step of one member (a unit of time, n microscopic steps) holds the state,
    n(2d + 1) numbers, and O(n) temporaries: both ×10 when n grows ×10 (lowered from shapes:
    nothing of size 10⁵ is allocated)."""
    small = mf.member_memory(mf.MeanFieldGAN(n=10_000, strengths=[1.0], dtype=jnp.float32))
    big = mf.member_memory(mf.MeanFieldGAN(n=100_000, strengths=[1.0], dtype=jnp.float32))
    assert small["state"] == 10_000 * 3 * 4 and big["state"] == 100_000 * 3 * 4
    assert 9.5 < big["temp"] / small["temp"] < 10.5
    assert big["temp"] < 100 * 100_000  # about a dozen float32 numbers per dimension


def test_linear_theory_thresholds():
    """docs/mean_field.md §7 with s = η_T² + η_G²: d = 1, λ = 1, τ_G = 0.5, τ_D = 1:
    oscillation for s < 0.5, failure for s > 2; d = 2, λ = (1, 0.7): success for s < 1.4,
    mode collapse for 1.4 < s < 2; doubling τ halves the failure threshold."""
    phase = lambda e, tau=1.0, lam=(1.0,): mf.linear_theory_phase(  # noqa: E731
        e, e, 0.5 * tau, 1.0 * tau, lam)
    assert [phase(e) for e in (0.4, 0.6, 0.9, 1.05)] == [
        "oscillation", "success", "success", "failure"]
    assert [phase(e, lam=(1.0, 0.7)) for e in (0.4, 0.8, 0.9, 1.05)] == [
        "oscillation", "success", "mode_collapse", "failure"]
    assert phase(0.8, tau=2.0) == "failure" and phase(0.8, tau=1.0) == "success"
    np.testing.assert_array_equal(mf.phase_names([[0, 2], [4, 1]]),
                                  [["success", "mode_collapse"], ["pursuit", "oscillation"]])


def test_concentration_summary_is_its_definition():
    """M = M(t) + ε E with ‖E‖_F = 1: the distances are |ε|, the error the largest seed mean
    over t ≥ 1, its s.e. the seeds' at that time, the slope fit_order's, the ODE drift
    max_t ‖M(t) − M(0)‖_F."""
    model = mf.MeanFieldGAN(n=50, strengths=[1.0], tau_g=0.5, tau_d=1.0, eta_t=0.8, eta_g=0.8)
    ref = np.asarray(mf.solve_mean_field(model, None, 3.0, rtol=1e-10, atol=1e-10).xs)
    eps = np.random.default_rng(0).uniform(0.1, 1.0, (4, 2, 4)) / np.array([1.0, 2.0])[:, None]
    eps[:, :, 0] = 0.0
    E = np.zeros((3, 3))
    E[1, 2] = 1.0
    M = ref[None, None] + eps[..., None, None] * E
    s = mf.concentration_summary(model, M, [100, 400], 3)
    mean = eps[:, :, 1:].mean(0)
    j = mean.argmax(-1)
    np.testing.assert_allclose(s.distance.values, eps, atol=1e-12)
    np.testing.assert_allclose(s.error.values, mean.max(-1), rtol=1e-12)
    np.testing.assert_array_equal(s.error_time.values, j + 1)
    se = [eps[:, k, j[k] + 1].std(ddof=1) / 2.0 for k in range(2)]
    np.testing.assert_allclose(s.error_se.values, se, rtol=1e-10)
    fit = fit_order(np.array([100.0, 400.0]), s.error.values, s.error_se.values)
    assert float(s.concentration_slope) == float(fit.slope)
    np.testing.assert_allclose(float(s.ode_drift),
                               np.linalg.norm(ref - ref[0], axis=(-2, -1)).max(), rtol=1e-12)
    assert s.attrs == {"setting": "d = 1", "t_max": 3}
    assert list(s.n.values) == [100, 400] and s.distance.dims == ("seed", "n", "step")


def test_phase_verdicts_of_the_ode_itself():
    """Fed the ODE's own trajectories as the 'simulation', the phases agree everywhere; the
    linear theory's phase is `linear_theory_phase` of each cell; the grid scales both rates
    by τ."""
    model = mf.MeanFieldGAN(n=40, strengths=[1.0], tau_g=0.5, tau_d=1.0)
    grid = ([1.0, 2.0], [0.3, 1.2], [0.3, 1.2])
    first = mf.phase_verdicts(model, np.zeros((1, 2, 2, 2, 9, 3, 3)), *grid)
    v = mf.phase_verdicts(model, first.ode_M.values[None], *grid)
    assert v.ode_phase.dims == ("tau", "eta_t", "eta_g")
    assert v.simulation_phase.dims == ("seed", "tau", "eta_t", "eta_g")
    np.testing.assert_array_equal(v.simulation_phase.values[0], v.ode_phase.values)
    assert float(v.agreement) == 1.0
    for i, tau in enumerate(grid[0]):
        for a, et in enumerate(grid[1]):
            for b, eg in enumerate(grid[2]):
                assert v.theory_phase.values[i, a, b] == mf.linear_theory_phase(
                    et, eg, 0.5 * tau, 1.0 * tau, [1.0])
    # η_T = η_G = 1.2, τ = 1: s = 2.88 > 2λ/τ_D, nothing is detected
    assert v.ode_phase.values[0, 1, 1] == "failure" == v.theory_phase.values[0, 1, 1]
    assert v.attrs["d"] == 1 and v.attrs["n"] == 40 and v.attrs["t_max"] == 8
    assert v.attrs["strengths"] == [1.0] and v.attrs["tau_g"] == 0.5


def _verdicts(ode, sim, taus=(1.0,), eta=(0.2, 0.6, 1.0)):
    """A phase summary by hand: ode (tau, a, b), sim (seed, tau, a, b) phase names."""
    dims = ("tau", "eta_t", "eta_g")
    return xr.Dataset(
        {"ode_phase": (dims, np.asarray(ode)), "simulation_phase": (("seed",) + dims,
                                                                    np.asarray(sim))},
        coords={"tau": list(taus), "eta_t": list(eta), "eta_g": list(eta)},
        attrs={"d": 2, "n": 100, "t_max": 50, "tau_g": 0.5, "tau_d": 1.0})


O, S, C, F = "oscillation", "success", "mode_collapse", "failure"
ODE = [[[O, O, S], [O, S, C], [S, C, F]]]


def test_phase_order_boundaries_and_representatives():
    sim = np.array([ODE, ODE])
    sim[1, 0, 2, 2] = C  # one seed disagrees, at a phase boundary
    sim[1, 0, 0, 0] = S  # one away from any boundary
    v = _verdicts(ODE, sim)
    o = mf.phase_order(v)
    s = np.array([0.2, 0.6, 1.0]) ** 2
    grid = s[:, None] + s[None, :]
    phases = np.array(ODE[0])
    (tau, means, success), = o["per_tau"]
    assert tau == 1.0 and success == means[S]
    for p in (O, S, C, F):
        np.testing.assert_allclose(means[p], grid[phases == p].mean())
    assert o["holds"] and o["decidable"] and o["reversed"] is False
    assert mf.boundary_disagreements(v) == (2, 1)
    cells = mf.representative_cells(v)
    assert [c[0] for c in cells] == [S, O, C, F]
    for p, i, a, b in cells:  # cells where every seed agrees, else any (failure: one cell)
        assert phases[a, b] == p and (np.all(sim[:, i, a, b] == p) or (a, b) == (2, 2))
    assert (cells[1][2], cells[1][3]) != (0, 0)  # oscillation: not the cell a seed missed


def test_phase_tables_show_the_grids():
    v = _verdicts(ODE, np.array([ODE, ODE]))
    text = mf.phase_tables(v)
    assert "τ = 1 (τ_G = 0.5, τ_D = 1); agreement 1.00" in text
    assert "η_T = η_G = η against τ; agreement 1.00" in text
    row = next(line for line in text.splitlines() if line.startswith("0.6 "))
    assert row.split()[:4] == ["0.6", "O", "S", "C"] and "OO" in text.split("simulation")[1]
