"""A catalogue of games with known answers, shared by the test files: each with its equilibrium,
the closed form of J = ∂b0/∂x there (docs/conventions.md §Reference results), and a central
finite-difference JVP to check any derivative against. The closed forms are written from the
maths here, once, and never computed by ganflow.

- `F_PRIME`, `F_SECOND`: f′(0), f″(0) of the f-family losses (f(t) = −log(1 + e^{−t}) for the
  GAN and its non-saturating variant: f′(0) = 1/2, f″(0) = −1/4; f(t) = t for the WGAN);
- `KNOWN_GAMES`: name → `KnownGame` (the objective or game, its equilibrium, J there);
- `fd_jvp(fn, x, v)`: (fn(x + εv) − fn(x − εv)) / 2ε on pytrees, in float64.
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

F_PRIME = {"gan": 0.5, "nsgan": 0.5, "wgan": 1.0}
F_SECOND = {"gan": -0.25, "nsgan": -0.25, "wgan": 0.0}


@dataclasses.dataclass(frozen=True)
class KnownGame:
    """A game (anything `ganflow.dynamics.vector_field` or `game.vector_field` accepts, built
    by `make()`), a point where its field vanishes and the closed-form J there (flat order,
    θ first); `population`: call the game's field with `population=True`."""

    make: Callable[[], Any]
    equilibrium: Callable[[Any], Any]
    jacobian: np.ndarray | None
    population: bool = True

    def field(self):
        import ganflow as gf

        game = self.make()
        if isinstance(game, gf.games.AbstractGame):
            return game.vector_field(population=self.population)
        return gf.dynamics.vector_field(game)


def _dirac(loss):
    import ganflow as gf

    fp = F_PRIME[loss]
    return KnownGame(lambda: gf.games.DiracGAN(loss), lambda g: g.equilibrium(),
                     np.array([[0.0, fp], [-fp, 0.0]]))


def _nk(loss):
    import ganflow as gf

    fp, fpp = F_PRIME[loss], F_SECOND[loss]
    return KnownGame(lambda: gf.games.NagarajanKolter2D(loss), lambda g: g.equilibrium(),
                     np.array([[0.0, 2 * fp / 3], [-2 * fp / 3, 2 * fpp / 5]]))


def _quadratic(a=1.0, b=2.0, c=0.5):
    """Φ(θ, ω) = aθ²/2 + bθω − cω²/2 (convex–concave): b0 = (−aθ − bω, bθ − cω)."""
    return KnownGame(lambda: (lambda th, om: a * th**2 / 2 + b * th * om - c * om**2 / 2),
                     lambda g: (jnp.zeros(()), jnp.zeros(())),
                     np.array([[-a, -b], [b, -c]]))


def _bilinear():
    import ganflow as gf

    return KnownGame(lambda: gf.games.Bilinear(2), lambda g: g.equilibrium(),
                     np.block([[np.zeros((2, 2)), -np.eye(2)], [np.eye(2), np.zeros((2, 2))]]))


def _lq():
    """Mounjid–Guo eq. 3 with m = 1, σ = 2: the field vanishes at θ* = (m, σ), w* = 0 (J is
    checked against finite differences only)."""
    import ganflow as gf

    return KnownGame(lambda: gf.games.LinearQuadraticGaussian(m=1.0, sigma=2.0),
                     lambda g: g.equilibrium(), None)


KNOWN_GAMES = {
    "dirac-gan": _dirac("gan"),
    "dirac-wgan": _dirac("wgan"),
    "nk2d-gan": _nk("gan"),
    "nk2d-wgan": _nk("wgan"),
    "quadratic": _quadratic(),
    "bilinear": _bilinear(),
    "lq-gaussian": _lq(),
}


def fd_jvp(fn: Callable[[Any], Any], x: Any, v: Any, eps: float = 1e-6) -> Any:
    """The central finite difference (fn(x + εv) − fn(x − εv)) / 2ε (error O(ε²) in exact
    arithmetic, ≈ 1e-10 relative in float64 at ε = 1e-6)."""
    plus = fn(jax.tree.map(lambda a, d: a + eps * d, x, v))
    minus = fn(jax.tree.map(lambda a, d: a - eps * d, x, v))
    return jax.tree.map(lambda p, m: (p - m) / (2 * eps), plus, minus)
