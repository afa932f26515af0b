r"""The digit classifier that counts the modes of stacked-digit samples (the role of the
pre-trained MNIST classifier in VEEGAN's and PacGAN's stacked-MNIST protocol)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from .._checks import check_int_at_least, check_positive
from ..models import MLP
from ._digits import DIGIT_SHAPE, NUM_CLASSES, DigitData, _cast_floating, load_digit_data


class DigitClassifier(eqx.Module):
    r"""An 8×8 digit ↦ 10 logits: an `MLP` (64 → `width` → 10, ReLU) on the flattened image.

    An MLP rather than a convolutional net: on 2 CPU cores a small conv net (two 3×3 layers,
    38k parameters) took 15–40 s for 600 Adam steps against ≈1–3 s for the MLP, at no gain in
    held-out accuracy, so a test can train the classifier afresh.
    """

    mlp: MLP

    def __call__(self, image: Float[ArrayLike, "8 8"]) -> Float[Array, " 10"]:
        if jnp.shape(image) != DIGIT_SHAPE:
            raise ValueError(
                f"DigitClassifier takes one 8×8 image, got shape {jnp.shape(image)} "
                "(vmap it over a batch)"
            )
        return self.mlp(jnp.ravel(image))

    def predict(self, images: Float[ArrayLike, "*batch 8 8"]) -> Int[Array, "*batch"]:
        """The arg-max class of each image of a batch of any leading shape."""
        images = jnp.asarray(images)
        if images.shape[-2:] != DIGIT_SHAPE:
            raise ValueError(f"images must have shape (..., 8, 8), got {images.shape}")
        flat = images.reshape((-1,) + DIGIT_SHAPE)
        labels = jnp.argmax(jax.vmap(self)(flat), axis=-1).astype(jnp.int32)
        return labels.reshape(images.shape[:-2])

    def astype(self, dtype) -> "DigitClassifier":
        """The same classifier with its floating parameters as `dtype`."""
        return _cast_floating(self, dtype)

    def accuracy(self, data: DigitData) -> Float[Array, ""]:
        """The fraction of `data`'s digits classified correctly."""
        return jnp.mean((self.predict(data.images) == data.labels).astype(data.images.dtype))


def _shift(image: Array, key: PRNGKeyArray) -> Array:
    """The image moved by (dy, dx) ∈ {−1, 0, 1}², uniformly; uncovered pixels are background
    (−1)."""
    dy, dx = jax.random.randint(key, (2,), -1, 2)
    padded = jnp.pad(image, 1, constant_values=-1.0)
    return jax.lax.dynamic_slice(padded, (1 + dy, 1 + dx), DIGIT_SHAPE)


@eqx.filter_jit
def _train(key, train, held_out, width, steps, batch_size, learning_rate, weight_decay, augment):
    """Initialise, fit and measure, as one compiled program."""
    k_init, k_fit = jax.random.split(key)
    size = DIGIT_SHAPE[0] * DIGIT_SHAPE[1]
    model = DigitClassifier(MLP.init(k_init, size, NUM_CLASSES, width, 1, jax.nn.relu))
    model = _fit(
        model, k_fit, train.images, train.labels, steps, batch_size, learning_rate, weight_decay,
        augment,
    )
    return model, model.accuracy(held_out)


def _fit(model, key, images, labels, steps, batch_size, learning_rate, weight_decay, augment):
    opt = optax.adamw(optax.cosine_decay_schedule(learning_rate, steps), weight_decay=weight_decay)

    def loss(m, x, y):
        logits = jax.vmap(m)(x)
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))

    def body(carry, k):
        m, s = carry
        k_idx, k_shift = jax.random.split(k)
        idx = jax.random.randint(k_idx, (batch_size,), 0, labels.shape[0])
        x = images[idx]
        if augment:
            x = jax.vmap(_shift)(x, jax.random.split(k_shift, batch_size))
        g = jax.grad(loss)(m, x, labels[idx])
        updates, s = opt.update(g, s, m)
        return (optax.apply_updates(m, updates), s), None

    (model, _), _ = jax.lax.scan(body, (model, opt.init(model)), jax.random.split(key, steps))
    return model


def train_digit_classifier(
    key: PRNGKeyArray,
    *,
    steps: int = 1000,
    batch_size: int = 128,
    learning_rate: float = 3e-3,
    weight_decay: float = 1e-4,
    width: int = 512,
    augment: bool = True,
    train: DigitData | None = None,
    held_out: DigitData | None = None,
    dtype=None,
) -> tuple[DigitClassifier, Float[Array, ""]]:
    r"""Trains a `DigitClassifier` on the training split of scikit-learn's digits and measures
    it on the held-out split (`load_digit_data`): cross-entropy, AdamW (`learning_rate` with a
    cosine decay to 0 over `steps`, `weight_decay`), `steps` minibatches of `batch_size` drawn
    uniformly with replacement, each digit moved by a random shift in {−1, 0, 1}² pixels when
    `augment` (the held-out digits and generated samples are not always centred the way the
    training digits are), all inside one compiled `lax.scan`. Deterministic given `key`
    (initialisation, minibatches and shifts).

    Measured in float64 on 2 shared CPU cores with the defaults (width 512, 38,922 parameters,
    1000 steps): held-out accuracy 98.3–99.2% over keys 0–9 (mean 98.8%), ≈3 s each including
    compilation. Without the shifts and the cosine decay (600 constant-rate steps, width 128)
    the accuracy was 97.5–98.3%.

    **Arguments:** `key`; the optimisation settings; `width` of the hidden layer; `augment`;
    `train` and `held_out` (`DigitData`, default the fixed splits); `dtype`: the float type of
    the returned classifier (trained in the default float, then cast with `astype`; the
    accuracy is then measured in `dtype`, the type it will classify samples in).

    **Returns:** `(classifier, held_out_accuracy)`, the accuracy a scalar array in [0, 1].
    """
    check_int_at_least("steps", steps, 1)
    check_int_at_least("batch_size", batch_size, 1)
    check_int_at_least("width", width, 1)
    check_positive("learning_rate", learning_rate)
    check_positive("weight_decay", weight_decay, allow_zero=True)
    train = load_digit_data("train") if train is None else train
    held_out = load_digit_data("held_out") if held_out is None else held_out
    for name, d in (("train", train), ("held_out", held_out)):
        if not isinstance(d, DigitData):
            raise ValueError(f"{name} must be a DigitData, got {type(d).__name__}")
    clf, accuracy = _train(
        key,
        train,
        held_out,
        width,
        steps,
        batch_size,
        float(learning_rate),
        float(weight_decay),
        bool(augment),
    )
    if dtype is None:
        return clf, accuracy
    clf = clf.astype(dtype)
    return clf, eqx.filter_jit(lambda c, d: c.accuracy(d))(clf, held_out.astype(dtype))
