"""Training schemes and runs, against closed-form maths (float64).

Dirac-GAN (ganflow convention Φ = f(0) + f(−ψθ)): b0 = (ψ f′(−ψθ), −θ f′(−ψθ)).
Bilinear Φ = θω: b0 = (−ω, θ), J = [[0, −1], [1, 0]].
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ganflow as gf
from ganflow import training as tr
from ganflow.dynamics import Objective, vector_field
from tests.conftest import flat, tree_allclose

# ---------------------------------------------------------------------------------------------
# helpers


def sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


def dirac_b(theta, psi, loss):
    fp = sigmoid(psi * theta) if loss == "gan" else 1.0
    return np.array([psi * fp, -theta * fp])


def scalar_state(theta, omega):
    return (jnp.asarray(theta, dtype=float), jnp.asarray(omega, dtype=float))


def bilinear_field():
    return vector_field(lambda t, w: t * w)


def seeds_near(x_star, key, radius, n=64):
    """n initial states x* + radius·N(0, I) (leaves with a leading seed axis)."""
    leaves, treedef = jax.tree_util.tree_flatten(x_star)
    keys = jax.random.split(key, len(leaves))
    noisy = [
        jnp.asarray(a) + radius * jax.random.normal(k, (n, *jnp.shape(a)))
        for a, k in zip(leaves, keys)
    ]
    return jax.tree_util.tree_unflatten(treedef, noisy)


def rho(scheme, x_star):
    return float(gf.analysis.spectral_radius(tr.update_jacobian(scheme, x_star)))


# ---------------------------------------------------------------------------------------------
# one step by hand


@pytest.mark.parametrize("loss", ["gan", "wgan"])
def test_sgd_steps_equal_hand_computation(loss):
    game = gf.DiracGAN(loss)
    b = game.vector_field(population=True)
    th, ps, eta = 0.7, -0.4, 0.3
    x0 = game.make_state(th, ps)

    def got(scheme, n=1):
        s = scheme.init(x0)
        for _ in range(n):
            s = scheme.step(s)
        return np.array([s.x[0].theta, s.x[1].psi])

    # simultaneous: x + η b0
    want = np.array([th, ps]) + eta * dirac_b(th, ps, loss)
    np.testing.assert_allclose(got(tr.SimultaneousGDA(b, optax.sgd(eta))), want, rtol=1e-15)
    np.testing.assert_allclose(got(tr.SimultaneousGDA(b, eta)), want, rtol=1e-15)
    # alternating, n_d = 2 discriminator steps first, then n_g = 1 generator step
    t, p = th, ps
    for _ in range(2):
        p = p + eta * dirac_b(t, p, loss)[1]
    t = t + eta * dirac_b(t, p, loss)[0]
    np.testing.assert_allclose(got(tr.AlternatingGDA(b, eta, n_d=2)), [t, p], rtol=1e-15)
    # extragradient
    half = np.array([th, ps]) + eta * dirac_b(th, ps, loss)
    want = np.array([th, ps]) + eta * dirac_b(*half, loss)
    np.testing.assert_allclose(got(tr.Extragradient(b, eta)), want, rtol=1e-15)
    # optimistic, two steps: plain first, then x + η(2 b_1 − b_0)
    x1 = np.array([th, ps]) + eta * dirac_b(th, ps, loss)
    x2 = x1 + eta * (2 * dirac_b(*x1, loss) - dirac_b(th, ps, loss))
    np.testing.assert_allclose(got(tr.OptimisticGDA(b, eta), 2), x2, rtol=1e-14)


def test_adam_trajectory_equals_hand_adam():
    """Each player's Adam sees −b (its descent gradient): 30 steps against NumPy Adam."""
    phi = lambda t, w: 0.5 * t**2 + t * w - 0.5 * w**2  # noqa: E731  b = (−t−w, t−w)
    scheme = tr.SimultaneousGDA(vector_field(phi), optax.adam(0.05))
    s = scheme.init(scalar_state(1.0, -0.5))
    x = np.array([1.0, -0.5])
    m = np.zeros(2)
    v = np.zeros(2)
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.05
    for k in range(1, 31):
        s = scheme.step(s)
        g = -np.array([-x[0] - x[1], x[0] - x[1]])
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        x = x - lr * (m / (1 - b1**k)) / (np.sqrt(v / (1 - b2**k)) + eps)
    np.testing.assert_allclose(flat(s.x), x, rtol=1e-12)


def test_unrolled_cgd_ttur_ema_by_hand():
    b = bilinear_field()
    th, om, eta, alpha = 0.6, -0.3, 0.2, 0.5
    x0 = scalar_state(th, om)
    # unrolled k=1 on θω: ω1 = ω + αθ, L = θ(ω + αθ) → dL/dθ = ω + 2αθ
    sch = tr.Unrolled(lambda t, w: t * w, k=1, unroll_lr=alpha, optimizer=eta)
    s = sch.step(sch.init(x0))
    np.testing.assert_allclose(flat(s.x), [th - eta * (om + 2 * alpha * th), om + eta * th])
    # without the second-order term the generator steps along −∂_θ L at ω1: dL/dθ = ω + αθ
    fo = tr.Unrolled(lambda t, w: t * w, k=1, unroll_lr=alpha, optimizer=eta, second_order=False)
    np.testing.assert_allclose(flat(fo.step(fo.init(x0)).x),
                               [th - eta * (om + alpha * th), om + eta * th])
    # k = 0 is simultaneous GDA
    s0 = tr.Unrolled(lambda t, w: t * w, k=0, unroll_lr=alpha, optimizer=eta)
    np.testing.assert_allclose(flat(s0.step(s0.init(x0)).x), [th - eta * om, om + eta * th])
    # CGD on θω (Schäfer–Anandkumar): Δθ = −η(ω + ηθ)/(1+η²), Δω = η(θ − ηω)/(1+η²)
    cgd = tr.CompetitiveGD(b, eta)
    s = cgd.step(cgd.init(x0))
    want = [th - eta * (om + eta * th) / (1 + eta**2), om + eta * (th - eta * om) / (1 + eta**2)]
    np.testing.assert_allclose(flat(s.x), want, rtol=1e-12)
    assert int(s.stats["cg_iterations"]) >= 1
    # TTUR: η_t = η0 / (1 + t)^p per player
    ttur = tr.TTUR(b, 0.2, 0.4, power_theta=1.0, power_omega=0.5)
    s = ttur.init(x0)
    x = np.array([th, om])
    for t in range(3):
        s = ttur.step(s)
        x = x + np.array([0.2 / (1 + t), 0.4 / (1 + t) ** 0.5]) * np.array([-x[1], x[0]])
    np.testing.assert_allclose(flat(s.x), x, rtol=1e-14)
    # EMA of the generator
    ema = tr.EMA(tr.SimultaneousGDA(b, eta), decay=0.5)
    s = ema.init(x0)
    x, avg = np.array([th, om]), th
    for _ in range(3):
        s = ema.step(s)
        x = x + eta * np.array([-x[1], x[0]])
        avg = 0.5 * avg + 0.5 * x[0]
    np.testing.assert_allclose(flat(s.x), x, rtol=1e-14)
    np.testing.assert_allclose(ema.average(s), avg, rtol=1e-14)


def test_minibatch_plumbing_independent_batches():
    """With a sampler each field evaluation draws its own batch: keys = split(key, n_d + n_g)."""
    phi = lambda t, w, batch: jnp.mean(batch) * t * w  # noqa: E731
    b = vector_field(phi)
    sampler = lambda k: jax.random.normal(k, (5,))  # noqa: E731
    scheme = tr.AlternatingGDA(b, 0.1, sampler=sampler, n_d=2, n_g=1)
    key = jax.random.key(3)
    s = scheme.step(scheme.init(scalar_state(1.0, 2.0)), key)
    c = [float(jnp.mean(sampler(k))) for k in jax.random.split(key, 3)]
    assert len({round(v, 12) for v in c}) == 3  # three different batches
    t, w = 1.0, 2.0
    w = w + 0.1 * c[0] * t
    w = w + 0.1 * c[1] * t
    t = t - 0.1 * c[2] * w
    np.testing.assert_allclose(flat(s.x), [t, w], rtol=1e-14)
    # run(): per-seed keys, batches sampled inside the scan, reproducible
    x0s = (jnp.ones(4), 2.0 * jnp.ones(4))
    s1 = tr.run(scheme, x0s, 10, jax.random.key(0))
    s2 = tr.run(scheme, x0s, 10, jax.random.key(0))
    np.testing.assert_array_equal(s1.x_final[0], s2.x_final[0])
    assert len(set(np.asarray(s1.x_final[0]).round(12))) == 4  # seeds see different batches


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


# ---------------------------------------------------------------------------------------------
# runs: divergence flagged per seed, never poisoning the others


def _quartic_field():
    # Φ = θ²/2 + θ⁴/4 − ω²/2: GD on θ blows up from large θ0, converges from small θ0
    return vector_field(lambda t, w: t**2 / 2 + t**4 / 4 - w**2 / 2)


def test_diverging_seed_flagged_and_isolated(getkey):
    b = _quartic_field()
    eta, bad_index, blowup = 0.5, 17, 1e6
    base = seeds_near(scalar_state(0.0, 0.0), getkey(), 0.5)
    bad = (base[0].at[bad_index].set(10.0), base[1])
    sol_bad = tr.run(
        tr.SimultaneousGDA(b, eta),
        bad,
        50,
        x_star=scalar_state(0.0, 0.0),
        tol=1e-6,
        blowup=blowup,
        save_every=10,
    )
    sol_ok = tr.run(
        tr.SimultaneousGDA(b, eta),
        base,
        50,
        x_star=scalar_state(0.0, 0.0),
        tol=1e-6,
        blowup=blowup,
        save_every=10,
    )
    # the step of divergence, by hand
    t, k = 10.0, 0
    while np.isfinite(t) and abs(t) <= blowup:
        t, k = t - eta * (t + t**3), k + 1
    assert sol_bad.status_names[bad_index] == "diverged"
    assert int(sol_bad.diverged_step[bad_index]) == k
    assert np.all(np.isfinite(np.asarray(sol_bad.xs[0])))  # frozen at its last good state
    others = np.arange(64) != bad_index
    for a, c in zip(jax.tree_util.tree_leaves(sol_bad.xs), jax.tree_util.tree_leaves(sol_ok.xs)):
        np.testing.assert_array_equal(np.asarray(a)[others], np.asarray(c)[others])  # bitwise
    np.testing.assert_array_equal(
        np.asarray(sol_bad.status)[others], np.asarray(sol_ok.status)[others]
    )
    assert np.all(np.asarray(sol_ok.status) == gf.engine.RESULTS.converged)
    assert np.all(np.asarray(sol_ok.diverged_step) == -1)
    with pytest.raises(Exception, match="diverged"):
        jax.block_until_ready(
            tr.run(tr.SimultaneousGDA(b, eta), bad, 50, blowup=blowup, throw=True).status
        )


# ---------------------------------------------------------------------------------------------
# bad input, before compiling


def test_bad_input_errors():
    b = bilinear_field()
    x0 = scalar_state(1.0, 1.0)
    with pytest.raises(ValueError, match="n_d"):
        tr.AlternatingGDA(b, 0.1, n_d=0)
    with pytest.raises(ValueError, match="n_g"):
        tr.AlternatingGDA(b, 0.1, n_g=0)
    with pytest.raises(ValueError, match="learning rate"):
        tr.SimultaneousGDA(b, -0.1)
    with pytest.raises(ValueError, match="learning rate"):
        tr.SimultaneousGDA(b, (0.1, 0.0))
    with pytest.raises(ValueError, match="eta"):
        tr.CompetitiveGD(b, 0.0)
    with pytest.raises(ValueError, match="scheme"):
        tr.make_scheme("leapfrog", b)
    with pytest.raises(ValueError, match="unroll_lr"):
        tr.Unrolled(lambda t, w: t * w, k=2, unroll_lr=-1.0)
    sgd = tr.SimultaneousGDA(b, 0.1)
    adam = tr.SimultaneousGDA(b, optax.adam(0.1))
    wrong = adam.init(x0).opt_state
    with pytest.raises(ValueError, match="opt_state"):
        sgd.init(x0, opt_state=wrong)
    with pytest.raises(ValueError, match="opt_state"):
        sgd.step(adam.init(x0))
    with pytest.raises(ValueError, match="save_every"):
        tr.run(sgd, (jnp.ones(2), jnp.ones(2)), 10, save_every=3)
    with pytest.raises(ValueError, match="key"):
        tr.run(tr.SimultaneousGDA(b, 0.1, sampler=lambda k: None), (jnp.ones(2), jnp.ones(2)), 5)
    # a minibatch field b(x, batch) in a scheme with neither a sampler nor data: a ganflow line,
    # not JAX's "missing 1 required positional argument" from inside the trace
    dirac = gf.DiracGAN("gan")
    minibatch = tr.SimultaneousGDA(dirac.vector_field(), 0.1)
    x1 = dirac.make_state(1.0, 0.5)
    with pytest.raises(ValueError, match="no sampler and was given no data"):
        minibatch.step(minibatch.init(x1))
    with pytest.raises(ValueError, match="population=True"):
        tr.run(minibatch, jax.tree.map(lambda a: jnp.full((2,), a), x1), 5)
    # the population field needs no data
    assert np.isfinite(flat(tr.SimultaneousGDA(dirac.vector_field(population=True), 0.1)
                            .step(minibatch.init(x1)).x)).all()


def test_step_under_jit_and_vmap():
    b = bilinear_field()
    scheme = tr.SimultaneousGDA(b, 0.1)
    s = scheme.init(scalar_state(1.0, 2.0))
    s_jit = eqx.filter_jit(scheme.step)(s)
    np.testing.assert_array_equal(flat(s_jit.x), flat(scheme.step(s).x))
    states = jax.vmap(scheme.init)((jnp.arange(3.0), jnp.ones(3)))
    out = jax.vmap(scheme.step)(states)
    np.testing.assert_allclose(out.x[0], np.arange(3.0) - 0.1)


# ---------------------------------------------------------------------------------------------
# with ganflow.stabilisers


def test_stabilised_fields_drive_schemes(getkey):
    from ganflow import stabilisers as st

    game = gf.DiracGAN("wgan")
    xs = game.equilibrium()
    # R1 and R2 through stabilise(): on the Dirac-GAN both have the spectrum −γ/2 ± sqrt(γ²/4 − 1)
    lam = -0.5 + np.array([1, -1]) * np.sqrt(complex(0.25 - 1.0))
    x0s = seeds_near(xs, getkey(), 0.1)
    for reg in (st.R1(1.0), st.R2(1.0)):
        b = st.stabilise(game, reg, population=True)
        assert rho(tr.SimultaneousGDA(b, 0.3), xs) == pytest.approx(
            np.max(np.abs(1 + 0.3 * lam)), rel=1e-12
        )
        sol = tr.run(tr.SimultaneousGDA(b, 0.3), x0s, 400, x_star=xs)
        assert np.all(sol.converged)
    # weight clipping is applied after every step
    clip = st.stabilise(game, st.WeightClipping(0.05), population=True)
    s = tr.SimultaneousGDA(clip, 0.5).step(
        tr.SimultaneousGDA(clip, 0.5).init(game.make_state(1.0, 0.0))
    )
    np.testing.assert_allclose(s.x[1].psi, -0.05)  # ψ + 0.5·(−θ) = −0.5, clipped to −0.05


def test_cgd_general_field_uses_gmres():
    """Non-zero-sum (NK-penalised generator): Δ solves [[I, −ηJ_θω], [−ηJ_ωθ, I]] Δ = η b."""
    from ganflow import stabilisers as st

    game = gf.DiracGAN("gan")
    b = st.stabilise(game, st.NagarajanKolter(0.7), population=True)
    x = game.make_state(0.4, -0.3)
    eta = 0.4
    cgd = tr.CompetitiveGD(b, eta)
    assert not cgd.symmetric
    s = eqx.filter_jit(cgd.step)(cgd.init(x))
    J = np.asarray(gf.jacobian(b, x))
    M = np.array([[1.0, -eta * J[0, 1]], [-eta * J[1, 0], 1.0]])
    delta = np.linalg.solve(M, eta * flat(b(x)))
    np.testing.assert_allclose(flat(s.x), flat(x) + delta, rtol=1e-10)
    with pytest.raises(ValueError, match="Objective"):
        tr.Unrolled(game, k=1, unroll_lr=0.1)


def test_seed_chunks_equal_one_vmap():
    """`run(execution=Execution(chunk=k))` computes the seeds k at a time (`lax.map`): the
    same numbers as one vmap over all seeds, with a population field (no key) and with a
    sampler (keys)."""
    game = gf.DiracGAN("gan")
    field = gf.stabilise(game, gf.R1(1.0), population=True)
    x0s = jax.vmap(game.init)(jax.random.split(jax.random.key(5), 5))
    sch = tr.SimultaneousGDA(field, optax.sgd(0.1))
    a = tr.run(sch, x0s, 50, save_every=10, execution=gf.engine.Execution(chunk=2))
    b = tr.run(sch, x0s, 50, save_every=10, execution=gf.engine.Execution(chunk=5))
    assert tree_allclose(a.xs, b.xs, rtol=1e-14, atol=1e-15)
    nk = gf.get_game("nk2d", loss="wgan")
    sampled = tr.SimultaneousGDA(nk.vector_field(), optax.sgd(0.05), lambda k: nk.sample(k, 8))
    x0s = jax.vmap(nk.init)(jax.random.split(jax.random.key(6), 5))
    a = tr.run(sampled, x0s, 20, jax.random.key(7), execution=gf.engine.Execution(chunk=2))
    b = tr.run(sampled, x0s, 20, jax.random.key(7))
    assert tree_allclose(a.x_final, b.x_final, rtol=1e-13, atol=1e-14)
    with pytest.raises(ValueError, match="chunk must be >= 1"):
        gf.engine.Execution(chunk=0)
    with pytest.raises(ValueError, match="execution must be a ganflow.engine.Execution"):
        tr.run(sch, jax.vmap(game.init)(jax.random.split(jax.random.key(5), 3)), 5, execution=2)
