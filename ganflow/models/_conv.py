r"""Small DCGAN-style convolutional players for single-channel images (Radford et al. 2016).

Like every ganflow model they act on **one example** and are pytrees of parameter arrays only
(equinox's convolutions keep their hyper-parameters in static fields), so a pair
(`ConvGenerator`, `ConvDiscriminator`) is a state x = (θ, ω) for the vector field, the
stabilisers and the training schemes. No batch normalisation: a per-example model cannot hold
batch statistics, and the field b0 must be a function of x and the batch only.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._checks import check_int_at_least
from ._models import Linear

_KERNEL, _STRIDE, _PADDING = 4, 2, 1  # each layer halves (discriminator) or doubles (generator)


def _check_image_shape(image_shape: tuple[int, int]) -> tuple[int, int]:
    if (
        not isinstance(image_shape, tuple)
        or len(image_shape) != 2
        or any(isinstance(s, bool) or not isinstance(s, int) for s in image_shape)
    ):
        raise ValueError(f"image_shape must be a pair of ints (height, width), got {image_shape!r}")
    if any(s < 4 or s % 4 for s in image_shape):
        raise ValueError(
            "image_shape must have sides that are positive multiples of 4 (two stride-2 layers), "
            f"got {image_shape}"
        )
    return image_shape


def _num_params(model: eqx.Module) -> int:
    return sum(a.size for a in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_array)))


class ConvGenerator(eqx.Module):
    r"""A DCGAN-style generator $z ↦ \tanh(\text{image})$ of shape `image_shape` = (H, W):

    $z \xrightarrow{\text{linear}} (2c, H/4, W/4) \xrightarrow{\text{ReLU, convT 4×4/2}}
    (c, H/2, W/2) \xrightarrow{\text{ReLU, convT 4×4/2}} (1, H, W) \xrightarrow{\tanh}$

    with c = `channels`. Parameters:
    $(d_z + 1)\,2c\,HW/16 + 2c \cdot c \cdot 16 + c + 16c + 1$; for d_z = 16, c = 16,
    (8, 24): 6,528 + 8,208 + 257 = **14,993**.

    **Example**: `ConvGenerator.init(key, 16)(z)` has shape (8, 24) and values in (−1, 1).
    """

    linear: Linear
    deconv1: eqx.nn.ConvTranspose2d
    deconv2: eqx.nn.ConvTranspose2d
    image_shape: tuple[int, int] = eqx.field(static=True)
    channels: int = eqx.field(static=True)
    activation: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(self, linear, deconv1, deconv2, image_shape, channels, activation=jax.nn.relu):
        self.linear, self.deconv1, self.deconv2 = linear, deconv1, deconv2
        self.image_shape = _check_image_shape(tuple(image_shape))
        self.channels = check_int_at_least("channels", channels, 1)
        self.activation = activation

    @classmethod
    def init(
        cls,
        key: PRNGKeyArray,
        latent_dim: int,
        image_shape: tuple[int, int] = (8, 24),
        channels: int = 16,
        activation: Callable[[Array], Array] = jax.nn.relu,
    ) -> "ConvGenerator":
        """Random initial generator: the linear layer as `Linear.init` (U(±1/√fan_in)), the
        transposed convolutions with equinox's default (also U(±1/√fan_in)).

        **Arguments:** `key`; `latent_dim` d_z; `image_shape` (H, W), multiples of 4;
        `channels` c (the first feature map has 2c channels); `activation` (ReLU).

        **Returns:** a `ConvGenerator`.
        """
        check_int_at_least("latent_dim", latent_dim, 1)
        check_int_at_least("channels", channels, 1)
        h, w = _check_image_shape(tuple(image_shape))
        k0, k1, k2 = jax.random.split(key, 3)
        dtype = jnp.result_type(float)
        linear = Linear.init(k0, latent_dim, 2 * channels * (h // 4) * (w // 4))
        kw = dict(stride=_STRIDE, padding=_PADDING, dtype=dtype)
        deconv1 = eqx.nn.ConvTranspose2d(2 * channels, channels, _KERNEL, key=k1, **kw)
        deconv2 = eqx.nn.ConvTranspose2d(channels, 1, _KERNEL, key=k2, **kw)
        return cls(linear, deconv1, deconv2, (h, w), channels, activation)

    @property
    def latent_dim(self) -> int:
        return self.linear.weight.shape[1]

    def __call__(self, z: Float[ArrayLike, " latent"]) -> Float[Array, "H W"]:
        if jnp.shape(z) != (self.latent_dim,):
            raise ValueError(
                f"ConvGenerator takes one latent of shape ({self.latent_dim},), got "
                f"{jnp.shape(z)} (vmap it over a batch)"
            )
        h, w = self.image_shape
        x = self.linear(z).reshape(2 * self.channels, h // 4, w // 4)
        x = self.deconv1(self.activation(x))
        x = self.deconv2(self.activation(x))
        return jnp.tanh(x[0])

    @property
    def num_params(self) -> int:
        return _num_params(self)


class ConvDiscriminator(eqx.Module):
    r"""A DCGAN-style discriminator image (H, W) ↦ scalar logit:

    $(1, H, W) \xrightarrow{\text{conv 4×4/2, LReLU}} (c, H/2, W/2)
    \xrightarrow{\text{conv 4×4/2, LReLU}} (2c, H/4, W/4) \xrightarrow{\text{linear}} ℝ$

    with leaky-ReLU slope `negative_slope` (0.2, as in DCGAN). Parameters:
    $17c + 2c \cdot c \cdot 16 + 2c + 2c\,HW/16 + 1$; for c = 16, (8, 24):
    272 + 8,224 + 385 = **8,881**.
    """

    conv1: eqx.nn.Conv2d
    conv2: eqx.nn.Conv2d
    linear: Linear
    image_shape: tuple[int, int] = eqx.field(static=True)
    negative_slope: float = eqx.field(static=True)

    def __init__(self, conv1, conv2, linear, image_shape, negative_slope=0.2):
        self.conv1, self.conv2, self.linear = conv1, conv2, linear
        self.image_shape = _check_image_shape(tuple(image_shape))
        self.negative_slope = float(negative_slope)

    @classmethod
    def init(
        cls,
        key: PRNGKeyArray,
        image_shape: tuple[int, int] = (8, 24),
        channels: int = 16,
        negative_slope: float = 0.2,
    ) -> "ConvDiscriminator":
        """Random initial discriminator (equinox's default convolution initialisation,
        `Linear.init` for the read-out).

        **Arguments:** `key`; `image_shape` (H, W), multiples of 4; `channels` c (the second
        feature map has 2c channels); `negative_slope` of the leaky ReLU.

        **Returns:** a `ConvDiscriminator`.
        """
        check_int_at_least("channels", channels, 1)
        h, w = _check_image_shape(tuple(image_shape))
        k0, k1, k2 = jax.random.split(key, 3)
        dtype = jnp.result_type(float)
        kw = dict(stride=_STRIDE, padding=_PADDING, dtype=dtype)
        conv1 = eqx.nn.Conv2d(1, channels, _KERNEL, key=k0, **kw)
        conv2 = eqx.nn.Conv2d(channels, 2 * channels, _KERNEL, key=k1, **kw)
        linear = Linear.init(k2, 2 * channels * (h // 4) * (w // 4), 1)
        return cls(conv1, conv2, linear, (h, w), negative_slope)

    def __call__(self, image: Float[ArrayLike, "H W"]) -> Float[Array, ""]:
        if jnp.shape(image) != self.image_shape:
            raise ValueError(
                f"ConvDiscriminator takes one image of shape {self.image_shape}, got "
                f"{jnp.shape(image)} (vmap it over a batch)"
            )
        act = lambda t: jax.nn.leaky_relu(t, self.negative_slope)  # noqa: E731
        x = act(self.conv1(jnp.asarray(image)[None]))
        x = act(self.conv2(x))
        return self.linear(x.ravel())[0]

    @property
    def num_params(self) -> int:
        return _num_params(self)
