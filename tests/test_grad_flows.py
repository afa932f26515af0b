"""Gradients through flows: `continuous.solve_ode` and the SDE solves (`adjoint=`) against the
Fréchet derivative of expm, the exact pathwise derivative of Euler–Maruyama on a linear SDE, the
Lyapunov equation of its covariance, and central finite differences on a small neural GAN."""

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import ganflow as gf
from ganflow import continuous as ct, stabilisers as st
from ganflow.dynamics import ravel_state

# a convex–concave quadratic game in ℝ² × ℝ²: Φ = ½θᵀPθ + θᵀBω − ½ωᵀQω,
# b0 = (−Pθ − Bω, Bᵀθ − Qω), J = [[−P, −B], [Bᵀ, −Q]] (non-normal)
P = np.array([[0.3, 0.1], [0.1, 0.2]])
B = np.array([[1.0, 0.4], [-0.3, 0.8]])
Q = np.array([[0.1, 0.0], [0.0, 0.4]])
J = np.block([[-P, -B], [B.T, -Q]])


def _phi(theta, omega):
    return 0.5 * theta @ (P @ theta) + theta @ (B @ omega) - 0.5 * omega @ (Q @ omega)


X0 = (jnp.array([1.0, -0.5]), jnp.array([0.3, 0.8]))


@pytest.mark.parametrize("adjoint", [
    None, pytest.param(diffrax.BacksolveAdjoint(), marks=pytest.mark.slow, id="backsolve")])
def test_linear_flow_derivative_in_gamma_is_the_frechet_derivative_of_expm(adjoint):
    """Consensus flow ẋ = (J − γJᵀJ)x: x(T) = e^{A(γ)T}x0, so ∂x(T)/∂γ = L(A T, −JᵀJ T) x0 with
    L the Fréchet derivative of expm, and ∂x(T)/∂x0 = e^{AT}."""
    gamma, T = 0.3, 2.0
    flat0, unravel = ravel_state(X0)

    def final(gamma, flat_x0):
        field = st.stabilise(_phi, st.Consensus(gamma))
        sol = ct.solve_ode(field, unravel(flat_x0), 0.0, T, rtol=1e-12, atol=1e-12,
                           adjoint=adjoint)
        return ravel_state(jax.tree_util.tree_map(lambda a: a[-1], sol.xs))[0]

    A = J - gamma * J.T @ J
    expm, frechet = scipy.linalg.expm_frechet(A * T, -J.T @ J * T)
    d_gamma, d_x0 = jax.jit(jax.jacrev(final, argnums=(0, 1)))(gamma, flat0)
    np.testing.assert_allclose(final(gamma, flat0), expm @ np.asarray(flat0), rtol=1e-9)
    np.testing.assert_allclose(d_gamma, frechet @ np.asarray(flat0), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(d_x0, expm, rtol=1e-8, atol=1e-10)


def test_bad_adjoint_is_one_clear_error():
    with pytest.raises(ValueError, match="adjoint"):
        ct.solve_ode(gf.dynamics.vector_field(_phi), X0, 0.0, 1.0, adjoint="backsolve")
    sde = ct.SDE(gf.dynamics.vector_field(_phi), ct.ConstantDiffusion(0.1))
    keys = jax.random.split(jax.random.key(0), 2)
    with pytest.raises(ValueError, match="BacksolveAdjoint"):
        ct.sde_ensemble(sde, X0, 0.0, 1.0, dt=0.1, keys=keys, adjoint=diffrax.BacksolveAdjoint())
    with pytest.raises(ValueError, match="diffrax path"):
        ct.sde_ensemble(sde, X0, 0.0, 1.0, dt=0.1, keys=keys, method="scan",
                        adjoint=diffrax.RecursiveCheckpointAdjoint())


# ---------------------------------------------------------------------------------------------
# a linear SDE dX = A X dt + √η S dW (flat 2-D state (θ, ω))

A2 = np.array([[-1.0, 0.7], [-0.4, -0.6]])
S2 = np.array([[1.0, 0.0], [0.5, 0.8]])


def _linear_sde(eta):
    a, s = jnp.asarray(A2), jnp.asarray(S2)

    def drift(x):
        return (a[0, 0] * x[0] + a[0, 1] * x[1], a[1, 0] * x[0] + a[1, 1] * x[1])

    def sigma(t, x, dw):
        return (jnp.sqrt(eta) * (s[0] @ dw), jnp.sqrt(eta) * (s[1] @ dw))

    return ct.SDE(drift, ct.MatrixFreeDiffusion(sigma, (2,)))


def _paths(eta, x0, keys, T, dt):
    sol = ct.sde_ensemble(_linear_sde(eta), x0, 0.0, T, dt=dt, keys=keys,
                          adjoint=diffrax.RecursiveCheckpointAdjoint())
    return jnp.stack([sol.xs[0][:, -1], sol.xs[1][:, -1]], axis=-1)  # (seeds, 2)


def test_linear_sde_pathwise_derivatives_are_exact():
    """Euler–Maruyama on the fixed path: X_N = M^N x0 + √η Σ_k M^{N−1−k} S ΔW_k, M = I + A dt,
    so ∂X_N/∂x0 = M^N and ∂X_N/∂η = (X_N − M^N x0)/(2η), path by path."""
    eta, T, dt = 0.5, 1.0, 0.05
    keys = jax.random.split(jax.random.key(1), 3)
    x0 = jnp.array([0.3, -0.2])

    def fn(eta, x0):
        return _paths(eta, (x0[0], x0[1]), keys, T, dt)

    value, (d_eta, d_x0) = jax.jit(lambda e, x: (fn(e, x), jax.jacrev(fn, argnums=(0, 1))(e, x)))(
        eta, x0)
    MN = np.linalg.matrix_power(np.eye(2) + dt * A2, round(T / dt))
    np.testing.assert_allclose(d_x0, np.broadcast_to(MN, (3, 2, 2)), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(d_eta, (value - MN @ np.asarray(x0)) / (2 * eta), rtol=1e-10,
                               atol=1e-13)


@pytest.mark.slow
def test_differentiable_paths_are_the_engines_paths():
    """`adjoint=` runs outside the ensemble engine on the same Brownian paths (counter-based
    and `VirtualBrownianTree`): the same paths to rounding."""
    keys = jax.random.split(jax.random.key(1), 3)
    x0 = (jnp.asarray(0.3), jnp.asarray(-0.2))
    for brownian in ("counter", "virtual"):
        kw = dict(dt=0.05, keys=keys, brownian=brownian, save_every=5)
        ref = ct.sde_ensemble(_linear_sde(0.5), x0, 0.0, 1.0, method="diffrax", **kw)
        new = ct.sde_ensemble(_linear_sde(0.5), x0, 0.0, 1.0,
                              adjoint=diffrax.RecursiveCheckpointAdjoint(), **kw)
        np.testing.assert_allclose(new.ts, ref.ts, rtol=1e-15)
        for a, b in zip(new.xs, ref.xs):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(new.status, ref.status)


@pytest.mark.slow
def test_linear_sde_covariance_derivative_against_the_lyapunov_equation():
    """From X0 = 0, Cov X_T = η P₁(T) with A P₁∞ + P₁∞ Aᵀ + S Sᵀ = 0 and
    P₁(T) = P₁∞ − e^{AT} P₁∞ e^{AᵀT}: d Cov/dη = P₁(T). The pathwise gradient of the sample
    second moment over S seeds estimates it (Monte Carlo error only: against Euler's own
    covariance dt Σ_k M^k S Sᵀ M^{kᵀ}, within 5 standard errors; that one is P₁(T) to O(dt))."""
    eta, T, dt, seeds = 0.7, 3.0, 0.02, 2000
    keys = jax.random.split(jax.random.key(2), seeds)
    zero = jnp.zeros(2)

    def second_moments(eta):  # per seed: X_T X_Tᵀ
        x = _paths(eta, (zero[0], zero[1]), keys, T, dt)
        return jnp.einsum("si,sj->sij", x, x)

    per_seed = np.asarray(jax.jit(jax.jacrev(second_moments))(eta))  # d(X Xᵀ)/dη, pathwise
    est, se = per_seed.mean(0), per_seed.std(0) / np.sqrt(seeds)
    n = round(T / dt)
    M = np.eye(2) + dt * A2
    euler = dt * sum(np.linalg.matrix_power(M, k) @ S2 @ S2.T @ np.linalg.matrix_power(M, k).T
                     for k in range(n))
    p_inf = scipy.linalg.solve_continuous_lyapunov(A2, -S2 @ S2.T)
    eT = scipy.linalg.expm(A2 * T)
    p_T = p_inf - eT @ p_inf @ eT.T
    assert np.all(np.abs(est - euler) <= 5 * se)
    np.testing.assert_allclose(euler, p_T, rtol=0.03, atol=0.01 * np.max(np.abs(p_T)))
    assert np.all(np.abs(est - p_T) <= 5 * se + 0.03 * np.abs(p_T) + 0.01 * np.max(np.abs(p_T)))


# ---------------------------------------------------------------------------------------------
# a small neural GAN: central finite differences


def _mlp_field():
    data = 1.0 + 0.5 * jax.random.normal(jax.random.key(3), (32,))
    game = gf.games.GaussianMLPGame(data, "nsgan", width=3, depth=1)
    batch = game.sample(jax.random.key(4), 16)
    return game, game.init(jax.random.key(0)), batch


@pytest.mark.slow
def test_neural_flow_derivative_matches_finite_differences():
    """The gradient flow ẋ = b0(x; data + m) of an MLP GAN on a fixed batch (data shifted by m):
    ∂/∂m and a directional ∂/∂x0 of a function of x(T)."""
    game, x0, batch = _mlp_field()
    v = jax.tree_util.tree_map(jnp.ones_like, x0)
    z = jnp.linspace(-1.0, 1.0, 5)

    def objective(m, t):
        start = jax.tree_util.tree_map(lambda a, d: a + t * d, x0, v)
        sol = ct.solve_ode(game.vector_field(), start, 0.0, 0.5, args=((batch[0] + m, batch[1]),),
                           rtol=1e-11, atol=1e-11)
        theta = jax.tree_util.tree_map(lambda a: a[-1], sol.xs)[0]
        return jnp.mean(jax.vmap(theta)(z) ** 2)

    value_and_grad = jax.jit(jax.value_and_grad(objective, argnums=(0, 1)))
    f = lambda e, t: value_and_grad(e, t)[0]  # noqa: E731
    m, h = 0.2, 1e-5
    g = value_and_grad(m, 0.0)[1]
    fd = ((f(m + h, 0.0) - f(m - h, 0.0)) / (2 * h), (f(m, h) - f(m, -h)) / (2 * h))
    np.testing.assert_allclose(g, fd, rtol=1e-6)
    assert min(abs(float(g[0])), abs(float(g[1]))) > 1e-4


@pytest.mark.slow
def test_neural_modified_flow_derivative_matches_finite_differences():
    """The modified flow ẋ = b0 − (η/2) J b0 (Cao–Guo eq. 13) of an MLP GAN on a fixed batch:
    ∂/∂η and a directional ∂/∂x0 of a function of x(T)."""
    game, x0, batch = _mlp_field()
    v = jax.tree_util.tree_map(jnp.ones_like, x0)
    z = jnp.linspace(-1.0, 1.0, 5)

    def objective(eta, t):
        field = gf.dynamics.modified_field(game.vector_field(), eta, "simultaneous")
        start = jax.tree_util.tree_map(lambda a, d: a + t * d, x0, v)
        sol = ct.solve_ode(field, start, 0.0, 1.0, args=(batch,), rtol=1e-12, atol=1e-12)
        theta = jax.tree_util.tree_map(lambda a: a[-1], sol.xs)[0]
        return jnp.mean(jax.vmap(theta)(z) ** 2)

    value_and_grad = jax.jit(jax.value_and_grad(objective, argnums=(0, 1)))
    f = lambda e, t: value_and_grad(e, t)[0]  # noqa: E731
    eta, h = 0.1, 1e-5
    g = value_and_grad(eta, 0.0)[1]
    fd = ((f(eta + h, 0.0) - f(eta - h, 0.0)) / (2 * h), (f(eta, h) - f(eta, -h)) / (2 * h))
    np.testing.assert_allclose(g, fd, rtol=1e-6)
    assert min(abs(float(g[0])), abs(float(g[1]))) > 1e-4


@pytest.mark.slow
def test_neural_sde_pathwise_derivative_matches_finite_differences():
    """`solve_sde(adjoint=RecursiveCheckpointAdjoint())` with a fixed key: the pathwise
    derivative in the noise level σ and a direction of x0, against central differences."""
    game, x0, batch = _mlp_field()
    v = jax.tree_util.tree_map(jnp.ones_like, x0)
    key = jax.random.key(5)

    def objective(sigma, t):
        sde = ct.SDE(game.vector_field(), ct.ConstantDiffusion(sigma), (batch,))
        start = jax.tree_util.tree_map(lambda a, d: a + t * d, x0, v)
        sol = ct.solve_sde(sde, start, 0.0, 0.2, dt=0.05, key=key,
                           adjoint=diffrax.RecursiveCheckpointAdjoint())
        return jnp.sum(jnp.sin(ravel_state(jax.tree_util.tree_map(lambda a: a[-1], sol.xs))[0]))

    value_and_grad = jax.jit(jax.value_and_grad(objective, argnums=(0, 1)))
    f = lambda s, t: value_and_grad(s, t)[0]  # noqa: E731
    sigma, h = 0.3, 1e-6
    g = value_and_grad(sigma, 0.0)[1]
    fd = ((f(sigma + h, 0.0) - f(sigma - h, 0.0)) / (2 * h), (f(sigma, h) - f(sigma, -h)) / (2 * h))
    np.testing.assert_allclose(g, fd, rtol=1e-7)
    assert min(abs(float(g[0])), abs(float(g[1]))) > 1e-3
