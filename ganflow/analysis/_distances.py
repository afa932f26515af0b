"""Distances between samples."""

import jax
import jax.numpy as jnp


def wasserstein1(a: jax.Array, b: jax.Array) -> jax.Array:
    r"""The 1-Wasserstein distance between the empirical distributions of two samples on ℝ of
    the same size n:

    $$W_1\Big(\tfrac1n\sum_j δ_{a_j}, \tfrac1n\sum_j δ_{b_j}\Big)
      = \frac1n\sum_{j=1}^n |a_{(j)} - b_{(j)}|,$$

    with $a_{(j)}$, $b_{(j)}$ the sorted samples (on the line the optimal coupling matches order
    statistics; it equals $\int |F_a - F_b|$ of the empirical CDFs,
    `scipy.stats.wasserstein_distance`).
    jit- and vmap-able. Used as the fit of a one-dimensional generator to the data (Mounjid–Guo
    §4, `GaussianMLPGame`).
    """
    return jnp.mean(jnp.abs(jnp.sort(a) - jnp.sort(b)))
