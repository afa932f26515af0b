"""Stability, update operators, local-Nash classification, the stationary-point finder and the
Nagarajan–Kolter matrices and bounds (ganflow.analysis), against closed-form mathematics."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ganflow as gf
from ganflow.analysis import (
    alternating_update_jacobian,
    classify_stationary_point,
    eigenvalues,
    find_stationary_point,
    is_hurwitz,
    is_local_nash,
    nk_matrices,
    nk_rate_bounds,
    nk_regularised_rate_bounds,
    player_hessian_eigenvalues,
    simultaneous_update_jacobian,
    spectral_radius,
    update_stability,
)
from ganflow.dynamics import Objective
from ganflow.models import Linear, QuadraticDiscriminator
from tests.helpers import F_PRIME, F_SECOND

# ---------------------------------------------------------------------------------------------
# Dirac-GAN (Mescheder 2018; slides p. 3-5)


@pytest.mark.parametrize("loss", ["gan", "wgan", "nsgan"])
def test_dirac_jacobian_eigenvalues(loss):
    game = gf.DiracGAN(loss)
    b, x = game.vector_field(population=True), game.equilibrium()
    eigs = np.asarray(eigenvalues(b, x))
    fp = F_PRIME[loss]
    np.testing.assert_allclose(eigs, [1j * fp, -1j * fp], atol=1e-14)
    assert not is_hurwitz(eigs) and not is_hurwitz(b, x)


@pytest.mark.parametrize("loss", ["gan", "wgan"])
def test_dirac_simultaneous_radius(loss):
    game = gf.DiracGAN(loss)
    b, x = game.vector_field(population=True), game.equilibrium()
    fp = F_PRIME[loss]
    for h in (0.01, 0.1, 0.5, 1.0, 2.0):
        expected = np.sqrt(1 + h**2 * fp**2)
        jac = simultaneous_update_jacobian(b, x, eta=h)
        assert abs(float(spectral_radius(jac)) - expected) < 1e-13
        res = update_stability(b, x, eta=h)
        assert abs(float(res.radius) - expected) < 1e-13 and not bool(res.locally_convergent)


ALT_COMBOS = [(0.1, 1, 1), (0.5, 1, 1), (0.3, 2, 3), (0.2, 1, 5), (1.0, 2, 1), (1.9, 1, 1)]


@pytest.mark.parametrize("loss", ["gan", "wgan"])
@pytest.mark.parametrize("h,n_g,n_d", ALT_COMBOS)
def test_dirac_alternating_eigenvalues(loss, h, n_g, n_d):
    game = gf.DiracGAN(loss)
    b, x = game.vector_field(population=True), game.equilibrium()
    fp = F_PRIME[loss]
    c = h * fp
    # F' of n_d steps ψ ← ψ − cθ then n_g steps θ ← θ + cψ (ganflow's Dirac sign), by hand
    expected_matrix = np.array([[1 - n_g * n_d * c**2, n_g * c], [-n_d * c, 1.0]])
    jac = np.asarray(alternating_update_jacobian(b, x, eta=h, n_d=n_d, n_g=n_g))
    np.testing.assert_allclose(jac, expected_matrix, atol=1e-14)

    alpha = np.sqrt(n_g * n_d) * h * fp
    m = 1 - alpha**2 / 2
    root = np.sqrt(complex(m**2 - 1))
    expected = np.array([m + root, m - root])
    res = update_stability(b, x, eta=h, scheme="alternating", n_d=n_d, n_g=n_g)
    got = np.asarray(res.eigenvalues)
    assert np.allclose(np.sort_complex(got), np.sort_complex(expected), atol=1e-12)
    if alpha < 2:  # the slides' regime: a complex pair on the unit circle
        np.testing.assert_allclose(np.abs(got), 1.0, atol=1e-10)
        assert abs(float(res.radius) - 1.0) < 1e-10
    else:  # real pair with product 1: one root outside the unit circle
        assert float(res.radius) > 1.0 and abs(np.prod(got) - 1) < 1e-10


def test_dirac_alternating_large_alpha_real_pair():
    """α = sqrt(5)·1.5·1 > 2 (WGAN, n_d = 5, h = 1.5): the formula still holds with real roots,
    λ = m ± sqrt(m² − 1), and ρ > 1: the scheme diverges."""
    game = gf.DiracGAN("wgan")
    res = update_stability(
        game.vector_field(population=True), game.equilibrium(), eta=1.5, scheme="alternating",
        n_d=5, n_g=1,
    )
    m = 1 - 5 * 1.5**2 / 2
    expected = np.sort([m + np.sqrt(m * m - 1), m - np.sqrt(m * m - 1)])
    np.testing.assert_allclose(np.sort(np.asarray(res.eigenvalues).real), expected, atol=1e-12)
    assert abs(float(res.radius) - (-m + np.sqrt(m * m - 1))) < 1e-12
    assert not bool(res.locally_convergent)


def test_update_stability_arnoldi_matches_dense():
    """A 2n-dim linear game x' = ... whose alternating F' is block diagonal with Dirac blocks of
    different speeds: the matrix-free radius equals the closed-form max over blocks."""
    n = 40
    speeds = np.linspace(0.2, 1.0, n)
    damp = np.linspace(0.05, 0.3, n)

    def field(x):
        th, om = x
        return speeds * om - damp * th, -speeds * th - damp * om

    x = (jnp.zeros(n), jnp.zeros(n))
    eta = 0.3
    dense = update_stability(field, x, eta=eta, scheme="simultaneous", method="dense")
    mf = update_stability(field, x, eta=eta, scheme="simultaneous", method="arnoldi", k=4)
    # simultaneous: eigenvalues 1 + η(−damp ± i·speed)
    lam = 1 + eta * (-damp + 1j * speeds)
    assert abs(float(dense.radius) - np.max(np.abs(lam))) < 1e-12
    assert abs(float(mf.radius) - np.max(np.abs(lam))) < 1e-10
    alt_d = update_stability(field, x, eta=eta, scheme="alternating", method="dense", n_d=2)
    alt_m = update_stability(field, x, eta=eta, scheme="alternating", method="arnoldi", n_d=2)
    assert abs(float(alt_d.radius) - float(alt_m.radius)) < 1e-10


# ---------------------------------------------------------------------------------------------
# Local Nash and classification: Φ = ½aθ² + bθω − ½cω² (and non-zero-sum variants)


def _quadratic(a, b, c, d=None):
    """L_G = ½aθ² + bθω, Φ_D = dθω − ½cω² (zero-sum when d is None: d = b)."""
    if d is None:
        return lambda th, om: 0.5 * a * th**2 + b * th * om - 0.5 * c * om**2
    return Objective(
        lambda th, om: 0.5 * a * th**2 + b * th * om,
        lambda th, om: d * th * om - 0.5 * c * om**2,
    )


@pytest.mark.parametrize(
    "params,label",
    [
        ((1.0, 1.0, 1.0, None), "local Nash"),
        ((2.0, 0.5, 0.1, None), "local Nash"),
        ((-0.5, 2.0, 1.0, None), "stable non-Nash"),  # tr = −0.5, det = −0.5 + 4 > 0
        ((1.0, 2.0, 1.0, -2.0), "unstable Nash"),  # det = ac + bd = 1 − 4 < 0
        ((-1.0, 0.5, 1.0, None), "saddle/other"),  # tr = 0, det = −1 + 0.25 < 0
        ((-1.0, 0.1, -1.0, None), "saddle/other"),  # both Hessians wrong: eigenvalues ±1
    ],
)
def test_classification_quadratic(params, label):
    a, b, c, d = params
    res = classify_stationary_point(_quadratic(a, b, c, d), (0.0, 0.0))
    assert res.label == label
    dd = b if d is None else d
    # J = [[−a, −b], [d, −c]]: λ = (−(a + c) ± sqrt((a − c)² − 4bd)) / 2
    root = np.sqrt(complex((a - c) ** 2 - 4 * b * dd))
    expected = np.array([(-(a + c) + root) / 2, (-(a + c) - root) / 2])
    assert np.allclose(np.sort_complex(np.asarray(res.eigenvalues)), np.sort_complex(expected))
    np.testing.assert_allclose(np.asarray(res.theta_eigenvalues), [a])
    np.testing.assert_allclose(np.asarray(res.omega_eigenvalues), [-c])
    assert float(res.field_norm) == 0.0


def test_local_nash_semidefinite_variant():
    phi = _quadratic(0.0, 1.0, 1.0)  # θ-block = 0: not strictly Nash, but semidefinite
    assert not is_local_nash(phi, (0.0, 0.0))
    assert is_local_nash(phi, (0.0, 0.0), strict=False)
    assert not is_local_nash(_quadratic(-1e-3, 1.0, 1.0), (0.0, 0.0), strict=False)


def test_player_hessians_lanczos_matches_closed_form():
    """Φ = ½θᵀAθ + θᵀBω − ½ωᵀCω with A, C of known spectra (n = 40): Lanczos on HVPs returns
    λ_min, λ_max of ∇²_θθ Φ = A and ∇²_ωω Φ = −C."""
    n = 40
    rng = np.random.default_rng(0)
    q1, _ = np.linalg.qr(rng.standard_normal((n, n)))
    q2, _ = np.linalg.qr(rng.standard_normal((n, n)))
    ea, ec = np.linspace(0.5, 3.0, n), np.linspace(-0.2, 2.0, n)
    A, C = q1 @ np.diag(ea) @ q1.T, q2 @ np.diag(ec) @ q2.T
    B = rng.standard_normal((n, n))
    A, B, C = jnp.asarray(A), jnp.asarray(B), jnp.asarray(C)

    def phi(th, om):
        return 0.5 * th @ A @ th + th @ B @ om - 0.5 * om @ C @ om

    x = (jnp.zeros(n), jnp.zeros(n))
    et, ew = player_hessian_eigenvalues(phi, x, method="lanczos")
    np.testing.assert_allclose(et, [0.5, 3.0], atol=1e-8)
    np.testing.assert_allclose(ew, [-2.0, 0.2], atol=1e-8)
    et_d, ew_d = player_hessian_eigenvalues(phi, x, method="dense")
    np.testing.assert_allclose(et_d, ea, atol=1e-12)
    np.testing.assert_allclose(ew_d, np.sort(-ec), atol=1e-12)
    # C has a negative eigenvalue (−0.2 in −C's spectrum is +0.2): not a local Nash point
    assert not is_local_nash(phi, x, method="lanczos")


def test_player_hessians_lanczos_zero_and_few_eigenvalue_blocks():
    """A dead player (∇²_θθ = 0: ARPACK stops with "starting vector is zero") and a block with 3
    distinct eigenvalues (Krylov space of dimension 3): exact extremes by Lanczos breakdown."""
    n = 60
    d = jnp.asarray(np.tile([2.0, 0.0, -0.5], n // 3))

    def phi(th, om):
        return 0.0 * jnp.sum(th) - 0.5 * om @ (d * om)

    x = (jnp.ones(n), jnp.ones(n))
    et, ew = player_hessian_eigenvalues(phi, x, method="lanczos")
    np.testing.assert_array_equal(et, [0.0, 0.0])
    np.testing.assert_allclose(ew, [-2.0, 0.5], atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Stationary-point finder


def _cubic_game():
    """g_θ = (θ−1) + (ω+½) + 0.3(θ−1)², g_ω = (θ−1) − (ω+½): stationary at (1, −½)."""

    def phi(th, om):
        u, v = th - 1.0, om + 0.5
        return 0.5 * u**2 + u * v - 0.5 * v**2 + 0.1 * u**3

    return phi


@pytest.mark.parametrize("solver", ["newton", "dogleg", "levenberg_marquardt"])
@pytest.mark.parametrize("jac", ["dense", "matrix-free"])
def test_stationary_finder_recovers_point(solver, jac):
    b = gf.vector_field(_cubic_game())
    res = find_stationary_point(b, (1.3, -0.2), solver=solver, jac=jac)
    assert bool(res.success) and res.message == ""
    np.testing.assert_allclose([float(res.x[0]), float(res.x[1])], [1.0, -0.5], atol=1e-10)
    assert float(res.field_norm) < 1e-10 and int(res.num_steps) >= 1


def test_stationary_finder_no_root_reports_failure():
    def constant(x):
        return jnp.ones_like(x[0]), 2.0 * jnp.ones_like(x[1])

    for solver in ("newton", "levenberg_marquardt"):
        res = find_stationary_point(constant, (0.5, 0.3), solver=solver, max_steps=20)
        assert not bool(res.success)
        assert res.message
        assert abs(float(res.field_norm) - np.sqrt(5.0)) < 1e-12
        assert np.all(np.isfinite([float(res.x[0]), float(res.x[1])]))


# ---------------------------------------------------------------------------------------------
# Nagarajan–Kolter §3: NK-2D built by hand. Data U[−s, s], latent U[−1, 1], D = w₂x² (+ w₄x⁴),
# G = az; the equilibrium is a = s, w = 0. Hand-derived: K_DD = E[∇D ∇Dᵀ] = E x⁴ = s⁴/5 and
# K_DG = ∂_a E_z[∇_w D(az)] = ∂_a (a² E z²) = 2a/3 = 2s/3.


class _Quartic(eqx.Module):
    w2: jax.Array
    w4: jax.Array

    def __call__(self, x):
        return self.w2 * x**2 + self.w4 * x**4


class _NK(gf.AbstractGANGame):
    loss: gf.AbstractLoss
    scale: float = eqx.field(static=True)
    quartic: bool = eqx.field(static=True)

    def __init__(self, loss, scale=1.0, quartic=False):
        self.loss, self.scale, self.quartic = gf.get_loss(loss), scale, quartic

    def init(self, key):
        return self.equilibrium()

    def sample_data(self, key, n):
        return jax.random.uniform(key, (n,), minval=-self.scale, maxval=self.scale)

    def sample_latent(self, key, n):
        return jax.random.uniform(key, (n,), minval=-1.0, maxval=1.0)

    def equilibrium(self):
        if self.quartic:
            return Linear(self.scale), _Quartic(jnp.zeros(()), jnp.zeros(()))
        return Linear(self.scale), QuadraticDiscriminator(0.0)

    def population(self):
        # 40-node Gauss–Legendre: exact for the polynomial moments, ~1e-16 for smooth f
        u, w = np.polynomial.legendre.leggauss(40)
        u, w = jnp.asarray(u), jnp.asarray(w / 2)
        ex = self.example_objective

        def expect(fn):
            return lambda t, om: jnp.dot(w, jax.vmap(lambda v: fn(t, om, (self.scale * v, v)))(u))

        return Objective(expect(ex.generator), expect(ex.discriminator), ex.zero_sum)


def _dense_jacobian(b, x):
    """The dense Jacobian, jitted (one compilation instead of op-by-op dispatch)."""
    return np.asarray(jax.jit(lambda y: gf.jacobian(b, y))(x))


def _gl_data(scale, n=6):
    u, w = np.polynomial.legendre.leggauss(n)
    return jnp.asarray(scale * u), jnp.asarray(w / 2)


@pytest.mark.parametrize("loss", ["gan", "wgan", "nsgan"])
@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_nk2d_matrices_and_jacobian(loss, scale):
    game = _NK(loss, scale)
    x = game.equilibrium()
    data, weights = _gl_data(scale)
    m = nk_matrices(game, x, data=data, weights=weights)
    np.testing.assert_allclose(np.asarray(m.k_dd), [[scale**4 / 5]], rtol=1e-13)
    np.testing.assert_allclose(np.asarray(m.k_dg), [[2 * scale / 3]], rtol=1e-13)
    fp, fs = F_PRIME[loss], F_SECOND[loss]
    hand = np.array([[0.0, fp * 2 * scale / 3], [-fp * 2 * scale / 3, 2 * fs * scale**4 / 5]])
    jac = _dense_jacobian(game.vector_field(population=True), x)
    np.testing.assert_allclose(jac, hand, atol=1e-13)
    np.testing.assert_allclose(np.asarray(m.jacobian()), hand, atol=1e-13)
    if fs != 0:  # the Hessian identity K_DD = ∇²_ωω Φ / (2f″(0)) agrees with the data moments
        m_h = nk_matrices(game, x)
        np.testing.assert_allclose(np.asarray(m_h.k_dd), [[scale**4 / 5]], rtol=1e-12)


def test_nk2d_theorem_3_1_bounds():
    # GAN, s = 1: complex pair −1/20 ± i sqrt(1/9 − 1/400); the bound f″(0) λ_min(K_DD) = −1/20
    game = _NK("gan", 1.0)
    x = game.equilibrium()
    bounds = nk_rate_bounds(nk_matrices(game, x, data=_gl_data(1.0)[0], weights=_gl_data(1.0)[1]))
    eigs = np.asarray(eigenvalues(game.vector_field(population=True), x))
    np.testing.assert_allclose(eigs, [-0.05 + 1j * np.sqrt(1 / 9 - 1 / 400),
                                      -0.05 - 1j * np.sqrt(1 / 9 - 1 / 400)], atol=1e-13)
    assert abs(float(bounds.complex_bound) + 0.05) < 1e-13
    assert bounds.satisfied_by(eigs)
    assert is_hurwitz(eigs)
    # Theorem 3.2: η < 1/(2 λ_max(−J_DD)) = 1/(2 · 2 · ¼ · ⅕) = 5
    assert abs(float(bounds.eta_max) - 5.0) < 1e-12

    # GAN, s = 2.5: real eigenvalues f″k ± sqrt(f″²k² − c²), k = s⁴/5, c = f′·2s/3
    game = _NK("gan", 2.5)
    x = game.equilibrium()
    bounds = nk_rate_bounds(nk_matrices(game, x, data=_gl_data(2.5)[0], weights=_gl_data(2.5)[1]))
    eigs = np.asarray(eigenvalues(game.vector_field(population=True), x))
    k, c, fs, fp = 2.5**4 / 5, 0.5 * 5 / 3, -0.25, 0.5
    root = np.sqrt(fs**2 * k**2 - c**2)
    np.testing.assert_allclose(np.sort(eigs.real), [fs * k - root, fs * k + root], atol=1e-12)
    assert np.all(eigs.imag == 0)
    kg = (2 * 2.5 / 3) ** 2  # K_DGᵀ K_DG
    real_bound = 2 * fs * fp**2 * k * kg / (4 * fs**2 * k * k + fp**2 * kg)
    assert abs(float(bounds.real_bound) - real_bound) < 1e-13
    assert np.max(eigs.real) <= real_bound  # −0.1867 ≤ −0.1700
    assert bounds.satisfied_by(eigs)

    # WGAN: f″(0) = 0, the bounds are 0 and the eigenvalues ±2i/3 lie on them (no convergence)
    game = _NK("wgan", 1.0)
    x = game.equilibrium()
    bounds = nk_rate_bounds(nk_matrices(game, x, data=_gl_data(1.0)[0], weights=_gl_data(1.0)[1]))
    eigs = np.asarray(eigenvalues(game.vector_field(population=True), x))
    np.testing.assert_allclose(eigs, [2j / 3, -2j / 3], atol=1e-14)
    assert float(bounds.complex_bound) == 0.0 and np.isinf(float(bounds.eta_max))
    assert bounds.satisfied_by(eigs) and not is_hurwitz(eigs)


def test_nk_two_feature_discriminator():
    """D = w₂x² + w₄x⁴: K_DD = [[E x⁴, E x⁶], [E x⁶, E x⁸]] = [[1/5, 1/7], [1/7, 1/9]],
    K_DG = ∂_a E[(az)², (az)⁴] = [2/3, 4/5]ᵀ at a = 1."""
    game = _NK("gan", 1.0, quartic=True)
    x = game.equilibrium()
    data, weights = _gl_data(1.0)
    m = nk_matrices(game, x, data=data, weights=weights)
    np.testing.assert_allclose(np.asarray(m.k_dd), [[1 / 5, 1 / 7], [1 / 7, 1 / 9]], atol=1e-14)
    np.testing.assert_allclose(np.asarray(m.k_dg), [[2 / 3], [4 / 5]], atol=1e-13)
    m_h = nk_matrices(game, x)  # Hessian identity, population objective
    np.testing.assert_allclose(np.asarray(m_h.k_dd), np.asarray(m.k_dd), atol=1e-12)
    jac = _dense_jacobian(game.vector_field(population=True), x)
    np.testing.assert_allclose(jac, np.asarray(m.jacobian()), atol=1e-13)
    bounds = nk_rate_bounds(m)
    kdd = np.array([[1 / 5, 1 / 7], [1 / 7, 1 / 9]])
    np.testing.assert_allclose(float(bounds.lambda_min_dd), np.linalg.eigvalsh(kdd)[0], rtol=1e-12)
    np.testing.assert_allclose(float(bounds.lambda_min_dg), 4 / 9 + 16 / 25, rtol=1e-12)
    eigs = np.asarray(eigenvalues(game.vector_field(population=True), x))
    assert bounds.satisfied_by(eigs) and is_hurwitz(eigs)


def test_nk_sampled_matrices():
    """On a batch, K_DD = mean x_i⁴ and K_DG = 2a·mean z_i² (the sample moments)."""
    game = _NK("gan", 1.0)
    x = game.equilibrium()
    batch = game.sample(jax.random.key(0), 64)
    m = nk_matrices(game, x, batch)
    np.testing.assert_allclose(float(m.k_dd[0, 0]), float(jnp.mean(batch[0] ** 4)), rtol=1e-13)
    np.testing.assert_allclose(float(m.k_dg[0, 0]), 2 * float(jnp.mean(batch[1] ** 2)), rtol=1e-13)


@pytest.mark.parametrize("eta", [0.5, 2.0])
def test_nk_theorem_3_2_regularised_wgan(eta):
    """WGAN NK-2D with the generator descending Φ + η‖∇_ω Φ‖² (eq. 4), field built by hand.
    Regularised J (θ first) = [[−2η f′²K², −f′K], [f′K, 0]] with K = 2/3: λ² + (8η/9)λ + 4/9 = 0;
    complex for η < 3/2 with Re λ = −4η/9 = the bound −η f′² λ(KᵀK); real for η = 2."""
    game = _NK("wgan", 1.0)
    x = game.equilibrium()
    obj = game.objective(population=True)

    def reg_field(y):
        th, om = y

        def gen_loss(t):
            g_om = jax.grad(obj.discriminator, argnums=1)(t, om)
            return obj.generator(t, om) + eta * sum(
                jnp.sum(a**2) for a in jax.tree_util.tree_leaves(g_om)
            )

        g_th = jax.grad(gen_loss)(th)
        g_om = jax.grad(obj.discriminator, argnums=1)(th, om)
        return jax.tree_util.tree_map(jnp.negative, g_th), g_om

    eigs = np.asarray(eigenvalues(reg_field, x))
    roots = np.roots([1.0, 8 * eta / 9, 4 / 9]).astype(complex)
    assert np.allclose(np.sort_complex(eigs), np.sort_complex(roots), atol=1e-12)
    m = nk_matrices(game, x, data=_gl_data(1.0)[0], weights=_gl_data(1.0)[1])
    bounds = nk_regularised_rate_bounds(m, eta)
    kg = 4 / 9
    assert abs(float(bounds.complex_bound) + eta * kg) < 1e-13
    assert abs(float(bounds.real_bound) + 2 * eta * kg / (4 * eta**2 * kg + 1)) < 1e-13
    assert bounds.satisfied_by(eigs) and is_hurwitz(eigs)


# ---------------------------------------------------------------------------------------------
# Bad input: ValueError before anything compiles


def test_bad_input():
    game = gf.DiracGAN("gan")
    b, x = game.vector_field(population=True), game.equilibrium()
    for eta in (0.0, -0.1):
        with pytest.raises(ValueError, match="eta"):
            update_stability(b, x, eta=eta)
        with pytest.raises(ValueError, match="eta"):
            simultaneous_update_jacobian(b, x, eta=eta)
    with pytest.raises(ValueError, match="n_d"):
        update_stability(b, x, eta=0.1, scheme="alternating", n_d=0)
    with pytest.raises(ValueError, match="n_g"):
        alternating_update_jacobian(b, x, eta=0.1, n_g=0)
    with pytest.raises(ValueError, match="scheme"):
        update_stability(b, x, eta=0.1, scheme="jacobi")
    with pytest.raises(ValueError, match="method"):
        update_stability(b, x, eta=0.1, method="qr")
    with pytest.raises(ValueError, match="k must be"):
        update_stability(b, x, eta=0.1, k=0)
    with pytest.raises(ValueError, match="solver"):
        find_stationary_point(b, x, solver="bisection")
    with pytest.raises(ValueError, match="jac"):
        find_stationary_point(b, x, jac="sparse")
    with pytest.raises(ValueError, match="x must be a pair"):
        eigenvalues(b, x[0])
    with pytest.raises(ValueError, match="AbstractGANGame"):
        nk_matrices(object(), x)
    with pytest.raises(ValueError, match="f''"):
        nk_matrices(_NK("wgan"), _NK("wgan").equilibrium())
    with pytest.raises(ValueError, match="eta"):
        nk_regularised_rate_bounds(nk_matrices(game, x, data=jnp.ones(3)), 0.0)
    with pytest.raises(ValueError, match="tol"):
        is_hurwitz(np.array([-1.0]), tol=-1.0)
