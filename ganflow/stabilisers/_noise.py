r"""Instance noise (Sønderby et al. 2016; Arjovsky & Bottou 2017; analysed on the Dirac-GAN by
Mescheder et al. 2018, §3): the discriminator sees real and generated samples through Gaussian
noise of standard deviation σ."""

from collections.abc import Callable
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import ArrayLike

from .._checks import check_choice, check_int_at_least
from .._hyper import hyperparameter
from .._quadrature import normal_rule
from ..dynamics import Objective
from ..games import AbstractGame
from ._base import AbstractStabiliser, require_gan_game

_SALT_NOISE = 0x6E6F  # fold_in salt of instance noise


class _Shifted(eqx.Module):
    """The discriminator model read at a shifted input: x ↦ D(x + s) (scalar data only)."""

    model: Any
    shift: Any

    def __call__(self, x):
        if jnp.ndim(x) != 0:
            raise ValueError(
                "InstanceNoise(mode='expected') integrates the noise with 1-D Gauss–Hermite "
                f"quadrature and needs scalar data; got examples of shape {jnp.shape(x)}. "
                "Use mode='sampled'."
            )
        return self.model(x + self.shift)


class _ExpectedNoise(eqx.Module):
    r"""$\sum_i w_i\,Φ(θ, D(\cdot + s_i))$: the objective averaged over Gauss–Hermite nodes of the
    noise. Exact in expectation for the f-family because Φ is a sum of per-sample terms
    f(D(x + ε₁)) and f(−D(G(z) + ε₂)), each depending on one noise variable only."""

    fn: Callable[..., Any]
    sigma: Any
    num_nodes: int = eqx.field(static=True)

    def __call__(self, theta, omega, *args):
        nodes, weights = normal_rule(self.num_nodes, self.sigma)
        values = jax.vmap(lambda s: self.fn(theta, _Shifted(omega, s), *args))(nodes)
        return jnp.sum(weights * values)


class _NoisyGenerator(eqx.Module):
    """G(z) + σ ε with ε drawn from the key carried beside z in the latent."""

    model: Any
    sigma: Any

    def __call__(self, latent):
        z, key = latent
        out = self.model(z)
        return out + self.sigma * jax.random.normal(key, jnp.shape(out), jnp.result_type(out))


class _SampledNoise(eqx.Module):
    fn: Callable[..., Any]
    sigma: Any

    def __call__(self, theta, omega, *args):
        if len(args) < 2:
            raise ValueError(
                "InstanceNoise(mode='sampled') draws noise per example and needs a batch and a "
                "PRNG key: call the field as b(x, batch, key); for a population objective use "
                "mode='expected'"
            )
        (data, z), key = args[0], args[1]
        k_data, k_fake = jax.random.split(jax.random.fold_in(key, _SALT_NOISE))
        noisy = data + self.sigma * jax.random.normal(k_data, jnp.shape(data), data.dtype)
        keys = jax.random.split(k_fake, jnp.shape(data)[0])
        return self.fn(_NoisyGenerator(theta, self.sigma), omega, (noisy, (z, keys)), *args[1:])


class InstanceNoise(AbstractStabiliser):
    r"""Instance noise of standard deviation σ on real and generated samples:

    $$Φ_σ(θ, ω) = E\,f(D_ω(x + ε_1)) + E\,f(-D_ω(G_θ(z) + ε_2)),\qquad ε_i ∼ N(0, σ^2 I),$$

    for both players (and whatever objective-level changes came before, e.g. R1 then sees noisy
    data). On the Dirac-GAN the Jacobian at 0 has eigenvalues
    $f''(0)σ^2 ± \sqrt{f''(0)^2σ^4 - f'(0)^2}$ (Mescheder 2018, §3; docs/conventions.md
    §Stabilisers).

    - `mode="expected"`: the exact expectation over the noise by `num_nodes`-point
      Gauss–Hermite quadrature, for games with scalar data (Dirac-GAN, 1-D games), on the
      population objective or on a batch (expectation over the noise, the batch's samples
      fixed). The discriminator model is read at shifted inputs D(· + s_i).
    - `mode="sampled"`: one noise draw per example, from a PRNG key after the batch:
      `b(x, batch, key)`; real samples get `σ·normal(k₁, data.shape)` and generated ones
      `σ·normal(k₂ᵢ)` with `k₁, k₂ = split(fold_in(key, 0x6E6F))`, `k₂ᵢ = split(k₂, n)[i]`.
      Needs a minibatch game (`(data, latent)` batches).

    `sigma` σ (≥ 0, required): an array leaf (differentiable; one compilation for any value);
    `mode` (default "sampled") and `num_nodes` (default 40) are static.
    """

    sigma: Any
    mode: Literal["sampled", "expected"] = eqx.field(static=True)
    num_nodes: int = eqx.field(static=True)

    def __init__(self, sigma: ArrayLike, mode: str = "sampled", num_nodes: int = 40):
        self.sigma = hyperparameter("sigma", sigma, allow_zero=True)
        self.mode = check_choice("mode", mode, ("sampled", "expected"))
        self.num_nodes = check_int_at_least("num_nodes", num_nodes, 1)

    @property
    def needs_key(self) -> bool:
        return self.mode == "sampled"

    def objective(self, objective: Objective, game: AbstractGame | None) -> Objective:
        require_gan_game(self, game)
        if self.mode == "expected":
            wrap = lambda fn: _ExpectedNoise(fn, self.sigma, self.num_nodes)
        else:
            wrap = lambda fn: _SampledNoise(fn, self.sigma)
        return Objective(
            wrap(objective.generator), wrap(objective.discriminator), objective.zero_sum
        )
