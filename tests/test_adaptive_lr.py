"""The Mounjid–Guo adaptive learning rate (§3, §4.1, eq. 15, eq. 20), against dense Hessians and
the quadratic example of §3."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

import ganflow as gf
from ganflow import training as tr
from ganflow.dynamics import Objective, vector_field


def _mlp_loss():
    model = gf.models.MLP.init(jax.random.key(0), 2, None, 4, 1, activation=jnp.tanh)
    xs = jax.random.normal(jax.random.key(1), (7, 2))
    ys = jax.random.normal(jax.random.key(2), (7,))

    def loss(m):
        return jnp.mean((jax.vmap(m)(xs) - ys) ** 2) + 0.3 * jnp.mean(jax.vmap(m)(xs) ** 4)

    return model, loss


@pytest.mark.parametrize("groups", ["leaf", "all", "labels"])
def test_u_from_hvp_equals_dense_hessian(groups):
    model, loss = _mlp_loss()
    g = jax.grad(loss)(model)
    hvp = lambda v: jax.jvp(jax.grad(loss), (model,), (v,))[1]  # noqa: E731
    flat_p, unravel = ravel_pytree(model)
    H = np.asarray(jax.jit(jax.hessian(lambda v: loss(unravel(v))))(flat_p))
    gf_ = np.asarray(ravel_pytree(g)[0])
    sizes = [a.size for a in jax.tree_util.tree_leaves(model)]
    leaf_of = np.repeat(np.arange(len(sizes)), sizes)
    if groups == "leaf":
        group_of, spec = leaf_of, "leaf"
    elif groups == "all":
        group_of, spec = np.zeros_like(leaf_of), "all"
    else:  # one group per layer: weight and bias together
        labels = [0, 0, 1, 1]
        group_of = np.asarray(labels)[leaf_of]
        spec = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(model), labels)
    eta_bar, u_max = 0.05, 50.0
    u, factors = jax.jit(lambda g: tr.mounjid_guo_u(g, hvp, eta_bar, u_max, spec))(g)
    want = []
    for k in range(group_of.max() + 1):
        m = group_of == k
        gk = gf_[m]
        quad = eta_bar * gk @ H[np.ix_(m, m)] @ gk  # ḡᵀ H_ii ḡ, ḡ = sqrt(η̄) g
        want.append(min(gk @ gk / quad, u_max) if quad > 0 else u_max)
    np.testing.assert_allclose(u, want, rtol=1e-10)
    np.testing.assert_allclose(ravel_pytree(factors)[0], np.asarray(want)[group_of], rtol=1e-10)
    assert len(want) == {"leaf": 4, "all": 1, "labels": 2}[groups]


def test_gd_diverges_beyond_two_over_a_adaptive_does_not():
    """§3: GD on (a/2)x² + bx has e_{n+1} = (1 − ηa)² e_n; for η > 2/a it blows up. The adaptive
    rate gives η̄u = 1/a (Newton's step) whenever u_max ≥ 1/(η̄a)."""
    a, bb = 4.0, -2.0
    x_star = -bb / a
    eta = 0.6  # > 2/a = 0.5
    obj = Objective(lambda x, w: 0.5 * a * x**2 + bb * x, lambda x, w: -0.5 * w**2)
    field = vector_field(obj)
    x0 = (jnp.asarray(3.0), jnp.asarray(1.0))
    plain = tr.SimultaneousGDA(field, (optax.sgd(eta), optax.sgd(0.5)))
    s, e = plain.init(x0), [(3.0 - x_star) ** 2]
    for _ in range(10):
        s = plain.step(s)
        e.append(float((s.x[0] - x_star) ** 2))
    np.testing.assert_allclose(np.array(e[1:]) / np.array(e[:-1]), (1 - eta * a) ** 2, rtol=1e-10)
    assert e[-1] > 500 * e[0]
    adaptive = tr.SimultaneousGDA(field, (tr.mounjid_guo(eta, u_max=1.0), optax.sgd(0.5)))
    s = adaptive.step(adaptive.init(x0))
    np.testing.assert_allclose(s.x[0], x_star, rtol=1e-14)  # u = 1/(η̄a): one Newton step
    np.testing.assert_allclose(s.opt_state[0][0].u, [1.0 / (eta * a)], rtol=1e-14)
    # a cap below 1/(η̄a) still converges as long as η̄ u_max < 2/a
    capped = tr.SimultaneousGDA(field, (tr.mounjid_guo(eta, u_max=0.6), optax.sgd(0.5)))
    sol = tr.run(capped, (x0[0][None], x0[1][None]), 60, x_star=(x_star, 0.0), tol=1e-10)
    assert sol.status_names == ["converged"]


def test_signs_per_player_and_nonconvex_cap():
    """The maximising player uses −H: on Φ_D = −(c/2)ω² + dω its descent loss has Hessian c > 0,
    so u = 1/(η̄c) and ω jumps to d/c. On a concave generator loss (H < 0) u = u_max."""
    c, d = 5.0, 1.5
    obj = Objective(lambda x, w: -(x**2) / 2, lambda x, w: -0.5 * c * w**2 + d * w)
    field = vector_field(obj)
    eta, u_max = 0.9, 3.0
    scheme = tr.SimultaneousGDA(field, tr.mounjid_guo(eta, u_max=u_max))
    s = scheme.step(scheme.init((jnp.asarray(0.2), jnp.asarray(-1.0))))
    np.testing.assert_allclose(s.x[1], d / c, rtol=1e-14)
    np.testing.assert_allclose(s.opt_state[1][0].u, [1.0 / (eta * c)], rtol=1e-14)
    np.testing.assert_allclose(s.opt_state[0][0].u, [u_max])  # ḡᵀHḡ < 0 → u_max
    np.testing.assert_allclose(s.x[0], 0.2 + eta * u_max * 0.2, rtol=1e-14)


def test_newton_limit_eq15():
    """`newton=True`: per coordinate u_j = 1/(η̄ ∂²_jj ℓ) ∧ u_max (eq. 15), checked against the
    dense Hessian's diagonal; on a diagonal quadratic one step lands on the minimiser."""
    A = jnp.asarray([[3.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, -2.0]])
    loss = lambda p: 0.5 * p["v"] @ A @ p["v"] + p["s"] ** 2 * 2.0  # noqa: E731
    params = {"v": jnp.asarray([1.0, -1.0, 0.5]), "s": jnp.asarray(0.7)}
    g = jax.grad(loss)(params)
    hvp = lambda v: jax.jvp(jax.grad(loss), (params,), (v,))[1]  # noqa: E731
    eta, u_max = 0.1, 20.0
    u, _ = jax.jit(lambda g: tr.mounjid_guo_u(g, hvp, eta, u_max, newton=True))(g)
    diag = np.array([4.0, 3.0, 1.0, -2.0])  # ravel order: "s" then "v"
    want = np.where(diag > 0, np.minimum(1 / (eta * np.where(diag > 0, diag, 1)), u_max), u_max)
    np.testing.assert_allclose(ravel_pytree(u)[0], want, rtol=1e-12)
    D = jnp.asarray([2.0, 0.5])
    quad = lambda x, w: 0.5 * jnp.sum(D * (x - 1.0) ** 2)  # noqa: E731
    field = vector_field(Objective(quad, lambda x, w: -(w**2)))
    sch = tr.SimultaneousGDA(field, (tr.mounjid_guo(0.01, 1e3, newton=True), optax.sgd(0.1)))
    s = jax.jit(sch.step)(sch.init((jnp.asarray([4.0, -3.0]), jnp.asarray(0.0))))
    np.testing.assert_allclose(s.x[0], [1.0, 1.0], rtol=1e-14)


def test_hvp_required_and_bad_arguments():
    t = tr.scale_by_mounjid_guo(0.1)
    st = t.init(jnp.ones(2))
    with pytest.raises(ValueError, match="hvp"):
        t.update(jnp.ones(2), st, jnp.ones(2))
    with pytest.raises(ValueError, match="u_max"):
        tr.scale_by_mounjid_guo(0.1, u_max=0.0)
    with pytest.raises(ValueError, match="eta_bar"):
        tr.mounjid_guo(-1.0)
    with pytest.raises(ValueError, match="groups"):
        tr.scale_by_mounjid_guo(0.1, groups="layers")
    with pytest.raises(ValueError, match="label"):
        tr.mounjid_guo_u(
            {"a": jnp.ones(2), "b": jnp.ones(1)}, lambda v: v, 0.1, 1.0, groups={"a": 0}
        )
