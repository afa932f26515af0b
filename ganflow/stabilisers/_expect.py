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
import numpy as np

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


def gauss_hermite(n: int, sigma: Any) -> tuple[jax.Array, jax.Array]:
    r"""Nodes $s_i$ and weights $w_i$ with $\sum_i w_i g(s_i) ≈ E\,g(ε)$, ε ∼ N(0, σ²):
    $s_i = \sqrt2\,σ\,t_i$, $w_i = h_i/\sqrt π$ from the n-point Gauss–Hermite rule $(t_i, h_i)$
    (exact for polynomials of degree ≤ 2n − 1)."""
    t, h = np.polynomial.hermite.hermgauss(n)
    dtype = jnp.result_type(float)
    return jnp.sqrt(2.0) * sigma * jnp.asarray(t, dtype), jnp.asarray(h / np.sqrt(np.pi), dtype)


def gauss_legendre_01(n: int) -> tuple[jax.Array, jax.Array]:
    r"""Nodes and weights of the n-point Gauss–Legendre rule on [0, 1] (E over U[0, 1])."""
    t, h = np.polynomial.legendre.leggauss(n)
    dtype = jnp.result_type(float)
    return jnp.asarray(0.5 * (t + 1.0), dtype), jnp.asarray(0.5 * h, dtype)
