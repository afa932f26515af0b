r"""The interface an ensemble member implements: `init`, `step`, `observe`.

A problem describes **one member** (one seed under one setting of the hyper-parameters); the
engine vmaps it over seeds and traced hyper-parameters, scans it over steps, chunks, shards,
checkpoints and records it. `params` maps each hyper-parameter axis name to its value: a traced
scalar for a float axis, a Python value for a static axis (see `Sweep`).
"""

import abc
from typing import Any, ClassVar

import equinox as eqx
import jax


class AbstractProblem(eqx.Module):
    r"""One ensemble member.

    - `init(key, params, inputs=None) -> state`: the member's initial state (any pytree of
      arrays). Without `run_ensemble(..., inputs=)` the engine calls `init(key, params)`; with
      it, `init(key, params, inputs_of_the_seed)`: the seed's slice of every leaf of `inputs`
      (its leading seed axis removed; a vectorised problem gets the chunk's slices, leading
      member axis kept), the same for every cell of the sweep — e.g. the seed's initial state;
    - `step(state, key, t, params) -> state`: one step; `key` is
      `jax.random.fold_in(seed_key, t)` and `t` the int32 index of the step (0-based);
    - `observe(state, params) -> dict[str, Array]`: what to record at each save point (also at
      step 0); each value becomes a variable of the results with dims (seed, *axes, step, ...),
      a pytree value one variable per leaf named by its path (`theta.W1`; `leaf_names`);
    - `finite_part(state)`: the part of the state checked for divergence (default: all of it;
      a member whose checked part is non-finite or exceeds `blowup` is frozen, `diverged`);
    - `outcome(state, params)`: the `RESULTS` code of a member that did not diverge (default
      `successful`), e.g. `converged` when it met a criterion;
    - `observable_state(state)`: what the user's `observables` of `run_ensemble` receive
      (default: the whole state; `training.TrainProblem`: the parameters x = (θ, ω)).

    **Class attribute** (the only one; a subclass may leave it out):

    - `vectorised: bool = False`. `True` declares a problem whose methods act on a whole chunk
      of members at once (leading member axis on states, keys and params; `key` is then the
      members' seed keys and the step derives its randomness from (key, t) itself). The engine
      then does not vmap it; used by fast paths that draw noise for all members in one fused
      call.

    `init`, `step` and `observe` are abstract: a subclass without one of them cannot be
    instantiated (Python's `TypeError` names the missing methods).
    """

    vectorised: ClassVar[bool] = False

    @abc.abstractmethod
    def init(self, key: Any, params: dict[str, Any], inputs: Any = None) -> Any: ...

    @abc.abstractmethod
    def step(self, state: Any, key: Any, t: jax.Array, params: dict[str, Any]) -> Any: ...

    @abc.abstractmethod
    def observe(self, state: Any, params: dict[str, Any]) -> dict[str, Any]: ...

    def finite_part(self, state: Any) -> Any:
        return state

    def observable_state(self, state: Any) -> Any:
        return state

    def outcome(self, state: Any, params: dict[str, Any]) -> jax.Array:
        from ._outcome import RESULTS

        return jax.numpy.asarray(RESULTS.successful, jax.numpy.int32)
