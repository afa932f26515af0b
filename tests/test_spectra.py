"""Matrix-free spectra of J (ganflow.analysis.top_eigenvalues) against closed forms and dense
eigen-decompositions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ganflow as gf
from ganflow.analysis import (
    jacobian_operator,
    operator_top_eigenvalues,
    sort_eigenvalues,
    spectral_abscissa,
    top_eigenvalues,
)
from ganflow.models import MLP


def _boundary_k(ref_sorted, which, k0):
    """The smallest k ≥ k0 whose k-th and (k+1)-th eigenvalues differ clearly in the sorting
    criterion (so that 'the top k' is well defined: no conjugate pair or near-tie split)."""
    crit = np.abs(ref_sorted) if which == "LM" else ref_sorted.real
    k = k0
    while abs(crit[k - 1] - crit[k]) < 1e-6 * max(1.0, abs(crit[0])):
        k += 1
    return k


# ---------------------------------------------------------------------------------------------
# A linear game with a known spectrum: J is (up to a permutation) block diagonal with 2×2 blocks


def _block_game(n, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-0.5, 1.0, n)
    c = rng.uniform(-0.5, 1.0, n)
    bb = rng.uniform(0.0, 2.0, n)

    def field(x):
        th, om = x
        return -a * th - bb * om, bb * th - c * om

    # eigenvalues of [[-a, -b], [b, -c]]: (-(a+c) ± sqrt((a-c)^2 - 4 b^2)) / 2
    disc = np.sqrt((a - c).astype(complex) ** 2 - 4 * bb**2)
    eigs = np.concatenate([(-(a + c) + disc) / 2, (-(a + c) - disc) / 2])
    x = (jnp.zeros(n), jnp.zeros(n))
    return field, x, eigs


@pytest.mark.parametrize("which", ["LM", "LR"])
def test_block_linear_game_closed_form(which):
    field, x, eigs = _block_game(200)
    ref = sort_eigenvalues(eigs, which)
    k = _boundary_k(ref, which, 6)
    spec = top_eigenvalues(field, x, k=k, which=which, method="arnoldi")
    assert spec.method == "arnoldi" and spec.converged
    np.testing.assert_allclose(spec.eigenvalues, ref[:k], rtol=0, atol=1e-10)
    assert np.max(spec.residuals) < 1e-10
    assert spec.num_matvecs > 0
    # the abscissa of the whole spectrum, matrix-free
    if which == "LR":
        assert abs(float(spectral_abscissa(field, x, method="arnoldi")) - ref[0].real) < 1e-10


# ---------------------------------------------------------------------------------------------
# Random MLP games, d ≈ 300: matrix-free top-k equal the dense top-k


@pytest.fixture(scope="module")
def mlp_game():
    kg, kd, kx, kz = jax.random.split(jax.random.key(42), 4)
    gen = MLP.init(kg, 2, 2, 10, 2, activation=jnp.tanh)
    disc = MLP.init(kd, 2, None, 10, 2, activation=jnp.tanh)
    data = jax.random.normal(kx, (32, 2)) + 1.0
    z = jax.random.normal(kz, (32, 2))
    loss = gf.get_loss("gan")

    def phi(g, d, data, z):
        return jnp.mean(loss.discriminator(jax.vmap(d)(data), jax.vmap(d)(jax.vmap(g)(z))))

    b = gf.vector_field(phi)
    x = (gen, disc)
    jac = np.asarray(jax.jit(lambda y: gf.jacobian(b, y, data, z, chunk_size=None))(x))
    return b, x, (data, z), jac


def test_mlp_game_size(mlp_game):
    _, x, _, jac = mlp_game
    assert 250 <= jac.shape[0] <= 350
    assert gf.split_index(x) == 162


@pytest.mark.parametrize("which", ["LM", "LR"])
def test_mlp_arnoldi_matches_dense(mlp_game, which):
    b, x, args, jac = mlp_game
    ref = sort_eigenvalues(np.linalg.eigvals(jac), which)
    k = _boundary_k(ref, which, 6)
    spec = top_eigenvalues(b, x, *args, k=k, which=which, method="arnoldi")
    assert spec.converged and spec.method == "arnoldi"
    np.testing.assert_allclose(spec.eigenvalues, ref[:k], rtol=0, atol=1e-8)
    # eigenvectors: unit norm and J v = λ v against the dense J
    v = spec.eigenvectors
    np.testing.assert_allclose(np.linalg.norm(v, axis=0), 1.0, atol=1e-10)
    assert np.max(np.linalg.norm(jac @ v - v * spec.eigenvalues, axis=0)) < 1e-8
    assert np.max(spec.residuals) < 1e-8
    # fewer products than the d columns of a dense J
    assert spec.num_matvecs < jac.shape[0]


def test_mlp_dense_path_same_function(mlp_game):
    b, x, args, jac = mlp_game
    spec = top_eigenvalues(b, x, *args, k=4, which="LM", method="auto", dense_threshold=1000)
    assert spec.method == "dense"
    ref = sort_eigenvalues(np.linalg.eigvals(jac), "LM")
    np.testing.assert_allclose(spec.eigenvalues, ref[:4], atol=1e-10)


def test_jacobian_operator_is_jvp(mlp_game):
    b, x, args, jac = mlp_game
    u = np.random.default_rng(3).standard_normal(jac.shape[0])
    np.testing.assert_allclose(np.asarray(jacobian_operator(b, x, *args)(jnp.asarray(u))), jac @ u,
                               rtol=1e-12, atol=1e-12)


def test_dirac_dense_small():
    game = gf.DiracGAN("wgan")
    spec = top_eigenvalues(game.vector_field(population=True), game.equilibrium(), k=2)
    np.testing.assert_allclose(spec.eigenvalues, [1j, -1j], atol=1e-14)


def test_operator_top_eigenvalues_diagonal():
    d = np.linspace(-3.0, 2.0, 60)
    spec = operator_top_eigenvalues(lambda v: jnp.asarray(d) * v, 60, k=3, which="LR")
    np.testing.assert_allclose(spec.eigenvalues, d[::-1][:3], atol=1e-12)
    spec = operator_top_eigenvalues(lambda v: jnp.asarray(d) * v, 60, k=2, which="LM")
    np.testing.assert_allclose(np.abs(spec.eigenvalues), [3.0, np.sort(np.abs(d))[-2]], atol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [dict(k=0), dict(k=-1), dict(which="LI"), dict(method="lanczos"), dict(k=1000)],
)
def test_bad_input(kwargs):
    field, x, _ = _block_game(5)
    with pytest.raises(ValueError):
        top_eigenvalues(field, x, **kwargs)


def test_bad_operator_input():
    with pytest.raises(ValueError, match="k must be"):
        operator_top_eigenvalues(lambda v: v, 10, k=0)
    with pytest.raises(ValueError, match="which"):
        operator_top_eigenvalues(lambda v: v, 10, k=1, which="largest")
    with pytest.raises(ValueError, match="dense"):
        operator_top_eigenvalues(lambda v: v, 4, k=3)
    with pytest.raises(ValueError, match="Objective|field"):
        top_eigenvalues(3.0, (jnp.zeros(2), jnp.zeros(2)))


def test_benchmark_quick(capsys):
    import importlib.util
    import json
    import pathlib

    path = pathlib.Path(__file__).parents[1] / "scripts" / "benchmarks" / "bench_spectra.py"
    spec = importlib.util.spec_from_file_location("bench_spectra", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.main(["--quick"])
    printed = json.loads(capsys.readouterr().out)
    assert printed["num_params"] == out["num_params"]
    for which in ("LM", "LR"):
        assert out[which]["converged"] and out[which]["max_residual"] < 1e-8
