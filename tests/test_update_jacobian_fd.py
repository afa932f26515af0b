"""`training.update_jacobian` against central finite differences of the scheme's own `step`, in
float64, for every scheme and option on small games (Dirac-GAN, bilinear, LQ-Gaussian): the
derivative of each update map is the map's true derivative — including unrolled GANs without
second-order terms, whose direction ignores dω_k/dθ but whose step still depends on θ through
ω_k (on bilinear θω: F' = [[1 − ηkα, −η], [η, 1]])."""

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ganflow as gf
from ganflow import stabilisers as st, training as tr

jax.config.update("jax_enable_x64", True)


def _fd_update_jacobian(scheme, x, step=1, eps=1e-4):
    """Fourth-order central differences of `scheme.step` on the flat inexact state (x, extra,
    opt_state), in the order `update_jacobian` documents (ravel_pytree, x first): truncation
    O(ε⁴), rounding ≈ 1e-16/ε — about 1e-12 in float64 at ε = 1e-4."""
    state = scheme.init(x)
    state = eqx.tree_at(lambda s: s.step, state, jnp.asarray(step, dtype=jnp.int32))
    dyn, static = eqx.partition((state.x, state.extra, state.opt_state), eqx.is_inexact_array)
    flat, unravel = jax.flatten_util.ravel_pytree(dyn)

    def fmap(v):
        xs, extra, opt_state = eqx.combine(unravel(v), static)
        s = tr.TrainState(x=xs, opt_state=opt_state, step=state.step, extra=extra,
                          stats=state.stats)
        new = scheme.step(s, ())
        dyn_new = eqx.filter((new.x, new.extra, new.opt_state), eqx.is_inexact_array)
        return jax.flatten_util.ravel_pytree(dyn_new)[0]

    fmap = jax.jit(fmap)
    cols = [(-fmap(flat + 2 * eps * e) + 8 * fmap(flat + eps * e) - 8 * fmap(flat - eps * e)
             + fmap(flat - 2 * eps * e)) / (12 * eps) for e in np.eye(flat.size)]
    return np.stack([np.asarray(c) for c in cols], axis=1)


def _dirac():
    game = gf.games.DiracGAN("gan")
    return game, game.make_state(jnp.asarray(0.3), jnp.asarray(-0.2))


def _bilinear():
    game = gf.games.Bilinear(2)
    return game, game.make_state(jnp.asarray([0.4, -0.3]), jnp.asarray([0.2, 0.5]))


def _lq():
    game = gf.games.LinearQuadraticGaussian(m=1.0, sigma=2.0)
    return game, game.make_state(1.2, 1.7, 0.1, -0.05, 0.02)


def _dirac_far():
    game = gf.games.DiracGAN("gan")
    return game, game.make_state(jnp.asarray(0.5), jnp.asarray(-0.5))


GAMES = {"dirac": _dirac, "dirac-far": _dirac_far, "bilinear": _bilinear, "lq": _lq}

CASES = {  # name -> (game, builder(game) -> scheme)
    "simultaneous": ("lq", lambda g: tr.make_scheme("simultaneous", g, 0.1, population=True)),
    "alternating-nd2": ("dirac", lambda g: tr.make_scheme("alternating", g, 0.3,
                                                          population=True, n_d=2)),
    "extragradient": ("lq", lambda g: tr.make_scheme("extragradient", g, 0.1,
                                                     population=True)),
    "optimistic": ("dirac", lambda g: tr.make_scheme("optimistic", g, 0.2, population=True)),
    "cgd": ("dirac", lambda g: tr.make_scheme("cgd", g, 0.3, population=True)),
    "unrolled-second-order": ("dirac", lambda g: tr.make_scheme(
        "unrolled", g, 0.3, population=True, k=3, unroll_lr=0.2)),
    "unrolled-first-order": ("dirac", lambda g: tr.make_scheme(
        "unrolled", g, 0.3, population=True, k=3, unroll_lr=0.2, second_order=False)),
    "ttur": ("bilinear", lambda g: tr.make_scheme(
        "ttur", g, population=True, eta_theta=0.1, eta_omega=0.3, power_theta=0.5,
        power_omega=0.7)),
    "ema": ("dirac", lambda g: tr.EMA(tr.make_scheme("simultaneous", g, 0.2, population=True),
                                      decay=0.9)),
    "consensus": ("dirac", lambda g: tr.make_scheme(
        "simultaneous", g, 0.2, population=True, stabilisers=(st.Consensus(0.7),))),
    "nagarajan-kolter": ("lq", lambda g: tr.make_scheme(
        "simultaneous", g, 0.1, population=True, stabilisers=(st.NagarajanKolter(0.3),))),
    "sga": ("dirac", lambda g: tr.make_scheme(
        "alternating", g, 0.2, population=True, stabilisers=(st.SGA(0.5),))),
    "lss": ("dirac", lambda g: tr.make_scheme(
        "simultaneous", g, 0.2, population=True, stabilisers=(st.LSS(0.5, 2.0),))),
    "r1": ("dirac", lambda g: tr.make_scheme(
        "simultaneous", g, 0.2, population=True, stabilisers=(st.R1(0.8),))),
    "momentum": ("bilinear", lambda g: tr.make_scheme(
        "simultaneous", g, tr.optimizer(optax.sgd, 0.1, momentum=0.9), population=True)),
    "nesterov-plain-optax": ("dirac", lambda g: tr.make_scheme(
        "extragradient", g, optax.sgd(0.1, momentum=0.5, nesterov=True), population=True)),
    # Adam starts from ν = 0, where √ν̂ is steep in ν: (1 − β₂)g² ≫ the FD step (β₂ = 0.5,
    # gradients ~0.2) and ε = 0.1 keep the map smooth at the FD scale (the Jacobian itself is
    # exact either way)
    "adam": ("dirac-far", lambda g: tr.make_scheme(
        "simultaneous", g, tr.optimizer(optax.adam, 0.05, b1=0.5, b2=0.5, eps=0.1),
        population=True)),
    "rmsprop-pair": ("dirac-far", lambda g: tr.make_scheme(
        "simultaneous", g,
        (tr.reference_optimizer("rmsprop", 0.01), optax.adam(0.02, b2=0.5, eps=0.1)),
        population=True)),
    "mounjid-guo": ("lq", lambda g: tr.make_scheme(
        "simultaneous", g, tr.mounjid_guo(0.05, u_max=4.0), population=True)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_update_jacobian_matches_finite_differences(name):
    game_name, build = CASES[name]
    game, x = GAMES[game_name]()
    scheme = build(game)
    got = np.asarray(tr.update_jacobian(scheme, x))
    want = _fd_update_jacobian(scheme, x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-8)


def test_unrolled_first_order_bilinear_closed_form():
    """Bilinear(1), k = 3, α = 0.3, optax.sgd(0.4): ω_k = ω + kαθ, θ' = θ − η ω_k,
    ω' = ω + ηθ, so F' = [[1 − ηkα, −η], [η, 1]] = [[0.64, −0.4], [0.4, 1]] and
    ρ = √det = √(1 − ηkα + η²) = √0.8; the iterates are those of this map."""
    game = gf.games.Bilinear(1)
    scheme = tr.Unrolled(game.objective(population=True), k=3, unroll_lr=0.3,
                         optimizer=optax.sgd(0.4), second_order=False)
    x = game.make_state(0.7, -0.4)
    jac = np.asarray(tr.update_jacobian(scheme, x))
    want = np.array([[0.64, -0.4], [0.4, 1.0]])
    np.testing.assert_allclose(jac, want, rtol=0, atol=1e-15)
    rho = np.max(np.abs(np.linalg.eigvals(jac)))
    np.testing.assert_allclose(rho, np.sqrt(1 - 0.4 * 3 * 0.3 + 0.4**2), rtol=1e-14)
    new = scheme.step(scheme.init(x))
    np.testing.assert_allclose(np.concatenate([new.x[0], new.x[1]]),
                               want @ np.array([0.7, -0.4]), rtol=1e-15, atol=1e-16)
    # second order differentiates the surrogate: θ' = θ − η(ω + 2kαθ)
    so = tr.Unrolled(game.objective(population=True), k=3, unroll_lr=0.3,
                     optimizer=optax.sgd(0.4), second_order=True)
    np.testing.assert_allclose(np.asarray(tr.update_jacobian(so, x)),
                               [[1 - 2 * 0.4 * 3 * 0.3, -0.4], [0.4, 1.0]], atol=1e-15)
