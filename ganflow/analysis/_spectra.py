r"""The top eigenvalues of the game Jacobian $J = ∂b/∂x$, densely or from JVPs alone.

For a small game ($d$ ≤ `dense_threshold`) the dense Jacobian is built column by column
(`ganflow.jacobian`) and its full spectrum computed (`jnp.linalg.eigvals`). For a large game J is
never formed: an implicitly restarted Arnoldi method (ARPACK, through
`scipy.sparse.linalg.eigs`; SciPy is a dependency of JAX itself) is driven by a jitted
matrix–vector product $u ↦ J u$, one `jax.jvp` of the field (docs/conventions.md §The vector
field b0 and its Jacobian J, "Matrix-free derivatives"), compiled once, so each product costs one
JVP and the memory is O(d).

**Largest real part.** A Krylov space is invariant under shifts, $K_m(J + sI, v) = K_m(J, v)$, so
the shift-and-scale map $λ ↦ 1 + λ/s$ of the brief gives nothing that the restart rule does not:
ARPACK's implicit restarts with exact shifts (`which="LR"`) keep the Ritz values of largest real
part and filter the others out. The ordering by $|1 + λ/s|$ agrees with the ordering by
$\mathrm{Re}\,λ$ only in the limit $s → ∞$ (where $|1 + λ/s| = 1 + \mathrm{Re}\,λ/s + O(s^{-2})$),
and then all moduli cluster at 1, which slows Arnoldi down; we therefore use the exact-shift
filter on J itself and report residuals $\|J v - λ v\|$ so that every answer can be checked.

**Example**

```python
import ganflow as gf
game = gf.DiracGAN("gan")
spec = gf.analysis.top_eigenvalues(game.vector_field(population=True), game.equilibrium(), k=2)
spec.eigenvalues    # ±0.5i: ±f′(0) i (Mescheder 2018)
```
"""

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float

from .._checks import check_choice, check_int_at_least, check_positive, check_state
from ..dynamics import Objective, jacobian, vector_field
from ._arnoldi import ArnoldiEigs, ArnoldiWhich, arnoldi_eigs, restart_rng, start_vector

Which = Literal["LM", "LR", "SR"]
_WHICH = ("LM", "LR", "SR")


def as_field(b: Any) -> Callable[..., Any]:
    """A field callable `b(x, *args)`; an `Objective` is turned into its field b0."""
    if isinstance(b, Objective):
        return vector_field(b)
    if not callable(b):
        raise ValueError(f"expected a vector field b(x, *args), got {type(b).__name__}")
    return b


def sort_eigenvalues(eigs: Any, which: str = "LR") -> np.ndarray:
    """Eigenvalues sorted best first for `which` ("LM": largest modulus, "LR": largest real part,
    "SR": smallest real part); ties (a conjugate pair) put the positive imaginary part first."""
    check_choice("which", which, _WHICH)
    eigs = np.asarray(eigs).astype(np.complex128)
    crit = {"LM": -np.abs(eigs), "LR": -eigs.real, "SR": eigs.real}[which]
    # Round the criterion so that the two members of a conjugate pair tie exactly.
    scale = max(1.0, float(np.max(np.abs(eigs)))) if eigs.size else 1.0
    crit = np.round(crit / scale, 11)
    order = np.lexsort((-eigs.imag, crit))
    return eigs[order]


class Spectrum(NamedTuple):
    r"""Top eigenvalues of a linear operator, best first for `which`.

    - `eigenvalues`: (k,) complex;
    - `eigenvectors`: (d, k) complex, unit norm, in ganflow's flat order (θ first), or None;
    - `residuals`: (k,) $\|J v - λ v\|$ per pair (None on the dense path without vectors);
    - `num_matvecs`: products $J u$ used (0 for the dense path, which uses d JVPs for J);
    - `method`: "dense", "arnoldi" (ARPACK) or "krylov-schur" (JAX); `converged`: False if
      Arnoldi stopped early (ARPACK then returns only the converged pairs, Krylov–Schur its
      best Ritz pairs).
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray | None
    residuals: np.ndarray | None
    num_matvecs: int
    method: str
    converged: bool


class _CountedOperator:
    """A flat matvec u ↦ A u on NumPy vectors (for ARPACK), counting its calls."""

    def __init__(self, apply: Callable[[Array], Array], dtype: Any):
        self.apply, self.dtype, self.count = apply, dtype, 0

    def __call__(self, u: np.ndarray) -> np.ndarray:
        self.count += 1
        return np.asarray(self.apply(jnp.asarray(np.ravel(u), dtype=self.dtype)))


@eqx.filter_jit
def _jvp_flat(b, x, args, v):
    _, unravel = ravel_pytree(x)
    return ravel_pytree(jax.jvp(lambda z: b(z, *args), (x,), (unravel(v),))[1])[0]


def jacobian_operator(b: Any, x: Any, *args: Any) -> Callable[[Array], Array]:
    r"""The flat matrix-free map $u ↦ J(x) u$ (ganflow's flat order): one jitted `jax.jvp` of b
    per call (compiled once per field, shapes and dtypes; cached across calls). A
    `jax.linearize`d map was measured slower here: it stores and re-reads every residual of b,
    while the JVP recomputes them in fused kernels."""
    check_state(x)
    b = as_field(b)
    return jax.tree_util.Partial(_jvp_flat, b, x, args)


def operator_top_eigenvalues(
    matvec: Callable[[Array], Array],
    dim: int,
    k: int = 6,
    which: Which = "LR",
    *,
    tol: float = 1e-12,
    ncv: int | None = None,
    maxiter: int | None = None,
    seed: int = 0,
    dtype: Any = None,
    return_eigenvectors: bool = True,
) -> Spectrum:
    r"""Top-k eigenvalues of a real linear operator given only by `matvec` (flat vectors of size
    `dim`), by ARPACK's implicitly restarted Arnoldi method (`scipy.sparse.linalg.eigs`).

    `ncv` Krylov vectors (default $\max(2k + 1, 3k, 30)$, at most dim − 1). Reproducible bitwise:
    the start vector is `start_vector(dim, seed)`, and the random vectors that SciPy's ARPACK
    asks for during the iteration even when given a start vector (measured: one, at the first
    restart; drawn in Python from OS entropy unless a generator is given) come from
    `restart_rng(seed)`. Residuals $\|A v - λ v\|$ are recomputed with `matvec`.
    """
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigs

    k = check_int_at_least("k", k, 1)
    dim = check_int_at_least("dim", dim, 1)
    check_choice("which", which, _WHICH)
    check_positive("tol", tol)
    if k + 2 > dim:
        raise ValueError(f"Arnoldi needs k <= dim - 2; got k={k}, dim={dim} (use the dense path)")
    dtype = jnp.result_type(float) if dtype is None else dtype
    op = _CountedOperator(matvec, dtype)
    k_req = min(k + 1, dim - 2)  # one spare: a conjugate pair on the boundary stays whole
    ncv = min(dim - 1, max(2 * k_req + 1, 3 * k_req, 30)) if ncv is None else ncv
    v0 = start_vector(dim, seed)
    lin_op = LinearOperator((dim, dim), matvec=op, dtype=np.float64)
    converged = True
    try:
        vals, vecs = eigs(lin_op, k=k_req, which=which, tol=tol, ncv=ncv, maxiter=maxiter, v0=v0,
                          rng=restart_rng(seed))
    except ArpackNoConvergence as err:
        vals, vecs, converged = err.eigenvalues, err.eigenvectors, False
    vals = np.asarray(vals, dtype=np.complex128)
    vecs = np.asarray(vecs, dtype=np.complex128).reshape(dim, -1)
    ordered = sort_eigenvalues(vals, which)[:k]
    idx = [int(np.argmin(np.abs(vals - lam))) for lam in ordered]
    vals, vecs = vals[idx], vecs[:, idx]
    n_matvecs = op.count
    residuals = _residuals(matvec, vals, vecs, dtype) if vals.size else np.zeros(0)
    return Spectrum(
        vals,
        vecs if return_eigenvectors else None,
        residuals,
        n_matvecs,
        "arnoldi",
        converged and vals.size == k,
    )


def _residuals(matvec, vals, vecs, dtype) -> np.ndarray:
    """‖A v − λ v‖ for complex pairs, via A(Re v) + i A(Im v) (A is real)."""
    out = []
    for lam, v in zip(vals, vecs.T):  # k pairs, 2k products with the already compiled matvec
        re = np.asarray(matvec(jnp.asarray(v.real, dtype=dtype)))
        im = np.asarray(matvec(jnp.asarray(v.imag, dtype=dtype)))
        out.append(np.linalg.norm(re + 1j * im - lam * v))
    return np.asarray(out)


@eqx.filter_jit
def dense_jacobian(b: Any, x: Any, *args: Any) -> Float[Array, "d d"]:
    """`ganflow.jacobian` under one `eqx.filter_jit` (one compilation instead of op-by-op
    dispatch of d JVPs); all columns in one `vmap` up to d = 512, chunks of 256 beyond."""
    dim = ravel_pytree(x)[0].size
    return jacobian(b, x, *args, chunk_size=None if dim <= 512 else 256)


def _dense_spectrum(b, x, args, k, which, return_eigenvectors) -> Spectrum:
    jac = np.asarray(dense_jacobian(b, x, *args))
    if return_eigenvectors:
        vals, vecs = np.linalg.eig(jac)
    else:
        vals, vecs = np.linalg.eigvals(jac), None
    ordered = sort_eigenvalues(vals, which)[:k]
    idx = _match(vals, ordered)
    vals = vals[idx].astype(np.complex128)
    if vecs is None:
        return Spectrum(vals, None, None, 0, "dense", True)
    vecs = vecs[:, idx].astype(np.complex128)
    residuals = np.linalg.norm(jac @ vecs - vecs * vals[None, :], axis=0)
    return Spectrum(vals, vecs, residuals, 0, "dense", True)


def _match(vals: np.ndarray, ordered: np.ndarray) -> list[int]:
    """Indices of `ordered` in `vals`, each index used once (repeated eigenvalues)."""
    free = np.ones(vals.size, dtype=bool)
    out = []
    for lam in ordered:
        dist = np.where(free, np.abs(vals - lam), np.inf)
        i = int(np.argmin(dist))
        free[i] = False
        out.append(i)
    return out


def top_eigenvalues(
    b: Any,
    x: Any,
    *args: Any,
    k: int = 6,
    which: Which = "LR",
    method: Literal["auto", "dense", "arnoldi", "krylov-schur"] = "auto",
    dense_threshold: int = 1000,
    tol: float = 1e-12,
    ncv: int | None = None,
    maxiter: int | None = None,
    seed: int = 0,
    return_eigenvectors: bool = True,
) -> Spectrum:
    r"""The top-k eigenvalues of the game Jacobian $J(x) = ∂b/∂x$ of any field `b(x, *args)`
    (b0, a stabilised field, a modified equation; an `Objective` means its b0).

    - `which="LR"`: largest real part (the growth rate of the linearised flow $\dot x = J x$;
      the fixed point is linearly stable iff all $\mathrm{Re}\,λ < 0$, Mescheder 2017);
    - `which="LM"`: largest modulus (what limits the step size of explicit schemes);
    - `which="SR"`: smallest real part.

    `method="auto"` uses the dense Jacobian when $d$ ≤ `dense_threshold`, else matrix-free
    Arnoldi driven by jitted JVPs of b (see the module docstring): `"arnoldi"` is ARPACK's
    implicitly restarted Arnoldi on the host (Lehoucq & Sorensen 1996; the reference),
    `"krylov-schur"` the same filter written in JAX (`jacobian_eigs`, Stewart 2001), which
    keeps every product on the device. `tol` is the relative residual tolerance of both,
    `ncv` their Krylov space size (defaults: ARPACK's max(2k + 1, 3k, 30); Krylov–Schur
    max(2k + 1, 20)), `maxiter` their restarts (ARPACK's default n·10; Krylov–Schur 300) and
    `seed` their start vector (`start_vector(d, seed)`). Returns a `Spectrum` with eigenvalues
    best first, unit eigenvectors in ganflow's flat order, residuals $\|J v - λ v\|$ and the
    number of matrix–vector products.
    """
    k = check_int_at_least("k", k, 1)
    check_choice("which", which, _WHICH)
    check_choice("method", method, ("auto", "dense", "arnoldi", "krylov-schur"))
    check_state(x)
    b = as_field(b)
    dim = int(ravel_pytree(x)[0].size)
    if k > dim:
        raise ValueError(f"k must be <= the number of parameters d={dim}, got k={k}")
    if method == "auto":
        method = "dense" if dim <= dense_threshold or k + 2 > dim else "arnoldi"
    if method == "dense":
        return _dense_spectrum(b, x, args, k, which, return_eigenvectors)
    if method == "krylov-schur":
        return _krylov_schur_spectrum(b, x, args, k, which, tol, ncv, maxiter, seed,
                                      ravel_pytree(x)[0].dtype, return_eigenvectors)
    matvec = jacobian_operator(b, x, *args)
    return operator_top_eigenvalues(
        matvec,
        dim,
        k,
        which,
        tol=tol,
        ncv=ncv,
        maxiter=maxiter,
        seed=seed,
        dtype=ravel_pytree(x)[0].dtype,
        return_eigenvectors=return_eigenvectors,
    )


def jacobian_eigs(
    b: Any,
    x: Any,
    *args: Any,
    k: int = 6,
    which: ArnoldiWhich = "LR",
    v0: Float[Array, " d"] | None = None,
    ncv: int | None = None,
    tol: float = 1e-12,
    max_restarts: int = 300,
) -> ArnoldiEigs:
    r"""The top-k eigenvalues of the game Jacobian $J(x) = ∂b/∂x$ of a field `b(x, *args)` inside
    JAX: the Krylov–Schur Arnoldi method (`arnoldi_eigs`) on $u ↦ J u$, one `jax.jvp` of b per
    product, J never formed. Jittable and vmappable: `jax.vmap` over states x (seeds) and/or
    start vectors computes every member's spectrum in one call. `v0` defaults to
    `start_vector(d, 0)` (the start vector of the ARPACK path, so that both agree closely);
    `which`, `ncv`, `tol`, `max_restarts` as `arnoldi_eigs`. Eigenvectors in ganflow's flat
    order (θ first). For a NumPy `Spectrum` with true residuals use `top_eigenvalues(...,
    method="krylov-schur")`; ARPACK (`method="arnoldi"`) stays the reference.

    ```python
    eigs = jax.jit(jax.vmap(lambda x: jacobian_eigs(b, x, batch, k=10, which="LR")))(xs)
    eigs.eigenvalues    # (seeds, 10)
    ```
    """
    b = as_field(b)
    flat, unravel = ravel_pytree(x)
    if v0 is None:
        v0 = jnp.asarray(start_vector(flat.size, 0), flat.dtype)

    def matvec(u):
        return ravel_pytree(jax.jvp(lambda z: b(z, *args), (x,), (unravel(u),))[1])[0]

    return arnoldi_eigs(matvec, jnp.asarray(v0, flat.dtype), k, which, ncv=ncv, tol=tol,
                        max_restarts=max_restarts)


_jacobian_eigs_jit = eqx.filter_jit(jacobian_eigs)


def _krylov_schur_spectrum(b, x, args, k, which, tol, ncv, maxiter, seed, dtype,
                           return_eigenvectors) -> Spectrum:
    dim = int(ravel_pytree(x)[0].size)
    v0 = jnp.asarray(start_vector(dim, seed), dtype)
    k_req = min(k + 1, dim - 1)  # one spare, as the ARPACK path
    res = _jacobian_eigs_jit(b, x, *args, k=k_req, which=which, v0=v0, ncv=ncv, tol=tol,
                             max_restarts=300 if maxiter is None else maxiter)
    vals = np.asarray(res.eigenvalues)[:k]
    vecs = np.asarray(res.eigenvectors)[:, :k]
    residuals = _residuals(jacobian_operator(b, x, *args), vals, vecs, dtype)
    return Spectrum(vals, vecs if return_eigenvectors else None, residuals,
                    int(res.num_matvecs), "krylov-schur", bool(res.converged))


def spectral_abscissa(b: Any, x: Any, *args: Any, **kwargs: Any) -> Float[Array, ""]:
    r"""$\max_i \mathrm{Re}\,λ_i(J(x))$ (matrix-free for large games): negative iff J is
    Hurwitz."""
    return jnp.asarray(top_eigenvalues(b, x, *args, k=1, which="LR", **kwargs).eigenvalues[0].real)


def jacobian_spectral_radius(b: Any, x: Any, *args: Any, **kwargs: Any) -> Float[Array, ""]:
    r"""$\max_i |λ_i(J(x))|$ (matrix-free for large games)."""
    spec = top_eigenvalues(b, x, *args, k=1, which="LM", **kwargs)
    return jnp.asarray(np.abs(spec.eigenvalues[0]))
