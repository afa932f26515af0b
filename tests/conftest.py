"""Test configuration: float64 everywhere, a deterministic key fixture, pytree comparison.

x64 is switched on once, at import, for the whole session (never flipped inside a test).
"""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("GANFLOW_COMPILATION_CACHE", "0")  # in-process commands: no cache

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import itertools  # noqa: E402

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def getkey():
    """`getkey()` returns a fresh key each call, from a fixed seed (reproducible tests)."""
    counter = itertools.count()
    base = jax.random.key(1234)
    return lambda: jax.random.fold_in(base, next(counter))


def tree_allclose(a, b, rtol=1e-10, atol=1e-12):
    """True when two pytrees have the same structure and all leaves are close."""
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    if ta != tb:
        return False
    return all(
        np.allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol) for x, y in zip(la, lb)
    )


@pytest.fixture
def allclose():
    return tree_allclose


def flat(tree):
    """All leaves of a pytree as one float64 NumPy vector (ganflow's flat order)."""
    leaves = jax.tree_util.tree_leaves(tree)
    return np.concatenate([np.ravel(np.asarray(a, dtype=np.float64)) for a in leaves])


__all__ = ["flat", "jnp", "tree_allclose"]
