"""The Krylov–Schur Arnoldi and thick-restart Lanczos solvers in JAX (`ganflow.analysis.
arnoldi_eigs`, `lanczos_eigs`, `jacobian_eigs`, `top_eigenvalues(method="krylov-schur")`): against
dense `numpy.linalg.eig`/`eigvalsh` on random nonnormal matrices and small games (float64,
1e-10), under `jax.jit`, vmapped over seeds equal to a loop, against ARPACK on a neural game, and
ARPACK's reruns bitwise equal."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import ganflow as gf
from ganflow import analysis as an, stabilisers as st

jax.config.update("jax_enable_x64", True)


def nonnormal(seed: int, n: int = 40) -> np.ndarray:
    """A random real nonnormal matrix: Gaussian plus a strictly upper-triangular part."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, n)) / np.sqrt(n)
    return g + 0.5 * np.triu(rng.standard_normal((n, n)), 1) / np.sqrt(n)


def reference(a: np.ndarray, k: int, which: str) -> np.ndarray:
    return an.sort_eigenvalues(np.linalg.eigvals(a), which)[:k]


def close(found, expected, tol=1e-10):
    found, expected = np.asarray(found), np.asarray(expected)
    assert found.shape == expected.shape
    err = np.max(np.abs(found - expected)) / max(1.0, np.max(np.abs(expected)))
    assert err < tol, (err, found, expected)


@pytest.fixture(scope="module")
def solve4():
    """`arnoldi_eigs` (k = 4, ncv = 16) jitted and vmapped over a batch of matrices and start
    vectors: one compilation per `which`."""
    cache = {}

    def solve(mats, v0s, which):
        if which not in cache:
            cache[which] = jax.jit(jax.vmap(lambda a, v: an.arnoldi_eigs(
                lambda u: a @ u, v, 4, which, ncv=16, tol=1e-13)))
        return cache[which](mats, v0s)

    return solve


@pytest.mark.parametrize("which", ["LR", pytest.param("LM", marks=pytest.mark.slow)])
def test_random_nonnormal_against_dense(solve4, which):
    mats = np.stack([nonnormal(s) for s in range(4)])
    v0s = np.stack([an.start_vector(40, s) for s in range(4)])
    res = solve4(jnp.asarray(mats), jnp.asarray(v0s), which)
    assert bool(np.all(res.converged))
    for a, vals, vecs in zip(mats, res.eigenvalues, res.eigenvectors):
        close(vals, reference(a, 4, which))
        vecs = np.asarray(vecs)
        assert np.allclose(np.linalg.norm(vecs, axis=0), 1.0)
        assert np.max(np.linalg.norm(a @ vecs - vecs * np.asarray(vals), axis=0)) < 1e-11


def test_vmap_over_seeds_equals_loop(solve4):
    mats = np.stack([nonnormal(s) for s in range(4)])
    v0s = np.stack([an.start_vector(40, s) for s in range(4)])
    batched = solve4(jnp.asarray(mats), jnp.asarray(v0s), "LR")
    one = jax.jit(lambda a, v: an.arnoldi_eigs(lambda u: a @ u, v, 4, "LR", ncv=16, tol=1e-13))
    for i in range(4):
        single = one(jnp.asarray(mats[i]), jnp.asarray(v0s[i]))
        # the same iterations: equal up to the reassociation of a batched matmul
        np.testing.assert_allclose(np.asarray(batched.eigenvalues[i]),
                                   np.asarray(single.eigenvalues), rtol=1e-12, atol=1e-13)
        assert int(batched.num_matvecs[i]) == int(single.num_matvecs)


def test_breakdown_of_a_small_krylov_space():
    """The consensus field of the bilinear game θ·ω in ℝ⁵ × ℝ⁵ is linear with J_γ = J − γJᵀJ,
    eigenvalues −γ ± i, each five times: every Krylov space has dimension 2, so Arnoldi breaks
    down after two steps and must go on with fresh vectors to find the rest."""
    game = gf.games.Bilinear(5)
    b = st.stabilise(game, st.Consensus(0.3), population=True)
    x = game.make_state(0.7, -0.2)
    res = jax.jit(lambda x: an.jacobian_eigs(b, x, k=6, which="LR", ncv=10))(x)
    assert bool(res.converged)
    close(res.eigenvalues, [-0.3 + 1j] * 5 + [-0.3 - 1j])  # best first: +i before −i


def mlp_game(width=4, seed=0):
    """A tiny MLP GAN on the ring of 8 Gaussians (minibatch field b(x, batch))."""
    game = gf.games.MoGNetsGame("ring", "nsgan", 2, width, 1, width, 1, 1.0, "glorot", 0.8,
                                "float64")
    x = game.init(jax.random.key(seed))
    batch = game.sample(jax.random.key(100 + seed), 64)
    return game, x, batch


@pytest.mark.slow
def test_small_neural_game_against_dense():
    which = "SR"
    game, x, batch = mlp_game()
    b = game.vector_field()
    dense = np.asarray(gf.jacobian(b, x, batch))
    spec = an.top_eigenvalues(b, x, batch, k=5, which=which, method="krylov-schur", ncv=20)
    assert spec.method == "krylov-schur" and spec.converged
    close(spec.eigenvalues, reference(dense, 5, which))
    assert np.max(spec.residuals) < 1e-10 * np.max(np.abs(spec.eigenvalues))


@pytest.mark.slow
def test_against_arpack_on_a_neural_game():
    game, x, batch = mlp_game(width=16, seed=1)
    b = game.vector_field()
    kw = dict(k=6, which="LR", tol=1e-12)
    ks = an.top_eigenvalues(b, x, batch, method="krylov-schur", **kw)
    ref = an.top_eigenvalues(b, x, batch, method="arnoldi", **kw)
    assert ks.converged and ref.converged
    close(ks.eigenvalues, ref.eigenvalues, 1e-9)


def test_lanczos_against_eigvalsh():
    rng = np.random.default_rng(3)
    g = rng.standard_normal((50, 50))
    a = jnp.asarray(g + g.T)
    res = jax.jit(lambda v: an.lanczos_eigs(lambda u: a @ u, v, 3, "SR", ncv=12))(
        jnp.asarray(an.start_vector(50)))
    assert bool(res.converged)
    close(res.eigenvalues, np.linalg.eigvalsh(np.asarray(a))[:3])


@pytest.mark.slow
def test_lanczos_on_a_player_hessian():
    """The discriminator's Hessian ∇²_ωω Φ of a small MLP game, from HVPs."""
    game, x, batch = mlp_game()
    obj = game.objective()
    flat, unravel = ravel_pytree(x[1])

    def hvp(v):
        return ravel_pytree(gf.dynamics.hvp_omega(obj, x, unravel(v), batch))[0]

    top = an.lanczos_eigs(hvp, jnp.asarray(an.start_vector(flat.size)), 2, "LR", ncv=12)
    dense = an.player_hessian_eigenvalues(obj, x, batch, method="dense")[1]
    close(top.eigenvalues, dense[::-1][:2])


def test_bad_input():
    v = jnp.ones(5)
    with pytest.raises(ValueError, match="k < n"):
        an.arnoldi_eigs(lambda u: u, v, k=5)
    with pytest.raises(ValueError, match="ncv must be >= k \\+ 3"):
        an.arnoldi_eigs(lambda u: u, jnp.ones(30), k=4, ncv=6)
    with pytest.raises(ValueError, match="which"):
        an.arnoldi_eigs(lambda u: u, jnp.ones(30), k=2, which="LA")


def test_arpack_reruns_bitwise_equal():
    """ARPACK asks for random vectors during its iteration; ganflow gives it a seeded generator,
    so a rerun is bitwise equal (it used to differ in the last bits)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((120, 120)) / np.sqrt(120)
    op = jax.jit(lambda u: jnp.asarray(a) @ u)
    runs = [an.operator_top_eigenvalues(op, 120, k=5, which="LM", tol=1e-12, ncv=16)
            for _ in range(3)]
    for r in runs[1:]:
        assert r.eigenvalues.tobytes() == runs[0].eigenvalues.tobytes()
    close(runs[0].eigenvalues, reference(a, 5, "LM"))
