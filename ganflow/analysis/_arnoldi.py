r"""Top eigenvalues of a real linear operator inside JAX: a Krylov–Schur restarted Arnoldi method
(nonsymmetric operators, e.g. the game Jacobian J from JVPs) and its symmetric specialisation, a
thick-restart Lanczos method (e.g. a player's Hessian from HVPs); jittable, vmappable across
seeds, fixed shapes.

**Algorithm** (Stewart 2001, "A Krylov–Schur algorithm for large eigenproblems", SIAM J. Matrix
Anal. Appl. 23(3); for symmetric A it is the thick restart of Wu & Simon 2000). With `ncv` = m,
a Krylov decomposition

$$A V_p = V_p S_p + v_{p+1} b_p^\top, \qquad V_{p+1}^\top V_{p+1} = I,$$

is extended to size m by Arnoldi steps (each one product $A v_j$ and a classical Gram–Schmidt
orthogonalisation against all earlier vectors, done twice). The eigenpairs $(θ_i, y_i)$ of the
m × m matrix $S_m$ are the Ritz pairs; the residual of the Ritz vector $V_m y_i$ is exactly
$\|A V_m y_i - θ_i V_m y_i\| = |b_m^\top y_i|$, and a Ritz value counts as converged when this is
≤ `tol` · max(|θ_i|, ε^{2/3}) (ARPACK's rule, Lehoucq, Sorensen & Yang 1998, *ARPACK Users'
Guide*, §4.6). If the k wanted ones (best first for `which`) have not all converged, the
decomposition is truncated to the real invariant subspace of $S_m$ spanned by the p best Ritz
vectors (a complex pair is never split: p grows by one instead; orthonormal basis Q by a QR
factorisation of the real and imaginary parts of the Ritz vectors): $V_p ← V_m Q$,
$S_p ← Q^\top S_m Q$, $b_p ← Q^\top b_m$, which keeps the decomposition above exact, and the
next sweep extends it again. This is the same filter as ARPACK's implicit restart with exact
shifts (Lehoucq & Sorensen 1996, "Deflation techniques for an implicitly restarted Arnoldi
iteration"), written with an eigendecomposition of the small matrix, which is all JAX offers on
every backend, instead of a reordered real Schur form. p = (m + c)/2 vectors are kept, with c
the converged wanted ones (SLEPc's default), between k + 1 and m − 2. A breakdown ($b = 0$: an
invariant subspace was found) continues with a fixed pseudo-random unit vector orthogonal to the
basis, as ARPACK's `dgetv0` does with a random one.

**Cost.** Per restart m − p products $A v$ and $O(m^2 n)$ flops of orthogonalisation, plus an
$O(m^3)$ eigendecomposition; memory (m + 1) n for the basis. Every loop has a fixed shape
(`lax.while_loop` over restarts, `lax.fori_loop` over Arnoldi steps), so the solver compiles
once, runs under `jax.jit`, and `jax.vmap` over start vectors or operator parameters (seeds)
runs all members together until the last one has converged.
"""

from collections.abc import Callable
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Complex, Float, Int

from .._checks import check_choice, check_int_at_least, check_positive

ArnoldiWhich = Literal["LM", "LR", "SR"]
_WHICH = ("LM", "LR", "SR")


class ArnoldiEigs(NamedTuple):
    """What `arnoldi_eigs` and `lanczos_eigs` found (arrays; a leading batch axis under vmap)."""

    eigenvalues: Complex[Array, " k"]
    """The k best Ritz values for `which`, best first; a conjugate pair has the positive
    imaginary part first."""
    eigenvectors: Complex[Array, "n k"]
    """The unit Ritz vectors $V_m y_i$ (real part and imaginary part in the operator's flat
    order)."""
    residuals: Float[Array, " k"]
    """The residual norms $\\|A x_i - θ_i x_i\\| = |b_m^\\top y_i|$ of the Krylov–Schur
    decomposition (exact up to round-off of the orthogonalisation)."""
    num_matvecs: Int[Array, ""]
    """Products $A v$ used."""
    num_restarts: Int[Array, ""]
    """Restarts done (0: the first m-dimensional Krylov space sufficed)."""
    converged: Bool[Array, ""]
    """Whether all k wanted Ritz values met the tolerance within `max_restarts`."""


def _criterion(vals: Array, which: str) -> Array:
    """A key that sorts the best eigenvalue for `which` first (ascending)."""
    if which == "LM":
        return -jnp.abs(vals)
    if which == "LR":
        return -vals.real
    return vals.real


def _sort(vals: Array, which: str) -> Array:
    """Indices ordering `vals` best first for `which`; the two members of a conjugate pair tie
    on the criterion (rounded relative to the spectrum's scale) and are put positive imaginary
    part first, so that a pair is always adjacent."""
    crit = _criterion(vals, which)
    scale = jnp.maximum(jnp.max(jnp.abs(vals)), 1.0)
    crit = jnp.round(crit / scale, 11)
    return jnp.lexsort((-vals.imag, crit))


def _ritz(S: Array, symmetric: bool) -> tuple[Array, Array]:
    """Eigenpairs (complex) of the small matrix S, unit-norm eigenvectors in columns."""
    if symmetric:
        vals, vecs = jnp.linalg.eigh(0.5 * (S + S.T))
        ctype = jnp.result_type(vals.dtype, jnp.complex64)
        return vals.astype(ctype), vecs.astype(ctype)
    vals, vecs = jnp.linalg.eig(S)
    return vals, vecs / jnp.linalg.norm(vecs, axis=0, keepdims=True)


def _krylov_schur(
    matvec: Callable[[Array], Array],
    v0: Array,
    k: int,
    which: str,
    ncv: int,
    tol: float,
    max_restarts: int,
    symmetric: bool,
) -> ArnoldiEigs:
    n = v0.shape[0]
    m = ncv
    dtype = v0.dtype
    eps = float(jnp.finfo(dtype).eps)
    eps23 = eps ** (2.0 / 3.0)
    rows = jnp.arange(m + 1)

    def arnoldi_step(j, carry):
        V, S, nmv, restart = carry
        w = matvec(V[j])
        wnorm = jnp.linalg.norm(w)
        h = V @ w  # rows beyond j are zero vectors
        w = w - V.T @ h
        h2 = V @ w
        w = w - V.T @ h2
        h = h + h2
        beta = jnp.linalg.norm(w)
        broke = beta <= 100.0 * eps * jnp.maximum(wnorm, jnp.finfo(dtype).tiny)
        # a breakdown: an invariant subspace was found; continue with a fixed pseudo-random
        # unit vector orthogonal to the basis (its coefficient in S is 0: the decomposition
        # stays exact)
        r = jnp.sin((j + 1.0 + m * restart) * (1.0 + jnp.arange(n, dtype=dtype)) * 0.7548776662)
        r = r - V.T @ (V @ r)
        r = r - V.T @ (V @ r)
        nxt = jnp.where(broke, r, w)
        nxt = nxt / jnp.maximum(jnp.linalg.norm(nxt), jnp.finfo(dtype).tiny)
        V = V.at[j + 1].set(nxt)
        col = h + jnp.where(rows == j + 1, jnp.where(broke, 0.0, beta), 0.0)
        S = S.at[:, j].set(col)
        return V, S, nmv + 1, restart

    def ritz_state(S):
        H, b = S[:m, :m], S[m, :m]
        vals, Y = _ritz(H, symmetric)
        order = _sort(vals, which)
        vals, Y = vals[order], Y[:, order]
        res = jnp.abs(b @ Y)
        ok = res <= tol * jnp.maximum(jnp.abs(vals), eps23)
        return H, b, vals, Y, res, ok

    def cond(state):
        return ~state[5]

    def body(state):
        V, S, p, nmv, it, _, _ = state
        V, S, nmv, _ = jax.lax.fori_loop(p, m, arnoldi_step, (V, S, nmv, it))
        H, b, vals, Y, res, ok = ritz_state(S)
        nconv = jnp.sum(jnp.cumprod(ok[:k]))
        done = (nconv >= k) | (it >= max_restarts)
        # restart: keep the real invariant subspace of the p best Ritz vectors
        p_new = jnp.clip((m + nconv) // 2, k + 1, max(m - 2, 1)).astype(jnp.int32)
        split = (vals[p_new - 1].imag > 0) & (p_new < m - 1)  # the pair's partner comes next
        p_new = p_new + split.astype(jnp.int32)
        C = jnp.where(vals.imag[None, :] >= 0, Y.real, Y.imag)
        Q, _ = jnp.linalg.qr(C)
        Q = jnp.where(jnp.arange(m)[None, :] < p_new, Q, 0.0)
        V_new = jnp.zeros_like(V).at[:m].set(Q.T @ V[:m])
        V_new = V_new.at[p_new].set(V[m])
        S_new = jnp.zeros_like(S).at[:m, :m].set(Q.T @ H @ Q)
        S_new = S_new.at[p_new, :m].set(b @ Q)
        V = jnp.where(done, V, V_new)
        S = jnp.where(done, S, S_new)
        p = jnp.where(done, p, p_new)
        ritz = (vals[:k], V[:m].T.astype(Y.dtype) @ Y[:, :k], res[:k], jnp.all(ok[:k]))
        return V, S, p, nmv, it + (~done).astype(jnp.int32), done, ritz

    V = jnp.zeros((m + 1, n), dtype).at[0].set(v0 / jnp.linalg.norm(v0))
    S = jnp.zeros((m + 1, m), dtype)
    zero = jnp.zeros((), jnp.int32)
    ctype = jnp.result_type(dtype, jnp.complex64)
    ritz = (jnp.zeros((k,), ctype), jnp.zeros((n, k), ctype), jnp.zeros((k,), dtype),
            jnp.zeros((), bool))
    state = (V, S, zero, zero, zero, jnp.zeros((), bool), ritz)
    *_, nmv, it, _, (vals, X, res, converged) = jax.lax.while_loop(cond, body, state)
    X = X / jnp.linalg.norm(X, axis=0, keepdims=True)
    return ArnoldiEigs(vals, X, res, nmv, it, converged)


def _check(k: int, n: int, which: str, ncv: int | None, tol: float,
           max_restarts: int) -> int:
    k = check_int_at_least("k", k, 1)
    check_choice("which", which, _WHICH)
    check_positive("tol", tol)
    check_int_at_least("max_restarts", max_restarts, 0)
    if k + 1 > n:
        raise ValueError(f"need k < n (the operator's size); got k={k}, n={n}")
    if ncv is None:
        ncv = min(n, max(2 * k + 1, 20))
    ncv = check_int_at_least("ncv", ncv, 1)
    if ncv > n:
        raise ValueError(f"ncv must be <= n (the operator's size); got ncv={ncv}, n={n}")
    if ncv < k + 3 and ncv < n:
        raise ValueError(f"ncv must be >= k + 3 (or = n); got ncv={ncv}, k={k}")
    return ncv


def arnoldi_eigs(
    matvec: Callable[[Float[Array, " n"]], Float[Array, " n"]],
    v0: Float[Array, " n"],
    k: int = 6,
    which: ArnoldiWhich = "LM",
    *,
    ncv: int | None = None,
    tol: float = 1e-12,
    max_restarts: int = 300,
) -> ArnoldiEigs:
    r"""The k eigenvalues of a real nonsymmetric operator $v ↦ A v$ (`matvec`, flat vectors of
    `v0`'s size and dtype) best for `which`, by the Krylov–Schur restarted Arnoldi method in JAX
    (module docstring: Stewart 2001), from the start vector `v0`.

    - `which`: "LM" largest modulus, "LR" largest real part, "SR" smallest real part (the
      choices of ARPACK's `eigs`, which stays the reference: `top_eigenvalues(...,
      method="arnoldi")`);
    - `ncv`: the Krylov space's size m (default min(n, max(2k + 1, 20)), ARPACK's default;
      needs k + 3 ≤ m ≤ n, or m = n);
    - `tol`: relative tolerance on the residual $\|A x - θ x\| ≤$ tol · |θ| (default 1e-12);
    - `max_restarts`: restarts before giving up (default 300; then `converged` is False).

    `matvec` must be traceable. Jittable and vmappable: `jax.vmap` over `v0` (or over
    parameters of `matvec`) solves every member in one call. A result is not differentiable
    through the iteration; for derivatives of an eigenvalue use `jacobian_abscissa` or
    `map_spectral_radius` (first-order perturbation theory on the returned pairs).

    ```python
    mv = lambda u: jax.jvp(lambda z: b(unravel(z), batch), (flat,), (u,))[1]  # u ↦ J u
    res = jax.jit(lambda v: arnoldi_eigs(mv, v, k=10, which="LR"))(v0)
    res.eigenvalues, res.residuals
    ```
    """
    ncv = _check(k, v0.shape[0], which, ncv, tol, max_restarts)
    return _krylov_schur(matvec, v0, k, which, ncv, tol, max_restarts, symmetric=False)


def lanczos_eigs(
    matvec: Callable[[Float[Array, " n"]], Float[Array, " n"]],
    v0: Float[Array, " n"],
    k: int = 6,
    which: ArnoldiWhich = "LM",
    *,
    ncv: int | None = None,
    tol: float = 1e-12,
    max_restarts: int = 300,
) -> ArnoldiEigs:
    r"""The k eigenvalues of a real symmetric operator $v ↦ A v$ (e.g. a player's Hessian by
    Hessian-vector products) best for `which` ("LM" largest modulus, "LR" largest, "SR"
    smallest), by the thick-restart Lanczos method (Wu & Simon 2000: Krylov–Schur on a symmetric
    operator, where the Rayleigh quotient $S_m$ is symmetric and its eigendecomposition real;
    full reorthogonalisation). Arguments and result as `arnoldi_eigs` (real eigenvalues returned
    as complex with zero imaginary part); jittable and vmappable. For the two extremes of a
    small Krylov space without restarts, `lanczos_extremes`.

    ```python
    hvp = lambda v: ravel_pytree(ganflow.dynamics.hvp_omega(obj, x, unravel(v), batch))[0]
    lanczos_eigs(hvp, v0, k=1, which="LR").eigenvalues[0]   # λ_max of ∇²_ωω Φ
    ```
    """
    ncv = _check(k, v0.shape[0], which, ncv, tol, max_restarts)
    return _krylov_schur(matvec, v0, k, which, ncv, tol, max_restarts, symmetric=True)


def start_vector(dim: int, seed: int = 0) -> np.ndarray:
    """The start vector of every Krylov solver in ganflow: `dim` standard normal numbers from
    NumPy's `default_rng(seed)` (float64), so that ARPACK and the JAX solvers start alike and a
    rerun gives bitwise the same answer."""
    return np.random.default_rng(seed).standard_normal(dim)


def restart_rng(seed: int = 0) -> np.random.Generator:
    """The generator of the random vectors that ARPACK (SciPy's `eigs`/`eigsh`, argument `rng`)
    draws during an iteration: `default_rng([seed, 1])`, a stream apart from `start_vector`'s.
    Without it SciPy seeds them from OS entropy and a rerun differs in the last bits."""
    return np.random.default_rng([seed, 1])
