"""Every figure function returns a matplotlib Figure and writes a PNG; bad input is a ValueError."""

import jax.numpy as jnp
import numpy as np
import pytest

import ganflow as gf
from ganflow import plotting


def _check_png(path):
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    assert img.ndim == 3 and min(img.shape[:2]) > 100
    assert float(img[..., :3].std()) > 0.02  # not a blank canvas


def test_phase_plane(tmp_path):
    from matplotlib.figure import Figure

    game = gf.DiracGAN("wgan")
    b = game.vector_field(population=True)
    t = jnp.linspace(0, 2 * np.pi, 50)
    circle = jnp.stack([0.5 * jnp.cos(t), 0.5 * jnp.sin(t)], axis=1)
    states = game.make_state(0.3 * jnp.cos(t), 0.3 * jnp.sin(t))  # a pytree trajectory
    fig = plotting.phase_plane(b, game.equilibrium(), equilibrium=game.equilibrium(),
                               trajectories={"array": circle, "states": states},
                               labels=("θ", "ψ"), title="Dirac", path=tmp_path / "phase.png")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_aspect() == 1.0 and ax.get_xlabel() == "θ"
    _check_png(tmp_path / "phase.png")
    fig = plotting.phase_plane(lambda v: jnp.array([-v[1], v[0]]), kind="quiver",
                               path=tmp_path / "quiver.png")
    _check_png(tmp_path / "quiver.png")
    with pytest.raises(ValueError, match="two-dimensional"):
        plotting.phase_plane(b, (game.make_state(0.0, 0.0)[0], jnp.zeros(3)))
    with pytest.raises(ValueError, match="kind"):
        plotting.phase_plane(b, game.equilibrium(), kind="arrows")


def _markers(ax):
    """The eigenvalues an axis shows: the data of its marker-only lines, as complex arrays."""
    return [ln.get_xdata() + 1j * ln.get_ydata() for ln in ax.lines if ln.get_linestyle() == "None"]


def test_spectra_figure(tmp_path):
    from matplotlib.figure import Figure

    eigs = np.array([0.5j, -0.5j])
    update = {"sim": 1 + 0.1 * eigs, "alt": np.exp(0.05j * np.array([1, -1]))}
    fig = plotting.spectra_figure({"J": eigs}, update, title="both", path=tmp_path / "both.png")
    assert isinstance(fig, Figure) and fig.get_suptitle() == "both"
    left, right = fig.axes
    # left: J against the imaginary axis (the purely imaginary spectrum not squeezed onto it)
    (drawn,) = _markers(left)
    np.testing.assert_allclose(drawn, eigs)
    assert left.get_xlim()[1] > 0.1 and left.get_title() == "Jacobian J at x* (flow ẋ = b0)"
    labels = [t.get_text() for t in left.get_legend().get_texts()]
    assert "imaginary axis" in labels and "J (2 eigenvalues, max Re λ = 0)" in labels
    # right: update operators against the unit circle, equal aspect
    for line, vals in zip(_markers(right), update.values(), strict=True):
        np.testing.assert_allclose(line, vals)
    unit = [ln for ln in right.lines if ln.get_label() == "unit circle |λ| = 1"][0]
    np.testing.assert_allclose(np.hypot(unit.get_xdata(), unit.get_ydata()), 1.0)
    assert right.get_aspect() == 1.0
    labels = [t.get_text() for t in right.get_legend().get_texts()]
    assert f"sim (2 eigenvalues, ρ = max |λ| = {np.sqrt(1.0025):.4g})" in labels
    # every update eigenvalue lies near 1: an inset zooms onto those with Im λ ≥ 0
    (inset,) = right.child_axes
    for line, vals in zip(_markers(inset), update.values(), strict=True):
        np.testing.assert_allclose(line, vals)
    (x0, x1), (y0, y1) = inset.get_xlim(), inset.get_ylim()
    for z in (update["sim"][0], update["alt"][0]):
        assert x0 < z.real < x1 and y0 < z.imag < y1
    assert x1 - x0 < 0.01 and y0 > 0
    # the legends lie below the panels, where they hide no eigenvalue
    fig.canvas.draw()
    for ax in (left, right):
        assert ax.get_legend().get_window_extent().y1 <= ax.get_window_extent().y0
    _check_png(tmp_path / "both.png")


def test_weak_error_plot(tmp_path):
    from matplotlib.figure import Figure

    etas = 0.1 / 2.0 ** np.arange(4)
    result = {"etas": etas, "errors": 0.3 * etas**2, "stderrs": 0.01 * etas**2, "slope": 2.0,
              "intercept": np.log(0.3), "ci": np.array([1.9, 2.1])}
    fig = plotting.weak_error_plot({"alternating vs eq. 10": result}, title="weak",
                                   path=tmp_path / "weak.png")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert any("slope 2.000 [1.900, 2.100]" in t.get_text() for t in ax.get_legend().get_texts())
    _check_png(tmp_path / "weak.png")
    with pytest.raises(ValueError, match="same length"):
        plotting.weak_error_plot({"bad": {"etas": etas, "errors": etas[:2]}})


def test_atlas_heatmap(tmp_path):
    from matplotlib.figure import Figure

    frac = np.array([[0.0, 0.5, 1.0], [np.nan, 1.0, 0.25]])
    fig = plotting.atlas_heatmap({"Dirac-GAN": (["gan/none/sim", "gan/r1/alt"], [0.1, 0.3, 1.0],
                                                frac)}, title="atlas", path=tmp_path / "atlas.png")
    assert isinstance(fig, Figure)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["0", "0.5", "1", "–", "1", "0.25"]
    _check_png(tmp_path / "atlas.png")
    with pytest.raises(ValueError, match="expected"):
        plotting.atlas_heatmap({"g": (["a"], [0.1, 0.2], np.zeros((2, 2)))})


def test_ensemble_plot(tmp_path):
    from matplotlib.figure import Figure

    ts = np.linspace(0, 1, 21)
    rng = np.random.default_rng(0)
    paths = np.cumsum(rng.standard_normal((30, 21, 2)) * 0.1, axis=1)
    fig = plotting.ensemble_plot(ts, paths, labels=["θ", "ψ"], reference=np.zeros((21, 2)),
                                 title="SDE", path=tmp_path / "sde.png")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    _check_png(tmp_path / "sde.png")
    states = gf.DiracGAN().make_state(jnp.asarray(paths[..., 0]), jnp.asarray(paths[..., 1]))
    fig = plotting.ensemble_plot(ts, states, band="quantile", path=tmp_path / "sde2.png")
    _check_png(tmp_path / "sde2.png")
    with pytest.raises(ValueError, match="save times"):
        plotting.ensemble_plot(ts[:5], paths)
