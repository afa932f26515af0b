"""The stacked-digits run as an ensemble member (`ganflow.games.StackedDigitsMember`), the
real-data reference of the stacked-MNIST protocol (`real_mode_metrics`), and the dtype casts of
the digits and the classifier."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ganflow.engine import Execution, Sweep, run_ensemble
from ganflow.games import (
    DigitClassifier,
    DigitData,
    StackedDigits,
    StackedDigitsMember,
    label_mode_metrics,
    load_digit_data,
    real_mode_metrics,
    stacked_mode_metrics,
    train_digit_classifier,
)
from ganflow.games._digits_member import SALT_EVAL, SALT_FIGURE, SALT_INIT
from ganflow.models import MLP
from ganflow.training import make_scheme


class _Oracle(eqx.Module):
    """A perfect 'classifier' on the data: one-hot logits of the exactly matching digit."""

    data: DigitData

    def __call__(self, image):
        dist = jnp.sum(jnp.square(self.data.images - image), axis=(1, 2))
        return jax.nn.one_hot(self.data.labels[jnp.argmin(dist)], 10)


def _classifier(key=0):
    return DigitClassifier(MLP.init(jax.random.key(key), 64, 10, 16, 1, jax.nn.relu))


def test_casts_keep_labels_and_parameters():
    data = load_digit_data("held_out")
    low = data.astype("float32")
    assert low.images.dtype == jnp.float32 and low.labels.dtype == data.labels.dtype
    np.testing.assert_array_equal(low.images, data.images.astype(jnp.float32))
    np.testing.assert_array_equal(low.class_start, data.class_start)
    clf = _classifier()
    c32 = clf.astype("float32")
    for a, b in zip(jax.tree_util.tree_leaves(clf), jax.tree_util.tree_leaves(c32)):
        assert b.dtype == (jnp.float32 if jnp.issubdtype(a.dtype, jnp.floating) else a.dtype)
        np.testing.assert_array_equal(b, a.astype(b.dtype))


def test_classifier_in_another_dtype():
    """`train_digit_classifier(dtype=...)`: trained as without it, then cast, its accuracy
    measured on the held-out digits in that dtype."""
    key = jax.random.key(2)
    c64, _ = train_digit_classifier(key, steps=20, width=16)
    c32, acc = train_digit_classifier(key, steps=20, width=16, dtype="float32")
    for a, b in zip(jax.tree_util.tree_leaves(c64), jax.tree_util.tree_leaves(c32)):
        np.testing.assert_array_equal(b, a.astype(jnp.float32))
    held = load_digit_data("held_out").astype("float32")
    assert float(acc) == float(c32.accuracy(held)) and acc.dtype == jnp.float32


def test_real_mode_metrics_of_an_oracle_are_the_sampled_labels():
    """With a perfect classifier the metrics are those of the labels `sample_stacked` draws
    from the same key; 300 uniform draws on 1000 modes cover ≈ 259."""
    held = load_digit_data("held_out")
    key = jax.random.key(3)
    modes, kl = real_mode_metrics(_Oracle(held), key, 300)
    _, labels = held.sample_stacked(key, 300)
    ref = label_mode_metrics(labels)
    assert modes == int(ref.modes_covered) and 220 <= modes <= 300
    np.testing.assert_allclose(kl, float(ref.kl_uniform), rtol=1e-12)
    assert isinstance(modes, int) and isinstance(kl, float)


def test_member_observes_the_protocol():
    """The initial players are game.init(fold_in(key, SALT_INIT)); observe is
    `stacked_mode_metrics` of `num_eval` samples from fold_in(fold_in(key, SALT_EVAL), step)
    and the kept samples come from fold_in(key, SALT_FIGURE) (the same for every scheme: common
    random numbers, tested through the experiment in tests/test_exp_digits.py)."""
    game = StackedDigits("nsgan", latent_dim=4, channels=2)
    clf = _classifier()
    scheme = make_scheme("alternating", game, 1e-3, sampler=lambda k: game.sample(k, 8))
    member = StackedDigitsMember(game, scheme, clf, 50, 3, "float64")
    res = run_ensemble(member, Sweep(seeds=2), 2, save_every=2,
                       execution=Execution(progress=False))
    obs = res.observations
    assert obs["samples"].shape == (2, 2, 3, 8, 24)

    @eqx.filter_jit
    def recompute(key):
        theta = game.init(jax.random.fold_in(key, SALT_INIT))[0]
        k_eval = jax.random.split(jax.random.fold_in(jax.random.fold_in(key, SALT_EVAL), 0), 1)
        m = stacked_mode_metrics(clf, game.generate(theta, k_eval[0], 50))
        return m, game.generate(theta, jax.random.fold_in(key, SALT_FIGURE), 3)

    m, shown = recompute(jax.random.key(1))  # seed 1 of Sweep(seeds=2)
    assert int(obs["modes_covered"][1, 0]) == int(m.modes_covered)
    np.testing.assert_allclose(obs["kl_uniform"][1, 0], m.kl_uniform, rtol=1e-12)
    np.testing.assert_allclose(obs["samples"][1, 0], shown, rtol=1e-12, atol=1e-14)
    assert not np.array_equal(obs["samples"][:, 1], obs["samples"][:, 0])  # it trained
