"""Solutions of ODE and SDE solves, with an outcome per seed.

`status` is an integer array (one entry per seed for ensembles) of `ganflow.engine.RESULTS`
codes — the one outcome vocabulary of ganflow: `successful`, `max_steps_reached` (diffrax ran
out of `max_steps`), `diverged` (the state became non-finite), `failed` (another diffrax
failure, see `result`).
"""

from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ..engine import RESULTS


def _status_from_result(result: Any) -> Array:
    """Maps diffrax's RESULTS (possibly batched) to ganflow's `RESULTS` codes."""
    ok = result == diffrax.RESULTS.successful
    max_steps = result == diffrax.RESULTS.max_steps_reached
    return jnp.where(
        ok, RESULTS.successful, jnp.where(max_steps, RESULTS.max_steps_reached, RESULTS.failed)
    ).astype(jnp.int32)


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
        """True where `status == successful`."""
        return self.status == RESULTS.successful

    @property
    def messages(self) -> list[str] | str:
        """`status` as `RESULTS` names (a list for ensembles)."""
        s = np.asarray(self.status)
        if s.ndim == 0:
            return RESULTS(int(s)).name
        return RESULTS.names(s)

    def summary(self) -> dict[str, int]:
        """How many seeds ended with each outcome."""
        return RESULTS.summary(self.status)


class ODESolution(_AbstractSolution):
    r"""A deterministic solve of $\dot x = b(x)$.

    - `ts`: save times, shape (T,);
    - `xs`: the state at the save times, a pytree like x with a leading time axis T;
    - `status`: a `ganflow.engine.RESULTS` code;
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
    - `status`: one `ganflow.engine.RESULTS` code per seed: a blown-up seed is `diverged`
      (frozen at its last finite save), the others are unaffected;
    - `t_nonfinite`: per seed, the first save time with a non-finite state (`inf` if none);
    - `result`: diffrax's result codes per seed (None when ganflow's `lax.scan` path ran);
    - `method`: `"scan"` (ganflow's Euler–Maruyama fast path), `"diffrax"` or a discrete
      scheme's name;
    - `dataset`: the engine's labelled results (`xarray.Dataset`).
    """

    ts: Float[Array, " T"]
    xs: Any
    status: Int[Array, "..."]
    t_nonfinite: Float[Array, "..."]
    result: Any
    method: str = eqx.field(static=True)
    dataset: Any = eqx.field(static=True, default=None)
