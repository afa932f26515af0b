r"""One seed of a training scheme on a mixture-of-Gaussians game as an ensemble member of the
engine, observing the mode metrics of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al.
2018) at every save point."""

from typing import Any

import equinox as eqx
import jax

from ..engine import AbstractProblem
from ..games import AbstractGANGame, mode_metrics

_SALT_INIT, _SALT_EVAL = 0x494E, 0x4556


class MoGTrainProblem(AbstractProblem):
    r"""One seed of a training `scheme` (e.g. `make_scheme(...)` with a `GameSampler`) on a
    2-D mixture-of-Gaussians `game` (`ganflow.games.MoGNetsGame`, or any GAN game with
    `modes`, `std` and `generate(θ, key, n)`) as an ensemble member
    (`ganflow.engine.run_ensemble`).

    The state is (TrainState, the seed's key data); the initial players are
    `game.init(fold_in(seed_key, 0x494E))`; step t draws its batches from `fold_in(seed_key, t)`.
    Every save point observes the mode metrics of `num_eval` fresh generator samples
    (`ganflow.games.mode_metrics`: `modes_covered`, `high_quality_fraction`, `kl_uniform`;
    Nagarajan–Kolter 2017 §4, PacGAN Table 1) and keeps the first `num_keep` of them
    (`samples`, for figures and the neural-net distance). The evaluation latents come from
    (seed key, step): the same across methods run with the same seeds (common random numbers).

    ```python
    member = MoGTrainProblem(game, make_scheme("alternating", game, opt,
                             sampler=GameSampler(game, 256)), num_eval=2500, num_keep=512)
    ```
    """

    game: AbstractGANGame
    scheme: Any
    num_eval: int = eqx.field(static=True)
    num_keep: int = eqx.field(static=True)
    vectorised = False

    def init(self, key, params, inputs=None):
        x0 = self.game.init(jax.random.fold_in(key, _SALT_INIT))
        return self.scheme.init(x0), jax.random.key_data(key)

    def step(self, state, key, t, params):
        train, kd = state
        return self.scheme.step(train, key), kd

    def observe(self, state, params):
        train, kd = state
        key = jax.random.fold_in(jax.random.fold_in(jax.random.wrap_key_data(kd), _SALT_EVAL),
                                 train.step)
        samples = self.game.generate(train.x[0], key, self.num_eval)
        out = dict(mode_metrics(samples, self.game.modes, self.game.std))
        out["samples"] = samples[: self.num_keep]
        return out

    def finite_part(self, state):
        return state[0].x
