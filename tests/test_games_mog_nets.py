"""The reference codes' mixture-of-Gaussians players and their training pieces:
`games.MoGNetsGame`, `models.init_mlp` / `ScaledInput`, `games.GameSampler`,
`training.reference_optimizer`, `training.MoGTrainProblem`, and
`analysis.nn_distance_to_data`, `analysis.nk_coverage_headline`."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ganflow as gf


def test_reference_players(getkey):
    nk = gf.games.MoGNetsGame("ring", "gan", latent_dim=256, gen_width=128, gen_depth=2,
                              disc_width=128, disc_depth=1, input_scale=0.25, init="orthogonal",
                              init_gain=0.8)
    # NK's code: 256·128+128 + 128·128+128 + 128·2+2 and 2·128+128 + 128+1
    assert nk.num_params() == 49_666 + 513
    game = gf.games.MoGNetsGame("ring", "gan", latent_dim=16, gen_width=8, gen_depth=2,
                                disc_width=8, disc_depth=1, input_scale=0.25, init="orthogonal",
                                init_gain=0.8, dtype="float32")
    gen, disc = jax.jit(game.init)(getkey())
    for layer in gen.layers[:-1]:  # orthogonal rows (out ≤ in) times the gain, zero biases
        w = np.asarray(layer.weight, np.float64)
        np.testing.assert_allclose(w @ w.T, 0.64 * np.eye(w.shape[0]), atol=1e-5)
        assert np.all(np.asarray(layer.bias) == 0)
    assert all(a.dtype == jnp.float32 for a in jax.tree_util.tree_leaves((gen, disc)))
    data = game.sample_data(getkey(), 5)
    assert data.dtype == jnp.float32
    np.testing.assert_allclose(disc(data[0]), disc.net(data[0] / 4.0), rtol=1e-6)
    z = game.sample_latent(getkey(), 3)
    assert z.shape == (3, 16) and z.dtype == jnp.float32
    with pytest.raises(ValueError, match="init"):
        gf.games.MoGNetsGame(init="he")


@pytest.mark.parametrize("init", gf.models.MLP_INITS)
def test_init_mlp(getkey, init):
    """Each initialisation: the MLP's shapes and dtype; zero biases except ganflow's uniform;
    Glorot weights within ±√(6/(n_in + n_out)), truncated-normal within ±2/√n_in."""
    net = gf.models.init_mlp(getkey(), 3, None, 5, 2, init, gain=0.8, dtype="float64")
    assert [layer.weight.shape for layer in net.layers] == [(5, 3), (5, 5), (1, 5)]
    assert net.scalar_out and net(jnp.ones(3)).shape == ()
    assert all(a.dtype == jnp.float64 for a in jax.tree_util.tree_leaves(net))
    for layer in net.layers:
        out_n, in_n = layer.weight.shape
        w = np.asarray(layer.weight)
        if init == "uniform":
            assert np.all(np.abs(w) <= 1 / np.sqrt(in_n))
            continue
        assert np.all(np.asarray(layer.bias) == 0)
        if init == "glorot":
            assert np.all(np.abs(w) <= np.sqrt(6 / (in_n + out_n)))
        if init == "truncated_normal":
            assert np.all(np.abs(w) <= 2 / np.sqrt(in_n))


def test_game_sampler_and_reference_optimizer(getkey):
    game = gf.games.MoGNetsGame("grid", latent_dim=2, gen_width=3, disc_width=3, dtype="float64")
    sampler = gf.games.GameSampler(game, 7)
    assert sampler == gf.games.GameSampler(game, 7)
    key = getkey()
    for a, b in zip(jax.tree_util.tree_leaves(sampler(key)),
                    jax.tree_util.tree_leaves(game.sample(key, 7))):
        np.testing.assert_array_equal(a, b)
    opt = gf.training.reference_optimizer("rmsprop", 1e-3)
    same = gf.training.reference_optimizer("rmsprop", 1e-3)  # equal settings compare equal
    assert opt == same and hash(opt) == hash(same)
    params = jnp.ones(2)
    upd, _ = opt.update(jnp.full(2, 0.5), opt.init(params))
    # TF1 RMSProp: mean square starts at 1, decay 0.9: ms = 0.9 + 0.1·0.25
    np.testing.assert_allclose(upd, -1e-3 * 0.5 / np.sqrt(0.925 + 1e-10), rtol=1e-12)
    adam = gf.training.reference_optimizer("adam", 1e-3, 0.5)
    want = optax.adam(1e-3, b1=0.5, b2=0.999, eps=1e-8)
    g = jnp.array([0.3, -2.0])
    np.testing.assert_array_equal(adam.update(g, adam.init(params))[0],
                                  want.update(g, want.init(params))[0])
    with pytest.raises(ValueError, match="optimizer"):
        gf.training.reference_optimizer("adagrad", 1e-3)


def test_mog_train_problem(getkey):
    """Through the engine: the mode metrics and the kept samples at every save point; the
    players move; the same seed gives the same result alone."""
    game = gf.games.MoGNetsGame("ring", latent_dim=2, gen_width=4, gen_depth=1, disc_width=4,
                                disc_depth=1, dtype="float64")
    scheme = gf.training.make_scheme("simultaneous", game, optax.sgd(0.05),
                                     sampler=gf.games.GameSampler(game, 16))
    member = gf.training.MoGTrainProblem(game, scheme, num_eval=64, num_keep=8)
    keys = jax.random.split(getkey(), 2)
    res = gf.engine.run_ensemble(member, gf.engine.Sweep(seeds=keys), 4, save_every=2,
                                 execution=gf.engine.Execution(progress=False))
    ds = res.dataset
    assert ds["samples"].shape == (2, 3, 8, 2)
    for name in ("modes_covered", "high_quality_fraction", "kl_uniform"):
        assert ds[name].dims == ("seed", "step")
    mc = ds["modes_covered"].values
    assert np.all((mc >= 0) & (mc <= 8))
    assert not np.array_equal(ds["samples"].values[:, 0], ds["samples"].values[:, -1])
    alone = gf.engine.run_ensemble(member, gf.engine.Sweep(seeds=keys[1:]), 4, save_every=2,
                                   execution=gf.engine.Execution(progress=False)).dataset
    np.testing.assert_array_equal(alone["samples"].values[0], ds["samples"].values[1])


def test_nn_distance_to_data(getkey):
    """Shapes per seed and set; a set of data samples lies near the floor, a set far from the
    data far above it."""
    game = gf.games.MoGNetsGame("ring", dtype="float64")
    keys = jax.random.split(getkey(), 2)
    n = 64
    data = jnp.stack([game.sample_data(k, n) for k in jax.random.split(getkey(), 2)])
    far = data + 5.0
    samples = jnp.stack([data, far], axis=1)  # (seed, set, n, 2)
    d = gf.analysis.nn_distance_to_data(keys, samples, game.sample_data, num_restarts=2,
                                        num_steps=30)
    assert d.distance.shape == (2, 2) and d.stderr.shape == (2, 2) and d.floor.shape == (2,)
    assert np.all(d.distance[:, 1] > 5 * d.distance[:, 0])
    assert np.all(d.distance[:, 1] > 5 * d.floor)


def test_nk_coverage_headline():
    steps = np.array([0, 100, 200, 300])
    methods = ["vanilla", "nk", "unrolled"]
    modes = np.zeros((10, 3, 4))
    modes[:, 1, 2:] = 8  # NK: all seeds at 8 from step 200
    modes[:9, 2, 3] = 8  # unrolled: 90% at step 300
    modes[:, 0, :] = 3
    h = gf.analysis.nk_coverage_headline(modes, steps, methods, 8)
    assert (h["t_nk"], h["t_unrolled"], h["t_vanilla"]) == (200, 300, None)
    assert h["budget"] == 200 and h["holds"]
    modes[:, 0, :] = 8  # vanilla never below NK
    assert not gf.analysis.nk_coverage_headline(modes, steps, methods, 8)["holds_budget"]
    modes[:, 0, :] = 3
    modes[:, 2, 2] = 8  # unrolled as fast as NK
    assert not gf.analysis.nk_coverage_headline(modes, steps, methods, 8)["holds_faster"]
