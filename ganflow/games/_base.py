"""The game interface: players, objectives per example, samplers and (where exact) the population
objective."""

import abc
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from .._checks import check_int_at_least
from ..dynamics import GameField, Objective, vector_field
from ..losses import AbstractLoss


class _BatchMean(eqx.Module):
    """`(θ, ω, batch, *args) ↦` the mean over the batch of a per-example objective. A Module,
    so that the objectives (and fields, schemes) a game builds on two calls compare equal and
    reuse one compilation."""

    fn: Any

    def __call__(self, theta, omega, batch, *args):
        values = jax.vmap(lambda e: self.fn(theta, omega, e, *args))(batch)
        return jnp.mean(values)


class AtZeroExample(eqx.Module):
    """`(θ, ω) ↦ fn(θ, ω, (0, 0))`: a per-example objective at the example (x, z) = (0, 0) in
    jax's default float dtype (the Dirac-GAN's population objective). A Module, so that two
    equal ones compare and hash equal (one compilation)."""

    fn: Any

    def __call__(self, theta, omega):
        zero = jnp.zeros((), dtype=jnp.result_type(float))
        return self.fn(theta, omega, (zero, zero))


class AbstractGame(eqx.Module):
    r"""A two-player game: the generator (θ) minimises, the discriminator (ω) maximises.

    Subclasses define the objective of **one example** (`example_discriminator`, and
    `example_generator` when the game is not zero-sum), a sampler of examples (`sample`), and an
    initial state (`init`). ganflow derives from them:

    - `objective()`: the minibatch objective, a mean over a batch (Cao–Guo eq. 2);
    - `objective(population=True)`: the exact expectation, where the game offers it;
    - `example_objective`: for per-example gradients and the noise covariance Σ;
    - `vector_field(...)`: the field b0 (docs/conventions.md §The vector field b0 and its
      Jacobian J), called as in §The field protocol.
    """

    @abc.abstractmethod
    def init(self, key: PRNGKeyArray) -> tuple[Any, Any]:
        """A random initial state x = (θ, ω)."""

    @abc.abstractmethod
    def sample(self, key: PRNGKeyArray, batch_size: int) -> Any:
        """A batch of examples: a pytree with a leading axis of size `batch_size`."""

    @abc.abstractmethod
    def example_discriminator(self, theta: Any, omega: Any, example: Any) -> jax.Array:
        """The discriminator's objective on one example (maximised over ω)."""

    def example_generator(self, theta: Any, omega: Any, example: Any) -> jax.Array:
        """The generator's objective on one example (minimised over θ); zero-sum by default."""
        return self.example_discriminator(theta, omega, example)

    @property
    def zero_sum(self) -> bool:
        return True

    def population(self) -> Objective | None:
        """The exact population objective (functions of (θ, ω) only), or None."""
        return None

    def equilibrium(self) -> tuple[Any, Any] | None:
        """A known equilibrium x*, or None."""
        return None

    @property
    def example_objective(self) -> Objective:
        """Per-example objectives `(θ, ω, example) ↦ value`."""
        return Objective(self.example_generator, self.example_discriminator, self.zero_sum)

    def objective(self, population: bool = False) -> Objective:
        """The minibatch objective (functions of (θ, ω, batch)), or with `population=True` the
        exact expectation (functions of (θ, ω))."""
        if population:
            pop = self.population()
            if pop is None:
                raise ValueError(
                    f"{type(self).__name__} has no exact population objective; "
                    "use population=False and pass a batch"
                )
            return pop
        ex = self.example_objective
        return Objective(_BatchMean(ex.generator), _BatchMean(ex.discriminator), ex.zero_sum)

    def vector_field(self, population: bool = False) -> GameField:
        """b0 of the minibatch game (called as `b(x, batch)`) or of the population game
        (`b(x)`)."""
        return vector_field(self.objective(population))

    def phi(self, x: tuple[Any, Any], batch: Any = None) -> jax.Array:
        """The discriminator's objective Φ(θ, ω) on a batch, or the population value when
        `batch` is None."""
        if batch is None:
            return self.objective(population=True).discriminator_value(*x)
        return self.objective().discriminator_value(*x, batch)

    def sample_batches(self, key: PRNGKeyArray, batch_size: int, num: int) -> Any:
        """`num` independent batches stacked on a leading axis (for `lax.scan`)."""
        check_int_at_least("batch_size", batch_size, 1)
        return jax.vmap(lambda k: self.sample(k, batch_size))(jax.random.split(key, num))


class AbstractGANGame(AbstractGame):
    r"""A GAN of the f-family: $Φ = E f(D_ω(x)) + E f(-D_ω(G_θ(z)))$ (Nagarajan–Kolter eq. 2).

    An example is a pair (x, z) of a data point and a latent; θ and ω are the generator and
    discriminator models themselves (callables on one example)."""

    loss: eqx.AbstractVar[AbstractLoss]

    @abc.abstractmethod
    def sample_data(self, key: PRNGKeyArray, n: int) -> jax.Array:
        """n data points."""

    @abc.abstractmethod
    def sample_latent(self, key: PRNGKeyArray, n: int) -> jax.Array:
        """n latent points."""

    def sample(self, key, batch_size):
        check_int_at_least("batch_size", batch_size, 1)
        kx, kz = jax.random.split(key)
        return self.sample_data(kx, batch_size), self.sample_latent(kz, batch_size)

    @property
    def zero_sum(self) -> bool:
        return self.loss.zero_sum

    def _logits(self, theta, omega, example):
        data, z = example
        return omega(data), omega(theta(z))

    def example_discriminator(self, theta, omega, example):
        return self.loss.discriminator(*self._logits(theta, omega, example))

    def example_generator(self, theta, omega, example):
        return self.loss.generator(*self._logits(theta, omega, example))
