"""Long-run analysis (Cao–Guo §4) against closed-form maths.

The main test game is linear–quadratic with Gaussian data, per example ξ = (u, v, p, q):
    φ(θ, ω; ξ) = (a/2)(1+u)θ² + θω − (c/2)(1+v)ω² + pθ + qω,
so b0 = J x (+ a constant on a finite data set), Σ_θ = Var(auθ + p), Σ_ω = Var(−cvω + q): a
strongly convex–concave game with state-dependent noise, xᵀb0 = −aθ² − cω² (dissipative), and
exact stationary moments (Lyapunov equations) for both the SDE and the discrete SGA chain.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ganflow as gf
from ganflow.analysis._longrun import (
    dissipativity,
    ellipticity,
    fdr1,
    fdr1_terms,
    fdr2,
    fdr2_schedule,
    fdr2_terms,
    fdr_estimate,
    inverse_temperature,
    sde_generator,
)
from ganflow.dynamics import NoiseFactor

_tmap = jax.tree_util.tree_map

A, C = 1.0, 0.5
SD = np.array([0.8, 0.6, 1.0, 0.7])  # standard deviations of u, v, p, q
J = np.array([[-A, -1.0], [1.0, -C]])
B1 = -0.5 * J @ J - np.array([[1.0, -C], [0.0, 0.0]])  # Cao–Guo eq. 10 for this game


def example_phi(theta, omega, e):
    u, v, p, q = e
    return 0.5 * A * (1 + u) * theta**2 + theta * omega - 0.5 * C * (1 + v) * omega**2 + (
        p * theta + q * omega
    )


def population_phi(theta, omega):
    return 0.5 * A * theta**2 + theta * omega - 0.5 * C * omega**2


def exact_sigma(x):
    theta, omega = x
    return (A * SD[0] * theta) ** 2 + SD[2] ** 2, (C * SD[1] * omega) ** 2 + SD[3] ** 2


def exact_factor(x):
    """A one-row factor with CᵀC = Σ(x) exactly (Gaussian population)."""
    st, so = exact_sigma(x)
    return NoiseFactor(jnp.sqrt(st)[None], jnp.sqrt(so)[None])


def state(theta, omega):
    return jnp.asarray(theta, jnp.float64), jnp.asarray(omega, jnp.float64)


# ---------------------------------------------------------------------------------------------
# Dissipativity


def test_dissipativity_affine_field_closed_form(getkey):
    """b(x) = −x + c, ‖c‖ = 2 along ω: on the shell R the worst xᵀb/‖x‖² is −1 + 2/R (attained
    on the +ω axis), so r(M0) = 1 − 2/M0 and dissipativity starts at the first radius > 2."""
    cvec = (jnp.array(0.0), jnp.array(2.0))

    def b(x):
        return _tmap(lambda xi, ci: -xi + ci, x, cvec)

    radii = np.array([0.5, 1.0, 1.5, 2.5, 4.0, 8.0])
    res = dissipativity(b, state(0.0, 0.0), radii, getkey(), num_directions=64)
    assert np.allclose(np.asarray(res.worst), -1.0 + 2.0 / radii, rtol=0, atol=1e-14)
    assert np.allclose(np.asarray(res.r_profile), 1.0 - 2.0 / radii, atol=1e-14)
    assert res.dissipative and float(res.M0) == 2.5
    assert float(res.r) == pytest.approx(1.0 - 2.0 / 2.5, abs=1e-14)


def test_dissipativity_cubic_field_and_linear_game(getkey):
    """b(x) = x − ‖x‖²x in 5-D: xᵀb/‖x‖² = 1 − R² on every direction; r(M0) = M0² − 1.
    The linear–quadratic game: xᵀb0 = −aθ² − cω², r = min(a, c) from the first shell."""
    like = (jnp.zeros(3), {"w": jnp.zeros(2)})

    def cubic(x):
        sq = sum(jnp.sum(a**2) for a in jax.tree_util.tree_leaves(x))
        return _tmap(lambda a: a - sq * a, x)

    radii = np.array([0.5, 1.0, 1.5, 3.0])
    res = dissipativity(cubic, like, radii, getkey(), num_directions=128)
    assert np.allclose(np.asarray(res.worst), 1.0 - radii**2, atol=1e-12)
    assert float(res.M0) == 1.5 and float(res.r) == pytest.approx(1.25, abs=1e-12)

    b0 = gf.vector_field(population_phi)
    res = dissipativity(b0, state(0.0, 0.0), [1.0, 10.0, 100.0], getkey())
    assert res.dissipative and float(res.M0) == 1.0
    assert float(res.r) == pytest.approx(min(A, C), abs=1e-12)


def test_dirac_gan_is_not_dissipative(getkey):
    """Unregularised Dirac-GAN: xᵀb0 = 0 (a rotation), reported non-dissipative. With R1,
    xᵀb0 = −γψ², which vanishes on the θ axis: still not uniformly dissipative."""
    game = gf.DiracGAN("gan")
    pop = game.objective(population=True)
    b0 = gf.vector_field(pop)
    radii = [1.0, 10.0, 100.0]
    res = dissipativity(b0, game.equilibrium(), radii, getkey(), num_directions=256)
    assert not res.dissipative and np.isinf(float(res.M0))
    assert np.allclose(np.asarray(res.worst), 0.0, atol=1e-12)

    r1 = gf.vector_field(
        lambda t, w: pop.discriminator_value(t, w) - 0.5 * w.psi**2
    )
    res = dissipativity(r1, game.equilibrium(), radii, getkey(), num_directions=256)
    assert not res.dissipative
    assert np.allclose(np.asarray(res.worst), 0.0, atol=1e-12)  # the θ axis


# ---------------------------------------------------------------------------------------------
# Ellipticity and the generator


def test_ellipticity_closed_form_and_rank_deficiency(getkey):
    data = SD * np.asarray(jax.random.normal(getkey(), (500, 4)))
    pts = (jnp.array([0.0, 1.0, -2.0]), jnp.array([0.5, 0.0, 3.0]))
    eta, B = 0.05, 8
    res = ellipticity(lambda x: gf.noise_factor(example_phi, x, jnp.asarray(data)), pts, eta, B)
    # Σ̂_θ = Var_data(a u θ + p), Σ̂_ω = Var_data(−c v ω + q) (population variance, ddof = 0)
    u, v, p, q = data.T
    expect = [
        (eta / B) * min(np.var(A * u * t + p), np.var(-C * v * w + q))
        for t, w in zip(np.asarray(pts[0]), np.asarray(pts[1]))
    ]
    assert np.allclose(np.asarray(res.lambda_min), expect, rtol=1e-10)
    assert res.elliptic and not res.rank_deficient and res.n == 500
    assert float(res.l) == pytest.approx(min(expect), rel=1e-10)

    # A generator with 12 parameters and 6 examples: rank Σ̂_θ ≤ 5 < 12, singular everywhere.
    w_data = jnp.asarray(np.asarray(jax.random.normal(getkey(), (6, 12))))

    def ex(theta, omega, e):
        return jnp.dot(theta, e) * omega - 0.5 * omega**2

    pts = (jnp.asarray(np.asarray(jax.random.normal(getkey(), (3, 12)))), jnp.ones(3))
    res = ellipticity(lambda x: gf.noise_factor(ex, x, w_data), pts, eta, B)
    assert res.rank_deficient and not res.elliptic and float(res.l) == 0.0
    assert (res.n, res.d_theta, res.d_omega) == (6, 12, 1)


def test_generator_closed_form():
    """f = xᵀF x + gᵀx: A f = (Jx)ᵀ(2Fx + g) + (η/B)(F11 Σ_θ + F22 Σ_ω) (Cao–Guo eq. 15)."""
    F = np.array([[1.0, 0.5], [0.5, 3.0]])
    g = np.array([1.0, -2.0])
    eta, B = 0.1, 4

    def f(x):
        v = jnp.stack(x)
        return v @ jnp.asarray(F) @ v + jnp.asarray(g) @ v

    b0 = gf.vector_field(population_phi)
    for th, om in [(0.3, -1.2), (2.0, 0.7)]:
        x = state(th, om)
        xv = np.array([th, om])
        st, so = exact_sigma(x)
        expect = (J @ xv) @ (2 * F @ xv + g) + (eta / B) * (F[0, 0] * st + F[1, 1] * so)
        got = sde_generator(f, b0, x, factor=exact_factor(x), eta=eta, batch_size=B)
        assert float(got) == pytest.approx(float(expect), rel=1e-12)
        drift_only = (J @ xv) @ (2 * F @ xv + g)
        assert float(sde_generator(f, b0, x)) == pytest.approx(drift_only, rel=1e-12)


def test_generator_matrix_free_trace_equals_dense(getkey):
    """Tr(σσᵀ∇²f) from HVP rows equals the dense (2/β) Tr(Σ̂ ∇²f) on a pytree state."""
    data = jax.random.normal(getkey(), (7, 3))
    x = ({"a": jnp.array([0.2, -0.4]), "b": jnp.array(0.3)}, jnp.array([1.0, 0.5, -0.2]))

    def ex(theta, omega, e):
        return jnp.tanh(theta["a"] @ e[:2] + theta["b"] * e[2]) * jnp.dot(omega, e) - jnp.sum(
            omega**2
        )

    def f(x):
        theta, omega = x
        return jnp.sin(theta["a"][0]) * jnp.sum(omega**2) + theta["b"] ** 3 * omega[1]

    fac = gf.noise_factor(ex, x, data)
    eta, B = 0.2, 3
    no_drift = lambda y: _tmap(jnp.zeros_like, y)
    got = jax.jit(lambda x, fac: sde_generator(f, no_drift, x, factor=fac, eta=eta, batch_size=B))(
        x, fac
    )
    flat, unravel = gf.ravel_state(x)
    hess = jax.jit(jax.hessian(lambda v: f(unravel(v))))(flat)
    st, so = fac.covariance()
    sigma = jax.scipy.linalg.block_diag(st, so)
    expect = 0.5 * (2.0 / inverse_temperature(eta, B)) * jnp.trace(sigma @ hess)
    assert float(got) == pytest.approx(float(expect), rel=1e-12)


# ---------------------------------------------------------------------------------------------
# FDRs: exact stationary moments


def _sides(kind, v, eta, B):
    x = state(v[0], v[1])
    if kind == "fdr1":
        return jnp.stack(fdr1_terms(population_phi, x, exact_factor(x), eta, B))
    return jnp.stack(fdr2_terms(population_phi, x, exact_factor(x), eta, B, discrete=kind == "d"))


@functools.partial(jax.jit, static_argnums=(0, 2))
def _hessian_and_value(kind, eta, B):
    zero = jnp.zeros(2)
    return jax.hessian(_sides, argnums=1)(kind, zero, eta, B), _sides(kind, zero, eta, B)


def _expect_sides(kind, eta, B, S):
    """E[(lhs, rhs)] for x with mean 0 and second moment S (both sides are quadratics of x)."""
    h, v0 = (np.asarray(a) for a in _hessian_and_value(kind, eta, B))
    return tuple(0.5 * np.trace(h[i] @ S) + v0[i] for i in (0, 1))


def _sde_stationary_S(K, eta, B):
    """K S + S Kᵀ + (η/B) diag(a²s_u² S11 + s_p², c²s_v² S22 + s_q²) = 0."""
    lin = np.kron(K, np.eye(2)) + np.kron(np.eye(2), K)
    lin[0, 0] += eta / B * (A * SD[0]) ** 2
    lin[3, 3] += eta / B * (C * SD[1]) ** 2
    rhs = -eta / B * np.array([SD[2] ** 2, 0, 0, SD[3] ** 2])
    return np.linalg.solve(lin, rhs).reshape(2, 2)


def _sga_stationary_S(eta, B):
    """S = A0 S A0ᵀ + Var(ū) A_u S A_uᵀ + Var(v̄) A_v S A_vᵀ + η² diag(s_p², s_q²)/B for
    simultaneous SGA (eq. 7) with Gaussian minibatch means."""
    a0 = np.eye(2) + eta * J
    au = np.array([[-eta * A, 0.0], [0.0, 0.0]])
    av = np.array([[0.0, 0.0], [0.0, -eta * C]])
    lin = np.eye(4) - np.kron(a0, a0)
    lin -= SD[0] ** 2 / B * np.kron(au, au) + SD[1] ** 2 / B * np.kron(av, av)
    rhs = eta**2 / B * np.array([SD[2] ** 2, 0, 0, SD[3] ** 2])
    return np.linalg.solve(lin, rhs).reshape(2, 2)


def test_fdr2_exact_stationary_moments():
    """FDR2 (Theorem 5) holds exactly for the SDE (9); the discrete identity (rhs + (η/2)‖b0‖²)
    holds exactly for simultaneous SGA, whose SDE-form gap is O(η)."""
    B = 4
    for eta in [0.1, 0.02]:
        lhs, rhs = _expect_sides("c", eta, B, _sde_stationary_S(J, eta, B))
        assert lhs == pytest.approx(rhs, rel=1e-12)
        S = _sga_stationary_S(eta, B)
        lhs, rhs = _expect_sides("d", eta, B, S)
        assert lhs == pytest.approx(rhs, rel=1e-12)
        rhs_sde = _expect_sides("c", eta, B, S)[1]
        assert 0.1 * eta < abs(lhs / rhs_sde - 1) < 2 * eta


def test_fdr1_exact_stationary_moments_and_generator_identity():
    """FDR1 (Theorem 4) holds exactly for the SDE (10) (drift (J + ηB1)x); pointwise,
    lhs − rhs = −𝒜Φ with the drift b0 + ηb1 (the paper's algebra, cross terms cancelling)."""
    B = 4
    for eta in [0.1, 0.02]:
        lhs, rhs = _expect_sides("fdr1", eta, B, _sde_stationary_S(J + eta * B1, eta, B))
        assert lhs == pytest.approx(rhs, rel=1e-12)
        # The simultaneous SDE's stationary law does not satisfy FDR1: the η-term matters.
        l9, r9 = _expect_sides("fdr1", eta, B, _sde_stationary_S(J, eta, B))
        assert abs(l9 - r9) > 1e-3 * abs(r9)

    # Pointwise identity on a nonlinear zero-sum game (Dirac-GAN with data noise).
    def ex(t, w, e):
        return jnp.log1p(jnp.exp(-(w * (t + e[0])))) * (1 + e[1]) - 0.5 * w**2 * (1 + e[2])

    data = jnp.asarray(np.random.default_rng(3).normal(size=(9, 3)) * 0.5)
    phi = lambda t, w: jnp.mean(jax.vmap(lambda e: ex(t, w, e))(data))
    x = state(0.7, -0.4)
    fac = gf.noise_factor(ex, x, data)
    eta, B = 0.05, 3
    drift = gf.modified_field(gf.vector_field(phi), eta, "alternating")

    @jax.jit
    def both(x, fac):
        a_phi = sde_generator(lambda y: phi(*y), drift, x, factor=fac, eta=eta, batch_size=B)
        return fdr1_terms(phi, x, fac, eta, B), a_phi

    (lhs, rhs), a_phi = both(x, fac)
    assert float(lhs - rhs) == pytest.approx(-float(a_phi), rel=1e-10)
    with pytest.raises(ValueError, match="zero-sum"):
        fdr1_terms(gf.Objective(phi, phi, zero_sum=False), x, fac, eta, B)


# ---------------------------------------------------------------------------------------------
# FDRs from simulations: ensembles and time averages


def _dataset_game(key, n=500):
    data = jnp.asarray(SD) * jax.random.normal(key, (n, 4))
    phi = lambda t, w: jnp.mean(jax.vmap(lambda e: example_phi(t, w, e))(data))
    batch_phi = lambda t, w, b: jnp.mean(jax.vmap(lambda e: example_phi(t, w, e))(b))
    factor_fn = lambda x: gf.noise_factor(example_phi, x, data)
    return data, phi, gf.vector_field(batch_phi), factor_fn


def _sga_step(data, b_batch, B):
    """Simultaneous minibatch SGA (Cao–Guo eq. 7), B examples drawn with replacement."""

    def step(x, eta, key):
        idx = jax.random.randint(key, (B,), 0, data.shape[0])
        return _tmap(lambda a, v: a + eta * v, x, b_batch(x, data[idx]))

    return step


def test_fdr2_ensemble_and_time_average(getkey):
    """FDR2's two sides agree within 3 standard errors at stationarity: an ensemble of 3000
    seeds at t = 8, and one long run with batch means."""
    data, phi, b_batch, factor_fn = _dataset_game(getkey())
    eta, B = 0.01, 8
    step = _sga_step(data, b_batch, B)

    def chain(key, steps, thin):
        def body(x, k):
            return step(x, eta, k), x

        def outer(x, k):
            x, _ = jax.lax.scan(body, x, jax.random.split(k, thin))
            return x, x

        return jax.lax.scan(outer, state(0.0, 0.0), jax.random.split(key, steps // thin))[1]

    ens = jax.jit(jax.vmap(lambda k: _tmap(lambda a: a[-1], chain(k, 800, 800))))(
        jax.random.split(getkey(), 3000)
    )
    res = fdr2(phi, ens, factor_fn, eta, B)
    assert res.agrees(3.0), (float(res.lhs), float(res.rhs), float(res.z))
    assert float(res.gap_se) < 0.05 * float(res.rhs)  # a sharp test, not a vacuous one
    assert res.num_samples == 3000 and res.method == "ensemble"

    series = jax.jit(lambda k: chain(k, 30_000, 10))(getkey())
    res_t = fdr2(phi, series, factor_fn, eta, B, method="batch_means", num_batches=20)
    assert res_t.agrees(3.0), (float(res_t.lhs), float(res_t.rhs), float(res_t.z))
    assert float(res_t.gap_se) < 0.1 * float(res_t.rhs)
    # Far from stationarity (start at (3, −3), first 50 steps) the sides disagree badly.
    early = jax.jit(lambda k: chain(k, 50, 1))(getkey())
    early = _tmap(lambda a: a + jnp.array(0.0), early)
    x_far = (early[0] + 3.0, early[1] - 3.0)
    assert not fdr2(phi, x_far, factor_fn, eta, B, method="batch_means", num_batches=5).agrees()


def test_fdr2_on_sde_ensemble(getkey):
    """FDR2 is exact for the SDE (9) itself: an Euler–Maruyama ensemble of ganflow's Cao–Guo
    SDE (`ganflow.continuous`), 1000 seeds at t = 6, agrees within 3 standard errors."""
    import ganflow.continuous as gfc

    data = jnp.asarray(SD) * jax.random.normal(getkey(), (50, 4))
    phi = lambda t, w: jnp.mean(jax.vmap(lambda e: example_phi(t, w, e))(data))
    eta, B = 0.01, 8
    sde = gfc.cao_guo_sde(example_phi, eta, B, data=data)
    sol = gfc.sde_ensemble(
        sde, state(0.0, 0.0), 0.0, 6.0, dt=0.02, keys=jax.random.split(getkey(), 1000)
    )
    xs = _tmap(lambda a: a[:, -1], sol.xs)
    res = fdr2(phi, xs, lambda x: gf.noise_factor(example_phi, x, data), eta, B)
    assert res.agrees(3.0), (float(res.lhs), float(res.rhs), float(res.z))
    assert float(res.gap_se) < 0.1 * float(res.rhs)


def test_fdr_estimate_standard_errors():
    """Ensemble se = s/√n; batch means se = sd(batch means)/√(#batches); paired gap se."""
    rng = np.random.default_rng(0)
    lhs = rng.normal(2.0, 1.0, 400)
    rhs = lhs + rng.normal(0.0, 0.1, 400)
    est = fdr_estimate(lhs, rhs)
    assert float(est.lhs_se) == pytest.approx(np.std(lhs, ddof=1) / 20, rel=1e-12)
    assert float(est.gap_se) == pytest.approx(np.std(lhs - rhs, ddof=1) / 20, rel=1e-12)
    assert float(est.ratio) == pytest.approx(lhs.mean() / rhs.mean(), rel=1e-12)
    bm = fdr_estimate(lhs, rhs, method="batch_means", num_batches=8)
    means = lhs.reshape(8, 50).mean(1)
    assert float(bm.lhs_se) == pytest.approx(np.std(means, ddof=1) / np.sqrt(8), rel=1e-12)
    with pytest.raises(ValueError, match="method"):
        fdr_estimate(lhs, rhs, method="bootstrap")
    with pytest.raises(ValueError, match="2 samples per batch"):
        fdr_estimate(lhs[:10], rhs[:10], method="batch_means", num_batches=8)


def test_fdr1_alternating_ensemble(getkey):
    """FDR1 on alternating SGA (eq. 6, independent batches per player) agrees within 3 se."""
    data, phi, b_batch, factor_fn = _dataset_game(getkey())
    eta, B = 0.01, 8
    n = data.shape[0]

    def chain(key):
        def body(x, k):
            k1, k2 = jax.random.split(k)
            t, w = x
            bw = b_batch((t, w), data[jax.random.randint(k1, (B,), 0, n)])[1]
            w = w + eta * bw
            bt = b_batch((t, w), data[jax.random.randint(k2, (B,), 0, n)])[0]
            return (t + eta * bt, w), None

        return jax.lax.scan(body, state(0.0, 0.0), jax.random.split(key, 800))[0]

    ens = jax.jit(jax.vmap(chain))(jax.random.split(getkey(), 3000))
    res = fdr1(phi, ens, factor_fn, eta, B)
    assert res.agrees(3.0), (float(res.lhs), float(res.rhs), float(res.z))
    assert float(res.gap_se) < 0.1 * abs(float(res.rhs))


# ---------------------------------------------------------------------------------------------
# The FDR2 schedule


def test_fdr2_schedule_lowers_eta_at_stationarity(getkey):
    data, phi, b_batch, factor_fn = _dataset_game(getkey())
    B, chains = 8, 64
    step1 = _sga_step(data, b_batch, B)

    def step(xs, eta, key):
        return jax.vmap(lambda x, k: step1(x, eta, k))(xs, jax.random.split(key, chains))

    def terms(xs, eta):
        return jax.vmap(lambda x: fdr2_terms(phi, x, factor_fn(x), eta, B))(xs)

    x0 = (jnp.full(chains, 3.0), jnp.full(chains, -3.0))
    tol = 0.15
    res = fdr2_schedule(
        step, terms, x0, 0.04, getkey(), num_windows=6, window=300, burn_in=0.1, tol=tol
    )
    etas, ratios, lowered = (np.asarray(a) for a in (res.etas, res.ratios, res.lowered))
    assert etas[0] == 0.04
    # Window 0 starts far from stationarity: the ratio is far above 1 and η is kept.
    assert ratios[0] > 1 + tol and not lowered[0]
    assert np.array_equal(lowered, np.abs(ratios - 1) <= tol)
    assert np.allclose(etas[1:], np.where(lowered[:-1], 0.5, 1.0) * etas[:-1], rtol=0, atol=0)
    assert lowered.sum() >= 2 and etas[-1] <= 0.01


def test_bad_input(getkey):
    b = gf.vector_field(population_phi)
    x = state(0.0, 0.0)
    with pytest.raises(ValueError, match="eta"):
        fdr2_terms(population_phi, x, exact_factor(x), 0.0, 4)
    with pytest.raises(ValueError, match="batch_size"):
        fdr2_terms(population_phi, x, exact_factor(x), 0.1, 0)
    with pytest.raises(ValueError, match="batch_size"):
        ellipticity(exact_factor, (jnp.zeros(2), jnp.zeros(2)), 0.1, -1)
    with pytest.raises(ValueError, match="eta"):
        sde_generator(lambda y: y[0], b, x, factor=exact_factor(x), eta=-1.0, batch_size=2)
    with pytest.raises(ValueError, match="eta and batch_size"):
        sde_generator(lambda y: y[0], b, x, factor=exact_factor(x))
    with pytest.raises(ValueError, match="radii"):
        dissipativity(b, x, [2.0, 1.0], getkey())
    with pytest.raises(ValueError, match="radii"):
        dissipativity(b, x, [0.0, 1.0], getkey())
    step = lambda x, eta, k: x
    terms = lambda x, eta: (x[0], x[1])
    with pytest.raises(ValueError, match="eta0"):
        fdr2_schedule(step, terms, x, 0.0, getkey(), num_windows=2, window=10)
    with pytest.raises(ValueError, match="window"):
        fdr2_schedule(step, terms, x, 0.1, getkey(), num_windows=2, window=1)
    with pytest.raises(ValueError, match="decay"):
        fdr2_schedule(step, terms, x, 0.1, getkey(), num_windows=2, window=10, decay=1.5)
