r"""Run a training scheme over a batch of seeds and return a `RunSolution`.

Every seed runs the same compiled `lax.scan` under `vmap`. A seed whose state becomes non-finite
or leaves the ball $\|x\|_∞ ≤$ `blowup` is frozen at its last good state and flagged DIVERGED
with the step it happened at; the arithmetic of the other seeds is untouched (per-seed `where`,
no reduction across the seed axis), so they finish exactly as they would without it.
"""

from typing import Any

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from .._checks import check_int_at_least, check_positive, check_state
from ..engine import (
    RESULTS,
    AbstractProblem,
    Execution,
    RunFolder,
    StateError,
    Sweep,
    front_door_execution,
    run_ensemble,
    seed_keys,
    state_error,
)
from ._schemes import AbstractScheme, TrainState

_tmap = jax.tree_util.tree_map


class RunSolution(eqx.Module):
    r"""The result of `run` for a batch of S seeds.

    - `ts` (T,): the steps at which states were saved (0, save_every, ..., num_steps);
    - `xs`: the saved states, leaves of shape (S, T, ...); `x_final`: leaves (S, ...);
    - `distances` (S, T): $\|x - x^*\|_2$ at the save points (None without `x_star`: the
      dataset then has no `distance` variable);
    - `final_distance` (S,): at the end (to x*, or the size of the last step without x*);
    - `status` (S,): `ganflow.engine.RESULTS` codes (`converged`, `max_steps_reached`,
      `diverged`); `status_names` gives them as strings;
    - `diverged_step` (S,): the step whose result was non-finite or beyond `blowup` (−1 if none);
    - `converged_step` (S,): the first step within `tol` of x* (−1 if never);
    - `state`: the final `TrainState` (optimiser states, stats such as CG iterations);
    - `dataset`: the engine's labelled results (an `xarray.Dataset`; with a `folder`, its
      `results.zarr`): dims seed, step (and eta for `run_grid`) with their coordinates; the
      parameters as one variable per leaf named by its path, `theta.<path>` and
      `omega.<path>` (e.g. `theta.W1` with dims (seed, [eta,] step, theta.W1_dim0, ...);
      `ganflow.engine.leaf_names`); `distance` (with `x_star`); each of the run's
      `observables`; `status` and `diverged_step` per member.

    The arrays (`xs`, `status`, ...) have leading axes (S, ...) for `run` and (E, S, ...) for
    `run_grid`; the dataset labels them instead.
    """

    ts: Int[Array, " T"]
    xs: Any
    x_final: Any
    distances: Float[Array, "S T"] | None
    final_distance: Float[Array, " S"]
    status: Int[Array, " S"]
    diverged_step: Int[Array, " S"]
    converged_step: Int[Array, " S"]
    state: TrainState
    dataset: Any = eqx.field(static=True, default=None)

    @property
    def status_names(self) -> list[str]:
        return RESULTS.names(self.status)

    @property
    def converged(self) -> Bool[Array, " S"]:
        return self.status == RESULTS.converged

    @property
    def diverged(self) -> Bool[Array, " S"]:
        return self.status == RESULTS.diverged

    def fraction_converged(self) -> Float[Array, ""]:
        return jnp.mean(self.converged)


def _distance(x: Any, x_star: Any) -> jax.Array:
    """‖x − x*‖₂ over all leaves, as a sum of per-leaf squares (no flat copy: evaluated every
    step for the move, it must fuse into the step)."""
    sq = [jnp.sum(jnp.square(a - b)) for a, b in zip(jax.tree_util.tree_leaves(x),
                                                      jax.tree_util.tree_leaves(x_star))]
    return jnp.sqrt(sum(sq)) if sq else jnp.zeros(())


class TrainProblem(AbstractProblem):
    r"""A training scheme as an ensemble member of the engine (`ganflow.engine`).

    The state is `(TrainState, converged_step, last_move)`; the initial state x0 comes from the
    seed's `inputs`. Step t uses `fold_in(seed_key, t)` to draw its batches (when the scheme has
    a sampler). With `x_star`, a member is `converged` when its final distance to x* is ≤ `tol`
    (else `max_steps_reached`); without it, when its last step moved ≤ `tol`. `make_scheme`
    (instead of `scheme`) builds the scheme from the traced hyper-parameters
    (`make_scheme(eta)` with the sweep's axis `eta`).

    It observes the players' parameters as `theta` and `omega` (one variable per leaf,
    `theta.W1`, ...) and, with `x_star`, `distance`; the user's observables of `run_ensemble`
    receive x = (θ, ω). `training.run` and `run_grid` build it; use it directly for other
    sweeps of the engine:

    ```python
    problem = TrainProblem(None, None, 1e-8, make_scheme=lambda eta: make_scheme(
        "simultaneous", game, optax.sgd(eta), sampler=sampler))
    run_ensemble(problem, Sweep(seeds=16, axes={"eta": [0.01, 0.1]}), 500, inputs=x0s)
    ```
    """

    scheme: Any
    x_star: Any
    tol: Any
    make_scheme: Any = None
    vectorised = False

    def _scheme(self, params) -> AbstractScheme:
        return self.scheme if self.make_scheme is None else self.make_scheme(params["eta"])

    def init(self, key, params, inputs=None):
        state = self._scheme(params).init(inputs)  # inputs: the seed's initial state x0
        minus1 = jnp.asarray(-1, jnp.int32)
        if self.x_star is not None:
            hit = _distance(state.x, self.x_star) <= self.tol
            conv = jnp.where(hit, 0, minus1).astype(jnp.int32)
        else:
            conv = minus1
        dtype = jnp.result_type(*jax.tree_util.tree_leaves(state.x))
        return state, conv, jnp.asarray(jnp.inf, dtype)

    def step(self, carry, key, t, params):
        state, conv, _ = carry
        scheme = self._scheme(params)
        new = scheme.step(state, key if scheme.sampler is not None else ())
        move = _distance(new.x, state.x).astype(carry[2].dtype)
        if self.x_star is not None:
            hit = (conv < 0) & (_distance(new.x, self.x_star) <= self.tol)
            conv = jnp.where(hit, t + 1, conv).astype(jnp.int32)
        return new, conv, move

    def observe(self, carry, params):
        x = carry[0].x
        out = {"theta": x[0], "omega": x[1]}
        if self.x_star is not None:
            out["distance"] = _distance(x, self.x_star)
        return out

    def observable_state(self, carry):
        return carry[0].x

    def finite_part(self, carry):
        return carry[0].x

    def outcome(self, carry, params):
        state, _, move = carry
        final = _distance(state.x, self.x_star) if self.x_star is not None else move
        return jnp.where(final <= self.tol, RESULTS.converged, RESULTS.max_steps_reached)


def _check_run_inputs(num_steps, save_every, x0s, x_star, tol, blowup):
    """Shared input checks of `run` and `run_grid` (ValueErrors before compiling). Returns
    `(num_steps, save_every, num_seeds, x_star)`."""
    num_steps = check_int_at_least("num_steps", num_steps, 1)
    if save_every is not None:
        save_every = check_int_at_least("save_every", save_every, 1)
        if num_steps % save_every:
            raise ValueError(f"save_every={save_every} must divide num_steps={num_steps}")
    check_positive("tol", tol)
    check_positive("blowup", blowup)
    check_state(x0s, "x0s")
    sizes = {jnp.shape(a)[0] if jnp.ndim(a) else None for a in jax.tree_util.tree_leaves(x0s)}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(f"every leaf of x0s needs the same leading seed axis; got sizes {sizes}")
    (num_seeds,) = sizes
    if x_star is not None:
        x_star = tuple(check_state(x_star, "x_star"))
    return num_steps, save_every, num_seeds, x_star


def _check_on_one_seed(make, x0s: Any, keys: Any, eta: Any, observables: Any, where: str):
    """Traces one step of the scheme (and the observables) on seed 0's state abstractly
    (`jax.eval_shape`, nothing compiled): an objective, sampler or observable that fails on the
    state — a weight of the wrong shape, θ and ω swapped, a wrong x0s leaf — raises one
    `ValueError` naming x0's leaves and shapes, with the original message."""
    if observables is not None and not isinstance(observables, dict):
        raise ValueError(
            "observables must be a dict {name: fn(x, step) -> array}, got "
            f"{type(observables).__name__}")
    for name, fn in (observables or {}).items():
        if not callable(fn):
            raise ValueError(
                f"the observable {name!r} must be a function fn(x, step) -> array, got "
                f"{type(fn).__name__}")
    x0 = _tmap(lambda a: a[0], x0s)

    def one(x, key, e):
        scheme = make(e)
        new = scheme.step(scheme.init(x), jax.random.fold_in(key, 0)
                          if scheme.sampler is not None else ())
        return {name: fn(new.x, new.step) for name, fn in (observables or {}).items()}

    try:
        jax.eval_shape(one, x0, keys[0], eta)
    except StateError as e:
        raise state_error("", e, {}) from None
    except (TypeError, ValueError, IndexError, KeyError, AttributeError) as e:
        raise state_error(f"{where}: one step of the scheme", e,
                          {"theta": x0[0], "omega": x0[1]}) from None


def _keys(key: Any, keys: Any, num_seeds: int, needed: bool) -> Any:
    if key is not None and keys is not None:
        raise ValueError("pass either key (split into one key per seed) or keys, not both")
    if keys is not None:
        keys = seed_keys(keys)
        if keys.shape[0] != num_seeds:
            raise ValueError(f"keys has {keys.shape[0]} keys for {num_seeds} seeds")
        return keys
    if key is not None:
        if not (hasattr(key, "dtype") and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)):
            raise ValueError("key must be a typed PRNG key, e.g. jax.random.key(0)")
        return jax.random.split(key, num_seeds)
    if needed:
        raise ValueError("this scheme samples batches: pass a PRNG key")
    return seed_keys(num_seeds)  # unused by deterministic schemes


def _solution(res, problem_steps, with_distance: bool, cell_axis: int | None) -> RunSolution:
    state, conv, move = res.final_state

    def take(a):  # (S, C, ...) -> (S, ...) or (C, S, ...)
        a = jnp.asarray(a)
        return a[:, 0] if cell_axis is None else jnp.swapaxes(a, 0, 1)

    xs = (res.tree("theta", state.x[0]), res.tree("omega", state.x[1]))
    xs = _tmap(jnp.asarray, xs)
    status = jnp.asarray(res.status)
    dstep = jnp.asarray(res.diverged_step)
    dist = jnp.asarray(res.observations["distance"]) if with_distance else None
    if cell_axis is not None:  # engine (S, E, ...) -> (E, S, ...)
        xs = _tmap(lambda a: jnp.swapaxes(a, 0, 1), xs)
        status, dstep = (jnp.swapaxes(a, 0, 1) for a in (status, dstep))
        dist = None if dist is None else jnp.swapaxes(dist, 0, 1)
    state_out = _tmap(take, state)
    conv, move = take(conv), take(move)
    final_distance = dist[..., -1] if with_distance else move
    return RunSolution(
        ts=jnp.asarray(res.steps),
        xs=xs,
        x_final=state_out.x,
        distances=dist,
        final_distance=final_distance,
        status=status,
        diverged_step=dstep,
        converged_step=conv,
        state=state_out,
        dataset=res.dataset,
    )


def run(
    scheme: AbstractScheme,
    x0s: Any,
    num_steps: int,
    key: PRNGKeyArray | None = None,
    *,
    keys: Any = None,
    save_every: int | None = None,
    x_star: Any = None,
    tol: float = 1e-8,
    blowup: float = 1e6,
    throw: bool = False,
    folder: RunFolder | None = None,
    execution: Execution | None = None,
    observables: dict[str, Any] | None = None,
) -> RunSolution:
    r"""Runs `scheme` for `num_steps` steps from each initial state in `x0s` (leaves with a
    leading seed axis S), vmapped over seeds, compiled once — through the ensemble engine
    (`ganflow.engine.run_ensemble`).

    - `key`: split into one key per seed (`keys = jax.random.split(key, S)`), or `keys`: one
      typed key per seed; step t of a seed uses `fold_in(seed_key, t)` as its data (batches
      are sampled inside the scan; required when the scheme has a sampler). A seed's path
      depends on its own key and x0 only;
    - `save_every`: keep the state every `save_every` steps (must divide `num_steps`); None keeps
      only the first and last states;
    - `x_star`: a known equilibrium: the run reports distances to it, and a seed is `converged`
      when its final distance is ≤ `tol` (else `max_steps_reached`). Without it, `converged`
      means the last step moved ≤ `tol`;
    - a seed whose state is non-finite or exceeds `blowup` (max-norm) is frozen and `diverged`;
    - `throw=True` raises if any seed diverged;
    - `folder`: a `ganflow.engine.RunFolder`: results streamed to its `results.zarr`,
      checkpoints, resume or overwrite (default: in memory only);
    - `execution`: a `ganflow.engine.Execution`: seeds per chunk, sharding over devices (default:
      when more than one is present), save points per compiled call, a progress bar (default:
      none). Neither changes a number of the result;
    - `observables`: `{name: fn(x, step) -> array}` with x = (θ, ω) of one seed and `step` the
      step count: recorded at the save points as the dataset's variable `name` (dims seed,
      step, ...), computed inside the compiled loop (default: none).

    The result's `dataset` is the labelled data (dims seed, step; parameters `theta.<path>`,
    `omega.<path>`). Before compiling, one step is traced on seed 0's state: an objective
    that fails on it (a wrong weight shape, θ and ω swapped) raises one `ValueError` naming
    x0's leaves and shapes.

    ```python
    sol = run(SimultaneousGDA(b, optax.sgd(0.1)), x0s, 1000, x_star=game.equilibrium())
    sol.status_names, sol.diverged_step, sol.dataset["distance"]
    ```
    """
    if not isinstance(scheme, AbstractScheme):
        raise ValueError(f"scheme must be a ganflow training scheme, got {type(scheme).__name__}")
    num_steps, save_every, num_seeds, x_star = _check_run_inputs(
        num_steps, save_every, x0s, x_star, tol, blowup
    )
    keys = _keys(key, keys, num_seeds, scheme.sampler is not None)
    x0s = tuple(x0s)
    # check the scheme against one seed's state at trace time (before compiling the loop)
    _check_on_one_seed(lambda _: scheme, x0s, keys, None, observables, "training.run")
    problem = TrainProblem(scheme, x_star, tol)
    res = run_ensemble(
        problem, Sweep(seeds=keys), num_steps, save_every=save_every, inputs=x0s,
        blowup=blowup, folder=folder, execution=front_door_execution(execution),
        name="training.run", observables=observables,
    )
    sol = _solution(res, num_steps, x_star is not None, None)
    if throw and bool(np.any(np.asarray(sol.status) == RESULTS.diverged)):
        raise RuntimeError("a seed diverged during the run (status 'diverged'; see diverged_step)")
    return sol


def _float_leaves_state(state: TrainState) -> tuple[Any, Any]:
    """(dynamic part, rebuild): the inexact leaves of (x, extra, opt_state) that evolve."""
    dyn, static = eqx.partition((state.x, state.extra, state.opt_state), eqx.is_inexact_array)
    return dyn, static


def update_jacobian(
    scheme: AbstractScheme, x: Any, data: Any = (), *, step: int = 1
) -> Float[Array, "n n"]:
    r"""The dense Jacobian $F'$ of one step of `scheme` at the state x (small games only),
    `jax.jacfwd` of the actual update map. The map acts on everything that evolves: x and the
    scheme's memory (OGDA's previous direction, momentum of an optimiser), in the flat order of
    `ravel_pytree` — x first. The state is `scheme.init(x)` with its step counter set to `step`
    (default 1: past OGDA's plain first step). At a fixed point x*, local convergence holds
    when $ρ(F'(x^*)) < 1$ (Mescheder 2017; docs/conventions.md §Discrete schemes).
    """
    return _update_jacobian_jit(scheme, tuple(check_state(x)), data, step)


def update_jacobian_impl(scheme: AbstractScheme, x: Any, data: Any = (), step: int = 1):
    """`update_jacobian` without `jit` and checks, traceable inside a `vmap` (the atlas)."""
    state = scheme.init(x)
    state = eqx.tree_at(lambda s: s.step, state, jnp.asarray(step, dtype=jnp.int32))
    dyn, static = _float_leaves_state(state)
    flat, unravel = jax.flatten_util.ravel_pytree(dyn)

    def fmap(v):
        xs, extra, opt_state = eqx.combine(unravel(v), static)
        s = TrainState(x=xs, opt_state=opt_state, step=state.step, extra=extra, stats=state.stats)
        new = scheme.step(s, data)
        return jax.flatten_util.ravel_pytree(_float_leaves_state(new)[0])[0]

    return jax.jacfwd(fmap)(flat)


_update_jacobian_jit = eqx.filter_jit(update_jacobian_impl)


def run_grid(
    make_scheme: Any,
    etas: Float[Array, " E"],
    x0s: Any,
    num_steps: int,
    key: PRNGKeyArray | None = None,
    *,
    keys: Any = None,
    save_every: int | None = None,
    x_star: Any = None,
    tol: float = 1e-8,
    blowup: float = 1e6,
    folder: RunFolder | None = None,
    execution: Execution | None = None,
    observables: dict[str, Any] | None = None,
) -> RunSolution:
    """`run` over a grid of learning rates × seeds in one compilation (the engine's traced axis
    `eta`): `make_scheme(eta)` builds the scheme for one (traced) learning rate; the result's
    arrays have leading axes (E, S), its `dataset` the dims (seed, eta, step) with their
    coordinates (in `folder`'s `results.zarr` with a folder). `folder`, `execution`,
    `observables`: as for `run`.

    ```python
    sol = run_grid(lambda eta: make_scheme("simultaneous", game, optax.sgd(eta),
                                           sampler=sampler), [0.01, 0.1], x0s, 500, key)
    sol.dataset["theta.W1"].sel({"eta": 0.1})   # (seed, step, theta.W1_dim0, ...)
    ```
    """
    num_steps, save_every, num_seeds, x_star = _check_run_inputs(
        num_steps, save_every, x0s, x_star, tol, blowup
    )
    etas = np.asarray(etas)
    if etas.ndim != 1:
        raise ValueError(f"etas must be a 1-D array of learning rates, got shape {etas.shape}")
    check_positive("etas", etas)
    x0s = tuple(x0s)
    probe = make_scheme(jnp.asarray(float(etas[0])))
    if not isinstance(probe, AbstractScheme):
        raise ValueError("make_scheme(eta) must return a ganflow training scheme")
    keys = _keys(key, keys, num_seeds, probe.sampler is not None)
    _check_on_one_seed(make_scheme, x0s, keys, jnp.asarray(float(etas[0])), observables,
                       "training.run_grid")
    problem = TrainProblem(None, x_star, tol, make_scheme)
    res = run_ensemble(
        problem, Sweep(seeds=keys, axes={"eta": [float(e) for e in etas]}), num_steps,
        save_every=save_every, inputs=x0s, blowup=blowup, folder=folder,
        execution=front_door_execution(execution), name="training.run_grid",
        observables=observables,
    )
    return _solution(res, num_steps, x_star is not None, 1)
