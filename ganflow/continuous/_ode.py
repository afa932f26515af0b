r"""Deterministic flows with diffrax: the gradient flow $\dot x = b_0(x)$ and the modified
equations $\dot x = b_0 - \tfrac{η}{2} J b_0$ (Cao–Guo Remark 1, eq. 13) and
$\dot x = b_0 + η b_1$ (Cao–Guo eq. 10, drift only), or any field b(x, *args).
"""

from collections.abc import Callable
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_int_at_least, check_positive, check_state
from ..dynamics import Objective, vector_field
from ..engine import RESULTS
from ._solution import ODESolution, _first_nonfinite, _status_from_result


def _check_times(t0: Any, t1: Any) -> None:
    if isinstance(t0, jax.core.Tracer) or isinstance(t1, jax.core.Tracer):
        return
    if not np.all(np.asarray(t1) > np.asarray(t0)):
        raise ValueError(f"t1 must be > t0, got t0={t0!r}, t1={t1!r}")


def _check_ts(ts: Any, t0: Any, t1: Any) -> Any:
    ts = jnp.asarray(ts)
    if ts.ndim != 1 or ts.shape[0] < 1:
        raise ValueError(f"ts must be a non-empty 1-D array of save times, got shape {ts.shape}")
    if not isinstance(ts, jax.core.Tracer) and not any(
        isinstance(t, jax.core.Tracer) for t in (t0, t1)
    ):
        a = np.asarray(ts)
        if np.any(np.diff(a) < 0) or a[0] < np.asarray(t0) or a[-1] > np.asarray(t1):
            raise ValueError(f"ts must be non-decreasing and lie in [t0, t1] = [{t0}, {t1}]")
    return ts


def _field_term(field: Callable[..., Any], args: tuple) -> diffrax.ODETerm:
    return diffrax.ODETerm(lambda t, y, a: field(y, *a))


def solve_ode(
    field: Callable[..., Any],
    x0: Any,
    t0: float,
    t1: float,
    *,
    args: tuple = (),
    solver: diffrax.AbstractSolver | None = None,
    rtol: float = 1e-8,
    atol: float = 1e-8,
    dt0: float | None = None,
    ts: Any = None,
    saveat: diffrax.SaveAt | None = None,
    max_steps: int = 16**4,
    throw: bool = False,
    adjoint: diffrax.AbstractAdjoint | None = None,
) -> ODESolution:
    r"""Solves $\dot x = b(x, *args)$ from $x(t_0) = x_0$ to $t_1$ with diffrax.

    - `field`: any field `b(x, *args)` returning a pytree like x = (θ, ω): `gf.vector_field(phi)`,
      a stabilised field, `gf.modified_field(b, eta, "simultaneous")` (Cao–Guo eq. 13) or
      `"alternating"` (eq. 10);
    - `solver`: any diffrax ODE solver (default `diffrax.Tsit5()`); adaptive solvers use a
      `PIDController(rtol, atol)`, others a constant step `dt0` (required then);
    - `ts`: save times in [t0, t1] (default: t0 and t1), or a full diffrax `saveat`;
    - `throw=False`: a failed solve is reported in `status`/`result` rather than raised;
    - `adjoint`: how `jax.grad` differentiates the solve (passed to diffrax; see below).

    **Derivatives.** The solve is differentiable with respect to `x0`, `args` and every array
    inside `field` (a game's or a stabiliser's parameters, a learning rate η of a modified
    field), e.g. `jax.grad(lambda g: f(solve_ode(make_field(g), x0, 0, T).xs))`. `adjoint`:
    - `None` (default): `diffrax.RecursiveCheckpointAdjoint()`, reverse mode through the
      solver's own steps with recursive checkpointing (the derivative of the computed
      solution, exact to rounding; memory O(log) of the number of steps' states, compute a
      few forward solves);
    - `diffrax.BacksolveAdjoint()`: the continuous adjoint equations solved backwards in time
      (memory O(1) in the steps; the derivative of the exact flow, approximated to the
      solver's tolerance). Arrays that `field` closes over are made inputs of the solve
      (`equinox.filter_closure_convert`), so they are differentiated too;
    - `diffrax.ForwardMode()`: forward mode only (`jax.jvp`, `jax.jacfwd`).

    **Example** (the Dirac-GAN orbit, θ² + ψ² conserved):

    ```python
    game = gf.DiracGAN("gan")
    sol = solve_ode(game.vector_field(population=True), game.make_state(1.0, 0.0), 0.0, 10.0,
                    ts=jnp.linspace(0, 10, 11))
    ```
    """
    check_state(x0, "x0")
    _check_times(t0, t1)
    check_int_at_least("max_steps", max_steps, 1)
    if not callable(field) or isinstance(field, Objective):
        raise ValueError("field must be a vector field b(x, *args); use gf.vector_field(phi)")
    solver = diffrax.Tsit5() if solver is None else solver
    adaptive = isinstance(solver, diffrax.AbstractAdaptiveSolver)
    if adaptive:
        check_positive("rtol", rtol)
        check_positive("atol", atol)
        controller = diffrax.PIDController(rtol=rtol, atol=atol)
    else:
        if dt0 is None:
            raise ValueError(f"{type(solver).__name__} is not adaptive: pass a step dt0")
        controller = diffrax.ConstantStepSize()
    if dt0 is not None:
        check_positive("dt0", dt0)
    if saveat is None:
        if ts is None:
            saveat = diffrax.SaveAt(t0=True, t1=True)
        else:
            saveat = diffrax.SaveAt(ts=_check_ts(ts, t0, t1))
    elif ts is not None:
        raise ValueError("pass either ts or saveat, not both")
    if adjoint is None:
        adjoint = diffrax.RecursiveCheckpointAdjoint()
    elif not isinstance(adjoint, diffrax.AbstractAdjoint):
        raise ValueError(
            "adjoint must be a diffrax adjoint (RecursiveCheckpointAdjoint, BacksolveAdjoint, "
            f"ForwardMode), got {type(adjoint).__name__}"
        )
    dtype = jnp.result_type(*jax.tree_util.tree_leaves(x0))
    return _solve_ode(
        field, x0, jnp.asarray(t0, dtype), jnp.asarray(t1, dtype), args, solver, controller,
        dt0, saveat, max_steps, throw, adjoint,
    )


@eqx.filter_jit
def _solve_ode(field, x0, t0, t1, args, solver, controller, dt0, saveat, max_steps, throw,
               adjoint):
    term, args = _field_term(field, args), tuple(args)
    if isinstance(adjoint, diffrax.BacksolveAdjoint):
        # the continuous adjoint differentiates the term's leaves, not what it closes over;
        # and it wants `args=None` rather than an empty tuple
        args = args or None
        vf = eqx.filter_closure_convert(
            lambda t, y, a: field(y, *(() if a is None else a)), t0, x0, args)
        term = diffrax.ODETerm(vf)
    sol = diffrax.diffeqsolve(
        term,
        solver,
        t0,
        t1,
        dt0,
        x0,
        args=args,
        saveat=saveat,
        stepsize_controller=controller,
        max_steps=max_steps,
        throw=throw,
        adjoint=adjoint,
    )
    status = _status_from_result(sol.result)
    bad, _ = _first_nonfinite(sol.ts, sol.ys, 0)
    status = jnp.where(bad, RESULTS.diverged, status)
    return ODESolution(sol.ts, sol.ys, status, sol.result, sol.stats["num_accepted_steps"])


def gradient_flow(
    game_or_phi: Any, x0: Any, t1: float, *, t0: float = 0.0, args: tuple = (), **kwargs: Any
) -> ODESolution:
    r"""The gradient flow $\dot x = b_0(x) = (-g_θ, g_ω)$ (docs/conventions.md §The vector
    field b0 and its Jacobian J) of a game (its exact
    population field when it has one) or of an objective Φ(θ, ω, *args); `kwargs` go to
    `solve_ode`."""
    if hasattr(game_or_phi, "vector_field") and hasattr(game_or_phi, "population"):
        field = game_or_phi.vector_field(population=game_or_phi.population() is not None)
    else:
        field = vector_field(game_or_phi)
    return solve_ode(field, x0, t0, t1, args=args, **kwargs)
