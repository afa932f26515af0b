"""The Dirac-GAN (Mescheder 2018; slides p. 5)."""

import jax
import jax.numpy as jnp
from jaxtyping import ArrayLike

from ..dynamics import Objective
from ..losses import AbstractLoss, get_loss
from ..models import DiracGenerator, LinearDiscriminator
from ._base import AbstractGANGame, AtZeroExample


class DiracGAN(AbstractGANGame):
    r"""Data δ₀, generator δ_θ (`DiracGenerator`), discriminator D(x) = ψx
    (`LinearDiscriminator`); the unique equilibrium is (θ, ψ) = (0, 0).

    With ganflow's f-family convention (docs/conventions.md §The game:
    Φ = E f(D(x)) + E f(−D(G(z)))) $Φ(θ, ψ) = f(0) + f(-ψθ)$. The slides write
    $f(ψθ) + f(0)$, Mescheder's convention $E f(D(G(z))) + E f(-D(x))$; the two differ by
    ψ ↦ −ψ, which leaves every reference result (eigenvalues ±f′(0)i, conserved θ² + ψ², update
    radii, stabilised spectra) unchanged.

    Every expectation is exact, so `objective(population=True)` is the game itself.
    """

    loss: AbstractLoss

    def __init__(self, loss: str | AbstractLoss = "gan"):
        self.loss = get_loss(loss)

    @staticmethod
    def make_state(theta: ArrayLike, psi: ArrayLike):
        """x = (θ, ψ) as models."""
        return DiracGenerator(theta), LinearDiscriminator(psi)

    def init(self, key):
        """(θ, ψ) ~ N(0, I)."""
        theta, psi = jax.random.normal(key, (2,), dtype=jnp.result_type(float))
        return self.make_state(theta, psi)

    def sample_data(self, key, n):
        return jnp.zeros((n,), dtype=jnp.result_type(float))

    def sample_latent(self, key, n):
        return jnp.zeros((n,), dtype=jnp.result_type(float))

    def population(self):
        ex = self.example_objective
        return Objective(AtZeroExample(ex.generator), AtZeroExample(ex.discriminator),
                         ex.zero_sum)

    def equilibrium(self):
        return self.make_state(0.0, 0.0)

