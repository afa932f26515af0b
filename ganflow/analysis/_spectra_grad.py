r"""Differentiable spectra: the spectral abscissa of the game Jacobian J and the spectral radius of
an update operator F′, as JAX functions of the state, the field's arguments and any
hyper-parameter traced inside the field or the map (γ of consensus, the step η, …).

**First-order perturbation theory.** For a simple eigenvalue λ of A with right eigenvector v
($A v = λ v$) and left eigenvector u ($u^H A = λ u^H$),

$$dλ = \frac{u^H\,dA\,v}{u^H v}$$

(Wilkinson 1965, *The Algebraic Eigenvalue Problem*, §2.8; Golub & Van Loan, *Matrix
Computations*, §7.2.2). With $w = \bar u$ (an eigenvector of $A^\top$ for the same λ) this is
$w^\top dA\, v / w^\top v$, a bilinear form, so no conjugation is needed. Then
$d\,\mathrm{Re}\,λ = \mathrm{Re}\,dλ$ and $d|λ| = \mathrm{Re}(\bar λ\, dλ)/|λ|$.

- **Dense** (small games): A is formed by `jax.jacfwd`, and `extreme_eigenvalue` has a custom
  JVP with the formula above, left eigenvectors from the rows of $V^{-1}$.
- **Matrix-free** (networks): the pair (λ, v) comes from the Krylov–Schur Arnoldi method on
  $u ↦ A u$ (JVPs) and w from the same method on $u ↦ A^\top u$ (VJPs) (`arnoldi_eigs`); the
  result is $λ + (w^\top A v - [w^\top A v]_0)/(w^\top v)$ with the eigenvectors and the
  subtracted term held constant (`stop_gradient`), so that its derivative with respect to
  anything A depends on is $w^\top dA\,v / w^\top v$, one more JVP (or VJP) of the field.

Derivatives are first order only (the eigenvectors' own derivatives are not propagated), and the
extreme eigenvalue must be simple: at a crossing of two eigenvalues for the maximum the function
is not differentiable and the one-sided derivative returned is that of the eigenvalue the solver
picked. A conjugate pair is no such crossing: both members have the same real part and modulus.
"""

from collections.abc import Callable
from functools import partial
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Complex, Float

from .._checks import check_choice, check_int_at_least, check_state
from ._arnoldi import _check, _krylov_schur, _sort
from ._spectra import as_field


def _pick(vals: Array, which: str) -> Array:
    """The index of the best eigenvalue for `which` (a pair: positive imaginary part)."""
    return _sort(vals, which)[0]


@partial(jax.custom_jvp, nondiff_argnums=(1,))
def extreme_eigenvalue(
    matrix: Float[Array, "n n"], which: Literal["LM", "LR", "SR"] = "LR"
) -> Complex[Array, ""]:
    r"""The eigenvalue of a real square `matrix` that is best for `which` ("LR": largest real
    part, "LM": largest modulus, "SR": smallest real part; of a conjugate pair, the one with
    positive imaginary part), by `jnp.linalg.eig`, with a custom JVP
    $dλ = u^H\,dA\,v / u^H v$ (module docstring): differentiable in forward and reverse mode,
    jittable and vmappable. The eigenvalue must be simple.

    ```python
    a = lambda t: jnp.array([[t, 1.0], [-1.0, -t ** 2]])
    jax.grad(lambda t: extreme_eigenvalue(a(t)).real)(0.3)
    ```
    """
    vals = jnp.linalg.eig(matrix)[0]
    return vals[_pick(vals, which)]


@extreme_eigenvalue.defjvp
def _extreme_eigenvalue_jvp(which, primals, tangents):
    (a,), (da,) = primals, tangents
    vals, vecs = jnp.linalg.eig(a)
    i = _pick(vals, which)
    v = vecs[:, i]
    # the left eigenvector: row i of V^{-1} (so that u^H v = 1 already)
    e = jnp.zeros(vals.shape, vals.dtype).at[i].set(1.0)
    uh = jnp.linalg.solve(vecs.T, e)
    dlam = uh @ (da.astype(vals.dtype) @ v)
    return vals[i], dlam


def _flat_map(f: Callable[..., Any], x: Any, args: tuple) -> tuple[Callable, Array]:
    """(g, flat x): g(flat y) = flat f(y, *args), the map on ganflow's flat order."""
    flat, unravel = ravel_pytree(x)

    def g(y):
        return ravel_pytree(f(unravel(y), *args))[0]

    return g, flat


def _stop(tree: Any) -> Any:
    """`stop_gradient` on the inexact arrays of a pytree (functions and other leaves kept)."""
    dyn, static = eqx.partition(tree, eqx.is_inexact_array)
    return eqx.combine(jax.lax.stop_gradient(dyn), static)


def _matrix_free_eigenvalue(f, x, args, which, k, ncv, tol, max_restarts, v0) -> Array:
    """The best eigenvalue for `which` of ∂f/∂x (f maps the state to a state of the same
    structure), differentiable to first order with respect to x, args and whatever f traces."""
    g, flat = _flat_map(f, x, args)
    n = flat.shape[0]
    ncv = _check(k, n, which, ncv, tol, max_restarts)
    v0 = jnp.ones((n,), flat.dtype) if v0 is None else jnp.asarray(v0, flat.dtype)
    # the solvers see constants only: no derivative flows through their iterations
    g0, x0 = _flat_map(_stop(f), _stop(x), _stop(args))
    _, jvp_lin = jax.linearize(g0, x0)
    _, vjp_fn = jax.vjp(g0, x0)

    def mv(u):
        return jax.lax.stop_gradient(jvp_lin(u))

    def mvt(u):
        return jax.lax.stop_gradient(vjp_fn(u)[0])

    right = _krylov_schur(mv, v0, k, which, ncv, tol, max_restarts, symmetric=False)
    left = _krylov_schur(mvt, v0, k, which, ncv, tol, max_restarts, symmetric=False)
    lam = right.eigenvalues[0]
    v = right.eigenvectors[:, 0]
    w = left.eigenvectors[:, jnp.argmin(jnp.abs(left.eigenvalues - lam))]
    lam, v, w = jax.lax.stop_gradient((lam, v, w))

    # w^T A v with A = ∂g/∂x at the traced point: J(Re v) + i J(Im v), two JVPs
    def av(vec):
        return jax.jvp(g, (flat,), (vec,))[1]

    num = w @ (av(v.real).astype(w.dtype) + 1j * av(v.imag).astype(w.dtype))
    dlam = num / (w @ v)
    return lam + (dlam - jax.lax.stop_gradient(dlam))


def _dense_eigenvalue(f, x, args, which) -> Array:
    g, flat = _flat_map(f, x, args)
    return extreme_eigenvalue(jax.jacfwd(g)(flat), which)


def jacobian_abscissa(
    b: Any,
    x: Any,
    *args: Any,
    method: Literal["dense", "arnoldi"] = "dense",
    k: int = 6,
    ncv: int | None = None,
    tol: float = 1e-12,
    max_restarts: int = 300,
    v0: Array | None = None,
) -> Float[Array, ""]:
    r"""The spectral abscissa $α(J) = \max_i \mathrm{Re}\,λ_i(J(x))$ of the game Jacobian
    $J = ∂b/∂x$ of a field `b(x, *args)` (b0, a stabilised field; an `Objective` means its b0)
    as a JAX function: jittable, vmappable, and differentiable (first order, `jax.grad` or
    `jax.jvp`) with respect to x, `args` and every hyper-parameter that b traces, e.g.
    `stabilise(game, Consensus(gamma))` with a traced γ. α < 0 iff J is Hurwitz (local
    stability of the flow, Mescheder 2017); its derivative is $\mathrm{Re}(u^H dJ\,v)/u^H v$
    (module docstring).

    - `method="dense"` (default): J by `jax.jacfwd` (d JVPs), `extreme_eigenvalue`; small games.
    - `method="arnoldi"`: matrix-free, Krylov–Schur Arnoldi on JVPs (right eigenvector) and on
      VJPs (left eigenvector) with `k` wanted Ritz values (default 6; more than one helps the
      restart converge to the rightmost), `ncv`, `tol`, `max_restarts` as `arnoldi_eigs`, start
      vector `v0` (default all ones; pass e.g. `start_vector(d, seed)`).

    ```python
    game = ganflow.DiracGAN("gan")
    alpha = lambda g: jacobian_abscissa(stabilise(game, Consensus(g), population=True),
                                        game.equilibrium())
    jax.grad(alpha)(0.5)     # −f′(0)² = −0.25: α = −γ f′(0)²
    ```
    """
    check_choice("method", method, ("dense", "arnoldi"))
    check_int_at_least("k", k, 1)
    check_state(x)
    b = as_field(b)
    if method == "dense":
        return _dense_eigenvalue(b, x, args, "LR").real
    return _matrix_free_eigenvalue(b, x, args, "LR", k, ncv, tol, max_restarts, v0).real


def map_spectral_radius(
    update: Callable[..., Any],
    x: Any,
    *args: Any,
    method: Literal["dense", "arnoldi"] = "dense",
    k: int = 6,
    ncv: int | None = None,
    tol: float = 1e-12,
    max_restarts: int = 300,
    v0: Array | None = None,
) -> Float[Array, ""]:
    r"""The spectral radius $ρ(F'(x)) = \max_i |λ_i(∂F/∂x)|$ of an update map
    `update(x, *args) -> x⁺` (a state of the same structure: one step of a training scheme,
    e.g. $F(x) = x + η\,b(x)$ of simultaneous GD with a traced η), as a JAX function:
    jittable, vmappable, and differentiable (first order) with respect to x, `args` and every
    hyper-parameter that `update` traces. ρ < 1 at a fixed point is local convergence of the
    iteration (Mescheder 2017); the derivative is $\mathrm{Re}(\bar λ\,u^H dF'\,v)/(|λ|\,u^H v)$
    (module docstring). Arguments as `jacobian_abscissa` (largest modulus instead of largest
    real part).

    ```python
    b = lambda g: stabilise(game, Consensus(g), population=True)
    rho = lambda eta, g: map_spectral_radius(lambda x: jax.tree.map(
        lambda p, q: p + eta * q, x, b(g)(x)), game.equilibrium())
    jax.grad(rho, argnums=(0, 1))(0.5, 1.0)
    ```
    """
    check_choice("method", method, ("dense", "arnoldi"))
    check_int_at_least("k", k, 1)
    check_state(x)
    if not callable(update):
        raise ValueError(f"expected an update map F(x, *args), got {type(update).__name__}")
    if method == "dense":
        return jnp.abs(_dense_eigenvalue(update, x, args, "LM"))
    return jnp.abs(_matrix_free_eigenvalue(update, x, args, "LM", k, ncv, tol, max_restarts, v0))
