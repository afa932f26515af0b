"""Weak-error orders (Cao–Guo Theorems 1, 2 and Remark 1) against closed-form maths.

- Deterministic: the R1-regularised Dirac-GAN (γ = 1, GAN loss) from (θ, ψ) = (1, 1) to T = 2,
  η = 0.1 / 2^j: GD iterates against diffrax solutions of the gradient flow and of the modified
  equations (13) and (10) (float64, rtol = atol = 1e-12).
- Stochastic: a linear–quadratic game with Gaussian data whose minibatch SGA moments and whose
  SDE moments (an Ornstein–Uhlenbeck-type linear SDE with multiplicative noise) are exact: first
  and second moments follow closed linear recursions / a linear ODE solved with `expm`. No Monte
  Carlo in the exact test; a second test samples the discrete scheme and fits the order with the
  propagated Monte Carlo errors and a bootstrap.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from scipy.linalg import expm

import ganflow as gf
from ganflow.analysis import (
    deterministic_weak_error,
    fit_order,
    student_t_quantile,
    weak_error,
)

_tmap = jax.tree_util.tree_map

# ---------------------------------------------------------------------------------------------
# Deterministic orders on the R1 Dirac-GAN


def _r1_dirac(gamma=1.0):
    game = gf.DiracGAN("gan")
    pop = game.objective(population=True)

    def phi(theta, omega):
        return pop.discriminator_value(theta, omega) - 0.5 * gamma * omega.psi**2

    return game, phi


def _simultaneous(b):
    def step(x, eta):
        return _tmap(lambda a, v: a + eta * v, x, b(x))

    return step


def _alternating(phi):
    """Cao–Guo eq. 5, discriminator first (docs/conventions.md §Discrete schemes)."""

    def step(x, eta):
        theta, omega = x
        omega = _tmap(lambda a, v: a + eta * v, omega, gf.discriminator_grad(phi, theta, omega))
        theta = _tmap(lambda a, v: a - eta * v, theta, gf.generator_grad(phi, theta, omega))
        return theta, omega

    return step


ETAS_DET = 0.1 / 2.0 ** np.arange(6)


@pytest.mark.parametrize(
    "scheme, modified, order",
    [
        ("simultaneous", None, 1.0),
        ("simultaneous", "simultaneous", 2.0),
        ("alternating", None, 1.0),
        ("alternating", "alternating", 2.0),
        ("alternating", "simultaneous", 1.0),
    ],
)
def test_deterministic_orders_r1_dirac(scheme, modified, order):
    game, phi = _r1_dirac(1.0)
    b = gf.vector_field(phi)
    step = _simultaneous(b) if scheme == "simultaneous" else _alternating(phi)
    x0 = game.make_state(1.0, 1.0)
    res = deterministic_weak_error(step, b, x0, ETAS_DET, 2.0, modified=modified)
    assert abs(float(res.slope) - order) < 0.1, (float(res.slope), res.errors)
    # The errors halve (order 1) or quarter (order 2) with η: check the last ratio too.
    last = float(res.errors[-2] / res.errors[-1])
    assert abs(last - 2.0**order) < 0.1 * 2.0**order
    lo, hi = (float(v) for v in res.ci)
    assert lo < float(res.slope) < hi and hi - lo < 0.05


def test_deterministic_error_matches_closed_form_linear_flow():
    """x' = −x: GD x_k = (1−η)^k x0, flow e^{−kη} x0; e(η) = max_k |(1−η)^k − e^{−kη}|."""
    x0 = (jnp.array(1.0), jnp.array(0.0))

    def b(x):
        return _tmap(jnp.negative, x)

    res = deterministic_weak_error(_simultaneous(b), b, x0, [0.2, 0.1, 0.05], 1.0)
    for eta, err in zip([0.2, 0.1, 0.05], np.asarray(res.errors)):
        k = np.arange(1, int(round(1.0 / eta)) + 1)
        assert err == pytest.approx(np.max(np.abs((1 - eta) ** k - np.exp(-k * eta))), rel=1e-9)


# ---------------------------------------------------------------------------------------------
# Stochastic orders with exact moments


A, C = 1.0, 0.5  # Φ = (a/2)(1+u)θ² + θω − (c/2)(1+v)ω² + pθ + qω per example
SU, SV, SP, SQ = 0.8, 0.6, 1.0, 0.7  # data: u, v, p, q ~ N(0, s²) independent
BATCH = 4
X0 = np.array([1.0, -0.5])
J = np.array([[-A, -1.0], [1.0, -C]])  # b0 = J x
# ∇_ω g_θ g_ω = (θ − cω, 0): b1 = −½ J b0 − (θ − cω, 0)   (Cao–Guo eq. 10)
B1 = -0.5 * J @ J - np.array([[1.0, -C], [0.0, 0.0]])
F = np.array([[1.0, 1.0], [1.0, 3.0]])  # test function f = xᵀF x + gᵀx
G = np.array([1.0, -1.0])


def _f_expectation(m, S):
    return np.trace(F @ S) + G @ m


def _step_matrices(eta, scheme):
    """One SGA step is x' = (A0 + ū A_u + v̄ A_v) x + p̄ e_p + q̄ e_q with independent minibatch
    means ū, v̄, p̄, q̄ ~ N(0, s²/B) (eq. 7; eq. 6 with independent batches per player)."""
    if scheme == "simultaneous":
        a0 = np.eye(2) + eta * J
        av = np.array([[0.0, 0.0], [0.0, -eta * C]])
        eq = np.array([0.0, eta])
    else:  # ω first, then θ at the new ω
        a0 = np.array([[1 - eta * A - eta**2, -eta * (1 - eta * C)], [eta, 1 - eta * C]])
        av = np.array([[0.0, eta**2 * C], [0.0, -eta * C]])
        eq = np.array([-(eta**2), eta])
    au = np.array([[-eta * A, 0.0], [0.0, 0.0]])
    ep = np.array([-eta, 0.0])
    return a0, au, av, ep, eq


def _discrete_moments(eta, scheme, k):
    a0, au, av, ep, eq = _step_matrices(eta, scheme)
    m, S = X0.copy(), np.outer(X0, X0)
    out = []
    for _ in range(k):
        m = a0 @ m
        S = (
            a0 @ S @ a0.T
            + SU**2 / BATCH * au @ S @ au.T
            + SV**2 / BATCH * av @ S @ av.T
            + SP**2 / BATCH * np.outer(ep, ep)
            + SQ**2 / BATCH * np.outer(eq, eq)
        )
        out.append(_f_expectation(m, S))
    return np.array(out)


def _sde_moments(eta, drift, k):
    """dX = K X dt + sqrt(η/B) diag(Σ_θ, Σ_ω)^{1/2} dW with Σ_θ = a²s_u²θ² + s_p²,
    Σ_ω = c²s_v²ω² + s_q²: m' = K m, S' = K S + S Kᵀ + (η/B) diag(...), exact via expm."""
    gen = np.zeros((7, 7))
    gen[:2, :2] = drift
    gen[2:6, 2:6] = np.kron(drift, np.eye(2)) + np.kron(np.eye(2), drift)
    s = eta / BATCH
    gen[2, 2] += s * A**2 * SU**2
    gen[2, 6] += s * SP**2
    gen[5, 5] += s * C**2 * SV**2
    gen[5, 6] += s * SQ**2
    prop = expm(gen * eta)
    z = np.concatenate([X0, np.outer(X0, X0).ravel(), [1.0]])
    out = []
    for _ in range(k):
        z = prop @ z
        out.append(_f_expectation(z[:2], z[2:6].reshape(2, 2)))
    return np.array(out)


ETAS_ST = 0.1 / 2.0 ** np.arange(6)
T_ST = 2.0


@pytest.mark.parametrize(
    "scheme, sde, order",
    [
        ("simultaneous", "eq9", 1.0),
        ("alternating", "eq10", 2.0),
        ("simultaneous", "eq13", 2.0),
        ("alternating", "eq9", 1.0),
    ],
)
def test_stochastic_orders_exact_moments(scheme, sde, order):
    disc, ref = [], []
    for eta in ETAS_ST:
        k = int(np.floor(T_ST / eta + 1e-9))
        drift = {"eq9": J, "eq10": J + eta * B1, "eq13": J - 0.5 * eta * J @ J}[sde]
        disc.append(_discrete_moments(eta, scheme, k))
        ref.append(_sde_moments(eta, drift, k))
    res = weak_error(ETAS_ST, disc, ref)
    assert np.all(np.asarray(res.stderrs) == 0.0)
    assert abs(float(res.slope) - order) < 0.05, (float(res.slope), res.errors)


def test_b1_of_linear_game_matches_ganflow():
    """The closed-form b1 used above equals ganflow's b1 (Cao–Guo eq. 10) on Φ."""
    phi = lambda t, w: 0.5 * A * t**2 + t * w - 0.5 * C * w**2
    x = (jnp.array(0.3), jnp.array(-1.2))
    got = np.array(gf.b1(gf.vector_field(phi), x))
    assert np.allclose(got, B1 @ np.array([0.3, -1.2]), rtol=1e-12, atol=1e-14)


def _simulate_f(eta, k, num_seeds, key):
    """Monte Carlo f(x_k) of simultaneous SGA (eq. 7) with Gaussian minibatch means."""
    a0, au, av, ep, eq = (jnp.asarray(m) for m in _step_matrices(eta, "simultaneous"))
    sd = jnp.array([SU, SV, SP, SQ]) / np.sqrt(BATCH)

    def step(x, key):
        u, v, p, q = sd[:, None] * jax.random.normal(key, (4, num_seeds))
        x = x @ a0.T + u[:, None] * (x @ au.T) + v[:, None] * (x @ av.T)
        x = x + p[:, None] * ep + q[:, None] * eq
        f = jnp.einsum("si,ij,sj->s", x, jnp.asarray(F), x) + x @ jnp.asarray(G)
        return x, f

    x = jnp.broadcast_to(jnp.asarray(X0), (num_seeds, 2))
    _, fs = jax.lax.scan(step, x, jax.random.split(key, k))
    return np.asarray(fs).T  # (seeds, k)


def test_stochastic_order_monte_carlo(getkey):
    """Sampled SGA against exact SDE moments: order 1 lies in the fitted intervals (t-interval
    with propagated Monte Carlo errors, and a bootstrap over seeds)."""
    etas = 0.1 / 2.0 ** np.arange(4)
    disc, ref = [], []
    for eta in etas:
        k = int(np.floor(T_ST / eta + 1e-9))
        disc.append(_simulate_f(eta, k, 20_000, getkey()))
        ref.append(_sde_moments(eta, J, k))
    res = weak_error(etas, disc, ref, key=getkey(), num_bootstrap=200)
    assert np.all(np.asarray(res.stderrs) > 0)
    assert np.all(np.asarray(res.errors) > 3 * np.asarray(res.stderrs))
    assert res.consistent_with(1.0), (float(res.slope), res.ci, res.ci_bootstrap)
    assert not res.consistent_with(2.0)
    assert abs(float(res.slope) - 1.0) < 0.15


# ---------------------------------------------------------------------------------------------
# The regression itself and bad input


def test_fit_order_matches_scipy_linregress():
    etas = np.array([0.1, 0.05, 0.025, 0.0125, 0.00625])
    rng = np.random.default_rng(0)
    errors = 3.0 * etas**1.7 * np.exp(0.05 * rng.standard_normal(5))
    res = fit_order(etas, errors, confidence=0.9)
    lr = stats.linregress(np.log(etas), np.log(errors))
    assert float(res.slope) == pytest.approx(lr.slope, rel=1e-12)
    assert float(res.intercept) == pytest.approx(lr.intercept, rel=1e-12)
    assert float(res.slope_se) == pytest.approx(lr.stderr, rel=1e-10)
    half = stats.t.ppf(0.95, 3) * lr.stderr
    assert np.allclose(np.asarray(res.ci), [lr.slope - half, lr.slope + half], rtol=1e-10)


def test_fit_order_propagates_monte_carlo_errors():
    """Exact power law (no residual): the slope se is the propagated δ = se/e alone."""
    etas = np.array([0.1, 0.05])
    errors = 2.0 * etas
    se = 0.01 * errors
    res = fit_order(etas, errors, se)
    # slope = (log e1 − log e2)/(log η1 − log η2): var = 2 (0.01)² / log(2)²
    assert float(res.slope) == pytest.approx(1.0, abs=1e-12)
    assert float(res.slope_se) == pytest.approx(np.sqrt(2) * 0.01 / np.log(2), rel=1e-12)


@pytest.mark.parametrize("q, dof", [(0.975, 1), (0.975, 4), (0.95, 3), (0.9, 30), (0.99, 2.5)])
def test_student_t_quantile(q, dof):
    assert student_t_quantile(q, dof) == pytest.approx(stats.t.ppf(q, dof), rel=1e-10)
    assert student_t_quantile(1 - q, dof) == pytest.approx(stats.t.ppf(1 - q, dof), rel=1e-10)
    assert student_t_quantile(q, np.inf) == pytest.approx(stats.norm.ppf(q), rel=1e-10)


def test_bad_input():
    b = lambda x: _tmap(jnp.negative, x)
    x0 = (jnp.array(1.0), jnp.array(0.0))
    step = _simultaneous(b)
    with pytest.raises(ValueError, match="eta"):
        deterministic_weak_error(step, b, x0, [0.1, -0.05], 1.0)
    with pytest.raises(ValueError, match="eta"):
        fit_order([0.1, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="at least 2"):
        deterministic_weak_error(step, b, x0, [0.1], 1.0)
    with pytest.raises(ValueError, match="at least 2"):
        weak_error([0.1], [np.ones(3)], [np.ones(3)])
    with pytest.raises(ValueError, match="T"):
        deterministic_weak_error(step, b, x0, [0.1, 0.05], 0.0)
    with pytest.raises(ValueError, match="<= T"):
        deterministic_weak_error(step, b, x0, [2.0, 0.05], 1.0)
    with pytest.raises(ValueError, match="modified"):
        deterministic_weak_error(step, b, x0, [0.1, 0.05], 1.0, modified="euler")
    with pytest.raises(ValueError, match="same steps"):
        weak_error([0.1, 0.05], [np.ones(3), np.ones(4)], [np.ones(3), np.ones(5)])
    with pytest.raises(ValueError, match="> 0"):
        fit_order([0.1, 0.05], [1.0, 0.0])
