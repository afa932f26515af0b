r"""Direction-level stabilisers: consensus optimisation, symplectic gradient adjustment and local
symmetric saddle (LSS) dynamics. All are matrix-free: J·u from `jax.linearize`, Jᵀ·u from its
transpose (or one `jax.vjp`), and LSS's linear solve with lineax's conjugate gradient.

Signs (docs/conventions.md §The vector field b0 and its Jacobian J, §Stabilisers): b is the
field the state follows, ẋ = b(x), with $b_0 = (-g_θ, g_ω)$ and $J = ∂b/∂x$. Papers written for
descent on losses use $ξ = -b_0$ and $H = ∇ξ = -J$.
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
from jaxtyping import ArrayLike

from .._checks import check_int_at_least, check_positive
from .._hyper import hyperparameter, value_eq, value_hash
from ..dynamics import Objective
from ._base import AbstractStabiliser

_tmap = jax.tree_util.tree_map


def _dot(a: Any, b: Any) -> jax.Array:
    return sum(
        jnp.vdot(x, y) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b))
    )


def _size(tree: Any) -> int:
    return sum(jnp.size(a) for a in jax.tree_util.tree_leaves(tree))


def _linearize_both(b: Callable[..., Any], x: Any, args: tuple):
    """(b(x), u ↦ J u, u ↦ Jᵀ u) from one linearisation."""
    value, jmap = jax.linearize(lambda y: b(y, *args), x)
    transpose = jax.linear_transpose(jmap, x)
    return value, jmap, lambda u: transpose(u)[0]


# ---------------------------------------------------------------------------------------------
# Consensus


class _ConsensusField(eqx.Module):

    def __hash__(self) -> int:  # by value: its hyper-parameters are arrays
        return value_hash(self)

    def __eq__(self, other: object) -> bool:
        return value_eq(self, other)
    b: Callable[..., Any]
    gamma: Any

    def __call__(self, x, *args):
        value, pullback = jax.vjp(lambda y: self.b(y, *args), x)
        (jt_b,) = pullback(value)
        return _tmap(lambda v, c: v - self.gamma * c, value, jt_b)


class Consensus(AbstractStabiliser):
    r"""Consensus optimisation (Mescheder, Nowozin & Geiger 2017, "The numerics of GANs"; survey
    §5.2.1): follow

    $$b - γ\,J^\top b = b - γ\,∇\big(\tfrac12\|b\|^2\big),$$

    one `jax.vjp` of the field. At an equilibrium (b = 0) its Jacobian is $J - γJ^\top J$; on
    the Dirac-GAN ($J = [[0, f'], [-f', 0]]$, $J^\top J = f'^2 I$) the eigenvalues are
    $-γf'(0)^2 ± i f'(0)$; on bilinear θ·ω they are $-γ ± i$.

    `gamma` γ (≥ 0, required): an array leaf (differentiable; one compilation for any value).
    """

    gamma: Any

    def __init__(self, gamma: ArrayLike):
        self.gamma = hyperparameter("gamma", gamma, allow_zero=True)

    def field(self, b: Callable[..., Any], objective: Objective) -> Callable[..., Any]:
        del objective
        return _ConsensusField(b, self.gamma)


# ---------------------------------------------------------------------------------------------
# SGA


class _SGAField(eqx.Module):

    def __hash__(self) -> int:  # by value: its hyper-parameters are arrays
        return value_hash(self)

    def __eq__(self, other: object) -> bool:
        return value_eq(self, other)
    b: Callable[..., Any]
    lam: Any
    align: bool = eqx.field(static=True)
    eps: Any

    def __call__(self, x, *args):
        value, jmap, jtmap = _linearize_both(self.b, x, args)
        jv = jmap(value)
        jtv = jtmap(value)
        lam = self.lam
        if self.align:
            # Balduzzi et al. Alg. 1 in descent form: ξ = −b, ∇ℋ = Hᵀξ = Jᵀb,
            # Aᵀξ = ½(Jᵀb − Jb).
            xi = _tmap(jnp.negative, value)
            at_xi = _tmap(lambda p, q: 0.5 * (p - q), jtv, jv)
            score = _dot(xi, jtv) * _dot(at_xi, jtv) / _size(value) + self.eps
            lam = lam * jnp.sign(score)
        return _tmap(lambda v, p, q: v + 0.5 * lam * (p - q), value, jv, jtv)


class SGA(AbstractStabiliser):
    r"""Symplectic gradient adjustment (Balduzzi et al. 2018, "The mechanics of n-player
    differentiable games", §3, Alg. 1).

    The paper descends $ξ_λ = ξ + λA^\top ξ$, with ξ the simultaneous gradient of the losses
    $(L_G, -Φ_D)$ and A the antisymmetric part of $H = ∇ξ$. In ganflow's signs $ξ = -b$,
    $H = -J$, so $A = -\tfrac12(J - J^\top)$ and the followed field is

    $$-ξ_λ = b + \tfrac{λ}{2}\,(J b - J^\top b),$$

    one linearisation, one JVP and one transposed JVP. With `align=True` the sign of λ follows
    the paper's alignment rule, $λ ← λ\,\mathrm{sign}\big(\tfrac1d⟨ξ, ∇\mathcal H⟩⟨A^\top ξ,
    ∇\mathcal H⟩ + ε\big)$ with $\mathcal H = \tfrac12\|ξ\|^2$, $∇\mathcal H = H^\top ξ =
    J^\top b$ (ε = `eps`, 0.1 in the paper's experiments). On bilinear θ·ω the field is
    (−ω − λθ, θ − λω), eigenvalues −λ ± i.

    `lam` λ (≥ 0, required) and `eps` ε (default 0.1): array leaves (differentiable; one
    compilation for any value); `align` (default False) is static.
    """

    lam: Any
    align: bool = eqx.field(static=True)
    eps: Any

    def __init__(self, lam: ArrayLike, align: bool = False, eps: ArrayLike = 0.1):
        self.lam = hyperparameter("lam", lam, allow_zero=True)
        self.align = bool(align)
        self.eps = hyperparameter("eps", eps, allow_zero=True)

    def field(self, b: Callable[..., Any], objective: Objective) -> Callable[..., Any]:
        del objective
        return _SGAField(b, self.lam, self.align, self.eps)


# ---------------------------------------------------------------------------------------------
# LSS


def _lss_lambda(xi1: Any, xi2: Any, value: Any) -> jax.Array:
    r"""$λ(x) = ξ_1(1 - e^{-ξ_2\|b(x)\|^2})$: C^∞, in [0, ξ₁), zero exactly where b = 0
    (Mazumdar et al. 2019, §3)."""
    return xi1 * (-jnp.expm1(-xi2 * _dot(value, value)))


class _LSSField(eqx.Module):

    def __hash__(self) -> int:  # by value: its hyper-parameters are arrays
        return value_hash(self)

    def __eq__(self, other: object) -> bool:
        return value_eq(self, other)
    b: Callable[..., Any]
    xi1: Any
    xi2: Any
    rtol: float = eqx.field(static=True)
    atol: float = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)

    def __call__(self, x, *args):
        value, jmap, jtmap = _linearize_both(self.b, x, args)
        lam = _lss_lambda(self.xi1, self.xi2, value)
        structure = jax.eval_shape(lambda: value)
        op = lx.FunctionLinearOperator(
            lambda u: _tmap(lambda p, q: p + lam * q, jtmap(jmap(u)), u),
            structure,
            tags=(lx.symmetric_tag, lx.positive_semidefinite_tag),
        )
        solver = lx.CG(rtol=self.rtol, atol=self.atol, max_steps=self.max_steps)
        u = lx.linear_solve(op, jtmap(value), solver, throw=False).value
        return _tmap(lambda v, c: 0.5 * (v + c), value, jtmap(u))


class LSS(AbstractStabiliser):
    r"""Local symmetric saddle dynamics, the **exact h** (Mazumdar, Jordan & Sastry 2019, "On
    finding local Nash equilibria (and only local Nash equilibria) in zero-sum games", eq. (4);
    survey §5.2.2). The survey writes ẋ = −h(x) with $h = \tfrac12(v + v'^\top(v'^\top v' +
    λI)^{-1}v'^\top v)$ for v = −b. In ganflow's signs ($v' = -J$) the followed field is

    $$b_\text{LSS} = \tfrac12\big(b + J^\top u\big),\qquad (J^\top J + λ(x) I)\,u = J^\top b,$$

    with $λ(x) = ξ_1(1 - e^{-ξ_2\|b\|^2})$ (zero exactly at critical points). u is solved
    matrix-free by conjugate gradients (lineax `CG` on the symmetric positive semi-definite
    operator $u ↦ J^\top J u + λu$; `max_steps` iterations at most, `throw=False`: a
    non-converged solve returns its last iterate). At a critical point with J invertible,
    λ = 0 and u = J⁻¹b, so $∂b_\text{LSS} = \tfrac12(J + J^\top)$: stable iff the symmetric part
    of J is negative definite, i.e. $∇^2_{θθ}L_G ≻ 0$ and $∇^2_{ωω}Φ_D ≺ 0$ — a local Nash
    point. Stable non-Nash points of b0 become unstable; the critical points are unchanged.

    The paper's **two-timescale h1/h2 scheme** (which replaces the solve by a fast auxiliary
    variable) is `LSSTwoTimescale`.

    `xi1` ξ₁ (default 1e-3) and `xi2` ξ₂ (default 1e-4): array leaves (differentiable; one
    compilation for any value); `rtol`, `atol`, `max_steps` of the solve are static.
    """

    xi1: Any
    xi2: Any
    rtol: float = eqx.field(static=True)
    atol: float = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)

    def __init__(
        self,
        xi1: ArrayLike = 1e-3,
        xi2: ArrayLike = 1e-4,
        *,
        rtol: float = 1e-10,
        atol: float = 1e-12,
        max_steps: int = 256,
    ):
        self.xi1 = hyperparameter("xi1", xi1, allow_zero=True)
        self.xi2 = hyperparameter("xi2", xi2, allow_zero=True)
        self.rtol = float(check_positive("rtol", rtol, allow_zero=True))
        self.atol = float(check_positive("atol", atol, allow_zero=True))
        self.max_steps = check_int_at_least("max_steps", max_steps, 1)

    def field(self, b: Callable[..., Any], objective: Objective) -> Callable[..., Any]:
        del objective
        return _LSSField(b, self.xi1, self.xi2, self.rtol, self.atol, self.max_steps)


class LSSTwoTimescale(eqx.Module):
    r"""The two-timescale LSS scheme (Mazumdar et al. 2019, §4; survey §5.2.2): an auxiliary φ
    (shaped like x) replaces the linear solve of `LSS`. In the paper's signs
    $x_{k+1} = x_k - a_k h_1$, $φ_{k+1} = φ_k - b_k h_2$ with
    $h_1 = \tfrac12(v + v'^\top φ)$, $h_2 = v'^\top v' φ - v'^\top v + λφ$, v = −b, and steps
    $a_k/b_k → 0$ (φ is fast). With $v' = -J$ (φ keeps the paper's sign) this object returns
    the two **directions to follow**,

    $$\dot x = -h_1 = \tfrac12(b + J^\top φ),\qquad
      \dot φ = -h_2 = J^\top(b - Jφ) - λ(x) φ,$$

    so for frozen x, φ → u of `LSS` and $\dot x$ → the exact LSS field. One linearisation,
    one JVP and two transposed JVPs. Call as `(dx, dphi) = lss2(x, phi, *args)`; start from
    `init_phi(x)` (zeros). The step sizes (a_k, b_k) belong to the training scheme.

    `xi1` (default 1e-3) and `xi2` (default 1e-4): array leaves (differentiable; one
    compilation for any value).
    """

    def __hash__(self) -> int:  # by value: its hyper-parameters are arrays
        return value_hash(self)

    def __eq__(self, other: object) -> bool:
        return value_eq(self, other)

    b: Callable[..., Any]
    xi1: Any
    xi2: Any

    def __init__(self, b: Callable[..., Any], xi1: ArrayLike = 1e-3, xi2: ArrayLike = 1e-4):
        if not callable(b):
            raise ValueError(f"LSSTwoTimescale needs a field b(x, *args), got {type(b).__name__}")
        self.b = b
        self.xi1 = hyperparameter("xi1", xi1, allow_zero=True)
        self.xi2 = hyperparameter("xi2", xi2, allow_zero=True)

    @staticmethod
    def init_phi(x: Any) -> Any:
        return _tmap(jnp.zeros_like, x)

    def __call__(self, x: Any, phi: Any, *args: Any) -> tuple[Any, Any]:
        value, jmap, jtmap = _linearize_both(self.b, x, args)
        lam = _lss_lambda(self.xi1, self.xi2, value)
        resid = _tmap(jnp.subtract, value, jmap(phi))
        jt_phi, jt_resid = jtmap(phi), jtmap(resid)
        dx = _tmap(lambda v, c: 0.5 * (v + c), value, jt_phi)
        dphi = _tmap(lambda r, p: r - lam * p, jt_resid, phi)
        return dx, dphi
