r"""The one-dimensional vanilla GAN of Mounjid & Guo, "Convergence of GANs training: a game and
stochastic control methodology" (§4): data N(m, σ²) given as a fixed training sample, latent
N(0, 1), MLP generator and discriminator, and its test-set metrics."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .._checks import check_choice, check_int_at_least
from ..losses import AbstractLoss, get_loss
from ..models import ACTIVATIONS, MLP, activation
from ._base import AbstractGANGame

_SALT_DATA, _SALT_TEST_Z = 0x4441, 0x545A


def gaussian_data_split(key: Any, m: float, sigma: float, n_train: int, n_test: int,
                        dtype: str = "float32") -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""(train, test, test_latents): the data of Mounjid–Guo §4, n_train + n_test points of
    N(m, σ²) drawn once from `key` and split into a training and a test set, and n_test fixed
    test latents N(0, 1), all in `dtype` (`"float64"` draws in float64 when x64 is on, else in
    float32). The training set is `GaussianMLPGame`'s `train`; the test set and latents are
    what its metrics are evaluated on."""
    check_int_at_least("n_train", n_train, 1)
    check_int_at_least("n_test", n_test, 1)
    draw = jnp.float64 if dtype == "float64" and jax.config.jax_enable_x64 else jnp.float32
    data = m + sigma * jax.random.normal(jax.random.fold_in(key, _SALT_DATA),
                                         (n_train + n_test,), draw)
    data = data.astype(dtype)
    test_z = jax.random.normal(jax.random.fold_in(key, _SALT_TEST_Z), (n_test,))
    return data[:n_train], data[n_train:], test_z.astype(dtype)


class GaussianMLPGame(AbstractGANGame):
    r"""The one-dimensional vanilla GAN of Mounjid–Guo §4: data X ∼ N(m, σ²) given as a fixed
    training sample `train` (minibatches are drawn from it uniformly with replacement), latent
    Z ∼ N(0, 1), generator $G_θ: ℝ → ℝ$ and discriminator logit $D_ω: ℝ → ℝ$ both MLPs with
    `depth` hidden layers of `width` units and `activation` (a name of
    `ganflow.models.ACTIVATIONS`; PyTorch's default initialisation U(−1/√n_in, 1/√n_in) of
    weights and biases, `ganflow.models.MLP.init`). The objective is the f-family of
    `AbstractGANGame` with `loss` (`"nsgan"`: the discriminator maximises
    $E\log D(X) + E\log(1 - D(G(Z)))$ and the generator minimises $-E\log D(G(Z))$).

    ```python
    data = 3.0 + jax.random.normal(key, (8000,))
    game = GaussianMLPGame(data, "nsgan", width=16, depth=2)
    x = game.init(jax.random.key(1))           # (generator MLP, discriminator MLP)
    acc = game.discriminator_accuracy(x, test_data, test_latents)
    ```
    """

    loss: AbstractLoss
    train: jax.Array
    width: int = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    activation: str = eqx.field(static=True)

    def __init__(self, train, loss="nsgan", width=16, depth=2, activation="tanh"):
        self.train = jnp.asarray(train)
        if self.train.ndim != 1 or self.train.size < 1:
            raise ValueError(f"train must be a non-empty 1-D array, got shape {self.train.shape}")
        self.loss = get_loss(loss)
        self.width = check_int_at_least("width", width, 1)
        self.depth = check_int_at_least("depth", depth, 1)
        self.activation = check_choice("activation", activation, tuple(ACTIVATIONS))

    @property
    def dtype(self):
        return self.train.dtype

    def init(self, key):
        """(generator, discriminator): two MLPs 1 → width → … → 1, in the data's dtype."""
        kg, kd = jax.random.split(key)
        act = activation(self.activation)
        gen = MLP.init(kg, 1, None, self.width, self.depth, act)
        disc = MLP.init(kd, 1, None, self.width, self.depth, act)
        return jax.tree_util.tree_map(lambda a: a.astype(self.dtype), (gen, disc))

    def sample_data(self, key, n):
        idx = jax.random.randint(key, (n,), 0, self.train.shape[0])
        return self.train[idx]

    def sample_latent(self, key, n):
        return jax.random.normal(key, (n,), self.dtype)

    def discriminator_accuracy(self, x: Any, data: jax.Array, latents: jax.Array) -> jax.Array:
        r"""Test accuracy of the discriminator (Mounjid–Guo Fig. 3):
        ½ P̂(D(X) > ½) + ½ P̂(D(G(Z)) ≤ ½) on the test `data` and as many test `latents`
        (½ when it cannot tell them apart)."""
        theta, omega = x
        real = jax.vmap(omega)(data)
        fake = jax.vmap(omega)(jax.vmap(theta)(latents))
        return 0.5 * jnp.mean(real > 0) + 0.5 * jnp.mean(fake <= 0)

    def generator_loss(self, x: Any, data: jax.Array, latents: jax.Array) -> jax.Array:
        r"""The generator's loss on a test set (Mounjid–Guo Fig. 4; nsgan:
        $-\frac1n\sum\log D(G(z_j))$)."""
        theta, omega = x
        real = jax.vmap(omega)(data)
        fake = jax.vmap(omega)(jax.vmap(theta)(latents))
        return jnp.mean(self.loss.generator(real, fake))

    def discriminator_loss(self, x: Any, data: jax.Array, latents: jax.Array) -> jax.Array:
        r"""The discriminator's loss on a test set (binary cross-entropy for the logistic
        losses), $-\frac1n\sum[f(D(x_j)) + f(-D(G(z_j)))]$."""
        theta, omega = x
        real = jax.vmap(omega)(data)
        fake = jax.vmap(omega)(jax.vmap(theta)(latents))
        return -jnp.mean(self.loss.discriminator(real, fake))
