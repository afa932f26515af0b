r"""Loss-level stabilisers: R1, R2 and WGAN-GP (discriminator penalties in data space) and the
Nagarajan–Kolter gradient penalty (a generator penalty in parameter space)."""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike

from .._checks import scalar_logit
from .._hyper import hyperparameter
from .._quadrature import legendre_rule_01
from ..dynamics import Objective, as_objective, hessian_blocks
from ..games import AbstractGame, AbstractGANGame
from ._base import AbstractStabiliser, require_gan_game
from ._expect import data_expectation, latent_expectation

_SALT_GP = 0x6770  # fold_in salt of WGAN-GP's interpolation weights


def _sum_sq(tree: Any) -> jax.Array:
    return sum(jnp.sum(jnp.square(a)) for a in jax.tree_util.tree_leaves(tree))


def _input_grad(omega: Callable[[Any], jax.Array], x: Any) -> Any:
    r"""$∇_x D_ω(x)$ for a discriminator model returning a scalar logit."""
    return jax.grad(lambda y: scalar_logit(omega, y))(x)


def safe_norm(tree: Any) -> jax.Array:
    r"""$\|v\|_2$ with derivative 0 (a subgradient) at v = 0 instead of NaN."""
    sq = _sum_sq(tree)
    pos = sq > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, sq, 1.0)), 0.0)


class _Plus(eqx.Module):
    """`fn(θ, ω, *args) + scale · term(θ, ω, *args)`."""

    fn: Callable[..., Any]
    term: Callable[..., Any]
    scale: float = eqx.field(static=True)

    def __call__(self, theta, omega, *args):
        return self.fn(theta, omega, *args) + self.scale * self.term(theta, omega, *args)


def _penalise_discriminator(obj: Objective, penalty: Callable[..., Any]) -> Objective:
    """The discriminator maximises Φ_D − penalty; the generator's loss is unchanged."""
    return Objective(obj.generator, _Plus(obj.discriminator, penalty, -1.0), zero_sum=False)


# ---------------------------------------------------------------------------------------------
# R1 and R2


class _GradPenalty(eqx.Module):
    r"""$(γ/2)\,E\|∇_x D_ω(x)\|^2$ with x ∼ data (`where="data"`) or x = G_θ(z)
    (`where="fake"`): a batch mean when called with a batch, the exact expectation when called
    without (population objective)."""

    game: AbstractGANGame
    gamma: Any
    where: str = eqx.field(static=True)
    who: str = eqx.field(static=True)

    def __call__(self, theta, omega, *args):
        def sq(x):
            return _sum_sq(_input_grad(omega, x))

        if self.where == "data":
            if args:
                values = jax.vmap(sq)(args[0][0])
                return 0.5 * self.gamma * jnp.mean(values)
            return 0.5 * self.gamma * data_expectation(self.game, sq, self.who)
        if args:
            values = jax.vmap(lambda z: sq(theta(z)))(args[0][1])
            return 0.5 * self.gamma * jnp.mean(values)
        return 0.5 * self.gamma * latent_expectation(self.game, lambda z: sq(theta(z)), self.who)


class R1(AbstractStabiliser):
    r"""The R1 penalty (Mescheder et al. 2018, "Which training methods for GANs do actually
    converge?", eq. 9): the discriminator maximises

    $$Φ_D(θ, ω) - \frac{γ}{2}\,E_{x∼p_\text{data}} \|∇_x D_ω(x)\|^2 .$$

    On the Dirac-GAN (data δ₀, D(x) = ψx) the penalty is (γ/2)ψ² and the Jacobian at 0 has
    eigenvalues $-γ/2 ± \sqrt{γ^2/4 - f'(0)^2}$ (docs/conventions.md §Stabilisers). Needs the
    game: the batch is
    `(data, latent)`; the population objective uses the game's exact data expectation.

    **Example**: `stabilise(game, R1(10.0))`.

    `gamma` γ (≥ 0, required): an array leaf (differentiable; one compilation for any value).
    """

    gamma: Any

    def __init__(self, gamma: ArrayLike):
        self.gamma = hyperparameter("gamma", gamma, allow_zero=True)

    def objective(self, objective: Objective, game: AbstractGame | None) -> Objective:
        game = require_gan_game(self, game)
        return _penalise_discriminator(objective, _GradPenalty(game, self.gamma, "data", "R1"))


class R2(AbstractStabiliser):
    r"""The R2 penalty (Mescheder et al. 2018, eq. 10): the discriminator maximises

    $$Φ_D(θ, ω) - \frac{γ}{2}\,E_{z} \|∇_x D_ω(x)|_{x = G_θ(z)}\|^2 .$$

    The penalty depends on θ through G_θ(z); the discriminator's gradient ignores that, but the
    Jacobian's ∂_θ b_ω block keeps it (it is part of the field). On the Dirac-GAN it is (γ/2)ψ²
    and the spectrum at 0 is R1's.

    `gamma` γ (≥ 0, required): an array leaf (differentiable; one compilation for any value).
    """

    gamma: Any

    def __init__(self, gamma: ArrayLike):
        self.gamma = hyperparameter("gamma", gamma, allow_zero=True)

    def objective(self, objective: Objective, game: AbstractGame | None) -> Objective:
        game = require_gan_game(self, game)
        return _penalise_discriminator(objective, _GradPenalty(game, self.gamma, "fake", "R2"))


# ---------------------------------------------------------------------------------------------
# WGAN-GP


class _GPPenalty(eqx.Module):
    game: AbstractGANGame
    lam: Any
    target: Any
    num_nodes: int = eqx.field(static=True)

    def __call__(self, theta, omega, *args):
        def term(xhat):
            return jnp.square(safe_norm(_input_grad(omega, xhat)) - self.target)

        if args:
            if len(args) < 2:
                raise ValueError(
                    "WGANGP draws its interpolation weights ε from a PRNG key: call the field "
                    "as b(x, batch, key)"
                )
            (data, z), key = args[0], args[1]
            n = jnp.shape(data)[0]
            eps = jax.random.uniform(jax.random.fold_in(key, _SALT_GP), (n,), dtype=data.dtype)
            fake = jax.vmap(theta)(z)
            e = eps.reshape((n,) + (1,) * (jnp.ndim(data) - 1))
            xhat = e * data + (1.0 - e) * fake
            return self.lam * jnp.mean(jax.vmap(term)(xhat))
        nodes, weights = legendre_rule_01(self.num_nodes)

        def given_x(x):
            def given_z(z):
                fake = theta(z)
                vals = jax.vmap(lambda e: term(e * x + (1.0 - e) * fake))(nodes)
                return jnp.sum(weights * vals)

            return latent_expectation(self.game, given_z, "WGANGP")

        return self.lam * data_expectation(self.game, given_x, "WGANGP")


class WGANGP(AbstractStabiliser):
    r"""The gradient penalty of WGAN-GP (Gulrajani et al. 2017, eq. 3): the discriminator
    maximises

    $$Φ_D - λ\,E\big(\|∇_x D_ω(\hat x)\|_2 - \text{target}\big)^2,
    \qquad \hat x = ε x + (1 - ε) G_θ(z),\; ε ∼ U[0, 1] .$$

    **Randomness** (decided here): ε is drawn per example from a PRNG key passed after the
    batch, `b(x, batch, key)`, as `jax.random.uniform(jax.random.fold_in(key, 0x6770), (n,))`
    (the salt keeps it independent of other key-consuming stabilisers given the same key). The
    population objective (no batch) integrates ε over [0, 1] with `num_nodes`-point
    Gauss–Legendre and x, z with the game's exact expectations.

    The norm is a safe norm (derivative 0 at ∇_x D = 0 instead of NaN). On the Dirac-GAN
    ∇_x D = ψ, so the penalty is λ(|ψ| − 1)²: the field jumps by 4λ across ψ = 0
    (b_ψ(0, 0±) = ±2λ) and is not differentiable at the equilibrium; its autodiff Jacobian
    there is the unregularised one (eigenvalues ±f′(0)i). Mescheder 2018 (§3) finds WGAN-GP not
    locally convergent on the Dirac-GAN; `tests/test_stabilisers.py` checks both facts.

    `lam` λ (≥ 0, required) and `target` (default 1.0): array leaves (differentiable; one
    compilation for any value); `num_nodes` (default 16) is static.
    """

    lam: Any
    target: Any
    num_nodes: int = eqx.field(static=True)

    def __init__(self, lam: ArrayLike, target: ArrayLike = 1.0, num_nodes: int = 16):
        self.lam = hyperparameter("lam", lam, allow_zero=True)
        self.target = hyperparameter("target", target, allow_zero=True)
        self.num_nodes = int(num_nodes)

    @property
    def needs_key(self) -> bool:
        return True

    def objective(self, objective: Objective, game: AbstractGame | None) -> Objective:
        game = require_gan_game(self, game)
        penalty = _GPPenalty(game, self.lam, self.target, self.num_nodes)
        return _penalise_discriminator(objective, penalty)


# ---------------------------------------------------------------------------------------------
# Nagarajan–Kolter


class _NKGenerator(eqx.Module):
    r"""$L_G(θ, ω) + λ\|∇_ω Φ_D(θ, ω)\|^2$."""

    generator: Callable[..., Any]
    discriminator: Callable[..., Any]
    lam: Any

    def __call__(self, theta, omega, *args):
        g_omega = jax.grad(self.discriminator, argnums=1)(theta, omega, *args)
        return self.generator(theta, omega, *args) + self.lam * _sum_sq(g_omega)


class NagarajanKolter(AbstractStabiliser):
    r"""The gradient regulariser of Nagarajan & Kolter 2017 (eq. 4): the generator descends

    $$L_G(θ, ω) + λ\,\|∇_ω Φ_D(θ, ω)\|^2$$

    (double backprop: its gradient costs one extra reverse pass through $∇_ω Φ_D$); the
    discriminator is unchanged. At an equilibrium the Jacobian becomes (NK §3.4)
    $[[J_{DD}, J_{DG}], [-J_{DG}^\top(I + 2λJ_{DD}), -2λJ_{DG}^\top J_{DG}]]$ in their
    (D, G) order, locally exponentially stable for $λ < 1/(2λ_\max(-J_{DD}))$ (Theorem 3.2;
    see `nk_lambda_bound`). With a non-zero-sum generator loss the penalty uses the
    discriminator's objective Φ_D. Does not need the game.

    `lam` λ (≥ 0, required): an array leaf (differentiable; one compilation for any value).
    """

    lam: Any

    def __init__(self, lam: ArrayLike):
        self.lam = hyperparameter("lam", lam, allow_zero=True)

    def objective(self, objective: Objective, game: AbstractGame | None) -> Objective:
        del game
        gen = _NKGenerator(objective.generator, objective.discriminator, self.lam)
        return Objective(gen, objective.discriminator, zero_sum=False)


def nk_lambda_bound(
    target: AbstractGame | Objective | Callable[..., Any],
    x_star: Any,
    *args: Any,
    population: bool = True,
) -> float:
    r"""The bound of Nagarajan–Kolter Theorem 3.2: $λ < 1/(2 λ_\max(-J_{DD}))$ with
    $J_{DD} = ∇^2_{ωω} Φ_D$ at the equilibrium `x_star` (dense: small games only). Returns
    `inf` when $λ_\max(-J_{DD}) ≤ 0$ (e.g. the WGAN, f″ = 0: any λ > 0 is stable).

    `target` is a game (its population objective by default, or the minibatch one with
    `population=False` and a batch in `args`), an `Objective` or a Φ.
    """
    if isinstance(target, AbstractGame):
        obj = target.objective(population=population)
    else:
        obj = as_objective(target)
    j_dd = np.asarray(hessian_blocks(obj, x_star, *args)["omega_omega"])
    lmax = float(np.max(np.linalg.eigvalsh(-0.5 * (j_dd + j_dd.T))))
    scale = max(1.0, float(np.max(np.abs(j_dd)))) if j_dd.size else 1.0
    if lmax <= 1e-14 * scale:
        return float("inf")
    return 1.0 / (2.0 * lmax)
