"""Solutions of ODE and SDE solves, with a status per seed.

`status` is an integer array (one entry per seed for ensembles) with the meanings of
`STATUS_NAMES`; `result` keeps diffrax's own result codes where diffrax did the solve.
"""

from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

SUCCESS, MAX_STEPS, NONFINITE, FAILED = 0, 1, 2, 3
STATUS_NAMES = ("success", "max_steps", "nonfinite", "failed")
"""`status` codes: 0 the solve finished; 1 diffrax ran out of `max_steps`; 2 the state
blew up (a non-finite value appeared); 3 another diffrax failure (see `result`)."""


def _status_from_result(result: Any) -> Array:
    """Maps diffrax's RESULTS (possibly batched) to ganflow status codes."""
    ok = result == diffrax.RESULTS.successful
    max_steps = result == diffrax.RESULTS.max_steps_reached
    return jnp.where(ok, SUCCESS, jnp.where(max_steps, MAX_STEPS, FAILED)).astype(jnp.int32)


def _first_nonfinite(ts: Array, xs: Any, time_axis: int) -> tuple[Array, Array]:
    """(any non-finite along the saves, time of the first non-finite save or +inf)."""
    leaves = jax.tree_util.tree_leaves(xs)
    bad = None
    for a in leaves:
        axes = tuple(i for i in range(a.ndim) if i > time_axis)
        b = jnp.any(~jnp.isfinite(a), axis=axes) if axes else ~jnp.isfinite(a)
        bad = b if bad is None else bad | b
    if bad is None:
        shape = ts.shape[:0]
        return jnp.zeros(shape, bool), jnp.full(shape, jnp.inf, ts.dtype)
    idx = jnp.argmax(bad, axis=time_axis)
    any_bad = jnp.any(bad, axis=time_axis)
    t_bad = jnp.where(any_bad, ts[idx], jnp.inf)
    return any_bad, t_bad


class _AbstractSolution(eqx.Module):
    @property
    def ok(self) -> Array:
        """True where `status == success`."""
        return self.status == SUCCESS

    @property
    def messages(self) -> list[str] | str:
        """`status` in words (a list for ensembles)."""
        s = np.asarray(self.status)
        if s.ndim == 0:
            return STATUS_NAMES[int(s)]
        return [STATUS_NAMES[int(v)] for v in s.ravel()]

    def summary(self) -> dict[str, int]:
        """How many seeds ended with each status."""
        s = np.asarray(self.status).ravel()
        return {name: int(np.sum(s == code)) for code, name in enumerate(STATUS_NAMES)}


class ODESolution(_AbstractSolution):
    r"""A deterministic solve of $\dot x = b(x)$.

    - `ts`: save times, shape (T,);
    - `xs`: the state at the save times, a pytree like x with a leading time axis T;
    - `status`: ganflow status code (see `STATUS_NAMES`);
    - `result`: diffrax's result code;
    - `num_steps`: accepted steps taken.
    """

    ts: Float[Array, " T"]
    xs: Any
    status: Int[Array, ""]
    result: Any
    num_steps: Array


class SDESolution(_AbstractSolution):
    r"""An ensemble (or a single path) of SDE or discrete-scheme solves.

    - `ts`: save times (T,) — for discrete schemes, the step index times η;
    - `xs`: the states, leaves of shape (seeds, T, ...) (no seed axis for a single path);
    - `status`: one ganflow status code per seed (`STATUS_NAMES`): a blown-up seed is
      `nonfinite`, the others are unaffected;
    - `t_nonfinite`: per seed, the first save time with a non-finite state (`inf` if none);
    - `result`: diffrax's result codes per seed (None when ganflow's `lax.scan` path ran);
    - `method`: `"scan"` (ganflow's Euler–Maruyama fast path), `"diffrax"` or a discrete
      scheme's name.
    """

    ts: Float[Array, " T"]
    xs: Any
    status: Int[Array, "..."]
    t_nonfinite: Float[Array, "..."]
    result: Any
    method: str = eqx.field(static=True)
