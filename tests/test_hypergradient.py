"""Hyper-parameter searches (`ganflow.analysis.gradient_search`, `grid_search`) and the closed
forms of the `hypergradient` study: ρ(F′(0)) of simultaneous GDA with consensus or the
Nagarajan–Kolter penalty on the Dirac-GAN, its derivatives and its optimum over a box."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ganflow as gf
from ganflow.analysis import (
    dirac_stabilised_optimum,
    dirac_stabilised_rate,
    extreme_eigenvalue,
    gradient_search,
    grid_points,
    grid_search,
)

jax.config.update("jax_enable_x64", True)

A = 0.5  # f'(0) of the GAN loss


def _stabiliser(name, w):
    if name == "consensus":
        return gf.stabilisers.Consensus(w)
    return gf.stabilisers.NagarajanKolter(w)


def _rho(name, p):
    game = gf.games.DiracGAN("gan")
    scheme = gf.training.make_scheme("simultaneous", game, p[0],
                                     stabilisers=(_stabiliser(name, p[1]),), population=True)
    return jnp.abs(extreme_eigenvalue(gf.training.update_jacobian(scheme, game.equilibrium()),
                                      "LM"))


POINTS = [(0.3, 1.0), (0.05, 0.1), (1.5, 3.0), (2.5, 2.5), (0.8, 4.0)]


@pytest.mark.parametrize("name", ["consensus", "nk"])
def test_rate_matches_ganflow_update_jacobian(name):
    for eta, w in POINTS:  # complex pairs and (nk, λa > 1) real eigenvalues
        got = float(_rho(name, jnp.array([eta, w])))
        want = float(dirac_stabilised_rate(name, eta, w, A))
        assert got == pytest.approx(want, rel=1e-12, abs=1e-14), (eta, w)


@pytest.mark.parametrize("name", ["consensus", "nk"])
def test_rate_gradient_through_ganflow_matches_closed_form(name):
    for eta, w in [(0.3, 1.0), (1.5, 3.0), (0.8, 4.0)]:
        p = jnp.array([eta, w])
        got = jax.grad(lambda q: _rho(name, q))(p)
        want = jax.grad(lambda q: dirac_stabilised_rate(name, q[0], q[1], A).real)(p)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_rate_formulas_by_hand():
    eta, g = 0.3, 1.0
    assert float(dirac_stabilised_rate("consensus", eta, g, A)) == pytest.approx(
        np.sqrt((1 - eta * g * A**2) ** 2 + (eta * A) ** 2), rel=1e-15)
    # NK with λa < 1: ρ² = 1 − 2ηλa² + η²a²
    assert float(dirac_stabilised_rate("nk", eta, g, A)) == pytest.approx(
        np.sqrt(1 - 2 * eta * g * A**2 + eta**2 * A**2), rel=1e-14)


def test_optimum_is_the_minimum_over_a_fine_grid():
    for name in ("consensus", "nk"):
        eta, w, rho = dirac_stabilised_optimum(name, (4.0, 4.0), A)
        assert float(dirac_stabilised_rate(name, eta, w, A)) == pytest.approx(rho, abs=1e-12)
        pts = grid_points((1e-3, 1e-3), (4.0, 4.0), 120)
        vals = np.asarray(dirac_stabilised_rate(name, pts[:, 0], pts[:, 1], A))
        assert vals.min() >= rho - 1e-12
    assert dirac_stabilised_optimum("consensus", (4.0, 4.0), A) == pytest.approx(
        (0.8, 4.0, 1 / np.sqrt(5)))
    assert dirac_stabilised_optimum("nk", (4.0, 4.0), A) == (2.0, 2.0, 0.0)
    # a box without the Jordan point: the edge λ = η = upper
    assert dirac_stabilised_optimum("nk", (1.0, 1.0), A) == pytest.approx(
        (1.0, 1.0, np.sqrt(1 - 0.25)))


def test_gradient_search_reaches_the_consensus_optimum():
    def f(p):
        return dirac_stabilised_rate("consensus", p[0], p[1], A)

    s = gradient_search(f, (0.05, 0.1), (1e-3, 1e-3), (4.0, 4.0), steps=400,
                        learning_rate=0.05)
    eta, w, rho = dirac_stabilised_optimum("consensus", (4.0, 4.0), A)
    assert s.params.shape == (400, 2) and s.values.shape == (400,)
    assert float(s.values[0]) == pytest.approx(float(f(jnp.array([0.05, 0.1]))))
    np.testing.assert_allclose(s.params[s.best], [eta, w], rtol=2e-3)
    assert float(s.values[s.best]) == pytest.approx(rho, abs=1e-5)
    assert np.all(np.asarray(s.params) >= 1e-3 - 1e-15)
    assert np.all(np.asarray(s.params) <= 4.0 + 1e-12)


def test_grid_search_is_log_spaced_and_finds_its_best():
    pts = grid_points((0.01, 1.0), (1.0, 100.0), (3, 2))
    np.testing.assert_allclose(pts, [[0.01, 1], [0.01, 100], [0.1, 1], [0.1, 100],
                                     [1, 1], [1, 100]], rtol=1e-14)
    s = grid_search(lambda p: (jnp.log(p[0]) + 2.3) ** 2 + jnp.log(p[1]) ** 2,
                    (0.01, 1.0), (1.0, 100.0), (3, 2))
    np.testing.assert_allclose(s.params[s.best], [0.1, 1.0])


def test_searches_refuse_a_bad_box():
    def f(p):
        return jnp.sum(p)

    with pytest.raises(ValueError, match="0 < lower < upper"):
        grid_search(f, (1.0, 1.0), (0.5, 2.0), 3)
    with pytest.raises(ValueError, match="must lie in the box"):
        gradient_search(f, (5.0, 1.0), (0.1, 0.1), (1.0, 2.0), steps=3)
    with pytest.raises(ValueError, match="stabiliser must be"):
        dirac_stabilised_rate("sga", 0.1, 0.1, A)


def test_hyper_search_map_draws_the_given_path(tmp_path):
    from ganflow.plotting import hyper_search_map

    pts = np.asarray(grid_points((0.1, 0.1), (1.0, 1.0), 3))
    vals = pts[:, 0] + pts[:, 1]
    fig = hyper_search_map({"a": (pts[:, 0], pts[:, 1], vals)},
                           {"a": (np.array([0.2, 0.3]), np.array([0.5, 0.4]))},
                           optima={"a": (0.1, 0.1)}, path=tmp_path / "m.png")
    line = fig.axes[0].lines[0]
    np.testing.assert_allclose(line.get_xdata(), [0.2, 0.3])
    np.testing.assert_allclose(line.get_ydata(), [0.5, 0.4])
    assert (tmp_path / "m.png").stat().st_size > 0


@pytest.mark.slow
def test_hypergradient_quick_preset(tmp_path):
    from ganflow.studies import main, open_results

    assert main(["run", "hypergradient", "--quick", "--out", str(tmp_path / "hg")]) in (0, None)
    res = open_results(tmp_path / "hg")
    assert float(res["dirac_summary"].closed_form_error.max()) < 1e-12
    assert set(res["mog_eval"].search.values) == {"gradient", "grid"}
