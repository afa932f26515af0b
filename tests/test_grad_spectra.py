"""Differentiable spectra (`ganflow.analysis.extreme_eigenvalue`, `jacobian_abscissa`,
`map_spectral_radius`): derivatives against closed forms in float64 — dρ/dη and dρ/dγ of
consensus optimisation on the Dirac-GAN, the abscissa and radius of parametrised nonnormal 2×2
and 3×3 matrices — dense and matrix-free, and against central finite differences for a small
neural game (matrix-free)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ganflow as gf
from ganflow import analysis as an, stabilisers as st

jax.config.update("jax_enable_x64", True)


def consensus_step(game, eta, gamma):
    """One simultaneous step x + η b_γ(x) on the consensus field b_γ = b0 − γ Jᵀ b0 (γ traced
    through `stabilisers.Consensus`)."""
    b = st.stabilise(game, st.Consensus(gamma), population=True)
    return lambda x: jax.tree.map(lambda p, q: p + eta * q, x, b(x))


def consensus_rate(eta, gamma, c=0.5):
    """Closed form on the Dirac-GAN with f′(0) = c: J_γ = J − γJᵀJ has eigenvalues −γc² ± ic
    (Mescheder, Nowozin & Geiger 2017), so F′ = I + ηJ_γ has |μ|² = (1 − ηγc²)² + η²c²."""
    a = 1.0 - eta * gamma * c * c
    rho = np.sqrt(a * a + (eta * c) ** 2)
    return rho, (-a * gamma * c * c + eta * c * c) / rho, -a * eta * c * c / rho


@pytest.mark.parametrize("method", ["dense", "arnoldi"])
def test_consensus_rate_derivatives_on_the_dirac_gan(method):
    """Dense and matrix-free (n = 2: one Krylov sweep is exact)."""
    game = gf.DiracGAN("gan")
    x = game.equilibrium()

    def rho(eta, gamma):
        return an.map_spectral_radius(consensus_step(game, eta, gamma), x, method=method, k=1)

    for eta, gamma in [(0.3, 1.0), (1.5, 0.2)]:
        r, d_eta, d_gamma = consensus_rate(eta, gamma)
        value, grads = jax.jit(jax.value_and_grad(rho, argnums=(0, 1)))(eta, gamma)
        np.testing.assert_allclose(value, r, rtol=1e-13)
        np.testing.assert_allclose(grads, (d_eta, d_gamma), rtol=1e-12, atol=1e-14)
    if method == "dense":
        # the abscissa of J_γ: −γ f′(0)², derivative −f′(0)² (forward mode)
        b = lambda g: st.stabilise(game, st.Consensus(g), population=True)  # noqa: E731
        val, tan = jax.jvp(lambda g: an.jacobian_abscissa(b(g), x), (0.7,), (1.0,))
        np.testing.assert_allclose((val, tan), (-0.7 * 0.25, -0.25), rtol=1e-13)


# A fixed nonnormal change of basis P: M(t) = P D(t) P⁻¹ has the eigenvalues of D(t) exactly.
_P = np.array([[1.0, 2.0, 0.5], [0.0, 1.0, -1.0], [0.3, 0.0, 1.0]])


def blocks(t):
    """D(t) = [[a, w], [−w, a]] ⊕ [s]: eigenvalues a ± iw and s, with a = sin t − 1,
    w = 1 + t², s = t³ − 1.5."""
    a, w, s = jnp.sin(t) - 1.0, 1.0 + t * t, t**3 - 1.5
    d = jnp.array([[a, w, 0.0], [-w, a, 0.0], [0.0, 0.0, s]])
    return _P @ d @ jnp.linalg.inv(_P)


@pytest.mark.parametrize("t", [0.2, 1.2])
def test_abscissa_and_radius_of_a_parametrised_3x3(t):
    a, da = np.sin(t) - 1.0, np.cos(t)
    w, dw = 1.0 + t * t, 2 * t
    s, ds = t**3 - 1.5, 3 * t * t
    # abscissa: max(a, s); radius: max(√(a² + w²), |s|)
    alpha, d_alpha = (a, da) if a > s else (s, ds)
    mod = np.hypot(a, w)
    rho, d_rho = (mod, (a * da + w * dw) / mod) if mod > abs(s) else (abs(s), np.sign(s) * ds)
    f_alpha = lambda t: an.extreme_eigenvalue(blocks(t), "LR").real  # noqa: E731
    f_rho = lambda t: jnp.abs(an.extreme_eigenvalue(blocks(t), "LM"))  # noqa: E731
    np.testing.assert_allclose(jax.value_and_grad(f_alpha)(t), (alpha, d_alpha), rtol=1e-12)
    np.testing.assert_allclose(jax.value_and_grad(f_rho)(t), (rho, d_rho), rtol=1e-12)
    np.testing.assert_allclose(jax.jvp(f_alpha, (t,), (1.0,)), (alpha, d_alpha), rtol=1e-12)


def test_abscissa_of_a_2x2_with_real_eigenvalues():
    """[[t, 2], [1, 0]]: λ = t/2 + √(t²/4 + 2), dλ/dt = 1/2 + t/(4√(t²/4 + 2))."""
    t = 0.8
    root = np.sqrt(t * t / 4 + 2)
    f = lambda t: an.extreme_eigenvalue(jnp.array([[t, 2.0], [1.0, 0.0]]), "LR").real  # noqa
    np.testing.assert_allclose(jax.value_and_grad(f)(t), (t / 2 + root, 0.5 + t / (4 * root)),
                               rtol=1e-13)


@pytest.mark.slow
def test_matrix_free_against_finite_differences_on_a_neural_game():
    """A small MLP GAN with consensus: the matrix-free abscissa of J_γ and the radius of the
    step x + η b_γ(x) agree with the dense ones, and their derivatives (w.r.t. γ, η and the
    state along a direction) with central finite differences of the dense values."""
    game = gf.games.MoGNetsGame("ring", "nsgan", 2, 4, 1, 4, 1, 1.0, "glorot", 0.8, "float64")
    x = game.init(jax.random.key(0))
    batch = game.sample(jax.random.key(1), 64)
    flat, unravel = gf.ravel_state(x)
    direction = unravel(jnp.asarray(an.start_vector(flat.size, 7)))
    kw = dict(k=4, ncv=20)

    def alpha(gamma, s, method):
        b = st.stabilise(game, st.Consensus(gamma))
        xs = jax.tree.map(lambda p, q: p + s * q, x, direction)
        return an.jacobian_abscissa(b, xs, batch, method=method, **kw)

    def rho(eta, gamma, method):
        b = st.stabilise(game, st.Consensus(gamma))
        step = lambda y, batch: jax.tree.map(lambda p, q: p + eta * q, y, b(y, batch))  # noqa
        return an.map_spectral_radius(step, x, batch, method=method, **kw)

    g0, s0, eta0, h = 0.1, 0.0, 0.05, 1e-5
    a_dense = jax.jit(lambda g, s: alpha(g, s, "dense"))
    r_dense = jax.jit(lambda e, g: rho(e, g, "dense"))
    a_mf, grads = jax.jit(jax.value_and_grad(lambda g, s: alpha(g, s, "arnoldi"),
                                             argnums=(0, 1)))(g0, s0)
    np.testing.assert_allclose(a_mf, a_dense(g0, s0), rtol=1e-10)
    fd_g = (a_dense(g0 + h, s0) - a_dense(g0 - h, s0)) / (2 * h)
    fd_s = (a_dense(g0, s0 + h) - a_dense(g0, s0 - h)) / (2 * h)
    np.testing.assert_allclose(grads, (fd_g, fd_s), rtol=1e-6)
    r_mf, grads = jax.jit(jax.value_and_grad(lambda e, g: rho(e, g, "arnoldi"),
                                             argnums=(0, 1)))(eta0, g0)
    np.testing.assert_allclose(r_mf, r_dense(eta0, g0), rtol=1e-10)
    fd_e = (r_dense(eta0 + h, g0) - r_dense(eta0 - h, g0)) / (2 * h)
    fd_g = (r_dense(eta0, g0 + h) - r_dense(eta0, g0 - h)) / (2 * h)
    np.testing.assert_allclose(grads, (fd_e, fd_g), rtol=1e-6)


def test_vmap_and_bad_input():
    game = gf.DiracGAN("gan")
    x = game.equilibrium()
    gammas = jnp.array([0.1, 0.5, 2.0])
    b = lambda g: st.stabilise(game, st.Consensus(g), population=True)  # noqa: E731
    out = jax.vmap(jax.grad(lambda g: an.jacobian_abscissa(b(g), x)))(gammas)
    np.testing.assert_allclose(out, -0.25 * np.ones(3), rtol=1e-13)
    with pytest.raises(ValueError, match="method"):
        an.jacobian_abscissa(b(0.1), x, method="arpack")
    with pytest.raises(ValueError, match="update map"):
        an.map_spectral_radius(3.0, x)
