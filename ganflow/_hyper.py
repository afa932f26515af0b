"""Continuous hyper-parameters as array leaves, shared by the training schemes, the optimisers
and the stabilisers.

`eqx.filter_jit` treats a Python float held by a module as a compile-time constant: every new
value compiles again, and nothing can be differentiated with respect to it. A hyper-parameter
passed through `hyperparameter` is held as a JAX array instead — a leaf of the module's pytree —
so one compilation serves every value and `jax.grad`/`jax.jvp` reach it.

A Python number becomes a *weakly typed* scalar (`jnp.asarray(0.1)`), which combines with the
state's arrays exactly as the Python number did: with `jax_enable_x64` (ganflow's default for
its experiments and tests) it holds the double-precision value and every result is bitwise that
of the Python float; without it, it is a float32 scalar, so arithmetic done on the
hyper-parameters alone (e.g. Adam's `1 - b2`) rounds in float32 where Python rounded in double.
NumPy and JAX arrays keep their dtype; tracers pass unchecked (their values are unknown).
"""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def is_tracer(value: Any) -> bool:
    """True when `value` (or a leaf of it) is being traced: its value is unknown here."""
    return any(isinstance(a, jax.core.Tracer) for a in jax.tree_util.tree_leaves(value))


def hyperparameter(
    name: str,
    value: Any,
    *,
    allow_zero: bool = False,
    below: float | None = None,
    sign: str = "positive",
) -> Any:
    """`value` as an array leaf, checked where it is concrete.

    - `sign="positive"`: `value > 0` (`>= 0` with `allow_zero`); `sign="any"`: no sign check;
    - `below`: an exclusive upper bound (e.g. an EMA decay < 1).

    A bad concrete value is one `ValueError` naming `name`; a tracer is returned unchanged
    (no check: inside `jax.grad`/`jit` the value is unknown and checks would break the trace).
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if is_tracer(value):
        return value
    if isinstance(value, (int, float)):
        arr = np.asarray(float(value))
        out = jnp.asarray(float(value))  # weakly typed, like the Python number
    else:
        try:
            arr = np.asarray(value)
        except Exception as err:  # noqa: BLE001 - any non-numeric object
            raise ValueError(f"{name} must be a number or an array, got {value!r}") from err
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(f"{name} must be a real number, got {value!r}")
        out = value if isinstance(value, jax.Array) else jnp.asarray(value)
        if not jnp.issubdtype(out.dtype, jnp.inexact):
            out = out.astype(jnp.result_type(float))
    if np.any(np.isnan(arr)):
        raise ValueError(f"{name} must not be NaN, got {value!r}")
    if sign == "positive":
        bad = np.any(arr < 0) if allow_zero else np.any(arr <= 0)
        if bad:
            raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    if below is not None and np.any(arr >= below):
        raise ValueError(f"{name} must be < {below}, got {value!r}")
    return out


def value_key(tree: Any) -> tuple:
    """A hashable key of a pytree by value: its tree structure (static fields included) and its
    leaves, arrays by shape, dtype, weak type and bytes, tracers by identity."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    keys = []
    for a in leaves:
        if isinstance(a, jax.core.Tracer):
            keys.append(("tracer", id(a)))
        elif isinstance(a, (jax.Array, np.ndarray, np.generic)):
            arr = np.asarray(a)
            keys.append((arr.shape, str(arr.dtype), bool(getattr(a, "weak_type", False)),
                         arr.tobytes()))
        else:
            keys.append(a)
    return (type(tree), treedef, tuple(keys))


def value_hash(tree: Any) -> int:
    """`hash(value_key(tree))`. Modules that hold hyper-parameters as arrays use it as
    `__hash__` (with `value_eq` as `__eq__`), so that `jax.jit(scheme.step)` or `jax.jit(field)`
    (which hash the function) keep working, and equal values compare equal without a traced
    comparison."""
    return hash(value_key(tree))


def value_eq(a: Any, b: Any) -> bool:
    """Equality by `value_key` (never a traced boolean)."""
    if type(a) is not type(b):
        return False
    return value_key(a) == value_key(b)
