"""Hyper-parameters as data: optimisers, schemes and stabilisers hold their continuous
hyper-parameters as array leaves — one compilation for any value, comparison by value,
derivatives with respect to η, γ, λ checked against closed forms (float64) — and ascending
optimisers are refused (ganflow's signs live in b0)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ganflow as gf
from ganflow import stabilisers as st, training as tr
from ganflow.dynamics import Objective

jax.config.update("jax_enable_x64", True)

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


class _CompileCounter:
    """Counts XLA backend compilations (jax.monitoring) while active."""

    def __init__(self):
        self.count = 0

    def _listener(self, event, duration, **kwargs):
        if event == COMPILE_EVENT:
            self.count += 1

    def __enter__(self):
        jax.monitoring.register_event_duration_secs_listener(self._listener)
        return self

    def __exit__(self, *exc):
        jax.monitoring.unregister_event_duration_listener(self._listener)


def _bilinear_field(x):
    """b0 of Φ = θω: (−ω, θ), J = [[0, −1], [1, 0]]."""
    theta, omega = x
    return -omega, theta


J = np.array([[0.0, -1.0], [1.0, 0.0]])
X0 = (jnp.asarray(0.7), jnp.asarray(-0.4))


def _flat(x):
    return jnp.stack([x[0], x[1]])


# ---------------------------------------------------------------------------------------------
# one compilation for any value


def test_loop_over_eta_compiles_once():
    """A Python loop of `training.run` over learning rates compiles once (the first call); the
    same loop with `optax.sgd(η)` closures compiles on every new η — the counter can fail."""
    game = gf.games.DiracGAN("gan")
    b = game.vector_field(population=True)
    x0s = jax.tree_util.tree_map(lambda a: jnp.stack([a + 0.3, a - 0.2]), game.equilibrium())
    etas = [0.05, 0.07, 0.11, 0.13, 0.07]  # 0.07 twice: no second compilation either
    tr.run(tr.SimultaneousGDA(b, etas[0]), x0s, 20)  # warm: the one compilation
    with _CompileCounter() as counted:
        finals = [tr.run(tr.SimultaneousGDA(b, eta), x0s, 20).x_final for eta in etas]
    assert counted.count == 0
    assert not np.array_equal(np.asarray(finals[0][0]), np.asarray(finals[1][0]))
    np.testing.assert_array_equal(np.asarray(finals[1][0]), np.asarray(finals[4][0]))
    with _CompileCounter() as closures:
        for eta in etas[1:3]:
            tr.run(tr.SimultaneousGDA(b, optax.sgd(eta)), x0s, 20)
    assert closures.count >= 2
    # stabilisers and optimisers too: consensus γ, Adam's learning rate and β₁, with the
    # scheme built from the game on every call (its objectives compare by value)
    assert game.objective(population=True) == game.objective(population=True)
    assert game.objective() == game.objective()

    def stab(gamma, lr, b1):
        return tr.make_scheme("simultaneous", game, tr.optimizer(optax.adam, lr, b1=b1),
                              stabilisers=(st.Consensus(gamma),), population=True)
    tr.run(stab(0.1, 1e-2, 0.5), x0s, 10)
    with _CompileCounter() as counted:
        for gamma, lr, b1 in [(0.2, 2e-2, 0.9), (0.3, 1e-3, 0.0)]:
            tr.run(stab(gamma, lr, b1), x0s, 10)
    assert counted.count == 0


def test_schemes_compare_and_hash_by_value():
    game = gf.games.DiracGAN("gan")
    obj = game.objective(population=True)
    a = tr.make_scheme("simultaneous", obj, 0.1, stabilisers=(st.NagarajanKolter(0.5),))
    b = tr.make_scheme("simultaneous", obj, 0.1, stabilisers=(st.NagarajanKolter(0.5),))
    c = tr.make_scheme("simultaneous", obj, 0.1, stabilisers=(st.NagarajanKolter(0.6),))
    assert a == b and hash(a) == hash(b)
    assert a != c
    assert tr.reference_optimizer("adam", 1e-3) == tr.reference_optimizer("adam", 1e-3)
    assert tr.reference_optimizer("adam", 1e-3) != tr.reference_optimizer("adam", 2e-3)
    assert tr.EMA(a, 0.9) == tr.EMA(b, 0.9) != tr.EMA(b, 0.8)
    # jax.jit of a bound step / of a stabilised field still works (they hash by value)
    s = jax.jit(a.step)(a.init(game.make_state(jnp.asarray(0.3), jnp.asarray(0.1))))
    assert np.all(np.isfinite(np.asarray(s.x[0].theta)))


def test_leaves_are_arrays_and_integers_stay_static():
    sch = tr.Unrolled(Objective(lambda t, w: t * w, lambda t, w: t * w), k=3, unroll_lr=0.3,
                      optimizer=0.4)
    assert eqx.is_array(sch.unroll_lr) and sch.unroll_lr.weak_type
    assert sch.k == 3 and isinstance(sch.k, int)
    lr = sch.optimizers[0].hyperparams["learning_rate"]
    assert eqx.is_array(lr) and lr.weak_type
    for stab, names in [(st.Consensus(1.0), ["gamma"]), (st.SGA(0.5), ["lam", "eps"]),
                        (st.LSS(0.1, 0.2), ["xi1", "xi2"]), (st.R1(2.0), ["gamma"]),
                        (st.R2(2.0), ["gamma"]), (st.WGANGP(1.0), ["lam", "target"]),
                        (st.NagarajanKolter(0.3), ["lam"]), (st.InstanceNoise(0.5), ["sigma"]),
                        (st.Roth(1.0), ["gamma"]), (st.WeightClipping(0.01), ["c"])]:
        for n in names:
            assert eqx.is_array(getattr(stab, n)), (type(stab).__name__, n)
    ttur = tr.TTUR(_bilinear_field, 0.1, 0.2, 0.5, 0.7)
    sched = ttur.optimizers[0].hyperparams["learning_rate"]
    assert isinstance(sched, tr.RobbinsMonro) and eqx.is_array(sched.power)
    cgd = tr.CompetitiveGD(_bilinear_field, 0.2)
    assert eqx.is_array(cgd.eta)


def test_array_leaves_are_bitwise_the_python_numbers():
    """Weakly typed hyper-parameters reproduce the Python floats bit for bit (float64 mode):
    Adam (β's, ε), momentum and RMSProp on float32 and float64 parameters. The Robbins–Monro
    exponent is the exception, to one rounding: with a constant p XLA folds (1 + t)^1 to
    1 + t, with p a leaf it evaluates pow at run time."""
    for dtype in (jnp.float32, jnp.float64):
        p = jnp.asarray([0.3, -1.2, 2.5], dtype)
        pairs = [(optax.adam(1e-3, b1=0.5, b2=0.999, eps=1e-8),
                  tr.optimizer(optax.adam, 1e-3, b1=0.5, b2=0.999, eps=1e-8)),
                 (optax.sgd(0.1, momentum=0.9), tr.optimizer(optax.sgd, 0.1, momentum=0.9)),
                 (optax.rmsprop(1e-2, decay=0.9, eps=1e-10, initial_scale=1.0),
                  tr.reference_optimizer("rmsprop", 1e-2))]
        for plain, leaves in pairs:
            def run(opt, p=p, dtype=dtype):
                def body(carry, k):
                    q, s = carry
                    g = jnp.sin(q * (1.0 + k)) + q
                    u, s = opt.update(g, s, q)
                    return (optax.apply_updates(q, u), s), q
                return jax.lax.scan(body, (p, opt.init(p)), jnp.arange(30.0, dtype=dtype))[1]
            np.testing.assert_array_equal(np.asarray(jax.jit(lambda o=plain: run(o))()),
                                          np.asarray(eqx.filter_jit(run)(leaves)))
    t = jnp.arange(50)
    for eta0, power in [(0.1, 0.0), (0.3, 0.5), (0.2, 0.75), (0.05, 1.0)]:
        closure = lambda t, eta0=eta0, power=power: eta0 / (1.0 + t) ** power  # noqa: E731
        np.testing.assert_allclose(
            np.asarray(jax.jit(closure)(t)),
            np.asarray(eqx.filter_jit(lambda s, t: s(t))(tr.robbins_monro(eta0, power), t)),
            rtol=3e-16, atol=0)


# ---------------------------------------------------------------------------------------------
# derivatives with respect to hyper-parameters (closed forms, float64)


def test_grad_wrt_eta_simultaneous_and_alternating_closed_form():
    """Sim GDA on bilinear θω: x_N = M(η)^N x₀, M = I + ηJ, so dx_N/dη = N M^{N−1} J x₀.
    Alternating (ω first): ω₁ = ω₀ + ηθ₀, θ₁ = θ₀ − ηω₁, so dθ₁/dη = −ω₀ − 2ηθ₀,
    dω₁/dη = θ₀. The schemes are built inside the differentiated function (η a tracer)."""
    x0 = np.asarray(_flat(X0))

    def sim(eta, n):
        sch = tr.make_scheme("simultaneous", _bilinear_field, eta)
        s = sch.init(X0)
        for _ in range(n):
            s = sch.step(s)
        return _flat(s.x)

    for eta, n in [(0.3, 1), (0.15, 5)]:
        m = np.eye(2) + eta * J
        want = n * np.linalg.matrix_power(m, n - 1) @ J @ x0
        np.testing.assert_allclose(jax.jacfwd(sim)(eta, n), want, rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(jax.jacrev(sim)(eta, n), want, rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(sim(eta, n), np.linalg.matrix_power(m, n) @ x0, rtol=1e-14)

    def alt(eta):
        sch = tr.AlternatingGDA(_bilinear_field, tr.optimizer(optax.sgd, eta))
        return _flat(sch.step(sch.init(X0)).x)

    eta = 0.3
    th, om = x0
    np.testing.assert_allclose(jax.jacfwd(alt)(eta), [-om - 2 * eta * th, th], rtol=1e-14)
    np.testing.assert_allclose(jax.grad(lambda e: alt(e)[0])(eta), -om - 2 * eta * th,
                               rtol=1e-14)


def test_grad_wrt_gamma_lambda_and_schedule_closed_form():
    """One step of sim GDA with consensus on θω (JᵀJ = I): x₁ = x₀ + η(J − γI)x₀, so
    dx₁/dγ = −ηx₀; with Nagarajan–Kolter (penalty λθ²): θ₁ = θ₀ − η(ω₀ + 2λθ₀), dθ₁/dλ =
    −2ηθ₀, dω₁/dλ = 0; a TTUR step k of rate η₀/(1+k)^p: d/dp of the step is
    −log(1+k) η₀/(1+k)^p b."""
    phi = lambda t, w: t * w  # noqa: E731
    x0 = np.asarray(_flat(X0))
    eta = 0.2

    def consensus(gamma, eta=eta):
        sch = tr.make_scheme("simultaneous", phi, eta, stabilisers=(st.Consensus(gamma),))
        return _flat(sch.step(sch.init(X0)).x)

    np.testing.assert_allclose(consensus(0.5), x0 + eta * (J - 0.5 * np.eye(2)) @ x0,
                               rtol=1e-14)
    np.testing.assert_allclose(jax.jacfwd(consensus)(0.5), -eta * x0, rtol=1e-14)
    np.testing.assert_allclose(jax.jacrev(consensus)(0.5), -eta * x0, rtol=1e-14)
    np.testing.assert_allclose(jax.jacfwd(consensus, argnums=1)(0.5, eta),
                               (J - 0.5 * np.eye(2)) @ x0, rtol=1e-14)

    def nk(lam):
        sch = tr.make_scheme("simultaneous", phi, eta, stabilisers=(st.NagarajanKolter(lam),))
        return _flat(sch.step(sch.init(X0)).x)

    np.testing.assert_allclose(jax.jacrev(nk)(0.3), [-2 * eta * x0[0], 0.0], rtol=1e-14,
                               atol=1e-16)

    def ttur_step(power, k=3):
        sch = tr.TTUR(_bilinear_field, 0.1, 0.2, power, power)
        s = sch.init(X0)
        for _ in range(k):
            s = sch.step(s)
        return s

    k, p = 3, 0.6
    s3 = ttur_step(p)
    d = jax.jacfwd(lambda q: _flat(ttur_step(q, k + 1).x))(p)
    d3 = jax.jacfwd(lambda q: _flat(ttur_step(q, k).x))(p)
    # x_{k+1} = x_k + diag(a_k, b_k) b(x_k): d/dp = (I + diag(a_k, b_k) J) dx_k/dp + da_k/dp ⊙ b
    a_k = np.array([0.1, 0.2]) / (1.0 + k) ** p
    bk = np.array([-float(s3.x[1]), float(s3.x[0])])
    want = (np.eye(2) + np.diag(a_k) @ J) @ np.asarray(d3) - np.log(1.0 + k) * a_k * bk
    np.testing.assert_allclose(d, want, rtol=1e-13)


# ---------------------------------------------------------------------------------------------
# ascending optimisers are refused


@pytest.mark.parametrize("make", [
    lambda: tr.as_optimizer(-0.1),
    lambda: tr.optimizer(optax.sgd, learning_rate=-0.1),
    lambda: tr.optimizer(optax.adam, -1e-3, b1=0.5),
    lambda: tr.SimultaneousGDA(_bilinear_field, optax.sgd(-0.1)),
    lambda: tr.SimultaneousGDA(_bilinear_field, optax.adam(-1e-3)),
    lambda: tr.SimultaneousGDA(_bilinear_field, (0.1, optax.sgd(lambda t: -0.1))),
    lambda: tr.optimizer(optax.sgd, lambda t: -0.1 / (1 + t)),
    lambda: tr.make_scheme("alternating", _bilinear_field, optax.scale(1.0)),
])
def test_ascending_optimisers_are_refused(make):
    with pytest.raises(ValueError, match="b0"):
        make()


def test_descending_optimisers_and_tracers_pass():
    for opt in [optax.sgd(0.1, momentum=0.9), optax.adam(1e-3), optax.set_to_zero(),
                optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(0.1)),
                tr.mounjid_guo(0.1, u_max=4.0), optax.sgd(tr.robbins_monro(0.1, 0.5))]:
        tr.SimultaneousGDA(_bilinear_field, opt)
    # a tracer is not checked (its value is unknown): building inside jax.grad works
    def update(e):
        opt = tr.as_optimizer(e)
        return opt.update(jnp.ones(()), opt.init(jnp.zeros(())))[0]

    assert float(jax.grad(update)(0.1)) == -1.0


def test_float64_hyperparameters_keep_a_float32_model_float32():
    """A strongly typed float64 η (e.g. traced by jax.grad from a float64 array) and γ do not
    promote a float32 model or Adam's moments: the state keeps its dtypes through the steps."""
    game = gf.games.DiracGAN("gan")
    x0 = jax.tree_util.tree_map(lambda a: jnp.asarray(a + 0.3, jnp.float32),
                                game.equilibrium())

    def final_theta(p):
        scheme = tr.make_scheme("simultaneous", game.objective(population=True),
                                tr.optimizer(optax.adam, p[0]),
                                stabilisers=(st.Consensus(p[1]),))
        out = tr.iterate(scheme, x0, 5)
        assert all(leaf.dtype == jnp.float32 for leaf in jax.tree_util.tree_leaves(out.state.x))
        return jnp.sum(jnp.asarray(jax.tree_util.tree_leaves(out.x[0])[0], jnp.float64))

    g = jax.grad(final_theta)(jnp.array([0.01, 0.1], dtype=jnp.float64))
    assert g.dtype == jnp.float64 and np.all(np.isfinite(np.asarray(g)))
