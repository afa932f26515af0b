"""Games: players, losses, samplers, and the exact population objective where there is one."""

from ._base import AbstractGame as AbstractGame
from ._base import AbstractGANGame as AbstractGANGame
from ._bilinear import Bilinear as Bilinear
from ._dirac import DiracGAN as DiracGAN
from ._lq import (
    LinearQuadraticGaussian as LinearQuadraticGaussian,
)
from ._lq import (
    LQDegenerateAnalysis as LQDegenerateAnalysis,
)
from ._lq import (
    lq_degenerate_stationary_points as lq_degenerate_stationary_points,
)
from ._mog import (
    MixtureOfGaussians as MixtureOfGaussians,
)
from ._mog import (
    MoGQuality as MoGQuality,
)
from ._mog import (
    mog_modes as mog_modes,
)
from ._mog import (
    mog_sample_quality as mog_sample_quality,
)
from ._nk import NagarajanKolter2D as NagarajanKolter2D
from ._registry import GAME_NAMES as GAME_NAMES
from ._registry import get_game as get_game
