"""Training schemes converge, orbit or diverge exactly where local theory says (float64): the
Dirac-GAN (Mescheder 2018), Nagarajan–Kolter's 2-D example, the bilinear game, and LSS avoiding
non-Nash points (docs/conventions.md §Reference results)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ganflow as gf
from ganflow import training as tr
from ganflow.dynamics import Objective, vector_field
from tests.conftest import flat
from tests.training_helpers import bilinear_field, rho, scalar_state, seeds_near

# ---------------------------------------------------------------------------------------------
# Dirac-GAN: converge exactly where theory says (Mescheder 2018)


def _dirac_stabilised(kind, loss, gamma):
    """Stabilised Dirac-GAN fields built inline from their definitions (docs/conventions.md
    §Stabilisers)."""
    game = gf.DiracGAN(loss)
    f = game.loss.f
    phi = lambda th, om: game.phi((th, om))  # noqa: E731
    if kind == "r1":  # Φ_D = Φ − (γ/2)|∇_x D|² = Φ − (γ/2)ψ²
        return vector_field(Objective(phi, lambda th, om: phi(th, om) - 0.5 * gamma * om.psi**2))
    if kind == "nk":  # the generator descends Φ + λ‖∇_ψ Φ‖²
        gpsi = jax.grad(phi, argnums=1)
        gen = lambda th, om: phi(th, om) + gamma * gpsi(th, om).psi ** 2  # noqa: E731
        return vector_field(Objective(gen, phi))
    if kind == "consensus":  # b − γ Jᵀ b
        b = game.vector_field(population=True)

        def field(x):
            v, pull = jax.vjp(b, x)
            return jax.tree_util.tree_map(lambda a, c: a - gamma * c, v, pull(v)[0])

        return field
    if kind == "noise":  # instance noise σ = γ on data and samples, exact expectation
        z, w = np.polynomial.hermite_e.hermegauss(40)
        z, w = jnp.asarray(z), jnp.asarray(w / w.sum())

        def noisy(th, om):
            return jnp.sum(w * f(om.psi * gamma * z)) + jnp.sum(
                w * f(-om.psi * (th.theta + gamma * z))
            )

        return vector_field(noisy)
    raise AssertionError(kind)


def _closed_form_eigs(kind, loss, gamma):
    L = gf.get_loss(loss)
    fp, fpp = float(L.f_prime(0.0)), float(L.f_second(0.0))
    if kind == "r1":
        return -gamma / 2 + np.array([1, -1]) * np.sqrt(complex(gamma**2 / 4 - fp**2))
    if kind == "nk":
        return -gamma * fp**2 + np.array([1, -1]) * np.sqrt(complex(gamma**2 * fp**4 - fp**2))
    if kind == "consensus":
        return -gamma * fp**2 + np.array([1j, -1j]) * fp
    if kind == "noise":
        return fpp * gamma**2 + np.array([1, -1]) * np.sqrt(complex(fpp**2 * gamma**4 - fp**2))
    raise AssertionError(kind)


@pytest.mark.parametrize("loss", ["gan", "wgan"])
def test_dirac_unregularised_do_not_converge(loss, getkey):
    game = gf.DiracGAN(loss)
    b = game.vector_field(population=True)
    fp = float(game.loss.f_prime(0.0))
    xs = game.equilibrium()
    h = 0.1
    # simultaneous: |λ| = sqrt(1 + h² f′(0)²) > 1
    sim = tr.SimultaneousGDA(b, h)
    assert rho(sim, xs) == pytest.approx(np.sqrt(1 + h**2 * fp**2), rel=1e-12)
    # alternating with n_d, n_g: λ = 1 − α²/2 ± sqrt((1 − α²/2)² − 1), on the unit circle
    for n_d, n_g in [(1, 1), (5, 1)]:
        alt = tr.AlternatingGDA(b, h, n_d=n_d, n_g=n_g)
        eig = np.linalg.eigvals(np.asarray(tr.update_jacobian(alt, xs)))
        a = np.sqrt(n_g * n_d) * h * fp
        want = 1 - a**2 / 2 + np.array([1, -1]) * np.sqrt(complex((1 - a**2 / 2) ** 2 - 1))
        np.testing.assert_allclose(np.sort_complex(eig), np.sort_complex(want), atol=1e-12)
        np.testing.assert_allclose(np.abs(eig), 1.0, atol=1e-12)
    # simulations from 64 seeds near 0: nobody converges
    x0s = seeds_near(xs, getkey(), 0.1)
    d0 = np.linalg.norm(np.stack([x0s[0].theta, x0s[1].psi]), axis=0)
    sol = tr.run(sim, x0s, 400, x_star=xs, tol=1e-6)
    assert not np.any(sol.converged)
    assert np.all(np.asarray(sol.final_distance) > d0)  # spirals out
    if loss == "wgan":  # b0 is linear: the distance grows exactly by sqrt(1 + h²) per step
        np.testing.assert_allclose(sol.final_distance, d0 * (1 + h**2) ** 200, rtol=1e-10)
    alt5 = tr.AlternatingGDA(b, h, n_d=5)
    sol = tr.run(alt5, x0s, 400, x_star=xs, tol=1e-6, save_every=40)
    assert not np.any(sol.converged)
    dist = np.asarray(sol.distances)
    assert np.all(dist.min(axis=1) > 0.3 * d0) and np.all(dist.max(axis=1) < 3 * d0)


@pytest.mark.parametrize(
    "kind, loss, gamma",
    [
        ("r1", "gan", 1.5),
        ("r1", "wgan", 1.0),
        ("consensus", "wgan", 0.5),
        ("nk", "gan", 1.0),
        ("nk", "wgan", 0.3),
        ("noise", "gan", 1.5),
    ],
)
def test_dirac_stabilised_converge_where_theory_says(kind, loss, gamma, getkey):
    """Eigenvalues of the stabilised field at 0 equal their closed forms; ρ(I + hJ) from the
    actual update map matches; a learning-rate grid converges exactly where ρ < 1."""
    game = gf.DiracGAN(loss)
    b = _dirac_stabilised(kind, loss, gamma)
    xs = game.equilibrium()
    lam = _closed_form_eigs(kind, loss, gamma)
    eig = np.linalg.eigvals(np.asarray(gf.jacobian(b, xs)))
    np.testing.assert_allclose(np.sort_complex(eig), np.sort_complex(lam), atol=1e-9)
    assert np.all(lam.real < 0)
    hs = np.array([0.05, 0.3, 1.0, 2.0, 4.0, 8.0])
    want_rho = np.array([np.max(np.abs(1 + h * lam)) for h in hs])
    assert rho(tr.SimultaneousGDA(b, 0.3), xs) == pytest.approx(want_rho[1], rel=1e-9)
    x0s = seeds_near(xs, getkey(), 0.05)
    sol = tr.run_grid(
        lambda h: tr.SimultaneousGDA(b, optax.sgd(h)),
        jnp.asarray(hs),
        x0s,
        1500,
        x_star=xs,
        tol=1e-7,
        blowup=1e3,
    )
    frac = np.asarray(jnp.mean(sol.converged, axis=1))
    ok = want_rho < 0.99  # clearly stable within 1500 steps
    bad = want_rho > 1.0
    assert ok.any() and bad.any()
    np.testing.assert_array_equal(frac[ok], 1.0)
    np.testing.assert_array_equal(frac[bad], 0.0)


# ---------------------------------------------------------------------------------------------
# Nagarajan–Kolter 2-D (§4, Fig. 3): x, z ~ U[−1, 1], D(x) = w x², G(z) = a z; x* = (a, w) = (1, 0)

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(40)


def nk_phi(loss):
    f = gf.get_loss(loss).f
    u, wts = jnp.asarray(_GL_NODES), jnp.asarray(_GL_WEIGHTS / 2.0)  # uniform on [−1, 1]

    def phi(a, w):
        return jnp.sum(wts * f(w * u**2)) + jnp.sum(wts * f(-w * a**2 * u**2))

    return phi


def nk_conserved(a, w):
    """H = w² + (a² − log a²)/2: dH/dt = 0 along ẇ = (1 − a²)/3, ȧ = (2/3) w a (the WGAN flow)."""
    return w**2 + 0.5 * (a**2 - np.log(a**2))


def test_nk2d_wgan_orbits_with_conserved_quantity(getkey):
    b = vector_field(nk_phi("wgan"))
    x0 = scalar_state(1.3, 0.2)
    h0 = nk_conserved(1.3, 0.2)
    drifts = []
    for eta in (2e-3, 1e-3):
        n = int(round(6.0 / eta))
        sol = tr.run(tr.SimultaneousGDA(b, eta), (x0[0][None], x0[1][None]), n, save_every=n // 20)
        a, w = np.asarray(sol.xs[0][0]), np.asarray(sol.xs[1][0])
        hvals = nk_conserved(a, w)
        drifts.append(np.max(np.abs(hvals - h0)))
        # a genuine orbit: it travels far, and comes nowhere near x* = (1, 0)
        assert np.ptp(a) > 0.3 and np.min(np.hypot(a - 1, w)) > 0.1
    # the discrete drift is first order in η (Euler on a conservative flow): halving η halves it
    assert drifts[1] < 2e-2
    assert drifts[0] / drifts[1] == pytest.approx(2.0, rel=0.1)


@pytest.mark.parametrize("loss, lam", [("gan", 0.0), ("gan", 0.5), ("wgan", 0.5)])
def test_nk2d_converges(loss, lam, getkey):
    phi = nk_phi(loss)
    gw = jax.grad(phi, argnums=1)
    gen = (lambda a, w: phi(a, w) + lam * gw(a, w) ** 2) if lam else phi
    b = vector_field(Objective(gen, phi))
    xs = scalar_state(1.0, 0.0)
    lam_j = np.linalg.eigvals(np.asarray(gf.jacobian(b, xs)))
    assert np.all(lam_j.real < 0)
    x0s = seeds_near(xs, getkey(), 0.1)
    sol = tr.run(tr.SimultaneousGDA(b, 0.5), x0s, 3000, x_star=xs, tol=1e-6)
    assert np.all(sol.converged)
    assert rho(tr.SimultaneousGDA(b, 0.5), xs) == pytest.approx(
        np.max(np.abs(1 + 0.5 * lam_j)), rel=1e-10
    )


def test_nk2d_unregularised_wgan_does_not_converge():
    b = vector_field(nk_phi("wgan"))
    lam_j = np.linalg.eigvals(np.asarray(gf.jacobian(b, scalar_state(1.0, 0.0))))
    np.testing.assert_allclose(lam_j.real, 0.0, atol=1e-14)  # purely imaginary: a centre


# ---------------------------------------------------------------------------------------------
# Bilinear θ·ω


def _bilinear_consensus(gamma):
    b = bilinear_field()

    def field(x):
        v, pull = jax.vjp(b, x)
        return jax.tree_util.tree_map(lambda a, c: a - gamma * c, v, pull(v)[0])

    return field


def _bilinear_sga(lam):
    """SGA (Balduzzi 2018) in b's convention: b − λ Aᵀ b, A = (J − Jᵀ)/2."""
    b = bilinear_field()

    def field(x):
        v, pull = jax.vjp(b, x)
        jv = jax.jvp(b, (x,), (v,))[1]
        jtv = pull(v)[0]
        return jax.tree_util.tree_map(lambda a, p, q: a - lam * 0.5 * (p - q), v, jtv, jv)

    return field


def test_bilinear_simultaneous_diverges_alternating_cycles(getkey):
    b = bilinear_field()
    eta = 0.1
    x0s = seeds_near(scalar_state(0.0, 0.0), getkey(), 1.0, n=8)
    d0 = np.hypot(x0s[0], x0s[1])
    sol = tr.run(tr.SimultaneousGDA(b, eta), x0s, 200, save_every=50)
    d = np.hypot(sol.xs[0], sol.xs[1])
    np.testing.assert_allclose(d, d0[:, None] * (1 + eta**2) ** (np.arange(5) * 25), rtol=1e-11)
    # alternating (discriminator first) conserves Q = θ² + ω² + η θ ω exactly and stays bounded
    sol = tr.run(tr.AlternatingGDA(b, eta), x0s, 1000, save_every=50)
    t, w = np.asarray(sol.xs[0]), np.asarray(sol.xs[1])
    q = t**2 + w**2 + eta * t * w
    np.testing.assert_allclose(q, q[:, :1] * np.ones_like(q), rtol=1e-11)
    assert not np.any(sol.converged)


def test_bilinear_fixes_converge(getkey):
    b = bilinear_field()
    eta = 0.2
    xs = scalar_state(0.0, 0.0)
    lam = np.array([1j, -1j])
    schemes = {
        # extragradient: F′ = I + ηJ + η²J², eigenvalues 1 + ηλ + η²λ²
        "eg": (tr.Extragradient(b, eta), np.max(np.abs(1 + eta * lam + (eta * lam) ** 2))),
        # OGDA: μ² − (1 + 2ηλ)μ + ηλ = 0
        "ogda": (
            tr.OptimisticGDA(b, eta),
            max(np.max(np.abs(np.roots([1, -(1 + 2 * eta * l), eta * l]))) for l in lam),
        ),
        # consensus: b − γJᵀb has eigenvalues −γ ± i
        "consensus": (
            tr.SimultaneousGDA(_bilinear_consensus(0.5), eta),
            abs(1 + eta * (-0.5 + 1j)),
        ),
        # SGA: A = J here, same spectrum as consensus with γ = λ
        "sga": (tr.SimultaneousGDA(_bilinear_sga(0.5), eta), abs(1 + eta * (-0.5 + 1j))),
        # CGD: ρ = 1/sqrt(1 + η²)
        "cgd": (tr.CompetitiveGD(b, eta), 1 / np.sqrt(1 + eta**2)),
    }
    x0s = seeds_near(xs, getkey(), 1.0, n=8)
    for name, (scheme, want) in schemes.items():
        assert rho(scheme, xs) == pytest.approx(want, rel=1e-10), name
        assert want < 1
        sol = tr.run(scheme, x0s, 2000, x_star=xs, tol=1e-6)
        assert np.all(sol.converged), name


def test_cgd_vector_bilinear_cg_iterations():
    """θᵀAω with A 3×2: CGD's CG solve is exact; iterations are reported."""
    a = jnp.asarray(np.random.default_rng(0).normal(size=(3, 2)))
    b = vector_field(lambda t, w: t @ a @ w)
    eta = 0.3
    x0 = (jnp.array([1.0, -0.5, 0.2]), jnp.array([0.3, 0.7]))
    s = tr.CompetitiveGD(b, eta).step(tr.CompetitiveGD(b, eta).init(x0))
    t, w = np.asarray(x0[0]), np.asarray(x0[1])
    A = np.asarray(a)
    # Schäfer–Anandkumar, f = θᵀAω: Δθ = −η(I + η²AAᵀ)⁻¹(Aω + ηAAᵀθ)
    dt = -eta * np.linalg.solve(np.eye(3) + eta**2 * A @ A.T, A @ w + eta * A @ A.T @ t)
    dw = eta * np.linalg.solve(np.eye(2) + eta**2 * A.T @ A, A.T @ t - eta * A.T @ A @ w)
    np.testing.assert_allclose(s.x[0], t + dt, rtol=1e-9)
    np.testing.assert_allclose(s.x[1], w + dw, rtol=1e-9)
    assert 1 <= int(s.stats["cg_iterations"]) <= 3


# ---------------------------------------------------------------------------------------------
# LSS converges only to local Nash points

# Φ = u(θ) + 3θω − 2ω² with u′(θ) = (5/12) θ(θ−1)(θ−3) − (9/4)θ. Critical points (θ, 3θ/4) for
# θ ∈ {0, 1, 3}. At 0: u″ = −1 (the generator sits at a local *max*: not Nash), J = [[1, −3],
# [3, −4]] has eigenvalues −3/2 ± i√11/2 (stable for GDA). At 3: u″ = 1/4 > 0, Nash and stable.


def _lss_game_phi(t, w):
    u = (5 / 12) * (t**4 / 4 - 4 * t**3 / 3 + 3 * t**2 / 2) - (9 / 8) * t**2
    return u + 3 * t * w - 2 * w**2


def _lss_field(xi=1.0):
    """Mazumdar et al. 2019 (survey §5.2.2) in b's convention:
    b_LSS = ½(b + Jᵀ(JᵀJ + λ(x)I)⁻¹Jᵀ b), λ(x) = ξ(1 − e^{−‖b‖²}) vanishing at critical points."""
    b = vector_field(_lss_game_phi)

    def field(x):
        v = jnp.stack(b(x))
        J = jnp.stack([jnp.stack(r) for r in jax.jacfwd(b)(x)])
        lam = xi * (1 - jnp.exp(-jnp.sum(v**2)))
        corr = J.T @ jnp.linalg.solve(J.T @ J + lam * jnp.eye(2), J.T @ v)
        out = 0.5 * (v + corr)
        return out[0], out[1]

    return field


def test_lss_avoids_non_nash_point(getkey):
    b = vector_field(_lss_game_phi)
    non_nash, nash = scalar_state(0.0, 0.0), scalar_state(3.0, 2.25)
    for x in (non_nash, nash):
        np.testing.assert_allclose(flat(b(x)), 0.0, atol=1e-14)
    eig = np.linalg.eigvals(np.asarray(gf.jacobian(b, non_nash)))
    np.testing.assert_allclose(
        np.sort_complex(eig),
        np.sort_complex(-1.5 + np.array([1j, -1j]) * np.sqrt(11) / 2),
        atol=1e-12,
    )
    lss = _lss_field()
    # LSS linearises to the symmetric part of J: diag(−u″, −4)
    np.testing.assert_allclose(gf.jacobian(lss, non_nash), np.diag([1.0, -4.0]), atol=1e-9)
    np.testing.assert_allclose(gf.jacobian(lss, nash), np.diag([-0.25, -4.0]), atol=1e-9)
    eta = 0.1
    near0 = seeds_near(non_nash, getkey(), 0.01)
    d0 = np.hypot(near0[0], near0[1])
    gda = tr.run(tr.SimultaneousGDA(b, eta), near0, 1500, x_star=non_nash, tol=1e-8)
    assert np.all(gda.converged)  # plain GDA is attracted to the non-Nash point
    lss_scheme = tr.SimultaneousGDA(lss, eta)
    lsr = tr.run(lss_scheme, near0, 1500, x_star=non_nash, tol=1e-8)
    assert not np.any(lsr.converged)
    # repelled: every seed ends ≥ 5× farther than it started (LSS then rests at points where
    # b ≠ 0 and its correction cancels b — not critical points of the game)
    assert np.all(np.asarray(lsr.final_distance) > np.maximum(5 * d0, 0.2))
    near3 = seeds_near(nash, getkey(), 0.01)
    lsn = tr.run(lss_scheme, near3, 1500, x_star=nash, tol=1e-8)
    assert np.all(lsn.converged)
