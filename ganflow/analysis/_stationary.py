r"""Stationary points of a game: a root find on the vector field, $b(x^*) = 0$.

A stationary point of gradient play is a zero of $b_0 = (-g_θ, g_ω)$ (docs/conventions.md §The
vector field b0 and its Jacobian J); it need not be a Nash equilibrium (classify it with
`classify_stationary_point`). The root find is optimistix's Newton, Dogleg or
Levenberg–Marquardt on the pytree x = (θ, ω) with the Jacobian J either dense (small games) or
matrix-free (JVPs only, GMRES / normal-equation CG inside). A failed search is a result, not an
exception: `success` is False and `message` says why.

**Derivatives of the stationary point.** $x^*(p)$ solves $b(x^*, p) = 0$, so by the implicit
function theorem $\partial x^*/\partial p = -J(x^*)^{-1} \partial_p b(x^*, p)$ with
$J = \partial_x b$. `find_stationary_point` is differentiable with respect to everything the
field depends on — the arrays inside `b` (a game's data mean and variance, a stabiliser's γ or
λ), the extra `args` — by exactly that formula (optimistix's `ImplicitAdjoint`): one linear
solve with $J^\top$ (reverse mode) or J (forward mode) at the returned point, never by
differentiating through the solver's iterations, so its cost and accuracy do not depend on how
many Newton steps were taken.
"""

from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import optimistix as optx
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Bool, Float, Int

from .._checks import check_choice, check_int_at_least, check_positive, check_state
from ._spectra import as_field

_SOLVERS = ("newton", "dogleg", "levenberg_marquardt")


class StationarySearch(eqx.Module):
    r"""The outcome of `find_stationary_point`.

    - `x`: the last iterate (the stationary point when `success`; x0 if the iterate became
      non-finite);
    - `success`: the solver reported success **and** $\|b(x)\|_2 ≤$ `tol`;
    - `field_norm`: $\|b(x)\|_2$ at the last iterate;
    - `num_steps`: solver steps taken;
    - `message`: "" on success, else the reason (optimistix's message, or the size of ‖b‖).
    """

    x: Any
    success: Bool[Array, ""]
    field_norm: Float[Array, ""]
    num_steps: Int[Array, ""]
    message: str = eqx.field(static=True)


def _make_solver(solver: Any, rtol: float, atol: float, jac: str) -> Any:
    if not isinstance(solver, str):
        return solver
    check_choice("solver", solver, _SOLVERS)
    if solver == "newton":
        lin = (
            lx.AutoLinearSolver(well_posed=None)
            if jac == "dense"
            else lx.GMRES(rtol=1e-12, atol=1e-14, restart=50)
        )
        return optx.Newton(rtol=rtol, atol=atol, linear_solver=lin)
    lin = lx.QR() if jac == "dense" else lx.Normal(lx.CG(rtol=1e-12, atol=1e-14))
    if solver == "dogleg":
        return optx.Dogleg(rtol=rtol, atol=atol, linear_solver=lin)
    return optx.LevenbergMarquardt(rtol=rtol, atol=atol, linear_solver=lin)


def _implicit_adjoint(jac: str) -> optx.ImplicitAdjoint:
    """The implicit-function-theorem adjoint, its linear solve with J (or Jᵀ) dense or
    matrix-free like the search's."""
    lin = (
        lx.AutoLinearSolver(well_posed=None)
        if jac == "dense"
        else lx.GMRES(rtol=1e-12, atol=1e-14, restart=50)
    )
    return optx.ImplicitAdjoint(linear_solver=lin)


@eqx.filter_jit
def _solve(b, x0, args, solver, max_steps, adjoint):
    def fn(y, a):
        return b(y, *a)

    sol = optx.root_find(fn, solver, x0, args, max_steps=max_steps, throw=False,
                         adjoint=adjoint)
    norm = jnp.linalg.norm(ravel_pytree(b(sol.value, *args))[0])
    return sol.value, sol.result, norm, sol.stats["num_steps"]


def find_stationary_point(
    b: Any,
    x0: Any,
    *args: Any,
    solver: Literal["newton", "dogleg", "levenberg_marquardt"] | Any = "newton",
    jac: Literal["dense", "matrix-free"] = "dense",
    rtol: float = 1e-10,
    atol: float = 1e-12,
    tol: float = 1e-8,
    max_steps: int = 100,
) -> StationarySearch:
    r"""A zero of the field `b(x, *args)` (an `Objective` means its $b_0$) near `x0`.

    `solver`: "newton" (optimistix `Newton`), "dogleg" or "levenberg_marquardt" (least squares on
    $\tfrac12\|b\|^2$, robust far from the root), or any optimistix root finder / least-squares
    solver. `jac="dense"` lets lineax materialise J (small games); `jac="matrix-free"` solves
    the Newton systems with GMRES (Newton) or CG on the normal equations (Dogleg, LM), each
    iteration one JVP (or VJP) of b. `rtol`, `atol` are the solver's step tolerances; success also
    needs $\|b(x)\|_2 ≤$ `tol`. Never raises for a failed search.

    **Derivatives** (module doc): `jax.grad`/`jax.jacfwd` of the returned `x` with respect to
    the arrays in `b` and `args` is $-J(x)^{-1}\,\partial_p b(x)$ at the returned x (the
    implicit function theorem, optimistix's `ImplicitAdjoint`; cost: one extra linear solve
    with J, dense or matrix-free as `jac`). Under a JAX transformation (`jit`, `grad`, `vmap`)
    `success` and `field_norm` are arrays as usual but `message` cannot be computed: it then
    says so.

    **Example**

    ```python
    b = lambda x: ((x[0] - 1.0) ** 3 + x[1], x[0] - x[1] - 1.0)
    find_stationary_point(b, (0.5, 0.3)).x    # ≈ (1, 0)
    ```
    """
    check_choice("jac", jac, ("dense", "matrix-free"))
    check_positive("rtol", rtol)
    check_positive("atol", atol)
    check_positive("tol", tol)
    max_steps = check_int_at_least("max_steps", max_steps, 1)
    b = as_field(b)
    x0 = jax.tree_util.tree_map(
        lambda a: jnp.asarray(a, dtype=jnp.result_type(float)) if isinstance(a, float) else a, x0
    )
    check_state(x0, "x0")
    solver = _make_solver(solver, rtol, atol, jac)
    x, result, norm, steps = _solve(b, x0, tuple(args), solver, max_steps, _implicit_adjoint(jac))
    if any(isinstance(a, jax.core.Tracer) for a in jax.tree_util.tree_leaves((x, norm))):
        return _traced_search(b, x0, args, x, result, norm, steps, tol)
    finite = bool(jnp.all(jnp.isfinite(ravel_pytree(x)[0])))
    if not finite:  # e.g. Newton with a singular J: keep a usable point
        x, norm = x0, jnp.linalg.norm(ravel_pytree(b(x0, *args))[0])
    solver_ok = bool(result == optx.RESULTS.successful) and finite
    norm_ok = bool(jnp.isfinite(norm) & (norm <= tol))
    if solver_ok and norm_ok:
        message = ""
    elif not solver_ok:
        message = optx.RESULTS[result] or "the solver failed"
        if not finite:
            message += "\n(the iterate became non-finite; x is the starting point x0)"
    else:
        message = f"the solver stopped at a point with ||b(x)|| = {float(norm):.3e} > tol = {tol:g}"
    success = jnp.asarray(solver_ok and norm_ok)
    return StationarySearch(x, success, norm, jnp.asarray(steps), message)


def _traced_search(b, x0, args, x, result, norm, steps, tol) -> StationarySearch:
    """`find_stationary_point`'s outcome as arrays (inside jit/grad/vmap): the same rules, with
    `where` instead of Python branches."""
    finite = jnp.all(jnp.isfinite(ravel_pytree(x)[0]))
    x = jax.tree_util.tree_map(lambda a, a0: jnp.where(finite, a, a0), x, x0)
    norm = jnp.where(finite, norm, jnp.linalg.norm(ravel_pytree(b(x0, *args))[0]))
    success = (result == optx.RESULTS.successful) & finite & jnp.isfinite(norm) & (norm <= tol)
    message = "unknown under a JAX transformation: see success and field_norm"
    return StationarySearch(x, success, norm, jnp.asarray(steps), message)
