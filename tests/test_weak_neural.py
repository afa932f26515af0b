"""The weak-error machinery for neural GANs (Cao–Guo 2020, Theorems 1–2, eqs. 9, 10): the
Heun-predictor drift, the control-variate adjoints, the members against the library's
schemes, the summary helpers and the weak-order figure (float64)."""

import jax
import jax.numpy as jnp
import numpy as np

from ganflow.analysis import (
    WEAK_PROCESSES,
    WEAK_TEST_FUNCTIONS,
    WeakErrorMember,
    bootstrap_error_slopes,
    local_slope_medians,
    neural_setting,
    weak_adjoints,
)
from ganflow.continuous import HeunDrift, sde_ensemble
from ganflow.engine import Sweep, run_ensemble
from ganflow.training import sgda_ensemble

_tmap = jax.tree_util.tree_map

TEST_FUNCTIONS, PROCESSES = WEAK_TEST_FUNCTIONS, WEAK_PROCESSES


def _tiny_setting():
    return neural_setting(jax.random.key(3), width=4, depth=1, latent_dim=2,
                          activation="tanh", num_examples=8, num_latents=16)


def test_heun_drift_is_heuns_method():
    """Euler with the Heun-predictor drift is Heun's method: on ẋ = a x one step multiplies by
    1 + ah + (ah)²/2 exactly (the exponential to O(h³))."""
    a, h = -1.3, 0.1
    drift = HeunDrift(lambda x: (a * x[0], a * x[1]), h)
    x = (jnp.asarray(0.7), jnp.asarray(-0.2))
    b = drift(x)
    for xi, bi in zip(x, b):
        np.testing.assert_allclose(xi + h * bi, xi * (1 + a * h + (a * h) ** 2 / 2), rtol=1e-14)


def test_adjoints_are_derivatives_of_the_noise_free_path():
    """The control-variate coefficients a_k = ∂f(x̄_K)/∂u_k equal central finite differences of
    the noise-free simultaneous GDA path x̄_{k+1} = x̄_k + η b0(x̄_k) + u_k (float64)."""
    s = _tiny_setting()
    eta, T = 0.2, 0.8
    tables, values = weak_adjoints(s, (eta,), T, "simultaneous", "sgda", 1, 2)
    b0 = s.field
    K = 4

    def path(us):
        x = s.x0
        snaps = []
        for k in range(K):
            x = _tmap(lambda a, b, u: a + eta * b + u, x, b0(x, s.data), us[k])
            if k + 1 in (2, 4):
                snaps.append(s.tests(x))
        return jnp.stack(snaps)

    path = jax.jit(path)
    zero = [_tmap(jnp.zeros_like, s.x0) for _ in range(K)]
    np.testing.assert_allclose(values[0], path(zero), rtol=1e-12, atol=1e-14)
    key = jax.random.key(0)
    for k in (0, 1, 3):
        leaves, tdef = jax.tree_util.tree_flatten(s.x0)
        ks = jax.random.split(jax.random.fold_in(key, k), len(leaves))
        d = jax.tree_util.tree_unflatten(
            tdef, [jax.random.normal(kk, a.shape) for kk, a in zip(ks, leaves)])
        eps = 1e-5
        up = [d if j == k else z for j, z in enumerate(zero)]
        dn = [_tmap(jnp.negative, d) if j == k else z for j, z in enumerate(zero)]
        scaled_up = [_tmap(lambda a: eps * a, u) for u in up]  # noqa: B023
        scaled_dn = [_tmap(lambda a: eps * a, u) for u in dn]  # noqa: B023
        fd = (path(scaled_up) - path(scaled_dn)) / (2 * eps)
        table_k = _tmap(lambda a, k=k: a[0, k], tables)  # (J·F, ...)
        pred = sum(jnp.tensordot(a, b, axes=b.ndim) for a, b in zip(
            jax.tree_util.tree_leaves(table_k), jax.tree_util.tree_leaves(d)))
        np.testing.assert_allclose(pred.reshape(fd.shape), fd, rtol=1e-6, atol=1e-9)


def test_alternating_members_follow_the_library_schemes():
    """A member's alternating SGDA path is `sgda_ensemble`'s (independent batches, eq. 6) and its
    SDE path is `sde_ensemble`'s for the SDE (10) of `cao_guo_sde` with the Heun drift, seed by
    seed (same keys); zero control-variate tables leave f untouched."""
    s = _tiny_setting()
    etas, T, B, m = (0.4,), 0.8, 4, 2
    L = {"sgda": 2, "sde": 4}

    def zeros(process):
        def z(tree):
            return _tmap(lambda a: jnp.zeros((1, L[process], 2 * len(TEST_FUNCTIONS)) + a.shape,
                                             a.dtype), tree)
        return (z(s.x0[1]), z(s.x0[0])) if process == "sgda" else z(s.x0)

    def make(process):
        return WeakErrorMember(s, zeros(process), etas, process, "alternating", T, B, m, 2)

    keys = jax.random.split(jax.random.key(9), 3)
    res = run_ensemble(make, Sweep(seeds=keys, axes={"eta": [0.4], "process": list(PROCESSES)}),
                       2)
    f = res.dataset["f"].isel(step=-1, eta=0).values  # (seed, process, J, F)
    sol = sgda_ensemble(s.game, s.x0, 0.4, B, 2, keys, scheme="alternating", data=s.data)
    ref = jax.vmap(s.tests)(_tmap(lambda a: a[:, -1], sol.xs))
    np.testing.assert_allclose(f[:, 0, -1], ref, rtol=1e-12, atol=1e-14)
    sde = make("sde").sde(0.4)
    so = sde_ensemble(sde, s.x0, 0.0, T, dt=0.2, keys=keys)
    ref = jax.vmap(s.tests)(_tmap(lambda a: a[:, -1], so.xs))
    np.testing.assert_allclose(f[:, 1, -1], ref, rtol=1e-12, atol=1e-14)
    assert np.all(res.dataset["cv"].values == 0)


def test_local_slope_medians_use_resolved_pairs_only():
    """The median local slope of an η pair is over the test functions resolved at both η; NaN
    where none is."""
    local = np.array([[1.0, 3.0], [2.0, 5.0], [np.nan, np.nan]])
    error = np.array([[1.0, 1.0], [0.5, 1.0], [0.25, 1.0]])
    se = np.array([[0.1, 0.1], [0.1, 0.1], [0.1, 1.0]])
    meds = local_slope_medians(local, error, se, 3.0)  # the second pair: 0.25 < 3·0.1, 1 < 3·1
    np.testing.assert_array_equal(meds, [2.0, np.nan])
    meds = local_slope_medians(local, error, np.full_like(error, 1.0), 3.0)
    assert np.all(np.isnan(meds))


def test_bootstrap_error_slopes_recover_an_exact_power_law():
    """Without seed noise (every seed equal) each resample gives the exact slope of
    e(η) = η²."""
    etas = [0.4, 0.2, 0.1]
    sgda = [np.full((5, 2), e**2) for e in etas]
    sde = [np.zeros((5, 2)) for _ in etas]
    slopes = bootstrap_error_slopes(etas, sgda, sde, np.random.default_rng(0), 7)
    assert slopes.shape == (7,)
    np.testing.assert_allclose(slopes, 2.0, rtol=1e-12)


def test_weak_orders_plot_draws_the_given_errors():
    """`weak_orders_plot` draws each test function's finite positive errors at their η and the
    fitted line of slope `orders[i]`; nothing to draw gives None."""
    from ganflow.plotting import weak_orders_plot

    etas = [0.4, 0.2, 0.1]
    errors = np.array([[0.16, 0.4], [0.04, np.nan], [0.01, 0.1]])
    stderrs = np.full_like(errors, 1e-3)
    fig = weak_orders_plot(etas, errors, stderrs, ["a", "b"], orders=[2.0, np.nan],
                           ci_low=[1.9, np.nan], ci_high=[2.1, np.nan], fit_max_eta=0.4)
    ax = fig.axes[0]
    lines = [c.lines[0] for c in ax.containers]  # the data line of each errorbar
    np.testing.assert_allclose(lines[0].get_xdata(), etas)
    np.testing.assert_allclose(lines[0].get_ydata(), errors[:, 0])
    np.testing.assert_allclose(lines[1].get_xdata(), [0.4, 0.1])
    np.testing.assert_allclose(lines[1].get_ydata(), [0.4, 0.1])
    fit = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 50][0]  # "a"'s: e = η²
    np.testing.assert_allclose(fit.get_ydata(), fit.get_xdata() ** 2, rtol=1e-12)
    assert "a: slope 2.000 [1.900, 2.100]" in ax.get_legend_handles_labels()[1]
    assert weak_orders_plot(etas, np.full((3, 1), np.nan), stderrs[:, :1], ["c"]) is None
