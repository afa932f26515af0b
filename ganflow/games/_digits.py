r"""Stacked digits: a 1000-mode image benchmark built from scikit-learn's bundled 8×8 digits.

The "stacked MNIST" benchmark of Metz et al. 2017 (unrolled GANs), VEEGAN (Srivastava et al.
2017) and PacGAN (Lin et al. 2018) stacks three MNIST digits so that a sample has one of
10³ = 1000 modes, counted by a pre-trained digit classifier. Here the digits are the 1797 8×8
images that ship with scikit-learn (`sklearn.datasets.load_digits`: nothing is downloaded),
scaled from {0, …, 16} to [−1, 1] by x ↦ x/8 − 1.

**Layout: side by side, 8 × 24, one channel** (MNIST versions stack the digits as the three
colour channels of one 28×28 image). Why: the three independent digits occupy disjoint pixels
and each third is an ordinary 8×8 digit for the classifier; the convolutional players keep
spatial room (their coarsest feature map is 2 × 6, where 8 × 8 × 3 channels would leave 2 × 2,
a layer that is all border); and a sample is shown as it is, without false colour.
The stacked label reads left to right: $\ell = 100\,d_1 + 10\,d_2 + d_3$.

**Split.** Fixed and independent of any random-number stream: within each class, in the order of
scikit-learn's file, every fifth image (positions 4, 9, 14, …) is held out. That gives
1442 training and 355 held-out digits, stratified by class.
"""

import functools
from collections.abc import Callable
from typing import Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from .._checks import check_choice, check_int_at_least
from ..losses import AbstractLoss, get_loss
from ..models import ConvDiscriminator, ConvGenerator
from ._base import AbstractGANGame
from ._mog import _kl_to_uniform

NUM_CLASSES = 10
NUM_MODES = NUM_CLASSES**3
DIGIT_SHAPE = (8, 8)
STACKED_SHAPE = (8, 24)
_SPLITS = ("train", "held_out", "all")
_HOLD_OUT_EVERY = 5


def _cast_floating(tree, dtype):
    """Every floating array of `tree` as `dtype` (integer arrays and static fields untouched)."""
    return jax.tree_util.tree_map(
        lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, tree)


@functools.lru_cache(maxsize=1)
def _raw_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1797 digits as (images in [−1, 1], float64, read-only; labels, int32)."""
    from sklearn.datasets import load_digits  # lazy: scikit-learn is slow to import

    bunch = load_digits()
    images = np.asarray(bunch.images, np.float64) / 8.0 - 1.0
    labels = np.asarray(bunch.target, np.int32)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def digit_split_mask(labels: np.ndarray) -> np.ndarray:
    """True for held-out digits: the positions 4, 9, 14, … of each class in file order."""
    labels = np.asarray(labels)
    rank = np.zeros(labels.shape, np.int64)
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        rank[where] = np.arange(where.size)
    return rank % _HOLD_OUT_EVERY == _HOLD_OUT_EVERY - 1


def stack_digits(digits: Float[ArrayLike, "*batch 3 8 8"]) -> Float[Array, "*batch 8 24"]:
    """Three 8×8 digits side by side: (..., 3, 8, 8) → (..., 8, 24), first digit on the left."""
    digits = jnp.asarray(digits)
    if digits.shape[-3:] != (3,) + DIGIT_SHAPE:
        raise ValueError(f"stack_digits takes digits of shape (..., 3, 8, 8), got {digits.shape}")
    return jnp.concatenate([digits[..., 0, :, :], digits[..., 1, :, :], digits[..., 2, :, :]], -1)


def unstack_digits(images: Float[ArrayLike, "*batch 8 24"]) -> Float[Array, "*batch 3 8 8"]:
    """The inverse of `stack_digits`: (..., 8, 24) → (..., 3, 8, 8)."""
    images = jnp.asarray(images)
    if images.shape[-2:] != STACKED_SHAPE:
        raise ValueError(
            f"stacked images must have shape (..., 8, 24) (three 8×8 digits side by side), "
            f"got {images.shape}"
        )
    w = DIGIT_SHAPE[1]
    return jnp.stack([images[..., :, k * w : (k + 1) * w] for k in range(3)], axis=-3)


def stacked_label(digit_labels: Int[ArrayLike, "*batch 3"]) -> Int[Array, "*batch"]:
    r"""$\ell = 100\,d_1 + 10\,d_2 + d_3$ from the three digit labels (left to right)."""
    d = jnp.asarray(digit_labels)
    if d.shape[-1:] != (3,):
        raise ValueError(f"digit_labels must have shape (..., 3), got {d.shape}")
    return 100 * d[..., 0] + 10 * d[..., 1] + d[..., 2]


class DigitData(eqx.Module):
    r"""A set of 8×8 digits held as JAX arrays (so samplers are `jit`/`vmap` friendly), sorted
    by class: `images` (n, 8, 8) in [−1, 1], `labels` (n,), and for each class c its first
    index `class_start[c]` and size `class_count[c]`.

    Sampling is **class-balanced**: a class uniform on {0, …, 9}, then an image uniform within
    that class. The stacked labels of `sample_stacked` are therefore exactly uniform on the
    1000 modes (scikit-learn's classes hold 174–183 images each, so uniform sampling of images
    would tilt the mode distribution by up to ±5% per digit).

    Build it with `load_digit_data(split)`, or from your own arrays (every class must occur).
    """

    images: Float[Array, "n 8 8"]
    labels: Int[Array, " n"]
    class_start: Int[Array, " 10"]
    class_count: Int[Array, " 10"]

    def __init__(self, images: Float[ArrayLike, "n 8 8"], labels: Int[ArrayLike, " n"]):
        images_np, labels_np = np.asarray(images), np.asarray(labels)
        if images_np.ndim != 3 or images_np.shape[1:] != DIGIT_SHAPE:
            raise ValueError(f"images must have shape (n, 8, 8), got {images_np.shape}")
        if labels_np.shape != images_np.shape[:1] or not np.issubdtype(labels_np.dtype, np.integer):
            raise ValueError(
                f"labels must be integers of shape ({images_np.shape[0]},), got "
                f"{labels_np.dtype} of shape {labels_np.shape}"
            )
        counts = np.bincount(labels_np, minlength=NUM_CLASSES)
        if labels_np.min() < 0 or counts.size > NUM_CLASSES or np.any(counts == 0):
            raise ValueError("labels must lie in {0, …, 9} and every class must occur")
        order = np.argsort(labels_np, kind="stable")
        self.images = jnp.asarray(images_np[order], jnp.result_type(float))
        self.labels = jnp.asarray(labels_np[order], jnp.int32)
        self.class_start = jnp.asarray(np.concatenate([[0], np.cumsum(counts)[:-1]]), jnp.int32)
        self.class_count = jnp.asarray(counts, jnp.int32)

    @property
    def size(self) -> int:
        return self.labels.shape[0]

    def astype(self, dtype) -> "DigitData":
        """The same digits with `images` as `dtype` (labels and class indices unchanged)."""
        return eqx.tree_at(lambda d: d.images, self, self.images.astype(dtype))

    def sample(
        self, key: PRNGKeyArray, n: int
    ) -> tuple[Float[Array, "n 8 8"], Int[Array, " n"]]:
        """n class-balanced digits and their labels."""
        check_int_at_least("n", n, 1)
        kc, ki = jax.random.split(key)
        c = jax.random.randint(kc, (n,), 0, NUM_CLASSES)
        u = jax.random.uniform(ki, (n,))
        offset = jnp.minimum((u * self.class_count[c]).astype(jnp.int32), self.class_count[c] - 1)
        idx = self.class_start[c] + offset
        return self.images[idx], self.labels[idx]

    def sample_stacked(
        self, key: PRNGKeyArray, n: int
    ) -> tuple[Float[Array, "n 8 24"], Int[Array, " n"]]:
        r"""n stacked images (three independent class-balanced digits side by side) and their
        labels $100\,d_1 + 10\,d_2 + d_3$, uniform on {0, …, 999}."""
        check_int_at_least("n", n, 1)
        digits, labels = jax.vmap(lambda k: self.sample(k, n))(jax.random.split(key, 3))
        return stack_digits(jnp.swapaxes(digits, 0, 1)), stacked_label(labels.T)


def load_digit_data(split: Literal["train", "held_out", "all"] = "train") -> DigitData:
    """scikit-learn's bundled 8×8 digits in [−1, 1] (no download): the fixed training split
    (1442 digits), the held-out split (355: every fifth image of each class in file order), or
    all 1797. Arrays take the default float dtype (float64 under `jax_enable_x64`)."""
    check_choice("split", split, _SPLITS)
    images, labels = _raw_digits()
    if split != "all":
        held = digit_split_mask(labels)
        keep = held if split == "held_out" else ~held
        images, labels = images[keep], labels[keep]
    return DigitData(images, labels)


# ---------------------------------------------------------------------------------------------
# mode metrics


class ModeMetrics(NamedTuple):
    r"""Mode coverage of a set of labelled samples (`label_mode_metrics`): `modes_covered`, the
    number of modes holding at least `min_count` samples; `kl_uniform`, the reverse KL
    divergence $KL(\hat p \,\|\, u)$ of the label histogram from the uniform distribution on
    the `num_modes` modes (as `MoGQuality.kl_uniform`); `mode_counts`, the histogram."""

    modes_covered: Int[Array, ""]
    kl_uniform: Float[Array, ""]
    mode_counts: Int[Array, " modes"]
    num_modes: int
    min_count: int


def label_mode_metrics(
    labels: Int[ArrayLike, " n"], num_modes: int = NUM_MODES, min_count: int = 1
) -> ModeMetrics:
    r"""Modes covered and $KL(\hat p \,\|\, u)$ of a set of mode labels in
    {0, …, num_modes − 1}, with $\hat p_k$ = (number of labels equal to k) / n and u uniform:

    $$KL(\hat p \,\|\, u) = \sum_{k:\,\hat p_k > 0} \hat p_k \log(K \hat p_k)
    = \log K - H(\hat p) \in [0, \log K].$$

    **Empty bins** contribute nothing ($0 \log 0 = 0$, the limit): this reverse KL is finite
    and needs no smoothing, whereas the forward $KL(u \,\|\, \hat p)$ is infinite as soon as
    one mode is missed. It is 0 only for an exactly uniform histogram, $\log(K/m)$ for samples
    spread evenly over m modes and $\log K$ for a single mode (one implementation with
    `MoGQuality.kl_uniform`). This is the stacked-MNIST convention of VEEGAN (Srivastava et
    al. 2017) and PacGAN (Lin et al. 2018, Table 2; their evaluation code, `log_metrics` in
    `stacked_MNIST_experiments/*/model.py` of github.com/fjxmlzn/PacGAN, sums
    $p \log(p/q)$ over $p \ne 0$ with q = 1/1000, counts a mode as covered when at least one
    sample falls in it, and uses 26,000 samples). Finite samples bias it upwards: n draws from
    the uniform law give $E\,KL ≈ (K - 1)/(2n)$, ≈ 0.019 for K = 1000, n = 26,000.

    **Arguments:** `labels` (n,) integers (a value outside {0, …, K − 1} raises at run time,
    `eqx.error_if`); `num_modes` K; `min_count` samples for a mode to count as covered (1, the
    VEEGAN/PacGAN convention).

    **Returns:** a `ModeMetrics`. Traceable (`jit`, `vmap` over label sets).
    """
    check_int_at_least("num_modes", num_modes, 1)
    check_int_at_least("min_count", min_count, 1)
    labels = jnp.asarray(labels)
    if labels.ndim != 1 or not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(
            f"labels must be a 1-D integer array, got {labels.dtype} of shape {labels.shape}"
        )
    n = labels.shape[0]
    check_int_at_least("the number of labels", n, 1)
    labels = eqx.error_if(
        labels, jnp.any((labels < 0) | (labels >= num_modes)), "labels must lie in [0, num_modes)"
    )
    counts = jnp.bincount(labels, length=num_modes).astype(jnp.int32)
    return ModeMetrics(
        modes_covered=jnp.sum(counts >= min_count).astype(jnp.int32),
        kl_uniform=_kl_to_uniform(counts, jnp.result_type(float)),
        mode_counts=counts,
        num_modes=num_modes,
        min_count=min_count,
    )


def stacked_labels(
    classifier: Callable[[Array], Array], images: Float[ArrayLike, "n 8 24"]
) -> Int[Array, " n"]:
    r"""The mode $100\,d_1 + 10\,d_2 + d_3$ of each stacked image, with $d_k$ the classifier's
    arg-max on the k-th 8×8 third (left to right). `classifier` maps one 8×8 image to 10 logits
    (a `DigitClassifier` from `train_digit_classifier`)."""
    images = jnp.asarray(images)
    if images.ndim != 3 or images.shape[1:] != STACKED_SHAPE:
        raise ValueError(f"images must have shape (n, 8, 24), got {images.shape}")
    logits = jax.vmap(jax.vmap(classifier))(unstack_digits(images))
    if logits.shape[2:] != (NUM_CLASSES,):
        raise ValueError(
            f"the classifier must map one 8×8 image to {NUM_CLASSES} logits, got shape "
            f"{logits.shape[2:]}"
        )
    return stacked_label(jnp.argmax(logits, axis=-1).astype(jnp.int32))


def stacked_mode_metrics(
    classifier: Callable[[Array], Array], images: Float[ArrayLike, "n 8 24"], min_count: int = 1
) -> ModeMetrics:
    """`label_mode_metrics` of the classified stacked images (1000 modes): modes covered and
    KL(p̂ ‖ uniform), the stacked-MNIST protocol of VEEGAN and PacGAN (which use 26,000
    samples). Traceable: `eqx.filter_jit(stacked_mode_metrics)(classifier, images)`, or
    `vmap` over sets of images."""
    return label_mode_metrics(stacked_labels(classifier, images), NUM_MODES, min_count)


def real_mode_metrics(
    classifier: Callable[[Array], Array],
    key: PRNGKeyArray,
    n: int,
    split: Literal["train", "held_out", "all"] = "held_out",
    dtype=None,
) -> tuple[int, float]:
    r"""(modes covered, KL(p̂ ‖ uniform)) of n real stacked images of `split` (`sample_stacked`
    from `key`, images as `dtype` when given) labelled by `classifier`: the value a perfect
    generator would get under the stacked-MNIST protocol (VEEGAN, PacGAN). A perfect classifier
    and sampler give all 1000 modes and KL ≈ (K − 1)/(2n), the finite-sample bias of
    `label_mode_metrics`; a real classifier's errors add to it."""
    data = load_digit_data(split)
    data = data if dtype is None else data.astype(dtype)
    check_int_at_least("n", n, 1)

    @eqx.filter_jit
    def metrics(clf, data, key):
        images, _ = data.sample_stacked(key, n)
        m = label_mode_metrics(stacked_labels(clf, images), NUM_MODES)
        return m.modes_covered, m.kl_uniform

    modes, kl = metrics(classifier, data, key)
    return int(modes), float(kl)


# ---------------------------------------------------------------------------------------------
# the game


class StackedDigits(AbstractGANGame):
    r"""The stacked-digits GAN: data are three class-balanced 8×8 digits side by side (8 × 24
    images in [−1, 1], 1000 equally likely modes $100\,d_1 + 10\,d_2 + d_3$), the generator a
    `ConvGenerator` (latent z ∼ N(0, I_latent_dim) → tanh image) and the discriminator a
    `ConvDiscriminator` (image → logit). The objective is the f-family
    $Φ = E f(D(x)) + E f(-D(G(z)))$ of `loss` (docs/conventions.md §The game), so the vector
    field, the stabilisers and the training schemes apply unchanged.

    With the defaults (latent_dim 16, channels 16) the generator has 14,993 parameters and the
    discriminator 8,881: **23,874 in total** (`num_params()`).

    There is no closed-form population objective; use minibatches (`sample`, `objective()`).
    Mode coverage: `mode_metrics(classifier, samples)` (a dict) or `stacked_mode_metrics`
    (a `ModeMetrics`), with a classifier from `train_digit_classifier` (the VEEGAN/PacGAN
    protocol: modes covered of 1000 and KL(p̂ ‖ uniform), on 26,000 samples).

    **Arguments:** `loss` (name or `AbstractLoss`); `latent_dim`; `channels` (width of both
    players); `split` of the digits the data are drawn from (`"train"` by default, the split the
    classifier is trained on; `"all"` for all 1797); `data` (a `DigitData`, overrides `split`).

    ```python
    game = StackedDigits()
    x = game.init(key)
    scheme = AlternatingGDA(game.vector_field(), optax.adam(2e-4), lambda k: game.sample(k, 64))
    ```
    """

    loss: AbstractLoss
    data: DigitData
    latent_dim: int = eqx.field(static=True)
    channels: int = eqx.field(static=True)
    split: str = eqx.field(static=True)

    def __init__(
        self,
        loss: str | AbstractLoss = "gan",
        latent_dim: int = 16,
        channels: int = 16,
        split: Literal["train", "held_out", "all"] = "train",
        data: DigitData | None = None,
    ):
        self.loss = get_loss(loss)
        self.latent_dim = check_int_at_least("latent_dim", latent_dim, 1)
        self.channels = check_int_at_least("channels", channels, 1)
        self.split = check_choice("split", split, _SPLITS) if data is None else "custom"
        if data is not None and not isinstance(data, DigitData):
            raise ValueError(f"data must be a DigitData, got {type(data).__name__}")
        self.data = load_digit_data(split) if data is None else data

    def init(self, key):
        kg, kd = jax.random.split(key)
        gen = ConvGenerator.init(kg, self.latent_dim, STACKED_SHAPE, self.channels)
        disc = ConvDiscriminator.init(kd, STACKED_SHAPE, self.channels)
        return gen, disc

    def num_params(self) -> tuple[int, int]:
        """(generator, discriminator) parameter counts of `init`'s models, without building them."""
        c, z = self.channels, self.latent_dim
        cells = (STACKED_SHAPE[0] // 4) * (STACKED_SHAPE[1] // 4)
        gen = (z + 1) * 2 * c * cells + (2 * c * c * 16 + c) + (c * 16 + 1)
        disc = (16 * c + c) + (c * 2 * c * 16 + 2 * c) + (2 * c * cells + 1)
        return gen, disc

    def sample_data(self, key, n):
        return self.data.sample_stacked(key, n)[0]

    def sample_stacked(
        self, key: PRNGKeyArray, n: int
    ) -> tuple[Float[Array, "n 8 24"], Int[Array, " n"]]:
        """n real stacked images with their labels (see `DigitData.sample_stacked`)."""
        return self.data.sample_stacked(key, n)

    def sample_latent(self, key, n):
        return jax.random.normal(key, (n, self.latent_dim), self.data.images.dtype)

    def generate(self, theta, key: PRNGKeyArray, n: int) -> Float[Array, "n 8 24"]:
        """n samples G_θ(z) of the generator `theta`."""
        return jax.vmap(theta)(self.sample_latent(key, n))

    def mode_metrics(
        self, classifier: Callable, samples: Float[ArrayLike, "n 8 24"], min_count: int = 1
    ) -> dict[str, Array]:
        """The VEEGAN/PacGAN stacked-MNIST metrics as a dict of scalar arrays (an `observe`
        dict, like `MixtureOfGaussians.mode_metrics`): `"modes_covered"` (of 1000) and
        `"kl_uniform"`, from `stacked_mode_metrics(classifier, samples, min_count)`."""
        m = stacked_mode_metrics(classifier, samples, min_count)
        return {"modes_covered": m.modes_covered, "kl_uniform": m.kl_uniform}
