r"""The MLP initialisations of the public reference codes of the GAN stabiliser papers, and the
input-scaled wrapper of Nagarajan–Kolter's discriminator."""

import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from .._checks import check_choice
from ._models import MLP, Linear

MLP_INITS = ("uniform", "orthogonal", "glorot", "truncated_normal")
"""The initialisations `init_mlp(init=...)` accepts."""


def init_mlp(key: PRNGKeyArray, in_size: int, out_size: int | None, width: int, depth: int,
             init: str = "uniform", gain: float = 1.0, dtype: Any = "float32") -> MLP:
    r"""A ReLU `MLP` (`depth` hidden layers of `width`; `out_size=None`: scalar output) with the
    initialisation of a reference code, its parameters in `dtype`:

    - `"uniform"`: ganflow's default (`MLP.init`), U(−1/√n_in, 1/√n_in) for weights and biases;
    - `"orthogonal"`: orthogonal weights times `gain`, zero biases (TF
      `orthogonal_initializer(gain)` with slim's zero biases: Nagarajan–Kolter 2017,
      locuslab/gradient_regularized_gan, gain 0.8; Metz et al. 2017);
    - `"glorot"`: Glorot-uniform weights, zero biases (TF-slim's default: Mescheder, Nowozin &
      Geiger 2017, LMescheder/TheNumericsOfGANs);
    - `"truncated_normal"`: N(0, 1/n_in) truncated at 2 std, zero biases (Sonnet's `Linear`:
      Balduzzi et al. 2018, deepmind/symplectic-gradient-adjustment).

    ```python
    gen = init_mlp(key, 256, 2, 128, 2, "orthogonal", gain=0.8)   # NK's generator
    ```
    """
    check_choice("init", init, MLP_INITS)
    net = MLP.init(key, in_size, out_size, width, depth, jax.nn.relu)
    if init == "uniform":
        return jax.tree_util.tree_map(lambda a: a.astype(dtype), net)
    keys = jax.random.split(jax.random.fold_in(key, 1), len(net.layers))
    layers = []
    for k, layer in zip(keys, net.layers):
        out_n, in_n = layer.weight.shape
        if init == "orthogonal":
            w = gain * jax.nn.initializers.orthogonal()(k, (in_n, out_n), dtype).T
        elif init == "glorot":
            w = jax.nn.initializers.glorot_uniform()(k, (in_n, out_n), dtype).T
        else:
            w = jax.random.truncated_normal(k, -2.0, 2.0, (out_n, in_n), dtype) / math.sqrt(in_n)
        layers.append(Linear(w, jnp.zeros((out_n,))))
    net = MLP(layers, jax.nn.relu, None, scalar_out=out_size is None)
    return jax.tree_util.tree_map(lambda a: a.astype(dtype), net)  # Linear casts to jax's default


class ScaledInput(eqx.Module):
    r"""$x ↦ f(s\,x)$: a network reading its input scaled by `scale` (Nagarajan–Kolter's
    discriminator reads x/4)."""

    net: Any
    scale: float = eqx.field(static=True)

    def __call__(self, x):
        return self.net(self.scale * x)
