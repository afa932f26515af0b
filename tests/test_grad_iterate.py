"""Gradients through iterations (`training.iterate`): dx_N/dη and dx_N/dx0 of GDA on linear games
against the derivative of the matrix power M(η)ᴺ, with and without checkpointing; every scheme
against central finite differences; pathwise gradients of a minibatch neural GAN; memory of the
checkpointed reverse pass."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ganflow as gf
from ganflow import stabilisers as st, training as tr
from ganflow.dynamics import ravel_state

# ---------------------------------------------------------------------------------------------
# closed forms on linear games b(x) = J x (flat order: θ first)


def _linear_games():
    """name -> (game, x0, J, dim θ): the Dirac-GAN with the WGAN loss (Φ = −ψθ, b0 = (ψ, −θ))
    and the bilinear game Φ = θᵀω in ℝ²×ℝ² (b0 = (−ω, θ))."""
    dirac = gf.games.DiracGAN("wgan")
    bil = gf.games.Bilinear(2)
    j_dirac = np.array([[0.0, 1.0], [-1.0, 0.0]])
    i2, z2 = np.eye(2), np.zeros((2, 2))
    j_bil = np.block([[z2, -i2], [i2, z2]])
    return {
        "dirac-wgan": (dirac, dirac.make_state(1.0, 0.5), j_dirac, 1),
        "bilinear": (bil, bil.make_state(jnp.array([1.0, -0.3]), jnp.array([0.2, 0.7])), j_bil, 2),
    }


def _update_matrix(J, d_theta, eta, scheme, gamma=0.0):
    """(M, dM/dη, dM/dγ) of one step on b = (J − γJᵀJ) x: simultaneous M = I + ηK;
    alternating (ω first, then θ with the new ω) M = (I + ηP_θK)(I + ηP_ωK), K = J − γJᵀJ."""
    n = J.shape[0]
    eye = np.eye(n)
    K = J - gamma * J.T @ J
    dK = -J.T @ J
    if scheme == "simultaneous":
        return eye + eta * K, K, eta * dK
    p_th = np.diag([1.0] * d_theta + [0.0] * (n - d_theta))
    p_om = eye - p_th
    A, B = eye + eta * p_th @ K, eye + eta * p_om @ K
    return A @ B, p_th @ K @ B + A @ p_om @ K, eta * (p_th @ dK @ B + A @ p_om @ dK)


def _power_derivative(M, dM, N):
    """d(Mᴺ) = Σ_k M^k dM M^{N−1−k}."""
    pw = [np.linalg.matrix_power(M, k) for k in range(N)]
    return sum(pw[k] @ dM @ pw[N - 1 - k] for k in range(N))


@pytest.mark.parametrize("name", ["dirac-wgan", "bilinear"])
@pytest.mark.parametrize("scheme", ["simultaneous", "alternating"])
def test_gda_derivative_in_eta_and_x0_is_that_of_the_matrix_power(name, scheme):
    game, x0, J, d_theta = _linear_games()[name]
    flat0, unravel = ravel_state(x0)
    eta, N = 0.15, 40

    def final(eta, flat_x0, checkpoint):
        s = tr.make_scheme(scheme, game, optax.sgd(eta), population=True)
        return ravel_state(tr.iterate(s, unravel(flat_x0), N, checkpoint=checkpoint).x)[0]

    M, dM, _ = _update_matrix(J, d_theta, eta, scheme)
    x0n = np.asarray(flat0)
    want_x = np.linalg.matrix_power(M, N) @ x0n
    want_deta = _power_derivative(M, dM, N) @ x0n
    want_dx0 = np.linalg.matrix_power(M, N)
    scale = np.max(np.abs(want_deta))
    results = {}
    variants = ("sqrt", "none", 7) if (name, scheme) == ("bilinear", "alternating") else (
        "sqrt", "none")
    for ck in variants:  # blocks of 7: five blocks and a remainder of 5
        both = jax.jit(lambda e, x, ck=ck: (final(e, x, ck),
                                            jax.jacrev(final, argnums=(0, 1))(e, x, ck)))
        x, (deta, dx0) = both(eta, flat0)
        np.testing.assert_allclose(x, want_x, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(deta, want_deta, rtol=1e-11, atol=1e-12 * scale)
        np.testing.assert_allclose(dx0, want_dx0, rtol=1e-11, atol=1e-12)
        results[ck] = np.asarray(deta)
    # checkpointing recomputes the same operations: equal to rounding
    np.testing.assert_allclose(results["sqrt"], results["none"], rtol=1e-14, atol=0)
    if 7 in results:
        np.testing.assert_allclose(results[7], results["none"], rtol=1e-14, atol=0)


@pytest.mark.parametrize("name", ["dirac-wgan", "bilinear"])
def test_consensus_derivative_in_gamma_is_that_of_the_matrix_power(name):
    """Consensus b − γJᵀb on b = Jx: M = I + η(J − γJᵀJ), dM/dγ = −ηJᵀJ."""
    game, x0, J, d_theta = _linear_games()[name]
    flat0, _ = ravel_state(x0)
    eta, gamma, N = 0.1, 0.3, 30

    def final(gamma):
        s = tr.make_scheme("simultaneous", game, optax.sgd(eta),
                           stabilisers=(st.Consensus(gamma),), population=True)
        return ravel_state(tr.iterate(s, x0, N).x)[0]

    M, _, dM = _update_matrix(J, d_theta, eta, "simultaneous", gamma)
    want = _power_derivative(M, dM, N) @ np.asarray(flat0)
    np.testing.assert_allclose(jax.jacrev(final)(gamma), want, rtol=1e-11, atol=1e-13)


def test_saved_states_and_their_gradient():
    """`save_every`: x_0, x_s, …, x_N are M^k x0, and the gradient of a function of all saves is
    the same with and without checkpointing."""
    game, x0, J, d_theta = _linear_games()["bilinear"]
    flat0, _ = ravel_state(x0)
    eta, N, s = 0.2, 24, 4
    M, dM, _ = _update_matrix(J, d_theta, eta, "alternating")

    def saves(eta, checkpoint):
        sch = tr.make_scheme("alternating", game, optax.sgd(eta), population=True)
        sol = tr.iterate(sch, x0, N, save_every=s, checkpoint=checkpoint)
        return sol.ts, jnp.concatenate([sol.xs[0], sol.xs[1]], axis=1)

    ts, xs = saves(eta, "sqrt")
    np.testing.assert_array_equal(ts, np.arange(0, N + 1, s))
    want = np.stack([np.linalg.matrix_power(M, k) @ np.asarray(flat0) for k in ts])
    np.testing.assert_allclose(xs, want, rtol=1e-12, atol=1e-13)
    want_d = np.stack([(_power_derivative(M, dM, k) if k else 0 * M) @ np.asarray(flat0)
                       for k in ts])
    for ck in ("sqrt", "none"):
        d = jax.jacrev(lambda e, ck=ck: saves(e, ck)[1])(eta)
        np.testing.assert_allclose(d, want_d, rtol=1e-11, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# every scheme against central finite differences (the nonlinear Dirac-GAN, GAN loss)


def _schemes(eta):
    game = gf.games.DiracGAN("gan")
    b = game.vector_field(population=True)
    obj = game.objective(population=True)
    return {
        "simultaneous-adam": tr.SimultaneousGDA(b, optax.adam(eta)),
        "alternating-nd2": tr.AlternatingGDA(b, eta, n_d=2),
        "extragradient": tr.Extragradient(b, eta),
        "optimistic": tr.OptimisticGDA(b, optax.sgd(eta, momentum=0.5)),
        "cgd": tr.CompetitiveGD(b, eta),
        "unrolled": tr.Unrolled(obj, k=2, unroll_lr=0.5 * eta, optimizer=eta),
        "ttur": tr.TTUR(b, eta, 2.0 * eta, power_theta=0.6, power_omega=0.5),
        "ema": tr.EMA(tr.SimultaneousGDA(b, eta), decay=0.7),
        "consensus": tr.make_scheme("simultaneous", game, eta, population=True,
                                    stabilisers=(st.Consensus(2.0 * eta),)),
        "nk": tr.make_scheme("simultaneous", game, eta, population=True,
                             stabilisers=(st.NagarajanKolter(3.0 * eta),)),
        "sga": tr.make_scheme("simultaneous", game, eta, population=True,
                              stabilisers=(st.SGA(eta),)),
        "lss": tr.make_scheme("simultaneous", game, eta, population=True,
                              stabilisers=(st.LSS(),)),
    }


_SLOW_SCHEMES = ("lss", "sga", "ttur", "extragradient", "optimistic", "ema", "nk")


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.slow) if n in _SLOW_SCHEMES else n for n in _schemes(0.1)])
def test_every_scheme_gradient_matches_finite_differences(name):
    game = gf.games.DiracGAN("gan")
    u = jnp.array([0.3, -0.8])

    def objective(eta, flat_x0):
        scheme = _schemes(eta)[name]
        sol = tr.iterate(scheme, game.make_state(flat_x0[0], flat_x0[1]), 8, checkpoint=3)
        out = ravel_state(sol.x)[0]
        if name == "ema":
            out = out + scheme.average(sol.state).theta
        return jnp.sum(jnp.sin(out) * u)

    value_and_grad = jax.jit(jax.value_and_grad(objective, argnums=(0, 1)))
    eta, x0 = 0.2, jnp.array([0.9, -0.4])
    _, (g_eta, g_x0) = value_and_grad(eta, x0)
    f = lambda e, x: value_and_grad(e, x)[0]  # noqa: E731 (one compilation for all)
    h = 1e-6
    fd_eta = (f(eta + h, x0) - f(eta - h, x0)) / (2 * h)
    v = jnp.array([0.6, 0.8])
    fd_x0 = (f(eta, x0 + h * v) - f(eta, x0 - h * v)) / (2 * h)
    tol = 1e-6 if name in ("cgd", "lss") else 1e-8  # inner linear solves to rtol ~1e-10
    np.testing.assert_allclose(g_eta, fd_eta, rtol=tol, atol=tol)
    np.testing.assert_allclose(jnp.dot(g_x0, v), fd_x0, rtol=tol, atol=tol)


# ---------------------------------------------------------------------------------------------
# minibatch neural GAN: pathwise gradient with a fixed key


def _mlp_game():
    data = 1.0 + 0.5 * jax.random.normal(jax.random.key(3), (64,))
    return gf.games.GaussianMLPGame(data, "nsgan", width=4, depth=1)


@pytest.mark.slow
def test_neural_gan_pathwise_gradient_matches_finite_differences():
    game = _mlp_game()
    x0 = game.init(jax.random.key(0))
    z = jnp.linspace(-2.0, 2.0, 9)
    key = jax.random.key(7)
    v = jax.tree_util.tree_map(jnp.ones_like, x0)

    def objective(eta, t):
        scheme = tr.make_scheme("alternating", game, optax.sgd(eta),
                                sampler=gf.games.GameSampler(game, 8))
        start = jax.tree_util.tree_map(lambda a, d: a + t * d, x0, v)
        theta = tr.iterate(scheme, start, 16, key=key).x[0]
        return jnp.mean(jax.vmap(theta)(z) ** 2)

    value_and_grad = jax.jit(jax.value_and_grad(objective, argnums=(0, 1)))
    f = lambda e, t: value_and_grad(e, t)[0]  # noqa: E731 (one compilation for all)
    eta = 0.05
    g = value_and_grad(eta, 0.0)[1]
    h = 1e-6
    fd = ((f(eta + h, 0.0) - f(eta - h, 0.0)) / (2 * h), (f(eta, h) - f(eta, -h)) / (2 * h))
    np.testing.assert_allclose(g, fd, rtol=1e-6)
    assert min(abs(float(g[0])), abs(float(g[1]))) > 1e-3  # derivatives that can fail


@pytest.mark.slow
def test_iterate_with_a_key_follows_training_run():
    """Step t draws its batches from fold_in(key, t), as `training.run` does."""
    game = _mlp_game()
    x0 = game.init(jax.random.key(0))
    scheme = tr.make_scheme("simultaneous", game, 0.05, sampler=gf.games.GameSampler(game, 8))
    key = jax.random.key(11)
    got = tr.iterate(scheme, x0, 5, key=key).x
    ref = tr.run(scheme, jax.tree_util.tree_map(lambda a: a[None], x0), 5, keys=key[None])
    ref = jax.tree_util.tree_map(lambda a: a[0], ref.x_final)
    np.testing.assert_allclose(ravel_state(got)[0], ravel_state(ref)[0], rtol=1e-13, atol=1e-14)


def test_continuing_from_a_state_equals_one_run():
    game, x0, _, _ = _linear_games()["dirac-wgan"]
    s = tr.make_scheme("optimistic", game, 0.1, population=True)
    once = tr.iterate(s, x0, 30)
    twice = tr.iterate(s, tr.iterate(s, x0, 17).state, 13)
    assert int(twice.state.step) == 30
    np.testing.assert_allclose(ravel_state(twice.x)[0], ravel_state(once.x)[0], rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# memory of the reverse pass


def _grad_temp_bytes(N, checkpoint, dim=512):
    game = gf.games.Bilinear(dim)
    x0 = game.make_state(jnp.linspace(0, 1, dim), jnp.linspace(1, 0, dim))

    def loss(eta):
        s = tr.make_scheme("simultaneous", game, optax.sgd(eta), population=True)
        return jnp.sum(tr.iterate(s, x0, N, checkpoint=checkpoint).x[0])

    return jax.jit(jax.grad(loss)).lower(0.01).compile().memory_analysis().temp_size_in_bytes


def test_checkpointing_keeps_memory_near_sqrt_n():
    """Reverse mode through N = 400 steps keeps O(√N) states with checkpointing (≈ 3·20 of
    them), O(N) without; one state is 2·512 float64 = 8 KiB."""
    state = 2 * 512 * 8
    none = _grad_temp_bytes(400, "none")
    sqrt = _grad_temp_bytes(400, "sqrt")
    assert none >= 400 * state
    assert sqrt <= 100 * state


# ---------------------------------------------------------------------------------------------
# bad input


def test_bad_input_is_one_clear_error():
    game, x0, _, _ = _linear_games()["dirac-wgan"]
    s = tr.make_scheme("simultaneous", game, 0.1, population=True)
    with pytest.raises(ValueError, match="checkpoint"):
        tr.iterate(s, x0, 10, checkpoint="log")
    with pytest.raises(ValueError, match="must divide"):
        tr.iterate(s, x0, 10, save_every=3)
    with pytest.raises(ValueError, match="no sampler"):
        tr.iterate(s, x0, 10, key=jax.random.key(0))
    with pytest.raises(ValueError, match="training scheme"):
        tr.iterate(game, x0, 10)
    mlp = _mlp_game()
    sampled = tr.make_scheme("simultaneous", mlp, 0.1, sampler=gf.games.GameSampler(mlp, 4))
    with pytest.raises(ValueError, match="PRNG key"):
        tr.iterate(sampled, mlp.init(jax.random.key(0)), 3)


def test_scheme_leaves_are_differentiable_with_filter_grad():
    """A hyper-parameter held as an array leaf of the scheme (here the consensus γ) is
    differentiated by `eqx.filter_grad` with respect to the scheme itself."""
    game, x0, J, d_theta = _linear_games()["dirac-wgan"]
    gamma, eta, N = 0.2, 0.1, 25
    scheme = tr.make_scheme("simultaneous", game, eta, population=True,
                            stabilisers=(st.Consensus(jnp.asarray(gamma)),))

    @eqx.filter_grad
    def grad(s):
        return jnp.sum(ravel_state(tr.iterate(s, x0, N).x)[0])

    leaves = [a for a in jax.tree_util.tree_leaves(grad(scheme)) if eqx.is_array(a)]
    M, _, dM = _update_matrix(J, d_theta, eta, "simultaneous", gamma)
    want = np.sum(_power_derivative(M, dM, N) @ np.asarray(ravel_state(x0)[0]))
    assert any(np.isclose(float(a), want, rtol=1e-11) for a in leaves if a.shape == ())
