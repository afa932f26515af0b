"""WGAN-QC (Liu, Gu & Samaras 2019): the OT targets against exact assignment, the Dirac-GAN
losses, field Jacobian and update Jacobian against their closed forms (float64), convergence on
the Dirac-GAN where WGAN with simultaneous/alternating GDA does not, and minibatch training on
the mixture-of-Gaussians ring with MLP players."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.optimize

import ganflow as gf
from ganflow import training as tr
from ganflow.games import DiracGAN, MixtureOfGaussians

from .conftest import flat


def _cost(y, x):
    y, x = np.asarray(y).reshape(len(y), -1), np.asarray(x).reshape(len(x), -1)
    return 0.5 * np.sum((y[:, None, :] - x[None, :, :]) ** 2, axis=-1)


def _dirac(theta, psi):
    return DiracGAN("wgan").make_state(theta, psi)


def _dirac_batch(n=1):
    return DiracGAN("wgan").sample(jax.random.key(0), n)


# ---------------------------------------------------------------------------------------------
# the OT step


def test_ot_targets_are_optimal_feasible_potentials(getkey):
    """Against the exact assignment (scipy): the dual value equals the optimal cost ½W₂², the
    constraints H(y_i) − H(x_j) ≤ c_ij hold, the centring holds, σ is the optimal assignment, and
    ∇_x H(x_j) = y_σ(j) − x_j; under jit and vmap."""
    n = 7
    real = jax.random.normal(getkey(), (n, 2)) * 2.0
    fake = jax.random.normal(getkey(), (n, 2))
    fn = eqx.filter_jit(
        lambda y, x: tr.quadratic_ot_targets(y, x, epsilon=1e-3, max_iterations=3000)
    )
    t = fn(real, fake)
    c = _cost(real, fake)
    rows, cols = scipy.optimize.linear_sum_assignment(c)
    exact = c[rows, cols].mean()
    assert float(t.value) == pytest.approx(exact, rel=1e-10)
    hr, hf = np.asarray(t.h_real), np.asarray(t.h_fake)
    assert np.all(hr[:, None] - hf[None, :] <= c + 1e-12)
    assert hr.mean() - hf.mean() == pytest.approx(exact, rel=1e-10)
    assert hr.mean() + hf.mean() == pytest.approx(0.0, abs=1e-12)
    sigma = np.empty(n, int)
    sigma[cols] = rows  # fake j goes to real σ(j)
    np.testing.assert_allclose(t.matched, np.asarray(real)[sigma], atol=0)
    # the fake-side potential is a c-transform: its gradient is the transport step
    grad = jax.grad(lambda x: jnp.sum(fn(real, x).h_fake))(fake)
    np.testing.assert_allclose(grad, np.asarray(real)[sigma] - np.asarray(fake), atol=1e-12)
    # vmap over batches
    vals = jax.vmap(lambda s: fn(real, s * fake).value)(jnp.array([1.0, 0.5]))
    assert vals.shape == (2,) and np.all(np.isfinite(vals))


def test_ot_targets_dirac_closed_form():
    """Data δ₀, fake δ_θ: H(0) = θ²/4, H(θ) = −θ²/4, value θ²/2, every fake matched to 0; at
    θ = 0 everything is 0 (no NaN from the relative ε)."""
    fn = jax.jit(lambda th: tr.quadratic_ot_targets(jnp.zeros(3), jnp.full(3, th)))
    for th in (0.0, 1e-9, 0.7, -2.0):
        t = fn(th)
        np.testing.assert_allclose(t.h_real, th**2 / 4, rtol=1e-14, atol=1e-300)
        np.testing.assert_allclose(t.h_fake, -(th**2) / 4, rtol=1e-14, atol=1e-300)
        assert float(t.value) == pytest.approx(th**2 / 2, rel=1e-14, abs=1e-300)
        np.testing.assert_array_equal(t.matched, 0.0)


# ---------------------------------------------------------------------------------------------
# Dirac-GAN: losses and Jacobians in closed form


@pytest.mark.parametrize("regulariser", ["vector", "norm"])
def test_dirac_losses_closed_form(regulariser):
    """L_D = ½(θ²/4)² + ½(ψθ + θ²/4)² + (γ/2)R with R = (ψ + θ)² ("vector") or
    (|ψ| − |θ|)² ("norm"); L_G = −ψθ; the field is (−∂_θ L_G, −∂_ψ L_D)."""
    gamma = 0.7
    f = tr.WGANQCField(DiracGAN("wgan"), gamma, regulariser)
    batch = _dirac_batch(2)

    @jax.jit
    def losses(x):
        return f.discriminator_loss(*x, batch), f.generator_loss(*x, batch), f(x, batch)

    for th, ps in [(0.8, -0.3), (-1.2, 0.5), (0.4, 0.9)]:
        reg = (ps + th) ** 2 if regulariser == "vector" else (abs(ps) - abs(th)) ** 2
        want = 0.5 * (th**2 / 4) ** 2 + 0.5 * (ps * th + th**2 / 4) ** 2 + 0.5 * gamma * reg
        l_d, l_g, b = losses(_dirac(th, ps))
        assert float(l_d) == pytest.approx(want, rel=1e-13)
        assert float(l_g) == pytest.approx(-ps * th, rel=1e-14)
        dreg = 2 * (ps + th) if regulariser == "vector" else 2 * (abs(ps) - abs(th)) * np.sign(ps)
        want_bpsi = -(th * (ps * th + th**2 / 4) + 0.5 * gamma * dreg)
        assert float(b[0].theta) == pytest.approx(ps, rel=1e-14)
        assert float(b[1].psi) == pytest.approx(want_bpsi, rel=1e-12)


@pytest.mark.parametrize("gamma", [0.3, 1.0, 4.0, 9.0])
def test_dirac_field_jacobian_block_form(gamma):
    """J(0) = [[C, B], [−N, −(M_DD + M_R)]] = [[0, 1], [−γ, −γ]] and its eigenvalues
    (−γ ± sqrt(γ² − 4γ))/2 have negative real parts (WGAN's are ±i)."""
    f = tr.WGANQCField(DiracGAN("wgan"), gamma)
    J = np.asarray(eqx.filter_jit(gf.jacobian)(f, _dirac(0.0, 0.0), _dirac_batch(3)))
    np.testing.assert_allclose(J, [[0.0, 1.0], [-gamma, -gamma]], rtol=1e-15, atol=1e-15)
    lam = (-gamma + np.array([1, -1]) * np.sqrt(complex(gamma**2 - 4 * gamma))) / 2
    np.testing.assert_allclose(
        np.sort_complex(np.linalg.eigvals(J)), np.sort_complex(lam), atol=1e-12
    )
    assert np.all(lam.real < 0)


@pytest.mark.parametrize(
    "gamma, eta_g, eta_d, n_d, n_reg",
    [(1.0, 0.1, 0.1, 1, 1), (0.5, 0.2, 0.3, 2, 3), (3.0, 0.05, 0.5, 1, 4), (1.0, 1.5, 0.1, 5, 1)],
)
def test_dirac_update_jacobian_closed_form(gamma, eta_g, eta_d, n_d, n_reg):
    """The dense Jacobian of the actual update map (jacfwd through the OT solve) equals
    F′(0) = [[1 − η_G(1 − a^m), η_G a^m], [−(1 − a^m), a^m]], a = 1 − η_Dγ, m = n_d n_reg;
    det F′ = a^m, and ρ(F′) < 1."""
    scheme = tr.WGANQC(
        DiracGAN("wgan"), gamma, (optax.sgd(eta_g), optax.sgd(eta_d)), n_d=n_d, n_reg=n_reg
    )
    Fp = np.asarray(tr.update_jacobian(scheme, _dirac(0.0, 0.0), (_dirac_batch(2),)))
    want = tr.wganqc_dirac_update_jacobian(gamma, eta_g, eta_d, n_d, n_reg)
    np.testing.assert_allclose(Fp, want, rtol=1e-13, atol=1e-15)
    a_m = (1 - eta_d * gamma) ** (n_d * n_reg)
    assert np.linalg.det(Fp) == pytest.approx(a_m, rel=1e-12)
    assert np.max(np.abs(np.linalg.eigvals(Fp))) < 1.0


# ---------------------------------------------------------------------------------------------
# Dirac-GAN: convergence where WGAN orbits or diverges


def _dirac_seeds():
    th = jnp.array([1.0, -1.0, 0.5, -2.0])
    ps = jnp.array([0.0, 0.5, -0.5, -1.0])
    game = DiracGAN("wgan")
    return jax.vmap(game.make_state)(th, ps), np.hypot(th, ps)


def test_dirac_wganqc_contracts_where_wgan_does_not():
    """120 steps at η = 0.1: WGAN-QC (γ = 1) shrinks ‖x − x*‖ by > 100× from every start;
    WGAN with simultaneous GDA grows it by exactly (1 + η²)^{k/2}; alternating GDA keeps it
    within a factor 2 (an orbit)."""
    game = DiracGAN("wgan")
    xs = game.equilibrium()
    x0s, d0 = _dirac_seeds()
    k = 120
    qc = tr.run(tr.WGANQC(game, 1.0, 0.1, batch_size=1), x0s, k, jax.random.key(0), x_star=xs)
    assert np.all(np.asarray(qc.final_distance) < 1e-2 * d0)
    b = game.vector_field(population=True)
    sim = tr.run(tr.SimultaneousGDA(b, 0.1), x0s, k, x_star=xs)
    np.testing.assert_allclose(sim.final_distance, d0 * (1 + 0.01) ** (k / 2), rtol=1e-10)
    alt = tr.run(tr.AlternatingGDA(b, 0.1), x0s, k, x_star=xs, save_every=10)
    dist = np.asarray(alt.distances)
    assert np.all(dist.min(axis=1) > 0.5 * d0) and np.all(dist.max(axis=1) < 2 * d0)


def test_dirac_norm_regulariser_spurious_stationary_point():
    """With the authors' norm form (‖∇D‖ − ‖y_σ − x‖)² the Dirac-GAN from (θ, ψ) = (1, 0) is
    drawn to (−2√γ, 0⁻): there ψ = 0 stops the generator and, as ψ → 0⁻,
    ∂_ψ L_D → θ³/4 + γ|θ| = |θ|(γ − θ²/4) = 0. The smooth "vector" form has no such point."""
    gamma = 1.0
    game = DiracGAN("wgan")
    scheme = tr.WGANQC(game, gamma, 0.1, regulariser="norm")
    batch = (_dirac_batch(1),)
    state = scheme.init(_dirac(1.0, 0.0))
    state = jax.lax.fori_loop(0, 400, lambda i, s: scheme.step(s, batch), state)
    theta, psi = float(state.x[0].theta), float(state.x[1].psi)
    assert theta == pytest.approx(-2.0 * np.sqrt(gamma), abs=1e-5)
    assert -1e-5 < psi < 0.0


# ---------------------------------------------------------------------------------------------
# mixture of Gaussians with MLP players (minibatch OT)


def test_mog_ring_minibatch_runs(getkey):
    """A few WGAN-QC steps (2 OT solves × 2 regression steps each) on the MoG ring with small
    MLPs through `training.run` over two seeds (vmapped, batches sampled inside the scan):
    finite, shapes kept, Sinkhorn iterations counted, a positive OT value."""
    game = MixtureOfGaussians("ring", loss="wgan", latent_dim=4, width=16, depth=1)
    scheme = tr.WGANQC(game, 0.1, optax.adam(1e-3), batch_size=16, n_d=2, n_reg=2)
    x0s = jax.vmap(game.init)(jax.random.split(getkey(), 2))
    sol = tr.run(scheme, x0s, 3, getkey())
    assert np.all(np.isfinite(flat(sol.x_final)))
    for a, b in zip(jax.tree_util.tree_leaves(sol.x_final), jax.tree_util.tree_leaves(x0s)):
        assert a.shape == b.shape
    iters = np.asarray(sol.state.stats["sinkhorn_iterations"])
    assert iters.shape == (2,) and np.all(iters >= 3 * 2 * 10)  # ≥ one check of 10 per solve
    assert np.all(np.asarray(sol.state.stats["ot_value"]) > 0)
    assert not np.any(sol.diverged)


def test_bad_inputs():
    game = DiracGAN("wgan")
    with pytest.raises(ValueError, match="AbstractGANGame"):
        tr.WGANQCField(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="regulariser"):
        tr.WGANQC(game, regulariser="l1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="either sampler or batch_size"):
        tr.WGANQC(game, sampler=lambda k: None, batch_size=4)
    with pytest.raises(ValueError, match="event shape"):
        tr.quadratic_ot_targets(jnp.zeros((3, 2)), jnp.zeros((3, 3)))
    with pytest.raises(ValueError, match="gamma"):
        tr.WGANQCField(game, -1.0)
    f = tr.WGANQCField(game, 1.0)
    with pytest.raises(ValueError, match="b\\(x, batch\\)"):
        f(_dirac(0.1, 0.2))
    with pytest.raises(ValueError, match="minibatch"):
        f(_dirac(0.1, 0.2), jnp.zeros(3))


# ---------------------------------------------------------------------------------------------
# slow: the full convergence statement


@pytest.mark.slow
def test_dirac_convergence_rates_slow():
    """Over γ ∈ {0.3, 1, 3} and four starts, 3000 steps at η = 0.1: WGAN-QC converges
    (‖x − x*‖ < 1e-12) at the asymptotic rate ρ(F′(0)) of the closed form (fit of log‖x_k‖ over
    steps 300–1500, to 0.1%); WGAN with simultaneous GDA grows by exactly (1.01)^{k/2} ≈ 3e6,
    with alternating GDA (n_d = 5) it stays on its orbit."""
    game = DiracGAN("wgan")
    xs = game.equilibrium()
    x0s, d0 = _dirac_seeds()
    k, every = 3000, 50
    for gamma in (0.3, 1.0, 3.0):
        scheme = tr.WGANQC(game, gamma, 0.1, batch_size=1)
        sol = tr.run(scheme, x0s, k, jax.random.key(1), x_star=xs, save_every=every, tol=1e-12)
        rho = np.max(np.abs(np.linalg.eigvals(tr.wganqc_dirac_update_jacobian(gamma, 0.1, 0.1))))
        dist = np.asarray(sol.distances)
        ts = np.asarray(sol.ts)
        window = (ts >= 300) & (ts <= 1500)
        rates = [np.exp(np.polyfit(ts[window], np.log(d[window]), 1)[0]) for d in dist]
        print(
            f"gamma={gamma}: rho(F')={rho:.6f}, fitted rates {np.round(rates, 6)}, "
            f"final distances {np.asarray(sol.final_distance)}"
        )
        np.testing.assert_allclose(rates, rho, rtol=1e-3)
        assert np.all(sol.converged)
    b = game.vector_field(population=True)
    sim = tr.run(tr.SimultaneousGDA(b, 0.1), x0s, k, x_star=xs, blowup=1e12)
    np.testing.assert_allclose(sim.final_distance, d0 * 1.01 ** (k / 2), rtol=1e-9)
    alt = tr.run(tr.AlternatingGDA(b, 0.1, n_d=5), x0s, k, x_star=xs, save_every=every)
    dist = np.asarray(alt.distances)
    print("simultaneous growth", np.asarray(sim.final_distance) / d0)
    print("alternating min/max ratio", dist.min(axis=1) / d0, dist.max(axis=1) / d0)
    assert np.all(dist.min(axis=1) > 0.3 * d0) and np.all(dist.max(axis=1) < 3 * d0)
    assert not np.any(alt.converged)
