r"""Diffusion coefficients σ(x) of the SDEs $dx = b(x)\,dt + σ(x)\,dW$, matrix-free.

A diffusion declares the structure of its Brownian motion (`noise_structure(x)`, a pytree of
`jax.ShapeDtypeStruct`) and applies σ(t, x) to an increment dW of that structure
(`apply(t, x, dw)`, a pytree like x). No d × d matrix is ever formed. For diffrax the same
`apply` is wrapped as a `lineax.FunctionLinearOperator` in a `ControlTerm`.

- `GradientNoise`: Cao–Guo's $\sqrt{2/β}\,\mathrm{blockdiag}(Σ_θ, Σ_ω)^{1/2}$, β = 2B/η
  (eqs. 9, 10, 13), through the per-example factor: $σ\,dW = \sqrt{η/B}\,(C_θ^\top dW_θ,
  C_ω^\top dW_ω)$ with $C^\top C = \hat Σ$ and two n-dimensional Brownian motions.
- `ConstantDiffusion`: additive noise, a scalar or one σ per coordinate (a pytree like x).
- `DiagonalDiffusion`: a user callable σ(t, x, *args) returning one σ per coordinate.
- `MatrixFreeDiffusion`: a user callable `(t, x, dw) ↦ σ(x) dw` with its own noise structure.
"""

import abc
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import lineax as lx
import numpy as np

from .._checks import check_int_at_least, check_positive, check_same_structure, check_state
from ..dynamics import Objective, as_objective, noise_factor
from ._random import STREAM_SIGMA

_tmap = jax.tree_util.tree_map


def _shape_struct(tree: Any) -> Any:
    return _tmap(lambda a: jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a)), tree)


class AbstractDiffusion(eqx.Module):
    r"""A diffusion σ(t, x) acting on Brownian increments: `apply(t, x, dw) = σ(t, x) dw`."""

    @abc.abstractmethod
    def noise_structure(self, x: Any) -> Any:
        """The Brownian motion's structure: a pytree of `jax.ShapeDtypeStruct`."""

    @abc.abstractmethod
    def apply(self, t: Any, x: Any, dw: Any) -> Any:
        """σ(t, x) dw, a pytree shaped like x."""

    @property
    def additive(self) -> bool:
        """True when σ does not depend on x (Itô = Stratonovich: any diffrax SDE solver)."""
        return False

    def check(self, x: Any) -> None:
        """Raises `ValueError` if σ(x) dw does not have the structure of x (trace time)."""
        structure = self.noise_structure(x)
        out = jax.eval_shape(lambda y, w: self.apply(0.0, y, w), x, structure)
        try:
            check_same_structure("the diffusion's output σ(x)·dW", out, x)
        except ValueError as e:
            raise ValueError(f"diffusion of the wrong shape: {e}") from None

    def operator(self, t: Any, x: Any) -> lx.FunctionLinearOperator:
        """σ(t, x) as a lineax operator (for a diffrax `ControlTerm`)."""
        return lx.FunctionLinearOperator(lambda w: self.apply(t, x, w), self.noise_structure(x))

    def covariance(self, x: Any) -> jax.Array:
        r"""Dense $σσ^\top$ at x in ganflow's flat order (θ first) — small games and tests."""
        structure = self.noise_structure(x)
        flat_w, unravel_w = jax.flatten_util.ravel_pytree(
            _tmap(lambda s: jnp.zeros(s.shape, s.dtype), structure)
        )

        def column(e):
            return jax.flatten_util.ravel_pytree(self.apply(0.0, x, unravel_w(e)))[0]

        sigma = jax.vmap(column, out_axes=1)(jnp.eye(flat_w.size, dtype=flat_w.dtype))
        return sigma @ sigma.T


class ConstantDiffusion(AbstractDiffusion):
    r"""Additive noise $σ\,dW$ with W shaped like x: `sigma` is a scalar or a pytree like x
    (one σ per coordinate)."""

    sigma: Any

    def __init__(self, sigma: Any):
        leaves = jax.tree_util.tree_leaves(sigma)
        if not leaves:
            raise ValueError("sigma must be a number or a pytree of arrays")
        for leaf in leaves:
            if not isinstance(leaf, jax.core.Tracer) and np.any(np.asarray(leaf) < 0):
                raise ValueError(f"sigma must be >= 0, got {sigma!r}")
        self.sigma = _tmap(jnp.asarray, sigma)

    @property
    def additive(self) -> bool:
        return True

    def _per_leaf(self, x: Any) -> Any:
        if jax.tree_util.treedef_is_leaf(jax.tree_util.tree_structure(self.sigma)) and (
            jnp.ndim(self.sigma) == 0
        ):
            return _tmap(lambda a: self.sigma, x)
        try:
            check_same_structure("sigma", self.sigma, x)
        except ValueError as e:
            raise ValueError(f"diffusion of the wrong shape: {e}") from None
        return self.sigma

    def noise_structure(self, x):
        return _shape_struct(x)

    def apply(self, t, x, dw):
        return _tmap(lambda s, w: (s * w).astype(w.dtype), self._per_leaf(x), dw)

    def operator(self, t, x):
        """A `lineax.DiagonalLinearOperator` (array leaves only: the additive-noise solvers
        `SRA1`/`ShARK` vmap the diffusion over time)."""
        return lx.DiagonalLinearOperator(
            _tmap(lambda s, a: jnp.broadcast_to(s, jnp.shape(a)).astype(jnp.result_type(a)),
                  self._per_leaf(x), x)
        )


class DiagonalDiffusion(AbstractDiffusion):
    r"""$σ(t, x) ⊙ dW$ with W shaped like x: `fn(t, x, *args)` returns one σ per coordinate
    (a pytree like x)."""

    fn: Callable[..., Any]
    args: tuple

    def __init__(self, fn: Callable[..., Any], args: tuple = ()):
        if not callable(fn):
            raise ValueError(f"fn must be callable, got {type(fn).__name__}")
        self.fn = fn
        self.args = tuple(args)

    def noise_structure(self, x):
        return _shape_struct(x)

    def _sigma(self, t, x):
        sigma = self.fn(t, x, *self.args)
        try:
            check_same_structure("the diagonal diffusion σ(t, x)", sigma, x)
        except ValueError as e:
            raise ValueError(f"diffusion of the wrong shape: {e}") from None
        return sigma

    def apply(self, t, x, dw):
        return _tmap(lambda s, w: s * w, self._sigma(t, x), dw)

    def operator(self, t, x):
        return lx.DiagonalLinearOperator(self._sigma(t, x))


class MatrixFreeDiffusion(AbstractDiffusion):
    r"""A user diffusion given as its action: `fn(t, x, dw, *args) = σ(t, x) dw`, with W of
    structure `noise_shape` (a pytree of `jax.ShapeDtypeStruct`, or a tuple of ints for one
    array in the state's dtype)."""

    fn: Callable[..., Any]
    noise_shape: Any = eqx.field(static=True)
    args: tuple

    def __init__(self, fn: Callable[..., Any], noise_shape: Any, args: tuple = ()):
        if not callable(fn):
            raise ValueError(f"fn must be callable, got {type(fn).__name__}")
        self.fn = fn
        self.noise_shape = noise_shape
        self.args = tuple(args)

    def noise_structure(self, x):
        if isinstance(self.noise_shape, tuple) and all(
            isinstance(i, (int, np.integer)) for i in self.noise_shape
        ):
            dtype = jnp.result_type(*jax.tree_util.tree_leaves(x))
            return jax.ShapeDtypeStruct(tuple(int(i) for i in self.noise_shape), dtype)
        return self.noise_shape

    def apply(self, t, x, dw):
        return self.fn(t, x, dw, *self.args)


class GradientNoise(AbstractDiffusion):
    r"""The gradient noise of minibatch training (Cao–Guo §3, eqs. 8–10):
    $$σ(x)\,dW = \sqrt{2β^{-1}}\,\mathrm{blockdiag}(Σ_θ, Σ_ω)^{1/2} dW,\quad β = 2B/η,$$
    applied through the per-example factor of `gf.noise_factor`: with $C_θ, C_ω$ the centred
    per-example gradients over n examples divided by √n ($C^\top C = \hat Σ$),
    $σ\,dW = \sqrt{η/B}\,(C_θ^\top dW_θ,\; C_ω^\top dW_ω)$, $W_θ, W_ω$ two independent
    n-dimensional Brownian motions. O(n·d) work and memory per evaluation.

    **Which examples.** With `sampler=None` (default) Σ̂ is computed over the fixed `data`
    (a pytree with a leading example axis n): Cao–Guo's setting of a finite data set
    $\mathcal D$, where Σ is exactly the per-example covariance over $\mathcal D$ (their §3). With
    `sampler(key, n)` (e.g. `game.sample`) a fresh batch of n examples is drawn at every
    evaluation from `fold_in(key, bits of t)`: an unbiased Monte-Carlo Σ̂ for a population game,
    the same batch for every seed at a given time (common random numbers; the Brownian motions
    stay independent per seed). In that case `data` only fixes n and the example structure.

    `example_objective` is the per-example objective `(θ, ω, example) ↦ value` (an `Objective`
    for non-zero-sum games), e.g. `game.example_objective`.
    """

    example_objective: Objective
    data: Any
    eta: Any
    batch_size: int = eqx.field(static=True)
    sampler: Callable[..., Any] | None = eqx.field(static=True)
    key: Any

    def __init__(
        self,
        example_objective: Any,
        data: Any,
        eta: Any,
        batch_size: int,
        *,
        sampler: Callable[..., Any] | None = None,
        key: Any = None,
    ):
        self.example_objective = as_objective(example_objective)
        leaves = jax.tree_util.tree_leaves(data)
        if not leaves or any(jnp.ndim(a) == 0 for a in leaves):
            raise ValueError("data must be a pytree of arrays with a leading example axis")
        if len({jnp.shape(a)[0] for a in leaves}) != 1:
            raise ValueError("every leaf of data must have the same leading (example) axis")
        self.data = data
        self.eta = check_positive("eta", eta)
        self.batch_size = check_int_at_least("batch_size B", batch_size, 1)
        if sampler is not None and key is None:
            raise ValueError("a sampler needs a key (fresh batches are drawn from it)")
        self.sampler = sampler
        self.key = key

    @property
    def n(self) -> int:
        return jnp.shape(jax.tree_util.tree_leaves(self.data)[0])[0]

    def noise_structure(self, x):
        theta, omega = check_state(x)
        dtype = jnp.result_type(*jax.tree_util.tree_leaves(x))
        s = jax.ShapeDtypeStruct((self.n,), dtype)
        return (s, s)

    def _batch(self, t):
        if self.sampler is None:
            return self.data
        t = jnp.asarray(t)
        bits = jax.lax.bitcast_convert_type(t, jnp.uint64 if t.dtype == jnp.float64 else jnp.uint32)
        key = jax.random.fold_in(self.key, STREAM_SIGMA)
        key = jax.random.fold_in(key, (bits & 0xFFFFFFFF).astype(jnp.uint32))
        if t.dtype == jnp.float64:
            key = jax.random.fold_in(key, (bits >> 32).astype(jnp.uint32))
        return self.sampler(key, self.n)

    def factor(self, t: Any, x: Any):
        """The `NoiseFactor` (C_θ, C_ω) at x (unscaled)."""
        return noise_factor(self.example_objective, x, self._batch(t))

    def apply(self, t, x, dw):
        r"""$\sqrt{η/B}\,(C_θ^\top dW_θ, C_ω^\top dW_ω)$ without the (n, d) matrix of
        per-example gradients: since $C^\top ξ = \tfrac{1}{\sqrt n}\sum_i ξ_i (g_i - \bar g)
        = \tfrac{1}{\sqrt n}\sum_i (ξ_i - \bar ξ)\, g_i = ∇ \sum_i w_i \ell_i$ with
        $w = (ξ - \bar ξ)/\sqrt n$, each player's noise is ONE vector–Jacobian product of its
        per-example objectives $(\ell_i)_{i ≤ n}$ with the cotangent w: the cost of a gradient,
        O(n + d) memory. Equal to `self.factor(t, x).apply(dw)` up to rounding (tested)."""
        theta, omega = x
        batch = self._batch(t)
        obj = self.example_objective
        n = self.n
        scale = jnp.sqrt(self.eta / self.batch_size)

        def weights(xi):
            return (xi - jnp.mean(xi)) * (scale / jnp.sqrt(n))

        def per_example(fn, which):
            if which == 0:
                return lambda th: jax.vmap(lambda e: fn(th, omega, e))(batch)
            return lambda om: jax.vmap(lambda e: fn(theta, om, e))(batch)

        _, pull_theta = jax.vjp(per_example(obj.generator_value, 0), theta)
        _, pull_omega = jax.vjp(per_example(obj.discriminator_value, 1), omega)
        dw_theta, dw_omega = dw
        out_theta = pull_theta(weights(dw_theta).astype(dw_theta.dtype))[0]
        out_omega = pull_omega(weights(dw_omega).astype(dw_omega.dtype))[0]
        return out_theta, out_omega
