"""Built-in games by name."""

import inspect
from typing import Any

from .._checks import check_choice
from ._base import AbstractGame
from ._bilinear import Bilinear
from ._dirac import DiracGAN
from ._lq import LinearQuadraticGaussian
from ._mog import MixtureOfGaussians
from ._nk import NagarajanKolter2D


def _mog(kind):
    def make(loss="gan", latent_dim=8, width=128, depth=2, std=None, activation="relu"):
        return MixtureOfGaussians(kind, loss, latent_dim, width, depth, std, activation)

    return make


_GAMES = {
    "dirac": DiracGAN,
    "nk2d": NagarajanKolter2D,
    "lq-gaussian": LinearQuadraticGaussian,
    "bilinear": Bilinear,
    "mog-ring": _mog("ring"),
    "mog-grid": _mog("grid"),
    "mog-grid16": _mog("grid16"),
}
GAME_NAMES = tuple(_GAMES)
"""The names `get_game` accepts: dirac, nk2d, lq-gaussian, bilinear, mog-ring, mog-grid,
mog-grid16."""


def get_game(name: str, **kwargs: Any) -> AbstractGame:
    """A built-in game by name: `"dirac"` (`DiracGAN`), `"nk2d"` (`NagarajanKolter2D`),
    `"lq-gaussian"` (`LinearQuadraticGaussian`), `"bilinear"` (`Bilinear`), `"mog-ring"`,
    `"mog-grid"` and `"mog-grid16"` (`MixtureOfGaussians` of that kind); keyword arguments go to
    the constructor.

    Raises `ValueError` for an unknown name (listing the choices) or an unknown keyword (naming it
    and the valid ones).

    Example: `get_game("lq-gaussian", m=0.0, sigma=2.0)`, `get_game("mog-ring", loss="nsgan")`.
    """
    check_choice("game", name, GAME_NAMES)
    make = _GAMES[name]
    params = inspect.signature(make).parameters
    valid = [p for p in params if p != "self"]
    bad = sorted(set(kwargs) - set(valid))
    if bad:
        raise ValueError(
            f"unknown keyword argument{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad))} "
            f"for game {name!r}; valid keywords: {valid}"
        )
    return make(**kwargs)
