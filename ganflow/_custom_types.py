"""Type aliases shared across ganflow (jaxtyping)."""

from collections.abc import Callable
from typing import Any, TypeAlias

from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, PyTree

Params: TypeAlias = PyTree[Array]
"""One player's parameters: any pytree of inexact arrays (an equinox Module, a dict, an array)."""

State: TypeAlias = tuple[Any, Any]
"""The state x = (θ, ω): generator parameters first, discriminator parameters second."""

Scalar: TypeAlias = Float[Array, ""]
ScalarLike: TypeAlias = float | Float[ArrayLike, ""]

Field: TypeAlias = Callable[..., Any]
"""A vector field b(x, *args) returning a pytree of the structure of x = (θ, ω)."""

Key: TypeAlias = PRNGKeyArray

__all__ = ["Array", "Field", "Float", "Key", "Params", "PyTree", "Scalar", "ScalarLike", "State"]
