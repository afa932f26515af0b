"""ganflow.continuous: ODE flows, the Cao–Guo SDEs, ensembles and the discrete schemes (float64).

Every check compares with closed-form mathematics: conserved quantities, dense covariances
computed with NumPy, exact moments of linear SDEs (Van Loan) and of minibatch updates.
"""

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from jax.extend.random import threefry_2x32

import ganflow as gf
import ganflow.continuous as gc

# ---------------------------------------------------------------------------------------------
# A linear–quadratic game with Gaussian data (closed-form moments):
#   Φ_i(θ, ω) = −(γ/2)|ω|² + (λ/2)|θ|² + ωᵀMθ + a_iᵀω + c_iᵀθ,  (a_i, c_i) ∼ N(0, I) i.i.d.
# g_θ^i = λθ + Mᵀω + c_i,  g_ω^i = −γω + Mθ + a_i: Σ_θ = Cov(c), Σ_ω = Cov(a), constant in x.

GAMMA, LAM = 0.8, 0.3
M = np.array([[1.0, 0.5], [-0.3, 1.2]])
N_DATA = 64


def lq_example(theta, omega, example):
    a, c = example
    return (
        -0.5 * GAMMA * jnp.sum(omega**2)
        + 0.5 * LAM * jnp.sum(theta**2)
        + omega @ (jnp.asarray(M) @ theta)
        + a @ omega
        + c @ theta
    )


@pytest.fixture(scope="module")
def lq_data():
    k1, k2 = jax.random.split(jax.random.key(7))
    return (jax.random.normal(k1, (N_DATA, 2)), jax.random.normal(k2, (N_DATA, 2)))


X0 = (jnp.array([1.0, -0.5]), jnp.array([0.3, 0.8]))


def lq_b0_numpy(x, data):
    th, om = (np.asarray(v) for v in x)
    a, c = (np.asarray(v) for v in data)
    return np.concatenate([-(LAM * th + M.T @ om + c.mean(0)), -GAMMA * om + M @ th + a.mean(0)])


def pop_cov(v):
    v = np.asarray(v)
    d = v - v.mean(0)
    return d.T @ d / v.shape[0]


# ---------------------------------------------------------------------------------------------
# ODEs


@pytest.mark.parametrize("loss", ["gan", "wgan"])
def test_dirac_gradient_flow_conserves_radius(loss):
    game = gf.DiracGAN(loss)
    sol = gc.gradient_flow(
        game, game.make_state(1.0, 0.5), 50.0, rtol=1e-10, atol=1e-10, ts=jnp.linspace(0, 50, 26)
    )
    assert sol.messages == "successful"
    r2 = np.asarray(sol.xs[0].theta) ** 2 + np.asarray(sol.xs[1].psi) ** 2
    assert np.max(np.abs(r2 - 1.25)) < 1e-8
    # and it does rotate (it is not standing still)
    assert np.ptp(np.asarray(sol.xs[0].theta)) > 1.0


def test_ode_linear_flow_matches_expm(lq_data):
    """ẋ = A x + c with A, c of the LQ game: the flow equals the matrix exponential."""
    sde = gc.cao_guo_sde(lq_example, 0.1, 8, data=lq_data)
    sol = gc.solve_ode(sde.drift, X0, 0.0, 2.0, args=sde.args, rtol=1e-11, atol=1e-11)
    A, c = lq_affine(sde)
    x0 = np.concatenate([np.asarray(X0[0]), np.asarray(X0[1])])
    e2 = scipy.linalg.expm(2 * A)
    exact = e2 @ x0 + np.linalg.solve(A, (e2 - np.eye(4)) @ c)
    got = np.concatenate([np.asarray(sol.xs[0][-1]), np.asarray(sol.xs[1][-1])])
    np.testing.assert_allclose(got, exact, atol=1e-9)


def lq_affine(sde):
    """(A, c) of the (affine) drift, from ganflow's drift, checked against the numbers."""
    A = np.asarray(gf.jacobian(sde.drift, X0, *sde.args))
    zero = (jnp.zeros(2), jnp.zeros(2))
    c = np.concatenate([np.asarray(v) for v in sde.drift(zero, *sde.args)])
    return A, c


# ---------------------------------------------------------------------------------------------
# the noise generator


def test_threefry_is_jax_threefry():
    bits = jax.random.bits(jax.random.key(3), (4, 1001), jnp.uint32)
    ours = gc.threefry2x32(bits[0], bits[1], bits[2], bits[3])
    for j in range(0, 1001, 97):
        ref = threefry_2x32((bits[0, j], bits[1, j]), jnp.stack([bits[2, j], bits[3, j]]))
        assert int(ours[0][j]) == int(ref[0]) and int(ours[1][j]) == int(ref[1])


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_counter_normals_are_standard_normal(dtype):
    kd = jax.random.key_data(jax.random.key(11))
    z = np.asarray(
        jax.vmap(lambda k: gc.counter_normals(kd, k, 101, dtype))(jnp.arange(400)), np.float64
    ).ravel()
    n = z.size
    assert abs(z.mean()) < 4 / np.sqrt(n)
    assert abs(z.var() - 1) < 4 * np.sqrt(2 / n)
    assert abs(np.mean(z**4) - 3) < 4 * np.sqrt(96 / n)
    # the normal CDF at a few points
    for q, p in [(-1.0, 0.158655), (0.0, 0.5), (1.5, 0.933193)]:
        assert abs(np.mean(z < q) - p) < 4 * np.sqrt(p * (1 - p) / n)


# ---------------------------------------------------------------------------------------------
# the Σ factor


def test_gradient_noise_covariance_equals_dense_per_example_covariance():
    """A small nonlinear game with pytree players: σσᵀ = (η/B) blockdiag(Σ_θ, Σ_ω), Σ from
    per-example jacrev gradients in NumPy."""

    def example_phi(theta, omega, e):
        x, z = e
        fake = jnp.tanh(theta["w"] * z + theta["b"])
        d = lambda u: omega[0] @ jnp.array([u, u**2]) + omega[1]  # noqa: E731
        return -jax.nn.softplus(-d(x)) - jax.nn.softplus(d(fake))

    key = jax.random.key(5)
    data = (jax.random.normal(key, (17,)), jax.random.normal(jax.random.fold_in(key, 1), (17,)))
    x = ({"w": jnp.array(0.7), "b": jnp.array(-0.2)}, (jnp.array([0.4, -1.1]), jnp.array(0.3)))
    eta, B = 0.05, 4
    noise = gc.GradientNoise(example_phi, data, eta, B)
    got = np.asarray(noise.covariance(x))

    gt, gw = [], []
    for i in range(17):
        e = (data[0][i], data[1][i])
        g_th, g_om = jax.jacrev(example_phi, argnums=(0, 1))(x[0], x[1], e)
        gt.append([float(g_th["b"]), float(g_th["w"])])
        gw.append([*np.asarray(g_om[0]), float(g_om[1])])
    dense = np.zeros((5, 5))
    dense[:2, :2] = pop_cov(gt)
    dense[2:, 2:] = pop_cov(gw)
    np.testing.assert_allclose(got, eta / B * dense, atol=1e-10, rtol=0)


# ---------------------------------------------------------------------------------------------
# one-step moments: SDE (exact, Van Loan) against the minibatch update (exact, closed form)


def sde_moments(A, c, Q, x0, h):
    """Mean and covariance at time h of dx = (Ax + c)dt + σ dW, σσᵀ = Q, x(0) = x0."""
    d = A.shape[0]
    aug = np.zeros((d + 1, d + 1))
    aug[:d, :d], aug[:d, d] = A, c
    mean = (scipy.linalg.expm(h * aug) @ np.append(x0, 1.0))[:d]
    vl = np.zeros((2 * d, 2 * d))
    vl[:d, :d], vl[:d, d:], vl[d:, d:] = -A, Q, A.T
    e = scipy.linalg.expm(h * vl)
    phi = e[d:, d:].T
    cov = phi @ e[:d, d:]
    return mean, 0.5 * (cov + cov.T)


def test_one_step_moments_match_minibatch_updates(lq_data):
    B = 8
    x0 = np.concatenate([np.asarray(X0[0]), np.asarray(X0[1])])
    a, c_data = (np.asarray(v) for v in lq_data)
    sigma = np.zeros((4, 4))
    sigma[:2, :2], sigma[2:, 2:] = pop_cov(c_data), pop_cov(a)
    errs = {"sim_mean": [], "sim_cov": [], "alt_mean10": [], "alt_mean9": []}
    etas = [0.2, 0.1, 0.05]
    for eta in etas:
        b = lq_b0_numpy(X0, lq_data)
        # the minibatch updates, exactly: eq. 7 and eq. 6
        sim_mean, sim_cov = x0 + eta * b, eta**2 / B * sigma
        om1 = x0[2:] + eta * b[2:]
        th1 = x0[:2] - eta * (LAM * x0[:2] + M.T @ om1 + c_data.mean(0))
        alt_mean = np.concatenate([th1, om1])
        # ganflow's SDEs
        for drift, key in [("simultaneous", "sim"), ("alternating", "alt")]:
            sde = gc.cao_guo_sde(lq_example, eta, B, data=lq_data, drift=drift)
            A, c = lq_affine(sde)
            Q = np.asarray(sde.diffusion.covariance(X0))
            np.testing.assert_allclose(Q, eta / B * sigma, atol=1e-12)
            m, P = sde_moments(A, c, Q, x0, eta)
            if key == "sim":
                errs["sim_mean"].append(np.max(np.abs(m - sim_mean)))
                errs["sim_cov"].append(np.max(np.abs(P - sim_cov)))
                errs["alt_mean9"].append(np.max(np.abs(m - alt_mean)))
            else:
                errs["alt_mean10"].append(np.max(np.abs(m - alt_mean)))
    ratios = {k: np.array(v[:-1]) / np.array(v[1:]) for k, v in errs.items()}
    # mean O(η²), covariance O(η³) (Cao–Guo Lemma 1); alternating: eq. 10 O(η³), eq. 9 O(η²)
    assert np.all(np.abs(ratios["sim_mean"] - 4) < 0.5), ratios
    assert np.all(np.abs(ratios["sim_cov"] - 8) < 1.0), ratios
    assert np.all(np.abs(ratios["alt_mean10"] - 8) < 1.0), ratios
    assert np.all(np.abs(ratios["alt_mean9"] - 4) < 0.5), ratios
    # and small: 3% of the covariance itself at η = 0.05
    assert errs["sim_cov"][-1] < 0.05 * np.max(np.abs(sim_cov))


def test_ensemble_moments_match_euler_maruyama_exactly(lq_data):
    """Monte Carlo of the scan fast path against the exact moments of the Euler–Maruyama chain
    x ← (I + A dt)x + c dt + N(0, Q dt), and of one SGA step against its closed form."""
    S, eta, B, dt, n = 4000, 0.1, 8, 0.05, 4
    sde = gc.cao_guo_sde(lq_example, eta, B, data=lq_data)
    keys = jax.random.split(jax.random.key(21), S)
    sol = gc.sde_ensemble(sde, X0, 0.0, n * dt, dt=dt, keys=keys)
    A, c = lq_affine(sde)
    Q = np.asarray(sde.diffusion.covariance(X0))
    m = np.concatenate([np.asarray(X0[0]), np.asarray(X0[1])])
    P = np.zeros((4, 4))
    F = np.eye(4) + dt * A
    for _ in range(n):
        m, P = F @ m + dt * c, F @ P @ F.T + dt * Q
    xs = np.concatenate([np.asarray(sol.xs[0][:, -1]), np.asarray(sol.xs[1][:, -1])], axis=1)
    se = np.sqrt(np.diag(P) / S)
    assert np.all(np.abs(xs.mean(0) - m) < 4.5 * se)
    emp = np.cov(xs.T)
    se_cov = np.sqrt((np.outer(np.diag(P), np.diag(P)) + P**2) / S)
    assert np.all(np.abs(emp - P) < 4.5 * se_cov)

    # one SGA step (eq. 7): mean x + η b0, covariance (η²/B) Σ
    # (one batch for both players, so the θ–ω block is η²/B Cov(g_θ^i, g_ω^i) = −η²/B Cov(c, a):
    # eq. 9's blockdiag Σ leaves it out, Cao–Guo's independent Brownian motions)
    one = gf.sgda_ensemble(lq_example, X0, eta, B, 1, keys, data=lq_data)
    d = np.concatenate([np.asarray(one.xs[0][:, -1]), np.asarray(one.xs[1][:, -1])], axis=1)
    m1 = np.concatenate([np.asarray(X0[0]), np.asarray(X0[1])]) + eta * lq_b0_numpy(X0, lq_data)
    a, cc = (np.asarray(v) for v in lq_data)
    P1 = eta**2 / B * pop_cov(np.concatenate([-cc, a], axis=1))
    np.testing.assert_allclose(  # the diagonal blocks are the SDE's σσᵀ·η
        P1 * np.kron(np.eye(2), np.ones((2, 2))), Q * eta, atol=1e-14
    )
    se1 = np.sqrt(np.diag(P1) / S)
    assert np.all(np.abs(d.mean(0) - m1) < 4.5 * se1)
    se1c = np.sqrt((np.outer(np.diag(P1), np.diag(P1)) + P1**2) / S)
    assert np.all(np.abs(np.cov(d.T) - P1) < 4.5 * se1c + 1e-15)


def test_discrete_schemes_full_batch_are_exact_gda(lq_data):
    """batch_size=None: deterministic GDA, equal to the closed-form iterates."""
    eta, steps = 0.1, 5
    keys = jax.random.split(jax.random.key(0), 2)
    for scheme in ["simultaneous", "alternating"]:
        sol = gf.sgda_ensemble(
            lq_example, X0, eta, None, steps, keys, scheme=scheme, data=lq_data, save_every=1
        )
        x = [np.asarray(X0[0]), np.asarray(X0[1])]
        cm, am = np.asarray(lq_data[1]).mean(0), np.asarray(lq_data[0]).mean(0)
        for k in range(steps):
            th, om = x
            if scheme == "simultaneous":
                x = [th - eta * (LAM * th + M.T @ om + cm), om + eta * (-GAMMA * om + M @ th + am)]
            else:
                om = om + eta * (-GAMMA * om + M @ th + am)
                x = [th - eta * (LAM * th + M.T @ om + cm), om]
            np.testing.assert_allclose(np.asarray(sol.xs[0][1, k + 1]), x[0], atol=1e-13)
            np.testing.assert_allclose(np.asarray(sol.xs[1][0, k + 1]), x[1], atol=1e-13)
        np.testing.assert_allclose(np.asarray(sol.ts), eta * np.arange(steps + 1))


# ---------------------------------------------------------------------------------------------
# ensembles: independence and reproducibility


def _zero_drift(x):
    return jax.tree_util.tree_map(jnp.zeros_like, x)


def test_ensemble_paths_are_independent_and_reproducible():
    sde = gc.SDE(_zero_drift, gc.ConstantDiffusion(1.0))
    x0 = (jnp.zeros(2), jnp.zeros(1))
    S, n, dt = 48, 200, 0.01
    keys = jax.random.split(jax.random.key(3), S)
    sol = gc.sde_ensemble(sde, x0, 0.0, n * dt, dt=dt, keys=keys, save_every=1)
    w = np.concatenate([np.asarray(sol.xs[0]), np.asarray(sol.xs[1])], axis=2)  # (S, T, 3)
    inc = np.diff(w, axis=1).reshape(S, -1) / np.sqrt(dt)  # standard normals, (S, 600)
    assert abs(inc.var() - 1) < 4 * np.sqrt(2 / inc.size)
    corr = np.corrcoef(inc)
    off = corr[~np.eye(S, dtype=bool)]
    assert np.max(np.abs(off)) < 0.25 and abs(off.mean()) < 0.01
    # the coordinates within a seed are independent too
    c3 = np.corrcoef(np.diff(w, axis=1).reshape(-1, 3).T)
    assert np.max(np.abs(c3 - np.eye(3))) < 4 / np.sqrt(S * n)

    # seed k alone = seed k in the ensemble (bitwise), and in a smaller ensemble
    for k in (0, 17, 47):
        alone = gc.solve_sde(sde, x0, 0.0, n * dt, dt=dt, key=keys[k], save_every=1)
        assert np.array_equal(np.asarray(alone.xs[0]), np.asarray(sol.xs[0][k]))

    # the diffrax path with the same (counter) Brownian increments agrees to rounding
    dsol = gc.sde_ensemble(
        sde, x0, 0.0, n * dt, dt=dt, keys=keys[:8], save_every=20, method="diffrax"
    )
    np.testing.assert_allclose(
        np.asarray(dsol.xs[0]), np.asarray(sol.xs[0][:8, ::20]), atol=1e-12, rtol=0
    )
    assert dsol.method == "diffrax" and sol.method == "scan"


def test_cao_guo_sde_scan_equals_diffrax_and_seed_alone(lq_data):
    """The Cao–Guo SDE with the Σ factor and the eq. 10 drift: the fast path equals diffrax's
    Euler with the same increments (seed-alone checks: the two tests around this one)."""
    sde = gc.cao_guo_sde(lq_example, 0.1, 8, data=lq_data, drift="alternating")
    keys = jax.random.split(jax.random.key(8), 6)
    a = gc.sde_ensemble(sde, X0, 0.0, 0.5, dt=0.05, keys=keys, save_every=5)
    b = gc.sde_ensemble(sde, X0, 0.0, 0.5, dt=0.05, keys=keys, save_every=5, method="diffrax")
    assert np.max(np.abs(np.asarray(a.xs[1]) - np.asarray(b.xs[1]))) < 1e-12
    assert np.max(np.abs(np.asarray(a.xs[0]) - np.asarray(b.xs[0]))) < 1e-12
    # the diffrax result codes come through per seed
    assert b.summary()["successful"] == 6 and b.result is not None


def test_higher_order_and_adaptive_solvers():
    """Additive noise on the R1 Dirac-GAN linearised at 0 (an OU process): SRA1 (counter
    path) and adaptive Heun (virtual tree, PID controller) reach the exact mean and variance
    at T."""
    gamma = 1.0

    def drift(x):  # linearised R1 Dirac-GAN, f'(0) = 1/2: θ' = ψ/2, ψ' = −θ/2 − γψ
        th, ps = x
        return 0.5 * ps, -0.5 * th - gamma * ps

    sde = gc.SDE(drift, gc.ConstantDiffusion((jnp.array(0.0), jnp.array(0.3))))
    x0 = (jnp.array(1.0), jnp.array(0.0))
    A = np.array([[0.0, 0.5], [-0.5, -gamma]])
    Q = np.diag([0.0, 0.09])
    T = 2.0
    m, P = sde_moments(A, np.zeros(2), Q, np.array([1.0, 0.0]), T)
    S = 600
    keys = jax.random.split(jax.random.key(4), S)
    for solver, brownian, kw in [
        (diffrax.SRA1(), "counter", {}),
        (diffrax.Heun(), "virtual", {"rtol": 1e-3, "atol": 1e-3}),
    ]:
        sol = gc.sde_ensemble(
            sde, x0, 0.0, T, dt=0.1, keys=keys, solver=solver, brownian=brownian, **kw
        )
        assert sol.summary()["successful"] == S
        x = np.stack([np.asarray(sol.xs[0][:, -1]), np.asarray(sol.xs[1][:, -1])], axis=1)
        se = np.sqrt(np.diag(P) / S)
        assert np.all(np.abs(x.mean(0) - m) < 4.5 * se + 2e-3), type(solver).__name__
        assert np.all(np.abs(x.var(0) - np.diag(P)) < 4.5 * np.sqrt(2 / S) * np.diag(P) + 1e-3)


# ---------------------------------------------------------------------------------------------
# bad input and blow-ups


def test_bad_input_raises_value_error(lq_data):
    keys = jax.random.split(jax.random.key(0), 3)
    with pytest.raises(ValueError, match="batch_size B"):
        gc.cao_guo_sde(lq_example, 0.1, 0, data=lq_data)
    with pytest.raises(ValueError, match="eta"):
        gc.cao_guo_sde(lq_example, -0.1, 8, data=lq_data)
    with pytest.raises(ValueError, match="eta"):
        gf.sgda_ensemble(lq_example, X0, 0.0, 8, 3, keys, data=lq_data)
    with pytest.raises(ValueError, match="batch_size B"):
        gf.sgda_ensemble(lq_example, X0, 0.1, -2, 3, keys, data=lq_data)
    sde = gc.cao_guo_sde(lq_example, 0.1, 8, data=lq_data)
    with pytest.raises(ValueError, match="t1 must be > t0"):
        gc.sde_ensemble(sde, X0, 1.0, 1.0, dt=0.1, keys=keys)
    with pytest.raises(ValueError, match="t1 must be > t0"):
        gc.solve_ode(sde.drift, X0, 1.0, 0.5, args=sde.args)
    with pytest.raises(ValueError, match="dt"):
        gc.sde_ensemble(sde, X0, 0.0, 1.0, dt=-0.1, keys=keys)
    with pytest.raises(ValueError, match="positive integer"):
        gc.sde_ensemble(sde, X0, 0.0, 1.0, dt=0.3, keys=keys)
    with pytest.raises(ValueError, match="diffusion of the wrong shape"):
        bad = gc.SDE(sde.drift, gc.ConstantDiffusion((jnp.ones(3), jnp.ones(2))), sde.args)
        gc.sde_ensemble(bad, X0, 0.0, 1.0, dt=0.1, keys=keys)
    with pytest.raises(ValueError, match="diffusion of the wrong shape"):
        bad = gc.SDE(sde.drift, gc.DiagonalDiffusion(lambda t, x: (x[0][:1], x[1])), sde.args)
        gc.sde_ensemble(bad, X0, 0.0, 1.0, dt=0.1, keys=keys)
    with pytest.raises(ValueError, match="diffusion of the wrong shape"):
        mf = gc.MatrixFreeDiffusion(lambda t, x, w: (w, w), (3,))
        gc.sde_ensemble(gc.SDE(sde.drift, mf, sde.args), X0, 0.0, 1.0, dt=0.1, keys=keys)
    with pytest.raises(ValueError, match="Stratonovich"):
        gc.sde_ensemble(sde, X0, 0.0, 1.0, dt=0.1, keys=keys, solver=diffrax.Heun())
    with pytest.raises(ValueError, match="batched_x0"):
        gc.sde_ensemble(sde, X0, 0.0, 1.0, dt=0.1, keys=keys, batched_x0=True)


@pytest.mark.parametrize("method", ["scan", "diffrax"])
def test_blow_up_is_reported_per_seed(method):
    """ẋ = x² blows up at t = 1/x0: seeds started at 5 fail (status nonfinite, with the time),
    the others are unaffected and equal to their runs alone."""

    def drift(x):
        return jax.tree_util.tree_map(lambda a: a**2, x)

    sde = gc.SDE(drift, gc.ConstantDiffusion(1e-3))
    x0 = (jnp.array([0.1, 5.0, 0.2, 5.0]), jnp.array([0.1, 0.1, 0.1, 0.1]))
    keys = jax.random.split(jax.random.key(1), 4)
    sol = gc.sde_ensemble(
        sde, x0, 0.0, 1.0, dt=0.01, keys=keys, save_every=10, batched_x0=True, method=method
    )
    assert sol.messages == ["successful", "diverged", "successful", "diverged"]
    t_bad = np.asarray(sol.t_nonfinite)
    assert np.isinf(t_bad[0]) and 0.2 <= t_bad[1] <= 0.4
    assert np.all(np.isfinite(np.asarray(sol.xs[0][0])))
    alone = gc.solve_sde(
        sde, (x0[0][2], x0[1][2]), 0.0, 1.0, dt=0.01, key=keys[2], save_every=10, method=method
    )
    np.testing.assert_allclose(np.asarray(alone.xs[0]), np.asarray(sol.xs[0][2]), atol=1e-14)
    if method == "scan":  # throw=True: one compile is enough (the check is shared)
        with pytest.raises(Exception, match="ensemble member failed"):
            gc.sde_ensemble(sde, x0, 0.0, 1.0, dt=0.01, keys=keys, batched_x0=True, throw=True)


def test_diverging_sga_seed_is_reported_not_raised():
    """Dirac-GAN simultaneous GD diverges (|λ| = sqrt(1 + η²f'(0)²) > 1): a huge start
    overflows for one seed only."""
    game = gf.DiracGAN("wgan")
    x0 = game.make_state(jnp.array([1.0, 1e307]), jnp.array([1.0, 1e307]))
    keys = jax.random.split(jax.random.key(0), 2)
    sol = gf.sgda_ensemble(game, x0, 0.5, None, 40, keys, batched_x0=True, save_every=10)
    assert sol.messages == ["successful", "diverged"]
    r = np.hypot(np.asarray(sol.xs[0].theta[0, -1]), np.asarray(sol.xs[1].psi[0, -1]))
    np.testing.assert_allclose(r, np.sqrt(2) * (1 + 0.25) ** 20, rtol=1e-12)


def test_gradient_noise_vjp_equals_per_example_factor(lq_data):
    """The matrix-free σ dW (one VJP per player) equals √(η/B) Cᵀξ from the explicit per-example
    factor of gf.noise_factor."""
    noise = gc.GradientNoise(lq_example, lq_data, 0.1, 8)
    xi = tuple(jax.random.normal(jax.random.key(i), (N_DATA,)) for i in (1, 2))
    x = (jnp.array([0.3, -0.7]), jnp.array([1.1, 0.2]))
    got = noise.apply(0.0, x, xi)
    ref = gf.noise_factor(lq_example, x, lq_data).apply(xi)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(np.asarray(g), np.sqrt(0.1 / 8) * np.asarray(r), atol=1e-14)
