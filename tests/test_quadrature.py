"""The quadrature rules of ganflow._quadrature against closed forms and scipy.integrate.quad."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate as si
import scipy.special as sp
import scipy.stats as ss

from ganflow import _quadrature as q

# scipy warns about roundoff on the pieces where the integrand is ~0; the values are checked
pytestmark = pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")


def _log_sigmoid_np(t):
    return -np.logaddexp(0.0, -t)


def _scipy_normal_expectation(fn, mean, std, points, scales):
    """E fn(X), X ~ N(mean, std²), by scipy.integrate.quad on pieces cut at every point and at
    point ± scale·2^j (j = −40..12) for each sharp feature, so that quad never has to find a
    feature narrower than its piece."""
    lo, hi = mean - 14 * std, mean + 14 * std
    cuts = {lo, hi}
    for p, h in zip(points, scales):
        for j in range(-40, 13):
            cuts.update((p - h * 2.0**j, p + h * 2.0**j))
        cuts.add(p)
    cuts = sorted(c for c in cuts if lo <= c <= hi)
    f = lambda x: fn(x) * ss.norm.pdf(x, mean, std)
    return sum(
        si.quad(f, a, b, limit=200, epsabs=0.0, epsrel=1e-13)[0]
        for a, b in zip(cuts[:-1], cuts[1:])
    )


@pytest.mark.parametrize("mean,std", [(0.0, 1.0), (1.5, 0.7)])
def test_gaussian_moments(mean, std):
    ks = np.arange(11)
    exact = np.array([ss.norm.moment(int(k), loc=mean, scale=std) for k in ks])
    graded = jax.vmap(lambda k: q.normal_expectation(lambda x: x**k, mean, std))(ks * 1.0)
    hermite = jax.vmap(lambda k: q.normal_expectation_hermite(lambda x: x**k, mean, std, 20))(
        ks * 1.0
    )
    np.testing.assert_allclose(graded, exact, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(hermite, exact, rtol=1e-12, atol=1e-13)


def test_graded_rule_exact_for_polynomials():
    x, w = q.graded_rule(jnp.asarray([-1.0, 0.3, 2.0, jnp.nan]), num_nodes=4, levels=10)
    assert x.shape == (3 * 2 * 11 * 4,)
    np.testing.assert_allclose(jnp.sum(w), 3.0, rtol=1e-14)
    np.testing.assert_allclose(jnp.dot(w, x**7), (2.0**8 - 1.0) / 8, rtol=1e-13)
    np.testing.assert_allclose(q.gauss_legendre(jnp.exp, 0.0, 1.0, 20), np.e - 1, rtol=1e-14)
    np.testing.assert_allclose(q.integrate(jnp.cos, [0.0, 1.0, 3.0]), np.sin(3.0), rtol=1e-14)


def test_quadratic_breakpoints():
    r = q.quadratic_breakpoints(2.0, -6.0, 4.0)  # 2(u − 1)(u − 2), vertex 1.5
    np.testing.assert_allclose(np.sort(np.asarray(r[:2])), [1.0, 2.0], rtol=1e-14)
    np.testing.assert_allclose(r[2], 1.5)
    r = q.quadratic_breakpoints(1e8, 0.0, -1.0)  # ±1e-4, no cancellation
    np.testing.assert_allclose(np.sort(np.asarray(r[:2])), [-1e-4, 1e-4], rtol=1e-14)
    r = q.quadratic_breakpoints(1.0, 0.0, 1.0)  # no real root
    assert np.isnan(r[0]) and np.isnan(r[1]) and r[2] == 0.0
    r = q.quadratic_breakpoints(0.0, 2.0, 1.0)  # linear: root −1/2
    assert r[0] == -0.5 and np.isnan(r[1]) and np.isnan(r[2])


@pytest.mark.parametrize("a", [1.0, 1e3, 1e8])
def test_sigmoid_special_cases(a):
    # E sigmoid(a(X − μ)) = 1/2 exactly for X ~ N(μ, s²) (sigmoid(t) + sigmoid(−t) = 1)
    mu, s = 0.7, 1.3
    bp = q.quadratic_breakpoints(0.0, a, -a * mu)
    v = q.normal_expectation(lambda x: jax.nn.sigmoid(a * (x - mu)), mu, s, bp)
    np.testing.assert_allclose(v, 0.5, rtol=0, atol=1e-14)
    # E sigmoid(a(X − c)) → P(X > c); at a = 1e8 the gap is O(p'(c)/a²) ~ 1e-16
    c = 1.5
    bp = q.quadratic_breakpoints(0.0, a, -a * c)
    v = q.normal_expectation(lambda x: jax.nn.sigmoid(a * (x - c)), mu, s, bp)
    if a == 1e8:
        np.testing.assert_allclose(v, ss.norm.sf(c, mu, s), rtol=1e-12)
    else:
        ref = _scipy_normal_expectation(lambda x: sp.expit(a * (x - c)), mu, s, [c], [1 / a])
        np.testing.assert_allclose(v, ref, rtol=1e-11)


LINEAR_CASES = [(3.0, 1.0, 1.0, 1.0), (1e3, 0.5, 0.0, 2.0), (1e6, -2.0, 1.0, 1.0)]


@pytest.mark.parametrize("a,b,mean,std", LINEAR_CASES)
def test_log_sigmoid_linear_against_scipy(a, b, mean, std):
    bp = q.quadratic_breakpoints(0.0, a, b)
    v = q.normal_expectation(lambda x: -jax.nn.softplus(-(a * x + b)), mean, std, bp)
    ref = _scipy_normal_expectation(
        lambda x: _log_sigmoid_np(a * x + b), mean, std, [-b / a], [1 / a]
    )
    np.testing.assert_allclose(v, ref, rtol=1e-11)


# logit A/2 (x − c)² − C: a window of half-width sqrt(2C/A) where log D ≈ −C
WINDOW_CASES = [(2.0, 0.0, -1.0, 1.0, 2.0), (1e6, 0.3, 10.0, 1.0, 1.0), (1e8, -1.0, 5.0, 0.5, 0.7)]


@pytest.mark.parametrize("A,c,C,mean,std", WINDOW_CASES)
def test_log_sigmoid_narrow_window_against_scipy(A, c, C, mean, std):
    logit = lambda x: 0.5 * A * (x - c) ** 2 - C
    bp = q.quadratic_breakpoints(0.5 * A, -A * c, 0.5 * A * c * c - C)
    v = q.normal_expectation(lambda x: -jax.nn.softplus(-logit(x)), mean, std, bp)
    h = np.sqrt(abs(2 * C / A))
    ref = _scipy_normal_expectation(
        lambda x: _log_sigmoid_np(logit(x)), mean, std, [c - h, c, c + h], [h, h, h]
    )
    np.testing.assert_allclose(v, ref, rtol=1e-10, atol=1e-16)
    hermite = q.normal_expectation_hermite(lambda x: -jax.nn.softplus(-logit(x)), mean, std, 20)
    if A >= 1e6:
        # the window lies between two Gauss–Hermite nodes: the fixed rule misses it entirely
        assert abs(hermite - ref) > 0.9 * abs(ref)


def test_derivative_is_quadrature_of_derivative():
    # d/dμ E log σ(X² − 1) for X ~ N(μ, 1) equals E[(X − μ) log σ(X² − 1)]
    fn = lambda x: -jax.nn.softplus(-(x * x - 1.0))

    def value(mu):
        return q.normal_expectation(fn, mu, 1.0, q.quadratic_breakpoints(1.0, 0.0, -1.0))

    mu = 0.4
    ref = _scipy_normal_expectation(
        lambda x: (x - mu) * _log_sigmoid_np(x * x - 1.0), mu, 1.0, [-1.0, 1.0], [0.5, 0.5]
    )
    np.testing.assert_allclose(jax.grad(value)(mu), ref, rtol=1e-11)


def test_bad_input():
    with pytest.raises(ValueError, match="num_nodes"):
        q.hermite_rule(0)
    with pytest.raises(ValueError, match="breakpoints"):
        q.graded_rule(jnp.asarray([1.0]))
    with pytest.raises(ValueError, match="half_width"):
        q.graded_normal_rule((), half_width=-1.0)
