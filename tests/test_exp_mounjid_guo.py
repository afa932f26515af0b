"""The `mounjid-guo` experiment (Mounjid & Guo 2021 §3–4): the per-layer adaptive rate LSGD
against closed forms (per-layer u from dense Hessian blocks, LSGD at the cap is SGD at
u_max · lr, uncapped LSGD does not depend on the base rate), the jittable Lanczos against dense
eigenvalues, §3's η > 2/a relation on the paper's own §2 model (closed-form best response) and on
a network layer, the summaries against hand-computed values, and a tiny run through the registry:
labelled results, report and figures rewritten from the saved results alone. The slow test runs
the headline comparisons."""

import dataclasses
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import xarray as xr
from jax.flatten_util import ravel_pytree

from ganflow.experiments._exp_mounjid_guo import (
    GaussianMLPGame,
    LayerDescentMember,
    MounjidGuoConfig,
    equilibrium_generator_loss,
    lanczos_extremes,
    layer_labels,
    layer_loss_fn,
    layer_names,
    training_summary,
    wasserstein1,
)
from ganflow.studies._registry import (
    ConfigError,
    RunOptions,
    get_experiment,
    make_config,
    open_results,
)
from ganflow.studies._runner import run_experiment, write_report
from ganflow.games import LinearQuadraticGaussian
from ganflow.training import mounjid_guo, mounjid_guo_u

# ---------------------------------------------------------------------------------------------
# helpers


def _game(key, n=64, width=3, depth=1, loss="nsgan"):
    data = 3.0 + jax.random.normal(key, (n,))
    return GaussianMLPGame(data, loss, width, depth, "tanh")


def _batch(key, game, n=32):
    return game.sample(key, n)


def _dense_layer_block(loss_of_player, player_model, i):
    """Dense Hessian of `loss_of_player(model)` with respect to layer i only."""
    v0, unravel = ravel_pytree(player_model.layers[i])

    def f(v):
        return loss_of_player(eqx.tree_at(lambda m: m.layers[i], player_model, unravel(v)))

    g = jax.grad(f)(v0)
    return g, jax.hessian(f)(v0)


# ---------------------------------------------------------------------------------------------
# LSGD (eq. 20) per layer


def test_layer_labels_group_weight_and_bias_of_a_layer(getkey):
    game = _game(getkey(), depth=2)
    gen, _ = game.init(getkey())
    labels = layer_labels(gen)
    assert [(lay.weight, lay.bias) for lay in labels.layers] == [(0, 0), (1, 1), (2, 2)]
    assert layer_names(game) == ("generator/0", "generator/1", "generator/2",
                                 "discriminator/0", "discriminator/1", "discriminator/2")


def test_lsgd_u_per_layer_equals_dense_closed_form(getkey):
    r"""u_i = ‖g_i‖² / (η̄ g_iᵀ H_ii g_i) ∧ u_max, one u per layer (weight and bias together),
    with H_ii the dense Hessian block of the player's descent loss (Mounjid–Guo §4.1)."""
    game = _game(getkey(), depth=1, width=3)
    x = game.init(getkey())
    batch = _batch(getkey(), game)
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

            u, _ = mounjid_guo_u(jax.grad(loss)(model), hvp, eta_bar, u_max, groups=layer_labels)
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
    batch = _batch(jax.random.fold_in(key, 2), game)
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
            opt = optax.with_extra_args_support(mounjid_guo(lr, u_max=u_max,
                                                            groups=layer_labels))
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
# curvature


def test_lanczos_extremes_against_dense(getkey):
    lanczos = jax.jit(lambda m, v, k: lanczos_extremes(lambda x: m @ x, v, k),
                      static_argnums=2)
    a = jax.random.normal(getkey(), (30, 30))
    a = 0.5 * (a + a.T)
    ev = np.linalg.eigvalsh(np.asarray(a))
    lo, hi, q = lanczos(a, jax.random.normal(getkey(), (30,)), 30)
    np.testing.assert_allclose([lo, hi], [ev[0], ev[-1]], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(a @ q, hi * q, atol=1e-8)
    # breakdown: three distinct eigenvalues span a 3-dimensional Krylov space
    d = jnp.diag(jnp.array([1.0, 1.0, 1.0, 2.0, 2.0, -5.0] + [1.0] * 24))
    lo, hi, q = lanczos(d, jnp.ones(30), 30)
    np.testing.assert_allclose([lo, hi], [-5.0, 2.0], rtol=1e-10)
    np.testing.assert_allclose(d @ q, 2.0 * q, atol=1e-10)
    # fewer iterations than the dimension: the extremes converge first (with a spectral gap)
    d = jnp.diag(jnp.concatenate([jnp.linspace(0.0, 1.0, 29), jnp.array([3.0])]))
    lo, hi, _ = lanczos(d, jax.random.normal(getkey(), (30,)), 15)
    np.testing.assert_allclose(hi, 3.0, rtol=1e-8)


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
        for layer in layer_names(game):
            loss, v0 = layer_loss_fn(game, x, layer, data, z)
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
        loss, v = layer_loss_fn(game, x, layer, data, z)
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


# ---------------------------------------------------------------------------------------------
# metrics and summaries


def test_metrics_closed_forms():
    a = jnp.array([0.0, 3.0, 1.0])
    b = jnp.array([2.0, 1.0, 5.0])
    assert float(wasserstein1(a, b)) == pytest.approx((1 + 1 + 2) / 3)  # sorted pairs
    assert equilibrium_generator_loss("nsgan") == pytest.approx(np.log(2.0))
    assert equilibrium_generator_loss("gan") == pytest.approx(-np.log(4.0))


def test_training_summary_by_hand():
    cfg = MounjidGuoConfig(chance_tol=0.05, w1_tol=0.25, u_max=10.0)
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
    sm = training_summary(ds, cfg)
    np.testing.assert_array_equal(sm["steps_to_chance"].values[:, 0], [30.0, np.nan])
    np.testing.assert_array_equal(sm["steps_to_fit"].values[:, 0], [20.0, 30.0])
    # the loss: after it rose at 10 (seed 0: back within 0.05 at 40); never rose: from the start
    np.testing.assert_array_equal(sm["steps_to_loss"].values[:, 0], [40.0, 10.0])
    np.testing.assert_allclose(sm["late_gap"].values[:, 0], [(0.4 + 0.02 + 0.1) / 3, 0.4])
    np.testing.assert_allclose(sm["u_at_cap"].values[:, 0], [15 / 16, 1.0])


def test_config_checks():
    exp = get_experiment("mounjid-guo")
    with pytest.raises(ConfigError, match="curvature_lr"):
        make_config(exp, {"curvature_lr": 0.3})
    with pytest.raises(ConfigError, match="save_every"):
        make_config(exp, {"save_every": 300})
    with pytest.raises(ConfigError, match="curvature_layers"):
        make_config(exp, {"curvature_layers": ("generator/7",)})
    with pytest.raises(ConfigError, match="optimizers"):
        make_config(exp, {"optimizers": ("adam",)})
    assert exp.preset("quick").seeds == 2


# ---------------------------------------------------------------------------------------------
# a tiny run through the registry

TINY = dict(seeds=2, num_steps=20, save_every=10, batch_steps=20, n_train=100, n_test=50,
            width=3, depth=1, lrs=(1e-2, 1e-3), batch_sizes=(4,), u_maxes=(),
            curvature_seeds=2, curvature_batch=32, curvature_layers=("discriminator/1",),
            factors=(0.9, 1.1), explosion_steps=10, lanczos_iters=6)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    exp = get_experiment("mounjid-guo")
    cfg = make_config(exp, TINY)
    out = tmp_path_factory.mktemp("mounjid_guo")
    report = run_experiment(exp, cfg, out, RunOptions(progress=False))
    return exp, cfg, out, report


def test_tiny_run_results(tiny_run):
    exp, cfg, out, report = tiny_run
    res = open_results(out)
    assert {"lr", "batch", "trained", "explosion", "lr_summary", "batch_summary",
            "explosion_summary"} <= set(res)
    lr = res["lr"]
    acc = lr["accuracy"]
    assert acc.dims == ("seed", "optimizer", "lr", "step")
    assert list(lr["optimizer"].values) == ["sgd", "lsgd"]
    np.testing.assert_allclose(lr["lr"].values, [1e-2, 1e-3])
    np.testing.assert_array_equal(lr["step"].values, [0, 10, 20])
    a = acc.values
    assert np.all((a >= 0) & (a <= 1))
    # step 0: the same networks in every cell (the initialisation depends on the seed only)
    assert np.all(a[:, :, :, 0] == a[:, :1, :1, 0])
    u = lr["u_generator"].sel(optimizer="sgd").values
    assert np.all(u == 1.0)
    u = lr["u_discriminator"].sel(optimizer="lsgd").values
    assert np.all((u > 0) & (u <= cfg.u_max * (1 + 1e-6)))
    assert res["batch"]["accuracy"].dims == ("seed", "batch_size", "step")
    ex = res["explosion"]
    assert ex["a_max"].dims == ("seed", "layer", "factor", "step")
    eta = ex["eta"].isel(step=0).values
    a_max = ex["a_max"].isel(step=0).values
    np.testing.assert_allclose(eta, ex["factor"].values[None, None, :] * 2 / a_max, rtol=1e-6)
    sm = res["explosion_summary"]
    assert sm["exploded"].dims == ("seed", "layer", "factor")
    assert res["trained"]["params"].shape[0] == cfg.curvature_seeds


def test_tiny_run_report_from_saved_results(tiny_run):
    exp, cfg, out, report = tiny_run
    text = report.read_text()
    for heading in ("Which of the paper's claims hold", "Figs. 3 and 4", "Fig. 5",
                    "§3: learning rate against explosion"):
        assert heading in text
    assert "| lsgd | 0.001 |" in text and "| sgd | 0.01 |" in text
    for name in ("accuracy", "generator_loss", "w1", "batch_size", "explosion"):
        png = out / f"{name}.png"
        assert png.is_file() and png.stat().st_size > 5000
        assert f"({name}.png)" in text
    # the report is rewritten from the saved results alone, identically
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    again = write_report(exp, cfg, out).read_text()
    assert again == text
    assert {p.name for p in out.iterdir()} == set(before)


# ---------------------------------------------------------------------------------------------
# the headline comparisons

SLOW = dict(seeds=4, num_steps=3000, save_every=100, batch_steps=2000, batch_sizes=(4, 64),
            u_maxes=(), curvature_seeds=3, factors=(0.9, 0.98, 1.02, 1.1),
            explosion_steps=100)


@pytest.mark.slow
def test_headline_comparisons(tmp_path):
    exp = get_experiment("mounjid-guo")
    cfg = make_config(exp, SLOW)
    start = time.perf_counter()
    run_experiment(exp, cfg, tmp_path, RunOptions(progress=False))
    seconds = time.perf_counter() - start
    res = open_results(tmp_path)
    sm = res["lr_summary"]
    chance = sm["steps_to_chance"].fillna(cfg.num_steps).mean("seed")
    print(f"\nwall time {seconds:.0f} s")
    print("steps to chance (mean, never = budget):\n", chance.to_pandas())
    print("late W1:\n", sm["late_w1"].mean("seed").to_pandas())
    print("u at cap:", float(sm["u_at_cap"].sel(optimizer="lsgd").mean()))
    # SGD: the smallest base rate is the slowest to reach chance level
    assert float(chance.sel(optimizer="sgd", lr=5e-4)) > float(chance.sel(optimizer="sgd",
                                                                          lr=1e-2))
    # LSGD beats SGD at the small base rates, where its cap u_max · lr is the larger rate
    for lr in (1e-3, 5e-4):
        assert float(chance.sel(optimizer="lsgd", lr=lr)) < float(chance.sel(optimizer="sgd",
                                                                             lr=lr))
    # the cap binds almost always: LSGD(lr) is SGD(u_max · lr)
    assert float(sm["u_at_cap"].sel(optimizer="lsgd").mean()) > 0.9
    # Fig. 5 per epoch: the smallest batch reaches chance level in the fewest epochs
    bs = res["batch_summary"]
    epochs = (bs["steps_to_chance"].fillna(cfg.batch_steps) * bs["batch_size"] /
              cfg.n_train).mean("seed")
    print("epochs to chance:", epochs.to_pandas().to_dict())
    assert int(epochs.idxmin()) == min(cfg.batch_sizes)
    # §3 on the discriminator's output layer: the top mode grows iff eta > 2/a, at |1 - eta a|
    ex = res["explosion_summary"].sel(layer=f"discriminator/{cfg.depth}")
    print("D output layer top-mode rate:\n", ex["top_rate"].to_pandas())
    assert bool(ex["positive"].all())
    np.testing.assert_array_equal(ex["unstable"].values, ex["predicted"].values)
    np.testing.assert_allclose(ex["top_rate"].values, ex["top_rate_theory"].values, atol=0.03)
    assert dataclasses.asdict(cfg)["curvature_lr"] == 1e-2
