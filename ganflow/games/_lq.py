r"""The linear–quadratic Gaussian GAN of Mounjid–Guo §2."""

from typing import Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._checks import check_choice, check_int_at_least, check_positive
from .._quadrature import graded_normal_rule, hermite_rule, quadratic_breakpoints
from ..dynamics import Objective, ravel_state
from ..losses import AbstractLoss, get_loss
from ..models import Linear, QuadraticLogistic
from ._base import AbstractGANGame

_QUADRATURES = ("graded", "hermite")
_DEFAULT_SCALES = tuple(10.0**k for k in range(9))
_DEFAULT_BR_THETA2 = tuple(10.0**-k for k in range(1, 7))


def _logit_coefficients(omega, loc, scale):
    """Coefficients (a₂, a₁, a₀) of u ↦ L_w(loc + scale·u), L_w(x) = w₃x²/2 + w₂x + w₁."""
    w1, w2, w3 = omega.w1, omega.w2, omega.w3
    return (
        0.5 * w3 * scale * scale,
        (w3 * loc + w2) * scale,
        0.5 * w3 * loc * loc + w2 * loc + w1,
    )


class LinearQuadraticGaussian(AbstractGANGame):
    r"""Mounjid–Guo §2, eq. (3): data X ∼ N(m, σ²), latent Z ∼ N(0, 1), discriminator
    $D_w(x) = \mathrm{sigmoid}(w_3 x^2/2 + w_2 x + w_1)$ (`QuadraticLogistic`, which returns the
    logit; the GAN loss's $f = \log\mathrm{sigmoid}$ turns it into $\log D$), generator
    $G_θ(z) = θ_2 z + θ_1$ (`Linear(weight=θ₂, bias=θ₁)`, so the flat order of θ is (θ₂, θ₁)).
    With the GAN loss Φ is Mounjid–Guo's eq. (2),
    $g(w, θ) = E \log D_w(X) + E \log(1 - D_w(G_θ(Z)))$.

    **Optimum.** θ* = (m, σ) (and (m, −σ)), w* = 0, where D ≡ 1/2 (Mounjid–Guo §2).

    **Population objective** by quadrature over the standard normal U (X = m + σU, Z = U,
    evaluated at paired nodes since the example objective is a function of X plus one of Z):
    `quadrature="graded"` (default) is the validated graded composite Gauss–Legendre rule of
    `ganflow._quadrature`, cut at the roots and vertices of both logits u ↦ L_w(m + σu) and
    u ↦ L_w(θ₁ + θ₂u), so that narrow sigmoid windows of any width are resolved;
    `quadrature="hermite"` is a fixed `num_nodes`-point Gauss–Hermite rule (fast, but blind to
    windows narrower than its node spacing).

    **Best response.** For θ₂ ≠ 0 the discriminator family contains the log density ratio, so the
    optimal discriminator $D^* = p_X/(p_X + p_G)$ is attained, at `best_response(θ₁, θ₂)`:
    $w_3 = 1/θ_2^2 - 1/σ^2$, $w_2 = m/σ^2 - θ_1/θ_2^2$,
    $w_1 = \log(|θ_2|/σ) - m^2/(2σ^2) + θ_1^2/(2θ_2^2)$. For σ > 0, w ↦ Φ is strictly concave
    ($∇^2_{ww}Φ ≼ -E[D(1-D)(X)\,\bar X \bar X^T] ≺ 0$, $\bar x = (1, x, x^2/2)$), so ∇_wΦ = 0 holds
    exactly at the best response: the stationary points at finite w are the critical points of
    θ ↦ Φ(θ, w*(θ)) = 2 JSD(N(m, σ²), N(θ₁, θ₂²)) − log 4.

    **The degenerate points θ₂ = 0, θ₁ = −w₂/w₃ (Mounjid–Guo §2, "Saddle point analysis").**
    On θ₂ = 0 the generator is a point mass at θ₁ and ∇_θΦ = 0 whenever w₃θ₁ + w₂ = 0 (eq. 9;
    its second component is $E[Z]\cdot(\dots) = 0$). The paper then claims that the concave
    w ↦ Φ(θ̃, w) attains a maximum. **It does not, for any m and any σ > 0**: with
    $d = (θ_1^2/2, -θ_1, 1)$ (so $L_d(x) = (x - θ_1)^2/2$, which vanishes at the generated point)
    $$d^T ∇_w Φ(θ̃, w) = E\big[(1 - D_w(X))\,(X - θ_1)^2/2\big] > 0$$
    for every finite w,
    so ∇_wΦ ≠ 0 anywhere on θ₂ = 0; the supremum 0 of Φ(θ̃, ·) is approached only as ‖w‖ → ∞
    (logit $R(x - θ_1)^2/2 - \log R$, R → ∞), along which ‖b0‖ → 0 like $\sqrt{\log R / R}$. The
    "non-optimal stationary points" exist only in that limit. The conclusion would change only for
    data with no mass near θ₁ (e.g. a point mass, σ = 0), which this game excludes. Along the
    best-response curve θ₂ = t → 0 the generator's gradient does **not** vanish: Φ(θ, w*(θ)) has a
    maximum with infinite slope at t = 0 (|∂Φ/∂θ₂| ≈ 0.76 (log 1/t)^{3/2}: 3.2 at t = 0.1, 38.9 at
    t = 1e-6, for m = θ₁, σ = 1), so the generator is pushed
    away from θ₂ = 0. `lq_degenerate_stationary_points` computes all of this; a fixed 20-node
    Gauss–Hermite rule, in contrast, reports a spurious root at finite w (its nodes miss the window
    at θ₁), which the validated quadrature refutes.
    """

    m: Array
    sigma: Array
    loss: AbstractLoss
    quadrature: str = eqx.field(static=True)
    num_nodes: int = eqx.field(static=True)
    levels: int = eqx.field(static=True)

    def __init__(
        self,
        m: float = 1.0,
        sigma: float = 1.0,
        loss: str | AbstractLoss = "gan",
        quadrature: Literal["graded", "hermite"] = "graded",
        num_nodes: int | None = None,
        levels: int = 30,
    ):
        sigma = check_positive("sigma", sigma)
        dtype = jnp.result_type(float)
        self.m = jnp.asarray(m, dtype)
        self.sigma = jnp.asarray(sigma, dtype)
        self.loss = get_loss(loss)
        self.quadrature = check_choice("quadrature", quadrature, _QUADRATURES)
        if num_nodes is None:
            num_nodes = 8 if quadrature == "graded" else 20
        self.num_nodes = check_int_at_least("num_nodes", num_nodes, 1)
        self.levels = check_int_at_least("levels", levels, 0)

    @staticmethod
    def make_state(
        theta1: ArrayLike, theta2: ArrayLike, w1: ArrayLike, w2: ArrayLike, w3: ArrayLike
    ):
        """x = (G, D) = (Linear(weight=θ₂, bias=θ₁), QuadraticLogistic(w₁, w₂, w₃))."""
        return Linear(theta2, theta1), QuadraticLogistic(w1, w2, w3)

    def init(self, key):
        """θ₁ ∼ N(m, σ²), θ₂ ∼ σ·U[0.5, 1.5], w ∼ N(0, 0.1² I)."""
        k1, k2, k3 = jax.random.split(key, 3)
        dtype = jnp.result_type(float)
        theta1 = self.m + self.sigma * jax.random.normal(k1, (), dtype)
        theta2 = self.sigma * jax.random.uniform(k2, (), dtype, 0.5, 1.5)
        w = 0.1 * jax.random.normal(k3, (3,), dtype)
        return self.make_state(theta1, theta2, w[0], w[1], w[2])

    def sample_data(self, key, n):
        return self.m + self.sigma * jax.random.normal(key, (n,), jnp.result_type(float))

    def sample_latent(self, key, n):
        return jax.random.normal(key, (n,), jnp.result_type(float))

    def equilibrium(self):
        return self.make_state(self.m, self.sigma, 0.0, 0.0, 0.0)

    def best_response(self, theta1: ArrayLike, theta2: ArrayLike) -> QuadraticLogistic:
        r"""The optimal discriminator against G_θ (θ₂ ≠ 0; GAN loss): the log density ratio
        $\log p_X - \log p_{G_θ}$, which the quadratic logit represents exactly."""
        theta1, theta2 = jnp.asarray(theta1), jnp.asarray(theta2)
        m, s2 = self.m, self.sigma**2
        t2 = jnp.square(theta2)
        return QuadraticLogistic(
            jnp.log(jnp.abs(theta2) / self.sigma)
            - m * m / (2 * s2)
            + jnp.square(theta1) / (2 * t2),
            m / s2 - theta1 / t2,
            1.0 / t2 - 1.0 / s2,
        )

    def rule(self, theta, omega):
        """Nodes u and weights of the standard-normal rule used at (θ, ω)."""
        if self.quadrature == "hermite":
            return hermite_rule(self.num_nodes)
        bp = jnp.concatenate(
            [
                quadratic_breakpoints(*_logit_coefficients(omega, self.m, self.sigma)),
                quadratic_breakpoints(*_logit_coefficients(omega, theta.bias, theta.weight)),
            ]
        )
        return graded_normal_rule(bp, num_nodes=self.num_nodes, levels=self.levels)

    def data_expectation(self, fn, num_nodes: int = 64):
        r"""$E_{X∼N(m, σ^2)} fn(X)$ by Gauss–Hermite with `num_nodes` nodes: exact for
        polynomials of degree ≤ 2·num_nodes − 1, which covers the population penalties R1 and R2
        of the quadratic-logistic discriminator (‖∇_x D‖² is a quadratic in x)."""
        u, w = hermite_rule(num_nodes)
        return jnp.dot(w, jax.vmap(fn)(self.m + self.sigma * u))

    def latent_expectation(self, fn, num_nodes: int = 64):
        r"""$E_{Z∼N(0, 1)} fn(Z)$ by Gauss–Hermite (see `data_expectation`)."""
        u, w = hermite_rule(num_nodes)
        return jnp.dot(w, jax.vmap(fn)(u))

    def population(self):
        return Objective(
            lambda t, w: _expectation(self, "generator", t, w),
            lambda t, w: _expectation(self, "discriminator", t, w),
            self.zero_sum,
        )


@eqx.filter_jit
def _expectation(game: LinearQuadraticGaussian, player: str, theta, omega):
    """E over (X, Z) of one player's example objective, by `game.rule` at paired nodes
    (X, Z) = (m + σu, u): the example objective is a function of X plus one of Z. Jitted once per
    game configuration, so eager calls (and eager HVPs of them) run compiled."""
    fn = getattr(game.example_objective, player)
    u, w = game.rule(theta, omega)
    m, s = game.m, game.sigma
    return jnp.dot(w, jax.vmap(lambda ui: fn(theta, omega, (m + s * ui, ui)))(u))


class LQDegenerateAnalysis(NamedTuple):
    r"""The numbers behind `LinearQuadraticGaussian`'s conclusion on the degenerate points
    θ̃ = (θ₁, θ₂) = (θ₁, 0) of Mounjid–Guo §2 (see `lq_degenerate_stationary_points`).

    Along a ray `scales` = R, w(R) has logit $R(x - θ_1)^2/2 - \log R$ (so θ₁ = −w₂/w₃):
    `path_w_norm`, `path_phi` (↑ 0), `path_b0_norm` (‖b0(θ̃, w(R))‖, validated quadrature, → 0 only
    as R → ∞), `path_escape_slope` ($d^T∇_wΦ > 0$, $d = (θ_1^2/2, -θ_1, 1)$), and
    `path_hermite_b0_norm` (the same ‖b0‖ by fixed-node Gauss–Hermite, far too small).

    A damped Newton ascent on w ↦ Φ(θ̃, w) (backtracking line search, stopped when
    ‖∇_wΦ‖ < `tol`): `newton_*` with the validated quadrature (per iteration: ‖w‖, ‖∇_wΦ‖, the
    escape slope, Φ; never stops: ‖w‖ grows without bound), and `hermite_*` with Gauss–Hermite
    (`hermite_converged`: it "finds a root" at the finite `hermite_w` after `hermite_steps`
    iterations, where its own ‖∇_wΦ‖ is `hermite_grad_norm` but the validated one is
    `hermite_true_grad_norm` with escape slope `hermite_true_escape_slope` > 0: a spurious root).

    Along the best-response curve θ = (θ₁, t), w = w*(θ) (`br_theta2` = t → 0): ‖∇_wΦ‖
    (`br_omega_grad_norm`, ≈ 0: checks the quadrature at extreme weights) and ∂Φ/∂θ₂
    (`br_theta2_grad`, which grows like (log 1/t)^{3/2} instead of vanishing).

    `finite_w_root_found`: whether the validated Newton ever met ‖∇_wΦ‖ < tol (False).
    (Beyond ‖w‖ ≈ 1e8 the float64 logit loses digits to cancellation; keep `newton_steps` ≲ 30.)
    """

    m: float
    sigma: float
    theta1: float
    tol: float
    scales: np.ndarray
    path_w_norm: np.ndarray
    path_phi: np.ndarray
    path_b0_norm: np.ndarray
    path_escape_slope: np.ndarray
    path_hermite_b0_norm: np.ndarray
    newton_w_norm: np.ndarray
    newton_grad_norm: np.ndarray
    newton_escape_slope: np.ndarray
    newton_phi: np.ndarray
    finite_w_root_found: bool
    hermite_nodes: int
    hermite_converged: bool
    hermite_steps: int
    hermite_w: np.ndarray
    hermite_grad_norm: float
    hermite_true_grad_norm: float
    hermite_true_escape_slope: float
    br_theta2: np.ndarray
    br_omega_grad_norm: np.ndarray
    br_theta2_grad: np.ndarray


def _damped_newton_ascent(phi_w, w0, steps, tol):
    """Maximise a concave function of w ∈ ℝ³ by Newton steps with Armijo backtracking; stop
    (freeze) once ‖∇‖ < tol. Returns the iterates and whether/when it stopped."""
    grad = jax.grad(phi_w)
    hess = jax.hessian(phi_w)

    def body(carry, _):
        w, done, count = carry
        g = grad(w)
        gnorm = jnp.linalg.norm(g)
        stop = done | (gnorm < tol)
        h = hess(w)
        delta = -jnp.linalg.solve(jnp.where(stop, -jnp.eye(3), h), jnp.where(stop, 0.0, g))
        f0, slope = phi_w(w), jnp.dot(g, delta)

        def too_long(s):
            return (phi_w(w + s * delta) < f0 + 1e-4 * s * slope) & (s > 1e-12)

        s = jax.lax.while_loop(too_long, lambda s: 0.5 * s, jnp.ones_like(f0))
        trial = w + s * delta
        w_next = jnp.where(stop | ~jnp.all(jnp.isfinite(trial)), w, trial)
        return (w_next, stop, count + jnp.where(stop, 0, 1)), (w, gnorm)

    init = (w0, jnp.asarray(False), jnp.asarray(0))
    (w, done, count), (ws, gnorms) = jax.lax.scan(body, init, None, length=steps)
    return ws, gnorms, w, done, count


@eqx.filter_jit
def _degenerate_arrays(m, sigma, theta1, scales, t, newton_steps, hermite_nodes, tol):
    game = LinearQuadraticGaussian(m, sigma, "gan")
    hermite = LinearQuadraticGaussian(
        m, sigma, "gan", quadrature="hermite", num_nodes=hermite_nodes
    )
    d = jnp.stack([0.5 * theta1**2, -theta1, jnp.ones_like(theta1)])

    def state(w):
        return game.make_state(theta1, 0.0, w[0], w[1], w[2])

    def flat_b0(g, w):
        return ravel_state(g.vector_field(population=True)(state(w)))[0]

    def phi_w(g):
        return lambda w: g.phi(state(w))

    def path(R):
        w = jnp.stack([0.5 * R * theta1**2 - jnp.log(R), -R * theta1, R])
        b = flat_b0(game, w)
        return (
            jnp.linalg.norm(w),
            game.phi(state(w)),
            jnp.linalg.norm(b),
            jnp.dot(b[2:], d),
            jnp.linalg.norm(flat_b0(hermite, w)),
        )

    out = {}
    names = ("path_w_norm", "path_phi", "path_b0_norm", "path_escape_slope", "path_hermite_b0_norm")
    out.update(zip(names, jax.vmap(path)(scales)))

    # the paper's configuration θ₁ = −w₂/w₃ with w₃ = 1: logit (x − θ₁)²/2
    ws, gnorms, _, done, _ = _damped_newton_ascent(phi_w(game), d, newton_steps, tol)
    out["newton_w_norm"] = jnp.linalg.norm(ws, axis=1)
    out["newton_grad_norm"] = gnorms
    out["newton_escape_slope"] = jax.vmap(lambda w: jnp.dot(flat_b0(game, w)[2:], d))(ws)
    out["newton_phi"] = jax.vmap(phi_w(game))(ws)
    out["finite_w_root_found"] = done

    _, _, hw, hdone, hcount = _damped_newton_ascent(phi_w(hermite), d, newton_steps, tol)
    hb_true = flat_b0(game, hw)
    out["hermite_converged"] = hdone
    out["hermite_steps"] = hcount
    out["hermite_w"] = hw
    out["hermite_grad_norm"] = jnp.linalg.norm(flat_b0(hermite, hw))
    out["hermite_true_grad_norm"] = jnp.linalg.norm(hb_true)
    out["hermite_true_escape_slope"] = jnp.dot(hb_true[2:], d)

    def best_response(t):
        omega = game.best_response(theta1, t)
        b = ravel_state(game.vector_field(population=True)((Linear(t, theta1), omega)))[0]
        return jnp.linalg.norm(b[2:]), -b[0]  # flat θ order is (θ₂, θ₁); b0_θ = −∂Φ/∂θ

    out["br_omega_grad_norm"], out["br_theta2_grad"] = jax.vmap(best_response)(t)
    return out


def lq_degenerate_stationary_points(
    m: float = 1.0,
    sigma: float = 1.0,
    theta1: float | None = None,
    scales: ArrayLike = _DEFAULT_SCALES,
    newton_steps: int = 30,
    hermite_nodes: int = 20,
    tol: float = 1e-10,
    best_response_theta2: ArrayLike = _DEFAULT_BR_THETA2,
) -> LQDegenerateAnalysis:
    r"""Does the linear–quadratic Gaussian GAN (Mounjid–Guo §2) have the non-optimal stationary
    points θ₂ = 0, θ₁ = −w₂/w₃ at finite w? Numerically, with validated quadrature: **no**, for any
    m and σ > 0 (see `LinearQuadraticGaussian` for the proof via the escape direction d); ‖b0‖ → 0
    only as ‖w‖ → ∞. Fixed-node Gauss–Hermite reports a spurious finite root. Returns an
    `LQDegenerateAnalysis` of the numbers (GAN loss; θ₁ defaults to m, where the data density is
    largest). One compilation serves every (m, σ, θ₁). Requires float64
    (`jax.config.update("jax_enable_x64", True)`).

    Example: `r = lq_degenerate_stationary_points(m=1.0, sigma=1.0)`; then
    `r.finite_w_root_found` is False, `r.path_b0_norm` decreases to 7e-4 at ‖w‖ = 1.5e8, and
    `r.hermite_converged` is True with `r.hermite_true_grad_norm` ≈ 0.29.
    """
    check_positive("sigma", sigma)
    check_int_at_least("newton_steps", newton_steps, 1)
    check_int_at_least("hermite_nodes", hermite_nodes, 1)
    check_positive("tol", tol)
    theta1 = float(m if theta1 is None else theta1)
    dtype = jnp.result_type(float)
    scales = jnp.asarray(scales, dtype)
    t = jnp.asarray(best_response_theta2, dtype)
    check_positive("scales", np.asarray(scales))
    check_positive("best_response_theta2", np.asarray(t))
    out = _degenerate_arrays(
        jnp.asarray(m, dtype),
        jnp.asarray(sigma, dtype),
        jnp.asarray(theta1, dtype),
        scales,
        t,
        newton_steps,
        hermite_nodes,
        jnp.asarray(tol, dtype),
    )
    out = {k: np.asarray(v) for k, v in out.items()}
    for k in ("finite_w_root_found", "hermite_converged"):
        out[k] = bool(out[k])
    out["hermite_steps"] = int(out["hermite_steps"])
    for k in ("hermite_grad_norm", "hermite_true_grad_norm", "hermite_true_escape_slope"):
        out[k] = float(out[k])
    return LQDegenerateAnalysis(
        m=float(m),
        sigma=float(sigma),
        theta1=theta1,
        tol=float(tol),
        scales=np.asarray(scales),
        hermite_nodes=int(hermite_nodes),
        br_theta2=np.asarray(t),
        **out,
    )
