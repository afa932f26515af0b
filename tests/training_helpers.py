"""Helpers shared by the training tests (tests/test_training_*.py)."""

import jax
import jax.numpy as jnp
import numpy as np

import ganflow as gf
from ganflow import training as tr
from ganflow.dynamics import vector_field


def sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


def dirac_b(theta, psi, loss):
    fp = sigmoid(psi * theta) if loss == "gan" else 1.0
    return np.array([psi * fp, -theta * fp])


def scalar_state(theta, omega):
    return (jnp.asarray(theta, dtype=float), jnp.asarray(omega, dtype=float))


def bilinear_field():
    return vector_field(lambda t, w: t * w)


def seeds_near(x_star, key, radius, n=64):
    """n initial states x* + radius·N(0, I) (leaves with a leading seed axis)."""
    leaves, treedef = jax.tree_util.tree_flatten(x_star)
    keys = jax.random.split(key, len(leaves))
    noisy = [
        jnp.asarray(a) + radius * jax.random.normal(k, (n, *jnp.shape(a)))
        for a, k in zip(leaves, keys)
    ]
    return jax.tree_util.tree_unflatten(treedef, noisy)


def rho(scheme, x_star):
    return float(gf.analysis.spectral_radius(tr.update_jacobian(scheme, x_star)))
