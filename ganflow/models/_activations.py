"""The activation functions that ganflow's networks name in their configs."""

import jax
import jax.numpy as jnp

ACTIVATIONS = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "leaky_relu": jax.nn.leaky_relu,
    "elu": jax.nn.elu,
    "softplus": jax.nn.softplus,
    "gelu": jax.nn.gelu,
}
"""Name → elementwise function: `relu`, `tanh`, `leaky_relu` (slope 0.01), `elu`, `softplus`,
`gelu` (JAX's tanh approximation)."""


def activation(name: str):
    """The activation function called `name` (a key of `ACTIVATIONS`); a ValueError naming the
    valid ones otherwise."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]
