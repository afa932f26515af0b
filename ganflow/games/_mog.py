r"""Mixtures of Gaussians in the plane with MLP players (Metz et al. 2017, unrolled GANs)."""

from typing import Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from .._checks import check_choice, check_int_at_least, check_positive
from ..losses import AbstractLoss, get_loss
from ..models import MLP
from ._base import AbstractGANGame

_KINDS = ("ring", "grid")
_DEFAULT_STD = {"ring": 0.02, "grid": 0.05}
_ACTIVATIONS = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "leaky_relu": jax.nn.leaky_relu,
    "elu": jax.nn.elu,
    "softplus": jax.nn.softplus,
    "gelu": jax.nn.gelu,
}


def mog_modes(kind: str) -> np.ndarray:
    """The mode centres: a ring of 8 on the circle of radius 2 (angles 2πk/8), or a 5 × 5 grid on
    {−4, −2, 0, 2, 4}²."""
    check_choice("kind", kind, _KINDS)
    if kind == "ring":
        angles = 2.0 * np.pi * np.arange(8) / 8
        return 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    axis = np.arange(-4.0, 5.0, 2.0)
    gx, gy = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


class MoGQuality(NamedTuple):
    """Sample quality on a mixture of Gaussians (Metz et al. 2017, §3.1):
    `high_quality_fraction`, the fraction of samples within `num_std` stds of their nearest mode;
    `mode_counts`, the number of such samples per mode; `modes_covered`, the number of modes whose
    count reaches `min_count`; `num_modes`."""

    high_quality_fraction: Float[Array, ""]
    modes_covered: Int[Array, ""]
    mode_counts: Int[Array, " modes"]
    num_modes: int
    min_count: int


def mog_sample_quality(
    samples: Float[ArrayLike, "n 2"],
    modes: Float[ArrayLike, "modes 2"],
    std: float,
    num_std: float = 3.0,
    min_fraction: float = 0.25,
) -> MoGQuality:
    r"""Quality of `samples` from a generator trained on the mixture with centres `modes` and
    per-mode standard deviation `std`: a sample is of high quality when it lies within
    `num_std`·std of its nearest mode, and a mode is covered when it holds at least
    `min_count = max(1, ⌈min_fraction · n / K⌉)` high-quality samples (a quarter of its fair share
    by default)."""
    check_positive("std", std)
    check_positive("num_std", num_std)
    check_positive("min_fraction", min_fraction)
    samples = jnp.asarray(samples)
    modes = jnp.asarray(modes, samples.dtype)
    if samples.ndim != 2 or samples.shape[1] != 2:
        raise ValueError(f"samples must have shape (n, 2), got {samples.shape}")
    n, k = samples.shape[0], modes.shape[0]
    dist = jnp.linalg.norm(samples[:, None, :] - modes[None, :, :], axis=-1)
    nearest = jnp.argmin(dist, axis=1)
    good = jnp.min(dist, axis=1) <= num_std * std
    counts = jnp.zeros((k,), jnp.int32).at[nearest].add(good.astype(jnp.int32))
    min_count = max(1, int(np.ceil(min_fraction * n / k)))
    return MoGQuality(
        high_quality_fraction=jnp.mean(good.astype(samples.dtype)),
        modes_covered=jnp.sum(counts >= min_count),
        mode_counts=counts,
        num_modes=k,
        min_count=min_count,
    )


class MixtureOfGaussians(AbstractGANGame):
    r"""A 2-D mixture of Gaussians with MLP players, the standard mode-collapse benchmark
    (Metz et al. 2017; Nagarajan–Kolter §4, Fig. 1): `kind="ring"`, 8 equally weighted modes on
    the circle of radius 2 with std 0.02; `kind="grid"`, 25 modes on {−4, −2, 0, 2, 4}² with std
    0.05 (`std` overrides). Latent z ∼ N(0, I_latent_dim).

    `init(key)` builds the generator `MLP(latent_dim → 2)` and the discriminator
    `MLP(2 → scalar logit)`, each with `depth` hidden layers of `width` units and `activation`.
    With the defaults (latent_dim 8, width 128, depth 2) the generator has
    8·128+128 + 128·128+128 + 128·2+2 = 17,922 parameters and the discriminator
    2·128+128 + 128·128+128 + 128+1 = 17,025: **34,947 in total** (`num_params()`), the
    "MoG MLP GAN (~35k parameters)" of the benchmarks.

    There is no closed-form population objective; use minibatches (`sample`, `objective()`).
    Sample quality: `sample_quality(samples)` (fraction within 3 std of a mode, modes covered).
    """

    kind: str = eqx.field(static=True)
    loss: AbstractLoss
    latent_dim: int = eqx.field(static=True)
    width: int = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    std: float = eqx.field(static=True)
    activation: str = eqx.field(static=True)

    def __init__(
        self,
        kind: Literal["ring", "grid"] = "ring",
        loss: str | AbstractLoss = "gan",
        latent_dim: int = 8,
        width: int = 128,
        depth: int = 2,
        std: float | None = None,
        activation: str = "relu",
    ):
        self.kind = check_choice("kind", kind, _KINDS)
        self.loss = get_loss(loss)
        self.latent_dim = check_int_at_least("latent_dim", latent_dim, 1)
        self.width = check_int_at_least("width", width, 1)
        self.depth = check_int_at_least("depth", depth, 0)
        std = _DEFAULT_STD[kind] if std is None else std
        check_positive("std", std)
        self.std = float(std)
        self.activation = check_choice("activation", activation, tuple(_ACTIVATIONS))

    @property
    def modes(self) -> Float[Array, "modes 2"]:
        """The mode centres, shape (8, 2) or (25, 2)."""
        return jnp.asarray(mog_modes(self.kind), jnp.result_type(float))

    def init(self, key):
        kg, kd = jax.random.split(key)
        act = _ACTIVATIONS[self.activation]
        gen = MLP.init(kg, self.latent_dim, 2, self.width, self.depth, act)
        disc = MLP.init(kd, 2, None, self.width, self.depth, act)
        return gen, disc

    def num_params(self) -> tuple[int, int]:
        """(generator, discriminator) parameter counts of `init`'s models, without building them."""
        w, dep, z = self.width, self.depth, self.latent_dim
        hidden = (dep - 1) * (w * w + w) if dep > 0 else 0
        if dep == 0:
            return z * 2 + 2, 2 + 1
        return z * w + w + hidden + w * 2 + 2, 2 * w + w + hidden + w + 1

    def sample_data(self, key, n):
        kc, kn = jax.random.split(key)
        modes = self.modes
        idx = jax.random.randint(kc, (n,), 0, modes.shape[0])
        return modes[idx] + self.std * jax.random.normal(kn, (n, 2), modes.dtype)

    def sample_latent(self, key, n):
        return jax.random.normal(key, (n, self.latent_dim), jnp.result_type(float))

    def generate(self, theta, key, n: int) -> Float[Array, "n 2"]:
        """n samples G_θ(z) of the generator `theta`."""
        return jax.vmap(theta)(self.sample_latent(key, n))

    def sample_quality(
        self, samples: Float[ArrayLike, "n 2"], num_std: float = 3.0, min_fraction: float = 0.25
    ) -> MoGQuality:
        """`mog_sample_quality` with this mixture's modes and std."""
        return mog_sample_quality(samples, self.modes, self.std, num_std, min_fraction)
