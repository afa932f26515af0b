r"""Symmetric Lanczos for the extreme eigenvalues of a symmetric operator given only by its
matrix-vector product (e.g. a Hessian-vector product), jit- and vmap-able; the matrix-free
counterpart for symmetric operators of the Arnoldi wrapper `operator_top_eigenvalues`. This one
runs a fixed number of steps without restarts (the two extremes of a small Krylov space); for
the top-k eigenvalues to a tolerance with restarts, `lanczos_eigs` (thick restart).

From a unit start vector $q_1$, Lanczos builds an orthonormal basis $q_1, …, q_k$ of the Krylov
space $K_k(A, q_1)$ in which A is the tridiagonal $T_k$ (diagonal $α_j = q_j^\top A q_j$,
off-diagonal $β_j = \|w_j\|$ with $w_j = A q_j - α_j q_j - β_{j-1} q_{j-1}$, here orthogonalised
against every earlier $q_i$ twice: full reorthogonalisation). The eigenvalues of $T_k$ (the Ritz
values) approximate A's, the extreme ones first (Golub & Van Loan, *Matrix Computations*, §10.1).
When $β_j = 0$ (a breakdown) the span of $q_1, …, q_j$ is A-invariant and the Ritz values of
$T_j$ are exactly eigenvalues of A: all its eigenvalues when the start vector has a component in
every eigenspace (a random start, almost surely).
"""

from collections.abc import Callable
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from .._checks import check_choice, check_int_at_least


class LanczosExtremes(NamedTuple):
    """What `lanczos_extremes` found."""

    eig_min: Float[Array, ""]
    """The smallest Ritz value (λ_min of A when exact)."""
    eig_max: Float[Array, ""]
    """The largest Ritz value (λ_max of A when exact)."""
    ritz_vector: Float[Array, " n"]
    """The unit Ritz vector of `eig_max`."""
    krylov_dim: Int[Array, ""]
    """The number of Lanczos vectors used: the dimension of the Krylov space found before a
    breakdown, or the number of iterations."""
    broke_down: Bool[Array, ""]
    """Whether a breakdown happened (β_j = 0 within `num_iter` steps): then the Ritz values are
    exact eigenvalues of A (its invariant subspace containing the start vector)."""


def lanczos_extremes(
    matvec: Callable[[Array], Array],
    v0: Float[Array, " n"],
    num_iter: int,
    *,
    tol: float = 1e-10,
    breakdown_scale: Literal["diagonal", "matvec"] = "diagonal",
) -> LanczosExtremes:
    r"""The extreme eigenvalues (and the top Ritz vector) of the symmetric operator $v ↦ A v$
    (`matvec`, flat vectors of `v0`'s size and dtype) by `num_iter` Lanczos steps with full
    reorthogonalisation from the start vector `v0` (normalised here).

    A fixed number of iterations, min(`num_iter`, n): jit- and vmap-able (`matvec` must be
    traceable). With `num_iter` ≥ n it is exact up to round-off. Step j counts as a breakdown
    when $β_j ≤$ `tol` · s with s = $|α_j| + 1$ (`breakdown_scale="diagonal"`) or
    s = max(1, the largest $\|A q_i\|$ and $|α_i|$ so far) (`"matvec"`, a scale-aware test
    for operators with large entries); after a breakdown the remaining steps are idle
    (zero vectors) and the Ritz values are those of the invariant subspace found.

    ```python
    hvp = lambda v: jax.jvp(jax.grad(loss), (w,), (v,))[1]
    res = lanczos_extremes(hvp, jax.random.normal(key, w.shape), 40)
    res.eig_max, res.ritz_vector
    ```

    Used by `player_hessian_eigenvalues` (a Hessian whose Krylov space is small) and the
    per-layer curvature check of Mounjid–Guo §3 (`LayerDescentMember`).
    """
    check_choice("breakdown_scale", breakdown_scale, ("diagonal", "matvec"))
    check_int_at_least("num_iter", num_iter, 1)
    n = v0.shape[0]
    k = int(min(num_iter, n))
    dtype = v0.dtype
    q = v0 / jnp.linalg.norm(v0)
    Q = jnp.zeros((k, n), dtype).at[0].set(q)

    def body(j, carry):
        Q, alpha, beta, scale = carry
        qj = Q[j]
        w = matvec(qj)
        a = jnp.dot(qj, w)
        if breakdown_scale == "matvec":
            scale = jnp.maximum(scale, jnp.maximum(jnp.linalg.norm(w), jnp.abs(a)))
        w = w - Q.T @ (Q @ w)  # full reorthogonalisation (twice is enough)
        w = w - Q.T @ (Q @ w)
        b = jnp.linalg.norm(w)
        if breakdown_scale == "matvec":
            ok = b > tol * jnp.maximum(scale, 1.0)
        else:
            ok = b > tol * (jnp.abs(a) + 1.0)
        nxt = jnp.where(ok, w / jnp.where(ok, b, 1.0), 0.0)
        Q = jnp.where(j + 1 < k, Q.at[jnp.minimum(j + 1, k - 1)].set(nxt), Q)
        alpha = alpha.at[j].set(a)
        beta = beta.at[j].set(jnp.where(ok, b, 0.0))
        return Q, alpha, beta, scale

    zero = jnp.zeros((k,), dtype)
    Q, alpha, beta, _ = jax.lax.fori_loop(0, k, body, (Q, zero, zero, jnp.zeros((), dtype)))
    # Ritz pairs from the tridiagonal T; after a breakdown (beta = 0) the later rows belong to
    # zero vectors: they get a diagonal entry above every Ritz value (a Gershgorin bound of T)
    # and the m = krylov_dim smallest eigenvalues of the padded T are the Ritz values
    valid = jnp.concatenate([jnp.ones((1,), bool), jnp.cumprod(beta[:-1] > 0).astype(bool)])
    m = jnp.sum(valid)
    T = jnp.diag(alpha) + jnp.diag(beta[:-1], 1) + jnp.diag(beta[:-1], -1)
    T = jnp.where(valid[:, None] & valid[None, :], T, 0.0)
    big = 2.0 * jnp.max(jnp.sum(jnp.abs(T), axis=1)) + 1.0
    T = T + jnp.diag(jnp.where(valid, 0.0, big))
    ev, vecs = jnp.linalg.eigh(T)
    top = m - 1
    q_max = Q.T @ vecs[:, top]
    return LanczosExtremes(ev[0], ev[top], q_max / jnp.linalg.norm(q_max), m,
                           jnp.any(beta == 0))


def has_positive_curvature(a_min: Array, a_max: Array, rtol: float = 1e-6) -> Array:
    """Whether a symmetric block's largest eigenvalue is positive beyond round-off:
    a_max > rtol · max(|a_min|, |a_max|). A block with a_max ≤ 0 has no step bound 2/a
    (Mounjid–Guo §3: gradient descent on (a/2)x² + bx diverges iff η > 2/a, for a > 0)."""
    return a_max > rtol * jnp.maximum(jnp.abs(a_min), jnp.abs(a_max))
