"""Games: players, losses, samplers, and the exact population objective where there is one."""

from ._base import AbstractGame as AbstractGame, AbstractGANGame as AbstractGANGame
from ._dirac import DiracGAN as DiracGAN
