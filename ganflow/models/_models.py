"""Generators and discriminators as equinox Modules.

Every model here is a pytree of parameter arrays only (hyper-parameters are static fields), so a
model *is* its player's parameters: the state x = (θ, ω) is a pair of models, and `jax.jvp`,
`ravel_pytree` and `vmap` apply to it directly. Models act on one example; games vmap them.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, PRNGKeyArray


def _f(value: ArrayLike) -> Array:
    return jnp.asarray(value, dtype=jnp.result_type(float))


class Linear(eqx.Module):
    r"""$x ↦ W x + b$. Scalar `weight` and `bias` (shape ()) act on scalar examples, e.g. the
    generator G(z) = a z of Nagarajan–Kolter §4."""

    weight: Array
    bias: Array | None

    def __init__(self, weight: ArrayLike, bias: ArrayLike | None = None):
        self.weight = _f(weight)
        self.bias = None if bias is None else _f(bias)

    @classmethod
    def init(
        cls, key: PRNGKeyArray, in_size: int, out_size: int, *, bias: bool = True, scale=None
    ) -> "Linear":
        """Glorot-uniform-like initialisation, U(−s, s) with s = 1/sqrt(in_size)."""
        wkey, bkey = jax.random.split(key)
        s = 1.0 / jnp.sqrt(in_size) if scale is None else scale
        dtype = jnp.result_type(float)
        w = jax.random.uniform(wkey, (out_size, in_size), dtype, -s, s)
        b = jax.random.uniform(bkey, (out_size,), dtype, -s, s) if bias else None
        return cls(w, b)

    def __call__(self, x: ArrayLike) -> Array:
        y = self.weight * x if self.weight.ndim == 0 else self.weight @ x
        return y if self.bias is None else y + self.bias


class DiracGenerator(eqx.Module):
    r"""The Dirac-GAN generator $p_θ = δ_θ$: G(z) = θ for every z (Mescheder 2018)."""

    theta: Array

    def __init__(self, theta: ArrayLike):
        self.theta = _f(theta)

    def __call__(self, z: ArrayLike) -> Array:
        del z
        return self.theta


class LinearDiscriminator(eqx.Module):
    r"""The Dirac-GAN discriminator D(x) = ψ x (Mescheder 2018)."""

    psi: Array

    def __init__(self, psi: ArrayLike):
        self.psi = _f(psi)

    def __call__(self, x: ArrayLike) -> Array:
        return self.psi * x


class QuadraticDiscriminator(eqx.Module):
    r"""D(x) = w₂ x² (Nagarajan–Kolter §4, Fig. 3)."""

    w2: Array

    def __init__(self, w2: ArrayLike):
        self.w2 = _f(w2)

    def __call__(self, x: ArrayLike) -> Array:
        return self.w2 * jnp.square(x)


class QuadraticLogistic(eqx.Module):
    r"""The quadratic-logistic discriminator of Mounjid–Guo eq. 3, returned as a logit:
    $D_w(x) = \mathrm{sigmoid}(w_3 x^2/2 + w_2 x + w_1)$; the sigmoid is the GAN loss's f
    (f(t) = log sigmoid(t)), so `__call__` returns $w_3 x^2/2 + w_2 x + w_1$."""

    w1: Array
    w2: Array
    w3: Array

    def __init__(self, w1: ArrayLike, w2: ArrayLike, w3: ArrayLike):
        self.w1, self.w2, self.w3 = _f(w1), _f(w2), _f(w3)

    def __call__(self, x: ArrayLike) -> Array:
        return 0.5 * self.w3 * jnp.square(x) + self.w2 * x + self.w1


class MLP(eqx.Module):
    """A multi-layer perceptron: `depth` hidden layers of `width` units and `activation`, then a
    linear output layer (and `final_activation`). `out_size=None` returns a scalar."""

    layers: tuple[Linear, ...]
    activation: Callable[[Array], Array] = eqx.field(static=True)
    final_activation: Callable[[Array], Array] | None = eqx.field(static=True)
    scalar_out: bool = eqx.field(static=True)

    def __init__(self, layers, activation=jax.nn.relu, final_activation=None, scalar_out=False):
        self.layers = tuple(layers)
        self.activation = activation
        self.final_activation = final_activation
        self.scalar_out = scalar_out

    @classmethod
    def init(
        cls,
        key: PRNGKeyArray,
        in_size: int,
        out_size: int | None,
        width: int,
        depth: int,
        activation: Callable[[Array], Array] = jax.nn.relu,
        final_activation: Callable[[Array], Array] | None = None,
    ) -> "MLP":
        sizes = [in_size] + [width] * depth + [1 if out_size is None else out_size]
        keys = jax.random.split(key, len(sizes) - 1)
        layers = [Linear.init(k, i, o) for k, i, o in zip(keys, sizes[:-1], sizes[1:])]
        return cls(layers, activation, final_activation, scalar_out=out_size is None)

    def __call__(self, x: ArrayLike) -> Array:
        h = jnp.atleast_1d(x)
        for layer in self.layers[:-1]:
            h = self.activation(layer(h))
        h = self.layers[-1](h)
        if self.final_activation is not None:
            h = self.final_activation(h)
        return h[0] if self.scalar_out else h

    @property
    def num_params(self) -> int:
        return sum(a.size for a in jax.tree_util.tree_leaves(self))
