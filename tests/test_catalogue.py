"""The shared catalogue of games with known answers (tests/helpers.py) against ganflow: the field
vanishes at each equilibrium, J there equals its closed form, and the JVP of b0 at a random point
equals a central finite difference."""

import jax
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import ganflow as gf
from tests.helpers import F_PRIME, F_SECOND, KNOWN_GAMES, fd_jvp


@pytest.mark.parametrize("name", sorted(KNOWN_GAMES))
def test_known_game_equilibrium_jacobian_and_jvp(name):
    known = KNOWN_GAMES[name]
    game = known.make()
    b = known.field()
    x_star = known.equilibrium(game)
    np.testing.assert_allclose(ravel_pytree(b(x_star))[0], 0.0, atol=1e-10)
    if known.jacobian is not None:
        np.testing.assert_allclose(gf.dynamics.jacobian(b, x_star), known.jacobian,
                                   atol=1e-10)
    flat, unravel = ravel_pytree(x_star)
    k1, k2 = jax.random.split(jax.random.key(0))
    x = unravel(flat + 0.3 * jax.random.normal(k1, flat.shape, flat.dtype))
    v = unravel(jax.random.normal(k2, flat.shape, flat.dtype))
    exact = ravel_pytree(jax.jvp(b, (x,), (v,))[1])[0]
    approx = ravel_pytree(fd_jvp(b, x, v))[0]
    np.testing.assert_allclose(exact, approx, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("loss", sorted(F_PRIME))
def test_loss_derivatives_at_zero_are_the_closed_forms(loss):
    L = gf.losses.get_loss(loss)
    assert float(L.f_prime(0.0)) == pytest.approx(F_PRIME[loss], abs=1e-15)
    assert float(L.f_second(0.0)) == pytest.approx(F_SECOND[loss], abs=1e-15)
