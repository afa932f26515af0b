r"""Mixtures of Gaussians in the plane with MLP players (Metz et al. 2017, unrolled GANs), and
the mode-collapse metrics of VEEGAN / PacGAN on them."""

from typing import Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from .._checks import check_choice, check_int_at_least, check_positive
from ..losses import AbstractLoss, get_loss
from ..models import ACTIVATIONS, MLP
from ._base import AbstractGANGame

_KINDS = ("ring", "grid", "grid16")
_DEFAULT_STD = {"ring": 0.02, "grid": 0.05, "grid16": 0.02}


def mog_modes(kind: str) -> np.ndarray:
    """The mode centres of a built-in mixture, shape (K, 2):

    - `"ring"`: 8 on the circle of radius 2, angles 2πk/8 (Metz et al. 2017);
    - `"grid"`: 25 on {−4, −2, 0, 2, 4}² (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al.
      2018);
    - `"grid16"`: 16 on {−1.5, −0.5, 0.5, 1.5}², spacing 1 (the 4 × 4 grid of SGA, Balduzzi et
      al. 2018, §4.2, as in their reference notebook `deepmind/symplectic-gradient-adjustment`).

    Grids are listed with the first coordinate slowest (`meshgrid(..., indexing="ij")`).
    """
    check_choice("kind", kind, _KINDS)
    if kind == "ring":
        angles = 2.0 * np.pi * np.arange(8) / 8
        return 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    axis = np.arange(-4.0, 5.0, 2.0) if kind == "grid" else np.arange(-1.5, 2.0, 1.0)
    gx, gy = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


class MoGQuality(NamedTuple):
    """Sample quality on a mixture of Gaussians (see `mog_sample_quality`):
    `high_quality_fraction`, the fraction of samples within `num_std` stds of their nearest mode;
    `modes_covered`, the number of modes whose count reaches `min_count`; `mode_counts`, the number
    of high-quality samples per mode; `num_modes`; `min_count`; `kl_uniform`, the reverse KL
    divergence KL(p̂ ‖ uniform) of the high-quality samples' mode histogram (NaN when there is no
    high-quality sample)."""

    high_quality_fraction: Float[Array, ""]
    modes_covered: Int[Array, ""]
    mode_counts: Int[Array, " modes"]
    num_modes: int
    min_count: int
    kl_uniform: Float[Array, ""]


def _check_samples_modes(samples, modes):
    samples = jnp.asarray(samples)
    if not jnp.issubdtype(samples.dtype, jnp.floating):
        samples = samples.astype(jnp.result_type(float))
    modes = jnp.asarray(modes, samples.dtype)
    if samples.ndim != 2 or modes.ndim != 2 or samples.shape[1] != modes.shape[1]:
        raise ValueError(
            f"samples must have shape (n, d) and modes shape (K, d) with the same d; got "
            f"samples {samples.shape} and modes {modes.shape}"
        )
    if samples.shape[0] == 0 or modes.shape[0] == 0:
        raise ValueError(
            f"need at least one sample and one mode; got samples {samples.shape}, "
            f"modes {modes.shape}"
        )
    return samples, modes


def mog_nearest_mode(
    samples: Float[ArrayLike, "n d"], modes: Float[ArrayLike, "modes d"]
) -> tuple[Int[Array, " n"], Float[Array, " n"]]:
    r"""The nearest mode of every sample and the Euclidean distance to it:
    $k(x) = \arg\min_k \|x - μ_k\|$ (ties to the lower index), $d(x) = \min_k \|x - μ_k\|$.

    Pure and jit/vmap friendly; memory O(n K).

    **Arguments:** `samples` (n, d); `modes` (K, d).

    **Returns:** `(nearest, distance)`, shapes (n,) int32 and (n,).
    """
    samples, modes = _check_samples_modes(samples, modes)
    sq = jnp.sum(jnp.square(samples[:, None, :] - modes[None, :, :]), axis=-1)
    nearest = jnp.argmin(sq, axis=1).astype(jnp.int32)
    return nearest, jnp.sqrt(jnp.min(sq, axis=1))


def _kl_to_uniform(counts: Array, dtype) -> Array:
    r"""$\sum_k \hat p_k \log(K \hat p_k)$ with $\hat p = c/\sum c$, 0 log 0 = 0; NaN if Σc = 0."""
    c = counts.astype(dtype)
    total = jnp.sum(c)
    p = c / jnp.where(total > 0, total, 1.0)
    kl = jnp.sum(jax.scipy.special.xlogy(p, counts.shape[0] * p))
    return jnp.where(total > 0, kl, jnp.nan)


@eqx.filter_jit
def mog_sample_quality(
    samples: Float[ArrayLike, "n d"],
    modes: Float[ArrayLike, "modes d"],
    std: float | Float[ArrayLike, ""],
    num_std: float = 3.0,
    min_fraction: float = 0.25,
    *,
    min_count: int | None = None,
) -> MoGQuality:
    r"""Quality of `samples` from a generator trained on the mixture with centres `modes` and
    per-mode (isotropic) standard deviation `std`.

    - A sample x is of **high quality** when it lies within `num_std`·std of its nearest mode,
      $\min_k\|x - μ_k\| ≤ \text{num\_std}\cdot σ$ (VEEGAN, Srivastava et al. 2017, §5.1;
      PacGAN, Lin et al. 2018, §5.1: three standard deviations). `mode_counts[k]` counts the
      high-quality samples whose nearest mode is k.
    - A mode is **covered** when it holds at least `min_count` high-quality samples. With
      `min_count=None` (this function's default, kept for compatibility)
      $\text{min\_count} = \max(1, ⌈\text{min\_fraction}\cdot n/K⌉)$, a quarter of a mode's
      fair share; `mode_metrics` uses the VEEGAN/PacGAN convention `min_count=1`.
    - `kl_uniform`: with $\hat p_k = c_k/\sum_j c_j$ the histogram of the high-quality samples
      over the modes, the reverse KL divergence to the uniform mixture weights,
      $\mathrm{KL}(\hat p \,\|\, u) = \sum_k \hat p_k \log(K \hat p_k) = \log K - H(\hat p)$.
      Empty bins contribute 0 (0 log 0 = 0), so the value is finite, in [0, log K]: 0 for a
      uniform histogram, log(K/m) for samples spread evenly over m modes, log K for a collapse
      onto one. Low-quality samples do not enter the histogram; when there is none of high
      quality p̂ is undefined and `kl_uniform` is NaN.

    Pure jax.numpy, compiled with `eqx.filter_jit` (Python numbers are static, arrays traced):
    jit/vmap friendly, `std` may be traced; `n`, `K`, `num_std`, `min_count` are static.

    **Arguments:** `samples` (n, d); `modes` (K, d); `std` > 0; `num_std` > 0; `min_fraction`
    > 0; `min_count` ≥ 1 or None.

    **Returns:** a `MoGQuality`.
    """
    std = check_positive("std", std)
    check_positive("num_std", num_std)
    check_positive("min_fraction", min_fraction)
    samples, modes = _check_samples_modes(samples, modes)
    n, k = samples.shape[0], modes.shape[0]
    if min_count is None:
        min_count = max(1, int(np.ceil(min_fraction * n / k)))
    else:
        min_count = check_int_at_least("min_count", min_count, 1)
    nearest, dist = mog_nearest_mode(samples, modes)
    good = dist <= num_std * std
    counts = jnp.zeros((k,), jnp.int32).at[nearest].add(good.astype(jnp.int32))
    return MoGQuality(
        high_quality_fraction=jnp.mean(good.astype(samples.dtype)),
        modes_covered=jnp.sum(counts >= min_count).astype(jnp.int32),
        mode_counts=counts,
        num_modes=k,
        min_count=min_count,
        kl_uniform=_kl_to_uniform(counts, samples.dtype),
    )


def mode_metrics(
    samples: Float[ArrayLike, "n d"],
    means: Float[ArrayLike, "modes d"],
    std: float | Float[ArrayLike, ""],
    num_std: float = 3.0,
    min_count: int = 1,
) -> dict[str, Array]:
    r"""The three mode-collapse metrics of VEEGAN (Srivastava et al. 2017, §5.1) and PacGAN
    (Lin et al. 2018, §5.1, Table 1) as a dict of scalar arrays (an `observe` dict):

    - `"modes_covered"` (int32): modes with at least `min_count` high-quality samples. Default
      1, the PacGAN convention (their evaluation code, `fjxmlzn/PacGAN`,
      `pacgan/extensions.py::MetricLogger`, counts a mode as covered when any of 2500 generated
      samples within 3 stds has it as nearest mode);
    - `"high_quality_fraction"`: the fraction of samples within `num_std`·std of their nearest
      mode;
    - `"kl_uniform"`: KL(p̂ ‖ uniform) of the high-quality samples' histogram over the modes, in
      nats, empty bins contributing 0, NaN if no sample is of high quality.

    One implementation: this is `mog_sample_quality(samples, means, std, num_std,
    min_count=min_count)`, read out. Pure and jit/vmap friendly (vmap it over seeds).

    **Arguments:** `samples` (n, d); `means` (K, d) the mode centres; `std` the per-mode standard
    deviation; `num_std` (3); `min_count` (1).

    **Returns:** `{"modes_covered", "high_quality_fraction", "kl_uniform"}`.

    **Example:** `mode_metrics(game.generate(theta, key, 2500), game.modes, game.std)`.
    """
    q = mog_sample_quality(samples, means, std, num_std, min_count=min_count)
    return {
        "modes_covered": q.modes_covered,
        "high_quality_fraction": q.high_quality_fraction,
        "kl_uniform": q.kl_uniform,
    }


class MixtureOfGaussians(AbstractGANGame):
    r"""A 2-D mixture of Gaussians with MLP players, the standard mode-collapse benchmark
    (Metz et al. 2017; Nagarajan–Kolter §4, Fig. 1), equally weighted isotropic modes
    (`mog_modes`; `std` overrides the default std):

    | kind | modes | centres | default std |
    |---|---|---|---|
    | `"ring"` | 8 | circle of radius 2 (Metz et al. 2017; VEEGAN; PacGAN) | 0.02 |
    | `"grid"` | 25 | {−4, −2, 0, 2, 4}² (VEEGAN; PacGAN) | 0.05 |
    | `"grid16"` | 16 | {−1.5, −0.5, 0.5, 1.5}², spacing 1 (SGA, Balduzzi et al. 2018) | 0.02 |

    `"grid16"`'s std 0.02 is that of SGA's reference notebook, which draws
    μ + 0.1·0.2·N(0, I); with 3 std = 0.06 ≪ half the spacing (0.5) the modes are well separated,
    as they are for the ring (neighbours 2·sin(π/8)·2 ≈ 1.53 apart) and the 25-grid (2 apart).
    Latent z ∼ N(0, I_latent_dim).

    `init(key)` builds the generator `MLP(latent_dim → 2)` and the discriminator
    `MLP(2 → scalar logit)`, each with `depth` hidden layers of `width` units and `activation`.
    With the defaults (latent_dim 8, width 128, depth 2) the generator has
    8·128+128 + 128·128+128 + 128·2+2 = 17,922 parameters and the discriminator
    2·128+128 + 128·128+128 + 128+1 = 17,025: **34,947 in total** (`num_params()`), the
    "MoG MLP GAN (~35k parameters)" of the benchmarks.

    There is no closed-form population objective; use minibatches (`sample`, `objective()`).
    Sample quality: `sample_quality(samples)` (fraction within 3 std of a mode, modes covered);
    `mode_metrics(samples)`, the VEEGAN/PacGAN metrics as a dict (modes covered, high-quality
    fraction, reverse KL to uniform).
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
        kind: Literal["ring", "grid", "grid16"] = "ring",
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
        self.activation = check_choice("activation", activation, tuple(ACTIVATIONS))

    @property
    def modes(self) -> Float[Array, "modes 2"]:
        """The mode centres, shape (8, 2), (25, 2) or (16, 2)."""
        return jnp.asarray(mog_modes(self.kind), jnp.result_type(float))

    def init(self, key):
        kg, kd = jax.random.split(key)
        act = ACTIVATIONS[self.activation]
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
        self,
        samples: Float[ArrayLike, "n 2"],
        num_std: float = 3.0,
        min_fraction: float = 0.25,
        *,
        min_count: int | None = None,
    ) -> MoGQuality:
        """`mog_sample_quality` with this mixture's modes and std."""
        return mog_sample_quality(
            samples, self.modes, self.std, num_std, min_fraction, min_count=min_count
        )

    def mode_metrics(
        self, samples: Float[ArrayLike, "n 2"], num_std: float = 3.0, min_count: int = 1
    ) -> dict[str, Array]:
        """`mode_metrics` with this mixture's modes and std."""
        return mode_metrics(samples, self.modes, self.std, num_std, min_count)
