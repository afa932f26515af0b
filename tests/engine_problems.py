"""Problems with closed forms for the engine tests (imported by subprocesses too)."""

import equinox as eqx
import jax
import jax.numpy as jnp

from ganflow.engine import RESULTS, AbstractProblem


class NoisyContraction(AbstractProblem):
    r"""x_{k+1} = (1 − η) x_k + σ ξ_k, x_0 = 1 (ξ_k from the member's step key); with σ = 0 the
    closed form is $x_k = (1 − η)^k$. A static `mode="explode"` multiplies by 10 per step."""

    size: int = eqx.field(static=True, default=3)
    vectorised = False

    def init(self, key, params, inputs=None):
        return jnp.ones((self.size,))

    def step(self, x, key, t, params):
        eta = params["eta"]
        sigma = params.get("sigma", 0.0)
        factor = 10.0 if params.get("mode") == "explode" else 1.0 - eta
        return factor * x + sigma * jax.random.normal(key, x.shape, x.dtype)

    def observe(self, x, params):
        return {"mean": jnp.mean(x), "x": x}

    def outcome(self, x, params):
        return jnp.where(jnp.max(jnp.abs(x)) < 1e-3, RESULTS.converged,
                         RESULTS.max_steps_reached)


class MatrixWalk(AbstractProblem):
    """A heavier member (a 48×48 matrix iteration with noise) for the kill-and-resume test."""

    vectorised = False

    def init(self, key, params, inputs=None):
        return jax.random.normal(key, (48, 48)) / 48.0

    def step(self, a, key, t, params):
        a = jnp.tanh(a @ a.T + params["eta"] * a)
        for _ in range(6):
            a = jnp.tanh(a @ a + 0.01 * jax.random.normal(jax.random.fold_in(key, _), a.shape))
        return a

    def observe(self, a, params):
        return {"trace": jnp.trace(a), "norm": jnp.linalg.norm(a)}
