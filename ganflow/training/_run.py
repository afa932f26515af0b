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
from jax.sharding import PartitionSpec
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from .._checks import check_int_at_least, check_positive, check_state
from ..continuous._sharding import SEED_AXIS, prepare_seeds, seed_mesh
from ._schemes import AbstractScheme, TrainState

_tmap = jax.tree_util.tree_map


class RunStatus:
    """Per-seed outcome codes of a run (an enum of ints, usable inside jit)."""

    MAX_STEPS = 0
    CONVERGED = 1
    DIVERGED = 2
    NAMES = ("max_steps", "converged", "diverged")

    @classmethod
    def name(cls, code: int) -> str:
        return cls.NAMES[int(code)]


class RunSolution(eqx.Module):
    r"""The result of `run` for a batch of S seeds.

    - `ts` (T,): the steps at which states were saved (0, save_every, ..., num_steps);
    - `xs`: the saved states, leaves of shape (S, T, ...); `x_final`: leaves (S, ...);
    - `distances` (S, T): $\|x - x^*\|_2$ at the save points (None without `x_star`);
    - `final_distance` (S,): at the end (to x*, or the size of the last step without x*);
    - `status` (S,): `RunStatus` codes; `status_names` gives them as strings;
    - `diverged_step` (S,): the step whose result was non-finite or beyond `blowup` (−1 if none);
    - `converged_step` (S,): the first step within `tol` of x* (−1 if never);
    - `state`: the final `TrainState` (optimiser states, stats such as CG iterations).
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

    @property
    def status_names(self) -> list[str]:
        return [RunStatus.name(c) for c in np.asarray(self.status)]

    @property
    def converged(self) -> Bool[Array, " S"]:
        return self.status == RunStatus.CONVERGED

    @property
    def diverged(self) -> Bool[Array, " S"]:
        return self.status == RunStatus.DIVERGED

    def fraction_converged(self) -> Float[Array, ""]:
        return jnp.mean(self.converged)


def _ravel(x: Any) -> jax.Array:
    leaves = [jnp.ravel(a) for a in jax.tree_util.tree_leaves(x)]
    return jnp.concatenate(leaves) if leaves else jnp.zeros((0,))


def _distance(x: Any, x_star: Any) -> jax.Array:
    return jnp.linalg.norm(_ravel(x) - _ravel(x_star))


def _bad(x: Any, blowup: Any) -> jax.Array:
    flat = _ravel(x)
    return ~jnp.all(jnp.isfinite(flat)) | (jnp.max(jnp.abs(flat)) > blowup)


def run_one(
    scheme: AbstractScheme,
    x0: Any,
    num_steps: int,
    key: PRNGKeyArray | None,
    *,
    save_every: int | None,
    x_star: Any,
    tol: Any,
    blowup: Any,
    opt_state: Any = None,
):
    """One seed (un-jitted, un-vmapped): the building block of `run`; vmap it yourself to
    batch over extra axes (the atlas vmaps over learning rates × seeds)."""
    every = num_steps if save_every is None else save_every
    num_saves = num_steps // every
    state0 = scheme.init(x0, opt_state)
    has_key = scheme.sampler is not None

    def one_step(carry, t):
        state, status, div_step, conv_step = carry
        one = jnp.asarray(1, dtype=jnp.int32)
        data = jax.random.fold_in(key, t) if has_key else ()
        new = scheme.step(state, data)
        alive = status != RunStatus.DIVERGED
        bad = alive & _bad(new.x, blowup)
        keep = alive & ~bad
        state = _tmap(lambda n, o: jnp.where(keep, n, o), new, state)
        status = jnp.where(bad, RunStatus.DIVERGED, status)
        div_step = jnp.where(bad, t + one, div_step)
        if x_star is not None:
            hit = keep & (conv_step < 0) & (_distance(state.x, x_star) <= tol)
            conv_step = jnp.where(hit, t + one, conv_step)
        return (state, status, div_step, conv_step), None

    def save_block(carry, i):
        ts = (i * every + jnp.arange(every)).astype(jnp.int32)
        carry, _ = jax.lax.scan(one_step, carry, ts)
        x = carry[0].x
        d = _distance(x, x_star) if x_star is not None else jnp.zeros(())
        return carry, (x, d)

    minus1 = jnp.asarray(-1, dtype=jnp.int32)
    status0 = jnp.asarray(RunStatus.MAX_STEPS, dtype=jnp.int32)
    if x_star is not None:
        d0 = _distance(state0.x, x_star)
        conv0 = jnp.where(d0 <= tol, 0, minus1).astype(jnp.int32)
    else:
        d0 = jnp.zeros(())
        conv0 = minus1
    carry = (state0, status0, minus1, conv0)
    carry, (xs, ds) = jax.lax.scan(save_block, carry, jnp.arange(num_saves))
    state, status, div_step, conv_step = carry
    xs = _tmap(lambda a0, a: jnp.concatenate([a0[None], a]), state0.x, xs)
    ds = jnp.concatenate([d0[None], ds])
    if x_star is not None:
        final_distance = ds[-1]
    else:  # the size of one more step: a fixed-point residual
        data = jax.random.fold_in(key, num_steps) if has_key else ()
        final_distance = jnp.linalg.norm(_ravel(scheme.step(state, data).x) - _ravel(state.x))
    converged = (status != RunStatus.DIVERGED) & (final_distance <= tol)
    status = jnp.where(converged, RunStatus.CONVERGED, status).astype(jnp.int32)
    return (
        state,
        xs,
        (ds if x_star is not None else None),
        final_distance,
        status,
        div_step,
        conv_step,
    )


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


def run(
    scheme: AbstractScheme,
    x0s: Any,
    num_steps: int,
    key: PRNGKeyArray | None = None,
    *,
    save_every: int | None = None,
    x_star: Any = None,
    tol: float = 1e-8,
    blowup: float = 1e6,
    throw: bool = False,
    shard: bool | None = None,
    seed_chunk: int | None = None,
) -> RunSolution:
    r"""Runs `scheme` for `num_steps` steps from each initial state in `x0s` (leaves with a
    leading seed axis S), vmapped over seeds, compiled once.

    - `key`: split into one key per seed; step t of a seed uses `fold_in(seed_key, t)` as its
      data (batches are sampled inside the scan; required when the scheme has a sampler);
    - `save_every`: keep the state every `save_every` steps (must divide `num_steps`); None keeps
      only the first and last states;
    - `x_star`: a known equilibrium: the run reports distances to it, and a seed is CONVERGED
      when its final distance is ≤ `tol`. Without it, CONVERGED means the last step moved ≤ `tol`;
    - a seed whose state is non-finite or exceeds `blowup` (max-norm) is frozen and DIVERGED;
    - `throw=True` raises (`eqx.error_if`, at run time) if any seed diverged;
    - `shard`: shard the seed axis over all devices with `jax.sharding` (default: when more than
      one device is present; on CPU set `XLA_FLAGS=--xla_force_host_platform_device_count=<cores>`
      before importing jax to get one device per core). Results equal those of one device
      (bitwise when each device's seed chunks coincide, e.g. small games; else to rounding);
    - `seed_chunk`: seeds computed together on a device: all of them (`vmap`) for small games;
      for large models a few at a time (`lax.map(batch_size=...)`), so that a chunk's parameters
      stay in cache across the scan's steps (default: about 2¹⁷ numbers per chunk; on the 35k
      MoG MLP GAN this made 64 seeds cost 34× one seed instead of 42× on one CPU device).

    ```python
    sol = run(SimultaneousGDA(b, optax.sgd(0.1)), x0s, 1000, x_star=game.equilibrium())
    sol.status_names, sol.diverged_step
    ```
    """
    if not isinstance(scheme, AbstractScheme):
        raise ValueError(f"scheme must be a ganflow training scheme, got {type(scheme).__name__}")
    num_steps, save_every, num_seeds, x_star = _check_run_inputs(
        num_steps, save_every, x0s, x_star, tol, blowup
    )
    if scheme.sampler is not None and key is None:
        raise ValueError("this scheme samples batches: pass a PRNG key")
    keys = jax.random.split(key, num_seeds) if key is not None else None
    # check the scheme against one seed's state at trace time (before compiling the loop)
    jax.eval_shape(lambda x: scheme.init(x), _tmap(lambda a: a[0], tuple(x0s)))
    keys, x0s, pad = prepare_seeds(keys, tuple(x0s), True, shard)
    sharded = len(jax.devices()) > 1 if shard is None else bool(shard)
    mesh = seed_mesh() if sharded else None
    num_local = (num_seeds + pad) // (len(jax.devices()) if sharded else 1)
    chunk = _seed_chunk(x0s, num_local, seed_chunk)
    sol = _run_jit(
        scheme, x0s, keys, num_steps, save_every, x_star, tol, blowup, throw, chunk, mesh
    )
    if pad:  # drop the padding seeds (every leaf but ts has the seed axis first)
        trimmed = _tmap(lambda a: a[:num_seeds], sol)
        sol = eqx.tree_at(lambda s: s.ts, trimmed, sol.ts)
    return sol


def _seed_chunk(x0s: Any, num_local: int, seed_chunk: int | None) -> int:
    """Seeds per vmapped chunk on one device (see `run`)."""
    if seed_chunk is not None:
        return check_int_at_least("seed_chunk", seed_chunk, 1)
    per_seed = sum(int(np.prod(jnp.shape(a)[1:])) for a in jax.tree_util.tree_leaves(x0s))
    return max(1, min(num_local, 2**17 // max(per_seed, 1)))


@eqx.filter_jit
def _run_jit(scheme, x0s, keys, num_steps, save_every, x_star, tol, blowup, throw, chunk, mesh):
    def one(x0, k):
        return run_one(
            scheme, x0, num_steps, k, save_every=save_every, x_star=x_star, tol=tol, blowup=blowup
        )

    def local(x0s, keys):  # the seeds of one device: vmapped, in chunks of `chunk`
        num = jax.tree_util.tree_leaves(x0s)[0].shape[0]
        if chunk >= num:
            return jax.vmap(one, in_axes=(0, 0 if keys is not None else None))(x0s, keys)
        if keys is None:
            return jax.lax.map(lambda x0: one(x0, None), x0s, batch_size=chunk)
        return jax.lax.map(lambda a: one(*a), (x0s, keys), batch_size=chunk)

    if mesh is not None:
        spec = PartitionSpec(SEED_AXIS)
        local = jax.shard_map(local, mesh=mesh, in_specs=(spec, spec), out_specs=spec,
                              check_vma=False)
    state, xs, ds, fd, status, div_step, conv_step = local(x0s, keys)
    if throw:
        status = eqx.error_if(
            status, jnp.any(status == RunStatus.DIVERGED), "a seed diverged during the run"
        )
    every = num_steps if save_every is None else save_every
    ts = jnp.arange(num_steps // every + 1) * every
    return RunSolution(
        ts=ts,
        xs=xs,
        x_final=state.x,
        distances=ds,
        final_distance=fd,
        status=status,
        diverged_step=div_step,
        converged_step=conv_step,
        state=state,
    )


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
    when $ρ(F'(x^*)) < 1$ (Mescheder 2017; MATH.md "Discrete training").
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
    save_every: int | None = None,
    x_star: Any = None,
    tol: float = 1e-8,
    blowup: float = 1e6,
) -> RunSolution:
    """`run` over a grid of learning rates × seeds in one compilation: `make_scheme(eta)` builds
    the scheme for one (traced) learning rate; the result has leading axes (E, S)."""
    num_steps, save_every, num_seeds, x_star = _check_run_inputs(
        num_steps, save_every, x0s, x_star, tol, blowup
    )
    etas = jnp.asarray(etas)
    if etas.ndim != 1:
        raise ValueError(f"etas must be a 1-D array of learning rates, got shape {etas.shape}")
    check_positive("etas", np.asarray(etas))
    keys = jax.random.split(key, num_seeds) if key is not None else None
    return _grid_jit(
        make_scheme, etas, tuple(x0s), keys, num_steps, save_every, x_star, tol, blowup
    )


@eqx.filter_jit
def _grid_jit(make_scheme, etas, x0s, keys, num_steps, save_every, x_star, tol, blowup):
    def one(eta, x0, k):
        return run_one(
            make_scheme(eta),
            x0,
            num_steps,
            k,
            save_every=save_every,
            x_star=x_star,
            tol=tol,
            blowup=blowup,
        )

    k_axis = 0 if keys is not None else None
    per_seed = jax.vmap(one, in_axes=(None, 0, k_axis))
    out = jax.vmap(per_seed, in_axes=(0, None, None))(etas, x0s, keys)
    state, xs, ds, fd, status, div_step, conv_step = out
    every = num_steps if save_every is None else save_every
    return RunSolution(
        ts=jnp.arange(num_steps // every + 1) * every,
        xs=xs,
        x_final=state.x,
        distances=ds,
        final_distance=fd,
        status=status,
        diverged_step=div_step,
        converged_step=conv_step,
        state=state,
    )
