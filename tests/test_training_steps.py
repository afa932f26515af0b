"""Training schemes step by step and runs as machinery, against hand computations (float64):
one step by hand for every scheme, minibatch plumbing, per-seed divergence, bad input, jit/vmap,
seed chunks, stabilised fields.

Dirac-GAN (ganflow convention Φ = f(0) + f(−ψθ)): b0 = (ψ f′(−ψθ), −θ f′(−ψθ)).
Bilinear Φ = θω: b0 = (−ω, θ), J = [[0, −1], [1, 0]].
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ganflow as gf
from ganflow import training as tr
from ganflow.dynamics import vector_field
from tests.conftest import flat, tree_allclose
from tests.training_helpers import bilinear_field, dirac_b, rho, scalar_state, seeds_near

# ---------------------------------------------------------------------------------------------
# one step by hand


@pytest.mark.parametrize("loss", ["gan", "wgan"])
def test_sgd_steps_equal_hand_computation(loss):
    game = gf.DiracGAN(loss)
    b = game.vector_field(population=True)
    th, ps, eta = 0.7, -0.4, 0.3
    x0 = game.make_state(th, ps)

    def got(scheme, n=1):
        s = scheme.init(x0)
        for _ in range(n):
            s = scheme.step(s)
        return np.array([s.x[0].theta, s.x[1].psi])

    # simultaneous: x + η b0
    want = np.array([th, ps]) + eta * dirac_b(th, ps, loss)
    np.testing.assert_allclose(got(tr.SimultaneousGDA(b, optax.sgd(eta))), want, rtol=1e-15)
    np.testing.assert_allclose(got(tr.SimultaneousGDA(b, eta)), want, rtol=1e-15)
    # alternating, n_d = 2 discriminator steps first, then n_g = 1 generator step
    t, p = th, ps
    for _ in range(2):
        p = p + eta * dirac_b(t, p, loss)[1]
    t = t + eta * dirac_b(t, p, loss)[0]
    np.testing.assert_allclose(got(tr.AlternatingGDA(b, eta, n_d=2)), [t, p], rtol=1e-15)
    # extragradient
    half = np.array([th, ps]) + eta * dirac_b(th, ps, loss)
    want = np.array([th, ps]) + eta * dirac_b(*half, loss)
    np.testing.assert_allclose(got(tr.Extragradient(b, eta)), want, rtol=1e-15)
    # optimistic, two steps: plain first, then x + η(2 b_1 − b_0)
    x1 = np.array([th, ps]) + eta * dirac_b(th, ps, loss)
    x2 = x1 + eta * (2 * dirac_b(*x1, loss) - dirac_b(th, ps, loss))
    np.testing.assert_allclose(got(tr.OptimisticGDA(b, eta), 2), x2, rtol=1e-14)


def test_adam_trajectory_equals_hand_adam():
    """Each player's Adam sees −b (its descent gradient): 30 steps against NumPy Adam."""
    phi = lambda t, w: 0.5 * t**2 + t * w - 0.5 * w**2  # noqa: E731  b = (−t−w, t−w)
    scheme = tr.SimultaneousGDA(vector_field(phi), optax.adam(0.05))
    s = scheme.init(scalar_state(1.0, -0.5))
    x = np.array([1.0, -0.5])
    m = np.zeros(2)
    v = np.zeros(2)
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.05
    for k in range(1, 31):
        s = scheme.step(s)
        g = -np.array([-x[0] - x[1], x[0] - x[1]])
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        x = x - lr * (m / (1 - b1**k)) / (np.sqrt(v / (1 - b2**k)) + eps)
    np.testing.assert_allclose(flat(s.x), x, rtol=1e-12)


def test_unrolled_cgd_ttur_ema_by_hand():
    b = bilinear_field()
    th, om, eta, alpha = 0.6, -0.3, 0.2, 0.5
    x0 = scalar_state(th, om)
    # unrolled k=1 on θω: ω1 = ω + αθ, L = θ(ω + αθ) → dL/dθ = ω + 2αθ
    sch = tr.Unrolled(lambda t, w: t * w, k=1, unroll_lr=alpha, optimizer=eta)
    s = sch.step(sch.init(x0))
    np.testing.assert_allclose(flat(s.x), [th - eta * (om + 2 * alpha * th), om + eta * th])
    # without the second-order term the generator steps along −∂_θ L at ω1: dL/dθ = ω + αθ
    fo = tr.Unrolled(lambda t, w: t * w, k=1, unroll_lr=alpha, optimizer=eta, second_order=False)
    np.testing.assert_allclose(flat(fo.step(fo.init(x0)).x),
                               [th - eta * (om + alpha * th), om + eta * th])
    # k = 0 is simultaneous GDA
    s0 = tr.Unrolled(lambda t, w: t * w, k=0, unroll_lr=alpha, optimizer=eta)
    np.testing.assert_allclose(flat(s0.step(s0.init(x0)).x), [th - eta * om, om + eta * th])
    # CGD on θω (Schäfer–Anandkumar): Δθ = −η(ω + ηθ)/(1+η²), Δω = η(θ − ηω)/(1+η²)
    cgd = tr.CompetitiveGD(b, eta)
    s = cgd.step(cgd.init(x0))
    want = [th - eta * (om + eta * th) / (1 + eta**2), om + eta * (th - eta * om) / (1 + eta**2)]
    np.testing.assert_allclose(flat(s.x), want, rtol=1e-12)
    assert int(s.stats["cg_iterations"]) >= 1
    # TTUR: η_t = η0 / (1 + t)^p per player
    ttur = tr.TTUR(b, 0.2, 0.4, power_theta=1.0, power_omega=0.5)
    s = ttur.init(x0)
    x = np.array([th, om])
    for t in range(3):
        s = ttur.step(s)
        x = x + np.array([0.2 / (1 + t), 0.4 / (1 + t) ** 0.5]) * np.array([-x[1], x[0]])
    np.testing.assert_allclose(flat(s.x), x, rtol=1e-14)
    # EMA of the generator
    ema = tr.EMA(tr.SimultaneousGDA(b, eta), decay=0.5)
    s = ema.init(x0)
    x, avg = np.array([th, om]), th
    for _ in range(3):
        s = ema.step(s)
        x = x + eta * np.array([-x[1], x[0]])
        avg = 0.5 * avg + 0.5 * x[0]
    np.testing.assert_allclose(flat(s.x), x, rtol=1e-14)
    np.testing.assert_allclose(ema.average(s), avg, rtol=1e-14)


def test_minibatch_plumbing_independent_batches():
    """With a sampler each field evaluation draws its own batch: keys = split(key, n_d + n_g)."""
    phi = lambda t, w, batch: jnp.mean(batch) * t * w  # noqa: E731
    b = vector_field(phi)
    sampler = lambda k: jax.random.normal(k, (5,))  # noqa: E731
    scheme = tr.AlternatingGDA(b, 0.1, sampler=sampler, n_d=2, n_g=1)
    key = jax.random.key(3)
    s = scheme.step(scheme.init(scalar_state(1.0, 2.0)), key)
    c = [float(jnp.mean(sampler(k))) for k in jax.random.split(key, 3)]
    assert len({round(v, 12) for v in c}) == 3  # three different batches
    t, w = 1.0, 2.0
    w = w + 0.1 * c[0] * t
    w = w + 0.1 * c[1] * t
    t = t - 0.1 * c[2] * w
    np.testing.assert_allclose(flat(s.x), [t, w], rtol=1e-14)
    # run(): per-seed keys, batches sampled inside the scan, reproducible
    x0s = (jnp.ones(4), 2.0 * jnp.ones(4))
    s1 = tr.run(scheme, x0s, 10, jax.random.key(0))
    s2 = tr.run(scheme, x0s, 10, jax.random.key(0))
    np.testing.assert_array_equal(s1.x_final[0], s2.x_final[0])
    assert len(set(np.asarray(s1.x_final[0]).round(12))) == 4  # seeds see different batches


# ---------------------------------------------------------------------------------------------
# runs: divergence flagged per seed, never poisoning the others


def _quartic_field():
    # Φ = θ²/2 + θ⁴/4 − ω²/2: GD on θ blows up from large θ0, converges from small θ0
    return vector_field(lambda t, w: t**2 / 2 + t**4 / 4 - w**2 / 2)


def test_diverging_seed_flagged_and_isolated(getkey):
    b = _quartic_field()
    eta, bad_index, blowup = 0.5, 17, 1e6
    base = seeds_near(scalar_state(0.0, 0.0), getkey(), 0.5)
    bad = (base[0].at[bad_index].set(10.0), base[1])
    sol_bad = tr.run(
        tr.SimultaneousGDA(b, eta),
        bad,
        50,
        x_star=scalar_state(0.0, 0.0),
        tol=1e-6,
        blowup=blowup,
        save_every=10,
    )
    sol_ok = tr.run(
        tr.SimultaneousGDA(b, eta),
        base,
        50,
        x_star=scalar_state(0.0, 0.0),
        tol=1e-6,
        blowup=blowup,
        save_every=10,
    )
    # the step of divergence, by hand
    t, k = 10.0, 0
    while np.isfinite(t) and abs(t) <= blowup:
        t, k = t - eta * (t + t**3), k + 1
    assert sol_bad.status_names[bad_index] == "diverged"
    assert int(sol_bad.diverged_step[bad_index]) == k
    assert np.all(np.isfinite(np.asarray(sol_bad.xs[0])))  # frozen at its last good state
    others = np.arange(64) != bad_index
    for a, c in zip(jax.tree_util.tree_leaves(sol_bad.xs), jax.tree_util.tree_leaves(sol_ok.xs)):
        np.testing.assert_array_equal(np.asarray(a)[others], np.asarray(c)[others])  # bitwise
    np.testing.assert_array_equal(
        np.asarray(sol_bad.status)[others], np.asarray(sol_ok.status)[others]
    )
    assert np.all(np.asarray(sol_ok.status) == gf.engine.RESULTS.converged)
    assert np.all(np.asarray(sol_ok.diverged_step) == -1)
    with pytest.raises(Exception, match="diverged"):
        jax.block_until_ready(
            tr.run(tr.SimultaneousGDA(b, eta), bad, 50, blowup=blowup, throw=True).status
        )


# ---------------------------------------------------------------------------------------------
# bad input, before compiling


def test_bad_input_errors():
    b = bilinear_field()
    x0 = scalar_state(1.0, 1.0)
    with pytest.raises(ValueError, match="n_d"):
        tr.AlternatingGDA(b, 0.1, n_d=0)
    with pytest.raises(ValueError, match="n_g"):
        tr.AlternatingGDA(b, 0.1, n_g=0)
    with pytest.raises(ValueError, match="learning rate"):
        tr.SimultaneousGDA(b, -0.1)
    with pytest.raises(ValueError, match="learning rate"):
        tr.SimultaneousGDA(b, (0.1, 0.0))
    with pytest.raises(ValueError, match="eta"):
        tr.CompetitiveGD(b, 0.0)
    with pytest.raises(ValueError, match="scheme"):
        tr.make_scheme("leapfrog", b)
    with pytest.raises(ValueError, match="unroll_lr"):
        tr.Unrolled(lambda t, w: t * w, k=2, unroll_lr=-1.0)
    sgd = tr.SimultaneousGDA(b, 0.1)
    adam = tr.SimultaneousGDA(b, optax.adam(0.1))
    wrong = adam.init(x0).opt_state
    with pytest.raises(ValueError, match="opt_state"):
        sgd.init(x0, opt_state=wrong)
    with pytest.raises(ValueError, match="opt_state"):
        sgd.step(adam.init(x0))
    with pytest.raises(ValueError, match="save_every"):
        tr.run(sgd, (jnp.ones(2), jnp.ones(2)), 10, save_every=3)
    with pytest.raises(ValueError, match="key"):
        tr.run(tr.SimultaneousGDA(b, 0.1, sampler=lambda k: None), (jnp.ones(2), jnp.ones(2)), 5)
    # a minibatch field b(x, batch) in a scheme with neither a sampler nor data: a ganflow line,
    # not JAX's "missing 1 required positional argument" from inside the trace
    dirac = gf.DiracGAN("gan")
    minibatch = tr.SimultaneousGDA(dirac.vector_field(), 0.1)
    x1 = dirac.make_state(1.0, 0.5)
    with pytest.raises(ValueError, match="no sampler and was given no data"):
        minibatch.step(minibatch.init(x1))
    with pytest.raises(ValueError, match="population=True"):
        tr.run(minibatch, jax.tree.map(lambda a: jnp.full((2,), a), x1), 5)
    # the population field needs no data
    assert np.isfinite(flat(tr.SimultaneousGDA(dirac.vector_field(population=True), 0.1)
                            .step(minibatch.init(x1)).x)).all()


def test_step_under_jit_and_vmap():
    b = bilinear_field()
    scheme = tr.SimultaneousGDA(b, 0.1)
    s = scheme.init(scalar_state(1.0, 2.0))
    s_jit = eqx.filter_jit(scheme.step)(s)
    np.testing.assert_array_equal(flat(s_jit.x), flat(scheme.step(s).x))
    states = jax.vmap(scheme.init)((jnp.arange(3.0), jnp.ones(3)))
    out = jax.vmap(scheme.step)(states)
    np.testing.assert_allclose(out.x[0], np.arange(3.0) - 0.1)


# ---------------------------------------------------------------------------------------------
# with ganflow.stabilisers


def test_stabilised_fields_drive_schemes(getkey):
    from ganflow import stabilisers as st

    game = gf.DiracGAN("wgan")
    xs = game.equilibrium()
    # R1 and R2 through stabilise(): on the Dirac-GAN both have the spectrum −γ/2 ± sqrt(γ²/4 − 1)
    lam = -0.5 + np.array([1, -1]) * np.sqrt(complex(0.25 - 1.0))
    x0s = seeds_near(xs, getkey(), 0.1)
    for reg in (st.R1(1.0), st.R2(1.0)):
        b = st.stabilise(game, reg, population=True)
        assert rho(tr.SimultaneousGDA(b, 0.3), xs) == pytest.approx(
            np.max(np.abs(1 + 0.3 * lam)), rel=1e-12
        )
        sol = tr.run(tr.SimultaneousGDA(b, 0.3), x0s, 400, x_star=xs)
        assert np.all(sol.converged)
    # weight clipping is applied after every step
    clip = st.stabilise(game, st.WeightClipping(0.05), population=True)
    s = tr.SimultaneousGDA(clip, 0.5).step(
        tr.SimultaneousGDA(clip, 0.5).init(game.make_state(1.0, 0.0))
    )
    np.testing.assert_allclose(s.x[1].psi, -0.05)  # ψ + 0.5·(−θ) = −0.5, clipped to −0.05


def test_cgd_general_field_uses_gmres():
    """Non-zero-sum (NK-penalised generator): Δ solves [[I, −ηJ_θω], [−ηJ_ωθ, I]] Δ = η b."""
    from ganflow import stabilisers as st

    game = gf.DiracGAN("gan")
    b = st.stabilise(game, st.NagarajanKolter(0.7), population=True)
    x = game.make_state(0.4, -0.3)
    eta = 0.4
    cgd = tr.CompetitiveGD(b, eta)
    assert not cgd.symmetric
    s = eqx.filter_jit(cgd.step)(cgd.init(x))
    J = np.asarray(gf.jacobian(b, x))
    M = np.array([[1.0, -eta * J[0, 1]], [-eta * J[1, 0], 1.0]])
    delta = np.linalg.solve(M, eta * flat(b(x)))
    np.testing.assert_allclose(flat(s.x), flat(x) + delta, rtol=1e-10)
    with pytest.raises(ValueError, match="Objective"):
        tr.Unrolled(game, k=1, unroll_lr=0.1)


def test_seed_chunks_equal_one_vmap():
    """`run(execution=Execution(chunk=k))` computes the seeds k at a time (`lax.map`): the
    same numbers as one vmap over all seeds, with a population field (no key) and with a
    sampler (keys)."""
    game = gf.DiracGAN("gan")
    field = gf.stabilise(game, gf.R1(1.0), population=True)
    x0s = jax.vmap(game.init)(jax.random.split(jax.random.key(5), 5))
    sch = tr.SimultaneousGDA(field, optax.sgd(0.1))
    a = tr.run(sch, x0s, 50, save_every=10, execution=gf.engine.Execution(chunk=2))
    b = tr.run(sch, x0s, 50, save_every=10, execution=gf.engine.Execution(chunk=5))
    assert tree_allclose(a.xs, b.xs, rtol=1e-14, atol=1e-15)
    nk = gf.get_game("nk2d", loss="wgan")
    sampled = tr.SimultaneousGDA(nk.vector_field(), optax.sgd(0.05), lambda k: nk.sample(k, 8))
    x0s = jax.vmap(nk.init)(jax.random.split(jax.random.key(6), 5))
    a = tr.run(sampled, x0s, 20, jax.random.key(7), execution=gf.engine.Execution(chunk=2))
    b = tr.run(sampled, x0s, 20, jax.random.key(7))
    assert tree_allclose(a.x_final, b.x_final, rtol=1e-13, atol=1e-14)
    with pytest.raises(ValueError, match="chunk must be >= 1"):
        gf.engine.Execution(chunk=0)
    with pytest.raises(ValueError, match="execution must be a ganflow.engine.Execution"):
        tr.run(sch, jax.vmap(game.init)(jax.random.split(jax.random.key(5), 3)), 5, execution=2)
