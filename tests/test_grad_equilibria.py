"""Gradients through equilibria: `analysis.find_stationary_point` differentiated by the implicit
function theorem — the LQ-Gaussian game's stationary point against its closed form, the IFT
formula at the returned point (never the derivative of the Newton iterations), and a small
neural game against central finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ganflow as gf
from ganflow.dynamics import ravel_state


def test_lq_gaussian_stationary_point_derivative_in_the_data_mean_and_variance():
    """Mounjid–Guo §2: the stationary point is θ* = (θ₂, θ₁) = (σ, m), w* = 0 (flat order
    θ₂, θ₁, w₁, w₂, w₃), so ∂x*/∂m = e₂ and ∂x*/∂v = e₁/(2√v) for the variance v = σ²."""

    def xstar(p):
        m, v = p
        game = gf.games.LinearQuadraticGaussian(m, jnp.sqrt(v), quadrature="hermite")
        x0 = game.make_state(m + 0.1, jnp.sqrt(v) - 0.1, 0.05, -0.05, 0.02)
        search = gf.analysis.find_stationary_point(game.vector_field(population=True), x0)
        return ravel_state(search.x)[0], search.success

    m, v = 1.0, 4.0
    p = jnp.array([m, v])
    x, ok = jax.jit(xstar)(p)
    assert bool(ok)
    np.testing.assert_allclose(x, [2.0, 1.0, 0.0, 0.0, 0.0], atol=1e-12)
    want = np.zeros((5, 2))
    want[1, 0] = 1.0  # ∂θ₁/∂m
    want[0, 1] = 1.0 / (2.0 * np.sqrt(v))  # ∂θ₂/∂v = ∂σ/∂v
    np.testing.assert_allclose(jax.jacrev(lambda q: xstar(q)[0])(p), want, atol=1e-12)


def _cubic(p):
    """b(x; p) = ((θ − p)³ + ω, θ − ω − 1): the root is θ = p + r, ω = p + r − 1 with r the real
    root of r³ + r + p − 1 = 0."""
    return lambda x: ((x[0] - p) ** 3 + x[1], x[0] - x[1] - 1.0)


def _jac(x, p):
    """∂b/∂x and ∂b/∂p of `_cubic` at x (by hand)."""
    t = 3.0 * (x[0] - p) ** 2
    return np.array([[t, 1.0], [1.0, -1.0]]), np.array([-t, 0.0])


def test_derivative_is_the_implicit_function_formula_at_the_returned_point():
    """Stopped after one Newton step from x0, the search returns x₁ ≠ x*; its derivative is the
    IFT formula −J(x₁)⁻¹ ∂_p b(x₁) at x₁ — not the derivative of the Newton step
    x₁ = x0 − J(x0)⁻¹ b(x0), which the two differ from here by far more than rounding."""
    p0, x0 = 0.3, (jnp.asarray(2.0), jnp.asarray(0.0))

    def one_step(p):
        s = gf.analysis.find_stationary_point(_cubic(p), x0, max_steps=1, rtol=1e-14, atol=1e-14)
        return jnp.stack(s.x), s.success

    x1, ok = one_step(p0)
    assert not bool(ok)
    J, bp = _jac(np.asarray(x1), p0)
    ift = -np.linalg.solve(J, bp)
    got = jax.jacrev(lambda p: one_step(p)[0])(p0)
    np.testing.assert_allclose(got, ift, rtol=1e-12)
    # the derivative of the iteration (differentiating the Newton step itself)
    def newton_step(p):
        x = jnp.stack(x0)
        b = jnp.stack(_cubic(p)(x0))
        Jx = jax.jacfwd(lambda y: jnp.stack(_cubic(p)((y[0], y[1]))))(x)
        return x - jnp.linalg.solve(Jx, b)

    np.testing.assert_allclose(newton_step(p0), x1, rtol=1e-12)
    unrolled = jax.jacfwd(newton_step)(p0)
    assert np.max(np.abs(unrolled - ift)) > 0.1


@pytest.mark.slow
def test_derivative_of_a_converged_root():
    """From r³ + r + p − 1 = 0 (r = θ − p, ω = θ − 1): dθ/dp = dω/dp = 1 − 1/(3r² + 1)."""
    x0 = (jnp.asarray(2.0), jnp.asarray(0.0))

    def root(p):
        return jnp.stack(gf.analysis.find_stationary_point(_cubic(p), x0).x)

    p0 = 0.3
    r = float(root(p0)[0]) - p0
    np.testing.assert_allclose(r**3 + r + p0 - 1.0, 0.0, atol=1e-12)
    dr = -1.0 / (3 * r * r + 1)
    np.testing.assert_allclose(jax.jacrev(root)(p0), [1 + dr, 1 + dr], rtol=1e-12)


@pytest.mark.slow
def test_neural_game_stationary_point_against_finite_differences():
    """A small neural game with a fixed batch: tanh MLP players (1 → 2 → 1), GAN loss, data
    m + base, and a regularisation μ towards the initial players c (b − μ(x − c), strongly
    monotone for this μ): the stationary
    point's derivative in (m, μ) by the IFT against central differences of converged searches."""
    key = jax.random.key(0)
    kg, kd, kx, kz = jax.random.split(key, 4)
    gen = gf.models.MLP.init(kg, 1, None, 2, 1, activation=jnp.tanh)
    disc = gf.models.MLP.init(kd, 1, None, 2, 1, activation=jnp.tanh)
    base = 0.5 * jax.random.normal(kx, (8,))
    z = jax.random.normal(kz, (8,))
    f = gf.get_loss("gan")

    def field(m, mu):
        def phi(theta, omega):
            real = jax.vmap(omega)(m + base)
            fake = jax.vmap(omega)(jax.vmap(theta)(z))
            return jnp.mean(f.discriminator(real, fake))

        b0 = gf.dynamics.vector_field(phi)
        return lambda x: jax.tree_util.tree_map(lambda bi, xi, ci: bi - mu * (xi - ci), b0(x), x,
                                                (gen, disc))

    @jax.jit
    def xstar(p):
        s = gf.analysis.find_stationary_point(field(p[0], p[1]), (gen, disc), tol=1e-10)
        return ravel_state(s.x)[0], s.success

    p = jnp.array([0.7, 0.8])
    x, ok = xstar(p)
    assert bool(ok)
    jac = jax.jacrev(lambda q: xstar(q)[0])(p)
    h = 1e-5
    for i in range(2):
        e = jnp.zeros(2).at[i].set(h)
        fd = (xstar(p + e)[0] - xstar(p - e)[0]) / (2 * h)
        np.testing.assert_allclose(jac[:, i], fd, rtol=1e-6, atol=1e-8)
    assert np.max(np.abs(jac)) > 1e-2
