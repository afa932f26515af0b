"""The one-dimensional vanilla GAN of Mounjid & Guo 2021 §4 (`games.GaussianMLPGame`), the
per-layer groups of LSGD (`training.layer_groups`, eq. 20) against closed forms (per-layer u from
dense Hessian blocks, LSGD at the cap is SGD at u_max · lr, uncapped LSGD does not depend on the
base rate), the training member and its summary (`analysis.GANTrainingMember`,
`analysis.gan_training_summary`), `analysis.wasserstein1` against SciPy and the equilibrium
generator loss of the losses."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import xarray as xr
from jax.flatten_util import ravel_pytree

from ganflow.analysis import GANTrainingMember, gan_training_summary, wasserstein1
from ganflow.games import GaussianMLPGame
from ganflow.losses import get_loss
from ganflow.training import (
    layer_groups,
    layer_loss,
    layer_names,
    mounjid_guo,
    mounjid_guo_u,
    parse_layer_name,
)


def _game(key, n=64, width=3, depth=1, loss="nsgan"):
    data = 3.0 + jax.random.normal(key, (n,))
    return GaussianMLPGame(data, loss, width, depth, "tanh")


def _dense_layer_block(loss_of_player, player_model, i):
    """Dense Hessian of `loss_of_player(model)` with respect to layer i only."""
    v0, unravel = ravel_pytree(player_model.layers[i])

    def f(v):
        return loss_of_player(eqx.tree_at(lambda m: m.layers[i], player_model, unravel(v)))

    g = jax.grad(f)(v0)
    return g, jax.hessian(f)(v0)


# ---------------------------------------------------------------------------------------------
# the game


def test_game_players_sampling_and_metrics(getkey):
    game = _game(getkey(), n=50, width=4, depth=2)
    gen, disc = game.init(getkey())
    assert len(gen.layers) == 3 and len(disc.layers) == 3
    data, z = game.sample(getkey(), 7)
    assert data.shape == z.shape == (7,)
    assert np.all(np.isin(np.asarray(data), np.asarray(game.train)))  # drawn from the sample
    test, lat = 3.0 + jax.random.normal(getkey(), (40,)), jax.random.normal(getkey(), (40,))
    x = (gen, disc)
    acc = game.discriminator_accuracy(x, test, lat)
    real, fake = jax.vmap(disc)(test), jax.vmap(disc)(jax.vmap(gen)(lat))
    np.testing.assert_allclose(acc, 0.5 * np.mean(real > 0) + 0.5 * np.mean(fake <= 0))
    # nsgan: −mean log D(G(z)); the discriminator's binary cross-entropy
    np.testing.assert_allclose(game.generator_loss(x, test, lat),
                               np.mean(np.logaddexp(0.0, -np.asarray(fake))), rtol=1e-12)
    np.testing.assert_allclose(game.discriminator_loss(x, test, lat),
                               np.mean(np.logaddexp(0.0, -np.asarray(real)))
                               + np.mean(np.logaddexp(0.0, np.asarray(fake))), rtol=1e-12)
    with pytest.raises(ValueError, match="activation"):
        GaussianMLPGame(test, activation="sine")
    with pytest.raises(ValueError, match="1-D"):
        GaussianMLPGame(jnp.ones((3, 2)))


def test_equilibrium_generator_loss_from_the_loss():
    """The generator's loss at D ≡ ½: −f(0) = log 2 (nsgan), 2f(0) = −log 4 (gan), 0 (wgan)."""
    assert get_loss("nsgan").equilibrium_generator_loss() == pytest.approx(np.log(2.0))
    assert get_loss("gan").equilibrium_generator_loss() == pytest.approx(-np.log(4.0))
    assert get_loss("wgan").equilibrium_generator_loss() == 0.0


def test_wasserstein1_against_scipy(getkey):
    from scipy.stats import wasserstein_distance

    a = jnp.array([0.0, 3.0, 1.0])
    b = jnp.array([2.0, 1.0, 5.0])
    assert float(wasserstein1(a, b)) == pytest.approx((1 + 1 + 2) / 3)  # sorted pairs
    a = jax.random.normal(getkey(), (257,))
    b = 0.5 + 2.0 * jax.random.normal(getkey(), (257,))
    np.testing.assert_allclose(wasserstein1(a, b), wasserstein_distance(a, b), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# LSGD (eq. 20) per layer


def test_layer_groups_and_names(getkey):
    game = _game(getkey(), depth=2)
    gen, _ = game.init(getkey())
    labels = layer_groups(gen)
    assert [(lay.weight, lay.bias) for lay in labels.layers] == [(0, 0), (1, 1), (2, 2)]
    assert layer_names(3) == ("generator/0", "generator/1", "generator/2",
                              "discriminator/0", "discriminator/1", "discriminator/2")
    assert parse_layer_name("discriminator/2") == (1, 2)
    with pytest.raises(ValueError, match="layer name"):
        parse_layer_name("critic/1")
    with pytest.raises(ValueError, match="cannot find the layer"):
        layer_groups({"w": jnp.ones(2)})


def test_layer_loss_is_the_players_descent_loss(getkey):
    game = _game(getkey(), depth=1, width=3)
    x = game.init(getkey())
    batch = game.sample(getkey(), 16)
    obj = game.objective()
    loss, v0 = layer_loss(game, x, "generator/1", batch)
    np.testing.assert_allclose(loss(v0), obj.generator_value(*x, batch), rtol=1e-12)
    loss, v0 = layer_loss(game, x, "discriminator/0", batch)
    np.testing.assert_allclose(loss(v0), -obj.discriminator_value(*x, batch), rtol=1e-12)
    assert v0.size == 3 * 1 + 3  # the first layer: weight (3, 1) and bias (3,)


def test_lsgd_u_per_layer_equals_dense_closed_form(getkey):
    r"""u_i = ‖g_i‖² / (η̄ g_iᵀ H_ii g_i) ∧ u_max, one u per layer (weight and bias together),
    with H_ii the dense Hessian block of the player's descent loss (Mounjid–Guo §4.1)."""
    game = _game(getkey(), depth=1, width=3)
    x = game.init(getkey())
    batch = game.sample(getkey(), 32)
    obj = game.objective()
    eta_bar, u_max = 0.05, 1e6

    @jax.jit
    def both(x, batch):
        theta, omega = x
        out = []
        for player, model in ((0, theta), (1, omega)):
            if player == 0:
                loss = lambda m: obj.generator_value(m, omega, batch)  # noqa: E731
            else:
                loss = lambda m: -obj.discriminator_value(theta, m, batch)  # noqa: E731

            def hvp(v, model=model, loss=loss):
                return jax.jvp(jax.grad(loss), (model,), (v,))[1]

            u, _ = mounjid_guo_u(jax.grad(loss)(model), hvp, eta_bar, u_max, groups=layer_groups)
            blocks = [_dense_layer_block(loss, model, i) for i in range(2)]
            out.append((u, blocks))
        return out

    for u, blocks in both(x, batch):
        assert u.shape == (2,)
        for i, (g, h) in enumerate(blocks):
            quad = eta_bar * g @ h @ g
            expected = min(float(g @ g / quad), u_max) if quad > 0 else u_max
            np.testing.assert_allclose(u[i], expected, rtol=1e-8)


@pytest.fixture(scope="module")
def discriminator_updates():
    """One discriminator update of LSGD (per-layer groups) for several (lr, u_max), and of SGD,
    all from the same state and minibatch, under one compilation."""
    key = jax.random.key(7)
    game = _game(jax.random.fold_in(key, 0), depth=1, width=3)
    x0 = game.init(jax.random.fold_in(key, 1))
    batch = game.sample(jax.random.fold_in(key, 2), 32)
    field = game.vector_field()
    neg = lambda t: jax.tree_util.tree_map(jnp.negative, t)  # noqa: E731
    g = neg(field(x0, batch)[1])  # the gradient of the discriminator's descent loss −Φ_D

    def hvp(v):
        return jax.jvp(lambda w: neg(field((x0[0], w), batch)[1]), (x0[1],), (v,))[1]

    @jax.jit
    def updates():
        out = {}
        for name, lr, u_max in (("capped", 1e-6, 10.0), ("free_2", 1e-2, 1e12),
                                ("free_3", 1e-3, 1e12)):
            opt = mounjid_guo(lr, u_max=u_max, groups=layer_groups)  # takes hvp= itself
            upd, state = opt.update(g, opt.init(x0[1]), x0[1], hvp=hvp)
            out[name] = (ravel_pytree(upd)[0], upd, state[0].u)
        upd, _ = optax.sgd(1e-5).update(g, optax.sgd(1e-5).init(x0[1]), x0[1])
        out["sgd"] = (ravel_pytree(upd)[0], upd, None)
        return out

    return updates()


def test_lsgd_at_the_cap_is_sgd_at_u_max_times_the_rate(discriminator_updates):
    """When every u sits at u_max (a small base rate), an LSGD update is an SGD update at rate
    u_max · lr: the curvature term plays no part."""
    flat, _, u = discriminator_updates["capped"]
    assert np.all(np.asarray(u) == 10.0)
    np.testing.assert_allclose(flat, discriminator_updates["sgd"][0], rtol=1e-12)


def test_uncapped_lsgd_step_does_not_depend_on_the_base_rate(discriminator_updates):
    r"""Uncapped, η̄ u_i = ‖g_i‖² / (g_iᵀ H_ii g_i): the step of a layer with positive curvature
    along its gradient is the same for every base rate (the 'robustness to the base rate' of
    Mounjid–Guo §4.1 Figs. 3b, 4b), the Cauchy step of the layer's quadratic model."""
    _, upd2, u2 = discriminator_updates["free_2"]
    _, upd3, u3 = discriminator_updates["free_3"]
    u2, u3 = np.asarray(u2), np.asarray(u3)
    free = (u2 < 1e12) & (u3 < 1e12)  # layers with positive curvature along g
    assert free[-1]  # the output layer (a logistic regression on the features) is one
    for i in np.flatnonzero(free):
        np.testing.assert_allclose(ravel_pytree(upd2.layers[i])[0],
                                   ravel_pytree(upd3.layers[i])[0], rtol=1e-9)
        np.testing.assert_allclose(u2[i] * 1e-2, u3[i] * 1e-3, rtol=1e-9)


# ---------------------------------------------------------------------------------------------
# the training member and its summary


def test_training_member_observes_the_game_metrics(getkey):
    game = _game(getkey(), n=64, width=3, depth=1)
    test, lat = 3.0 + jax.random.normal(getkey(), (20,)), jax.random.normal(getkey(), (20,))
    member = GANTrainingMember(game, test, lat, "lsgd", 1e-2, 8, 10.0)
    params = {"optimizer": "lsgd", "lr": 1e-2}
    state = jax.jit(lambda k: member.step(member.init(k, params), k, 0, params))(getkey())
    obs = member.observe(state, params)
    x = state.x
    np.testing.assert_allclose(obs["accuracy"], game.discriminator_accuracy(x, test, lat))
    np.testing.assert_allclose(obs["w1"], wasserstein1(jax.vmap(x[0])(lat), test))
    assert obs["u_generator"].shape == obs["u_discriminator"].shape == (2,)
    assert np.all((np.asarray(obs["u_discriminator"]) > 0)
                  & (np.asarray(obs["u_discriminator"]) <= 10.0))
    sgd = member.observe(member.init(getkey(), {"optimizer": "sgd"}), {"optimizer": "sgd"})
    np.testing.assert_array_equal(sgd["u_generator"], [1.0, 1.0])


def test_training_summary_by_hand():
    steps = np.array([0, 10, 20, 30, 40])
    # (seed, lr, step): seed 0 at chance before it learned (10: an untrained discriminator)
    # and after (30); seed 1 never
    acc = np.array([[[0.50, 0.52, 0.90, 0.52, 0.60]], [[0.7, 0.8, 0.9, 0.9, 0.9]]])
    w1 = np.array([[[3.0, 1.0, 0.2, 0.3, 0.3]], [[3.0, 2.0, 1.0, 0.1, 0.1]]])
    gl = np.log(2.0) + np.array([[[0.0, 0.5, 0.2, 0.1, 0.0]], [[0.0, 0.0, 0.0, 0.0, 0.0]]])
    u = np.full((2, 1, 5, 2), 10.0)
    u[0, 0, 1, 0] = 3.0  # one of the 2·4 saved adjustments of seed 0 below the cap
    ds = xr.Dataset(
        {"accuracy": (("seed", "lr", "step"), acc), "w1": (("seed", "lr", "step"), w1),
         "generator_loss": (("seed", "lr", "step"), gl),
         "u_generator": (("seed", "lr", "step", "u_generator_dim0"), u),
         "u_discriminator": (("seed", "lr", "step", "u_discriminator_dim0"),
                             np.full_like(u, 10.0))},
        coords={"seed": [0, 1], "lr": [0.1], "step": steps})
    sm = gan_training_summary(ds, chance_tol=0.05, w1_tol=0.25, u_max=10.0,
                              target_loss=np.log(2.0))
    np.testing.assert_array_equal(sm["steps_to_chance"].values[:, 0], [30.0, np.nan])
    np.testing.assert_array_equal(sm["steps_to_fit"].values[:, 0], [20.0, 30.0])
    # the loss: after it rose at 10 (seed 0: back within 0.05 at 40); never rose: from the start
    np.testing.assert_array_equal(sm["steps_to_loss"].values[:, 0], [40.0, 10.0])
    np.testing.assert_allclose(sm["late_gap"].values[:, 0], [(0.4 + 0.02 + 0.1) / 3, 0.4])
    np.testing.assert_allclose(sm["u_at_cap"].values[:, 0], [15 / 16, 1.0])
    # a sweep over u_max takes the cap from its coordinate
    ds2 = ds.rename({"lr": "u_max"}).assign_coords(u_max=[100.0])
    sm2 = gan_training_summary(ds2, chance_tol=0.05, w1_tol=0.25, target_loss=np.log(2.0))
    np.testing.assert_allclose(sm2["u_at_cap"].values[:, 0], [0.0, 0.0])
