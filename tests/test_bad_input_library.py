"""Bad input to the library's sweep calls gives one clear line: a `ValueError` (an objective or a
problem failing on the given state: a `StateError` naming the state's leaves and shapes, with
JAX's message inside), raised before anything compiles, never a traceback from inside JAX."""

import jax
import jax.numpy as jnp
import optax
import pytest

import ganflow as gf
from ganflow.engine import AbstractProblem, StateError, Sweep, run_ensemble


def _mlp(p, x):
    return jnp.tanh(x @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]


def _phi(theta, omega, batch):
    data, z = batch
    return (jnp.mean(jax.nn.log_sigmoid(_mlp(omega, data)))
            + jnp.mean(jax.nn.log_sigmoid(-_mlp(omega, _mlp(theta, z)))))


def _sampler(key):  # data in 1-D, latent in 2-D: the generator's W1 is (2, 4)
    kx, kz = jax.random.split(key)
    return jax.random.normal(kx, (8, 1)), jax.random.normal(kz, (8, 2))


def _params(n_in, seeds=2):
    return {"W1": jnp.ones((seeds, n_in, 4)), "b1": jnp.zeros((seeds, 4)),
            "W2": jnp.ones((seeds, 4, 1)), "b2": jnp.zeros((seeds, 1))}


KEYS = gf.engine.seed_keys(2)
X0S = (_params(2), _params(1))  # (θ, ω) with a leading seed axis of 2
OBJ = gf.Objective.from_phi(_phi)
SCHEME = gf.training.make_scheme("simultaneous", OBJ, optax.sgd(0.05), sampler=_sampler)


def _grid(x0s, etas=(0.1,)):
    return gf.training.run_grid(
        lambda eta: gf.training.make_scheme("simultaneous", OBJ, optax.sgd(eta),
                                            sampler=_sampler), list(etas), x0s, 4, keys=KEYS)


def _with(tree, **leaves):
    return {**tree, **leaves}


class _Walk(AbstractProblem):  # no `vectorised`: the default False
    def init(self, key, params, inputs=None):
        return {"a": jnp.zeros(3)}

    def step(self, x, key, t, params):
        return {"a": x["a"] + params["eta"]}

    def observe(self, x, params):
        return {"x": x}


class _BadStep(_Walk):
    def step(self, x, key, t, params):
        return {"a": x["a"] @ jnp.ones((2, 2))}


class _BadInit(_Walk):
    def init(self, key, params, inputs=None):
        return {"a": inputs["missing"]}


def _dirac_wrong_leaf():
    game = gf.DiracGAN("gan")
    x0s = jax.vmap(game.init)(jax.random.split(jax.random.key(0), 2))
    x0s = (type(x0s[0])(jnp.ones((2, 3))), x0s[1])  # θ of shape (3,) per seed instead of ()
    scheme = gf.training.SimultaneousGDA(game.vector_field(population=True), optax.sgd(0.1))
    return lambda: gf.training.run(scheme, x0s, 4)


def _walk(**kw):
    return lambda: run_ensemble(kw.pop("problem", _Walk()),
                                kw.pop("sweep", Sweep(seeds=2, axes={"eta": [0.1]})), 3, **kw)


CASES = {
    # (call, exception type, a regular expression its one-line message matches)
    "wrong weight shape": (
        lambda: gf.training.run(SCHEME, (_with(X0S[0], W1=jnp.ones((2, 3, 4))), X0S[1]), 4,
                                keys=KEYS),
        StateError, r"objective failed on the state \(theta\.W1 float\d+\[3,4\].*"
                    r"omega\.b2 float\d+\[1\]\): TypeError: dot_general requires"),
    "swapped theta and omega": (
        lambda: gf.training.run(SCHEME, (X0S[1], X0S[0]), 4, keys=KEYS),
        StateError, r"theta\.W1 float\d+\[1,4\].*omega\.W1 float\d+\[2,4\].*dot_general"),
    "wrong weight shape, run_grid": (
        lambda: _grid((_with(X0S[0], W1=jnp.ones((2, 3, 4))), X0S[1])),
        StateError, r"theta\.W1 float\d+\[3,4\].*dot_general"),
    "wrong x0s leaf shape (Dirac θ of shape (3,))": (
        _dirac_wrong_leaf(), StateError,
        r"objective failed on the state \(theta\.theta float\d+\[3\]; omega\.psi float\d+\[\]\)"
        r": ValueError: the discriminator's objective must return a scalar"),
    "vector field on a wrong state": (
        lambda: gf.vector_field(OBJ)(
            ({"W1": jnp.ones((3, 4)), "b1": jnp.zeros(4), "W2": jnp.ones((4, 1)),
              "b2": jnp.zeros(1)}, jax.tree_util.tree_map(lambda a: a[0], X0S[1])),
            _sampler(jax.random.key(0))),
        StateError, r"theta\.W1 float\d+\[3,4\].*dot_general"),
    "x0s not a pair": (
        lambda: gf.training.run(SCHEME, X0S[0], 4, keys=KEYS),
        ValueError, r"x0s must be a pair \(theta, omega\)"),
    "x0s leaves with different seed axes": (
        lambda: gf.training.run(SCHEME, (X0S[0], _params(1, seeds=3)), 4, keys=KEYS),
        ValueError, r"same leading seed axis"),
    "keys for the wrong number of seeds": (
        lambda: gf.training.run(SCHEME, X0S, 4, keys=gf.engine.seed_keys(3)),
        ValueError, r"keys has 3 keys for 2 seeds"),
    "a sampling scheme without a key": (
        lambda: gf.training.run(SCHEME, X0S, 4), ValueError, r"pass a PRNG key"),
    "eta = 0": (lambda: _grid(X0S, (0.0, 0.1)), ValueError, r"etas must be > 0"),
    "eta < 0": (lambda: _grid(X0S, (-0.1,)), ValueError, r"etas must be > 0"),
    "num_steps = 0": (
        lambda: gf.training.run(SCHEME, X0S, 0, keys=KEYS), ValueError,
        r"num_steps must be >= 1, got 0"),
    "num_steps = 0, run_ensemble": (
        lambda: run_ensemble(_Walk(), Sweep(seeds=2, axes={"eta": [0.1]}), 0), ValueError,
        r"num_steps must be >= 1"),
    "save_every does not divide num_steps": (
        lambda: gf.training.run(SCHEME, X0S, 5, keys=KEYS, save_every=2), ValueError,
        r"save_every=2 must divide num_steps=5"),
    "observables not a dict": (
        lambda: gf.training.run(SCHEME, X0S, 4, keys=KEYS, observables=[jnp.sum]),
        ValueError, r"observables must be a dict"),
    "observable not callable": (
        lambda: gf.training.run(SCHEME, X0S, 4, keys=KEYS, observables={"m": 3}),
        ValueError, r"the observable 'm' must be a function"),
    "observable name not an identifier": (
        lambda: gf.training.run(SCHEME, X0S, 4, keys=KEYS, observables={"a b": lambda x, s: s}),
        ValueError, r"observation names must be identifiers, got 'a b'"),
    "observable named like a stored variable": (
        lambda: gf.training.run(SCHEME, X0S, 4, keys=KEYS,
                                observables={"status": lambda x, s: s}),
        ValueError, r"'status' is a name the results reserve"),
    "observable named like the parameters": (
        lambda: gf.training.run(SCHEME, X0S, 4, keys=KEYS, observables={"theta": lambda x, s: s}),
        ValueError, r"observable 'theta' has the name of one of the problem's own observations"),
    "observable failing on the state": (
        lambda: gf.training.run(SCHEME, X0S, 4, keys=KEYS,
                                observables={"m": lambda x, s: x[0]["W3"]}),
        StateError, r"training\.run: one step of the scheme failed on the state "
                    r"\(theta\.W1 .*\): KeyError: 'W3'"),
    "observable returning a string": (
        _walk(observables={"y": lambda x, s: "text"}), StateError,
        r"the observable 'y' must return an array \(or a pytree of arrays\), got str"),
    "problem's step failing on its state": (
        _walk(problem=_BadStep()), StateError,
        r"_BadStep\.step failed on the state \(state\.a float\d+\[3\]\): TypeError: "
        r"dot_general"),
    "problem's init failing on its inputs": (
        _walk(problem=_BadInit(), inputs={"x": jnp.zeros((2, 3))}), StateError,
        r"_BadInit\.init failed on the state \(inputs\.x float\d+\[3\]\): KeyError: 'missing'"),
    "a hyper-parameter the problem needs is not swept": (
        _walk(sweep=Sweep(seeds=2, axes={"sigma": [0.1]})), StateError,
        r"_Walk\.step failed on the state \(state\.a float\d+\[3\]\): KeyError: 'eta'"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gives_one_clear_line(case):
    call, kind, pattern = CASES[case]
    with pytest.raises(kind, match=pattern) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, message
    assert isinstance(info.value, ValueError)
    if isinstance(info.value, StateError):  # raised afresh: no chained JAX traceback
        assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_problem_without_vectorised_runs_with_the_documented_default():
    assert _Walk.vectorised is False
    res = run_ensemble(_Walk(), Sweep(seeds=2, axes={"eta": [0.5]}), 2)
    assert res.dataset["x.a"].values[0, 0, -1, 0] == 1.0


def test_a_problem_without_observe_names_the_missing_method():
    class NoObserve(AbstractProblem):
        def init(self, key, params, inputs=None):
            return jnp.zeros(())

        def step(self, x, key, t, params):
            return x

    with pytest.raises(TypeError, match="abstract method observe"):
        NoObserve()
