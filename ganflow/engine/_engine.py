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
import json
import math
import os
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
from ._outcome import RESULTS
from ._problem import AbstractProblem
from ._sharding import SEED_AXIS, pad_seeds, seed_mesh
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
        return (state, status, dstep), problem.observe(state, params)

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
            return new, problem.observe(new[0], params)

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
    """Pytree-valued observations become one variable per leaf: name, name_1, ..."""
    if not isinstance(obs, dict):
        raise ValueError(f"observe must return a dict of arrays, got {type(obs).__name__}")
    out = {}
    for name, value in obs.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"observation names must be identifiers, got {name!r}")
        leaves = jax.tree_util.tree_leaves(value)
        if len(leaves) == 1 and eqx.is_array_like(value):
            out[name] = value
        else:
            for i, leaf in enumerate(leaves):
                out[f"{name}_{i}"] = leaf
    return out


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


def _versions() -> dict[str, str]:
    from .. import __version__

    return {"ganflow_version": __version__, "jax_version": jax.__version__}


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
      one static setting;
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
    out: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    checkpoint_every: int | None = None,
    checkpoint_seconds: float | None = None,
    segment_saves: int | None = None,
    progress: bool | None = None,
    chunk: int | None = None,
    shard: bool | None = None,
    blowup: float = 1e6,
    check: str = "step",
    time_step: float | None = None,
    config: dict[str, Any] | None = None,
    name: str = "ensemble",
    keep_final: bool = True,
    inputs: Any = None,
    group: str | None = None,
    unroll: int = 1,
) -> EnsembleResult:
    r"""Runs `problem` for every seed × hyper-parameter cell of `sweep`, `num_steps` steps each.

    **Arguments:**

    - `problem`: an `AbstractProblem`, or (when the sweep has static axes) a callable
      `make(**static_values) -> AbstractProblem`;
    - `sweep`: a `Sweep` (or a seed count);
    - `save_every`: observe every this many steps (must divide `num_steps`; default: only at
      steps 0 and `num_steps`);
    - `out`: a directory: results stream to `out/results.zarr` and checkpoints go to
      `out/checkpoints/`. An existing run there is resumed with `resume=True` (refused if its
      config or ganflow version differ), replaced with `overwrite=True`, and otherwise refused;
    - `checkpoint_every`: steps between checkpoints (a multiple of `save_every`; it is also the
      segment length); `checkpoint_seconds`: also checkpoint at the first segment boundary
      after this many seconds. Default with `out`: every segment;
    - `segment_saves`: save points per compiled call (default: all of them without `out`, else
      `checkpoint_every / save_every`, else about 1/20 of the run);
    - `progress`: a tqdm bar (steps/s, ETA, members diverged so far); default: only on a
      terminal;
    - `chunk`: seeds computed together per device (default `default_chunk`); `shard`: shard the
      seeds over all devices and hosts (default: when there is more than one device);
    - `blowup`, `check`: divergence detection (see the module doc); `time_step`: adds a `time`
      coordinate `step × time_step`;
    - `config`: a JSON-able description of the run, stored in the results and compared on
      resume (with the sweep, the step budget and a fingerprint of the problem);
    - `group`: write to the zarr group `out/results.zarr/<group>` (checkpoints in
      `out/checkpoints/<group>`), so that one folder holds several sweeps of an experiment;
      read it with `xarray.open_zarr(out/results.zarr/<group>)`;
    - `unroll`: `lax.scan(unroll=...)` of the step loop (latency-bound GPU runs of tiny
      states gain from unrolling; see scripts/benchmarks/bench_engine.py);
    - `inputs`: per-seed data for `init` (a pytree with a leading seed axis, e.g. initial
      states): then `problem.init(key, params, inputs_of_the_seed)` is called.

    **Returns:** an `EnsembleResult`.
    """
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
    if checkpoint_every is not None:
        checkpoint_every = check_int_at_least("checkpoint_every", checkpoint_every, 1)
        if checkpoint_every % save_every:
            raise ValueError(
                f"checkpoint_every={checkpoint_every} must be a multiple of save_every={save_every}"
            )
    if checkpoint_seconds is not None:
        check_positive("checkpoint_seconds", checkpoint_seconds)
    if segment_saves is None:
        if checkpoint_every is not None:
            segment_saves = checkpoint_every // save_every
        elif out is not None or progress:
            segment_saves = max(1, math.ceil(num_saves / 20))
        else:
            segment_saves = num_saves
    segment_saves = min(check_int_at_least("segment_saves", segment_saves, 1), num_saves)

    keys = sweep.keys
    num_seeds = keys.shape[0]
    statics = sweep.static_cells()
    makers = []
    for st in statics:
        if isinstance(problem, AbstractProblem):
            p = problem  # static values reach it through `params`
        elif callable(problem):
            p = problem(**st)
        else:
            p = problem
        if not isinstance(p, AbstractProblem):
            raise ValueError(
                "problem must be an AbstractProblem (or, with static axes, a callable returning "
                f"one); got {type(p).__name__}"
            )
        makers.append(p)

    devices = jax.devices()
    sharded = (len(devices) > 1) if shard is None else bool(shard)
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
        from ._sharding import shard_seeds

        keys_p = shard_seeds(keys_p, mesh)
        if inputs is not None:
            inputs = shard_seeds(inputs, mesh)
    total = num_seeds + pad
    per_process = total // nproc
    num_local = total // (len(devices) if sharded else 1)

    # identity of the run: compared on resume (only needed when writing a run folder)
    identity, ident_json, ident_sha = {}, "", ""
    if out is not None:
        identity = {
            "name": name,
            "config": config or {},
            "sweep": sweep.describe(),
            "num_steps": num_steps,
            "save_every": save_every,
            "segment_saves": segment_saves,
            "check": check,
            "blowup": blowup,
            "problems": [problem_fingerprint(p) for p in makers],
            "inputs": None if inputs is None else problem_fingerprint(inputs),
        }
        if hasattr(sweep.seeds, "dtype"):
            identity["seed_keys_sha256"] = hashlib.sha256(
                np.asarray(jax.random.key_data(keys)).tobytes()).hexdigest()
        ident_json = json.dumps(identity, sort_keys=True, default=_json_default)
        ident_sha = hashlib.sha256(ident_json.encode()).hexdigest()

    out_dir = None if out is None else Path(out)
    if group is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+", str(group)):
        raise ValueError(f"group must be a simple name, got {group!r}")
    store_path = None if out_dir is None else out_dir / STORE_NAME
    ckpt_dir = None if out_dir is None else out_dir / CHECKPOINT_DIR
    if group is not None and out_dir is not None:
        store_path, ckpt_dir = store_path / group, ckpt_dir / group
    ckpt = None
    start_cell, start_step, resumed_meta = 0, 0, None
    start_time = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    if out_dir is not None:
        ckpt = Checkpointer(ckpt_dir, jax.process_index())
        existing = read_attrs(store_path)
        if existing is not None and not overwrite:
            if not resume:
                raise ValueError(
                    f"{out_dir} already holds results ({store_path.relative_to(out_dir)}); "
                    "resume it with "
                    "resume=True (ganflow resume DIR) or replace it with overwrite=True"
                )
            if existing["ganflow_config_sha256"] != ident_sha:
                old = json.loads(existing.get("ganflow_identity", "{}"))
                diff = sorted(k for k in set(old) | set(identity)
                              if json.dumps(old.get(k), sort_keys=True, default=_json_default)
                              != json.dumps(identity.get(k), sort_keys=True,
                                            default=_json_default))
                raise ValueError(
                    f"cannot resume {out_dir}: it was written by a different run "
                    f"(differs in: {', '.join(diff) or 'the problem'})"
                )
            version = _versions()["ganflow_version"]
            if not _compatible(existing.get("ganflow_version", "?"), version):
                raise ValueError(
                    f"cannot resume {out_dir}: written by ganflow {existing.get('ganflow_version')}"
                    f", this is ganflow {_versions()['ganflow_version']}"
                )
            start_time = existing.get("start_time", start_time)
            found = ckpt.latest()
            if found is not None:
                resumed_meta = found[0]
                if resumed_meta.get("config_sha256") != ident_sha:
                    raise ValueError(f"cannot resume {out_dir}: its checkpoint is of another run")
                start_cell, start_step = int(resumed_meta["cell"]), int(resumed_meta["step"])
        else:
            ensure_writable_folder(out_dir)
            if existing is not None and overwrite and jax.process_index() == 0:
                shutil.rmtree(store_path, ignore_errors=True)
                shutil.rmtree(ckpt_dir, ignore_errors=True)
            if nproc > 1:
                from jax.experimental import multihost_utils

                multihost_utils.sync_global_devices("ganflow-clean")

    # one compilation per static setting; params per traced cell
    traced = [sweep.traced_cells(st) for st in statics]
    steps = np.arange(num_saves + 1) * save_every
    shape = sweep.shape

    def chunk_for(carry, n_cells):
        """Seeds per chunk for the segments, from the initial carry's size per seed."""
        if chunk is not None:
            return check_int_at_least("chunk", chunk, 1)
        nbytes = sum(a.size * a.dtype.itemsize for a in jax.tree_util.tree_leaves(carry))
        return default_chunk(nbytes // max(total, 1), num_local)

    dtype = jnp.result_type(float)
    obs_all: dict[str, np.ndarray] = {}
    status_all = np.full((num_seeds,) + shape, -1, np.int32)
    dstep_all = np.full((num_seeds,) + shape, -1, np.int32)
    finals: list[Any] = []
    bar = _progress_bar(progress, num_steps * len(statics), name)
    if bar is not None and start_cell:
        bar.update(num_steps * start_cell)
    store_ready = store_path is not None and resume and read_attrs(store_path) is not None \
        and not overwrite
    last_ckpt = time.monotonic()
    diverged_total = 0

    for ci, (p, st, (vals, index)) in enumerate(zip(makers, statics, traced)):
        n_cells = len(index)
        params = {k: jnp.asarray(v, dtype) for k, v in vals.items()}
        params.update({k: v for k, v in st.items()})
        traced_params = {k: v for k, v in params.items() if k in vals}
        static_params = {k: v for k, v in params.items() if k not in vals}
        # problem methods see static and traced values in one dict
        bound = _Bound(p, static_params)
        if not traced_params:  # one cell: a dummy traced axis keeps the layout uniform
            traced_params = {"_cell": jnp.zeros((1,), dtype)}
        # Members are initialised one seed at a time (cheap; vectorised problems all at once):
        # a vmapped init batches its LAPACK calls (e.g. the QR of orthogonal initialisers), and
        # jaxlib's CPU kernels for batched QR split the batch over the same thread pool that
        # runs them — with several such calls in flight on 2 cores, `ganflow run mog` hung
        # in its init (every pool thread waiting for the others).
        init_plan = _Plan(save_every=save_every, blowup=float(blowup), check=check,
                          chunk=num_local if p.vectorised else 1, num_cells=n_cells, mesh=mesh,
                          unroll=check_int_at_least("unroll", unroll, 1))
        idx = tuple(np.asarray(ix) for ix in zip(*index)) if index and index[0] else ()

        def scatter(dest, data, seed0, save_slice=None, idx=idx, n_cells=n_cells):
            # data: (s, C, ...) for this static cell -> dest[(seeds, *cell idx, ...)]
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

        if ci < start_cell:  # finished before the interruption: results are in the store
            finals.append(None)
            continue

        carry, obs0 = _init_jit(bound, init_plan, keys_p, traced_params, inputs)
        plan = _Plan(save_every=save_every, blowup=float(blowup), check=check,
                     chunk=chunk_for(carry, n_cells), num_cells=n_cells, mesh=mesh,
                     unroll=init_plan.unroll)
        obs0 = _flatten_obs(obs0)
        if ci == start_cell and start_step > 0:
            like = _tmap(lambda a: np.zeros((per_process,) + a.shape[1:], a.dtype),
                         jax.eval_shape(lambda c: c, carry))
            found = ckpt.latest(like)
            if found is None or int(found[0]["step"]) != start_step:
                raise ValueError(f"cannot resume {out_dir}: its checkpoint could not be read")
            carry = _to_global(found[1], plan, carry)
        # allocate / open the store
        if store_path is not None and not store_ready:
            variables = {
                k: (tuple(v.shape[2:]), np.dtype(v.dtype)) for k, v in obs0.items()
            }
            coords = {}
            for ax in sweep.axes:
                if sweep.cases:
                    coords[ax.name] = (("case",), np.asarray(ax.values))
                else:
                    coords[ax.name] = ((ax.name,), np.asarray(ax.values))
            if sweep.cases and sweep.axes:
                coords["case"] = (("case",), np.arange(shape[0]))
            attrs = {
                "title": name,
                "config": json.dumps(config or {}, sort_keys=True, default=_json_default),
                "ganflow_identity": ident_json,
                "ganflow_config_sha256": ident_sha,
                **_versions(),
                "backend": jax.default_backend(),
                "devices": [str(d) for d in devices],
                "sharded_over": len(devices) if sharded else 1,
                "process_count": nproc,
                "start_time": start_time,
                "end_time": "",
                "num_steps": num_steps,
                "save_every": save_every,
                "status_meanings": {r.name: r.message for r in RESULTS},
            }
            if jax.process_index() == 0:
                if group is not None:  # the parent group holds the experiment's sweeps
                    open_group(store_path.parent, mode="a")
                create_store(
                    store_path, seeds=sweep.seed_labels, dims=sweep.dims, coords=coords,
                    steps=steps, times=None if time_step is None else steps * float(time_step),
                    variables=variables, shape=shape, per_process=per_process,
                    saves_per_chunk=segment_saves, attrs=attrs,
                )
            if nproc > 1:
                from jax.experimental import multihost_utils

                multihost_utils.sync_global_devices("ganflow-store")
            store_ready = True
        group = open_group(store_path) if store_path is not None else None

        def record(obs, first_save, n, carry, group=group, scatter=scatter):
            st_start, status_l = _process_block(carry[1])
            _, dstep_l = _process_block(carry[2])
            for k, v in obs.items():
                s0, data = _process_block(v)
                if k not in obs_all:
                    obs_all[k] = np.full((num_seeds,) + shape + (num_saves + 1,) + data.shape[3:],
                                         np.nan if np.issubdtype(data.dtype, np.inexact) else -1,
                                         data.dtype)
                scatter(obs_all[k], data, s0, slice(first_save, first_save + n))
                if group is not None:
                    scatter(group[k], data, s0, slice(first_save, first_save + n))
            return st_start, status_l, dstep_l

        if start_step == 0 or ci != start_cell:
            record({k: _tmap(lambda a: a[:, :, None], v) for k, v in obs0.items()}, 0, 1, carry)
        t = start_step if ci == start_cell else 0
        t0_cell = t
        if bar is not None and t:
            bar.update(t)
        while t < num_steps:
            n = min(segment_saves, (num_steps - t) // save_every)
            carry, obs, codes = _segment_jit(bound, plan, keys_p, carry, traced_params,
                                             jnp.asarray(t, jnp.int32), n)
            obs = _flatten_obs(obs)
            first = t // save_every + 1
            s0, status_l, _ = record(obs, first, n, carry)
            t += n * save_every
            if group is not None:
                if jax.process_index() == 0:
                    group["completed_steps"][...] = ci * num_steps + t
                due = (checkpoint_every is not None and (t % checkpoint_every == 0)) or \
                    (checkpoint_seconds is not None and
                     time.monotonic() - last_ckpt >= checkpoint_seconds) or \
                    (checkpoint_every is None and checkpoint_seconds is None)
                if due or t == num_steps:
                    local = _tmap(lambda a: _process_block(a)[1], carry)
                    ckpt.save(local, {"cell": ci, "step": t, "config_sha256": ident_sha,
                                      **_versions()})
                    last_ckpt = time.monotonic()
            if bar is not None:
                n_div = int(np.sum(status_l == RESULTS.diverged))
                bar.set_postfix(diverged=diverged_total + n_div, refresh=False)
                bar.update(n * save_every)
        if t0_cell == num_steps:  # no segment ran (resumed at the very end)
            codes = _outcome_jit(bound, plan, keys_p, carry, traced_params)
        s0, codes_l = _process_block(codes)
        _, dstep_l = _process_block(carry[2])
        scatter(status_all, codes_l, s0)
        scatter(dstep_all, dstep_l, s0)
        if group is not None:
            scatter(group["status"], codes_l.astype(np.int8), s0)
            scatter(group["diverged_step"], dstep_l.astype(np.int64), s0)
            if t == num_steps and ckpt is not None:  # mark the cell done for a resume
                local = _tmap(lambda a: _process_block(a)[1], carry)
                ckpt.save(local, {"cell": ci + 1, "step": 0, "config_sha256": ident_sha,
                                  **_versions()})
        diverged_total += int(np.sum(codes_l == RESULTS.diverged))
        if keep_final:
            if pad and carry[0] is not None and mesh is None:
                finals.append(_tmap(lambda a: a[:num_seeds], carry[0]))
            else:
                finals.append(_tmap(lambda a: a[:num_seeds] if a.is_fully_addressable else a,
                                    carry[0]))
        else:
            finals.append(None)
    if bar is not None:
        bar.close()

    end_time = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    if store_path is not None:
        if nproc > 1:
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices("ganflow-done")
        if jax.process_index() == 0:
            finish_store(store_path, {"end_time": end_time})
        if nproc > 1:
            multihost_utils.sync_global_devices("ganflow-finished")
        import xarray as xr

        dataset = xr.open_zarr(store_path)
        if start_cell or start_step or nproc > 1:  # fill what this process did not compute
            for k in list(obs_all) or [v for v in dataset.data_vars if "step" in dataset[v].dims
                                        and v not in ("completed_steps",)]:
                obs_all[k] = dataset[k].values
            status_all = dataset["status"].values.astype(np.int32)
            dstep_all = dataset["diverged_step"].values.astype(np.int32)
    else:
        attrs = {"title": name,
                 "config": json.dumps(config or {}, sort_keys=True, default=_json_default),
                 **_versions(), "backend": jax.default_backend(),
                 "devices": [str(d) for d in devices],
                 "sharded_over": len(devices) if sharded else 1,
                 "start_time": start_time, "end_time": end_time}

        def dataset():
            return _in_memory_dataset(sweep, steps, time_step, obs_all, status_all, dstep_all,
                                      attrs)
    return EnsembleResult(dataset, obs_all, status_all, dstep_all, finals, steps, sweep)


class _Bound(AbstractProblem):
    """A problem with its static hyper-parameters bound into `params`."""

    inner: AbstractProblem
    static: dict = eqx.field(static=True)

    @property
    def vectorised(self) -> bool:  # type: ignore[override]
        return self.inner.vectorised

    def _p(self, params):
        return {**{k: v for k, v in params.items() if k != "_cell"}, **self.static}

    def init(self, key, params, *inputs):
        return self.inner.init(key, self._p(params), *inputs)

    def step(self, state, key, t, params):
        return self.inner.step(state, key, t, self._p(params))

    def observe(self, state, params):
        return self.inner.observe(state, self._p(params))

    def finite_part(self, state):
        return self.inner.finite_part(state)

    def outcome(self, state, params):
        return self.inner.outcome(state, self._p(params))


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
