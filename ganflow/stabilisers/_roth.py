r"""The noise-induced regulariser of Roth et al. 2017 ("Stabilizing Training of Generative
Adversarial Networks through Regularization"; survey §5.1.2)."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import ArrayLike

from .._checks import scalar_logit
from .._hyper import hyperparameter
from ..dynamics import Objective
from ..games import AbstractGame, AbstractGANGame
from ._base import AbstractStabiliser, require_gan_game
from ._expect import data_expectation, latent_expectation
from ._penalties import _penalise_discriminator, _sum_sq


def _logit_and_input_grad(omega: Any, x: Any) -> tuple[jax.Array, Any]:
    r"""$(ψ(x), ∇_x ψ(x))$ for a discriminator model returning a scalar logit ψ."""

    return jax.value_and_grad(lambda y: scalar_logit(omega, y))(x)


class _RothPenalty(eqx.Module):
    r"""$(γ/2)\,Ω$ with $Ω = E_P[(1 - D)^2\|∇ψ\|^2] + E_Q[D^2\|∇ψ\|^2]$, D = sigmoid(ψ): batch
    means when called with a batch `(data, latent)`, the game's exact expectations without."""

    game: AbstractGANGame
    gamma: Any

    def __call__(self, theta, omega, *args):
        def real_term(x):
            logit, g = _logit_and_input_grad(omega, x)
            return jnp.square(jax.nn.sigmoid(-logit)) * _sum_sq(g)  # 1 − D = sigmoid(−ψ)

        def fake_term(x):
            logit, g = _logit_and_input_grad(omega, x)
            return jnp.square(jax.nn.sigmoid(logit)) * _sum_sq(g)

        if args:
            data, z = args[0]
            real = jnp.mean(jax.vmap(real_term)(data))
            fake = jnp.mean(jax.vmap(lambda zi: fake_term(theta(zi)))(z))
        else:
            real = data_expectation(self.game, real_term, "Roth")
            fake = latent_expectation(self.game, lambda zi: fake_term(theta(zi)), "Roth")
        return 0.5 * self.gamma * (real + fake)


class Roth(AbstractStabiliser):
    r"""The noise-induced regulariser of Roth et al. 2017 (survey §5.1.2) for the original GAN
    (their JS-regulariser): the discriminator maximises

    $$Φ_D(θ, ω) - \frac{γ}{2}\,Ω(θ, ω),\qquad
      Ω = E_{x∼P}\big[(1 - D(x))^2\,\|∇_x ψ(x)\|^2\big]
        + E_{x∼Q_θ}\big[D(x)^2\,\|∇_x ψ(x)\|^2\big],$$

    with ψ = D_ω the discriminator's logit, D = sigmoid(ψ) its probability of "real", P the data
    and Q_θ the generator's distribution. It comes from a second-order (small-noise) expansion
    of training on data and samples convolved with Gaussian noise, so it stabilises like instance
    noise without the variance of sampled noise: the survey (§5.1.2) states the general f-GAN
    form, a penalty $λ\,E_{Q}[(f^c)''(D)\,\|∇D\|^2]$ on generated samples; for the original
    GAN Roth et al. give the symmetric JS form above. The generator's loss is unchanged
    (Roth et al., Alg. 1, regularise the discriminator update only); Ω depends on θ through
    $Q_θ$, so the field's $∂_θ b_ω$ block keeps that dependence (as for `R2`). Ω is written
    for the logistic loss (`"gan"`, `"nsgan"`), where D is a probability; with other losses it
    is the same function of the logit.

    **Dirac-GAN closed form** (data δ₀, generator δ_θ, ψ(x) = ψx, so ∇_xψ = ψ, D(0) = 1/2,
    D(θ) = σ(ψθ); ganflow's Φ = f(0) + f(−ψθ)):

    $$Ω(θ, ψ) = ψ^2\big(\tfrac14 + σ(ψθ)^2\big),\qquad
      b_ψ = -θ f'(-ψθ) - \tfrac{γ}{2}\big[2ψ(\tfrac14 + σ^2) + 2ψ^2θ\,σ^2(1 - σ)\big],$$

    b_θ unchanged. At the equilibrium (0, 0), $∂^2_ψ Ω = 2(\tfrac14 + \tfrac14) = 1$ and
    $∂_θ∂_ψ Ω = 0$, so

    $$J = \begin{pmatrix} 0 & f'(0) \\ -f'(0) & -γ/2 \end{pmatrix},\qquad
      μ = -\frac{γ}{4} ± \sqrt{\frac{γ^2}{16} - f'(0)^2}:$$

    locally Roth(γ) acts as R1(γ/2) (near 0, (γ/2)Ω ≈ (γ/4)ψ²); the equilibrium is locally
    asymptotically stable for every γ > 0, critically damped at γ = 4f′(0) (2 for the GAN).
    Away from 0 the weight on ψ² varies with σ(ψθ)² ∈ (0, 1), unlike R1's.

    Needs the game: the batch is `(data, latent)` (batch means); the population objective uses
    the game's exact data and latent expectations (built in for the Dirac-GAN).

    **Example**: `stabilise(game, Roth(2.0))`.

    `gamma` γ (≥ 0, required): an array leaf (differentiable; one compilation for any value).
    """

    gamma: Any

    def __init__(self, gamma: ArrayLike):
        self.gamma = hyperparameter("gamma", gamma, allow_zero=True)

    def objective(self, objective: Objective, game: AbstractGame | None) -> Objective:
        game = require_gan_game(self, game)
        return _penalise_discriminator(objective, _RothPenalty(game, self.gamma))
