"""Mounjid & Guo 2021 §3 (gradient descent diverges iff η > 2/a, eq. 11) on the paper's own §2
model (closed-form best response) and on a network layer (`analysis.LayerDescentMember`), and
the summary of such runs (`analysis.layer_descent_summary`, `layer_descent_agreement`)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from jax.flatten_util import ravel_pytree

from ganflow.analysis import (
    LayerDescentMember,
    layer_descent_agreement,
    layer_descent_summary,
)
from ganflow.engine import RESULTS
from ganflow.games import GaussianMLPGame, LinearQuadraticGaussian
from ganflow.training import layer_loss, layer_names


def _game(key, n=64, width=3, depth=1):
    return GaussianMLPGame(3.0 + jax.random.normal(key, (n,)), "nsgan", width, depth, "tanh")


def test_layer_descent_member_curvature_and_rate(getkey):
    """`LayerDescentMember.init`: a and λ_min of a layer's block equal the dense eigenvalues of
    the layer's Hessian, and η = factor · 2/a."""
    game = _game(getkey(), depth=1, width=3)
    x = game.init(getkey())
    data, z = game.train[:32], jax.random.normal(getkey(), (32,))
    member = LayerDescentMember(game, data, z, 16)

    @jax.jit
    def dense_and_member(x):
        out = {}
        for layer in layer_names(game.depth + 1):
            loss, v0 = layer_loss(game, x, layer, (data, z))
            st = member.init(jax.random.key(0), {"layer": layer, "factor": 0.9}, x)
            out[layer] = (jnp.linalg.eigvalsh(jax.hessian(loss)(v0)), st["a_min"], st["a_max"],
                          st["eta"])
        return out

    for ev, a_min, a_max, eta in dense_and_member(x).values():
        np.testing.assert_allclose([a_min, a_max], [ev[0], ev[-1]], rtol=1e-8, atol=1e-12)
        if ev[-1] > 1e-6 * np.max(np.abs(ev)):
            np.testing.assert_allclose(eta, 0.9 * 2.0 / ev[-1], rtol=1e-8)
        else:
            assert eta == 0.0


def test_explosion_threshold_on_the_lq_gaussian_discriminator():
    r"""§3 on the paper's §2 model: −Φ(θ, ·) is convex in w (Mounjid–Guo §2); at the best
    response w*(θ) (closed form) with a = λ_max(∇²_w(−Φ)), gradient descent on w started at
    w* + ε q_max shrinks the error by |1 − ηa| per step for η < 2/a and grows it for η > 2/a
    (eq. 11)."""
    game = LinearQuadraticGaussian(m=3.0, sigma=1.0, quadrature="hermite", num_nodes=60)
    theta = game.make_state(2.5, 0.8, 0.0, 0.0, 0.0)[0]
    w_star = game.best_response(theta.bias, theta.weight)
    flat, unravel = ravel_pytree(w_star)
    pop = game.objective(population=True)

    def loss(v):
        return -pop.discriminator_value(theta, unravel(v))

    assert float(jnp.linalg.norm(jax.grad(loss)(flat))) < 1e-8  # the best response is optimal
    ev, vecs = np.linalg.eigh(np.asarray(jax.hessian(loss)(flat)))
    assert ev[0] > 0  # strictly convex in w
    a, q = ev[-1], vecs[:, -1]
    step = jax.jit(lambda v, eta: v - eta * jax.grad(loss)(v))
    for factor in (0.9, 1.1):
        eta = factor * 2.0 / a
        v = flat + 1e-4 * q
        errs = []
        for _ in range(8):
            v = step(v, eta)
            errs.append(float(np.linalg.norm(np.asarray(v - flat))))
        rate = (errs[-1] / errs[2]) ** (1 / 5)
        np.testing.assert_allclose(rate, abs(1.0 - eta * a), rtol=2e-2)
        assert (rate > 1.0) == (factor > 1.0)


def test_top_mode_of_the_discriminator_output_layer_follows_eq_11(getkey):
    """On a network layer with a positive semidefinite block (the discriminator's output
    layer: a logistic regression on the features), moved to the layer's minimiser (Newton) and
    nudged along the top Ritz vector, the gradient's component along that vector is multiplied
    by 1 − ηa per step: it shrinks for η < 2/a and grows for η > 2/a (eq. 11). The generator's
    output is shifted onto the data so that real and fake overlap (a finite minimiser)."""
    game = _game(getkey(), depth=1, width=3)
    gen, disc = game.init(getkey())
    x = (eqx.tree_at(lambda m: m.layers[-1].bias, gen, jnp.full_like(gen.layers[-1].bias, 3.0)),
         disc)
    data, z = game.train[:64], jax.random.normal(getkey(), (64,))
    layer = "discriminator/1"
    member = LayerDescentMember(game, data, z, 8)

    @jax.jit
    def rates(x):
        loss, v = layer_loss(game, x, layer, (data, z))
        v = jax.lax.fori_loop(  # Newton to the minimiser of the convex layer loss
            0, 30, lambda _, v: v - jnp.linalg.solve(jax.hessian(loss)(v), jax.grad(loss)(v)), v)
        _, unravel = ravel_pytree(x[1].layers[1])
        out = []
        for factor in (0.9, 1.1):
            params = {"layer": layer, "factor": factor}
            xm = (x[0], eqx.tree_at(lambda m: m.layers[1], x[1], unravel(v)))
            st = member.init(jax.random.key(1), params, xm)
            st = {**st, "v": st["v"] + 1e-4 * st["q"]}
            c0 = member.observe(st, params)["top_component"]
            for t in range(4):
                st = member.step(st, None, t, params)
            c4 = member.observe(st, params)["top_component"]
            out.append((jnp.abs(c4 / c0) ** 0.25, st["a_min"] / st["a_max"],
                        jnp.linalg.norm(jax.grad(loss)(v))))
        return out

    for factor, (rate, ratio, grad_norm) in zip((0.9, 1.1), rates(x)):
        assert grad_norm < 1e-8 and ratio > -1e-8  # at the minimum; a PSD block
        np.testing.assert_allclose(rate, abs(1 - 2 * factor), rtol=1e-3)


def test_summary_and_agreement_by_hand():
    """Two seeds, one layer, factors 0.5 and 2: seed 0 has a > 0 and its top mode follows
    |1 − 2·factor| (0 and 3 per step); seed 1 has no positive curvature."""
    steps = np.array([0, 1, 2])
    top = np.array([[[[1.0, 0.0, 0.0], [1.0, 3.0, 9.0]]], [[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]]])
    loss = np.array([[[[1.0, 0.5, 0.4], [1.0, 5.0, 50.0]]], [[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]]])
    gn = np.abs(top) + 1.0
    const = lambda v: np.broadcast_to(np.asarray(v)[:, None, None, None], (2, 1, 2, 3))  # noqa: E731
    dims4 = ("seed", "layer", "factor", "step")
    ds = xr.Dataset(
        {"loss": (dims4, loss), "grad_norm": (dims4, gn), "top_component": (dims4, top),
         "a_max": (dims4, const([2.0, -1.0])), "a_min": (dims4, const([0.5, -3.0])),
         "eta": (dims4, const([1.0, 0.0])),
         "status": (("seed", "layer", "factor"),
                    np.full((2, 1, 2), int(RESULTS.successful)))},
        coords={"seed": [0, 1], "layer": ["discriminator/1"], "factor": [0.5, 2.0],
                "step": steps})
    sm = layer_descent_summary(ds)
    np.testing.assert_array_equal(sm["positive"].values[:, 0, 0], [True, False])
    np.testing.assert_allclose(sm["top_rate"].values[0, 0], [0.0, 3.0])
    np.testing.assert_array_equal(sm["unstable"].values[0, 0], [False, True])
    np.testing.assert_array_equal(sm["exploded"].values[0, 0], [False, True])
    np.testing.assert_array_equal(sm["predicted"].values[:, 0], [[False, True], [False, False]])
    assert not sm["exploded"].values[1].any()  # no 2/a: never counted
    t = layer_descent_agreement(sm)["discriminator/1"]
    assert t["positive"] == 1 and t["n"] == 2
    assert t["agree_local"] == t["agree"] == 1.0
    assert t["below"] == 0.0 and t["above"] == 1.0
    assert t["ratio"] == 0.25
