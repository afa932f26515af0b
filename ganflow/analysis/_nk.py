r"""The Nagarajan–Kolter (2017) analysis of f-family GANs at an equilibrium (§3.3, §3.4).

With $D_ω$ the discriminator (a real logit), $p_θ$ the generator's law and an equilibrium
$(θ^*, ω^*)$ where $D_{ω^*} = 0$ on the supports (Assumption I), the paper defines

$$K_{DD} = E_{p_{data}}\big[∇_ω D(x)\, ∇_ω D(x)^\top\big], \qquad
  K_{DG} = \int ∇_ω D(x)\, ∇_θ p_θ(x)^\top dx \;=\; ∇_θ\, E_{z}\big[∇_ω D(G_θ(z))\big]$$

($K_{DG}$ is $d_ω × d_θ$; the second form is the reparameterised one, equal by differentiating
under the integral). Differentiating $Φ = E f(D(x)) + E f(-D(G(z)))$ twice at the equilibrium
gives, in ganflow's order x = (θ, ω) and signs ($b_0 = (-g_θ, g_ω)$):

$$∇_ω g_ω = 2 f''(0) K_{DD},\qquad ∇_θ g_ω = -f'(0) K_{DG},\qquad ∇_θ g_θ = 0,$$
$$J = \begin{pmatrix} 0 & f'(0) K_{DG}^\top \\ -f'(0) K_{DG} & 2 f''(0) K_{DD}\end{pmatrix}.$$

The paper writes $J = [[2f''(0)K_{DD}, f'(0)K_{DG}], [-f'(0)K_{DG}^\top, 0]]$ in the order
(D, G); the sign of the off-diagonal blocks differs from ours (their ODE (3) is printed with
$\dot θ_G = +∇_{θ_G} V$), which changes no eigenvalue: only $K_{DG}^\top K_{DG}$ enters the
spectrum and the bounds. ganflow computes $K_{DG} = -∇_θ g_ω / f'(0)$ from the objective (one JVP
of the discriminator's gradient per column, exact for a population objective, a sample average
for a batch), and $K_{DD}$ from data points (optionally quadrature weights) as
$G^\top \mathrm{diag}(w) G$ with $G$ the per-example gradients $∇_ω D(x_i)$ — or, for a population
objective and $f''(0) ≠ 0$, as $∇^2_{ωω} Φ / (2 f''(0))$.
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float

from .._checks import check_positive, check_state
from ..dynamics import hvp_omega, mixed_omega_theta
from ..games import AbstractGANGame


class NKMatrices(eqx.Module):
    r"""$K_{DD}$ ($d_ω × d_ω$), $K_{DG}$ ($d_ω × d_θ$), $f'(0)$ and $f''(0)$ at an equilibrium
    (Nagarajan–Kolter §3.3), in each player's flat order."""

    k_dd: Float[Array, "dw dw"]
    k_dg: Float[Array, "dw dt"]
    f_prime: Float[Array, ""]
    f_second: Float[Array, ""]

    def jacobian(self) -> Float[Array, "d d"]:
        r"""The Jacobian of $b_0$ at the equilibrium that the paper's formula predicts, in
        ganflow's flat order (θ first): $[[0, f'K_{DG}^\top], [-f'K_{DG}, 2f''K_{DD}]]$."""
        dw, dt = self.k_dg.shape
        top = jnp.concatenate([jnp.zeros((dt, dt)), self.f_prime * self.k_dg.T], axis=1)
        bottom = jnp.concatenate([-self.f_prime * self.k_dg, 2 * self.f_second * self.k_dd], axis=1)
        return jnp.concatenate([top, bottom], axis=0)


def _columns(fn, part):
    flat, unravel = ravel_pytree(part)
    eye = jnp.eye(flat.size, dtype=flat.dtype)
    return jax.vmap(lambda e: ravel_pytree(fn(unravel(e)))[0])(eye).T


def nk_matrices(
    game: AbstractGANGame,
    x: Any,
    batch: Any = None,
    *,
    data: Any = None,
    weights: Any = None,
) -> NKMatrices:
    r"""$K_{DD}$ and $K_{DG}$ of Nagarajan–Kolter §3.3 for an f-family game at an equilibrium x.

    - $K_{DG} = -∇_θ g_ω / f'(0)$ from the population objective (`batch=None`) or from the
      minibatch objective on `batch` (a sample estimate);
    - $K_{DD} = \sum_i w_i ∇_ω D(x_i) ∇_ω D(x_i)^\top$ over `data` (leading axis n) with
      `weights` (default 1/n; pass quadrature weights summing to 1 for exact moments); without
      `data` the data part of `batch` is used, and for a population objective with
      $f''(0) ≠ 0$ the Hessian identity $K_{DD} = ∇^2_{ωω}Φ/(2f''(0))$ (valid under Assumption I).

    Dense matrices, each built from d JVPs/gradients (small and moderate games).
    """
    if not isinstance(game, AbstractGANGame):
        raise ValueError(
            f"nk_matrices needs an f-family AbstractGANGame, got {type(game).__name__}"
        )
    theta, omega = check_state(x)
    f1 = game.loss.f_prime(0.0)
    f2 = game.loss.f_second(0.0)
    if float(f1) == 0.0:
        raise ValueError("Nagarajan–Kolter needs f'(0) != 0 (Assumption II)")
    obj = game.objective(population=batch is None)
    args = () if batch is None else (batch,)
    if data is None and batch is not None:
        data = batch[0]
    if data is None and float(f2) == 0.0:
        raise ValueError(
            "K_DD of a game with f''(0) = 0 (WGAN) cannot be read off the Hessian: pass data "
            "points (and quadrature weights) or a batch"
        )
    if data is not None and weights is not None:
        n = jax.tree_util.tree_leaves(data)[0].shape[0]
        if jnp.shape(weights) != (n,):
            raise ValueError(f"weights must have shape ({n},) like data, got {jnp.shape(weights)}")
    k_dd, k_dg = _nk_dense(obj, x, args, data, weights, f2)
    return NKMatrices(k_dd, k_dg / f1, jnp.asarray(f1), jnp.asarray(f2))


@eqx.filter_jit
def _nk_dense(obj, x, args, data, weights, f2):
    """(K_DD, −∇_θ g_ω) under one compilation."""
    theta, omega = x
    minus_mixed = -_columns(lambda v: mixed_omega_theta(obj, x, v, *args), theta)
    if data is not None:
        k_dd = _k_dd_from_data(omega, data, weights)
    else:
        k_dd = _columns(lambda v: hvp_omega(obj, x, v, *args), omega) / (2 * f2)
        k_dd = 0.5 * (k_dd + k_dd.T)
    return k_dd, minus_mixed


def _k_dd_from_data(omega: Any, data: Any, weights: Any) -> Array:
    def grad_d(point):
        return ravel_pytree(jax.grad(lambda om: om(point))(omega))[0]

    g = jax.vmap(grad_d)(data)  # (n, d_ω)
    n = g.shape[0]
    if weights is None:
        w = jnp.full((n,), 1.0 / n, dtype=g.dtype)
    else:
        w = jnp.asarray(weights, dtype=g.dtype)
    return (g * w[:, None]).T @ g


def _lambda_min_plus(mat: np.ndarray, rtol: float) -> tuple[float, float]:
    """(smallest non-zero, largest) eigenvalue of a PSD matrix; 'non-zero' means > rtol·λ_max."""
    eig = np.linalg.eigvalsh(0.5 * (mat + mat.T))
    lmax = float(eig[-1])
    if lmax <= 0:
        raise ValueError("the matrix is zero: K_DD and K_DG must be non-zero")
    nonzero = eig[eig > rtol * lmax]
    return float(nonzero[0]), lmax


class NKBounds(eqx.Module):
    r"""The rate bounds of Nagarajan–Kolter Theorem 3.1 (and 3.2) on the eigenvalues λ of J at
    the equilibrium, with the spectral quantities they use:

    - `real_bound`: for Im λ = 0, $\mathrm{Re}\,λ ≤$ `real_bound`;
    - `complex_bound`: for Im λ ≠ 0, $\mathrm{Re}\,λ ≤$ `complex_bound`;
    - `lambda_min_dd`, `lambda_max_dd`: $λ^{(+)}_{\min}(K_{DD})$, $λ_{\max}(K_{DD})$;
    - `lambda_min_dg`, `lambda_max_dg`: the same for $K_{DG}^\top K_{DG}$;
    - `eta_max`: Theorem 3.2's step bound $1/(2λ_{\max}(-J_{DD}))$, $J_{DD} = 2f''(0)K_{DD}$
      (∞ when $f''(0) = 0$).

    The eigenvalues of J on the subspace of equivalent equilibria (the null spaces of $K_{DD}$,
    $K_{DG}$) are 0 and are not constrained; `satisfied_by` skips them.
    """

    real_bound: Float[Array, ""]
    complex_bound: Float[Array, ""]
    lambda_min_dd: Float[Array, ""]
    lambda_max_dd: Float[Array, ""]
    lambda_min_dg: Float[Array, ""]
    lambda_max_dg: Float[Array, ""]
    eta_max: Float[Array, ""]

    def satisfied_by(self, eigs: Any, tol: float = 1e-10, zero_tol: float = 1e-10) -> bool:
        """True iff every eigenvalue with |λ| > `zero_tol` obeys its bound (up to `tol`);
        Im λ counts as 0 when |Im λ| ≤ `zero_tol`."""
        eigs = np.asarray(eigs).astype(np.complex128)
        eigs = eigs[np.abs(eigs) > zero_tol]
        real = np.abs(eigs.imag) <= zero_tol
        ok_real = np.all(eigs.real[real] <= float(self.real_bound) + tol)
        ok_complex = np.all(eigs.real[~real] <= float(self.complex_bound) + tol)
        return bool(ok_real and ok_complex)


def nk_rate_bounds(m: NKMatrices, rtol: float = 1e-10) -> NKBounds:
    r"""Nagarajan–Kolter Theorem 3.1: at an equilibrium satisfying Assumptions I–IV, every
    eigenvalue λ of J with a strictly negative real part satisfies

    - if Im λ = 0: $\mathrm{Re}\,λ ≤ \dfrac{2f''(0)f'(0)^2 λ^{(+)}_{\min}(K_{DD})
      λ^{(+)}_{\min}(K_{DG}^\top K_{DG})}{4f''(0)^2 λ^{(+)}_{\min}(K_{DD}) λ_{\max}(K_{DD})
      + f'(0)^2 λ^{(+)}_{\min}(K_{DG}^\top K_{DG})}$;
    - if Im λ ≠ 0: $\mathrm{Re}\,λ ≤ f''(0) λ^{(+)}_{\min}(K_{DD})$;

    and the step bound of Theorem 3.2 for the regularised generator update (eq. 4),
    $η < 1/(2 λ_{\max}(-J_{DD}))$. $λ^{(+)}_{\min}$ is the smallest eigenvalue above
    `rtol`·λ_max.
    """
    f1, f2 = float(m.f_prime), float(m.f_second)
    l_dd, L_dd = _lambda_min_plus(np.asarray(m.k_dd), rtol)
    k_dg = np.asarray(m.k_dg)
    l_dg, L_dg = _lambda_min_plus(k_dg.T @ k_dg, rtol)
    real_bound = 2 * f2 * f1**2 * l_dd * l_dg / (4 * f2**2 * l_dd * L_dd + f1**2 * l_dg)
    complex_bound = f2 * l_dd
    lam_max_neg_jdd = -2 * f2 * L_dd
    eta_max = np.inf if lam_max_neg_jdd <= 0 else 1.0 / (2 * lam_max_neg_jdd)
    values = (real_bound, complex_bound, l_dd, L_dd, l_dg, L_dg, eta_max)
    return NKBounds(*(jnp.asarray(v) for v in values))


def nk_regularised_rate_bounds(m: NKMatrices, eta: Any, rtol: float = 1e-10) -> NKBounds:
    r"""Nagarajan–Kolter Theorem 3.2, the WGAN ($f''(0) = 0$) with the regulariser of eq. 4
    (the generator descends $V + η\|∇_{θ_D} V\|^2$): every eigenvalue of the regularised
    Jacobian at the equilibrium with a strictly negative real part satisfies

    - if Im λ = 0: $\mathrm{Re}\,λ ≤ -\dfrac{2f'(0)^2 η\, λ^{(+)}_{\min}(K_{DG}^\top K_{DG})}
      {4f'(0)^2 η^2 λ_{\max}(K_{DG}^\top K_{DG}) + 1}$;
    - if Im λ ≠ 0: $\mathrm{Re}\,λ ≤ -η f'(0)^2 λ^{(+)}_{\min}(K_{DG}^\top K_{DG})$.

    The returned `NKBounds` carries these two bounds (and Theorem 3.1's spectral quantities).
    """
    check_positive("eta", eta)
    base = nk_rate_bounds(m, rtol)
    f1, eta = float(m.f_prime), float(eta)
    l_dg, L_dg = float(base.lambda_min_dg), float(base.lambda_max_dg)
    real_bound = -2 * f1**2 * eta * l_dg / (4 * f1**2 * eta**2 * L_dg + 1)
    complex_bound = -eta * f1**2 * l_dg
    return eqx.tree_at(
        lambda b: (b.real_bound, b.complex_bound),
        base,
        (jnp.asarray(real_bound), jnp.asarray(complex_bound)),
    )
