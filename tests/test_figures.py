"""The paper figures of ganflow.plotting draw their data: panels, titles and labels, plotted arrays
against the inputs, streamline directions against the field (closed forms where there are any).

Tiny inputs, the Agg canvas of `ganflow.plotting._common.new_figure` (no pyplot).
"""

import subprocess
import sys

import jax
import jax.flatten_util
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
    with pytest.raises(ValueError, match="shape"):
        plotting.dirac_lineup({"bad": np.zeros((5, 3))})


# ---------------------------------------------------------------------------------------------
# 5. parameter-space slices


def _linear_pytree_field():
    """b(x) = A x on a pytree state with 5 coordinates (θ: (2,), ω: {"w": (2,), "c": ()})."""
    x0 = (jnp.array([0.1, -0.2]), {"c": jnp.array(0.3), "w": jnp.array([0.5, 0.4])})
    flat0, unravel = jax.flatten_util.ravel_pytree(x0)
    A = np.random.default_rng(0).normal(size=(5, 5))
    field = lambda x: unravel(jnp.asarray(A) @ jax.flatten_util.ravel_pytree(x)[0])
    return x0, np.asarray(flat0), unravel, A, field


def test_parameter_slice_streamlines(tmp_path):
    x0, flat0, unravel, A, field = _linear_pytree_field()
    u_flat = np.array([1.0, 0.0, 0.5, 0.0, 0.2])
    v_flat = np.array([0.3, 1.0, 0.0, -0.4, 0.0])  # not orthogonal to u, not unit
    u = unravel(jnp.asarray(u_flat))  # a pytree direction, v a flat array
    B = np.stack([u_flat, v_flat])
    G = B @ B.T

    def expected(st):  # (N, 2) -> the projected field in (s, t) coordinates
        pts = flat0 + st @ B
        return np.linalg.solve(G, B @ (A @ pts.T)).T

    ss, ts = np.linspace(-1, 1, 4), np.linspace(-0.5, 0.5, 3)
    cs, ct = plotting.parameter_slice_grid(field, x0, u, v_flat, ss, ts)
    gs, gt = np.meshgrid(ss, ts)
    ref = expected(np.stack([gs.ravel(), gt.ravel()], axis=1))
    np.testing.assert_allclose(cs, ref[:, 0].reshape(gs.shape), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ct, ref[:, 1].reshape(gs.shape), rtol=1e-12, atol=1e-12)
    # a path in the plane projects back onto its own (s, t)
    k = np.linspace(0, 1, 7)
    st_path = np.stack([0.8 * np.cos(3 * k), 0.5 * np.sin(3 * k)], axis=1)
    states = jax.vmap(unravel)(jnp.asarray(flat0 + st_path @ B))
    np.testing.assert_allclose(plotting.slice_coordinates(states, x0, u, v_flat), st_path,
                               atol=1e-12)
    fig = plotting.parameter_slice_streamlines(
        field, x0, u, v_flat, span=(1.0, 0.8), grid=21, trajectories={"path": states},
        title="linear field", path=tmp_path / "slice.png")
    ax = fig.axes[0]
    assert ax.get_title() == "linear field" and ax.get_xlabel().startswith("s")
    assert ax.get_xlim() == (-1.0, 1.0) and ax.get_ylim() == (-0.8, 0.8)
    path_line = [ln for ln in ax.lines if ln.get_label() == "path"][0]
    np.testing.assert_allclose(np.c_[path_line.get_xdata(), path_line.get_ydata()], st_path,
                               atol=1e-12)
    segs = _stream_segments(ax)
    assert len(segs) > 100
    assert np.mean(_cosines(segs, expected) > 0.95) > 0.95
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"path", "x (centre)"}
    _check_png(tmp_path / "slice.png")
    with pytest.raises(ValueError, match="complex"):
        plotting.parameter_slice_streamlines(field, x0, u_flat + 1j, v_flat)
    with pytest.raises(ValueError, match="parallel"):
        plotting.parameter_slice_streamlines(field, x0, u_flat, 2 * u_flat)
    with pytest.raises(ValueError, match="coordinates"):
        plotting.parameter_slice_streamlines(field, x0, u_flat[:3], v_flat)


# ---------------------------------------------------------------------------------------------
# 4. eigenvalues in the complex plane


def _marker_lines(ax):
    return [ln for ln in ax.lines if ln.get_linestyle() == "None"]


def test_eigenvalue_plane(tmp_path):
    # consensus on the Dirac-GAN: J has ±i f′(0); J − γJᵀJ has −γf′(0)² ± i f′(0)
    game = gf.DiracGAN("gan")
    x = game.equilibrium()
    eigs = {f"γ = {g}": np.linalg.eigvals(np.asarray(gf.jacobian(
        gf.stabilise(game, gf.Consensus(g), population=True), x))) for g in (0.0, 1.0)}
    np.testing.assert_allclose(np.sort_complex(eigs["γ = 1.0"]), [-0.25 - 0.5j, -0.25 + 0.5j])
    fig = plotting.eigenvalue_plane(eigs, eta=0.5, title="Dirac", path=tmp_path / "eig.png")
    ax = fig.axes[0]
    assert len(fig.axes) == 1 and ax.get_title() == "Dirac" and ax.get_xlabel() == "Re λ"
    lines = _marker_lines(ax)
    assert len(lines) == 2
    for line, vals in zip(lines, eigs.values()):
        np.testing.assert_allclose(line.get_xdata() + 1j * line.get_ydata(), vals)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "imaginary axis" in labels and "|1 + ηλ| = 1, η = 0.5" in labels
    assert "γ = 1.0 (2 eigenvalues, max Re λ = -0.25)" in labels
    axis = [ln for ln in ax.lines if ln.get_label() == "imaginary axis"][0]
    assert set(np.asarray(axis.get_xdata(), float)) == {0.0}
    circle = [ln for ln in ax.lines if ln.get_label().startswith("|1 + ηλ|")][0]
    z = circle.get_xdata() + 1j * circle.get_ydata()
    np.testing.assert_allclose(np.abs(1 + 0.5 * z), 1.0, atol=1e-12)  # centre −2, radius 2
    assert ax.get_aspect() == 1.0
    _check_png(tmp_path / "eig.png")
    # update operators I + ηJ against the unit circle, with a zoom panel around 1
    upd = {k: 1 + 0.1 * v for k, v in eigs.items()}
    fig = plotting.eigenvalue_plane(upd, unit_circle=True, zoom=0.2, path=tmp_path / "u.png")
    assert len(fig.axes) == 2 and fig.axes[1].get_title() == "zoom: ±0.2 around 1"
    assert fig.axes[1].get_xlim() == pytest.approx((0.8, 1.2))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    rho = np.abs(1 + 0.1j * 0.5)  # simultaneous GD: sqrt(1 + η²f′(0)²)
    assert f"γ = 0.0 (2 eigenvalues, ρ = max |λ| = {rho:.4g})" in labels
    unit = [ln for ln in fig.axes[0].lines if ln.get_label() == "unit circle |λ| = 1"][0]
    np.testing.assert_allclose(np.hypot(unit.get_xdata(), unit.get_ydata()), 1.0)
    for a in fig.axes:
        assert len(_marker_lines(a)) == 2
    _check_png(tmp_path / "u.png")
    with pytest.raises(ValueError, match="finite"):
        plotting.eigenvalue_plane({"nan": [np.nan]})
    with pytest.raises(ValueError, match="eta"):
        plotting.eigenvalue_plane(eigs, eta=-1.0)


def test_eigenvalue_plane_auto_zoom(tmp_path):
    from ganflow.plotting._common import new_figure

    # Dirac-GAN (f′(0) = 1/2), h = 0.1: simultaneous GD 1 ± ihf′(0), |λ| = sqrt(1 + h²f′(0)²)
    # just above 1; alternating GD on the unit circle. All lie near 1.
    a = 0.1 * 0.5
    upd = {"simultaneous": 1 + 1j * a * np.array([1.0, -1.0]),
           "alternating": np.roots([1, -(2 - a**2), 1])}
    np.testing.assert_allclose(np.abs(upd["alternating"]), 1.0)
    fig, axes = new_figure()
    ax = axes[0, 0]
    out = plotting.eigenvalue_plane(upd, unit_circle=True, zoom="auto", ax=ax,
                                    path=tmp_path / "inset.png")
    assert out is fig and len(fig.axes) == 1
    # with ax=, the zoom is an inset of ax, drawing the same eigenvalues and the unit circle
    (inset,) = ax.child_axes
    for line, vals in zip(_marker_lines(inset), upd.values(), strict=True):
        np.testing.assert_allclose(line.get_xdata() + 1j * line.get_ydata(), vals)
    unit = [ln for ln in inset.lines if ln.get_linestyle() == "--"][0]
    np.testing.assert_allclose(np.hypot(unit.get_xdata(), unit.get_ydata()), 1.0)
    assert inset.get_legend() is None and ax.get_legend() is not None
    # its window: the eigenvalues with Im λ ≥ 0 and their nearest points on the circle, so
    # that the modulus excess |λ| − 1 = 1.25e-3 of simultaneous GD is a visible share of it
    (x0, x1), (y0, y1) = inset.get_xlim(), inset.get_ylim()
    sim, alt = upd["simultaneous"][0], upd["alternating"][np.argmax(upd["alternating"].imag)]
    for z in (sim, alt, sim / abs(sim)):
        assert x0 < z.real < x1 and y0 < z.imag < y1
    assert y0 > 0  # the conjugates below the real axis are left to the main view
    assert abs(sim) - 1 > 0.5 * (x1 - x0)
    assert inset.get_title() == f"zoom: ±{(x1 - x0) / 2:.2g}"
    assert ax.get_xlim()[0] < -1 < 1 < ax.get_xlim()[1]  # the main view keeps the whole circle
    _check_png(tmp_path / "inset.png")
    # without ax=, the zoom is a second panel
    fig = plotting.eigenvalue_plane(upd, unit_circle=True, zoom="auto")
    assert len(fig.axes) == 2 and fig.axes[1].get_xlim() == pytest.approx((x0, x1))
    # spread-out eigenvalues (h = 2): the main view tells them apart, no zoom is drawn
    fig, axes = new_figure()
    plotting.eigenvalue_plane({"I + 2J": 1 + 2j * 0.5 * np.array([1.0, -1.0])}, unit_circle=True,
                              zoom="auto", ax=axes[0, 0])
    assert axes[0, 0].child_axes == []
    with pytest.raises(ValueError, match="zoom"):
        plotting.eigenvalue_plane(upd, zoom="near 1")


# ---------------------------------------------------------------------------------------------
# 3. samples over training


def test_mog_sample_grid(tmp_path):
    rng = np.random.default_rng(0)
    means = np.asarray(gf.MixtureOfGaussians("ring").modes)
    samples = rng.normal(size=(2, 3, 40, 2))  # (methods, steps, n, 2)
    samples[1, 2, :5] = np.nan
    samples[0, 1, 0] = [50.0, 0.0]  # far outside the window
    fig = plotting.mog_sample_grid(samples, [0, 100, 200], ["GAN", "NK"], means,
                                   title="ring", path=tmp_path / "mog.png")
    axes = np.asarray(fig.axes).reshape(2, 3)
    assert [ax.get_title() for ax in axes[0]] == ["step 0", "step 100", "step 200"]
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["GAN", "NK"]
    for i in range(2):
        for j in range(3):
            ax = axes[i, j]
            (points,) = ax.collections
            expected = samples[i, j][np.all(np.isfinite(samples[i, j]), axis=1)]
            np.testing.assert_allclose(points.get_offsets(), expected)
            (marks,) = [ln for ln in ax.lines if ln.get_label() == "mixture means"]
            np.testing.assert_allclose(np.c_[marks.get_xdata(), marks.get_ydata()], means)
            assert ax.get_aspect() == 1.0 and ax.get_xlim() == axes[0, 0].get_xlim()
    # the window frames the means (radius 2) with a margin; points outside are counted
    assert axes[0, 0].get_xlim() == pytest.approx((-3.0, 3.0))
    assert any(t.get_text().startswith("1 outside") for t in axes[0, 1].texts)
    assert any("5 non-finite" in t.get_text() for t in axes[1, 2].texts)
    _check_png(tmp_path / "mog.png")
    with pytest.raises(ValueError, match="methods, steps, n, 2"):
        plotting.mog_sample_grid(samples[0], [0, 1, 2], ["a"])
    with pytest.raises(ValueError, match="steps"):
        plotting.mog_sample_grid(samples, [0, 1], ["a", "b"])


# ---------------------------------------------------------------------------------------------
# 6. ensemble bands from xarray


def test_seed_statistics_nan_aware():
    vals = np.array([[1.0, 2.0, np.nan], [3.0, np.nan, np.nan], [5.0, 4.0, np.nan]])
    mean, lo, hi, count = plotting.seed_statistics(vals, "se")
    np.testing.assert_array_equal(count, [3, 2, 0])
    np.testing.assert_allclose(mean[:2], [3.0, 3.0])
    np.testing.assert_allclose((hi - lo)[:2] / 2, [2.0 / np.sqrt(3), np.sqrt(2) / np.sqrt(2)])
    assert np.isnan(mean[2]) and np.isnan(lo[2])
    mean, lo, hi, _ = plotting.seed_statistics(vals, "quantile")
    np.testing.assert_allclose(lo[:2], [1.2, 2.1])
    np.testing.assert_allclose(hi[:2], [4.8, 3.9])


def test_ensemble_band(tmp_path):
    import xarray as xr

    rng = np.random.default_rng(1)
    steps = np.array([0, 10, 20, 30])
    vals = rng.normal(size=(2, 5, 4)) + np.array([1.0, 3.0])[:, None, None]
    vals[1, 3:, 2:] = np.nan  # seeds 3, 4 of method "b" have no result after step 10
    da = xr.DataArray(vals[:, :, :, None], dims=("variant", "seed", "step", "eta"),
                      coords={"variant": ["a", "b"], "step": steps, "eta": [0.1]},
                      name="distance", attrs={"units": "1"})
    fig = plotting.ensemble_band(da, by="variant", path=tmp_path / "band.png")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "distance [1]"
    assert ax.get_title() == "distance: mean ± 1 standard error over seeds"
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["variant = a (5/5 seeds)", "variant = b (3/5 seeds)",
                     "dashed: fewer seeds (NaN left out)"]
    solid = [ln for ln in ax.lines if ln.get_linestyle() == "-"]
    dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(solid) == 2 and len(dashed) == 1
    mean_a = vals[0].mean(axis=0)
    np.testing.assert_allclose(solid[0].get_xdata(), steps)
    np.testing.assert_allclose(solid[0].get_ydata(), mean_a)
    mean_b = np.nanmean(vals[1], axis=0)
    np.testing.assert_allclose(solid[1].get_ydata()[:2], mean_b[:2])
    assert np.all(np.isnan(solid[1].get_ydata()[2:]))
    np.testing.assert_allclose(dashed[0].get_ydata()[1:], mean_b[1:])  # joins at step 10
    # the bands: mean ± standard error of the finite seeds
    se_a = vals[0].std(axis=0, ddof=1) / np.sqrt(5)
    band = ax.collections[0].get_paths()[0].vertices
    for x, m, s in zip(steps, mean_a, se_a):
        ys = band[np.isclose(band[:, 0], x), 1]
        assert np.isclose(ys.min(), m - s) and np.isclose(ys.max(), m + s)
    _check_png(tmp_path / "band.png")
    fig = plotting.ensemble_band(da.sel({"variant": "a"}), band="quantile", logy=False)
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == "mean (5/5 seeds)"
    with pytest.raises(ValueError, match="select one value"):
        plotting.ensemble_band(da)  # variant has two values and is not `by`
    with pytest.raises(ValueError, match="not a dim"):
        plotting.ensemble_band(da, x_dim="time", by="variant")
    with pytest.raises(ValueError, match="band"):
        plotting.ensemble_band(da, band="sd", by="variant")


# ---------------------------------------------------------------------------------------------
# 7. FDR traces


def test_fdr_traces(tmp_path):
    rng = np.random.default_rng(2)
    steps = np.arange(0, 200, 10)
    t = steps.size
    lhs = 0.5 + 2.0 * np.exp(-steps / 40) + 0.05 * rng.normal(size=(30, t))  # (seeds, T)
    rhs = 0.5 + 0.05 * rng.normal(size=(30, t))
    fig = plotting.fdr_traces(steps, lhs, rhs, path=tmp_path / "fdr.png")
    ax, rax = fig.axes
    texts = [tx.get_text() for tx in ax.get_legend().get_texts()]
    assert texts == ["lhs: θᵀg_θ − ωᵀg_ω", "rhs: β⁻¹ Tr(Σ_θ + Σ_ω)"]
    assert ax.get_title().startswith("FDR2") and rax.get_xlabel() == "step"
    lines = [ln for ln in ax.lines]
    np.testing.assert_allclose(lines[0].get_ydata(), lhs.mean(axis=0))
    np.testing.assert_allclose(lines[1].get_ydata(), rhs.mean(axis=0))
    # the band of the lhs is ± its standard error over seeds
    se = lhs.std(axis=0, ddof=1) / np.sqrt(30)
    verts = ax.collections[0].get_paths()[0].vertices
    ys = verts[np.isclose(verts[:, 0], steps[-1]), 1]
    assert np.isclose(ys.min(), lhs.mean(0)[-1] - se[-1])
    assert np.isclose(ys.max(), lhs.mean(0)[-1] + se[-1])
    # the ratio and its paired (delta-method) standard error, as fdr_estimate computes them
    ratio_line = [ln for ln in rax.lines if ln.get_label() == "lhs / rhs"][0]
    np.testing.assert_allclose(ratio_line.get_ydata(), lhs.mean(0) / rhs.mean(0))
    est = gf.analysis.fdr_estimate(lhs[:, -1], rhs[:, -1])
    verts = rax.collections[0].get_paths()[0].vertices
    ys = verts[np.isclose(verts[:, 0], steps[-1]), 1]
    np.testing.assert_allclose((ys.max() - ys.min()) / 2, float(est.ratio_se), rtol=1e-10)
    lo, hi = rax.get_ylim()
    assert lo < 1 < hi and hi < 2  # fitted to the second half, not the early transient
    assert any(ln.get_label() == "stationary: lhs / rhs = 1" for ln in rax.lines)
    _check_png(tmp_path / "fdr.png")
    # means with given standard errors, FDR1 labels, one panel
    fig = plotting.fdr_traces(steps, lhs.mean(0), rhs.mean(0), se, None, relation="fdr1",
                              ratio=False, yscale="symlog")
    (ax,) = fig.axes
    assert ax.get_legend().get_texts()[0].get_text() == "lhs: ‖g_θ‖² − ‖g_ω‖²"
    assert len(ax.collections) == 1 and ax.get_yscale() == "symlog"
    with pytest.raises(ValueError, match="do not pass lhs_se"):
        plotting.fdr_traces(steps, lhs, rhs, lhs_se=se)
    with pytest.raises(ValueError, match="shape"):
        plotting.fdr_traces(steps, lhs[:, :5], rhs)
    with pytest.raises(ValueError, match="relation"):
        plotting.fdr_traces(steps, lhs, rhs, relation="fdr3")
