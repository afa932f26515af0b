"""The mean-field figures (`ganflow.plotting.mean_field_*`) draw the data they are given: the
concentration error bars, the phase grids (seeds as stripes) and the overlaps over time."""

import numpy as np
import xarray as xr

import ganflow.meanfield as mf
from ganflow import plotting

O, S, C, F = "oscillation", "success", "mode_collapse", "failure"
CODE = {p: i for i, p in enumerate(mf.PHASES)}


def _codes(names):
    return np.vectorize(CODE.__getitem__)(np.asarray(names))


def test_concentration_draws_the_errors(tmp_path):
    ns, err, se = np.array([100, 400, 1600]), np.array([0.2, 0.1, 0.05]), np.full(3, 0.01)
    summary = xr.Dataset(
        {"error": (("n",), err), "error_se": (("n",), se), "concentration_slope": ((), -0.5),
         "concentration_slope_ci": (("bound",), [-0.6, -0.4]),
         "intercept": ((), float(np.log(2.0)))},
        coords={"n": ns}, attrs={"t_max": 2})
    fig = plotting.mean_field_concentration(summary, path=tmp_path / "c.png")
    ax = fig.axes[0]
    points = ax.lines[0]
    np.testing.assert_array_equal(points.get_xdata(), ns)
    np.testing.assert_array_equal(points.get_ydata(), err)
    fit = ax.lines[-2]  # the fitted line exp(b)·n^slope
    np.testing.assert_allclose(fit.get_ydata(), 2.0 * fit.get_xdata() ** -0.5, rtol=1e-12)
    assert ax.get_xscale() == "log" and (tmp_path / "c.png").stat().st_size > 5000


def test_phase_grid_draws_the_phases_seeds_as_stripes():
    grid = [[O, S], [C, F]]
    fig = plotting.mean_field_phase_grid(grid, [0.2, 0.6], [0.3, 0.9], title="t")
    np.testing.assert_array_equal(np.asarray(fig.axes[0].images[0].get_array()), _codes(grid))
    seeds = np.array([grid, [[S, S], [C, C]]])  # (2 seeds, 2, 2)
    fig = plotting.mean_field_phase_grid(seeds, [0.2, 0.6], [0.3, 0.9])
    img = np.asarray(fig.axes[0].images[0].get_array())
    assert img.shape == (2, 4)
    np.testing.assert_array_equal(img[:, 0::2], _codes(seeds[0]))
    np.testing.assert_array_equal(img[:, 1::2], _codes(seeds[1]))
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["0.3", "0.9"]


def _verdicts():
    """A summary by hand: 1 τ, 2 × 2 grid, 2 seeds, d = 1, ODE paths M(t) over 5 steps."""
    dims = ("tau", "eta_t", "eta_g")
    ode = np.array([[[S, O], [C, F]]])
    t = np.linspace(0.0, 1.0, 5)
    ode_M = np.zeros((1, 2, 2, 5, 3, 3))
    for a in range(2):
        for b in range(2):
            ode_M[0, a, b, :, 0, 1] = (1 + a + 2 * b) * t / 4  # P
            ode_M[0, a, b, :, 0, 2] = 0.5 - t / (2 + a + b)  # q
    ds = xr.Dataset(
        {"ode_phase": (dims, ode), "theory_phase": (dims, np.full((1, 2, 2), S)),
         "simulation_phase": (("seed",) + dims, np.array([ode, ode])),
         "ode_M": (dims + ("step", "row", "col"), ode_M)},
        coords={"tau": [1.0], "eta_t": [0.2, 0.6], "eta_g": [0.3, 0.9], "seed": [0, 1],
                "step": np.arange(5)},
        attrs={"d": 1, "n": 50, "strengths": [1.0], "t_max": 4})
    sim = xr.DataArray(ode_M[None] * np.array([0.9, 1.1])[:, None, None, None, None, None, None],
                       dims=("seed",) + dims + ("step", "M_dim0", "M_dim1"))
    return ds, sim


def test_phases_draw_theory_ode_and_simulation(tmp_path):
    v, _ = _verdicts()
    fig = plotting.mean_field_phases(v, path=tmp_path / "p.png")
    images = [np.asarray(ax.images[0].get_array()) for ax in fig.axes if ax.images]
    np.testing.assert_array_equal(images[0], _codes(v.theory_phase.values[0]))
    np.testing.assert_array_equal(images[1], _codes(v.ode_phase.values[0]))
    np.testing.assert_array_equal(images[2][:, 0::2], _codes(v.simulation_phase.values[0, 0]))
    assert (tmp_path / "p.png").stat().st_size > 10_000


def test_trajectories_draw_the_overlaps(tmp_path):
    v, sim = _verdicts()
    fig = plotting.mean_field_trajectories({1: v}, {1: sim}, path=tmp_path / "t.png")
    chosen = mf.representative_cells(v)
    panels = [ax for ax in fig.axes if ax.lines]
    assert len(panels) == len(chosen) == 4
    for ax, (p, i, a, b) in zip(panels, chosen):
        assert ax.get_title().startswith(f"d = 1: {p.replace('_', ' ')}")
        seeds, ode, q = ax.lines[:2], ax.lines[2], ax.lines[3]
        for s, line in enumerate(seeds):
            np.testing.assert_allclose(line.get_ydata(), np.abs(sim.values[s, i, a, b, :, 0, 1]))
        np.testing.assert_allclose(ode.get_ydata(), np.abs(v.ode_M.values[i, a, b, :, 0, 1]))
        np.testing.assert_allclose(q.get_ydata(), np.abs(v.ode_M.values[i, a, b, :, 0, 2]))
        np.testing.assert_array_equal(ode.get_xdata(), np.arange(5))
