"""Games: players, losses, samplers, and the exact population objective where there is one."""

from ._base import AbstractGame as AbstractGame, AbstractGANGame as AbstractGANGame
from ._bilinear import Bilinear as Bilinear
from ._digits import (
    DigitData as DigitData,
    ModeMetrics as ModeMetrics,
    StackedDigits as StackedDigits,
    label_mode_metrics as label_mode_metrics,
    load_digit_data as load_digit_data,
    real_mode_metrics as real_mode_metrics,
    stack_digits as stack_digits,
    stacked_label as stacked_label,
    stacked_labels as stacked_labels,
    stacked_mode_metrics as stacked_mode_metrics,
    unstack_digits as unstack_digits,
)
from ._digits_classifier import (
    DigitClassifier as DigitClassifier,
    train_digit_classifier as train_digit_classifier,
)
from ._digits_member import StackedDigitsMember as StackedDigitsMember
from ._dirac import DiracGAN as DiracGAN
from ._gaussian_mlp import (
    GaussianMLPGame as GaussianMLPGame,
    gaussian_data_split as gaussian_data_split,
)
from ._lq import (
    LinearQuadraticGaussian as LinearQuadraticGaussian,
    LQDegenerateAnalysis as LQDegenerateAnalysis,
    lq_degenerate_stationary_points as lq_degenerate_stationary_points,
)
from ._mog import (
    MixtureOfGaussians as MixtureOfGaussians,
    MoGQuality as MoGQuality,
    mode_metrics as mode_metrics,
    mog_modes as mog_modes,
    mog_nearest_mode as mog_nearest_mode,
    mog_sample_quality as mog_sample_quality,
)
from ._mog_nets import GameSampler as GameSampler, MoGNetsGame as MoGNetsGame
from ._nk import NagarajanKolter2D as NagarajanKolter2D
from ._registry import GAME_NAMES as GAME_NAMES, get_game as get_game
