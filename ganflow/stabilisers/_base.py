r"""The stabiliser interface and `stabilise`, which composes stabilisers into one field.

A stabiliser changes GAN training at one (or more) of three levels:

1. **objective** — the players' losses (R1, R2, WGAN-GP, Nagarajan–Kolter, instance noise,
   spectral normalisation): `objective(objective, game) -> Objective`;
2. **field** — the update direction built from the field b(x, *args) (consensus, SGA, LSS):
   `field(b, objective) -> b'`;
3. **projection** — applied to the state after every training step (weight clipping):
   `project(x) -> x`.

`stabilise(target, *stabilisers)` applies all objective-level changes in order, builds b0 of the
result ($b_0 = (-∇_θ L_G, ∇_ω Φ_D)$, docs/conventions.md §The vector field b0 and its Jacobian J),
then all field-level changes in order. The result, `Stabilised`, is a
`ganflow.dynamics.AbstractField`: it declares `needs_key` and `project` for the training schemes
(docs/conventions.md §The field protocol).
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax

from .._custom_types import State
from .._hyper import value_eq, value_hash
from ..dynamics import AbstractField, Objective, as_objective, vector_field
from ..games import AbstractGame, AbstractGANGame

_tmap = jax.tree_util.tree_map


class AbstractStabiliser(eqx.Module):
    """A modification of GAN training. Every concrete stabiliser is a small final subclass that
    overrides one or more of `objective`, `field`, `project`; the defaults change nothing.

    `needs_key` is True for stabilisers that draw random numbers per evaluation (WGAN-GP
    interpolation weights, sampled instance noise): their fields are called as
    `b(x, batch, key)` with a PRNG key after the batch.
    """

    def __hash__(self) -> int:  # by value: its hyper-parameters are arrays
        return value_hash(self)

    def __eq__(self, other: object) -> bool:
        return value_eq(self, other)

    def objective(self, objective: Objective, game: AbstractGame | None) -> Objective:
        """The players' modified objectives (loss-level change); default: unchanged."""
        del game
        return objective

    def field(self, b: Callable[..., Any], objective: Objective) -> Callable[..., Any]:
        """The modified field b(x, *args) (direction-level change); default: `b`."""
        del objective
        return b

    def project(self, x: State) -> State:
        """Applied to the state after every training step; default: identity."""
        return x

    @property
    def needs_key(self) -> bool:
        return False


def require_gan_game(stabiliser: AbstractStabiliser, game: Any) -> AbstractGANGame:
    """The game of a data-space stabiliser (R1, R2, WGAN-GP, instance noise), or ValueError."""
    name = type(stabiliser).__name__
    if game is None:
        raise ValueError(
            f"{name} needs the game (its discriminator acts on data and generated samples): "
            f"call stabilise(game, {name}(...)) with an AbstractGANGame, not a bare Objective "
            "or Φ"
        )
    if not isinstance(game, AbstractGANGame):
        raise ValueError(
            f"{name} needs an AbstractGANGame (examples (data, latent), models as players); "
            f"got {type(game).__name__}"
        )
    return game


class _DropKey(eqx.Module):
    """Calls `fn(θ, ω, *args[:n])`: the base objective of a game never sees the PRNG key that
    key-consuming stabilisers read after the batch."""

    fn: Callable[..., Any]
    num_args: int = eqx.field(static=True)

    def __call__(self, theta, omega, *args):
        return self.fn(theta, omega, *args[: self.num_args])


class Stabilised(AbstractField):
    r"""A stabilised game: the callable field `b(x, *args) -> (b_θ, b_ω)` built by `stabilise`,
    an `AbstractField` (docs/conventions.md §The field protocol).

    - `objective`: the modified objectives (for HVPs, unrolling, competitive gradient descent);
    - `field`: the modified field (b0 of `objective`, then every field-level change);
    - `project(x)`: every stabiliser's projection, in order (weight clipping);
    - `needs_key`: call as `b(x, batch, key)` when True (a minibatch game with WGAN-GP or
      sampled instance noise); population fields never need a key.
    """

    def __hash__(self) -> int:  # by value: its hyper-parameters are arrays
        return value_hash(self)

    def __eq__(self, other: object) -> bool:
        return value_eq(self, other)

    objective: Objective
    field: Callable[..., Any]
    stabilisers: tuple[AbstractStabiliser, ...]
    population: bool = eqx.field(static=True, default=False)

    def __call__(self, x: State, *args: Any) -> State:
        return self.field(x, *args)

    def project(self, x: State) -> State:
        for s in self.stabilisers:
            x = s.project(x)
        return x

    @property
    def needs_key(self) -> bool:
        return not self.population and any(s.needs_key for s in self.stabilisers)


def stabilise(
    target: AbstractGame | Objective | Callable[..., Any],
    *stabilisers: AbstractStabiliser,
    population: bool = False,
) -> Stabilised:
    r"""Applies `stabilisers` to a game, an `Objective`, or a zero-sum Φ(θ, ω, *args).

    Objective-level changes are applied in the given order (each sees the previous result),
    then b0 of the final objective is built, then the field-level changes in order. So
    `stabilise(game, R1(1.0), Consensus(0.1))` is $b - 0.1\,J_b^\top b$ with b the field of the
    R1-penalised game.

    - A game contributes `game.objective(population)`: with `population=False` the field is
      called as `b(x, batch)` (or `b(x, batch, key)` if a stabiliser `needs_key`), with
      `population=True` as `b(x)`.
    - An `Objective` or Φ is taken as is; stabilisers that need the game's data (R1, R2,
      WGAN-GP, instance noise) then raise `ValueError`.

    **Example**

    ```python
    game = ganflow.DiracGAN("gan")
    b = stabilise(game, R1(1.0), Consensus(0.1), population=True)
    ganflow.jacobian(b, game.equilibrium())
    ```
    """
    for s in stabilisers:
        if not isinstance(s, AbstractStabiliser):
            raise ValueError(
                f"stabilise expects AbstractStabiliser instances after the target; got "
                f"{type(s).__name__}"
            )
    if isinstance(target, AbstractGame):
        game = target
        obj = game.objective(population=population)
    else:
        game = None
        obj = as_objective(target)
    if not population and any(s.needs_key for s in stabilisers):
        # The base objective takes (batch,); the key after it is for the stabilisers only.
        obj = Objective(_DropKey(obj.generator, 1), _DropKey(obj.discriminator, 1), obj.zero_sum)
    for s in stabilisers:
        obj = s.objective(obj, game)
        if not isinstance(obj, Objective):
            raise ValueError(f"{type(s).__name__}.objective must return an Objective")
    b = vector_field(obj)
    for s in stabilisers:
        b = s.field(b, obj)
    return Stabilised(obj, b, tuple(stabilisers), bool(population))
