"""Closed forms of the two-parameter games (`ganflow.analysis.equilibrium_linearisation`,
`closed_form_spectra`) against the losses' own derivatives and ganflow's Jacobians, and the
flow and gradient-descent paths and gridded fields behind the spectra experiment."""

import math

import jax
import numpy as np
import pytest

from ganflow.analysis import (
    closed_form_spectra,
    equilibrium_linearisation,
    field_on_grid,
    flow_and_gd_paths,
)
from ganflow.dynamics import jacobian
from ganflow.games import Bilinear, DiracGAN, NagarajanKolter2D
from ganflow.losses import LOSS_NAMES, get_loss


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_derivatives_match_finite_differences(name):
    loss = get_loss(name)
    for t in (-0.7, 0.0, 1.3):
        h = 1e-5
        f = lambda s: float(loss.f(s))  # noqa: E731
        fd1 = (f(t + h) - f(t - h)) / (2 * h)
        fd2 = (f(t + h) - 2 * f(t) + f(t - h)) / h**2
        assert float(loss.f_prime(t)) == pytest.approx(fd1, abs=1e-9)
        assert float(loss.f_second(t)) == pytest.approx(fd2, abs=1e-5)


def test_linearisation_and_closed_forms():
    # f′(0) = 1/2, f″(0) = −1/4 (logistic); f′(0) = 1, f″(0) = 0 (WGAN)
    assert equilibrium_linearisation(DiracGAN("gan")) == (0.5, 0.0)
    assert equilibrium_linearisation(DiracGAN("wgan")) == (1.0, 0.0)
    assert equilibrium_linearisation(NagarajanKolter2D("nsgan")) == (1 / 3, -0.1)
    assert equilibrium_linearisation(NagarajanKolter2D("wgan")) == (2 / 3, 0.0)
    with pytest.raises(TypeError, match="Bilinear"):
        equilibrium_linearisation(Bilinear())
    # Dirac-GAN GAN: c = 1/2, d = 0 (J = [[0, c], [-c, 0]])
    th = closed_form_spectra(0.5, 0.0, 0.2)
    np.testing.assert_allclose(np.sort_complex(th["flow"]), [-0.5j, 0.5j], atol=1e-15)
    np.testing.assert_allclose(np.abs(th["simultaneous"]), math.sqrt(1 + 0.04 * 0.25))
    np.testing.assert_allclose(np.abs(th["alternating"]), 1.0, atol=1e-14)
    # NK-2D GAN alternating: |μ|² = 1 + h d with d = −1/10
    nk = closed_form_spectra(1 / 3, -0.1, 0.1)
    np.testing.assert_allclose(np.abs(nk["alternating"]) ** 2, 0.99, atol=1e-14)
    # the closed form is ganflow's Jacobian at x*
    for game in (DiracGAN("gan"), NagarajanKolter2D("gan", levels=4)):
        c, d = equilibrium_linearisation(game)
        jac = np.asarray(jacobian(game.vector_field(population=True), game.equilibrium()))
        np.testing.assert_allclose(jac, [[0.0, c], [-c, d]], atol=1e-12)


def test_flow_and_gd_paths_and_field_grid():
    games = [DiracGAN("wgan"), NagarajanKolter2D("wgan")]
    eta, n = 0.1, 40
    out = flow_and_gd_paths(games, eta, 0.3, n)
    assert [sorted(o) for o in out] == [["alternating", "flow", "simultaneous"]] * 2
    # Dirac-GAN, WGAN: b = (ψ, −θ); simultaneous GD multiplies the radius by sqrt(1 + η²)
    dirac = out[0]
    np.testing.assert_allclose(dirac["flow"][0], [0.3, 0.3])
    r = np.linalg.norm(dirac["simultaneous"], axis=1)
    np.testing.assert_allclose(r, r[0] * (1 + eta**2) ** (np.arange(n + 1) / 2), rtol=1e-12)
    # the flow conserves θ² + ψ²
    np.testing.assert_allclose(np.linalg.norm(dirac["flow"], axis=1), r[0], rtol=1e-8)
    np.testing.assert_allclose(out[1]["flow"][0], [1.3, 0.3])  # NK-2D: x* = (1, 0)
    field = games[0].vector_field(population=True)
    xs, ys, u, v = field_on_grid(field, games[0].equilibrium(), 0.5, 5)
    np.testing.assert_allclose(xs, np.linspace(-0.5, 0.5, 5))
    gx, gy = np.meshgrid(xs, ys)
    np.testing.assert_allclose(u, gy, atol=1e-15)  # θ̇ = ψ
    np.testing.assert_allclose(v, -gx, atol=1e-15)  # ψ̇ = −θ
    assert jax.numpy.result_type(float) == np.float64
