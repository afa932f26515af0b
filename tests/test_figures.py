"""The paper figures of ganflow.plotting draw their data: panels, titles and labels, plotted arrays
against the inputs, streamline directions against the field (closed forms where there are any).

Tiny inputs, the Agg canvas of `ganflow.plotting._common.new_figure` (no pyplot).
"""

import subprocess
import sys

import jax
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


def _stream_segments(ax):
    """The streamline segments of an axis: (N, 2, 2) arrays, each from p to q along the flow."""
    from matplotlib.collections import LineCollection

    segs = [s for c in ax.collections if isinstance(c, LineCollection) for s in c.get_segments()]
    return np.asarray([s for s in segs if len(s) == 2], dtype=float)


def _cosines(segs, field_at):
    """cos of the angle between each segment q − p and the field at its midpoint."""
    d = segs[:, 1] - segs[:, 0]
    f = field_at((segs[:, 0] + segs[:, 1]) / 2)
    num = np.sum(d * f, axis=1)
    den = np.linalg.norm(d, axis=1) * np.linalg.norm(f, axis=1)
    keep = den > 1e-12
    return num[keep] / den[keep]


def test_import_does_not_need_matplotlib():
    # with matplotlib unimportable, ganflow and ganflow.plotting still import: no ganflow
    # module imports it at module level (ott-jax, imported by training, tries it and falls back)
    code = ("import sys; sys.modules['matplotlib'] = None; import ganflow, ganflow.plotting; "
            "print(ganflow.plotting.nk_streamlines.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]


# ---------------------------------------------------------------------------------------------
# 1. Nagarajan–Kolter Fig. 3


def test_nk_field_grid_wgan_closed_form():
    # WGAN: Φ = w₂(1 − a²)/3; the generator descends Φ + λ((1 − a²)/3)², so
    # b_a = 2a w₂/3 + 4λ a(1 − a²)/9 and b_w₂ = (1 − a²)/3.
    lams, w2s, as_ = np.array([0.0, 0.5]), np.linspace(-1, 1, 5), np.linspace(0, 2, 4)
    bw, ba = plotting.nk_field_grid("wgan", lams, w2s, as_)
    gw, ga = np.meshgrid(w2s, as_)
    for i, lam in enumerate(lams):
        np.testing.assert_allclose(bw[i], (1 - ga**2) / 3, atol=1e-14)
        np.testing.assert_allclose(ba[i], 2 * ga * gw / 3 + 4 * lam * ga * (1 - ga**2) / 9,
                                   atol=1e-14)


def test_nk_streamlines(tmp_path):
    from matplotlib.figure import Figure

    lams = (0.0, 1.0)
    fig = plotting.nk_streamlines(lams, grid=15, levels=6, path=tmp_path / "nk.png")
    assert isinstance(fig, Figure)
    axes = fig.axes
    assert len(axes) == 4  # rows GAN, WGAN × columns λ
    assert [ax.get_title() for ax in axes] == [
        "GAN, λ = 0 (vanilla)", "GAN, λ = 1", "WGAN, λ = 0 (vanilla)", "WGAN, λ = 1"]
    assert axes[2].get_xlabel().startswith("w₂") and axes[0].get_ylabel().startswith("a ")
    # the equilibrium (w₂, a) = (0, 1) is starred in every panel
    for ax in axes:
        stars = [ln for ln in ax.lines if ln.get_marker() == "*"]
        assert len(stars) == 1 and (stars[0].get_xdata()[0], stars[0].get_ydata()[0]) == (0, 1)
    # every panel's streamlines follow the field (w₂ horizontal, a vertical), evaluated
    # independently of the figure: the stabilised game at each segment's midpoint
    for r, loss in enumerate(("gan", "wgan")):
        game = gf.NagarajanKolter2D(loss, levels=6)
        for c, lam in enumerate(lams):
            b = gf.stabilise(game, gf.NagarajanKolter(lam), population=True)

            def at(p, b=b, game=game):
                g, d = b(game.make_state(p[1], p[0]))
                return jnp.stack([d.w2, g.weight])

            field_at = lambda pts, at=at: np.asarray(jax.jit(jax.vmap(at))(jnp.asarray(pts)))
            segs = _stream_segments(axes[2 * r + c])
            assert len(segs) > 200
            cos = _cosines(segs, field_at)
            assert np.mean(cos > 0.9) > 0.95, (loss, lam, np.mean(cos > 0.9))
    _check_png(tmp_path / "nk.png")
    with pytest.raises(ValueError, match="λ"):
        plotting.nk_streamlines((-0.5,))
    with pytest.raises(ValueError, match="w2_range"):
        plotting.nk_streamlines(w2_range=(1.0, -1.0))


# ---------------------------------------------------------------------------------------------
# 2. Dirac-GAN lineup


def _sigmoid(t):
    return 1 / (1 + np.exp(-t))


def test_dirac_lineup_trajectories():
    eta, start = 0.1, (1.0, 0.8)
    paths = plotting.dirac_lineup_trajectories(start, 300, eta=eta)
    labels = list(paths)
    assert len(labels) == 6
    assert labels[:2] == ["simultaneous GD", "alternating GD"]
    assert labels[2].startswith("WGAN (n_d = 5") and labels[3].startswith("R1")
    assert labels[4].startswith("instance noise") and labels[5].startswith("consensus")
    for p in paths.values():
        assert p.shape == (301, 2)
        np.testing.assert_array_equal(p[0], start)
    th, ps = start
    # GAN, f(t) = log sigmoid(t): b0 = (ψ s(ψθ), −θ s(ψθ)) with s the logistic function
    sim = paths["simultaneous GD"][1]
    np.testing.assert_allclose(sim, [th + eta * ps * _sigmoid(ps * th),
                                     ps - eta * th * _sigmoid(ps * th)], rtol=1e-13)
    ps1 = ps - eta * th * _sigmoid(ps * th)  # discriminator first, then θ sees the new ψ
    np.testing.assert_allclose(paths["alternating GD"][1],
                               [th + eta * ps1 * _sigmoid(ps1 * th), ps1], rtol=1e-13)
    # WGAN, b0 = (ψ, −θ): five ψ-steps (inside the clip box), then one θ-step
    ps5 = ps - 5 * eta * th
    np.testing.assert_allclose(paths[labels[2]][1], [th + eta * ps5, ps5], rtol=1e-13)
    # the long run: simultaneous GD spirals out (|λ| = sqrt(1 + η²f′(0)²) > 1), alternating GD
    # stays on a closed orbit, the WGAN never leaves the clip box, the regularised methods
    # converge (spectra in the open left half-plane)
    r = {k: np.linalg.norm(p, axis=1) for k, p in paths.items()}
    assert r["simultaneous GD"][-1] > 1.15 * r["simultaneous GD"][0]
    assert 0.8 < r["alternating GD"].min() / r["alternating GD"][0] < 1.25
    assert r["alternating GD"].max() / r["alternating GD"][0] < 1.25
    assert np.abs(paths[labels[2]][:, 1]).max() <= 1.0 + 1e-12
    for k in labels[3:]:
        assert r[k][-1] < 0.05 * r[k][0], k


def test_dirac_lineup(tmp_path):
    t = np.linspace(0, 6, 40)
    paths = {f"method {i}": np.stack([np.exp(-0.1 * i * t) * np.cos(t),
                                      np.exp(-0.1 * i * t) * np.sin(t)], axis=1)
             for i in range(5)}
    game = gf.DiracGAN("wgan")
    field = game.vector_field(population=True)  # b0 = (ψ, −θ)
    fig = plotting.dirac_lineup(paths, fields={"method 1": field}, grid=15, ncols=3,
                                path=tmp_path / "dirac.png")
    visible = [ax for ax in fig.axes if ax.axison]
    assert len(fig.axes) == 6 and len(visible) == 5  # 2 × 3 grid, the sixth panel blank
    assert [ax.get_title() for ax in visible] == list(paths)
    for ax, p in zip(visible, paths.values()):
        line = ax.lines[0]
        np.testing.assert_allclose(line.get_xdata(), p[:, 0])
        np.testing.assert_allclose(line.get_ydata(), p[:, 1])
        assert ax.get_aspect() == 1.0
    assert visible[0].get_ylabel().startswith("ψ") and visible[-1].get_xlabel().startswith("θ")
    # streamlines only where a field was given, following b0 = (ψ, −θ)
    assert len(_stream_segments(visible[0])) == 0
    segs = _stream_segments(visible[1])
    assert len(segs) > 100
    cos = _cosines(segs, lambda p: np.stack([p[:, 1], -p[:, 0]], axis=1))
    assert np.mean(cos > 0.95) > 0.95
    _check_png(tmp_path / "dirac.png")
    with pytest.raises(ValueError, match="scheme options"):
        plotting.dirac_lineup(paths, eta=0.1)
    with pytest.raises(ValueError, match="shape"):
        plotting.dirac_lineup({"bad": np.zeros((5, 3))})
