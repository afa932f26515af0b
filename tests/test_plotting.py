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


def test_eigenvalue_plots(tmp_path):
    from matplotlib.figure import Figure

    eigs = np.array([0.5j, -0.5j])
    fig = plotting.eigenvalue_plot({"J": eigs}, path=tmp_path / "j.png")
    assert isinstance(fig, Figure)
    _check_png(tmp_path / "j.png")
    update = {"sim": 1 + 0.1 * eigs, "alt": np.exp(0.05j * np.array([1, -1]))}
    fig = plotting.eigenvalue_plot(update, reference="unit-circle", path=tmp_path / "u.png")
    assert fig.axes[0].get_aspect() == 1.0
    assert len(fig.axes[0].child_axes) == 1  # the |λ|-vs-arg-λ inset: eigenvalues near 1
    _check_png(tmp_path / "u.png")
    fig = plotting.spectra_figure({"J": eigs}, {"I + hJ": 1 + 0.1 * eigs}, title="both",
                                  path=tmp_path / "both.png")
    assert isinstance(fig, Figure)
    _check_png(tmp_path / "both.png")
    with pytest.raises(ValueError, match="reference"):
        plotting.eigenvalue_plot(eigs, reference="circle")


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
