r"""How a pytree's leaves are named in the results, and how a failure of user code on a state
is reported.

**Leaf names.** An observation whose value is one array is stored under its own name. A pytree
observation becomes one variable per leaf, named by the observation's name and the leaf's path
in the tree, joined with dots: dict keys, attribute names of `equinox.Module`s and dataclasses,
and indices of tuples and lists. The generator's parameters `{"W1": ..., "b1": ...}` observed as
`theta` are the variables `theta.W1` and `theta.b1`; an `eqx.nn.MLP` gives `theta.layers.0.weight`.
A leaf's trailing dims are named after the variable: `theta.W1_dim0`, `theta.W1_dim1`. The names
are valid zarr (format 3) node names: characters other than letters, digits, `_` and `-` in a
key become `_`, and a name that would start with `__` or collide with another is refused. Read
them with `ds["theta.W1"]` (a dot is not an attribute access in xarray).
"""

import re
from typing import Any

import jax
import jax.numpy as jnp

_PART = re.compile(r"[^A-Za-z0-9_\-]")


def _key_text(key: Any) -> str:
    if isinstance(key, jax.tree_util.DictKey):
        text = str(key.key)
    elif isinstance(key, jax.tree_util.GetAttrKey):
        text = key.name
    elif isinstance(key, jax.tree_util.SequenceKey):
        text = str(key.idx)
    elif isinstance(key, jax.tree_util.FlattenedIndexKey):
        text = str(key.key)
    else:  # a custom key type
        text = str(key).strip(".[]'\"")
    return _PART.sub("_", text) or "_"


def leaf_names(name: str, tree: Any) -> list[str]:
    """The names of `tree`'s leaves in the results when it is observed as `name`, in
    `jax.tree_util` leaf order: `[name]` for a single array, else `name.<path>` per leaf
    (e.g. `theta.W1`, `omega.layers.0.bias`; see the module doc).

    ```python
    leaf_names("theta", {"W1": w, "b1": b})   # ['theta.W1', 'theta.b1']
    ```
    """
    leaves_with_paths = jax.tree_util.tree_flatten_with_path(tree)[0]
    if len(leaves_with_paths) == 1 and not leaves_with_paths[0][0]:
        return [name]
    names = [".".join([name] + [_key_text(k) for k in path]) for path, _ in leaves_with_paths]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(
            f"the leaves of {name!r} get the same result name {dup[0]!r}: give the pytree keys "
            "that differ in letters, digits, '_' or '-'"
        )
    return names


def describe_tree(name: str, tree: Any) -> str:
    """One line listing `tree`'s array leaves as `name.<path> dtype[shape]` (the names of
    `leaf_names`), e.g. `theta.W1 float64[1,8], theta.b1 float64[8]`."""
    leaves = jax.tree_util.tree_leaves(tree)
    parts = []
    for leaf_name, leaf in zip(leaf_names(name, tree), leaves):
        if not hasattr(leaf, "shape") and not isinstance(leaf, (int, float, complex)):
            continue  # a function or other static leaf of a Module
        shape = ",".join(str(d) for d in jnp.shape(leaf))
        dtype = getattr(leaf, "dtype", type(leaf).__name__)
        parts.append(f"{leaf_name} {dtype}[{shape}]")
    return ", ".join(parts) if parts else f"{name}: no array leaves"


class StateError(ValueError):
    """User code (an objective, a field, a problem's `init`/`step`/`observe`, an observable)
    failed on a given state. The message names the state's leaves and shapes and ends with the
    original error's message; the original exception is `original`."""

    def __init__(self, message: str, original: BaseException | None = None):
        super().__init__(message)
        self.original = original


StateError.__module__ = "ganflow.engine"


def first_line(err: BaseException) -> str:
    """The error's message on one line (its first non-empty line), with its type."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    text = lines[0] if lines else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def state_error(what: str, err: BaseException, states: dict[str, Any]) -> StateError:
    """A `StateError` for `err`, raised by `what` on the named states (`{"x0s": x0}`): the
    states' leaves and shapes, then the original message on one line. A `StateError` is
    returned unchanged (it already names its state)."""
    if isinstance(err, StateError):  # a fresh copy: no traceback, no notes from JAX
        return StateError(str(err), err.original)
    desc = "; ".join(describe_tree(k, v) for k, v in states.items())
    return StateError(f"{what} failed on the state ({desc}): {first_line(err)}", err)


# Errors raised while tracing user code on a state of the wrong structure or shape: JAX's shape
# and type errors, our own ValueErrors, missing keys/attributes and bad indexing. Runtime
# errors (a RuntimeError from a compiled computation) and interrupts are never caught.
TRACE_ERRORS = (TypeError, ValueError, IndexError, KeyError, AttributeError,
                ZeroDivisionError, NotImplementedError)
