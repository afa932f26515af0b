r"""Losses of the f-family (Nagarajan–Kolter eq. 2; docs/conventions.md §The game).

$Φ = E_{data} f(D(x)) + E_z f(-D(G(z)))$ with D a real-valued logit and f concave. One loss per
player, so non-zero-sum variants (the non-saturating generator loss) are expressible:

- the discriminator maximises $f(D(x)) + f(-D(G(z)))$;
- the generator minimises the same (zero-sum), or $-f(D(G(z)))$ (non-saturating, Goodfellow).
"""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._checks import check_choice


class AbstractLoss(eqx.Module):
    r"""A GAN loss of the f-family. Subclasses define the concave function `f`.

    `discriminator(d_real, d_fake)` and `generator(d_real, d_fake)` return per-example values
    (no mean): the discriminator maximises the first, the generator minimises the second.
    """

    non_saturating: eqx.AbstractVar[bool]

    @abc.abstractmethod
    def f(self, t: ArrayLike) -> Array:
        """The concave function f of the f-family."""

    def discriminator(self, d_real: ArrayLike, d_fake: ArrayLike) -> Array:
        r"""$f(D(x)) + f(-D(G(z)))$, maximised by the discriminator."""
        return self.f(d_real) + self.f(-jnp.asarray(d_fake))

    def generator(self, d_real: ArrayLike, d_fake: ArrayLike) -> Array:
        r"""Minimised by the generator: the discriminator's value (zero-sum) or
        $-f(D(G(z)))$ (non-saturating)."""
        if self.non_saturating:
            return -self.f(d_fake)
        return self.discriminator(d_real, d_fake)

    @property
    def zero_sum(self) -> bool:
        return not self.non_saturating

    def f_prime(self, t: ArrayLike = 0.0) -> Array:
        """f′(t) (f′(0) sets the Dirac-GAN's rotation speed)."""
        return jax.grad(self.f)(jnp.asarray(t, dtype=jnp.result_type(float)))

    def equilibrium_generator_loss(self) -> float:
        """The generator's loss where the discriminator cannot tell real from fake, D ≡ ½
        (logit 0): `generator(0, 0)` — −f(0) = log 2 for the non-saturating loss, 2f(0) = −log 4
        for the saturating GAN, 0 for the WGAN (the level Mounjid–Guo Fig. 4's loss settles at)."""
        return float(self.generator(jnp.zeros(()), jnp.zeros(())))

    def f_second(self, t: ArrayLike = 0.0) -> Array:
        """f″(t)."""
        return jax.grad(jax.grad(self.f))(jnp.asarray(t, dtype=jnp.result_type(float)))


@jax.custom_jvp
def log_sigmoid(t: ArrayLike) -> Array:
    r"""$f(t) = -\log(1 + e^{-t}) = \log\mathrm{sigmoid}(t)$, with the derivative written as
    $f'(t) = \mathrm{sigmoid}(-t)$ (one `logistic` op): autodiff of the default form goes through
    `logaddexp` and costs twice as much in the SDE hot loop (`bench_sde.py`)."""
    return -jax.nn.softplus(-jnp.asarray(t))


@log_sigmoid.defjvp
def _log_sigmoid_jvp(primals, tangents):
    (t,), (dt,) = primals, tangents
    return log_sigmoid(t), jax.nn.sigmoid(-t) * dt


class GANLoss(AbstractLoss):
    r"""The original (logistic) GAN: $f(t) = -\log(1 + e^{-t})$; f′(0) = 1/2, f″(0) = −1/4."""

    non_saturating: bool = eqx.field(static=True, default=False)

    def f(self, t):
        return log_sigmoid(t)


class WGANLoss(AbstractLoss):
    r"""The Wasserstein GAN: $f(t) = t$; f′(0) = 1, f″(0) = 0."""

    non_saturating: bool = eqx.field(static=True, default=False)

    def f(self, t):
        return jnp.asarray(t)


_LOSSES = {
    "gan": lambda: GANLoss(),
    "nsgan": lambda: GANLoss(non_saturating=True),
    "wgan": lambda: WGANLoss(),
}
LOSS_NAMES = tuple(_LOSSES)
"""The names `get_loss` accepts: gan (logistic, zero-sum), nsgan (non-saturating generator),
wgan (f(t) = t)."""


def get_loss(name: str | AbstractLoss) -> AbstractLoss:
    """A loss by name: `"gan"` (logistic, zero-sum), `"nsgan"` (logistic, non-saturating
    generator) or `"wgan"`. A loss object is returned unchanged."""
    if isinstance(name, AbstractLoss):
        return name
    check_choice("loss", name, LOSS_NAMES)
    return _LOSSES[name]()
