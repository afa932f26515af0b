r"""The Cao–Guo SDEs and ensembles of their paths.

$$dx = b(x)\,dt + σ(x)\,dW,\qquad σ = \sqrt{2β^{-1}}\,\mathrm{blockdiag}(Σ_θ, Σ_ω)^{1/2},\quad
β = 2B/η$$
(Cao–Guo §3): b = b0 for simultaneous updates (eq. 9, weak order 1, Theorem 2),
b = b0 + η b1 for alternating updates (eq. 10, weak order 2, Theorem 1), and
b = b0 − (η/2) J b0 for the second-order approximation of simultaneous updates (Remark 1,
eq. 13). The SDEs are Itô SDEs.

**Two ways to integrate an ensemble** (`sde_ensemble(..., method=...)`):

- `"scan"` — ganflow's fast path: Euler–Maruyama as one `lax.scan` over the whole batch of
  seeds, $x_{k+1} = x_k + b(x_k)Δt + σ(x_k)\sqrt{Δt}\,ξ_k$, with the step's noise for every seed
  drawn in one fused counter-based computation (`_random.py`: $ξ_k$ depends on the seed's key
  and k only). Used by default (`method="auto"`) whenever the solver is Euler–Maruyama.
- `"diffrax"` — any diffrax SDE solver, vmapped over seeds: `diffrax.Euler` (Itô), additive-noise
  solvers (`diffrax.SRA1`, `ShARK`, `Heun` — Stratonovich solvers, equal to Itô only when σ does
  not depend on x, so they are refused for state-dependent noise), and adaptive steps with a
  `VirtualBrownianTree` and a `PIDController` (e.g. `diffrax.HalfSolver(diffrax.Euler())` for
  Itô noise, `diffrax.SPaRK()` or `Heun` for additive noise). Brownian paths:
  `brownian="counter"` (fixed steps; the same increments as `"scan"`, so both paths agree to
  rounding), `"unsafe"` (`diffrax.UnsafeBrownianPath`, fixed steps) or `"virtual"`
  (`diffrax.VirtualBrownianTree`, any steps). The adjoint is `diffrax.ForwardMode()` (no
  backpropagation through the solve).

**Derivatives** (`adjoint=`): with a diffrax adjoint, e.g. `diffrax.RecursiveCheckpointAdjoint()`,
the paths are one pure diffrax solve per seed over $[t_0, t_1]$, vmapped over the seeds, which
`jax.grad` differentiates with respect to x0 and every array inside the SDE (the drift's
parameters, a diffusion's η or σ): the **pathwise** derivative of each path, its Brownian path
held fixed by its key (counter-based or a `VirtualBrownianTree`). It runs in memory, outside the
ensemble engine (no folder, chunks or sharding), and gives the engine's paths to rounding.

Either way the ensemble is vmapped (never a Python loop) over the seeds, each seed's path is a
function of its own key, a blown-up seed gets status `nonfinite` without touching the others,
and with more than one device the seed axis is sharded: both paths are problems of the
ensemble engine (`ganflow.engine`), which chunks, shards, checkpoints and records them.
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._checks import (
    check_choice,
    check_int_at_least,
    check_keys,
    check_positive,
    check_same_structure,
    check_seed_x0,
    check_state,
)
from ..dynamics import Objective, as_objective, modified_field, vector_field
from ..engine import (
    RESULTS,
    AbstractProblem,
    Execution,
    RunFolder,
    Sweep,
    front_door_execution,
    run_ensemble,
)
from ._diffusion import AbstractDiffusion, GradientNoise
from ._ode import _check_times
from ._random import (
    STREAM_BROWNIAN,
    CounterBrownianPath,
    batch_tree_normals_block,
    stream_key_data,
)
from ._solution import SDESolution, _first_nonfinite

_tmap = jax.tree_util.tree_map


class SDE(eqx.Module):
    r"""An Itô SDE $dx = b(x, *args)\,dt + σ(t, x)\,dW$: a drift field `drift(x, *args)`
    (b0, a stabilised field, a `gf.ModifiedField`, …) and an `AbstractDiffusion`.

    ```python
    sde = SDE(game.vector_field(population=True), ConstantDiffusion(0.1))
    ```
    """

    drift: Callable[..., Any]
    diffusion: AbstractDiffusion
    args: tuple = ()

    def __check_init__(self):
        if not callable(self.drift) or isinstance(self.drift, Objective):
            raise ValueError("drift must be a vector field b(x, *args); use gf.vector_field(phi)")
        if not isinstance(self.diffusion, AbstractDiffusion):
            raise ValueError(
                "diffusion must be an AbstractDiffusion (ConstantDiffusion, GradientNoise, "
                f"DiagonalDiffusion, MatrixFreeDiffusion); got {type(self.diffusion).__name__}"
            )

    def check(self, x: Any) -> None:
        """Trace-time checks: drift and σ(x)·dW have the structure of x."""
        check_state(x, "x0")
        out = jax.eval_shape(lambda y: self.drift(y, *self.args), x)
        check_same_structure("the drift's output", out, x)
        self.diffusion.check(x)


def batch_mean_objective(example: Objective) -> Objective:
    r"""The minibatch objective of a per-example objective: $(θ, ω, \mathcal B) ↦$ the mean of
    `example` over the examples of the batch $\mathcal B$ (leading axis), for each player
    (Cao–Guo eq. 4: b0 on a minibatch is the field of this objective)."""
    def mean(fn):
        def batch_fn(theta, omega, batch):
            return jnp.mean(jax.vmap(lambda e: fn(theta, omega, e))(batch))

        return batch_fn

    return Objective(mean(example.generator), mean(example.discriminator), example.zero_sum)


def cao_guo_sde(
    game: Any,
    eta: float,
    batch_size: int,
    *,
    data: Any = None,
    key: Any = None,
    num_examples: int | None = None,
    drift: str | Callable[..., Any] = "simultaneous",
    population: bool = False,
    fresh: bool = False,
) -> SDE:
    r"""The SDE approximating minibatch GDA with learning rate η and batch size B (Cao–Guo §3):

    - `drift="simultaneous"`: b0 (eq. 9); `"alternating"`: b0 + η b1 (eq. 10);
      `"modified"`: b0 − (η/2) J b0 (Remark 1, eq. 13); or a field `b(x, data)`
      (`b(x)` when `population=True`);
    - diffusion `GradientNoise`: $\sqrt{η/B}\,\mathrm{blockdiag}(Σ_θ, Σ_ω)^{1/2}$ from the
      per-example factor over the data set.

    `game` is an `AbstractGame` or a per-example objective `(θ, ω, example) ↦ value` (an
    `Objective` when not zero-sum). The data set $\mathcal D$ is `data` (leading example axis
    n) or `game.sample(key, num_examples)`. The drift's full gradient is the mean over
    $\mathcal D$ (Cao–Guo eq. 3), or the game's exact population field with
    `population=True`. `fresh=True` re-draws the n examples behind Σ̂ at every evaluation
    (see `GradientNoise`).
    """
    eta = check_positive("eta", eta)
    batch_size = check_int_at_least("batch_size B", batch_size, 1)
    is_game = hasattr(game, "example_objective") and hasattr(game, "sample")
    example = game.example_objective if is_game else as_objective(game)
    if data is None:
        if not is_game or key is None or num_examples is None:
            raise ValueError("pass data (a batch of examples), or a game with key and num_examples")
        data = game.sample(key, check_int_at_least("num_examples", num_examples, 2))
    if population:
        if not is_game or game.population() is None:
            raise ValueError("population=True needs a game with an exact population objective")
        b0, args = game.vector_field(population=True), ()
    else:
        b0, args = vector_field(batch_mean_objective(example)), (data,)
    if callable(drift):
        field = drift
    else:
        check_choice("drift", drift, ("simultaneous", "alternating", "modified"))
        field = {
            "simultaneous": lambda: b0,
            "alternating": lambda: modified_field(b0, eta, "alternating"),
            "modified": lambda: modified_field(b0, eta, "simultaneous"),
        }[drift]()
    sampler = None
    if fresh:
        if not is_game or key is None:
            raise ValueError("fresh=True needs a game (its sampler) and a key")
        sampler = game.sample
    noise = GradientNoise(example, data, eta, batch_size, sampler=sampler, key=key)
    return SDE(field, noise, args)


# ---------------------------------------------------------------------------------------------
# validation


def _time_grid(t0: Any, t1: Any, dt: Any, save_every: int | None) -> tuple[int, int]:
    _check_times(t0, t1)
    check_positive("dt", dt)
    steps_f = (float(t1) - float(t0)) / float(dt)
    n_steps = int(round(steps_f))
    if n_steps < 1 or abs(steps_f - n_steps) > 1e-6 * max(1.0, steps_f):
        raise ValueError(f"(t1 - t0) / dt must be a positive integer, got {steps_f!r}")
    save_every = n_steps if save_every is None else check_int_at_least("save_every", save_every, 1)
    if n_steps % save_every:
        raise ValueError(f"save_every={save_every} must divide the number of steps {n_steps}")
    return n_steps, save_every


def _solver_levy(solver: Any) -> type:
    inner = getattr(solver, "solver", solver)
    levy = getattr(inner, "minimal_levy_area", diffrax.BrownianIncrement)
    if issubclass(levy, diffrax.AbstractSpaceTimeTimeLevyArea):
        return diffrax.SpaceTimeTimeLevyArea
    if issubclass(levy, diffrax.AbstractSpaceTimeLevyArea):
        return diffrax.SpaceTimeLevyArea
    return diffrax.BrownianIncrement


def _check_solver(solver: Any, diffusion: AbstractDiffusion) -> None:
    inner = getattr(solver, "solver", solver)
    if isinstance(inner, diffrax.AbstractStratonovichSolver) and not diffusion.additive:
        raise ValueError(
            f"{type(inner).__name__} converges to the Stratonovich solution; the Cao–Guo SDEs "
            "are Itô and this diffusion depends on x. Use diffrax.Euler() (Euler–Maruyama), or "
            "diffrax.HalfSolver(diffrax.Euler()) with brownian='virtual' for adaptive steps."
        )


# ---------------------------------------------------------------------------------------------
# the fast path


def _noise_block(save_every: int, target: int = 10) -> int:
    """Steps whose noise is drawn per fused call: the largest divisor of `save_every` that is
    ≤ `target` (K ≈ 10 measured ≈25% faster than K = 1 on CPU; larger K slower again)."""
    return max(k for k in range(1, min(target, save_every) + 1) if save_every % k == 0)


class EulerMaruyamaProblem(AbstractProblem):
    r"""The fast path as an engine problem (vectorised: one call advances a chunk of members).
    One engine step is a block of K Euler–Maruyama steps whose noise is drawn in one fused
    counter-based call ($ξ_k$ depends on the seed's key and k only, seeds innermost)."""

    sde: SDE
    t0: Any
    dt: Any
    block: int = eqx.field(static=True)
    vectorised = True

    def init(self, keys, params, inputs=None):
        x0 = inputs  # the chunk's initial states (leading member axis)
        self.sde.check(_tmap(lambda a: a[0], x0))  # trace time only: before anything compiles
        return x0, jax.vmap(lambda k: stream_key_data(k, STREAM_BROWNIAN))(keys)

    def step(self, state, keys, t, params):
        xs, key_data = state
        sde = self.sde
        x_one = _tmap(lambda a: a[0], xs)
        structure = sde.diffusion.noise_structure(x_one)
        dtype = jnp.result_type(*jax.tree_util.tree_leaves(x_one))
        dt = jnp.asarray(self.dt, dtype)
        sqdt = jnp.sqrt(dt)
        drift = jax.vmap(lambda x: sde.drift(x, *sde.args))
        diffuse = jax.vmap(lambda x, w, tt: sde.diffusion.apply(tt, x, w), in_axes=(0, 0, None))
        ks = t * self.block + jnp.arange(self.block, dtype=jnp.int32)
        z = batch_tree_normals_block(key_data, ks, structure)

        def one(x, k_z):
            k, zz = k_z
            tt = jnp.asarray(self.t0, dtype) + k.astype(dtype) * dt
            dw = _tmap(lambda a: a * sqdt, zz)
            b = drift(x)
            sg = diffuse(x, dw, tt)
            return _tmap(lambda a, bb, ss: a + dt * bb + ss, x, b, sg), None

        xs, _ = jax.lax.scan(one, xs, (ks, z))
        return xs, key_data

    def observe(self, state, params):
        return {"x": state[0]}

    def finite_part(self, state):
        return state[0]


class DiffraxSDEProblem(AbstractProblem):
    r"""The diffrax path as an engine problem: one engine step integrates one save interval
    $[t_i, t_{i+1}]$ with `diffeqsolve`. The Brownian path is a function of the seed's key and
    time only (counter-based or a `VirtualBrownianTree` over $[t_0, t_1]$), so consecutive
    intervals see one path; `UnsafeBrownianPath` draws fresh increments per interval."""

    sde: SDE
    t0: Any
    t1: Any
    dt: Any
    interval: Any
    solver: Any
    brownian: str = eqx.field(static=True)
    controller: Any
    max_steps: int = eqx.field(static=True)
    brownian_tol: Any
    steps_per_interval: int = eqx.field(static=True, default=0)
    vectorised = False

    def init(self, key, params, inputs=None):
        x0 = inputs  # the seed's initial state
        self.sde.check(x0)  # trace time only: before anything compiles
        return x0, jax.random.key_data(key), jnp.asarray(diffrax.RESULTS.successful._value,
                                                         jnp.int32)

    def step(self, state, key, t, params):
        x, kd, code = state
        sde = self.sde
        seed_key = jax.random.wrap_key_data(kd)
        levy = _solver_levy(self.solver)
        structure = sde.diffusion.noise_structure(x)
        dtype = jnp.result_type(*jax.tree_util.tree_leaves(x))
        t0 = jnp.asarray(self.t0, dtype)
        ta = t0 + t.astype(dtype) * jnp.asarray(self.interval, dtype)
        if self.steps_per_interval:
            ta = t0 + (t * self.steps_per_interval).astype(dtype) * jnp.asarray(self.dt, dtype)
        tb = jnp.minimum(ta + jnp.asarray(self.interval, dtype), jnp.asarray(self.t1, dtype))
        if self.brownian == "counter":
            path = CounterBrownianPath(structure, seed_key, t0, self.dt, levy_area=levy)
        elif self.brownian == "unsafe":
            path = diffrax.UnsafeBrownianPath(
                structure, jax.random.fold_in(key, STREAM_BROWNIAN), levy_area=levy)
        else:
            path = diffrax.VirtualBrownianTree(
                t0, jnp.asarray(self.t1, dtype), self.brownian_tol, structure,
                jax.random.fold_in(seed_key, STREAM_BROWNIAN), levy_area=levy,
            )
        terms = diffrax.MultiTerm(
            diffrax.ODETerm(lambda tt, y, a: sde.drift(y, *sde.args)),
            diffrax.ControlTerm(lambda tt, y, a: sde.diffusion.operator(tt, y), path),
        )
        controller, dt0 = self.controller, self.dt
        if self.steps_per_interval:  # fixed steps on the exact grid t0 + k dt
            k0 = t * self.steps_per_interval
            grid = t0 + (k0 + jnp.arange(self.steps_per_interval + 1)).astype(dtype) * \
                jnp.asarray(self.dt, dtype)
            grid = grid.at[-1].set(tb)
            controller, dt0 = diffrax.StepTo(ts=grid), None
        sol = diffrax.diffeqsolve(
            terms, self.solver, ta, tb, dt0, x, saveat=diffrax.SaveAt(t1=True),
            stepsize_controller=controller, adjoint=diffrax.ForwardMode(),
            max_steps=self.max_steps, throw=False,
        )
        new = _tmap(lambda a: a[-1], sol.ys)
        res = jnp.asarray(sol.result._value, jnp.int32)
        failed = code != diffrax.RESULTS.successful._value
        new = _tmap(lambda a, b: jnp.where(failed, b, a), new, x)  # stop after a failure
        return new, kd, jnp.where(failed, code, res)

    def observe(self, state, params):
        return {"x": state[0]}

    def finite_part(self, state):
        return state[0]

    def outcome(self, state, params):
        return _code_to_results(state[2])


def _code_to_results(code):
    ok = diffrax.RESULTS.successful._value
    mx = diffrax.RESULTS.max_steps_reached._value
    return jnp.where(code == ok, RESULTS.successful,
                     jnp.where(code == mx, RESULTS.max_steps_reached, RESULTS.failed))


def _engine_solution(res, ts, treedef, method, with_result, step_time) -> SDESolution:
    """Front-door solution from an engine result (one cell); `step_time`: time per engine
    step."""
    xs = jax.tree_util.tree_map(jnp.asarray, res.tree("x", treedef))
    status = jnp.asarray(res.status)
    dstep = np.asarray(res.diverged_step)
    t_bad = jnp.asarray(np.where(dstep >= 0, float(ts[0]) + dstep * step_time, np.inf),
                        ts.dtype)
    result = jnp.asarray(res.final_state[2][:, 0]) if with_result else None
    return SDESolution(ts, xs, status, t_bad, result, method, res.dataset)


# ---------------------------------------------------------------------------------------------
# the differentiable path


def _check_adjoint(adjoint, method, brownian, folder, execution) -> None:
    if not isinstance(adjoint, diffrax.AbstractAdjoint):
        raise ValueError("adjoint must be a diffrax adjoint (e.g. "
                         f"diffrax.RecursiveCheckpointAdjoint()), got {type(adjoint).__name__}")
    if isinstance(adjoint, diffrax.BacksolveAdjoint):
        raise ValueError("BacksolveAdjoint is not offered for the SDEs (it needs a Stratonovich "
                         "solver and a reversible Brownian path): use "
                         "diffrax.RecursiveCheckpointAdjoint() for the pathwise derivative")
    if method == "scan":
        raise ValueError("a differentiable ensemble (adjoint=...) runs the diffrax path: pass "
                         "method='auto' or 'diffrax'")
    if brownian == "unsafe" and not isinstance(adjoint, diffrax.ForwardMode):
        raise ValueError("brownian='unsafe' cannot be differentiated in reverse mode (its "
                         "increments are not reproducible): use brownian='counter' or 'virtual'")
    if folder is not None or execution is not None:
        raise ValueError("a differentiable ensemble (adjoint=...) runs in memory, outside the "
                         "ensemble engine: pass neither folder nor execution")


def _adaptive_controller(solver, brownian, rtol, atol):
    """(adaptive, controller): a PID step-size controller with `rtol`, `atol` for an adaptive
    solver (which needs the `VirtualBrownianTree`), else (False, None)."""
    adaptive = isinstance(solver, diffrax.AbstractAdaptiveSolver) and not isinstance(
        solver, diffrax.Euler)
    if adaptive and brownian != "virtual":
        raise ValueError(f"adaptive {type(solver).__name__} needs brownian='virtual'")
    if not adaptive:
        return False, None
    return True, diffrax.PIDController(rtol=check_positive("rtol", rtol),
                                       atol=check_positive("atol", atol))


def _differentiable_ensemble(sde, x0s, t0, t1, dt, keys, n_steps, save_every, solver, brownian,
                             rtol, atol, brownian_tol, max_steps, throw, adjoint, dtype):
    """Each seed's path as one `diffeqsolve` over [t0, t1] (fixed steps on the grid
    t0 + k dt, or adaptive with a `VirtualBrownianTree`), vmapped over the seeds."""
    sde.check(_tmap(lambda a: a[0], x0s))  # trace time: before anything compiles
    adaptive, controller = _adaptive_controller(solver, brownian, rtol, atol)
    if adaptive:
        max_steps = 16**4 if max_steps is None else max_steps
    else:
        grid = jnp.asarray(t0, dtype) + jnp.asarray(dt, dtype) * jnp.arange(n_steps + 1,
                                                                           dtype=dtype)
        controller = diffrax.StepTo(ts=grid.at[-1].set(jnp.asarray(t1, dtype)))
        max_steps = n_steps + 8 if max_steps is None else max_steps
    max_steps = check_int_at_least("max_steps", max_steps, 1)
    tol = dt / 8 if brownian_tol is None else check_positive("brownian_tol", brownian_tol)
    ts = jnp.asarray(t0, dtype) + jnp.asarray(dt, dtype) * save_every * jnp.arange(
        n_steps // save_every + 1, dtype=dtype)
    ts = ts.at[-1].set(jnp.asarray(t1, dtype))
    xs, result = _solve_paths(sde, x0s, keys, jnp.asarray(t0, dtype), jnp.asarray(t1, dtype),
                              jnp.asarray(dt, dtype), ts, solver, brownian, controller,
                              None if not adaptive else jnp.asarray(dt, dtype), max_steps,
                              jnp.asarray(tol, dtype), adjoint)
    status = _code_to_results(result)
    bad, t_bad = jax.vmap(lambda x: _first_nonfinite(ts, x, 0))(xs)
    status = jnp.where(bad, RESULTS.diverged, status)
    sol = SDESolution(ts, xs, status, t_bad, result, "diffrax")
    if throw and not isinstance(status, jax.core.Tracer) and bool(
            np.any(np.asarray(status) != RESULTS.successful)):
        raise RuntimeError("an ensemble member failed (status != successful): "
                           f"{RESULTS.summary(status)}")
    return sol


@eqx.filter_jit
def _solve_paths(sde, x0s, keys, t0, t1, dt, ts, solver, brownian, controller, dt0, max_steps,
                 tol, adjoint):
    levy = _solver_levy(solver)

    def one(x0, key):
        structure = sde.diffusion.noise_structure(x0)
        if brownian == "counter":
            path = CounterBrownianPath(structure, key, t0, dt, levy_area=levy)
        elif brownian == "unsafe":
            path = diffrax.UnsafeBrownianPath(
                structure, jax.random.fold_in(key, STREAM_BROWNIAN), levy_area=levy)
        else:
            path = diffrax.VirtualBrownianTree(
                t0, t1, tol, structure, jax.random.fold_in(key, STREAM_BROWNIAN), levy_area=levy)
        terms = diffrax.MultiTerm(
            diffrax.ODETerm(lambda tt, y, a: sde.drift(y, *sde.args)),
            diffrax.ControlTerm(lambda tt, y, a: sde.diffusion.operator(tt, y), path),
        )
        sol = diffrax.diffeqsolve(
            terms, solver, t0, t1, dt0, x0, saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=controller, adjoint=adjoint, max_steps=max_steps, throw=False,
        )
        return sol.ys, jnp.asarray(sol.result._value, jnp.int32)

    xs, result = jax.vmap(one)(x0s, keys)
    return xs, result


# ---------------------------------------------------------------------------------------------
# public entry points


def sde_ensemble(
    sde: SDE,
    x0: Any,
    t0: float,
    t1: float,
    *,
    dt: float,
    keys: Any,
    save_every: int | None = None,
    solver: diffrax.AbstractSolver | None = None,
    method: str = "auto",
    brownian: str = "counter",
    rtol: float = 1e-3,
    atol: float = 1e-3,
    brownian_tol: float | None = None,
    max_steps: int | None = None,
    batched_x0: bool = False,
    throw: bool = False,
    folder: RunFolder | None = None,
    execution: Execution | None = None,
    adjoint: diffrax.AbstractAdjoint | None = None,
) -> SDESolution:
    r"""An ensemble of paths of `sde`, one per key, from x0 at t0 to t1 on the grid of step dt.

    - `keys`: a 1-D array of typed keys (`jax.random.split(key, seeds)`); seed s's path is a
      function of `keys[s]` alone (the same inside any ensemble, alone, or sharded);
    - `x0`: one state for all seeds, or with `batched_x0=True` a leading seed axis;
    - `save_every`: save every this many steps (must divide (t1 − t0)/dt; default: t0 and t1);
    - `solver`: default Euler–Maruyama; `method="auto"` runs it on ganflow's `lax.scan` fast
      path, other solvers (or `method="diffrax"`) go through diffrax (see the module doc); an
      adaptive solver uses `PIDController(rtol, atol)` from the first step dt and
      `brownian="virtual"` (tolerance `brownian_tol`, default dt/8);
    - `throw=False`: a blown-up seed is reported in `status` (`diverged`, frozen at its last
      finite save); `throw=True` raises if any seed failed;
    - `folder`: a `ganflow.engine.RunFolder`: results streamed to its `results.zarr`,
      checkpoints, resume or overwrite (default: in memory only);
    - `execution`: a `ganflow.engine.Execution`: seeds per chunk, sharding over devices
      (default: when more than one is present), the unroll factor of the step loop, a progress
      bar (default: none). Neither changes a number of the result;
    - `adjoint`: `None` (default) runs through the ensemble engine as above, not
      differentiable. A diffrax adjoint makes the ensemble differentiable (module doc,
      **Derivatives**): `diffrax.RecursiveCheckpointAdjoint()` for `jax.grad` (reverse mode
      through the solver's steps with recursive checkpointing: the pathwise derivative of the
      computed paths, memory O(log) of the steps' states per seed), `diffrax.ForwardMode()`
      for `jax.jvp`. It needs the diffrax path (`method="auto"` or `"diffrax"`),
      `brownian="counter"` or `"virtual"`, and neither `folder` nor `execution`.

    Returns an `SDESolution` with `xs` leaves of shape (seeds, T, ...).
    """
    if not isinstance(sde, SDE):
        raise ValueError(f"sde must be a ganflow SDE (see cao_guo_sde), got {type(sde).__name__}")
    n_steps, save_every = _time_grid(t0, t1, dt, save_every)
    keys = check_keys(keys)
    num = keys.shape[0]
    check_seed_x0(x0, num, batched_x0)
    check_choice("method", method, ("auto", "scan", "diffrax"))
    check_choice("brownian", brownian, ("counter", "unsafe", "virtual"))
    solver = diffrax.Euler() if solver is None else solver
    if not isinstance(solver, diffrax.AbstractSolver):
        raise ValueError(f"solver must be a diffrax solver, got {type(solver).__name__}")
    _check_solver(solver, sde.diffusion)
    is_euler = type(solver) is diffrax.Euler
    if adjoint is not None:
        _check_adjoint(adjoint, method, brownian, folder, execution)
        method = "diffrax"
    if method == "auto":
        method = "scan" if is_euler and brownian == "counter" else "diffrax"
    if method == "scan" and not (is_euler and brownian == "counter"):
        raise ValueError("method='scan' is Euler–Maruyama with ganflow's counter-based noise only")

    dtype = jnp.result_type(*jax.tree_util.tree_leaves(x0))
    x0s = x0 if batched_x0 else _tmap(
        lambda a: jnp.broadcast_to(jnp.asarray(a), (num,) + jnp.shape(a)), x0)
    treedef = jax.tree_util.tree_structure(x0s)
    n_saves = n_steps // save_every
    ts = jnp.asarray(t0, dtype) + jnp.asarray(dt, dtype) * save_every * jnp.arange(
        n_saves + 1, dtype=dtype)
    if adjoint is not None:
        return _differentiable_ensemble(
            sde, x0s, t0, t1, dt, keys, n_steps, save_every, solver, brownian, rtol, atol,
            brownian_tol, max_steps, throw, adjoint, dtype,
        )
    common = dict(inputs=x0s, blowup=np.inf, check="save", folder=folder,
                  execution=front_door_execution(execution),
                  name=f"sde_ensemble ({method})")
    if method == "scan":
        block = _noise_block(save_every)
        problem = EulerMaruyamaProblem(sde, t0, dt, block)
        res = run_ensemble(problem, Sweep(seeds=keys), n_steps // block,
                           save_every=save_every // block, time_step=float(dt) * block,
                           **common)
        sol = _engine_solution(res, ts, treedef, method, False, float(dt) * block)
    else:
        adaptive, controller = _adaptive_controller(solver, brownian, rtol, atol)
        if adaptive:
            max_steps = 16**4 if max_steps is None else max_steps
        else:
            controller = diffrax.ConstantStepSize()
            max_steps = save_every + 8 if max_steps is None else max_steps  # + rounding steps
        check_int_at_least("max_steps", max_steps, 1)
        tol = dt / 8 if brownian_tol is None else check_positive("brownian_tol", brownian_tol)
        ts = ts.at[-1].set(jnp.asarray(t1, dtype))
        problem = DiffraxSDEProblem(
            sde, jnp.asarray(t0, dtype), jnp.asarray(t1, dtype), jnp.asarray(dt, dtype),
            jnp.asarray(dt * save_every, dtype), solver, brownian, controller, max_steps,
            jnp.asarray(tol, dtype), 0 if adaptive else save_every,
        )
        res = run_ensemble(problem, Sweep(seeds=keys), n_saves, save_every=1,
                           time_step=float(dt) * save_every, **common)
        sol = _engine_solution(res, ts, treedef, method, True, float(dt) * save_every)
    if throw and bool(np.any(np.asarray(sol.status) != RESULTS.successful)):
        raise RuntimeError("an ensemble member failed (status != successful): "
                           f"{RESULTS.summary(sol.status)}")
    return sol


def solve_sde(sde: SDE, x0: Any, t0: float, t1: float, *, dt: float, key: Any,
              **kwargs: Any) -> SDESolution:
    """One path of `sde` (an ensemble of one, no seed axis in the result); `kwargs` as for
    `sde_ensemble`. The path equals the ensemble member with the same key. With
    `adjoint=diffrax.RecursiveCheckpointAdjoint()` it is differentiable (the pathwise
    derivative, its Brownian path fixed by `key`; see `sde_ensemble`)."""
    if kwargs.get("adjoint") is not None:
        key = jnp.asarray(key) if not hasattr(key, "dtype") else key
        keys = key[None] if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else \
            jnp.asarray(key)[None]
        sol = sde_ensemble(sde, x0, t0, t1, dt=dt, keys=keys, **kwargs)
        strip = lambda a: a[0]  # noqa: E731
        return SDESolution(sol.ts, _tmap(strip, sol.xs), sol.status[0], sol.t_nonfinite[0],
                           _tmap(strip, sol.result), sol.method)
    key = jnp.asarray(key) if not hasattr(key, "dtype") else key
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        keys = key[None]
    else:
        keys = jnp.asarray(key)[None]
    execution = kwargs.pop("execution", None) or Execution()
    if execution.shard is None:  # one path: nothing to shard
        execution = dataclasses.replace(execution, shard=False)
    sol = sde_ensemble(sde, x0, t0, t1, dt=dt, keys=keys, execution=execution, **kwargs)
    strip = lambda a: a[0]  # noqa: E731
    result = None if sol.result is None else jax.tree_util.tree_map(strip, sol.result)
    return SDESolution(sol.ts, _tmap(strip, sol.xs), sol.status[0], sol.t_nonfinite[0], result,
                       sol.method)
