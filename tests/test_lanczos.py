"""`analysis.lanczos_extremes` (jittable symmetric Lanczos) against dense `eigh` in float64, with
both breakdown tests, and `analysis.has_positive_curvature`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganflow.analysis import LanczosExtremes, has_positive_curvature, lanczos_extremes


def _lanczos(scale):
    return jax.jit(lambda m, v, k: lanczos_extremes(lambda x: m @ x, v, k,
                                                    breakdown_scale=scale),
                   static_argnums=2)


@pytest.mark.parametrize("scale", ["diagonal", "matvec"])
def test_full_lanczos_is_exact(getkey, scale):
    a = jax.random.normal(getkey(), (30, 30))
    a = 0.5 * (a + a.T)
    ev = np.linalg.eigh(np.asarray(a))[0]
    res = _lanczos(scale)(a, jax.random.normal(getkey(), (30,)), 30)
    assert isinstance(res, LanczosExtremes)
    np.testing.assert_allclose([res.eig_min, res.eig_max], [ev[0], ev[-1]], rtol=1e-10,
                               atol=1e-10)
    np.testing.assert_allclose(a @ res.ritz_vector, res.eig_max * res.ritz_vector, atol=1e-8)
    np.testing.assert_allclose(np.linalg.norm(res.ritz_vector), 1.0, rtol=1e-12)
    assert int(res.krylov_dim) == 30
    # more iterations than the dimension: the same
    again = _lanczos(scale)(a, jax.random.normal(getkey(), (30,)), 50)
    np.testing.assert_allclose([again.eig_min, again.eig_max], [ev[0], ev[-1]], rtol=1e-10)


@pytest.mark.parametrize("scale", ["diagonal", "matvec"])
def test_breakdown_gives_the_invariant_subspace(scale):
    """Three distinct eigenvalues span a 3-dimensional Krylov space: Lanczos breaks down after
    three steps and its Ritz values are exact."""
    d = jnp.diag(jnp.array([1.0, 1.0, 1.0, 2.0, 2.0, -5.0] + [1.0] * 24))
    res = _lanczos(scale)(d, jnp.ones(30), 30)
    np.testing.assert_allclose([res.eig_min, res.eig_max], [-5.0, 2.0], rtol=1e-10)
    np.testing.assert_allclose(d @ res.ritz_vector, 2.0 * res.ritz_vector, atol=1e-10)
    assert bool(res.broke_down) and int(res.krylov_dim) == 3


def test_breakdown_with_a_symmetric_spectrum():
    """Eigenvalues ±10 with small Lanczos diagonal: the Ritz values of the invariant subspace
    (not the padding of the idle steps) are returned."""
    d = jnp.diag(jnp.array([10.0, -10.0] * 10))
    res = _lanczos("matvec")(d, jnp.ones(20), 20)
    np.testing.assert_allclose([res.eig_min, res.eig_max], [-10.0, 10.0], rtol=1e-12)
    assert bool(res.broke_down) and int(res.krylov_dim) == 2


def test_zero_operator_breaks_down_at_once():
    res = _lanczos("matvec")(jnp.zeros((5, 5)), jnp.arange(1.0, 6.0), 5)
    assert float(res.eig_min) == 0.0 and float(res.eig_max) == 0.0
    assert bool(res.broke_down) and int(res.krylov_dim) == 1


def test_few_iterations_find_the_extremes_first(getkey):
    """Fewer iterations than the dimension: the extremes converge first (with a spectral gap);
    no breakdown."""
    d = jnp.diag(jnp.concatenate([jnp.linspace(0.0, 1.0, 29), jnp.array([3.0])]))
    res = _lanczos("diagonal")(d, jax.random.normal(getkey(), (30,)), 15)
    np.testing.assert_allclose(res.eig_max, 3.0, rtol=1e-8)
    assert not bool(res.broke_down) and int(res.krylov_dim) == 15


def test_vmap_over_start_vectors(getkey):
    a = jax.random.normal(getkey(), (12, 12))
    a = a @ a.T
    ev = np.linalg.eigh(np.asarray(a))[0]
    starts = jax.random.normal(getkey(), (3, 12))
    res = jax.vmap(lambda v: lanczos_extremes(lambda x: a @ x, v, 12))(starts)
    np.testing.assert_allclose(res.eig_max, np.full(3, ev[-1]), rtol=1e-10)
    np.testing.assert_allclose(res.eig_min, np.full(3, ev[0]), rtol=1e-8, atol=1e-10)


def test_has_positive_curvature():
    assert bool(has_positive_curvature(-1.0, 2.0))
    assert not bool(has_positive_curvature(-1.0, 1e-9))  # round-off against |λ_min|
    assert not bool(has_positive_curvature(-3.0, -1.0))
    np.testing.assert_array_equal(has_positive_curvature(jnp.array([0.0, -1.0]),
                                                         jnp.array([1.0, 0.0])), [True, False])


def test_bad_arguments():
    with pytest.raises(ValueError, match="breakdown_scale"):
        lanczos_extremes(lambda x: x, jnp.ones(3), 3, breakdown_scale="other")
