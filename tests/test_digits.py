"""Stacked digits (1000 modes from scikit-learn's 8×8 digits): data, classifier, mode metrics,
convolutional players and the game (float64)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ganflow as gf
from ganflow.games import (
    DigitData,
    StackedDigits,
    label_mode_metrics,
    load_digit_data,
    stack_digits,
    stacked_label,
    stacked_labels,
    stacked_mode_metrics,
    train_digit_classifier,
    unstack_digits,
)
from ganflow.models import ConvDiscriminator, ConvGenerator
from ganflow.stabilisers import NagarajanKolter, stabilise
from ganflow.training import AlternatingGDA
from tests.conftest import flat

K = 1000


@pytest.fixture(scope="module")
def classifier():
    """The default classifier, trained once for the module (≈3 s)."""
    return train_digit_classifier(jax.random.key(0))


@pytest.fixture(scope="module")
def small():
    """A small non-saturating game (2-channel players), its initial state and a batch of 16:
    compiled once for the module."""
    game = StackedDigits(loss="nsgan", latent_dim=4, channels=2)
    x0 = eqx.filter_jit(game.init)(jax.random.key(7))
    batch = eqx.filter_jit(lambda k: game.sample(k, 16))(jax.random.key(8))
    return game, x0, batch


class _Oracle(eqx.Module):
    """A perfect 'classifier' on the data: one-hot logits of the exactly matching digit."""

    data: DigitData

    def __call__(self, image):
        dist = jnp.sum(jnp.square(self.data.images - image), axis=(1, 2))
        return jax.nn.one_hot(self.data.labels[jnp.argmin(dist)], 10)


# ---------------------------------------------------------------------------- data


def test_data_splits_shapes_range_labels():
    train, held, every = (load_digit_data(s) for s in ("train", "held_out", "all"))
    assert (train.size, held.size, every.size) == (1442, 355, 1797)
    counts = np.asarray(every.class_count)
    assert counts.sum() == 1797 and counts.min() == 174 and counts.max() == 183
    # stratified: every fifth image of each class is held out
    np.testing.assert_array_equal(np.asarray(held.class_count), counts // 5)
    np.testing.assert_array_equal(np.asarray(train.class_count), counts - counts // 5)
    for d in (train, held, every):
        images, labels = np.asarray(d.images), np.asarray(d.labels)
        assert images.shape == (d.size, 8, 8) and images.dtype == np.float64
        assert images.min() == -1.0 and images.max() == 1.0
        np.testing.assert_array_equal(np.round((images + 1) * 8), (images + 1) * 8)  # x/8 − 1
        assert np.all(np.diff(labels) >= 0) and set(labels) == set(range(10))
        start = np.asarray(d.class_start)
        assert np.all(labels[start] == np.arange(10))
    # the two splits partition the digits: every image of `all` is in exactly one of them
    key = lambda d: {a.tobytes() for a in np.asarray(d.images)}  # noqa: E731
    assert not key(train) & key(held) and len(key(train) | key(held)) == len(key(every))


def test_stack_unstack_and_label():
    d = jax.random.normal(jax.random.key(0), (5, 3, 8, 8))
    s = stack_digits(d)
    assert s.shape == (5, 8, 24)
    np.testing.assert_array_equal(s[:, :, 8:16], d[:, 1])
    np.testing.assert_array_equal(unstack_digits(s), d)
    assert stacked_label(jnp.array([[1, 2, 3], [0, 0, 7], [9, 9, 9]])).tolist() == [123, 7, 999]


def test_stacked_labels_equal_their_construction(getkey):
    data = load_digit_data("train")
    images, labels = eqx.filter_jit(lambda k: data.sample_stacked(k, 256))(getkey())
    assert images.shape == (256, 8, 24) and labels.shape == (256,)
    assert images.dtype == jnp.float64 and labels.dtype == jnp.int32
    # each third is exactly one digit of the data; its label rebuilds the stacked label
    thirds = np.asarray(unstack_digits(images)).reshape(-1, 64)
    ref = np.asarray(data.images).reshape(-1, 64)
    dist = ((thirds[:, None, :] - ref[None]) ** 2).sum(-1)
    assert np.all(dist.min(axis=1) == 0.0)
    digits = np.asarray(data.labels)[dist.argmin(axis=1)].reshape(256, 3)
    np.testing.assert_array_equal(stacked_label(digits), labels)
    # the same through the (traceable) classifier path, with an exact-lookup oracle
    np.testing.assert_array_equal(stacked_labels(_Oracle(data), images), labels)


def test_class_balanced_sampler_is_uniform_on_1000_modes(getkey):
    n = 26_000
    data = load_digit_data("all")

    @eqx.filter_jit
    def draw(key):
        labels = data.sample_stacked(key, n)[1]
        return labels, label_mode_metrics(labels)

    labels, m = draw(getkey())
    labels = np.asarray(labels)
    assert int(m.modes_covered) == K  # P(a mode is missed) ≈ 1000 e^{−26}
    # 2n·KL ≈ χ²_{K−1}: mean (K − 1)/(2n) ≈ 0.0192, sd sqrt(2(K − 1))/(2n) ≈ 0.0009
    assert abs(float(m.kl_uniform) - (K - 1) / (2 * n)) < 5 * np.sqrt(2 * (K - 1)) / (2 * n)
    digits = np.stack([labels // 100, labels // 10 % 10, labels % 10], 1)
    for j in range(3):
        freq = np.bincount(digits[:, j], minlength=10) / n
        assert np.max(np.abs(freq - 0.1)) < 5 * np.sqrt(0.09 / n)


# ---------------------------------------------------------------------------- mode metrics


def test_label_mode_metrics_closed_forms():
    @jax.jit
    def cases():
        return {
            "uniform": label_mode_metrics(jnp.tile(jnp.arange(K), 3)),
            "one": label_mode_metrics(jnp.full((500,), 417)),
            "even": label_mode_metrics(jnp.repeat(jnp.arange(0, 1000, 40), 4)),  # 25 modes
            "two": label_mode_metrics(jnp.array([5, 5, 5, 9])),
            "two_min2": label_mode_metrics(jnp.array([5, 5, 5, 9]), min_count=2),
            "four": label_mode_metrics(jnp.array([0, 3]), num_modes=4),
            # vmap over label sets
            "vmapped": jax.vmap(label_mode_metrics)(
                jnp.stack([jnp.arange(K), jnp.zeros(K, jnp.int32)])
            ),
        }

    c = cases()
    assert int(c["uniform"].modes_covered) == K and abs(float(c["uniform"].kl_uniform)) < 1e-12
    assert np.all(np.asarray(c["uniform"].mode_counts) == 3) and c["uniform"].num_modes == K
    # one mode: KL = log K
    assert int(c["one"].modes_covered) == 1
    np.testing.assert_allclose(float(c["one"].kl_uniform), np.log(1000), rtol=1e-14)
    # m modes evenly: log(K/m); uneven (3/4, 1/4) on two modes: log K − H
    assert int(c["even"].modes_covered) == 25
    np.testing.assert_allclose(float(c["even"].kl_uniform), np.log(1000 / 25), rtol=1e-14)
    h = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    np.testing.assert_allclose(float(c["two"].kl_uniform), np.log(1000) - h, rtol=1e-14)
    assert int(c["two"].modes_covered) == 2 and int(c["two_min2"].modes_covered) == 1
    assert int(c["four"].modes_covered) == 2 and c["four"].mode_counts.tolist() == [1, 0, 0, 1]
    assert c["vmapped"].modes_covered.tolist() == [K, 1]
    np.testing.assert_allclose(np.asarray(c["vmapped"].kl_uniform), [0, np.log(1000)], atol=1e-12)


def test_stacked_mode_metrics_jit_and_game_dict(getkey, classifier):
    clf, _ = classifier
    game = StackedDigits(split="held_out")

    @eqx.filter_jit
    def evaluate(clf, key):
        images, labels = game.sample_stacked(key, 2000)
        m = stacked_mode_metrics(clf, images)
        predicted = stacked_labels(clf, images)
        collapsed = stacked_mode_metrics(clf, jnp.broadcast_to(images[0], (300, 8, 24)))
        d = game.mode_metrics(clf, images)
        return m, label_mode_metrics(predicted), predicted, labels, d, collapsed

    m, direct, predicted, labels, d, collapsed = evaluate(clf, getkey())
    np.testing.assert_array_equal(np.asarray(m.mode_counts), np.asarray(direct.mode_counts))
    # ≥ 97% per digit: most stacked labels of real held-out samples are right
    assert float(jnp.mean(predicted == labels)) > 0.9
    assert set(d) == {"modes_covered", "kl_uniform"}
    assert int(d["modes_covered"]) == int(m.modes_covered) > 800
    # a generator collapsed to one image covers one mode, KL = log 1000
    assert int(collapsed.modes_covered) == 1
    np.testing.assert_allclose(float(collapsed.kl_uniform), np.log(1000), rtol=1e-12)


# ---------------------------------------------------------------------------- classifier


def test_classifier_reaches_97_percent(classifier):
    clf, acc = classifier
    assert float(acc) >= 0.97
    held = load_digit_data("held_out")
    np.testing.assert_allclose(float(acc), float(clf.accuracy(held)), rtol=0, atol=0)
    assert clf.predict(held.images[:7]).shape == (7,)
    assert clf(held.images[0]).shape == (10,)


def test_classifier_is_deterministic_given_key(classifier):
    again, acc = train_digit_classifier(jax.random.key(0))  # same program: no recompilation
    np.testing.assert_array_equal(flat(again), flat(classifier[0]))
    assert float(acc) == float(classifier[1])


@pytest.mark.slow
def test_classifier_reaches_97_percent_for_every_key():
    accs = [float(train_digit_classifier(jax.random.key(s))[1]) for s in range(10)]
    print("held-out accuracies:", np.round(accs, 4))
    assert min(accs) >= 0.97


# ---------------------------------------------------------------------------- players and game


def _size(tree):
    return sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(tree))


def test_conv_players_shapes_and_parameter_counts(getkey):
    game = StackedDigits()
    gen, disc = jax.eval_shape(game.init, getkey())  # shapes only: nothing is compiled
    assert (_size(gen), _size(disc)) == (14_993, 8_881) == game.num_params()
    image = jax.eval_shape(lambda g, z: g(z), gen, jnp.zeros(16))
    assert image.shape == (8, 24) and image.dtype == jnp.float64
    logit = jax.eval_shape(lambda d, x: d(x), disc, jnp.zeros((8, 24)))
    assert logit.shape == () and logit.dtype == jnp.float64
    for latent_dim, channels in ((5, 3), (4, 1)):
        small = StackedDigits(latent_dim=latent_dim, channels=channels)
        assert _size(jax.eval_shape(small.init, getkey())) == sum(small.num_params())
    g = jax.eval_shape(lambda k: ConvGenerator.init(k, 4, (12, 16), channels=2), getkey())
    d = jax.eval_shape(lambda k: ConvDiscriminator.init(k, (12, 16), 2), getkey())
    assert jax.eval_shape(lambda g, z: g(z), g, jnp.zeros(4)).shape == (12, 16)
    assert jax.eval_shape(lambda d, x: d(x), d, jnp.zeros((12, 16))).shape == ()


def test_b0_structure_finite_and_equal_to_hand_gradients(small):
    # non-saturating: the players' objectives differ, so each sign and loss is checked
    game, x, batch = small
    data, z = batch
    assert data.shape == (16, 8, 24) and z.shape == (16, 4)

    def phi(theta, omega):  # Φ = E log σ(D(x)) + E log σ(−D(G(z))), written out
        fake = jax.vmap(theta)(z)
        return jnp.mean(
            jax.nn.log_sigmoid(jax.vmap(omega)(data)) + jax.nn.log_sigmoid(-jax.vmap(omega)(fake))
        )

    def g_loss(theta, omega):  # −E log σ(D(G(z)))
        return -jnp.mean(jax.nn.log_sigmoid(jax.vmap(omega)(jax.vmap(theta)(z))))

    @eqx.filter_jit
    def both(x):
        b = game.vector_field()(x, batch)
        g_theta = eqx.filter_grad(lambda t: g_loss(t, x[1]))(x[0])
        g_omega = eqx.filter_grad(lambda w: phi(x[0], w))(x[1])
        fake = jax.vmap(x[0])(3.0 * z)
        return b, (jax.tree_util.tree_map(jnp.negative, g_theta), g_omega), fake

    b, hand, fake = both(x)
    assert fake.shape == (16, 8, 24) and float(jnp.max(jnp.abs(fake))) < 1.0  # tanh
    assert jax.tree_util.tree_structure(b) == jax.tree_util.tree_structure(x)
    leaves_b, leaves_x = jax.tree_util.tree_leaves(b), jax.tree_util.tree_leaves(x)
    assert [a.shape for a in leaves_b] == [a.shape for a in leaves_x]
    assert np.all(np.isfinite(flat(b))) and np.linalg.norm(flat(b)) > 0
    np.testing.assert_allclose(flat(b), flat(hand), rtol=1e-12, atol=1e-14)


def test_alternating_gda_and_stabilisers_run(getkey, small):
    game, x0, _ = small
    sampler = lambda k: game.sample(k, 8)  # noqa: E731
    fields = {"b0": game.vector_field(), "nk": stabilise(game, NagarajanKolter(0.1))}
    for name, field in fields.items():
        scheme = AlternatingGDA(field, optax.adam(1e-3), sampler=sampler)

        @eqx.filter_jit
        def run(x0, key, scheme=scheme):
            step = lambda s, k: (scheme.step(s, k), None)  # noqa: E731
            return jax.lax.scan(step, scheme.init(x0), jax.random.split(key, 3))[0]

        state = run(x0, getkey())
        assert int(state.step) == 3, name
        assert np.all(np.isfinite(flat(state.x))), name
        assert not np.allclose(flat(state.x), flat(x0)), name


def test_bad_input():
    with pytest.raises(ValueError, match="unknown split"):
        StackedDigits(split="test")
    with pytest.raises(ValueError, match="data must be a DigitData"):
        StackedDigits(data=np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match=r"shape \(n, 8, 8\)"):
        DigitData(np.zeros((10, 8, 9)), np.arange(10))
    with pytest.raises(ValueError, match="every class must occur"):
        DigitData(np.zeros((10, 8, 8)), np.zeros(10, int))
    with pytest.raises(ValueError, match=r"\(n, 8, 24\)"):
        stacked_labels(lambda im: jnp.zeros(10), jnp.zeros((4, 8, 8)))
    with pytest.raises(ValueError, match="10 logits"):
        stacked_labels(lambda im: jnp.zeros(3), jnp.zeros((4, 8, 24)))
    with pytest.raises(ValueError, match="1-D integer"):
        label_mode_metrics(jnp.zeros(5))
    with pytest.raises(Exception, match="labels must lie in"):
        label_mode_metrics(jnp.array([0, 1000]))
    with pytest.raises(ValueError, match="multiples of 4"):
        ConvGenerator.init(jax.random.key(0), 4, (8, 10))
    with pytest.raises(ValueError, match="one image of shape"):  # at trace time
        jax.eval_shape(lambda k: StackedDigits().init(k)[1](jnp.zeros((8, 8))), jax.random.key(0))
    assert isinstance(gf.games.StackedDigits(), gf.games.AbstractGANGame)
