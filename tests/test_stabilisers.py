r"""Stabilisers against closed-form mathematics.

Dirac-GAN (ganflow's convention Φ = f(0) + f(−ψθ), x = (θ, ψ)): b0 = (ψ f′(−ψθ), −θ f′(−ψθ)),
so at the equilibrium 0, J = [[0, f′], [−f′, 0]] with f′ = f′(0) (f′ = 1/2, f″ = −1/4 for the
GAN; f′ = 1, f″ = 0 for the WGAN). Each stabilised spectrum below is derived by hand.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate

import ganflow as gf
import ganflow.stabilisers as st
from tests.conftest import flat

LOSSES = ["gan", "wgan"]


def _fp(loss):
    return {"gan": (0.5, -0.25), "wgan": (1.0, 0.0)}[loss]


def _eig(b, x, *args):
    return np.linalg.eigvals(np.asarray(gf.jacobian(b, x, *args)))


def _assert_spectrum(got, want, tol=1e-10):
    key = lambda z: (round(z.imag, 6), round(z.real, 6))
    got = sorted(np.asarray(got, complex), key=key)
    want = sorted(np.asarray(want, complex), key=key)
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)


def _pair(center, disc):
    """center ± sqrt(disc), complex when disc < 0."""
    r = np.emath.sqrt(disc)
    return [center + r, center - r]


def _dirac(loss, **kw):
    game = gf.DiracGAN(loss)
    return game, game.equilibrium()


# ----------------------------------------------------------------------------------------------
# Dirac-GAN spectra (population field, equilibrium 0)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("gamma", [0.3, 3.0])
def test_dirac_r1_r2(loss, gamma):
    """R1/R2 add −(γ/2)ψ² to Φ_D (∇_x D = ψ at every x): J = [[0, f′], [−f′, −γ]],
    μ² + γμ + f′² = 0, μ = −γ/2 ± sqrt(γ²/4 − f′²)."""
    game, x = _dirac(loss)
    fp, _ = _fp(loss)
    want = _pair(-gamma / 2, gamma**2 / 4 - fp**2)
    for stab in (st.R1(gamma), st.R2(gamma)):
        _assert_spectrum(_eig(st.stabilise(game, stab, population=True), x), want)


@pytest.mark.parametrize("loss", LOSSES)
def test_dirac_instance_noise_expected(loss):
    """E over ε₁, ε₂ ∼ N(0, σ²) of f(ψε₁) + f(−ψ(θ + ε₂)): ∂²_ψ Φ at 0 = f″(0)·2σ², so
    J = [[0, f′], [−f′, 2σ²f″]] and μ = f″σ² ± sqrt(f″²σ⁴ − f′²)."""
    game, x = _dirac(loss)
    fp, fs = _fp(loss)
    for sigma in (0.7, 3.0):
        b = st.stabilise(game, st.InstanceNoise(sigma, mode="expected"), population=True)
        _assert_spectrum(_eig(b, x), _pair(fs * sigma**2, fs**2 * sigma**4 - fp**2))


def test_instance_noise_quadrature_against_scipy():
    """The Gauss–Hermite expectation equals the integral of f over the Gaussian noise
    (scipy.integrate.quad) at a point away from 0, for the GAN's logistic f."""
    game = gf.DiracGAN("gan")
    theta, psi, sigma = 0.8, -1.3, 0.9
    obj = st.stabilise(game, st.InstanceNoise(sigma, mode="expected"), population=True).objective
    got = float(obj.discriminator_value(*game.make_state(theta, psi)))
    f = lambda t: -np.logaddexp(0.0, -t)
    dens = lambda e: np.exp(-0.5 * (e / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
    real = scipy.integrate.quad(lambda e: f(psi * e) * dens(e), -np.inf, np.inf, epsabs=1e-14)
    fake = scipy.integrate.quad(
        lambda e: f(-psi * (theta + e)) * dens(e), -np.inf, np.inf, epsabs=1e-14
    )
    np.testing.assert_allclose(got, real[0] + fake[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("loss", LOSSES)
def test_dirac_consensus_and_nk(loss):
    """Consensus: at b = 0 the Jacobian of b − γJᵀb is J − γJᵀJ = [[−γf′², f′], [−f′, −γf′²]]
    (JᵀJ = f′²I): μ = −γf′² ± i f′.

    Nagarajan–Kolter: ‖∇_ψΦ‖² = θ² f′(−ψθ)², so the generator descends
    f(0) + f(−ψθ) + λθ²f′(−ψθ)². To first order at 0, ∂_θ(...) = −ψ f′ + 2λ f′² θ, hence
    b_θ ≈ f′ψ − 2λf′²θ, b_ψ ≈ −f′θ: J = [[−2λf′², f′], [−f′, 0]], trace −2λf′², det f′²,
    μ = −λf′² ± sqrt(λ²f′⁴ − f′²). J_DD = ∂²_ψψΦ = θ²f″ = 0 at 0, so Theorem 3.2's bound is ∞."""
    game, x = _dirac(loss)
    fp, _ = _fp(loss)
    for gamma in (0.4, 2.5):
        b = st.stabilise(game, st.Consensus(gamma), population=True)
        _assert_spectrum(_eig(b, x), [-gamma * fp**2 + 1j * fp, -gamma * fp**2 - 1j * fp])
    for lam in (0.5, 4.0):
        b = st.stabilise(game, st.NagarajanKolter(lam), population=True)
        _assert_spectrum(_eig(b, x), _pair(-lam * fp**2, lam**2 * fp**4 - fp**2))
    assert st.nk_lambda_bound(game, x) == float("inf")


@pytest.mark.parametrize("loss", LOSSES)
def test_dirac_wgan_gp_is_not_locally_convergent(loss):
    """WGAN-GP on the Dirac-GAN: ∇_x D = ψ, so Φ_D = f(0) + f(−ψθ) − λ(|ψ| − 1)² and
    b_ψ = −θ f′(−ψθ) − 2λ(|ψ| − 1) sign ψ. What holds:

    - (0, 0) is the only stationary point (b_θ = ψ f′(−ψθ) = 0 forces ψ = 0, then b_ψ = 0 needs
      θ = 0);
    - the field jumps there: b_ψ(0, 0±) = ±2λ (it pushes |ψ| towards 1), so it is not
      differentiable at the equilibrium; the autodiff Jacobian at 0 (safe norm: derivative 0 at
      0) is the unregularised one, eigenvalues ±f′(0) i — no damping;
    - from 10⁻³ away the gradient flow leaves the neighbourhood: not locally convergent
      (Mescheder et al. 2018, §3).
    """
    lam = 1.5
    game, x = _dirac(loss)
    fp, _ = _fp(loss)
    b = st.stabilise(game, st.WGANGP(lam), population=True)
    _assert_spectrum(_eig(b, x), [1j * fp, -1j * fp])
    np.testing.assert_allclose(flat(b(x)), [0.0, 0.0], atol=0)
    for psi in (1e-9, -1e-9, 1e-3, -0.4):
        got = flat(b(game.make_state(0.0, psi)))
        want = [psi * fp, -2 * lam * (abs(psi) - 1) * np.sign(psi)]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)

    def step(y, _):
        return jax.tree_util.tree_map(lambda a, v: a + 1e-2 * v, y, b(y)), None

    end, _ = jax.lax.scan(step, game.make_state(1e-3, 1e-3), None, length=300)
    assert np.linalg.norm(flat(end)) > 0.5


# ----------------------------------------------------------------------------------------------
# Composition


@pytest.mark.parametrize("loss", LOSSES)
def test_compose_r1_then_consensus(loss):
    """stabilise(game, R1(γ), Consensus(c)) = b − c J_bᵀ b with b the R1 field, written by hand:
    b = (ψ f′(u), −θ f′(u) − γψ), u = −ψθ, and
    J_b = [[−ψ²f″(u), f′(u) − ψθ f″(u)], [−f′(u) + θψ f″(u), θ² f″(u) − γ]]."""
    gamma, c = 1.0, 0.1
    game = gf.DiracGAN(loss)
    if loss == "gan":
        f1 = lambda u: 1.0 / (1.0 + np.exp(u))
        f2 = lambda u: -f1(u) * (1.0 - f1(u))
    else:
        f1, f2 = (lambda u: 1.0), (lambda u: 0.0)
    b = st.stabilise(game, st.R1(gamma), st.Consensus(c), population=True)
    for theta, psi in [(0.3, -0.8), (-1.2, 0.5), (0.0, 0.0), (2.0, 1.5)]:
        u = -psi * theta
        v = np.array([psi * f1(u), -theta * f1(u) - gamma * psi])
        jb = np.array(
            [
                [-(psi**2) * f2(u), f1(u) - psi * theta * f2(u)],
                [-f1(u) + theta * psi * f2(u), theta**2 * f2(u) - gamma],
            ]
        )
        want = v - c * jb.T @ v
        np.testing.assert_allclose(flat(b(game.make_state(theta, psi))), want, rtol=1e-12)
    fp, _ = _fp(loss)
    j = np.array([[0.0, fp], [-fp, -gamma]])
    _assert_spectrum(_eig(b, game.equilibrium()), np.linalg.eigvals(j - c * j.T @ j))


def test_stabilised_jit_and_project():
    game = gf.DiracGAN("gan")
    b = st.stabilise(game, st.R1(1.0), st.SGA(0.3), st.WeightClipping(0.2), population=True)
    x = game.make_state(0.7, -0.9)
    np.testing.assert_allclose(flat(eqx.filter_jit(b)(x)), flat(b(x)), rtol=1e-14)
    np.testing.assert_allclose(flat(b.project(x)), [0.7, -0.2])
    assert not b.needs_key


# ----------------------------------------------------------------------------------------------
# Bilinear, SGA, LSS


def _quadratic(a, bb, c):
    """Φ = ½aθ² + bθω − ½cω²: b0 = (−aθ − bω, bθ − cω), J = [[−a, −b], [b, −c]]."""
    return lambda t, w: 0.5 * a * t**2 + bb * t * w - 0.5 * c * w**2


def test_bilinear_consensus_and_sga():
    """Φ = θω: J = [[0, −1], [1, 0]], Jb0 = (−θ, −ω), Jᵀb0 = (θ, ω). Consensus:
    (−ω − γθ, θ − γω); SGA: b0 + (λ/2)(Jb0 − Jᵀb0) = (−ω − λθ, θ − λω); both −κ ± i.
    The alignment score is ⟨ξ, ∇H⟩ = ⟨(ω, −θ), (θ, ω)⟩ = 0 → sign(ε) = +1: unchanged."""
    phi = lambda t, w: t * w
    x0 = (jnp.array(0.0), jnp.array(0.0))
    x = (jnp.array(0.7), jnp.array(-1.1))
    for kappa in (0.2, 1.5):
        want = [-0.7 * kappa + 1.1, 0.7 + 1.1 * kappa]
        for stab in (st.Consensus(kappa), st.SGA(kappa), st.SGA(kappa, align=True)):
            b = st.stabilise(phi, stab)
            np.testing.assert_allclose(flat(b(x)), want, rtol=1e-13)
            _assert_spectrum(_eig(b, x0), [-kappa + 1j, -kappa - 1j])


def test_sga_alignment_flips_sign():
    """On Φ = ½aθ² + bθω − ½cω² (a, b, c) = (3, 1, −2) at x = (1, −1) the alignment score
    ⟨ξ, ∇H⟩⟨Aᵀξ, ∇H⟩/d + ε (ξ = −b0, ∇H = Jᵀb0, Aᵀξ = ½(Jᵀb0 − Jb0)) is negative, so SGA
    with align=True uses −λ; at (1, 0.5) it is positive."""
    a, bb, c, lam = 3.0, 1.0, -2.0, 0.3
    jm = np.array([[-a, -bb], [bb, -c]])
    b_align = st.stabilise(_quadratic(a, bb, c), st.SGA(lam, align=True))
    signs = []
    for pt in ([1.0, -1.0], [1.0, 0.5]):
        xv = np.array(pt)
        v = jm @ xv
        grad_h = jm.T @ v
        score = (-v @ grad_h) * (0.5 * (jm.T @ v - jm @ v) @ grad_h) / 2 + 0.1
        s = np.sign(score)
        signs.append(s)
        want = v + 0.5 * s * lam * (jm @ v - jm.T @ v)
        got = flat(b_align((jnp.array(pt[0]), jnp.array(pt[1]))))
        np.testing.assert_allclose(got, want, rtol=1e-13)
    assert signs == [-1.0, 1.0]


def test_lss_removes_non_nash_stable_point_and_keeps_nash():
    """Non-Nash: (a, b, c) = (−1, 2, 3): J = [[1, −2], [2, −3]] has trace −2 and det 1, a double
    eigenvalue −1 (Hurwitz: GDA converges), yet ∇²_θθΦ = a < 0 — not a local Nash point. LSS's
    Jacobian at a critical point is sym(J) = diag(−a, −c) = diag(1, −3): unstable.
    Nash: (1, 2, 1): sym(J) = diag(−1, −1): stable. Away from 0 the LSS field equals
    ½(b + Jᵀu), (JᵀJ + λI)u = Jᵀb, λ = ξ₁(1 − e^{−ξ₂‖b‖²}), computed with NumPy."""
    x0 = (jnp.array(0.0), jnp.array(0.0))
    lss = st.LSS(xi1=0.5, xi2=0.3)
    for (a, bb, c), want in [((-1.0, 2.0, 3.0), [1.0, -3.0]), ((1.0, 2.0, 1.0), [-1.0, -1.0])]:
        phi = _quadratic(a, bb, c)
        jm = np.array([[-a, -bb], [bb, -c]])
        assert np.all(np.linalg.eigvals(jm).real < 0)  # plain GDA flow: stable
        b = st.stabilise(phi, lss)
        np.testing.assert_allclose(flat(b(x0)), [0.0, 0.0], atol=0)
        _assert_spectrum(_eig(b, x0), want, tol=1e-9)
        xv = np.array([0.4, -0.9])
        v = jm @ xv
        lam = 0.5 * (1 - np.exp(-0.3 * v @ v))
        u = np.linalg.solve(jm.T @ jm + lam * np.eye(2), jm.T @ v)
        got = flat(b((jnp.array(0.4), jnp.array(-0.9))))
        np.testing.assert_allclose(got, 0.5 * (v + jm.T @ u), rtol=1e-9)


def test_lss_euler_runs():
    """Euler steps from (0.1, 0.1), h = 0.05: plain b0 converges to the non-Nash point 0 while
    LSS leaves it; at the Nash game both converge."""

    def run(b, n=400):
        def step(y, _):
            return jax.tree_util.tree_map(lambda p, q: p + 0.05 * q, y, b(y)), None

        return np.linalg.norm(flat(jax.lax.scan(step, (0.1, 0.1), None, length=n)[0]))

    lss = st.LSS(xi1=0.5, xi2=0.3)
    non_nash, nash = _quadratic(-1.0, 2.0, 3.0), _quadratic(1.0, 2.0, 1.0)
    assert run(gf.vector_field(non_nash)) < 1e-6
    assert run(st.stabilise(non_nash, lss)) > 1.0
    assert run(gf.vector_field(nash)) < 1e-6
    assert run(st.stabilise(nash, lss)) < 1e-6


def test_lss_two_timescale_fast_variable_solves_lss():
    """For frozen x, φ̇ = Jᵀ(b − Jφ) − λφ is a gradient flow with fixed point u = (JᵀJ + λI)⁻¹Jᵀb,
    so its Euler iterates converge to u and ẋ = ½(b + Jᵀφ) to the exact LSS field."""
    phi = _quadratic(-1.0, 2.0, 3.0)
    b0 = gf.vector_field(phi)
    two = st.LSSTwoTimescale(b0, xi1=0.5, xi2=0.3)
    x = (jnp.array(0.4), jnp.array(-0.9))

    def step(p, _):
        return jax.tree_util.tree_map(lambda a, d: a + 0.02 * d, p, two(x, p)[1]), None

    p_end = jax.lax.scan(step, two.init_phi(x), None, length=3000)[0]
    dx, dphi = two(x, p_end)
    np.testing.assert_allclose(flat(dphi), [0.0, 0.0], atol=1e-10)
    exact = st.stabilise(phi, st.LSS(xi1=0.5, xi2=0.3))(x)
    np.testing.assert_allclose(flat(dx), flat(exact), rtol=1e-9)


# ----------------------------------------------------------------------------------------------
# Nagarajan–Kolter 2-D


def _nk2d_objective(loss):
    """Φ(a, w) = E f(w x²) + E f(−w a² z²), x, z ∼ U[−1, 1], by 20-point Gauss–Legendre (exact
    for every moment used at the equilibrium: E x² = 1/3, E x⁴ = 1/5)."""
    t, h = np.polynomial.legendre.leggauss(20)
    t, h = jnp.asarray(t), jnp.asarray(h / 2)
    f = gf.get_loss(loss).f
    return lambda a, w: jnp.sum(h * f(w * t**2)) + jnp.sum(h * f(-w * a**2 * t**2))


@pytest.mark.parametrize("loss", LOSSES)
def test_nk2d_regulariser(loss):
    r"""At (a, w) = (1, 0): Φ_w = E x²f′(wx²) − E a²z²f′(−wa²z²) = 0, Φ_aa = 0,
    Φ_aw = −2E z² f′(0) = −2f′/3, Φ_ww = f″(E x⁴ + E z⁴) = 2f″/5. With NK the generator follows
    b_a = −Φ_a − 2λΦ_wΦ_aw, the discriminator b_w = Φ_w, so (order (a, w))

        J = [[−2λΦ_aw², −Φ_aw − 2λΦ_wwΦ_aw], [Φ_aw, Φ_ww]]
          = [[−8λf′²/9, 2f′/3 + 8λf″f′/15], [−2f′/3, 2f″/5]],

    trace −8λf′²/9 + 2f″/5 < 0 and det 4f′²/9 > 0 for every λ > 0: Hurwitz. J_DD = 2f″/5, so
    Theorem 3.2's bound is 1/(2·λ_max(−J_DD)) = 5/(−4f″) = 5 for the GAN and ∞ for the WGAN."""
    fp, fs = _fp(loss)
    phi = _nk2d_objective(loss)
    x = (jnp.array(1.0), jnp.array(0.0))
    bound = st.nk_lambda_bound(phi, x)
    if loss == "gan":
        assert bound == pytest.approx(5.0, rel=1e-12)
    else:
        assert bound == float("inf")
    plain = _eig(gf.vector_field(phi), x)
    if loss == "wgan":
        np.testing.assert_allclose(plain.real, 0.0, atol=1e-12)  # orbits without NK
    lam = 2.5 if loss == "gan" else 1.0
    b = st.stabilise(phi, st.NagarajanKolter(lam))
    want = np.array(
        [[-8 * lam * fp**2 / 9, 2 * fp / 3 + 8 * lam * fs * fp / 15], [-2 * fp / 3, 2 * fs / 5]]
    )
    np.testing.assert_allclose(np.asarray(gf.jacobian(b, x)), want, rtol=0, atol=1e-12)
    assert np.all(_eig(b, x).real < 0)
    if hasattr(gf.games, "NagarajanKolter2D"):  # the games helper's class, when it has landed
        game = gf.games.NagarajanKolter2D(loss)
        xg = game.make_state(1.0, 0.0)
        bg = st.stabilise(game, st.NagarajanKolter(lam), population=True)
        jg = np.asarray(gf.jacobian(bg, xg))
        np.testing.assert_allclose(jg, want, rtol=0, atol=1e-10)
        assert st.nk_lambda_bound(game, xg) == pytest.approx(bound, rel=1e-10)


# ----------------------------------------------------------------------------------------------
# Minibatch penalties on a 1-D game with a quadratic-logistic discriminator


class _Quad1D(gf.AbstractGANGame):
    """Data N(1, 1), latent N(0, 1), G(z) = a z + c, logit D(x) = w₃x²/2 + w₂x + w₁."""

    loss: gf.AbstractLoss

    def __init__(self, loss="gan"):
        self.loss = gf.get_loss(loss)

    def init(self, key):
        return gf.models.Linear(0.8, 0.3), gf.models.QuadraticLogistic(0.2, -0.4, 0.7)

    def sample_data(self, key, n):
        return 1.0 + jax.random.normal(key, (n,))

    def sample_latent(self, key, n):
        return jax.random.normal(key, (n,))


def test_minibatch_r1_r2_wgangp_closed_form(getkey):
    r"""∇_x D(x) = w₃x + w₂, so R1's penalty (γ/2)·mean(w₃x + w₂)² has ω-gradient
    γ·mean((w₃x + w₂)·(0, 1, x)) in (w₁, w₂, w₃) order; R2 the same at G(z) = az + c. WGAN-GP with
    ε = uniform(fold_in(key, 0x6770), (n,)), x̂ = εx + (1−ε)G(z), g = w₃x̂ + w₂:
    λ·mean(2(|g| − 1)sign(g)·(0, 1, x̂)). The generator's part is unchanged (zero-sum loss)."""
    game = _Quad1D("gan")
    x = game.init(getkey())
    batch = game.sample(getkey(), 64)
    key = getkey()
    data, z = batch
    (a, c), (w2, w3) = (0.8, 0.3), (-0.4, 0.7)  # w1 = 0.2 does not enter ∇_x D
    base = gf.vector_field(game.objective())(x, batch)
    gamma, lam = 0.6, 2.0
    fake = a * z + c
    for stab, pts in ((st.R1(gamma), data), (st.R2(gamma), fake)):
        got = st.stabilise(game, stab)(x, batch)
        g = w3 * pts + w2
        want = -gamma * np.array([0.0, np.mean(g), np.mean(g * pts)])
        np.testing.assert_allclose(flat(got[1]) - flat(base[1]), want, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(flat(got[0]), flat(base[0]), rtol=1e-13)
    b = st.stabilise(game, st.WGANGP(lam))
    assert b.needs_key
    got = b(x, batch, key)
    eps = jax.random.uniform(jax.random.fold_in(key, 0x6770), (64,))
    xh = eps * data + (1 - eps) * fake
    g = w3 * xh + w2
    dg = 2 * (np.abs(g) - 1) * np.sign(g)
    want = -lam * np.array([0.0, np.mean(dg), np.mean(dg * xh)])
    np.testing.assert_allclose(flat(got[1]) - flat(base[1]), want, rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="key"):
        b(x, batch)


def test_sampled_instance_noise_matches_expected(getkey):
    """One key, a batch of 20000 Dirac examples: the sampled field is a Monte Carlo estimate of
    the Gauss–Hermite one (standard error ≈ 0.005 here; tolerance 0.03)."""
    game = gf.DiracGAN("gan")
    x = game.make_state(0.5, -0.7)
    sigma = 0.6
    exact = st.stabilise(game, st.InstanceNoise(sigma, "expected"), population=True)(x)
    batch = game.sample(getkey(), 20000)
    sampled = st.stabilise(game, st.InstanceNoise(sigma))(x, batch, getkey())
    np.testing.assert_allclose(flat(sampled), flat(exact), atol=0.03)
    assert not np.allclose(flat(sampled), flat(gf.DiracGAN("gan").vector_field(True)(x)), atol=0.05)


# ----------------------------------------------------------------------------------------------
# Spectral normalisation


def test_spectral_norm(getkey):
    """The stabilised objective is the plain one at W/σ₁(W) for every weight matrix (σ₁ from
    NumPy's SVD); power iteration matches on a matrix with a spectral gap, and its derivative is
    Miyato's u₁v₁ᵀ."""
    gen = gf.models.MLP.init(getkey(), 2, 2, 6, 1)
    disc = gf.models.MLP.init(getkey(), 2, None, 8, 2)
    data, z = jax.random.normal(getkey(), (32, 2)), jax.random.normal(getkey(), (32, 2))
    loss = gf.get_loss("wgan")

    def phi(theta, omega, data, z):
        d_real, d_fake = jax.vmap(omega)(data), jax.vmap(omega)(jax.vmap(theta)(z))
        return jnp.mean(loss.discriminator(d_real, d_fake))

    sn = st.SpectralNorm()
    obj = st.stabilise(phi, sn).objective
    normed = jax.tree_util.tree_map(
        lambda w: w / np.linalg.svd(np.asarray(w), compute_uv=False)[0] if w.ndim == 2 else w, disc
    )
    for layer in normed.layers:
        np.testing.assert_allclose(np.linalg.svd(np.asarray(layer.weight))[1][0], 1.0, rtol=1e-12)
    np.testing.assert_allclose(
        obj.discriminator_value(gen, disc, data, z), phi(gen, normed, data, z), rtol=1e-12
    )
    q, _ = np.linalg.qr(np.asarray(jax.random.normal(getkey(), (5, 5))))
    r, _ = np.linalg.qr(np.asarray(jax.random.normal(getkey(), (4, 4))))
    s = np.zeros((5, 4))
    s[np.arange(4), np.arange(4)] = [3.0, 1.0, 0.5, 0.1]
    w = jnp.asarray(q @ s @ r.T)
    np.testing.assert_allclose(st.spectral_norm(w, "power", 40), 3.0, rtol=1e-12)
    np.testing.assert_allclose(st.spectral_norm(w, "exact"), 3.0, rtol=1e-12)
    grad = jax.grad(lambda m: st.spectral_norm(m, "power", 40))(w)
    np.testing.assert_allclose(grad, np.outer(q[:, 0], r[:, 0]), atol=1e-12)


# ----------------------------------------------------------------------------------------------
# Bad input


def test_bad_input():
    for make, name in [
        (lambda: st.R1(gamma=-1), "gamma must be >= 0"),
        (lambda: st.R2(-0.1), "gamma"),
        (lambda: st.Consensus(-1.0), "gamma"),
        (lambda: st.NagarajanKolter(lam=-1), "lam must be >= 0"),
        (lambda: st.WGANGP(lam=-2), "lam"),
        (lambda: st.SGA(-0.5), "lam"),
        (lambda: st.InstanceNoise(sigma=-0.1), "sigma must be >= 0"),
        (lambda: st.InstanceNoise(0.1, mode="bogus"), "mode"),
        (lambda: st.WeightClipping(0.0), "c must be > 0"),
        (lambda: st.LSS(xi1=-1.0), "xi1"),
        (lambda: st.SpectralNorm(method="svd2"), "method"),
    ]:
        with pytest.raises(ValueError, match=name):
            make()
    game = gf.DiracGAN("gan")
    for stab in (st.R1(1.0), st.R2(1.0), st.WGANGP(1.0), st.InstanceNoise(0.1)):
        with pytest.raises(ValueError, match=type(stab).__name__):
            st.stabilise(game.objective(population=True), stab)
    with pytest.raises(ValueError, match="AbstractStabiliser"):
        st.stabilise(game, "R1")
    b = st.stabilise(game, st.InstanceNoise(0.1, "sampled"), population=True)
    with pytest.raises(ValueError, match="mode='expected'"):
        b(game.equilibrium())
