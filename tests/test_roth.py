r"""The noise-induced regulariser of Roth et al. 2017 against closed forms (float64).

Dirac-GAN (ganflow's Φ = f(0) + f(−ψθ), x = (θ, ψ)): Ω = ψ²(1/4 + σ(ψθ)²), the discriminator
follows b_ψ = −θf′(−ψθ) − (γ/2)∂_ψΩ, so at 0, J = [[0, f′], [−f′, −γ/2]] and
μ = −γ/4 ± sqrt(γ²/16 − f′²) (derivation in `Roth`'s docstring).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ganflow as gf
import ganflow.stabilisers as st
from tests.conftest import flat
from tests.helpers import F_PRIME


def _jac(b, x, *args):
    return np.asarray(gf.jacobian(b, x, *args))


def _sorted(z):
    return sorted(np.asarray(z, complex), key=lambda v: (round(v.imag, 8), round(v.real, 8)))


@pytest.mark.parametrize("loss", ["gan", "nsgan", "wgan"])
@pytest.mark.parametrize("gamma", [0.3, 2.0, 5.0])
def test_dirac_jacobian_and_spectrum_at_equilibrium(loss, gamma):
    game = gf.DiracGAN(loss)
    x = game.equilibrium()
    b = st.stabilise(game, st.Roth(gamma), population=True)
    fp = F_PRIME[loss]
    J = _jac(b, x)
    np.testing.assert_allclose(J, [[0.0, fp], [-fp, -gamma / 2]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(flat(b(x)), 0.0, atol=1e-16)
    r = np.emath.sqrt(gamma**2 / 16 - fp**2)
    want = [-gamma / 4 + r, -gamma / 4 - r]
    np.testing.assert_allclose(_sorted(np.linalg.eigvals(J)), _sorted(want), rtol=0, atol=1e-12)
    # locally Roth(γ) is R1(γ/2)
    r1 = st.stabilise(game, st.R1(gamma / 2), population=True)
    np.testing.assert_allclose(J, _jac(r1, x), rtol=0, atol=1e-15)


def test_dirac_matches_instance_noise_at_equilibrium():
    """For the GAN at the Dirac equilibrium D ≡ 1/2, so (1 − D)² = D² = D(1 − D) = 1/4 and the
    second-order noise expansion −(σ²/2)E[D(1 − D)‖∇ψ‖²] (real + fake) equals −(γ/2)Ω with
    γ = σ²: J_Roth(σ²) = J_InstanceNoise(σ) = [[0, 1/2], [−1/2, −σ²/2]]."""
    game = gf.DiracGAN("gan")
    x = game.equilibrium()
    for sigma in (0.5, 1.5):
        noise = st.stabilise(game, st.InstanceNoise(sigma, mode="expected"), population=True)
        roth = st.stabilise(game, st.Roth(sigma**2), population=True)
        np.testing.assert_allclose(_jac(roth, x), _jac(noise, x), rtol=0, atol=1e-12)


def _dirac_roth_field(loss, gamma):
    """The closed-form field of the Roth-regularised Dirac-GAN, written out by hand."""
    fp = jax.grad(gf.get_loss(loss).f)

    def b(v):
        theta, psi = v
        s = jax.nn.sigmoid(psi * theta)
        b_theta = psi * fp(psi * theta) if loss == "nsgan" else psi * fp(-psi * theta)
        d_omega = 2 * psi * (0.25 + s**2) + 2 * psi**2 * theta * s**2 * (1 - s)
        return jnp.stack([b_theta, -theta * fp(-psi * theta) - 0.5 * gamma * d_omega])

    return b


@pytest.mark.parametrize("loss", ["gan", "nsgan", "wgan"])
def test_dirac_field_and_jacobian_away_from_equilibrium(loss):
    """The field equals the hand-written closed form, and its Jacobian (with the ∂_θ b_ψ term
    from Ω's dependence on the generator, −(γ/2)∂_θ∂_ψΩ ≠ 0 away from 0) equals the Jacobian of
    the closed form."""
    game = gf.DiracGAN(loss)
    gamma = 1.3
    b = jax.jit(st.stabilise(game, st.Roth(gamma), population=True))
    hand = _dirac_roth_field(loss, gamma)
    for theta, psi in [(0.3, -0.7), (1.2, 0.4), (-2.0, 1.5)]:
        x = game.make_state(theta, psi)
        v = jnp.array([theta, psi])
        np.testing.assert_allclose(flat(b(x)), hand(v), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(_jac(b, x), jax.jacfwd(hand)(v), rtol=1e-12, atol=1e-14)
        # the penalty's θ-dependence is really there: ∂_θ b_ψ differs from the plain game's
        plain = _jac(game.vector_field(population=True), x)
        assert abs(_jac(b, x)[1, 0] - plain[1, 0]) > 1e-3


class _Linear1D(gf.AbstractGANGame):
    """Data N(1, 1), latent N(0, 1), generator G(z) = az + c, discriminator logit ψ(x) = wx + β."""

    loss: gf.AbstractLoss

    def __init__(self, loss="gan"):
        self.loss = gf.get_loss(loss)

    def init(self, key):
        return gf.models.Linear(0.8, 0.3), gf.models.Linear(-0.6, 0.2)

    def sample_data(self, key, n):
        return 1.0 + jax.random.normal(key, (n,))

    def sample_latent(self, key, n):
        return jax.random.normal(key, (n,))


def test_minibatch_penalty_closed_form(getkey):
    r"""ψ = wx + β, ∇_xψ = w. Per real example r = σ(−ψ)²w², per generated y = G(z)
    q = σ(ψ)²w², so (σ′ = σ(1 − σ))
    ∂r/∂w = −2σ(−ψ)²σ(ψ)x w² + 2wσ(−ψ)², ∂r/∂β = −2σ(−ψ)²σ(ψ)w²,
    ∂q/∂w = 2σ(ψ)²σ(−ψ)y w² + 2wσ(ψ)², ∂q/∂β = 2σ(ψ)²σ(−ψ)w²,
    and b_ω changes by −(γ/2)(mean ∂r + mean ∂q) in (w, β) order; b_θ is unchanged."""
    game = _Linear1D("gan")
    x = game.init(getkey())
    batch = game.sample(getkey(), 64)
    data, z = np.asarray(batch[0]), np.asarray(batch[1])
    (a, c), (w, beta) = (0.8, 0.3), (-0.6, 0.2)
    gamma = 0.7
    base = gf.vector_field(game.objective())(x, batch)
    got = st.stabilise(game, st.Roth(gamma))(x, batch)
    sig = lambda t: 1 / (1 + np.exp(-t))
    pr = w * data + beta
    y = a * z + c
    pf = w * y + beta
    dr_w = -2 * sig(-pr) ** 2 * sig(pr) * data * w**2 + 2 * w * sig(-pr) ** 2
    dr_b = -2 * sig(-pr) ** 2 * sig(pr) * w**2
    dq_w = 2 * sig(pf) ** 2 * sig(-pf) * y * w**2 + 2 * w * sig(pf) ** 2
    dq_b = 2 * sig(pf) ** 2 * sig(-pf) * w**2
    want = -0.5 * gamma * np.array([dr_w.mean() + dq_w.mean(), dr_b.mean() + dq_b.mean()])
    np.testing.assert_allclose(flat(got[1]) - flat(base[1]), want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(flat(got[0]), flat(base[0]), rtol=1e-14)


def test_bad_input():
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        st.Roth(-1.0)
    game = gf.DiracGAN("gan")
    with pytest.raises(ValueError, match="Roth"):
        st.stabilise(game.objective(population=True), st.Roth(1.0))
