"""The local spectra of a field at a point of training (`analysis.point_spectra`,
`pad_eigenvalues`, `state_unravel`, `field_norm`) against dense linear algebra, and the figure
of them over training (`plotting.spectra_over_training`)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import ganflow as gf
from ganflow import plotting


def test_point_spectra_matches_dense(getkey):
    game = gf.games.MoGNetsGame("ring", "nsgan", latent_dim=2, gen_width=3, gen_depth=1,
                                disc_width=3, disc_depth=1, init="glorot", dtype="float64")
    x = game.init(getkey())
    batch = game.sample(getkey(), 32)
    b = game.vector_field()
    eta, k = 0.05, 3
    s = gf.analysis.point_spectra(b, x, batch, eta=eta, k=k, tol=1e-12)
    eig = np.linalg.eigvals(np.asarray(eqx.filter_jit(gf.jacobian)(b, x, batch)))
    assert s.lm.shape == s.lr.shape == s.upd.shape == (k,)
    np.testing.assert_allclose(np.abs(s.lm[0]), np.max(np.abs(eig)), rtol=1e-8)
    np.testing.assert_allclose(s.max_re, np.max(eig.real), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(s.lr[0].real, s.max_re)
    rho = np.max(np.abs(1 + eta * eig))
    np.testing.assert_allclose(s.rho, rho, rtol=1e-9)
    np.testing.assert_allclose(np.abs(s.upd[0]), rho, rtol=1e-9)
    np.testing.assert_allclose(s.field_norm, np.linalg.norm(ravel_pytree(b(x, batch))[0]),
                               rtol=1e-12)


def test_pad_and_unravel(getkey):
    v = gf.analysis.pad_eigenvalues([1 + 2j, 3.0], 4)
    assert v.dtype == np.complex128 and v.shape == (4,)
    np.testing.assert_array_equal(v[:2], [1 + 2j, 3.0])
    assert np.all(np.isnan(v[2:].real)) and np.all(np.isnan(v[2:].imag))
    np.testing.assert_array_equal(gf.analysis.pad_eigenvalues(np.arange(5), 2), [0, 1])
    game = gf.games.MoGNetsGame("ring", latent_dim=2, gen_width=3, disc_width=3,
                                dtype="float64")
    x = game.init(getkey())
    flat = ravel_pytree(x)[0]
    back = gf.analysis.state_unravel(game)(flat)
    np.testing.assert_array_equal(ravel_pytree(back)[0], flat)
    assert jax.tree_util.tree_structure(back) == jax.tree_util.tree_structure(x)
    np.testing.assert_allclose(gf.analysis.field_norm(lambda y: y, jnp.array([3.0, 4.0])), 5.0)


def test_spectra_over_training_draws_the_given_eigenvalues():
    from matplotlib.figure import Figure

    rng = np.random.default_rng(0)
    shape = (2, 3, 4)  # (runs, steps, seed·k)
    lm, lr = (rng.normal(size=shape) + 1j * rng.normal(size=shape) for _ in range(2))
    upd = 1 + 0.01 * (rng.normal(size=shape) + 1j * rng.normal(size=shape))
    upd[0, 0, 0] = np.nan
    fig = plotting.spectra_over_training(lm, lr, upd, [0, 10, 20], ["b0", "consensus"],
                                            eta=0.1)
    assert isinstance(fig, Figure)
    axes = np.asarray(fig.axes).reshape(2, 2)
    for i in range(2):
        marks = [ln for ln in axes[0, i].lines if ln.get_linestyle() == "None"]
        got = [ln.get_xdata() + 1j * ln.get_ydata() for ln in marks]
        want = [z[i, j] for j in range(3) for z in (lm, lr)]
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
        marks = [ln for ln in axes[1, i].lines if ln.get_linestyle() == "None"]
        for j, ln in enumerate(marks):
            np.testing.assert_array_equal(ln.get_xdata() + 1j * ln.get_ydata(), upd[i, j])
        assert "b0" in axes[0, 0].get_title() and "consensus" in axes[0, 1].get_title()
    with pytest.raises(ValueError, match="shape"):
        plotting.spectra_over_training(lm[:1], lr, upd, [0, 10, 20], ["b0", "c"], eta=0.1)
