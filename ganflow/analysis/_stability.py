r"""Local stability at a point: eigenvalues of J, the Hurwitz test, the update operators of
simultaneous and alternating GDA and their spectral radii, and the local-Nash classification.

Conventions (docs/conventions.md §The vector field b0 and its Jacobian J, §Flat order,
§Discrete schemes): x = (θ, ω), $b_0 = (-g_θ, g_ω)$, $J = ∂b/∂x$ in ganflow's flat order
(θ first). A fixed point x* of the flow $\dot x = b(x)$ is linearly stable iff J(x*) is
Hurwitz (every Re λ < 0); a fixed point of a discrete map F is locally convergent iff the spectral
radius $ρ(F'(x^*)) < 1$ (Mescheder 2017; slides p. 3–5).
"""

from collections.abc import Callable
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Bool, Complex, Float

from .._checks import check_choice, check_int_at_least, check_positive, check_state
from ..dynamics import as_objective, hvp_omega, hvp_theta, vector_field
from ._arnoldi import restart_rng
from ._lanczos import lanczos_extremes
from ._spectra import (
    as_field,
    dense_jacobian,
    jacobian_operator,
    operator_top_eigenvalues,
    sort_eigenvalues,
)

_tmap = jax.tree_util.tree_map


def eigenvalues(b: Any, x: Any, *args: Any) -> Complex[Array, " d"]:
    r"""All eigenvalues of the dense Jacobian $J(x) = ∂b/∂x$ (small games), sorted by decreasing
    real part. `b` is any field `b(x, *args)` (an `Objective` means its b0)."""
    jac = dense_jacobian(as_field(b), x, *args)
    return jnp.asarray(sort_eigenvalues(np.linalg.eigvals(np.asarray(jac)), "LR"))


def is_hurwitz(eigs_or_b: Any, *args: Any, tol: float = 1e-10) -> bool:
    r"""True iff every eigenvalue has $\mathrm{Re}\,λ < -\mathrm{tol}$ (J Hurwitz: the flow
    $\dot x = b(x)$ is locally exponentially stable at x).

    Call as `is_hurwitz(eigs)` with an array of eigenvalues, or `is_hurwitz(b, x, *args)` with a
    field (dense J). The margin `tol` ≥ 0 keeps round-off on the imaginary axis (WGAN Dirac:
    ±i) from counting as stable.
    """
    check_positive("tol", tol, allow_zero=True)
    if callable(eigs_or_b):
        if not args:
            raise ValueError("is_hurwitz(b, x, *args) needs the point x")
        eigs = eigenvalues(eigs_or_b, *args)
    else:
        eigs = np.asarray(eigs_or_b)
        if eigs.size == 0:
            raise ValueError("is_hurwitz needs at least one eigenvalue")
    return bool(np.max(np.real(eigs)) < -tol)


def spectral_radius(matrix_or_eigs: Any) -> Float[Array, ""]:
    r"""$ρ(M) = \max_i |λ_i(M)|$ of a square matrix, or of a 1-D array of eigenvalues."""
    a = np.asarray(matrix_or_eigs)
    if a.ndim == 2:
        if a.shape[0] != a.shape[1]:
            raise ValueError(f"spectral_radius needs a square matrix, got shape {a.shape}")
        a = np.linalg.eigvals(a)
    elif a.ndim != 1:
        raise ValueError(f"expected a square matrix or a 1-D array of eigenvalues, got {a.shape}")
    return jnp.asarray(np.max(np.abs(a)))


# ---------------------------------------------------------------------------------------------
# Update operators of discrete GDA


def _one_step(scheme: Any, x: Any, args: tuple) -> Any:
    """One step of a training scheme from x (its optimiser states fresh): the update map."""
    return scheme.step(scheme.init(x), tuple(args)).x


def simultaneous_update(b: Any, x: Any, *args: Any, eta: Any) -> Any:
    r"""One simultaneous GDA step $F_η(x) = x + η\, b(x)$ (Cao–Guo eq. 7): one step of
    `ganflow.training.SimultaneousGDA` with `optax.sgd(η)`, the one implementation of the
    scheme."""
    from ..training import SimultaneousGDA

    check_positive("eta", eta)
    return _one_step(SimultaneousGDA(as_field(b), optax.sgd(eta)), x, args)


def alternating_update(
    b: Any, x: Any, *args: Any, eta: Any, n_d: int = 1, n_g: int = 1
) -> Any:
    r"""One round of alternating GDA (Cao–Guo eq. 5; docs/conventions.md §Discrete schemes;
    slides p. 3): `n_d` discriminator steps $ω ← ω + η\, b_ω(θ, ω)$, then `n_g` generator steps
    $θ ← θ + η\, b_θ(θ, ω)$ with the updated ω. For $b = b_0$ these are
    $ω ← ω + η g_ω$ and $θ ← θ − η g_θ$; any field whose θ-part is the generator's direction
    and ω-part the discriminator's works (stabilised fields included). One round of
    `ganflow.training.AlternatingGDA` with `optax.sgd(η)`.
    """
    from ..training import AlternatingGDA

    check_positive("eta", eta)
    n_d = check_int_at_least("n_d", n_d, 1)
    n_g = check_int_at_least("n_g", n_g, 1)
    check_state(x)
    return _one_step(AlternatingGDA(as_field(b), optax.sgd(eta), n_d=n_d, n_g=n_g), x, args)


class _UpdateMap(eqx.Module):
    """The update map x ↦ F(x) of a scheme, as a field-like callable `F(x, *args)` (so that
    `dense_jacobian` compiles it once per scheme, n_d, n_g and shapes, for every η)."""

    field: Callable[..., Any]
    eta: Array
    scheme: str = eqx.field(static=True)
    n_d: int = eqx.field(static=True)
    n_g: int = eqx.field(static=True)

    def __call__(self, y: Any, *args: Any) -> Any:
        if self.scheme == "simultaneous":
            return simultaneous_update(self.field, y, *args, eta=self.eta)
        return alternating_update(self.field, y, *args, eta=self.eta, n_d=self.n_d, n_g=self.n_g)


def _update_map(b, eta, scheme, n_d=1, n_g=1) -> _UpdateMap:
    return _UpdateMap(as_field(b), jnp.asarray(eta, dtype=jnp.result_type(float)), scheme, n_d, n_g)


def simultaneous_update_jacobian(b: Any, x: Any, *args: Any, eta: Any) -> Float[Array, "d d"]:
    r"""$F_η'(x) = I + η J(x)$, the Jacobian of simultaneous GDA (Cao–Guo eq. 7;
    docs/conventions.md §Discrete schemes), dense, in ganflow's flat order (§Flat order)."""
    check_positive("eta", eta)
    jac = dense_jacobian(as_field(b), x, *args)
    return jnp.eye(jac.shape[0], dtype=jac.dtype) + eta * jac


def alternating_update_jacobian(
    b: Any, x: Any, *args: Any, eta: Any, n_d: int = 1, n_g: int = 1
) -> Float[Array, "d d"]:
    r"""The exact Jacobian of one round of alternating GDA with `n_d` discriminator then `n_g`
    generator steps (`alternating_update`), dense, by forward-mode differentiation of the composed
    map. For the Dirac-GAN at 0 its eigenvalues are $1 - α^2/2 ± \sqrt{(1 - α^2/2)^2 - 1}$,
    $α = \sqrt{n_g n_d}\, h f'(0)$ (Mescheder 2018; slides p. 5)."""
    check_positive("eta", eta)
    check_int_at_least("n_d", n_d, 1)
    check_int_at_least("n_g", n_g, 1)
    return dense_jacobian(_update_map(b, eta, "alternating", n_d, n_g), x, *args)


class UpdateStability(eqx.Module):
    r"""Local stability of a discrete update map F at a fixed point.

    - `eigenvalues`: eigenvalues of F′ (largest modulus first; all of them on the dense path,
      the top few on the matrix-free path);
    - `radius`: $ρ(F')$; `locally_convergent`: $ρ(F') < 1$ (Mescheder 2017);
    - `scheme`, `eta`, `n_d`, `n_g`: what was analysed.
    """

    eigenvalues: Complex[Array, " k"]
    radius: Float[Array, ""]
    locally_convergent: Bool[Array, ""]
    eta: Float[Array, ""]
    scheme: str = eqx.field(static=True)
    n_d: int = eqx.field(static=True)
    n_g: int = eqx.field(static=True)


def update_stability(
    b: Any,
    x: Any,
    *args: Any,
    eta: Any,
    scheme: Literal["simultaneous", "alternating"] = "simultaneous",
    n_d: int = 1,
    n_g: int = 1,
    method: Literal["auto", "dense", "arnoldi"] = "auto",
    dense_threshold: int = 1000,
    k: int = 6,
) -> UpdateStability:
    r"""The spectrum and spectral radius of the update operator's Jacobian F′ at x for
    simultaneous ($F' = I + ηJ$) or alternating (`n_d`, `n_g`) GDA, and whether
    $ρ(F') < 1$ (local convergence of the discrete scheme, Mescheder 2017).

    Small games (d ≤ `dense_threshold`, or `method="dense"`): F′ dense, all eigenvalues.
    Large games (`method="arnoldi"`): the top-`k` eigenvalues of largest modulus by Arnoldi on
    JVPs of F (F′ never formed).
    """
    check_positive("eta", eta)
    check_choice("scheme", scheme, ("simultaneous", "alternating"))
    check_choice("method", method, ("auto", "dense", "arnoldi"))
    n_d = check_int_at_least("n_d", n_d, 1)
    n_g = check_int_at_least("n_g", n_g, 1)
    check_int_at_least("k", k, 1)
    check_state(x)
    b = as_field(b)
    flat, _ = ravel_pytree(x)
    dim = flat.size
    if method == "auto":
        method = "dense" if dim <= dense_threshold or k + 2 > dim else "arnoldi"

    update = _update_map(b, eta, scheme, n_d, n_g)
    if method == "dense":
        eigs = np.linalg.eigvals(np.asarray(dense_jacobian(update, x, *args)))
    else:
        matvec = jacobian_operator(update, x, *args)
        eigs = operator_top_eigenvalues(matvec, dim, k, "LM", dtype=flat.dtype).eigenvalues
    eigs = sort_eigenvalues(eigs, "LM")
    radius = float(np.max(np.abs(eigs)))
    return UpdateStability(
        jnp.asarray(eigs),
        jnp.asarray(radius),
        jnp.asarray(radius < 1.0),
        jnp.asarray(eta),
        scheme,
        n_d,
        n_g,
    )


# ---------------------------------------------------------------------------------------------
# Local Nash test and classification of stationary points


@eqx.filter_jit
def _player_hessians(obj: Any, x: Any, args: tuple) -> tuple[Array, Array]:
    """Dense ∇²_θθ L_G and ∇²_ωω Φ_D, symmetrised, under one compilation."""

    def dense(hvp, part):
        flat, unravel = ravel_pytree(part)
        eye = jnp.eye(flat.size, dtype=flat.dtype)
        mat = jax.vmap(lambda e: ravel_pytree(hvp(unravel(e)))[0])(eye).T
        return 0.5 * (mat + mat.T)  # symmetric up to round-off

    theta, omega = x
    return (
        dense(lambda v: hvp_theta(obj, x, v, *args), theta),
        dense(lambda v: hvp_omega(obj, x, v, *args), omega),
    )


def _block_extremes_lanczos(hvp: Callable[[Any], Any], part: Any, tol: float) -> np.ndarray:
    """(λ_min, λ_max) of a symmetric HVP operator by Lanczos (ARPACK `eigsh`), matrix-free."""
    from scipy.sparse.linalg import ArpackError, LinearOperator, eigsh

    flat, unravel = ravel_pytree(part)
    dim = flat.size
    apply = jax.jit(lambda v: ravel_pytree(hvp(unravel(v)))[0])
    op = LinearOperator(
        (dim, dim),
        matvec=lambda v: np.asarray(apply(jnp.asarray(np.ravel(v), dtype=flat.dtype))),
        dtype=np.float64,
    )
    v0 = np.random.default_rng(0).standard_normal(dim)
    try:
        lo = eigsh(op, k=1, which="SA", tol=tol, v0=v0, return_eigenvectors=False,
                   rng=restart_rng(0))  # ARPACK's restart vectors: reproducible bitwise
        hi = eigsh(op, k=1, which="LA", tol=tol, v0=v0, return_eigenvectors=False,
                   rng=restart_rng(0))
    except ArpackError as err:
        # ARPACK stops (info −9) when the Krylov space of v0 is exhausted before its ncv
        # vectors are built: the Hessian is zero or has few distinct eigenvalues (a dead ReLU
        # player has ∇²L = 0). Then plain Lanczos breaks down exactly and is exact
        # (`lanczos_extremes` with the scale-aware breakdown test, up to 200 steps).
        dtype = jnp.result_type(float)
        res = lanczos_extremes(lambda v: apply(v.astype(flat.dtype)).astype(dtype),
                               jnp.asarray(v0, dtype), min(dim, 200), breakdown_scale="matvec")
        if not bool(res.broke_down):
            raise RuntimeError(f"Lanczos on a block of {dim} parameters failed: {err}") from err
        return np.array([float(res.eig_min), float(res.eig_max)])
    return np.array([lo[0], hi[0]])


def player_hessian_eigenvalues(
    phi: Any,
    x: Any,
    *args: Any,
    method: Literal["auto", "dense", "lanczos"] = "auto",
    dense_threshold: int = 1000,
    tol: float = 1e-10,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Eigenvalues of the players' own Hessians, $∇^2_{θθ} L_G$ and $∇^2_{ωω} Φ_D$.

    Dense (all eigenvalues, ascending) for a player with at most `dense_threshold` parameters;
    otherwise (or with `method="lanczos"`) only the extreme pair $(λ_{\min}, λ_{\max})$ by
    Lanczos on Hessian-vector products (one JVP of a gradient each), which is all that the
    definiteness test needs.
    """
    check_choice("method", method, ("auto", "dense", "lanczos"))
    theta, omega = check_state(x)
    obj = as_objective(phi)
    sizes = [int(ravel_pytree(part)[0].size) for part in (theta, omega)]
    if method == "dense" or (method == "auto" and max(sizes) <= dense_threshold):
        return tuple(np.linalg.eigvalsh(np.asarray(h)) for h in _player_hessians(obj, x, args))
    out = []
    for n, part, hvp in (
        (sizes[0], theta, lambda v: hvp_theta(obj, x, v, *args)),
        (sizes[1], omega, lambda v: hvp_omega(obj, x, v, *args)),
    ):
        if n < 3:  # Lanczos needs room; tiny blocks are dense anyway
            flat, unravel = ravel_pytree(part)
            cols = [ravel_pytree(hvp(unravel(e)))[0] for e in jnp.eye(n, dtype=flat.dtype)]
            mat = np.asarray(jnp.stack(cols))
            out.append(np.linalg.eigvalsh(0.5 * (mat + mat.T)))
        else:
            out.append(_block_extremes_lanczos(hvp, part, tol))
    return out[0], out[1]


def is_local_nash(
    phi: Any, x: Any, *args: Any, strict: bool = True, tol: float = 1e-10, **kwargs: Any
) -> bool:
    r"""The local-Nash test at a stationary point: the generator's Hessian $∇^2_{θθ} L_G$ is
    positive definite and the discriminator's $∇^2_{ωω} Φ_D$ negative definite (sufficient
    condition; `strict=False`: the semidefinite, necessary variant, with tolerance `tol`).
    Large players use Lanczos on HVPs (see `player_hessian_eigenvalues`)."""
    eig_t, eig_w = player_hessian_eigenvalues(phi, x, *args, **kwargs)
    return _nash(eig_t, eig_w, strict, tol)


def _nash(eig_t, eig_w, strict, tol) -> bool:
    if strict:
        return bool(np.min(eig_t) > tol and np.max(eig_w) < -tol)
    return bool(np.min(eig_t) >= -tol and np.max(eig_w) <= tol)


Label = Literal["local Nash", "stable non-Nash", "unstable Nash", "saddle/other"]


class StationaryClassification(eqx.Module):
    r"""The type of a stationary point x of a game.

    - `label`: "local Nash" (players' Hessians definite and J Hurwitz), "stable non-Nash"
      (J Hurwitz, Hessians not definite: an attractor of gradient play that is not a Nash
      equilibrium), "unstable Nash" (Nash, J not Hurwitz — possible in non-zero-sum games), or
      "saddle/other";
    - `eigenvalues`: eigenvalues of J, by decreasing real part;
    - `theta_eigenvalues`, `omega_eigenvalues`: of $∇^2_{θθ} L_G$ and $∇^2_{ωω} Φ_D$;
    - `is_nash`, `is_hurwitz`; `field_norm`: $\|b_0(x)\|$ (≈ 0 at a stationary point).
    """

    label: str = eqx.field(static=True)
    eigenvalues: Complex[Array, " d"]
    theta_eigenvalues: Float[Array, " dt"]
    omega_eigenvalues: Float[Array, " dw"]
    is_nash: bool = eqx.field(static=True)
    is_hurwitz: bool = eqx.field(static=True)
    field_norm: Float[Array, ""]


def classify_stationary_point(
    phi: Any, x: Any, *args: Any, strict: bool = True, tol: float = 1e-10
) -> StationaryClassification:
    r"""Classifies a stationary point of the game `phi` (a zero-sum Φ or an `Objective`) by the
    local-Nash test (definiteness of $∇^2_{θθ} L_G$ and $∇^2_{ωω} Φ_D$) and the Hurwitz test of
    $J = ∂b_0/∂x$ (survey §4; Mescheder 2017). Dense: for small and moderate games.

    **Example**

    ```python
    phi = lambda th, om: 0.5 * th**2 + th * om - 0.5 * om**2
    classify_stationary_point(phi, (0.0, 0.0)).label    # "local Nash"
    ```
    """
    x = _as_float_state(x)
    obj = as_objective(phi)
    b = vector_field(obj)
    eigs = eigenvalues(b, x, *args)
    eig_t, eig_w = player_hessian_eigenvalues(obj, x, *args, method="dense")
    nash = _nash(eig_t, eig_w, strict, tol)
    hurwitz = is_hurwitz(eigs, tol=tol)
    label = {
        (True, True): "local Nash",
        (False, True): "stable non-Nash",
        (True, False): "unstable Nash",
        (False, False): "saddle/other",
    }[(nash, hurwitz)]
    field_norm = jnp.linalg.norm(ravel_pytree(b(x, *args))[0])
    return StationaryClassification(
        label, eigs, jnp.asarray(eig_t), jnp.asarray(eig_w), nash, hurwitz, field_norm
    )


def _as_float_state(x: Any) -> Any:
    """Python floats in x become arrays of the default float dtype."""
    return _tmap(
        lambda a: jnp.asarray(a, dtype=jnp.result_type(float)) if isinstance(a, float) else a, x
    )
