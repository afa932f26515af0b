"""Games: players, losses, samplers, and the exact population objective where there is one."""

from ._base import AbstractGame as AbstractGame, AbstractGANGame as AbstractGANGame
from ._bilinear import Bilinear as Bilinear
from ._dirac import DiracGAN as DiracGAN
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
from ._nk import NagarajanKolter2D as NagarajanKolter2D
from ._registry import GAME_NAMES as GAME_NAMES, get_game as get_game
