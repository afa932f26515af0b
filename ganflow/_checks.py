"""Input validation shared by all of ganflow.

Structure, shape and configuration errors are `ValueError`s raised at trace time, before anything
is compiled. Values that are only known at run time (traced arrays) are checked with
`eqx.error_if`, which survives `jit` and `vmap`.
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


def is_concrete(value: Any) -> bool:
    """True for Python numbers and NumPy/JAX arrays that are not being traced."""
    return not isinstance(value, jax.core.Tracer)


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> Any:
    """Checks `value > 0` (or `>= 0`). Raises `ValueError` for concrete values; for traced values
    returns `value` wrapped by `eqx.error_if`, so the check happens at run time."""
    bad_text = "must be >= 0" if allow_zero else "must be > 0"
    if is_concrete(value):
        arr = np.asarray(value)
        if not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"{name} must be a number, got {value!r}")
        bad = np.any(arr < 0) if allow_zero else np.any(arr <= 0)
        if bad or np.any(np.isnan(arr)):
            raise ValueError(f"{name} {bad_text}, got {value!r}")
        return value
    bad = (value < 0) if allow_zero else (value <= 0)
    return eqx.error_if(value, jnp.any(bad), f"{name} {bad_text}")


def check_int_at_least(name: str, value: Any, minimum: int) -> int:
    """Checks that `value` is a Python int (static) and `>= minimum`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def check_state(x: Any, name: str = "x") -> tuple[Any, Any]:
    """Checks that `x` is a pair (θ, ω) of pytrees of inexact arrays."""
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(
            f"{name} must be a pair (theta, omega) of pytrees; got {type(x).__name__}"
            + (f" of length {len(x)}" if isinstance(x, (tuple, list)) else "")
        )
    for part, leaf in zip(("theta", "omega"), x):
        for a in jax.tree_util.tree_leaves(leaf):
            if not eqx.is_array(a) and not isinstance(a, (float, np.floating)):
                raise ValueError(
                    f"{name}.{part} must contain only arrays; found a leaf of type "
                    f"{type(a).__name__} (hold hyper-parameters in eqx.field(static=True))"
                )
            if eqx.is_array(a) and not jnp.issubdtype(a.dtype, jnp.inexact):
                raise ValueError(f"{name}.{part} must have floating-point leaves; found {a.dtype}")
    return x[0], x[1]


def check_same_structure(name: str, u: Any, x: Any, x_name: str = "x") -> None:
    """Raises `ValueError` unless `u` has the tree structure and leaf shapes of `x`."""
    su, sx = jax.tree_util.tree_structure(u), jax.tree_util.tree_structure(x)
    if su != sx:
        raise ValueError(
            f"{name} must have the pytree structure of {x_name}:\n  {name}: {su}\n  {x_name}: {sx}"
        )
    for a, b in zip(jax.tree_util.tree_leaves(u), jax.tree_util.tree_leaves(x)):
        if jnp.shape(a) != jnp.shape(b):
            raise ValueError(
                f"{name} must have the leaf shapes of {x_name}: got {jnp.shape(a)}, "
                f"expected {jnp.shape(b)}"
            )


def check_scalar_output(name: str, value: Any) -> Any:
    """Raises `ValueError` unless `value` is a scalar (called while tracing an objective)."""
    if jnp.shape(value) != ():
        raise ValueError(
            f"{name} must return a scalar, got an output of shape {jnp.shape(value)} "
            "(average per-example values into one number)"
        )
    if not jnp.issubdtype(jnp.result_type(value), jnp.inexact):
        raise ValueError(
            f"{name} must return a floating-point scalar, got {jnp.result_type(value)}"
        )
    return value


def scalar_logit(omega: Any, x: Any) -> Any:
    """`omega(x)` for a discriminator model, checked to be one scalar logit per example (at
    trace time)."""
    out = omega(x)
    if jnp.shape(out) != ():
        raise ValueError(
            f"the discriminator must return a scalar logit per example, got shape "
            f"{jnp.shape(out)}"
        )
    return out


def ensure_writable_folder(folder: Any, what: str = "the output folder") -> None:
    """Creates `folder` (and parents) and checks that a file can be written there; raises
    `ValueError` naming `what`, the folder and the reason otherwise."""
    import os
    from pathlib import Path

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".ganflow-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ValueError(f"cannot write to {what} {folder}: {e.strerror or e}") from None


def check_choice(name: str, value: Any, choices: tuple[str, ...] | list[str]) -> str:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {sorted(choices)}")
    return value


def check_choices(name: str, values: tuple, choices: tuple) -> tuple:
    """A non-empty tuple of distinct values, each one of `choices` (a config's list of names)."""
    if not values:
        raise ValueError(f"{name} must name at least one of {', '.join(choices)}")
    for v in values:
        check_choice(name, v, choices)
    if len(set(values)) != len(values):
        raise ValueError(f"{name} lists a value twice: {', '.join(values)}")
    return values


def check_keys(keys: Any) -> Any:
    """Checks that `keys` is a 1-D array of typed PRNG keys (one per seed) and returns it."""
    keys = jnp.asarray(keys) if not hasattr(keys, "dtype") else keys
    if jnp.issubdtype(keys.dtype, jax.dtypes.prng_key):
        if keys.ndim != 1:
            raise ValueError(f"keys must be a 1-D array of keys (one per seed), got {keys.shape}")
        return keys
    raise ValueError(
        "keys must be a 1-D array of typed keys, e.g. jax.random.split(jax.random.key(0), n)"
    )


def check_seed_x0(x0: Any, num_seeds: int, batched: bool) -> None:
    """Checks an ensemble's initial state: a pair (θ, ω) of pytrees, and with `batched=True` a
    leading seed axis of size `num_seeds` on every leaf."""
    if not batched:
        check_state(x0, "x0")
        return
    check_state(x0, "x0")
    for a in jax.tree_util.tree_leaves(x0):
        if jnp.ndim(a) == 0 or jnp.shape(a)[0] != num_seeds:
            raise ValueError(
                f"batched_x0=True needs a leading seed axis of size {num_seeds} on every leaf; "
                f"got a leaf of shape {jnp.shape(a)}"
            )


def xarray_selection_keywords() -> frozenset[str]:
    """The named arguments of xarray's selection methods (`sel`, `isel`, `reindex`, `interp` of
    `Dataset` and `DataArray`, read from their signatures): `method`, `tolerance`, `drop`,
    `indexers`, … A dimension or variable of such a name cannot be selected by keyword —
    `ds.sel(method="nk")` passes `method` to xarray and silently returns everything."""
    import inspect

    import xarray as xr

    names = set()
    for cls in (xr.Dataset, xr.DataArray):
        for fn in (cls.sel, cls.isel, cls.reindex, cls.interp):
            for name, p in inspect.signature(fn).parameters.items():
                if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                    names.add(name)
    return frozenset(names)


def check_selectable_names(names: Any, what: str) -> None:
    """Refuses a dimension, coordinate or variable name that is a keyword of xarray's selection
    methods (`xarray_selection_keywords`), with one line naming it and `what` it names."""
    bad = sorted(set(map(str, names)) & xarray_selection_keywords())
    if bad:
        raise ValueError(
            f"{what} {bad[0]!r} is a keyword of xarray's sel/isel/reindex/interp, so "
            f"ds.sel({bad[0]}=...) would not select it: name it after what it varies "
            f"(e.g. 'variant', 'scheme')"
        )
