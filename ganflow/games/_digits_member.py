r"""One training run of the stacked-digits GAN as an ensemble member (`ganflow.engine`), observing
the stacked-MNIST metrics of Metz et al. 2017, VEEGAN and PacGAN (modes covered of 1000 and
KL(p̂ ‖ uniform)) and samples of fixed latents at every save point."""

from typing import Any

import equinox as eqx
import jax

from ..engine import AbstractProblem
from ._digits import (
    NUM_MODES,
    StackedDigits,
    _cast_floating,
    label_mode_metrics,
    stacked_labels,
)
from ._digits_classifier import DigitClassifier

SALT_INIT, SALT_EVAL, SALT_FIGURE = 0x494E, 0x4556, 0x4649
"""`fold_in` salts of a seed's key: initial players, evaluation latents, figure latents."""
EVAL_BLOCK = 2000
"""Generated samples classified together (bounds the memory of a save point)."""



class StackedDigitsMember(AbstractProblem):
    r"""One seed of a training scheme on `StackedDigits` as an ensemble member.

    The state is (the scheme's `TrainState`, the seed's key data); the initial players are
    `game.init(fold_in(seed_key, SALT_INIT))` cast to `dtype` (the same for every scheme played
    from that seed: common random numbers); step t is `scheme.step(state, fold_in(seed_key,
    t))`, the scheme drawing its batches from that key. Each save point observes

    - `modes_covered`, `kl_uniform`: `label_mode_metrics` of the stacked labels
      $100 d_1 + 10 d_2 + d_3$ that `classifier` gives `num_eval` fresh generator samples
      (latents from `fold_in(fold_in(seed_key, SALT_EVAL), step)`, the same across schemes),
      classified in blocks of `EVAL_BLOCK`;
    - `samples`: $G_θ(z)$ for `num_keep` latents fixed for the whole run
      (`fold_in(seed_key, SALT_FIGURE)`).

    `scheme` is any training scheme of `ganflow.training` built on `game` with a sampler (e.g.
    `make_scheme("alternating", game, optax.adam(1e-3), sampler=lambda k: game.sample(k, 32))`).
    The classifier's parameters are part of the problem (and of its fingerprint).
    """

    game: StackedDigits
    scheme: Any
    classifier: DigitClassifier
    num_eval: int = eqx.field(static=True)
    num_keep: int = eqx.field(static=True)
    dtype: str = eqx.field(static=True)
    vectorised = False

    def init(self, key, params, inputs=None):
        x0 = _cast_floating(self.game.init(jax.random.fold_in(key, SALT_INIT)), self.dtype)
        return self.scheme.init(x0), jax.random.key_data(key)

    def step(self, state, key, t, params):
        train, kd = state
        return self.scheme.step(train, key), kd

    def observe(self, state, params):
        train, kd = state
        theta = train.x[0]
        key = jax.random.wrap_key_data(kd)
        k_eval = jax.random.fold_in(jax.random.fold_in(key, SALT_EVAL), train.step)
        block = min(self.num_eval, EVAL_BLOCK)
        blocks = -(-self.num_eval // block)

        def labels_of(k):
            return stacked_labels(self.classifier, self.game.generate(theta, k, block))

        labels = jax.lax.map(labels_of, jax.random.split(k_eval, blocks))
        m = label_mode_metrics(labels.reshape(-1)[: self.num_eval], NUM_MODES)
        samples = self.game.generate(theta, jax.random.fold_in(key, SALT_FIGURE),
                                     self.num_keep)
        return {"modes_covered": m.modes_covered, "kl_uniform": m.kl_uniform,
                "samples": samples}

    def finite_part(self, state):
        return state[0].x
