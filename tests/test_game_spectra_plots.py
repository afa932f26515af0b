"""The figures of `ganflow.plotting` for two-parameter games draw the data they are given:
`gridded_field`, `phase_plane_row`, `eigenvalue_grid`, `distance_curves`."""

import numpy as np

from ganflow import plotting


def test_gridded_field_is_the_saved_field():
    """The lookup that draws a saved field returns it exactly at the grid points."""
    xs, ys = np.linspace(-1, 1, 5), np.linspace(2, 3, 4)
    u = np.arange(20.0).reshape(4, 5)
    field = plotting.gridded_field(xs, ys, u, -u)
    gx, gy = np.meshgrid(xs, ys)
    got = np.array([np.asarray(field(np.array([x, y]))) for x, y in zip(gx.ravel(), gy.ravel())])
    np.testing.assert_array_equal(got[:, 0], u.ravel())
    np.testing.assert_array_equal(got[:, 1], -u.ravel())


def test_phase_plane_row_and_eigenvalue_grid(tmp_path):
    xs = ys = np.linspace(-1, 1, 9)
    gx, gy = np.meshgrid(xs, ys)
    t = np.linspace(0, 6, 30)
    path = np.stack([0.5 * np.cos(t), -0.5 * np.sin(t)], axis=1)
    panels = {f"panel {i}": {"grid": (xs, ys, gy, -gx), "trajectories": {"orbit": path}}
              for i in range(2)}
    fig = plotting.phase_plane_row(panels, equilibrium=np.zeros(2), labels=("θ", "ψ"),
                                   title="rows", path=tmp_path / "row.png")
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == list(panels)
    lines = [ln for ln in axes[0].lines if ln.get_label() == "orbit"]
    np.testing.assert_allclose(lines[0].get_xydata(), path)
    assert (tmp_path / "row.png").stat().st_size > 0
    jac = np.array([0.5j, -0.5j])
    fig = plotting.eigenvalue_grid({"a": ({"J": jac}, {"F′": 1 + 0.1 * jac})},
                                   update_title="F′", path=tmp_path / "eig.png")
    titles = [ax.get_title() for ax in fig.axes]
    assert "a: J at x*" in titles and "F′" in titles
    top = next(ax for ax in fig.axes if ax.get_title() == "a: J at x*")
    line = next(ln for ln in top.lines if ln.get_label().startswith("J ("))
    np.testing.assert_allclose(np.sort(line.get_ydata()), [-0.5, 0.5])


def test_distance_curves_draw_geometric_means():
    steps = np.arange(5)
    d = np.array([[1.0, 0.5, 0.25, 0.125, 0.0625], [4.0, 2.0, 1.0, 0.5, 0.25]])
    fig = plotting.distance_curves(steps, {"a": d, "b": d[0]}, title="t")
    ax = fig.axes[0]
    assert [ln.get_label() for ln in ax.lines] == ["a", "b"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.sqrt(d[0] * d[1]))
    np.testing.assert_allclose(ax.lines[1].get_ydata(), d[0])
    assert ax.get_yscale() == "log"
