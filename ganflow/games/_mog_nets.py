r"""A 2-D mixture of Gaussians played by ReLU MLPs of separate sizes, as in the public reference
codes of Nagarajan–Kolter 2017, Mescheder et al. 2017 and Balduzzi et al. 2018; and a minibatch
sampler of a game that compares equal for equal settings."""

from typing import Any

import equinox as eqx
import jax
import numpy as np

from .._checks import check_choice
from ..losses import AbstractLoss, get_loss
from ..models import MLP_INITS, ScaledInput, init_mlp
from ._base import AbstractGame, AbstractGANGame
from ._mog import MixtureOfGaussians

_DTYPES = ("float32", "float64")


class GameSampler(eqx.Module):
    """`key ↦ game.sample(key, batch_size)`: a scheme's minibatch sampler (Cao–Guo eq. 6: a
    fresh minibatch per player step). A Module, so that two samplers of equal settings compare
    equal (and schemes built from them too)."""

    game: AbstractGame
    batch_size: int = eqx.field(static=True)

    def __call__(self, key: Any) -> Any:
        return self.game.sample(key, self.batch_size)


class MoGNetsGame(AbstractGANGame):
    r"""A 2-D mixture of Gaussians (`MixtureOfGaussians`: its modes, std, data sampler and
    metrics) played by ReLU MLPs of **separate** sizes, as in the public reference codes:
    generator $G(z)$, latent z ∼ N(0, I), `gen_depth` hidden layers of `gen_width`;
    discriminator $D(x) = \mathrm{MLP}(s\,x)$ with `disc_depth` × `disc_width` and input scale s
    (Nagarajan–Kolter 2017's code: 1/4). `init` selects the reference code's initialisation
    (`ganflow.models.init_mlp`: uniform, orthogonal with `init_gain`, glorot, truncated_normal).
    Samples and parameters are in `dtype` (float32 like the reference codes, whatever jax's
    default).

    ```python
    nk = MoGNetsGame("ring", "gan", latent_dim=256, gen_width=128, gen_depth=2, disc_width=128,
                     disc_depth=1, input_scale=0.25, init="orthogonal", init_gain=0.8)
    ```

    Final; the objective is the f-family of `AbstractGANGame` with `loss`.
    """

    mixture: MixtureOfGaussians
    loss: AbstractLoss
    gen_width: int = eqx.field(static=True)
    gen_depth: int = eqx.field(static=True)
    disc_width: int = eqx.field(static=True)
    disc_depth: int = eqx.field(static=True)
    input_scale: float = eqx.field(static=True)
    init_kind: str = eqx.field(static=True)
    init_gain: float = eqx.field(static=True)
    dtype: str = eqx.field(static=True)

    def __init__(self, kind="ring", loss="gan", latent_dim=8, gen_width=128, gen_depth=2,
                 disc_width=128, disc_depth=2, input_scale=1.0, init="uniform", init_gain=1.0,
                 dtype="float32", std=None):
        self.mixture = MixtureOfGaussians(kind, loss, latent_dim=latent_dim, std=std)
        self.loss = get_loss(loss)
        self.gen_width, self.gen_depth = int(gen_width), int(gen_depth)
        self.disc_width, self.disc_depth = int(disc_width), int(disc_depth)
        self.input_scale = float(input_scale)
        self.init_kind = check_choice("init", init, MLP_INITS)
        self.init_gain = float(init_gain)
        self.dtype = check_choice("dtype", dtype, _DTYPES)

    @property
    def latent_dim(self) -> int:
        return self.mixture.latent_dim

    @property
    def modes(self):
        return self.mixture.modes.astype(self.dtype)

    @property
    def std(self) -> float:
        return self.mixture.std

    def init(self, key):
        kg, kd = jax.random.split(key)
        gen = init_mlp(kg, self.latent_dim, 2, self.gen_width, self.gen_depth, self.init_kind,
                       self.init_gain, self.dtype)
        disc = init_mlp(kd, 2, None, self.disc_width, self.disc_depth, self.init_kind,
                        self.init_gain, self.dtype)
        return gen, ScaledInput(disc, self.input_scale)

    def sample_data(self, key, n):
        return self.mixture.sample_data(key, n).astype(self.dtype)

    def sample_latent(self, key, n):
        return jax.random.normal(key, (n, self.latent_dim), self.dtype)

    def generate(self, theta, key, n: int):
        """n samples G_θ(z)."""
        return jax.vmap(theta)(self.sample_latent(key, n))

    def num_params(self) -> int:
        x = jax.eval_shape(self.init, jax.random.key(0))
        return sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(x))
