r"""Exact expectations over a game's data and latent distributions (for population penalties),
and the quadrature rules the stabilisers use.

A population objective is a function of (θ, ω) only, so a penalty such as R1 on it needs
$E_{x∼\text{data}}[g(x)]$ exactly. A game offers this through two optional methods
(duck-typed, so games need not import ganflow.stabilisers):

- `game.data_expectation(fn)`: $E_{x∼\text{data}} fn(x)$ for a scalar-valued `fn`;
- `game.latent_expectation(fn)`: $E_{z∼\text{latent}} fn(z)$.

The Dirac-GAN is built in: data δ₀ and a generator that ignores z, so both are `fn(0)`.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from ..games import DiracGAN


def _zero() -> jax.Array:
    return jnp.zeros((), dtype=jnp.result_type(float))


def data_expectation(game: Any, fn: Callable[[Any], jax.Array], who: str) -> jax.Array:
    """$E_{x∼\\text{data}} fn(x)$, exact, or ValueError naming the stabiliser `who`."""
    if hasattr(game, "data_expectation"):
        return game.data_expectation(fn)
    if isinstance(game, DiracGAN):
        return fn(_zero())
    raise ValueError(_missing(game, "data_expectation", who))


def latent_expectation(game: Any, fn: Callable[[Any], jax.Array], who: str) -> jax.Array:
    """$E_{z∼\\text{latent}} fn(z)$, exact, or ValueError naming the stabiliser `who`."""
    if hasattr(game, "latent_expectation"):
        return game.latent_expectation(fn)
    if isinstance(game, DiracGAN):
        return fn(_zero())
    raise ValueError(_missing(game, "latent_expectation", who))


def _missing(game: Any, method: str, who: str) -> str:
    return (
        f"{who} on the population objective of {type(game).__name__} needs "
        f"game.{method}(fn) (an exact expectation over its distribution); use "
        "population=False and pass a batch"
    )
