r"""The ensemble engine: every ensemble in ganflow runs through `run_ensemble`.

A run is an `AbstractProblem` (one member), a `Sweep` (seeds × hyper-parameters) and a step
budget. For each static setting of the hyper-parameters the engine compiles **one** function
that advances every member by one *segment* (a fixed number of save intervals) — `vmap` over the
traced hyper-parameters and the seeds, `lax.map` over chunks of seeds on a device,
`shard_map` over devices and hosts — and calls it segment after segment from Python. Between
segments (and only there) it writes the new save points to the zarr store, saves a checkpoint
when one is due and advances the progress bar. Segment boundaries depend on the configuration
only, never on the clock, so a resumed run executes exactly the same compiled computations as
an uninterrupted one: the result is bitwise equal.

Divergence: after every step (`check="step"`, default) or at every save point
(`check="save"`, cheaper for tiny states), a member whose `finite_part` is non-finite or exceeds
`blowup` in max-norm is frozen at its last good state, gets the outcome `diverged` and records
the step (with `check="save"`: the end of the save interval in which it happened). Nothing is
reduced across members, so the other members finish exactly as they would have without it.
"""

import dataclasses
import datetime
import hashlib
import importlib.metadata
import json
import math
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from .._checks import (
    check_choice,
    check_int_at_least,
    check_positive,
    ensure_writable_folder,
)
from ._checkpoint import Checkpointer
from ._names import TRACE_ERRORS, StateError, leaf_names, state_error
from ._options import Execution, RunFolder
from ._outcome import RESULTS
from ._problem import AbstractProblem
from ._sharding import SEED_AXIS, pad_seeds, seed_mesh, shard_seeds
from ._store import create_store, finish_store, open_group, read_attrs
from ._sweep import Sweep

_tmap = jax.tree_util.tree_map
STORE_NAME = "results.zarr"
CHECKPOINT_DIR = "checkpoints"

# ---------------------------------------------------------------------------------------------
# chunking


def default_chunk(bytes_per_seed: int, num_local: int, backend: str | None = None,
                  memory_limit: int | None = None) -> int:
    r"""Seeds computed together on one device (the rest wait in a `lax.map`).

    - CPU: about 2¹⁷ numbers (512 kB of float32) per chunk, so that a chunk's states stay in
      cache across the steps of a segment (measured on the 35k-parameter MoG GAN, 200 steps,
      2 cores with one virtual device each: 64 seeds cost 22× one seed in chunks of 3, 30×
      with all 32 seeds of a device at once, 33× in chunks of 1; `bench_engine.py`);
    - GPU/TPU: as many seeds as fit in a quarter of the device memory at 16× the state size
      (intermediates); an H200 ran 64 MoG seeds at 14.5× one seed in CPU-sized chunks of 3 and
      at 2.1× with all 64 at once.
    """
    backend = jax.default_backend() if backend is None else backend
    bytes_per_seed = max(int(bytes_per_seed), 1)
    if backend == "cpu":
        return max(1, min(num_local, (2**17 * 4) // bytes_per_seed))
    if memory_limit is None:
        try:
            stats = jax.local_devices()[0].memory_stats() or {}
            memory_limit = int(stats.get("bytes_limit", 16 * 2**30))
        except Exception:  # backends without memory statistics
            memory_limit = 16 * 2**30
    return max(1, min(num_local, memory_limit // 4 // (16 * bytes_per_seed)))


# ---------------------------------------------------------------------------------------------
# the compiled pieces


def _bad(tree: Any, blowup: Any, batched: bool) -> jax.Array:
    """Per member: any non-finite entry or |entry| > blowup."""
    out = None
    for a in jax.tree_util.tree_leaves(tree):
        a = jnp.asarray(a)
        axes = tuple(range(1 if batched else 0, a.ndim))
        b = jnp.any(~jnp.isfinite(a), axis=axes) | jnp.any(jnp.abs(a) > blowup, axis=axes)
        out = b if out is None else out | b
    if out is None:
        return jnp.zeros((), bool)
    return out


def _select(pred: jax.Array, new: Any, old: Any, batched: bool) -> Any:
    def sel(n, o):
        p = pred.reshape(pred.shape + (1,) * (jnp.ndim(n) - pred.ndim)) if batched else pred
        return jnp.where(p, n, o)

    return _tmap(sel, new, old)


class _Plan(eqx.Module):
    """What the compiled functions need besides arrays (static)."""

    save_every: int = eqx.field(static=True)
    blowup: float = eqx.field(static=True)
    check: str = eqx.field(static=True)
    chunk: int = eqx.field(static=True)
    num_cells: int = eqx.field(static=True)
    mesh: Any = eqx.field(static=True)
    unroll: int = eqx.field(static=True, default=1)


def _member_fns(problem: AbstractProblem, plan: _Plan):
    """(init, segment) for one seed and all cells of the static setting: carry leaves (C, ...),
    params leaves (C,)."""
    vec = problem.vectorised
    div = jnp.int32(RESULTS.diverged)

    def outcome_members(carry, params):
        state, status, dstep = carry
        code = jnp.asarray(problem.outcome(state, params), jnp.int32)
        return jnp.where(status == div, div, code)

    def init_members(keys, params, inputs):
        # keys (M,), params leaves (M,) for vectorised; key scalar, params scalars otherwise
        state = problem.init(keys, params) if inputs is None else problem.init(keys, params,
                                                                               inputs)
        n = keys.shape if vec else ()
        status = jnp.full(n, RESULTS.successful, jnp.int32)
        dstep = jnp.full(n, -1, jnp.int32)
        return (state, status, dstep), problem.observe_at(state, params, jnp.int32(0))

    def segment_members(carry, keys, params, t0, n_saves):
        def one_step(c, t):
            state, status, dstep = c
            k = keys if vec else jax.random.fold_in(keys, t)
            new = problem.step(state, k, t, params)
            if plan.check == "step":
                alive = status != div
                bad = alive & _bad(problem.finite_part(new), plan.blowup, vec)
                state = _select(alive & ~bad, new, state, vec)
                status = jnp.where(bad, div, status)
                dstep = jnp.where(bad, t + 1, dstep)
            else:
                state = new
            return (state, status, dstep), None

        def save_block(c, i):
            ts = (t0 + i * plan.save_every + jnp.arange(plan.save_every)).astype(jnp.int32)
            new, _ = jax.lax.scan(one_step, c, ts, unroll=plan.unroll)
            if plan.check == "save":
                state, status, dstep = new
                alive = status != div
                bad = alive & _bad(problem.finite_part(state), plan.blowup, vec)
                state = _select(alive & ~bad, state, c[0], vec)
                status = jnp.where(bad, div, status)
                dstep = jnp.where(bad, ts[-1] + 1, dstep)
                new = (state, status, dstep)
            return new, problem.observe_at(new[0], params, ts[-1] + 1)

        carry, obs = jax.lax.scan(save_block, carry, jnp.arange(n_saves))
        # obs leaves: (n_saves, [M,] ...) -> ([M,] n_saves, ...)
        if vec:
            obs = _tmap(lambda a: jnp.moveaxis(a, 0, 1), obs)
        return carry, obs, outcome_members(carry, params)

    return init_members, segment_members, outcome_members


def _over_local_seeds(fn_member, plan: _Plan, vec: bool):
    """Maps a function of (key, carry, params, *rest) for ONE member over the local seeds × cells:
    input keys (S,), carry leaves (S, C, ...), params leaves (C,)."""

    def local(keys, carry, params, *rest):
        num = keys.shape[0]
        c = plan.num_cells
        if vec:
            def chunk_fn(k, cr):  # k (b,), cr leaves (b, C, ...)
                b = k.shape[0]
                kk = jnp.repeat(k, c)
                pp = _tmap(lambda a: jnp.tile(a, b), params)
                flat = _tmap(lambda a: a.reshape((b * c,) + a.shape[2:]), cr)
                out = fn_member(kk, flat, pp, *rest)
                return _tmap(lambda a: a.reshape((b, c) + a.shape[1:]), out)

            chunk = plan.chunk if num % plan.chunk == 0 else num
            if chunk >= num:
                return chunk_fn(keys, carry)
            n = num // chunk
            split = lambda a: a.reshape((n, chunk) + a.shape[1:])  # noqa: E731
            out = jax.lax.map(lambda a: chunk_fn(*a), (split(keys), _tmap(split, carry)))
            return _tmap(lambda a: a.reshape((num,) + a.shape[2:]), out)

        def seed_fn(k, cr):
            if c == 1:  # no vmap of size 1: it would turn every matmul into a batched one
                out = fn_member(k, _tmap(lambda a: a[0], cr), _tmap(lambda a: a[0], params),
                                *rest)
                return _tmap(lambda a: a[None], out)
            return jax.vmap(lambda cc, p: fn_member(k, cc, p, *rest))(cr, params)

        if plan.chunk >= num:
            return jax.vmap(seed_fn)(keys, carry)
        if plan.chunk == 1:  # one seed at a time, no vmap at all
            return jax.lax.map(lambda a: seed_fn(*a), (keys, carry))
        return jax.lax.map(lambda a: seed_fn(*a), (keys, carry), batch_size=plan.chunk)

    return local


def _shard(local, plan: _Plan, n_args: int):
    if plan.mesh is None:
        return local
    spec = PartitionSpec(SEED_AXIS)
    rep = PartitionSpec()
    in_specs = (spec, spec, rep) + (rep,) * (n_args - 3)
    return jax.shard_map(local, mesh=plan.mesh, in_specs=in_specs, out_specs=spec,
                         check_vma=False)


@eqx.filter_jit
def _init_jit(problem, plan, keys, params, inputs):
    init_members, _, _ = _member_fns(problem, plan)
    vec = problem.vectorised
    has_inputs = inputs is not None

    def member(k, x, p):
        return init_members(k, p, x if has_inputs else None)

    local = _over_local_seeds(member, plan, vec)
    num = keys.shape[0]
    if has_inputs:  # the seed's inputs, the same for every cell
        per_member = _tmap(
            lambda a: jnp.broadcast_to(a[:, None], (num, plan.num_cells) + a.shape[1:]), inputs)
    else:
        per_member = jnp.zeros((num, plan.num_cells), jnp.int8)
    return _shard(local, plan, 3)(keys, per_member, params)


@eqx.filter_jit
def _segment_jit(problem, plan, keys, carry, params, t0, n_saves):
    _, segment_members, _ = _member_fns(problem, plan)

    def member(k, c, p, t):
        return segment_members(c, k, p, t, n_saves)

    local = _over_local_seeds(member, plan, problem.vectorised)
    return _shard(local, plan, 4)(keys, carry, params, t0)


@eqx.filter_jit
def _outcome_jit(problem, plan, keys, carry, params):
    _, _, outcome_members = _member_fns(problem, plan)

    def member(k, c, p):
        return outcome_members(c, p)

    local = _over_local_seeds(member, plan, problem.vectorised)
    return _shard(local, plan, 3)(keys, carry, params)


# ---------------------------------------------------------------------------------------------
# host side


def _local(a: jax.Array) -> list[tuple[int, np.ndarray]]:
    """(first seed index, data) for each block of `a` held by this process (seed axis first)."""
    if not isinstance(a, jax.Array) or a.is_fully_addressable:
        return [(0, np.asarray(a))]
    out = {}
    for s in a.addressable_shards:
        start = s.index[0].start or 0
        if start not in out:
            out[start] = np.asarray(s.data)
    return sorted(out.items())


def _process_block(a: jax.Array) -> tuple[int, np.ndarray]:
    blocks = _local(a)
    start = blocks[0][0]
    return start, np.concatenate([b for _, b in blocks]) if len(blocks) > 1 else blocks[0][1]


def _to_global(local: Any, plan: _Plan, like: Any) -> Any:
    if plan.mesh is None:
        return _tmap(jnp.asarray, local)
    sharding = NamedSharding(plan.mesh, PartitionSpec(SEED_AXIS))
    return _tmap(
        lambda a, ref: jax.make_array_from_process_local_data(sharding, np.asarray(a), ref.shape),
        local, like,
    )


def _flatten_obs(obs: dict[str, Any]) -> dict[str, Any]:
    """Pytree-valued observations become one variable per leaf, named by its path
    (`leaf_names`: theta.W1, theta.b1, ...)."""
    if not isinstance(obs, dict):
        raise ValueError(f"observe must return a dict of arrays, got {type(obs).__name__}")
    out = {}
    for name, value in obs.items():
        _check_observation_name(name)
        if eqx.is_array_like(value):
            out[name] = value
            continue
        for leaf_name, leaf in zip(leaf_names(name, value), jax.tree_util.tree_leaves(value)):
            if not eqx.is_array_like(leaf):
                continue  # a static leaf of a Module (an activation function)
            if leaf_name in out:
                raise ValueError(f"two observations are stored as {leaf_name!r}")
            out[leaf_name] = leaf
    return out


_RESERVED = ("status", "diverged_step", "completed_steps", "seed", "step", "time", "case")


def _check_observation_name(name: Any) -> None:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"observation names must be identifiers, got {name!r}")
    if name in _RESERVED:
        raise ValueError(f"{name!r} is a name the results reserve ({', '.join(_RESERVED)})")


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return repr(o)


def problem_fingerprint(problem: Any) -> str:
    """SHA-256 of a problem's array contents and structure (addresses stripped)."""
    h = hashlib.sha256()
    leaves, treedef = jax.tree_util.tree_flatten(problem)
    h.update(re.sub(r" at 0x[0-9a-f]+", "", str(treedef)).encode())
    for leaf in leaves:
        if eqx.is_array(leaf):
            if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
                leaf = jax.random.key_data(leaf)
            arr = np.asarray(leaf)
            h.update(str(arr.dtype).encode() + str(arr.shape).encode() + arr.tobytes())
        else:
            h.update(re.sub(r" at 0x[0-9a-f]+", "", repr(leaf)).encode())
    return h.hexdigest()


def _ganflow_version() -> str:
    """The installed ganflow's version (package metadata; the version of pyproject.toml,
    `ganflow.__version__`, when ganflow runs from a source tree that is not installed)."""
    try:
        return importlib.metadata.version("ganflow")
    except importlib.metadata.PackageNotFoundError:
        return "0.1.0"


def _versions() -> dict[str, str]:
    return {"ganflow_version": _ganflow_version(), "jax_version": jax.__version__}


def _compatible(v1: str, v2: str) -> bool:
    return v1.split(".")[:2] == v2.split(".")[:2]


@dataclasses.dataclass
class EnsembleResult:
    r"""The outcome of `run_ensemble`.

    - `dataset`: the labelled results (`xarray.Dataset`): one variable per observation with
      dims (seed, *axes, step, ...), `status` (a `RESULTS` code per member) and
      `diverged_step`; coordinates seed, each axis, step (and time); attrs: the config, the
      versions, backend, devices, start and end times. With `out=` it is
      `xarray.open_zarr(out/results.zarr)`;
    - `observations`: the same as NumPy arrays (name -> (S, *shape, T, ...));
    - `status`, `diverged_step`: (S, *shape);
    - `final_states`: per static setting (in `sweep.static_cells()` order) the final states,
      leaves (S, C, ...) with C the traced cells of that setting; `final_state` when there is
      one static setting. A resumed run restores the last finished setting's final states from
      its checkpoint; settings finished before it are None (their results are in the store);
    - `steps`: the saved steps (T,).
    """

    _dataset: Any
    observations: dict[str, np.ndarray]
    status: np.ndarray
    diverged_step: np.ndarray
    final_states: list[Any]
    steps: np.ndarray
    sweep: Sweep

    @property
    def dataset(self) -> Any:
        """The labelled results (built on first access for in-memory runs)."""
        if callable(self._dataset):
            self._dataset = self._dataset()
        return self._dataset

    def tree(self, name: str, like: Any) -> Any:
        """The pytree observation `name` rebuilt from its variables (`leaf_names`): `like` is a
        pytree of the observed value's structure (e.g. one member's initial state) or its
        `PyTreeDef`; the leaves have shape (S, *shape, T, ...).

        ```python
        res.tree("theta", x0[0])   # {"W1": (S, T, 1, 8), "b1": (S, T, 8), ...}
        ```
        """
        if isinstance(like, jax.tree_util.PyTreeDef):
            like = jax.tree_util.tree_unflatten(like, [0.0] * like.num_leaves)
        leaves, treedef = jax.tree_util.tree_flatten(like)
        names = leaf_names(name, like)
        missing = [n for n, a in zip(names, leaves)
                   if eqx.is_array_like(a) and n not in self.observations]
        if missing:
            raise ValueError(
                f"no observation {missing[0]!r} in the results (observed: "
                f"{', '.join(sorted(self.observations))})")
        return jax.tree_util.tree_unflatten(treedef, [
            self.observations[n] if eqx.is_array_like(a) else a for n, a in zip(names, leaves)])

    @property
    def final_state(self) -> Any:
        if len(self.final_states) != 1:
            raise ValueError("several static settings: use final_states[i]")
        return self.final_states[0]

    def summary(self) -> dict[str, int]:
        return RESULTS.summary(self.status)


def _progress_bar(progress: bool | None, total: int, desc: str):
    if progress is False:
        return None
    if progress is None and not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", dynamic_ncols=True, leave=True)


def run_ensemble(
    problem: Any,
    sweep: Sweep,
    num_steps: int,
    *,
    save_every: int | None = None,
    folder: RunFolder | None = None,
    execution: Execution | None = None,
    blowup: float = 1e6,
    check: str = "step",
    time_step: float | None = None,
    config: dict[str, Any] | None = None,
    name: str = "ensemble",
    keep_final: bool = True,
    inputs: Any = None,
    observables: dict[str, Any] | None = None,
) -> EnsembleResult:
    r"""Runs `problem` for every seed × hyper-parameter cell of `sweep`, `num_steps` steps each.

    **Arguments:**

    - `problem`: an `AbstractProblem`, or (when the sweep has static axes) a callable
      `make(**static_values) -> AbstractProblem`;
    - `sweep`: a `Sweep` (or a seed count);
    - `save_every`: observe every this many steps (must divide `num_steps`; default: only at
      steps 0 and `num_steps`);
    - `folder`: a `RunFolder`: results stream to its `results.zarr` (optionally a group of it),
      checkpoints go beside them, and it says whether an existing run there is resumed or
      replaced. Default: results in memory only;
    - `execution`: an `Execution`: progress bar, seeds per chunk, sharding, save points per
      compiled call, unrolling. None of it changes a number of the results;
    - `blowup`, `check`: divergence detection (see the module doc); `time_step`: adds a `time`
      coordinate `step × time_step`;
    - `config`: a JSON-able description of the run, stored in the results and compared on
      resume (with the sweep, the step budget and a fingerprint of the problem);
    - `name`: the title of the results (and of the progress bar);
    - `keep_final`: keep the final states in memory (`final_states`);
    - `inputs`: per-seed data for `init` (a pytree with a leading seed axis, e.g. initial
      states): then `problem.init(key, params, inputs_of_the_seed)` is called (see
      `AbstractProblem.init`);
    - `observables`: `{name: fn(state, step) -> array or pytree}`, recorded at every save point
      (and step 0) beside the problem's own observations, as variables `name` (or, for a
      pytree, `name.<path>`, see `leaf_names`) with dims (seed, *axes, step, ...). `state` is
      one member's `problem.observable_state(state)` and `step` the int32 step count; they are
      evaluated inside the compiled scan, vmapped over the members (default: none).

    A problem whose `init`, `step`, `observe` or an observable fails while it is traced on a
    member's state (a wrong shape, a missing key) raises one `StateError` (a `ValueError`)
    naming the state's leaves and shapes, with the original message.

    **Returns:** an `EnsembleResult`.
    """
    if folder is not None and not isinstance(folder, RunFolder):
        raise ValueError(f"folder must be a ganflow.engine.RunFolder, got {type(folder).__name__}")
    execution = Execution() if execution is None else execution
    if not isinstance(execution, Execution):
        raise ValueError(
            f"execution must be a ganflow.engine.Execution, got {type(execution).__name__}")
    observables = _check_observables(observables, sweep)
    lay = _plan(problem, sweep, num_steps, save_every, folder, execution, blowup, check, inputs)
    lay.observables = observables
    run = _open_folder(lay, folder, name, config)
    acc = _Collected(
        obs={}, status=np.full((lay.num_seeds,) + lay.shape, -1, np.int32),
        dstep=np.full((lay.num_seeds,) + lay.shape, -1, np.int32),
    )
    bar = _progress_bar(execution.progress, lay.num_steps * len(lay.statics), name)
    if bar is not None and run.start_cell:
        bar.update(lay.num_steps * run.start_cell)
    for ci in range(len(lay.makers)):
        if ci < run.start_cell:  # finished before the interruption: results are in the store
            acc.finals.append(_restored_final(ci, lay, run) if keep_final else None)
            continue
        _run_static_setting(ci, lay, run, acc, bar, name, config, time_step, keep_final)
    if bar is not None:
        bar.close()
    return _finish(lay, run, acc, name, config, time_step)


# ---------------------------------------------------------------------------------------------
# the driver's pieces: plan, folder, one static setting, finish


@dataclasses.dataclass
class _Layout:
    """The validated run: step grid, problems per static setting, devices and seed layout."""

    sweep: Sweep
    num_steps: int
    save_every: int
    num_saves: int
    segment_saves: int
    blowup: Any
    check: str
    unroll: int
    chunk: int | None
    makers: list
    statics: list
    traced: list
    devices: list
    sharded: bool
    mesh: Any
    pad: int
    nproc: int
    keys: Any  # the sweep's keys (num_seeds,)
    keys_p: Any  # padded (and sharded) keys
    inputs: Any  # padded (and sharded) inputs
    total: int
    per_process: int
    num_local: int
    observables: tuple = ()

    @property
    def num_seeds(self) -> int:
        return self.keys.shape[0]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.sweep.shape

    @property
    def steps(self) -> np.ndarray:
        return np.arange(self.num_saves + 1) * self.save_every


@dataclasses.dataclass
class _RunState:
    """The run folder as this run sees it (paths None without a folder) and where it starts."""

    folder: RunFolder | None
    ckpt: Checkpointer | None
    identity: dict
    ident_json: str
    ident_sha: str
    start_time: str
    start_cell: int = 0
    start_step: int = 0
    store_ready: bool = False
    last_ckpt: float = 0.0

    @property
    def store(self) -> Path | None:
        return None if self.folder is None else self.folder.store

    @property
    def out_dir(self) -> Path | None:
        return None if self.folder is None else Path(self.folder.path)


@dataclasses.dataclass
class _Collected:
    """What the host gathers: observations, outcomes and final states."""

    obs: dict[str, np.ndarray]
    status: np.ndarray
    dstep: np.ndarray
    finals: list = dataclasses.field(default_factory=list)
    diverged_total: int = 0


def _plan(problem, sweep, num_steps, save_every, folder, execution, blowup, check, inputs):
    """Validates the step grid, builds the problem of each static setting and lays the seeds out
    over devices and processes (padding and sharding `inputs` like the keys)."""
    if not isinstance(sweep, Sweep):
        sweep = Sweep(seeds=sweep)
    num_steps = check_int_at_least("num_steps", num_steps, 1)
    save_every = num_steps if save_every is None else check_int_at_least(
        "save_every", save_every, 1)
    if num_steps % save_every:
        raise ValueError(f"save_every={save_every} must divide num_steps={num_steps}")
    check_choice("check", check, ("step", "save"))
    check_positive("blowup", blowup)
    num_saves = num_steps // save_every
    checkpoint_every = None if folder is None else folder.checkpoint_every
    if checkpoint_every is not None and checkpoint_every % save_every:
        raise ValueError(
            f"checkpoint_every={checkpoint_every} must be a multiple of save_every={save_every}"
        )
    segment_saves = execution.segment_saves
    if segment_saves is None:
        if checkpoint_every is not None:
            segment_saves = checkpoint_every // save_every
        elif folder is not None or execution.progress:
            segment_saves = max(1, math.ceil(num_saves / 20))
        else:
            segment_saves = num_saves
    segment_saves = min(segment_saves, num_saves)

    keys = sweep.keys
    num_seeds = keys.shape[0]
    statics = sweep.static_cells()
    makers = [_problem_for(problem, st) for st in statics]
    devices = jax.devices()
    sharded = (len(devices) > 1) if execution.shard is None else bool(execution.shard)
    mesh = seed_mesh(devices) if sharded else None
    pad = pad_seeds(num_seeds, len(devices)) if sharded else 0
    nproc = jax.process_count()
    keys_p = jnp.concatenate([keys, jnp.repeat(keys[-1:], pad)]) if pad else keys
    if inputs is not None:
        for a in jax.tree_util.tree_leaves(inputs):
            if jnp.ndim(a) == 0 or jnp.shape(a)[0] != num_seeds:
                raise ValueError(
                    f"inputs need a leading seed axis of size {num_seeds} on every leaf; got a "
                    f"leaf of shape {jnp.shape(a)}"
                )
        if pad:
            inputs = _tmap(lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)]),
                           inputs)
    if sharded:
        keys_p = shard_seeds(keys_p, mesh)
        if inputs is not None:
            inputs = shard_seeds(inputs, mesh)
    total = num_seeds + pad
    return _Layout(
        sweep=sweep, num_steps=num_steps, save_every=save_every, num_saves=num_saves,
        segment_saves=segment_saves, blowup=blowup, check=check, unroll=execution.unroll,
        chunk=execution.chunk, makers=makers, statics=statics,
        traced=[sweep.traced_cells(st) for st in statics], devices=devices, sharded=sharded,
        mesh=mesh, pad=pad, nproc=nproc, keys=keys, keys_p=keys_p, inputs=inputs, total=total,
        per_process=total // nproc, num_local=total // (len(devices) if sharded else 1),
    )


def _problem_for(problem: Any, static: dict[str, Any]) -> AbstractProblem:
    """The problem of one static setting (a callable `make(**static)` is called)."""
    if isinstance(problem, AbstractProblem):
        p = problem  # static values reach it through `params`
    elif callable(problem):
        p = problem(**static)
    else:
        p = problem
    if not isinstance(p, AbstractProblem):
        raise ValueError(
            "problem must be an AbstractProblem (or, with static axes, a callable returning "
            f"one); got {type(p).__name__}"
        )
    return p


def _sync(tag: str, lay: _Layout) -> None:
    """A barrier of every process (multi-host runs only)."""
    if lay.nproc > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(tag)


def _open_folder(lay: _Layout, folder: RunFolder | None, name: str, config: Any) -> _RunState:
    """The run's identity (compared on resume) and its folder: a new run is cleaned out (with
    `overwrite`), a resumed one is checked against the folder and starts at its newest valid
    checkpoint."""
    start_time = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    if folder is None:
        return _RunState(None, None, {}, "", "", start_time, last_ckpt=time.monotonic())
    identity = {
        "name": name,
        "config": config or {},
        "sweep": lay.sweep.describe(),
        "num_steps": lay.num_steps,
        "save_every": lay.save_every,
        "segment_saves": lay.segment_saves,
        "check": lay.check,
        "blowup": lay.blowup,
        "problems": [problem_fingerprint(p) for p in lay.makers],
        "inputs": None if lay.inputs is None else problem_fingerprint(lay.inputs),
    }
    if lay.observables:
        identity["observables"] = [n for n, _ in lay.observables]
    if hasattr(lay.sweep.seeds, "dtype"):
        identity["seed_keys_sha256"] = hashlib.sha256(
            np.asarray(jax.random.key_data(lay.keys)).tobytes()).hexdigest()
    ident_json = json.dumps(identity, sort_keys=True, default=_json_default)
    run = _RunState(folder, Checkpointer(folder.checkpoints, jax.process_index()), identity,
                    ident_json, hashlib.sha256(ident_json.encode()).hexdigest(), start_time)
    out_dir, store = run.out_dir, folder.store
    existing = read_attrs(store)
    if existing is not None and not folder.overwrite:
        if not folder.resume:
            raise ValueError(
                f"{out_dir} already holds results ({store.relative_to(out_dir)}); resume it with "
                "RunFolder(..., resume=True) (ganflow resume DIR) or replace it with "
                "RunFolder(..., overwrite=True)"
            )
        _check_resumable(run, existing)
        run.start_time = existing.get("start_time", start_time)
        found = run.ckpt.latest()
        if found is not None:
            if found[0].get("config_sha256") != run.ident_sha:
                raise ValueError(f"cannot resume {out_dir}: its checkpoint is of another run")
            run.start_cell, run.start_step = int(found[0]["cell"]), int(found[0]["step"])
    else:
        ensure_writable_folder(out_dir)
        if existing is not None and folder.overwrite and jax.process_index() == 0:
            shutil.rmtree(store, ignore_errors=True)
            shutil.rmtree(folder.checkpoints, ignore_errors=True)
        _sync("ganflow-clean", lay)
    run.store_ready = folder.resume and read_attrs(store) is not None and not folder.overwrite
    run.last_ckpt = time.monotonic()
    return run


def _check_resumable(run: _RunState, existing: dict[str, Any]) -> None:
    """Refuses to resume a folder written by another run or another ganflow (major.minor)."""
    out_dir = run.out_dir
    if existing["ganflow_config_sha256"] != run.ident_sha:
        old = json.loads(existing.get("ganflow_identity", "{}"))
        diff = sorted(k for k in set(old) | set(run.identity)
                      if json.dumps(old.get(k), sort_keys=True, default=_json_default)
                      != json.dumps(run.identity.get(k), sort_keys=True, default=_json_default))
        raise ValueError(
            f"cannot resume {out_dir}: it was written by a different run "
            f"(differs in: {', '.join(diff) or 'the problem'})"
        )
    version = _versions()["ganflow_version"]
    if not _compatible(existing.get("ganflow_version", "?"), version):
        raise ValueError(
            f"cannot resume {out_dir}: written by ganflow {existing.get('ganflow_version')}"
            f", this is ganflow {version}"
        )


def _scatter(dest, data, seed0, num_seeds, idx, n_cells, save_slice=None):
    """data: (s, C, ...) for one static setting -> dest[(seeds, *cell index, ...)]."""
    sl = slice(seed0, min(seed0 + data.shape[0], num_seeds))
    data = data[: sl.stop - sl.start]
    if idx:
        for c in range(n_cells):
            pos = (sl,) + tuple(int(i[c]) for i in idx)
            if save_slice is not None:
                pos = pos + (save_slice,)
            dest[pos] = data[:, c]
    else:
        pos = (sl,) if save_slice is None else (sl, save_slice)
        dest[pos] = data[:, 0]


def _create_store(lay: _Layout, run: _RunState, obs0, name, config, time_step) -> None:
    """Allocates the results store (every array at its fill value, metadata final)."""
    variables = {k: (tuple(v.shape[2:]), np.dtype(v.dtype)) for k, v in obs0.items()}
    sweep, shape = lay.sweep, lay.shape
    coords = {}
    for ax in sweep.axes:
        coords[ax.name] = (("case",) if sweep.cases else (ax.name,), np.asarray(ax.values))
    if sweep.cases and sweep.axes:
        coords["case"] = (("case",), np.arange(shape[0]))
    attrs = {
        "title": name,
        "config": json.dumps(config or {}, sort_keys=True, default=_json_default),
        "ganflow_identity": run.ident_json,
        "ganflow_config_sha256": run.ident_sha,
        **_versions(),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in lay.devices],
        "sharded_over": len(lay.devices) if lay.sharded else 1,
        "process_count": lay.nproc,
        "start_time": run.start_time,
        "end_time": "",
        "num_steps": lay.num_steps,
        "save_every": lay.save_every,
        "status_meanings": {r.name: r.message for r in RESULTS},
    }
    if jax.process_index() == 0:
        if run.folder.group is not None:  # the parent group holds the experiment's sweeps
            open_group(run.store.parent, mode="a")
        steps = lay.steps
        create_store(
            run.store, seeds=sweep.seed_labels, dims=sweep.dims, coords=coords, steps=steps,
            times=None if time_step is None else steps * float(time_step), variables=variables,
            shape=shape, per_process=lay.per_process, saves_per_chunk=lay.segment_saves,
            attrs=attrs,
        )
    _sync("ganflow-store", lay)
    run.store_ready = True


def _save_checkpoint(run: _RunState, carry, cell: int, step: int) -> None:
    local = _tmap(lambda a: _process_block(a)[1], carry)
    run.ckpt.save(local, {"cell": cell, "step": step, "config_sha256": run.ident_sha,
                          **_versions()})
    run.last_ckpt = time.monotonic()


def _checkpoint_due(folder: RunFolder, run: _RunState, t: int) -> bool:
    every, seconds = folder.checkpoint_every, folder.checkpoint_seconds
    if every is None and seconds is None:
        return True  # every segment
    return (every is not None and t % every == 0) or \
        (seconds is not None and time.monotonic() - run.last_ckpt >= seconds)


def _setting(ci: int, lay: _Layout):
    """Static setting `ci`: its problem with the static values bound, the traced values per
    cell, the plan of its (per-seed) initialisation and the sweep index of each cell."""
    p, st, (vals, index) = lay.makers[ci], lay.statics[ci], lay.traced[ci]
    n_cells = len(index)
    dtype = jnp.result_type(float)
    params = {k: jnp.asarray(v, dtype) for k, v in vals.items()}
    params.update({k: v for k, v in st.items()})
    traced_params = {k: v for k, v in params.items() if k in vals}
    static_params = {k: v for k, v in params.items() if k not in vals}
    # problem methods see static and traced values in one dict
    bound = _Bound(p, static_params, lay.observables)
    if not traced_params:  # one cell: a dummy traced axis keeps the layout uniform
        traced_params = {"_cell": jnp.zeros((1,), dtype)}
    # Members are initialised one seed at a time (cheap; vectorised problems all at once):
    # a vmapped init batches its LAPACK calls (e.g. the QR of orthogonal initialisers), and
    # jaxlib's CPU kernels for batched QR split the batch over the same thread pool that
    # runs them — with several such calls in flight on 2 cores, `ganflow run mog` hung
    # in its init (every pool thread waiting for the others).
    init_plan = _Plan(save_every=lay.save_every, blowup=float(lay.blowup), check=lay.check,
                      chunk=lay.num_local if p.vectorised else 1, num_cells=n_cells,
                      mesh=lay.mesh, unroll=lay.unroll)
    idx = tuple(np.asarray(ix) for ix in zip(*index)) if index and index[0] else ()
    return bound, traced_params, init_plan, idx, n_cells


def _final_states(carry: Any, lay: _Layout) -> Any:
    """The members' final states without the padding seeds."""
    if lay.pad and carry[0] is not None and lay.mesh is None:
        return _tmap(lambda a: a[:lay.num_seeds], carry[0])
    return _tmap(lambda a: a[:lay.num_seeds] if a.is_fully_addressable else a, carry[0])


def _restored_final(ci: int, lay: _Layout, run: _RunState) -> Any:
    """The final states of static setting `ci`, finished before a resume, from the checkpoint
    that marked it done (kept for the last finished setting only; None for earlier ones)."""
    if ci != run.start_cell - 1 or run.start_step != 0:
        return None
    bound, traced_params, init_plan, _, _ = _setting(ci, lay)
    shapes, _ = eqx.filter_eval_shape(_init_jit, bound, init_plan, lay.keys_p, traced_params,
                                      lay.inputs)
    like = _tmap(lambda a: np.zeros((lay.per_process,) + a.shape[1:], a.dtype), shapes)
    found = run.ckpt.latest(like)
    if found is None or (int(found[0]["cell"]), int(found[0]["step"])) != (ci + 1, 0):
        return None
    return _final_states(_to_global(found[1], init_plan, shapes), lay)


def _run_static_setting(ci, lay, run, acc, bar, name, config, time_step, keep_final) -> None:
    """One compilation: initialises (or restores) the members of static setting `ci`, runs its
    segments, writing the save points and checkpoints between them, and collects its outcomes."""
    bound, traced_params, init_plan, idx, n_cells = _setting(ci, lay)

    def scatter(dest, data, seed0, save_slice=None):
        _scatter(dest, data, seed0, lay.num_seeds, idx, n_cells, save_slice)

    carry, obs0 = _traced(_init_jit, bound, lay, traced_params, init_plan, lay.keys_p,
                          traced_params, lay.inputs)
    if lay.chunk is not None:
        chunk = lay.chunk
    else:  # seeds per chunk for the segments, from the initial carry's size per seed
        nbytes = sum(a.size * a.dtype.itemsize for a in jax.tree_util.tree_leaves(carry))
        chunk = default_chunk(nbytes // max(lay.total, 1), lay.num_local)
    plan = _Plan(
        save_every=lay.save_every, blowup=float(lay.blowup), check=lay.check, chunk=chunk,
        num_cells=n_cells, mesh=lay.mesh, unroll=lay.unroll)
    obs0 = _flatten_obs(obs0)
    start_step = run.start_step if ci == run.start_cell else 0
    if start_step > 0:
        like = _tmap(lambda a: np.zeros((lay.per_process,) + a.shape[1:], a.dtype),
                     jax.eval_shape(lambda c: c, carry))
        found = run.ckpt.latest(like)
        if found is None or int(found[0]["step"]) != start_step:
            raise ValueError(f"cannot resume {run.out_dir}: its checkpoint could not be read")
        carry = _to_global(found[1], plan, carry)
    if run.store is not None and not run.store_ready:
        _create_store(lay, run, obs0, name, config, time_step)
    group = open_group(run.store) if run.store is not None else None

    def record(obs, first_save, n, carry):
        st_start, status_l = _process_block(carry[1])
        for k, v in obs.items():
            s0, data = _process_block(v)
            if k not in acc.obs:
                acc.obs[k] = np.full(
                    (lay.num_seeds,) + lay.shape + (lay.num_saves + 1,) + data.shape[3:],
                    np.nan if np.issubdtype(data.dtype, np.inexact) else -1, data.dtype)
            scatter(acc.obs[k], data, s0, slice(first_save, first_save + n))
            if group is not None:
                scatter(group[k], data, s0, slice(first_save, first_save + n))
        return status_l

    if start_step == 0:
        record({k: _tmap(lambda a: a[:, :, None], v) for k, v in obs0.items()}, 0, 1, carry)
    t = start_step
    if bar is not None and t:
        bar.update(t)
    while t < lay.num_steps:
        n = min(lay.segment_saves, (lay.num_steps - t) // lay.save_every)
        carry, obs, codes = _traced(_segment_jit, bound, lay, traced_params, plan, lay.keys_p,
                                    carry, traced_params, jnp.asarray(t, jnp.int32), n)
        status_l = record(_flatten_obs(obs), t // lay.save_every + 1, n, carry)
        t += n * lay.save_every
        if group is not None:
            if jax.process_index() == 0:
                group["completed_steps"][...] = ci * lay.num_steps + t
            if _checkpoint_due(run.folder, run, t) or t == lay.num_steps:
                _save_checkpoint(run, carry, ci, t)
        if bar is not None:
            n_div = int(np.sum(status_l == RESULTS.diverged))
            bar.set_postfix(diverged=acc.diverged_total + n_div, refresh=False)
            bar.update(n * lay.save_every)
    if start_step == lay.num_steps:  # no segment ran (resumed at the very end)
        codes = _outcome_jit(bound, plan, lay.keys_p, carry, traced_params)
    s0, codes_l = _process_block(codes)
    _, dstep_l = _process_block(carry[2])
    scatter(acc.status, codes_l, s0)
    scatter(acc.dstep, dstep_l, s0)
    if group is not None:
        scatter(group["status"], codes_l.astype(np.int8), s0)
        scatter(group["diverged_step"], dstep_l.astype(np.int64), s0)
        _save_checkpoint(run, carry, ci + 1, 0)  # marks the setting done for a resume
    acc.diverged_total += int(np.sum(codes_l == RESULTS.diverged))
    acc.finals.append(_final_states(carry, lay) if keep_final else None)


def _finish(lay: _Layout, run: _RunState, acc: _Collected, name, config, time_step):
    """Stamps the end time into the store (or builds the in-memory dataset) and gathers what
    this process did not compute (a resumed or multi-host run) from the store."""
    end_time = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    obs_all, status_all, dstep_all = acc.obs, acc.status, acc.dstep
    if run.store is not None:
        _sync("ganflow-done", lay)
        if jax.process_index() == 0:
            finish_store(run.store, {"end_time": end_time})
        _sync("ganflow-finished", lay)
        import xarray as xr

        dataset = xr.open_zarr(run.store)
        if run.start_cell or run.start_step or lay.nproc > 1:  # what this process did not run
            for k in list(obs_all) or [v for v in dataset.data_vars if "step" in dataset[v].dims
                                        and v not in ("completed_steps",)]:
                obs_all[k] = dataset[k].values
            status_all = dataset["status"].values.astype(np.int32)
            dstep_all = dataset["diverged_step"].values.astype(np.int32)
    else:
        attrs = {"title": name,
                 "config": json.dumps(config or {}, sort_keys=True, default=_json_default),
                 **_versions(), "backend": jax.default_backend(),
                 "devices": [str(d) for d in lay.devices],
                 "sharded_over": len(lay.devices) if lay.sharded else 1,
                 "start_time": run.start_time, "end_time": end_time}

        def dataset():
            return _in_memory_dataset(lay.sweep, lay.steps, time_step, obs_all, status_all,
                                      dstep_all, attrs)
    return EnsembleResult(dataset, obs_all, status_all, dstep_all, acc.finals, lay.steps,
                          lay.sweep)


class _Bound(AbstractProblem):
    """A problem with its static hyper-parameters bound into `params`."""

    inner: AbstractProblem
    static: dict = eqx.field(static=True)
    observables: tuple = eqx.field(static=True, default=())

    @property
    def vectorised(self) -> bool:  # type: ignore[override]
        return self.inner.vectorised

    def _p(self, params):
        return {**{k: v for k, v in params.items() if k != "_cell"}, **self.static}

    def init(self, key, params, inputs=None):
        if inputs is None:
            return self.inner.init(key, self._p(params))
        return self.inner.init(key, self._p(params), inputs)

    def step(self, state, key, t, params):
        return self.inner.step(state, key, t, self._p(params))

    def observe(self, state, params):
        return self.inner.observe(state, self._p(params))

    def observe_at(self, state, params, step):
        """The problem's observations and the user's observables at `step`."""
        out = self.observe(state, params)
        if not self.observables:
            return out
        if not isinstance(out, dict):
            raise ValueError(f"observe must return a dict of arrays, got {type(out).__name__}")
        out = dict(out)
        view = self.inner.observable_state(state)
        for name, fn in self.observables:
            if name in out:
                raise ValueError(
                    f"the observable {name!r} has the name of one of the problem's own "
                    f"observations ({', '.join(sorted(out))}): rename it")
            if self.vectorised:  # one call per member, vmapped over the leading member axis
                out[name] = jax.vmap(fn, in_axes=(0, None))(view, step)
            else:
                out[name] = fn(view, step)
        return out

    def finite_part(self, state):
        return self.inner.finite_part(state)

    def outcome(self, state, params):
        return self.inner.outcome(state, self._p(params))


def _check_observables(observables: Any, sweep: Any) -> tuple:
    """`{name: fn(state, step)}` as a tuple of (name, fn), names checked."""
    if observables is None:
        return ()
    if not isinstance(observables, dict):
        raise ValueError(
            "observables must be a dict {name: fn(state, step) -> array}, got "
            f"{type(observables).__name__}")
    axes = [a.name for a in sweep.axes] if isinstance(sweep, Sweep) else []
    for name, fn in observables.items():
        _check_observation_name(name)
        if name in axes:
            raise ValueError(f"the observable {name!r} has the name of a sweep axis")
        if not callable(fn):
            raise ValueError(
                f"the observable {name!r} must be a function fn(state, step) -> array, got "
                f"{type(fn).__name__}")
    return tuple(observables.items())


def _diagnose(bound: "_Bound", lay: _Layout, traced_params: dict, err: BaseException):
    """After a failure while tracing a static setting: traces one member's init, step,
    observations and observables abstractly (`jax.eval_shape`) to find which part of the
    problem failed on which state. Returns a `StateError`, or None when none fails alone (the
    original error is then re-raised)."""
    vec = bound.vectorised
    pick = (lambda a: a[:1]) if vec else (lambda a: a[0])
    key = pick(lay.keys)
    params = {k: pick(v) for k, v in traced_params.items()}
    inputs = None if lay.inputs is None else _tmap(pick, lay.inputs)
    where = type(bound.inner).__name__
    try:
        state = jax.eval_shape(
            lambda k, p, i: bound.init(k, p) if i is None else bound.init(k, p, i),
            key, params, inputs)
    except TRACE_ERRORS as e:
        return state_error(f"{where}.init", e, {} if inputs is None else {"inputs": inputs})
    step_key = key if vec else jax.random.fold_in(key, 0)
    t = jnp.int32(0)
    view = bound.inner.observable_state(state)
    for what, fn in ((f"{where}.step", lambda s: bound.step(s, step_key, t, params)),
                     (f"{where}.observe", lambda s: bound.observe(s, params)),
                     (f"{where}.finite_part", bound.finite_part),
                     (f"{where}.outcome", lambda s: bound.outcome(s, params))):
        try:
            jax.eval_shape(fn, state)
        except TRACE_ERRORS as e:
            return state_error(what, e, {"state": view})
    own = jax.eval_shape(lambda s: bound.observe(s, params), state)
    for name, fn in bound.observables:
        if isinstance(own, dict) and name in own:
            return StateError(
                f"the observable {name!r} has the name of one of the problem's own "
                f"observations ({', '.join(sorted(own))}): rename it", err)
        bad: list[str] = []

        def one(v, fn=fn, bad=bad):
            out = jax.vmap(fn, in_axes=(0, None))(v, t) if vec else fn(v, t)
            bad.extend(type(a).__name__ for a in jax.tree_util.tree_leaves(out)
                       if not eqx.is_array_like(a))
            return out if not bad else None

        try:
            jax.eval_shape(one, view)
        except TRACE_ERRORS as e:
            return state_error(f"the observable {name!r}", e, {"state": view})
        if bad:
            return StateError(
                f"the observable {name!r} must return an array (or a pytree of arrays), got "
                f"{bad[0]}", err)
    return None


def _traced(fn, bound, lay, traced_params, *args):
    """`fn(bound, ...)` (a compiled piece); a failure while tracing it becomes one
    `StateError` naming the part of the problem that failed and the state's leaves."""
    try:
        return fn(bound, *args)
    except StateError as e:
        raise state_error("", e, {}) from None
    except TRACE_ERRORS as e:
        try:
            found = _diagnose(bound, lay, traced_params, e)
        except Exception:  # the diagnosis itself failed: the original error stands
            found = None
        if found is None:
            raise
        raise found from None


def _in_memory_dataset(sweep, steps, time_step, obs, status, dstep, attrs):
    import xarray as xr

    base = ("seed",) + sweep.dims
    coords: dict[str, Any] = {"seed": sweep.seed_labels, "step": steps}
    if time_step is not None:
        coords["time"] = ("step", steps * float(time_step))
    for ax in sweep.axes:
        coords[ax.name] = ("case", list(ax.values)) if sweep.cases else list(ax.values)
    if sweep.cases and sweep.axes:
        coords["case"] = np.arange(sweep.shape[0])
    data = {}
    for k, v in obs.items():
        tdims = tuple(f"{k}_dim{i}" for i in range(v.ndim - len(base) - 1))
        data[k] = (base + ("step",) + tdims, v)
    data["status"] = (base, status.astype(np.int8), RESULTS.flag_attrs())
    data["diverged_step"] = (base, dstep.astype(np.int64))
    return xr.Dataset(data, coords=coords, attrs=attrs)
