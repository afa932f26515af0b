"""The built-in games against closed-form mathematics (float64)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
import pytest
import scipy.integrate as si

import ganflow as gf
from ganflow.games import (
    Bilinear,
    LinearQuadraticGaussian,
    MixtureOfGaussians,
    NagarajanKolter2D,
    get_game,
    lq_degenerate_stationary_points,
)
from tests.conftest import flat
from tests.helpers import F_PRIME, F_SECOND


@eqx.filter_jit
def _jacobian(game, x):
    return gf.jacobian(game.vector_field(population=True), x)


def _pop_jacobian(game, x):
    return np.asarray(_jacobian(game, x))


# ---------------------------------------------------------------------------- Dirac-GAN


@pytest.mark.parametrize("loss", ["gan", "nsgan", "wgan"])
def test_dirac_population_field_and_spectrum(loss):
    game = gf.DiracGAN(loss)
    f = game.loss.f
    fp = jax.grad(f)
    b = jax.jit(game.vector_field(population=True))
    for theta, psi in [(0.3, -0.7), (1.2, 0.4), (-2.0, 1.5)]:
        # Φ = f(0) + f(−ψθ): g_θ = −ψ f′(−ψθ), g_ψ = −θ f′(−ψθ); non-saturating generator loss
        # −f(ψθ): g_θ = −ψ f′(ψθ)
        g_psi = -theta * fp(-psi * theta)
        g_theta = -psi * fp(psi * theta) if loss == "nsgan" else -psi * fp(-psi * theta)
        np.testing.assert_allclose(
            flat(b(game.make_state(theta, psi))), [-g_theta, g_psi], rtol=1e-13, atol=1e-15
        )
    eig = np.linalg.eigvals(_pop_jacobian(game, game.equilibrium()))
    np.testing.assert_allclose(np.sort(eig.imag), [-F_PRIME[loss], F_PRIME[loss]], atol=1e-14)
    np.testing.assert_allclose(eig.real, 0.0, atol=1e-14)


# ---------------------------------------------------------------------------- NK-2D


@pytest.mark.parametrize("loss", ["gan", "nsgan", "wgan"])
def test_nk2d_jacobian_at_equilibrium(loss):
    # Φ = E f(w₂x²) + E f(−w₂a²z²); at (a, w₂) = (1, 0), with E z² = 1/3, E x⁴ = E z⁴ = 1/5:
    # ∂²Φ/∂a² = 0, ∂²Φ/∂a∂w₂ = −2f′(0)/3, ∂²Φ/∂w₂² = 2f″(0)/5, so
    # J = [[0, 2f′(0)/3], [−2f′(0)/3, 2f″(0)/5]] (the non-saturating generator gives the same row).
    game = NagarajanKolter2D(loss)
    J = _pop_jacobian(game, game.equilibrium())
    fp, fpp = F_PRIME[loss], F_SECOND[loss]
    expected = np.array([[0.0, 2 * fp / 3], [-2 * fp / 3, 2 * fpp / 5]])
    np.testing.assert_allclose(J, expected, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(
        flat(game.vector_field(population=True)(game.equilibrium())), 0.0, atol=1e-15
    )
    eig = np.linalg.eigvals(J)
    if loss == "wgan":
        np.testing.assert_allclose(eig.real, 0.0, atol=1e-12)
        np.testing.assert_allclose(np.sort(eig.imag), [-2 / 3, 2 / 3], rtol=1e-13)
    else:
        assert np.all(eig.real < 0)  # Hurwitz: −1/20 ± i sqrt(1/9 − 1/400)
        np.testing.assert_allclose(eig.real, -0.05, rtol=1e-12)
        np.testing.assert_allclose(np.abs(eig.imag), np.sqrt(1 / 9 - 1 / 400), rtol=1e-12)


def _quad_uniform(fn):
    """E fn(U), U ~ U[−1, 1], by scipy.integrate.quad."""
    return 0.5 * si.quad(fn, -1, 1, points=[0.0], epsabs=0, epsrel=1e-13, limit=200)[0]


def test_nk2d_population_value_against_scipy():
    game = NagarajanKolter2D("gan")
    ls = lambda t: -np.logaddexp(0.0, -t)
    for a, w2 in [(0.8, 0.3), (1.7, -4.0), (0.5, 60.0)]:
        ref = _quad_uniform(lambda x, w2=w2: ls(w2 * x * x))
        ref += _quad_uniform(lambda z, w2=w2, a=a: ls(-w2 * a * a * z * z))
        np.testing.assert_allclose(game.phi(game.make_state(a, w2)), ref, rtol=1e-12)
    wgan = NagarajanKolter2D("wgan")
    np.testing.assert_allclose(
        wgan.phi(wgan.make_state(0.8, 0.3)), 0.3 * (1 - 0.64) / 3, rtol=1e-14
    )


@pytest.mark.parametrize("loss", ["gan", "wgan"])
def test_nk2d_minibatch_mean_matches_population(getkey, loss):
    game = NagarajanKolter2D(loss)
    x = game.make_state(0.8, 0.3)
    batches = game.sample_batches(getkey(), 64, 2000)
    fields = jax.vmap(lambda batch: gf.ravel_state(game.vector_field()(x, batch))[0])(batches)
    mean, se = np.mean(fields, 0), np.std(fields, 0) / np.sqrt(fields.shape[0])
    pop = flat(game.vector_field(population=True)(x))
    assert np.all(np.abs(mean - pop) < 5 * se), (mean, pop, se)


# ---------------------------------------------------------------------------- LQ-Gaussian


def _lq_hessian_closed_form(m, s):
    """Hessian blocks of Φ at θ* = (m, σ), w* = 0 (flat orders θ = (θ₂, θ₁), ω = (w₁, w₂, w₃)).

    Φ = E ℓ(L_w(X)) + E ℓ(−L_w(G_θ(Z))), ℓ = log sigmoid, L_w(x) = w₁ + w₂x + w₃x²/2, with
    ℓ′(0) = 1/2, ℓ″(0) = −1/4, x̄ = ∇_w L_w(x) = (1, x, x²/2) and G = θ₁ + θ₂Z ~ X at θ*.
    - ∇²_ww Φ = ℓ″(0) E[x̄x̄ᵀ] + ℓ″(0) E[ȳȳᵀ] = −½ M, M = E[x̄x̄ᵀ] with the moments
      μ₁ = m, μ₂ = m² + σ², μ₃ = m³ + 3mσ², μ₄ = m⁴ + 6m²σ² + 3σ⁴ of N(m, σ²).
    - ∇_θ Φ = −E[ℓ′(−L(G)) L′(G) ∂_θG] with L′(G) = w₃G + w₂ = 0 at w = 0, and L ≡ 0 for every θ
      when w = 0, so ∇²_θθ Φ = 0.
    - ∂_w of ∇_θΦ at w = 0: only ∂_w L′(G) = (0, 1, G) survives:
      ∂²Φ/∂θ∂w = −½ E[∂_θG ⊗ (0, 1, G)], ∂_θG = (Z, 1): rows θ₂: −½(0, E Z, E ZG) = −½(0, 0, σ),
      θ₁: −½(0, 1, E G) = −½(0, 1, m).
    """
    mu1, mu2 = m, m * m + s * s
    mu3, mu4 = m**3 + 3 * m * s * s, m**4 + 6 * m * m * s * s + 3 * s**4
    M = np.array([[1, mu1, mu2 / 2], [mu1, mu2, mu3 / 2], [mu2 / 2, mu3 / 2, mu4 / 4]])
    mixed = -0.5 * np.array([[0.0, 0.0, s], [0.0, 1.0, m]])  # ∇_ω g_θ: rows θ, columns ω
    return {
        "theta_theta": np.zeros((2, 2)),
        "omega_omega": -0.5 * M,
        "theta_omega": mixed,
        "omega_theta": mixed.T,
    }


@jax.jit
def _lq_b0_and_blocks(game, x):
    b = gf.ravel_state(game.vector_field(population=True)(x))[0]
    return b, gf.hessian_blocks(game.population(), x)


@pytest.mark.parametrize("m,sigma", [(1.0, 1.0), (0.0, 1.0), (-0.5, 2.0)])
def test_lq_optimum_is_stationary_with_closed_form_hessian(m, sigma):
    game = LinearQuadraticGaussian(m, sigma)
    b, blocks = _lq_b0_and_blocks(game, game.equilibrium())
    np.testing.assert_allclose(b, 0.0, atol=1e-10)
    expected = _lq_hessian_closed_form(m, sigma)
    for k, v in expected.items():
        np.testing.assert_allclose(blocks[k], v, rtol=1e-11, atol=1e-12, err_msg=k)


def test_lq_best_response_and_root_find():
    game = LinearQuadraticGaussian(1.0, 1.0)
    b = jax.jit(game.vector_field(population=True))
    # the log-density-ratio discriminator is the exact best response: ∇_wΦ = 0 (a non-trivial
    # closed form that exercises the quadrature at large weights: w₃ = 1/θ₂² − 1 = 399 at θ₂ = 0.05)
    for theta1, theta2 in [(0.3, 0.4), (-1.0, 2.5), (2.0, 0.05)]:
        x = (gf.models.Linear(theta2, theta1), game.best_response(theta1, theta2))
        np.testing.assert_allclose(flat(b(x)[1]), 0.0, atol=1e-11)
    # a Newton root find on b0 from a perturbed optimum returns θ* = (m, σ), w* = 0
    y0, unravel = gf.ravel_state(game.make_state(1.2, 0.8, 0.1, -0.1, 0.05))
    sol = optx.root_find(
        lambda y, _: gf.ravel_state(b(unravel(y)))[0],
        optx.Newton(rtol=1e-12, atol=1e-12),
        y0,
        max_steps=50,
    )
    np.testing.assert_allclose(sol.value, [1.0, 1.0, 0.0, 0.0, 0.0], atol=1e-9)  # (θ₂, θ₁, w)


def test_lq_minibatch_mean_matches_population(getkey):
    game = LinearQuadraticGaussian(1.0, 1.5)
    x = game.make_state(0.5, 1.2, 0.3, -0.2, 0.1)
    batches = game.sample_batches(getkey(), 128, 1000)
    fields = jax.vmap(lambda bt: gf.ravel_state(game.vector_field()(x, bt))[0])(batches)
    mean, se = np.mean(fields, 0), np.std(fields, 0) / np.sqrt(fields.shape[0])
    pop = flat(game.vector_field(population=True)(x))
    assert np.all(np.abs(mean - pop) < 5 * se), (mean, pop, se)


@pytest.mark.parametrize("m", [1.0, 0.0])
def test_lq_degenerate_points_not_attained_at_finite_w(m):
    """Mounjid–Guo §2's θ₂ = 0, θ₁ = −w₂/w₃: no stationary point at finite w; ‖b0‖ → 0 only as
    ‖w‖ → ∞; fixed-node Gauss–Hermite reports a spurious root."""
    r = lq_degenerate_stationary_points(m=m, sigma=1.0)
    # along the ray (logit R(x − θ₁)²/2 − log R) Φ ↑ 0 and ‖b0‖ ↓ 0 (from R = 10 on) …
    assert np.all(np.diff(r.path_phi) > 0) and r.path_phi[-1] < 0
    assert np.all(np.diff(r.path_b0_norm[1:]) < 0)
    assert r.path_b0_norm[-1] < 1e-3 and r.path_w_norm[-1] > 1e8
    # … but never vanishes: the escape direction d has dᵀ∇_wΦ = E[(1 − D(X))(X − θ₁)²/2] > 0
    assert np.all(r.path_escape_slope > 0)
    # the validated Newton ascent never meets the tolerance: ‖w‖ grows geometrically, ‖∇_wΦ‖
    # falls slowly, Φ rises towards its unattained supremum 0
    assert not r.finite_w_root_found
    assert np.all(np.diff(r.newton_w_norm) > 0) and r.newton_w_norm[-1] > 1e7
    assert np.all(r.newton_grad_norm > 1e-5) and np.all(r.newton_escape_slope > 0)
    assert np.all(np.diff(r.newton_phi) > 0) and np.all(r.newton_phi < 0)
    # Gauss–Hermite (20 nodes) "converges" at finite w where the true gradient is large
    assert r.hermite_converged and r.hermite_grad_norm < r.tol
    assert np.linalg.norm(r.hermite_w) < 1e4
    assert r.hermite_true_grad_norm > 0.1 and r.hermite_true_escape_slope > 1e-3
    # the best response along θ₂ = t → 0 is exact (∇_wΦ ≈ 0) while ∂Φ/∂θ₂ grows without bound
    assert np.all(r.br_omega_grad_norm < 1e-9)
    assert np.all(np.diff(r.br_theta2_grad) < 0) and r.br_theta2_grad[-1] < -30


# ---------------------------------------------------------------------------- bilinear


def test_bilinear():
    game = Bilinear(dim=3)
    x = game.init(jax.random.key(0))
    J = _pop_jacobian(game, x)
    eye, zero = np.eye(3), np.zeros((3, 3))
    np.testing.assert_allclose(J, np.block([[zero, -eye], [eye, zero]]), atol=0)
    batch = game.sample(jax.random.key(1), 16)
    np.testing.assert_allclose(flat(game.vector_field()(x, batch)), flat((-x[1], x[0])), rtol=1e-15)
    np.testing.assert_allclose(flat(game.vector_field(population=True)(x)), flat((-x[1], x[0])))
    assert flat(game.equilibrium()).tolist() == [0.0] * 6


# ---------------------------------------------------------------------------- mixtures


@pytest.mark.parametrize(
    "kind,k,std", [("ring", 8, 0.02), ("grid", 25, 0.05), ("grid16", 16, 0.02)]
)
def test_mog_sampler_statistics(getkey, kind, k, std):
    game = MixtureOfGaussians(kind)
    modes = np.asarray(game.modes)
    assert modes.shape == (k, 2)
    if kind == "ring":
        np.testing.assert_allclose(np.linalg.norm(modes, axis=1), 2.0, rtol=1e-15)
    elif kind == "grid":
        assert sorted(set(modes[:, 0])) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    else:
        assert sorted(set(modes[:, 0])) == sorted(set(modes[:, 1])) == [-1.5, -0.5, 0.5, 1.5]
    n = 40_000
    data = np.asarray(game.sample_data(getkey(), n))
    assert data.shape == (n, 2)
    idx = np.argmin(np.linalg.norm(data[:, None] - modes[None], axis=-1), axis=1)
    counts = np.bincount(idx, minlength=k)
    p = 1 / k
    assert np.all(np.abs(counts / n - p) < 5 * np.sqrt(p * (1 - p) / n))
    for j in range(k):
        pts = data[idx == j]
        assert np.all(np.abs(pts.mean(0) - modes[j]) < 5 * std / np.sqrt(len(pts)))
        assert np.all(np.abs(pts.std(0) / std - 1) < 5 / np.sqrt(2 * len(pts)))
    q = game.sample_quality(data)
    # within 3 std of a 2-D isotropic Gaussian: P(χ²₂ ≤ 9) = 1 − e^{−4.5}
    frac = 1 - np.exp(-4.5)
    assert abs(float(q.high_quality_fraction) - frac) < 5 * np.sqrt(frac * (1 - frac) / n)
    assert int(q.modes_covered) == k
    collapsed = game.sample_quality(jnp.broadcast_to(game.modes[0], (500, 2)))
    assert int(collapsed.modes_covered) == 1 and float(collapsed.high_quality_fraction) == 1.0


def test_mog_default_parameter_count_and_shapes(getkey):
    game = MixtureOfGaussians("ring")
    gen, disc = game.init(getkey())
    n_gen = sum(a.size for a in jax.tree_util.tree_leaves(gen))
    n_disc = sum(a.size for a in jax.tree_util.tree_leaves(disc))
    # (8·128 + 128) + (128·128 + 128) + (128·2 + 2); (2·128 + 128) + (128·128 + 128) + (128 + 1)
    assert (n_gen, n_disc) == (17_922, 17_025) == game.num_params()
    assert n_gen + n_disc == 34_947
    z = game.sample_latent(getkey(), 5)
    assert z.shape == (5, 8) and game.generate(gen, getkey(), 5).shape == (5, 2)
    assert disc(jnp.zeros(2)).shape == ()
    small = MixtureOfGaussians("grid", latent_dim=3, width=16, depth=3)
    x = small.init(getkey())
    assert sum(a.size for a in jax.tree_util.tree_leaves(x)) == sum(small.num_params())


@pytest.mark.parametrize("loss", ["gan", "nsgan"])
def test_mog_field_equals_hand_written_grad(getkey, loss):
    game = MixtureOfGaussians("ring", loss=loss)
    x = game.init(getkey())
    batch = game.sample(getkey(), 64)

    def mlp(layers, h):  # plain ReLU MLP written out
        for W, c in layers[:-1]:
            h = jax.nn.relu(W @ h + c)
        W, c = layers[-1]
        return W @ h + c

    params = tuple([(l.weight, l.bias) for l in m.layers] for m in x)
    data, z = batch

    def d_loss(gp, dp):
        fake = jax.vmap(lambda zi: mlp(gp, zi))(z)
        dr = jax.vmap(lambda xi: mlp(dp, xi)[0])(data)
        df = jax.vmap(lambda fi: mlp(dp, fi)[0])(fake)
        return jnp.mean(jax.nn.log_sigmoid(dr) + jax.nn.log_sigmoid(-df))

    def g_loss(gp, dp):
        if loss == "gan":
            return d_loss(gp, dp)
        fake = jax.vmap(lambda zi: mlp(gp, zi))(z)
        return -jnp.mean(jax.nn.log_sigmoid(jax.vmap(lambda fi: mlp(dp, fi)[0])(fake)))

    @jax.jit
    def both(x, params):
        g_theta = jax.grad(g_loss, argnums=0)(*params)
        g_omega = jax.grad(d_loss, argnums=1)(*params)
        hand = (jax.tree_util.tree_map(jnp.negative, g_theta), g_omega)
        return game.vector_field()(x, batch), hand

    b, hand = both(x, params)
    expected = flat(hand)
    np.testing.assert_allclose(flat(b), expected, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------- registry, errors


def test_registry_builds_every_game(getkey):
    expected = {
        "dirac": gf.DiracGAN,
        "nk2d": NagarajanKolter2D,
        "lq-gaussian": LinearQuadraticGaussian,
        "bilinear": Bilinear,
        "mog-ring": MixtureOfGaussians,
        "mog-grid": MixtureOfGaussians,
        "mog-grid16": MixtureOfGaussians,
    }
    assert set(gf.games.GAME_NAMES) == set(expected)
    for name, cls in expected.items():
        game = get_game(name)
        assert type(game) is cls
        x = game.init(getkey())
        gf.ravel_state(x)
    assert get_game("mog-grid").kind == "grid" and get_game("mog-ring", width=16).width == 16
    assert get_game("mog-grid16").kind == "grid16" and get_game("mog-grid16").std == 0.02
    assert float(get_game("lq-gaussian", m=0.0, sigma=2.0).sigma) == 2.0


def test_bad_input():
    with pytest.raises(ValueError, match="unknown game 'nk3d'.*nk2d"):
        get_game("nk3d")
    with pytest.raises(ValueError, match="'sigmaa'.*valid keywords.*sigma"):
        get_game("lq-gaussian", sigmaa=1.0)
    with pytest.raises(ValueError, match="'widht'"):
        get_game("mog-ring", widht=3)
    with pytest.raises(ValueError, match="unknown loss 'lsgan'"):
        get_game("nk2d", loss="lsgan")
    with pytest.raises(ValueError, match="unknown loss"):
        MixtureOfGaussians("ring", loss="hinge")
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="sigma must be > 0"):
            LinearQuadraticGaussian(1.0, bad)
    with pytest.raises(ValueError, match="unknown kind"):
        MixtureOfGaussians("spiral")
    with pytest.raises(ValueError, match="unknown quadrature"):
        LinearQuadraticGaussian(quadrature="simpson")
    with pytest.raises(ValueError, match="dim"):
        Bilinear(dim=0)
    with pytest.raises(ValueError, match="std must be > 0"):
        MixtureOfGaussians("grid", std=-0.1)


def test_population_penalties_use_exact_expectations():
    """R1 on the population objectives of NK-2D and LQ-Gaussian (game.data_expectation):
    NK-2D: ∇_x D = 2w₂x, so R1 adds −(γ/2)·4E[x²] = −4γ/3 to J_ωω at (1, 0) (E x² = 1/3);
    LQ-Gaussian: ∇_x D = w₃x + w₂, so R1 adds −γ E[(0, 1, x)ᵀ(0, 1, x)] to the (w₁, w₂, w₃)
    block, with E x = m, E x² = m² + σ²."""
    from ganflow import stabilisers as st

    gamma = 0.7
    nk = gf.games.get_game("nk2d", loss="gan")
    x = nk.equilibrium()
    diff = gf.jacobian(st.stabilise(nk, st.R1(gamma), population=True), x) - gf.jacobian(
        nk.vector_field(population=True), x
    )
    np.testing.assert_allclose(diff, [[0.0, 0.0], [0.0, -4 * gamma / 3]], atol=1e-12)

    m, s = 0.5, 1.5
    lq = gf.games.get_game("lq-gaussian", m=m, sigma=s)
    x = lq.equilibrium()
    diff = gf.jacobian(st.stabilise(lq, st.R1(gamma), population=True), x) - gf.jacobian(
        lq.vector_field(population=True), x
    )
    expected = np.zeros((5, 5))
    expected[2:, 2:] = -gamma * np.array([[0, 0, 0], [0, 1, m], [0, m, m**2 + s**2]])
    np.testing.assert_allclose(diff, expected, atol=1e-12)
