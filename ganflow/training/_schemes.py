r"""Discrete training schemes: each is `init(x0) -> TrainState` and
`step(state, data) -> TrainState`, run inside `jax.lax.scan` and vmappable over seeds.

**Signs** (docs/conventions.md §Discrete schemes): every scheme moves along a vector field `b(x,
*args)` — the game's b0 or a stabilised field — whose θ-part is the generator's update direction and
ω-part the discriminator's. The plain update is $x + η\,b(x)$. Each player's optimiser is any
`optax.GradientTransformation`; it is applied to $-b$ (the gradient of the player's *descent* loss),
so `optax.sgd(η)` reproduces $x + η b$ exactly and no learning rate is ever negative.

**Data.** A scheme built with `sampler=None` calls the field as `b(x, *data)` with the tuple `data`
passed to `step` (`()` for a population game). With `sampler=lambda key: game.sample(key, B)`,
`step(state, key)` draws an independent minibatch for every evaluation of the field (Cao–Guo
eq. 6: the two players of alternating GDA see independent batches), so long runs sample inside
the scan from a per-seed key. A field that declares `needs_key` (an `AbstractField` such as a
`Stabilised` minibatch field with WGAN-GP or sampled instance noise) is called as
`b(x, batch, key)` with a further fresh key, and a field's declared `project` is applied after
every step (docs/conventions.md §The field protocol).

**Hyper-parameters as data.** A learning rate given as a number (the default `optimizer=1e-2`
of each scheme) is `optimizer(optax.sgd, η)`, and every continuous hyper-parameter of a scheme
(CGD's η, `unroll_lr`, TTUR's rates and exponents, EMA's decay) or of a stabiliser is an array
leaf of the scheme's pytree: a Python loop over values compiles `training.run` once, equal
values compare (and hash) equal, and `jax.grad`/`jax.jvp` differentiate through a step with
respect to them — a scheme may be built inside the differentiated function from a tracer
(only concrete values are checked). Integers (`k`, `n_d`, `n_g`, `max_steps`) stay static. A
plain `optax.GradientTransformation` keeps its values in its closures: the same object reuses
its compilation, a new one compiles again.
"""

import abc
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
import optax

from .._checks import check_choice, check_int_at_least, check_positive, check_state
from .._custom_types import Field, ScalarLike, State
from .._hyper import hyperparameter, is_tracer, value_eq, value_hash
from ..dynamics import (
    GameField,
    Objective,
    as_objective,
    field_needs_key,
    field_project,
    vector_field,
)
from ..games import AbstractGame
from ._optimizers import Optimizer, _Transformation, as_optimizer, optimizer

_tmap = jax.tree_util.tree_map


def _neg(tree: Any) -> Any:
    return _tmap(jnp.negative, tree)


def _zeros_like(tree: Any) -> Any:
    return _tmap(jnp.zeros_like, tree)


def _axpy(a: Any, x: Any, y: Any) -> Any:
    return _tmap(lambda xi, yi: a * xi + yi, x, y)


def _scale(a: Any, x: Any) -> Any:
    return _tmap(lambda xi: a * xi, x)


def _keep_dtypes(new: Any, old: Any) -> Any:
    """`new` with every array leaf cast to the dtype of its counterpart in `old` (the same
    structure); a leaf of unchanged dtype is returned as it is."""

    def cast(n, o):
        if eqx.is_array(n) and hasattr(o, "dtype") and n.dtype != o.dtype:
            return n.astype(o.dtype)
        return n

    return _tmap(cast, new, old)


def _select(pred: Any, on_true: Any, on_false: Any) -> Any:
    return _tmap(lambda t, f: jnp.where(pred, t, f), on_true, on_false)


# ---------------------------------------------------------------------------------------------
# optimisers


def _player_optimizers(optimizer: Any) -> tuple[Any, Any]:
    """One optimiser for both players, or a pair (generator's, discriminator's)."""
    if isinstance(optimizer, tuple) and not isinstance(
        optimizer, (optax.GradientTransformation, Optimizer, _Transformation)
    ):
        if len(optimizer) != 2:
            raise ValueError("optimizer must be one transformation or a pair (theta's, omega's)")
        return as_optimizer(optimizer[0], "optimizer[0]"), as_optimizer(
            optimizer[1], "optimizer[1]"
        )
    opt = as_optimizer(optimizer)
    return opt, opt


def _check_opt_state(name: str, opt: Any, opt_state: Any, params: Any) -> None:
    """`ValueError` unless `opt_state` has the structure and shapes `opt.init(params)` gives."""
    # a fresh function: a bound method of a module holding tracers must not be compared
    expected = jax.eval_shape(lambda p: opt.init(p), params)
    se, sg = jax.tree_util.tree_structure(expected), jax.tree_util.tree_structure(opt_state)
    if se != sg:
        raise ValueError(
            f"{name} does not match its optimiser: expected the structure of opt.init(params)\n"
            f"  expected: {se}\n  got:      {sg}"
        )
    for a, b in zip(jax.tree_util.tree_leaves(expected), jax.tree_util.tree_leaves(opt_state)):
        if jnp.shape(a) != jnp.shape(b):
            raise ValueError(f"{name}: a leaf has shape {jnp.shape(b)}, expected {jnp.shape(a)}")


class TrainState(eqx.Module):
    """The state of a training scheme: x = (θ, ω), the two optimiser states, the step count,
    scheme-specific memory `extra` (OGDA's previous direction, an EMA, ...) and `stats`
    (a dict of counters, e.g. CGD's accumulated CG iterations)."""

    x: tuple[Any, Any]
    opt_state: tuple[Any, Any]
    step: jax.Array
    extra: Any
    stats: dict[str, jax.Array]


# ---------------------------------------------------------------------------------------------
# the interface


class AbstractScheme(eqx.Module):
    r"""A discrete training scheme for the field `b(x, *args)` (docs/conventions.md §Discrete
    schemes).

    Subclasses implement `_init_extra` and `_advance`; `init`/`step` handle optimiser states,
    data, projections (weight clipping of a `Stabilised` field) and input checks.
    """

    def __hash__(self) -> int:  # by value: its hyper-parameters are arrays
        return value_hash(self)

    def __eq__(self, other: object) -> bool:
        return value_eq(self, other)

    field: eqx.AbstractVar[Callable[..., Any]]
    optimizers: eqx.AbstractVar[tuple[Any, Any]]
    sampler: eqx.AbstractVar[Callable[[Any], Any] | None]

    # -- data -------------------------------------------------------------------------------
    def _args_stream(self, data: Any, num: int) -> list[tuple]:
        """`num` argument tuples for `num` field evaluations: independent batches drawn from
        the key `data` when the scheme has a sampler, else `data` itself each time."""
        if self.sampler is None:
            args = () if data is None else data
            if not isinstance(args, tuple):
                raise ValueError(
                    "without a sampler, step(state, data) takes `data` as the tuple of the field's "
                    "extra arguments (e.g. (batch,), or () for a population game)"
                )
            return [args] * num
        keys = jax.random.split(data, num)
        if field_needs_key(self.field):  # b(x, batch, key): WGAN-GP, sampled noise
            pairs = [jax.random.split(k) for k in keys]
            return [(self.sampler(p[0]), p[1]) for p in pairs]
        return [(self.sampler(keys[i]),) for i in range(num)]

    def _num_evals(self) -> int:
        return 1

    def _b(self, x: Any, args: tuple) -> Any:
        try:
            return self.field(x, *args)
        except TypeError as err:
            if args or self.sampler is not None or "positional argument" not in str(err):
                raise
            raise ValueError(
                "the field needs more arguments than b(x) (a minibatch field takes a batch), but "
                "this scheme has no sampler and was given no data: build the scheme with "
                "sampler=lambda key: game.sample(key, B), pass step(state, (batch,)), or use "
                "game.vector_field(population=True)"
            ) from err

    def _project(self, x: Any) -> Any:
        return field_project(self.field, x)

    def _player_hvp(self, x: Any, args: tuple, player: int) -> Callable[[Any], Any]:
        r"""v ↦ H v with H the Hessian of the player's descent loss: the diagonal block of −J
        (θ: $∇^2_{θθ} L_G$; ω: $-∇^2_{ωω} Φ_D$ for b0). Lazy: traced only when an optimiser
        (the Mounjid–Guo rate) asks for it."""

        def hvp(v):
            theta, omega = x
            if player == 0:
                fn = lambda t: self._b((t, omega), args)[0]  # noqa: E731
                return _neg(jax.jvp(fn, (theta,), (v,))[1])
            fn = lambda w: self._b((theta, w), args)[1]  # noqa: E731
            return _neg(jax.jvp(fn, (omega,), (v,))[1])

        return hvp

    def _updates(self, player: int, direction: Any, opt_state: Any, x: Any, args: tuple):
        """The optimiser's update of player `player` for the direction `direction` (the
        optimiser sees −direction, the gradient of the player's descent loss)."""
        return self.optimizers[player].update(
            _neg(direction), opt_state, x[player], hvp=self._player_hvp(x, args, player)
        )

    def _apply(self, player: int, direction: Any, opt_state: Any, x: Any, args: tuple):
        """Player `player` moves along `direction` through its optimiser."""
        updates, opt_state = self._updates(player, direction, opt_state, x, args)
        return optax.apply_updates(x[player], updates), opt_state

    # -- public ------------------------------------------------------------------------------
    def init(self, x0: State, opt_state: Any = None, data: Any = None) -> TrainState:
        """The state at x0. `opt_state` (optional, e.g. to resume) is checked against the
        optimisers: a wrong structure is a `ValueError` before anything compiles."""
        theta, omega = check_state(x0, "x0")
        x0 = (theta, omega)
        if opt_state is None:
            opt_state = (self.optimizers[0].init(theta), self.optimizers[1].init(omega))
        else:
            if not isinstance(opt_state, tuple) or len(opt_state) != 2:
                raise ValueError(
                    "opt_state must be a pair (generator's state, discriminator's state)"
                )
            _check_opt_state("opt_state[0] (generator)", self.optimizers[0], opt_state[0], theta)
            _check_opt_state(
                "opt_state[1] (discriminator)", self.optimizers[1], opt_state[1], omega
            )
        return TrainState(
            x=x0,
            opt_state=opt_state,
            step=jnp.zeros((), dtype=jnp.int32),
            extra=self._init_extra(x0),
            stats=self._init_stats(),
        )

    def step(self, state: TrainState, data: Any = None) -> TrainState:
        """One step. `data`: a PRNG key when the scheme has a sampler, else the tuple of the
        field's extra arguments (default `()`)."""
        if not isinstance(state, TrainState):
            raise ValueError(
                f"state must be a TrainState from scheme.init, got {type(state).__name__}"
            )
        _check_opt_state("state.opt_state[0]", self.optimizers[0], state.opt_state[0], state.x[0])
        _check_opt_state("state.opt_state[1]", self.optimizers[1], state.opt_state[1], state.x[1])
        if self.sampler is not None and data is None:
            raise ValueError("this scheme samples its batches: pass a PRNG key as `data`")
        args = self._args_stream(data, self._num_evals())
        x, opt_state, extra, stats = self._advance(state, args)
        # the state keeps its precision: a float64 hyper-parameter (e.g. a learning rate
        # traced by jax.grad) does not promote a float32 model or its optimiser's moments
        x, opt_state, extra = _keep_dtypes((x, opt_state, extra),
                                           (state.x, state.opt_state, state.extra))
        return TrainState(
            x=self._project(x), opt_state=opt_state, step=state.step + 1, extra=extra, stats=stats
        )

    def _init_extra(self, x0: Any) -> Any:
        return ()

    def _init_stats(self) -> dict[str, jax.Array]:
        return {}

    @abc.abstractmethod
    def _advance(self, state: TrainState, args: list[tuple]) -> tuple[Any, Any, Any, Any]:
        """(x, opt_state, extra, stats) after one step (before projection)."""


def _common(field: Any, optimizer: Any, sampler: Any):
    if isinstance(field, Objective):
        field = vector_field(field)
    if not callable(field):
        raise ValueError(f"field must be a vector field b(x, *args), got {type(field).__name__}")
    if sampler is not None and not callable(sampler):
        raise ValueError("sampler must be a callable key -> batch, or None")
    return field, _player_optimizers(optimizer), sampler


# ---------------------------------------------------------------------------------------------
# schemes


class SimultaneousGDA(AbstractScheme):
    r"""Simultaneous gradient descent–ascent (Cao–Guo eq. 7):
    $x_{k+1} = x_k + η\, b(x_k)$, i.e. $θ_{k+1} = θ_k - η g_θ$, $ω_{k+1} = ω_k + η g_ω$ for b0.
    Update operator $F' = I + ηJ$ (docs/conventions.md §Discrete schemes).

    ```python
    scheme = SimultaneousGDA(game.vector_field(population=True), optax.sgd(0.1))
    state = scheme.step(scheme.init(x0))
    ```
    """

    field: Callable[..., Any]
    optimizers: tuple[Any, Any]
    sampler: Callable[[Any], Any] | None

    def __init__(self, field: Field, optimizer: Any = 1e-2, sampler: Callable | None = None):
        self.field, self.optimizers, self.sampler = _common(field, optimizer, sampler)

    def _advance(self, state, args):
        (a,) = args
        b = self._b(state.x, a)
        th, s0 = self._apply(0, b[0], state.opt_state[0], state.x, a)
        om, s1 = self._apply(1, b[1], state.opt_state[1], state.x, a)
        return (th, om), (s0, s1), state.extra, state.stats


class AlternatingGDA(AbstractScheme):
    r"""Alternating gradient descent–ascent, discriminator first (Cao–Guo eq. 5;
    docs/conventions.md §Discrete schemes), with `n_d` discriminator steps then `n_g` generator
    steps per round (Mescheder 2018):

    $ω \leftarrow ω + η\, b_ω(θ, ω)$ ($n_d$ times), then $θ \leftarrow θ + η\, b_θ(θ, ω)$ ($n_g$
    times) with the updated ω. With a sampler every player step draws an independent batch
    (Cao–Guo eq. 6). On the Dirac-GAN the update operator has eigenvalues
    $1 - α^2/2 ± \sqrt{(1 - α^2/2)^2 - 1}$, $α = \sqrt{n_g n_d}\, h f'(0)$.
    """

    field: Callable[..., Any]
    optimizers: tuple[Any, Any]
    sampler: Callable[[Any], Any] | None
    n_d: int = eqx.field(static=True)
    n_g: int = eqx.field(static=True)
    independent_batches: bool = eqx.field(static=True)

    def __init__(
        self,
        field: Field,
        optimizer: Any = 1e-2,
        sampler: Callable | None = None,
        n_d: int = 1,
        n_g: int = 1,
        independent_batches: bool = True,
    ):
        self.n_d = check_int_at_least("n_d", n_d, 1)
        self.n_g = check_int_at_least("n_g", n_g, 1)
        self.independent_batches = bool(independent_batches)
        self.field, self.optimizers, self.sampler = _common(field, optimizer, sampler)

    def _num_evals(self):
        # independent_batches=False: one batch for the whole round (Cao–Guo eq. 5)
        return self.n_d + self.n_g if self.independent_batches else 1

    def _advance(self, state, args):
        if not self.independent_batches:
            args = list(args) * (self.n_d + self.n_g)
        (theta, omega), (s0, s1) = state.x, state.opt_state
        for a in args[: self.n_d]:
            x = (theta, omega)
            omega, s1 = self._apply(1, self._b(x, a)[1], s1, x, a)
        for a in args[self.n_d :]:
            x = (theta, omega)
            theta, s0 = self._apply(0, self._b(x, a)[0], s0, x, a)
        return (theta, omega), (s0, s1), state.extra, state.stats


class Extragradient(AbstractScheme):
    r"""Extragradient (Korpelevich): $x_{k+1/2} = x_k + η b(x_k)$,
    $x_{k+1} = x_k + η b(x_{k+1/2})$. With a general optimiser, the look-ahead uses the current
    optimiser state and discards its update of it; the real step keeps it (extra-Adam)."""

    field: Callable[..., Any]
    optimizers: tuple[Any, Any]
    sampler: Callable[[Any], Any] | None

    def __init__(self, field: Field, optimizer: Any = 1e-2, sampler: Callable | None = None):
        self.field, self.optimizers, self.sampler = _common(field, optimizer, sampler)

    def _num_evals(self):
        return 2

    def _advance(self, state, args):
        x, (s0, s1) = state.x, state.opt_state
        b = self._b(x, args[0])
        half = (self._apply(0, b[0], s0, x, args[0])[0], self._apply(1, b[1], s1, x, args[0])[0])
        bh = self._b(half, args[1])
        u0, s0 = self._updates(0, bh[0], s0, half, args[1])
        u1, s1 = self._updates(1, bh[1], s1, half, args[1])
        # the real step starts from x (not from the look-ahead point)
        x = (optax.apply_updates(x[0], u0), optax.apply_updates(x[1], u1))
        return x, (s0, s1), state.extra, state.stats


class OptimisticGDA(AbstractScheme):
    r"""Optimistic GDA (Daskalakis et al. 2018):
    $x_{k+1} = x_k + η\,(2 b(x_k) - b(x_{k-1}))$; the first step is plain GDA. The previous
    direction is kept in `state.extra`."""

    field: Callable[..., Any]
    optimizers: tuple[Any, Any]
    sampler: Callable[[Any], Any] | None

    def __init__(self, field: Field, optimizer: Any = 1e-2, sampler: Callable | None = None):
        self.field, self.optimizers, self.sampler = _common(field, optimizer, sampler)

    def _init_extra(self, x0):
        return _zeros_like(x0)

    def _advance(self, state, args):
        (a,) = args
        b = self._b(state.x, a)
        first = state.step == 0
        d = _tmap(lambda bk, bp: jnp.where(first, bk, 2.0 * bk - bp), b, state.extra)
        th, s0 = self._apply(0, d[0], state.opt_state[0], state.x, a)
        om, s1 = self._apply(1, d[1], state.opt_state[1], state.x, a)
        return (th, om), (s0, s1), b, state.stats


class CompetitiveGD(AbstractScheme):
    r"""Competitive gradient descent (Schäfer & Anandkumar 2019), written with the field.

    Their update $Δ = -η \begin{pmatrix} I & η D^2_{xy}f \\ η D^2_{yx}g & I\end{pmatrix}^{-1}
    \begin{pmatrix}∇_x f\\ ∇_y g\end{pmatrix}$ with f = L_G, g = −Φ_D is, in terms of
    b = (b_θ, b_ω) and the off-diagonal blocks $J_{θω} = ∂_ω b_θ$, $J_{ωθ} = ∂_θ b_ω$ of J,

    $$(I - η^2 J_{θω} J_{ωθ})\, Δθ = η\,(b_θ + η J_{θω} b_ω), \qquad Δω = η\,(b_ω + J_{ωθ} Δθ).$$

    For a zero-sum game $-J_{θω}J_{ωθ} = D^2_{xy}Φ\,(D^2_{xy}Φ)^\top$, so the matrix is
    $I + η^2 D^2_{xy}D^2_{yx}$, symmetric positive definite: solved matrix-free by conjugate
    gradients (lineax), each product two JVPs of one linearisation; otherwise by GMRES. The
    optimiser is applied to $Δ/η$ (so `optax.sgd(eta)`, the default, moves by Δ);
    `state.stats["cg_iterations"]` accumulates the solver's iterations.

    - `eta`: CGD's step η (required), an array leaf (differentiable; one compilation for any
      value); also the default optimiser's learning rate;
    - `optimizer`: default `None`, plain steps of size `eta`;
    - `rtol` (default 1e-10), `max_steps` (default 100): the linear solver's tolerance and
      iteration cap (static); `symmetric` (default: b0 of a zero-sum game) picks CG over GMRES.
    """

    field: Callable[..., Any]
    optimizers: tuple[Any, Any]
    sampler: Callable[[Any], Any] | None
    eta: Any
    rtol: float = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    symmetric: bool = eqx.field(static=True)

    def __init__(
        self,
        field: Field,
        eta: ScalarLike,
        optimizer: Any = None,
        sampler: Callable | None = None,
        rtol: float = 1e-10,
        max_steps: int = 100,
        symmetric: bool | None = None,
    ):
        self.eta = hyperparameter("eta", eta)
        self.field, self.optimizers, self.sampler = _common(
            field, eta if optimizer is None else optimizer, sampler
        )
        if symmetric is None:  # CG needs the plain b0 of a zero-sum game; otherwise GMRES
            symmetric = isinstance(self.field, GameField) and self.field.objective.zero_sum
        self.symmetric = bool(symmetric)
        self.rtol = float(check_positive("rtol", rtol))
        self.max_steps = check_int_at_least("max_steps", max_steps, 1)

    def _init_stats(self):
        return {"cg_iterations": jnp.zeros((), dtype=jnp.int32)}

    def direction(self, x: Any, *args: Any) -> tuple[Any, tuple[Any, Any]]:
        """(number of solver iterations, Δ/η)."""
        b, jmap = jax.linearize(lambda y: self._b(y, args), x)
        eta = self.eta
        theta, omega = x

        def j_thom(w):  # J_θω w
            return jmap((_zeros_like(theta), w))[0]

        def j_omth(v):  # J_ωθ v
            return jmap((v, _zeros_like(omega)))[1]

        def matvec(v):
            return _axpy(-(eta**2), j_thom(j_omth(v)), v)

        rhs = _scale(eta, _axpy(eta, j_thom(b[1]), b[0]))
        structure = jax.eval_shape(lambda: theta)
        if self.symmetric:
            op = lx.FunctionLinearOperator(
                matvec, structure, tags=(lx.symmetric_tag, lx.positive_semidefinite_tag)
            )
            solver = lx.CG(rtol=self.rtol, atol=self.rtol, max_steps=self.max_steps)
        else:
            op = lx.FunctionLinearOperator(matvec, structure)
            solver = lx.GMRES(rtol=self.rtol, atol=self.rtol, max_steps=self.max_steps)
        sol = lx.linear_solve(op, rhs, solver, throw=False)
        d_theta = sol.value
        d_omega = _scale(eta, _axpy(1.0, j_omth(d_theta), b[1]))
        iters = jnp.asarray(sol.stats["num_steps"], dtype=jnp.int32)
        return iters, (_scale(1.0 / eta, d_theta), _scale(1.0 / eta, d_omega))

    def _advance(self, state, args):
        (a,) = args
        iters, d = self.direction(state.x, *a)
        th, s0 = self._apply(0, d[0], state.opt_state[0], state.x, a)
        om, s1 = self._apply(1, d[1], state.opt_state[1], state.x, a)
        stats = {"cg_iterations": state.stats["cg_iterations"] + iters}
        return (th, om), (s0, s1), state.extra, stats


class Unrolled(AbstractScheme):
    r"""Unrolled GANs (Metz et al. 2016; survey §5.1.1). The generator descends the surrogate
    $L_G(θ, ω_k(θ, ω))$ where $ω_{j+1} = ω_j + α\, ∇_ω Φ_D(θ, ω_j)$, $ω_0 = ω$ (k SGD ascent
    steps of the discriminator, rate α = `unroll_lr`), differentiating through the k steps:
    $\frac{dL_G}{dθ} = ∂_θ L_G + ∂_{ω_k} L_G\, \frac{dω_k}{dθ}$. The discriminator moves along
    the ordinary field. Needs the `Objective`: `target` is an Objective, a Φ, or a stabilised
    field with an `.objective` (whose field then drives the discriminator). k = 0 is
    simultaneous GDA. Simultaneous update of both players.

    - `k` (default 1, static): the number of unrolled discriminator steps;
    - `unroll_lr` α (default: `optimizer` when that is a number): an array leaf
      (differentiable; one compilation for any value);
    - `optimizer` (default 1e-2): the players' optimiser or learning rate;
    - `second_order` (default True): differentiate the surrogate through the k steps. With
      `False` the generator's direction is the partial gradient $-∂_θ L_G(θ, ω_k)$ at the
      unrolled discriminator — the direction ignores how ω_k depends on θ — but the step is
      still a function of (θ, ω) through ω_k(θ, ω), and its derivative (`update_jacobian`,
      gradients through iterations) is the true derivative of that map. On bilinear θω with
      `optax.sgd(η)` the step is $θ' = (1 - ηkα)θ - ηω$, $ω' = ω + ηθ$.
    """

    field: Callable[..., Any]
    objective: Objective
    optimizers: tuple[Any, Any]
    sampler: Callable[[Any], Any] | None
    unroll_lr: Any
    k: int = eqx.field(static=True)
    second_order: bool = eqx.field(static=True)

    def __init__(
        self,
        target: Any,
        k: int = 1,
        unroll_lr: ScalarLike | None = None,
        optimizer: Any = 1e-2,
        sampler: Callable | None = None,
        second_order: bool = True,
    ):
        self.k = check_int_at_least("k", k, 0)
        self.second_order = bool(second_order)
        if isinstance(target, AbstractGame):
            raise ValueError(
                "Unrolled needs an Objective (e.g. game.objective()) or a stabilised field with "
                "an .objective, not a game"
            )
        if isinstance(target, Objective) or not hasattr(target, "objective"):
            objective = as_objective(target)
            field = vector_field(objective)
        else:
            objective, field = target.objective, target
        self.objective = objective
        self.field, self.optimizers, self.sampler = _common(field, optimizer, sampler)
        if unroll_lr is None:
            if isinstance(optimizer, bool) or not isinstance(optimizer, (int, float)):
                raise ValueError("Unrolled needs unroll_lr (the inner discriminator SGD rate)")
            unroll_lr = optimizer
        self.unroll_lr = hyperparameter("unroll_lr", unroll_lr)

    def unrolled_omega(self, theta: Any, omega: Any, *args: Any) -> Any:
        """ω_k(θ, ω): k ascent steps of the discriminator (differentiable in θ and ω)."""
        g = jax.grad(self.objective.discriminator_value, argnums=1)

        def body(w, _):
            return _axpy(self.unroll_lr, g(theta, w, *args), w), None

        return jax.lax.scan(body, omega, None, length=self.k)[0]

    def generator_direction(self, x: Any, *args: Any) -> Any:
        """$-\\frac{d}{dθ} L_G(θ, ω_k(θ, ω))$ (`second_order=True`), or the partial gradient
        $-∂_θ L_G(θ, ω_k)$ at the unrolled discriminator (`second_order=False`). Either way a
        differentiable function of (θ, ω): its derivatives are those of the map."""
        theta, omega = x

        if not self.second_order:
            # the partial gradient in θ's own slot: ω_k is held fixed *inside* this gradient
            # (no stop_gradient: the direction still depends on θ and ω through ω_k, and the
            # derivative of the step — update_jacobian, jax.grad through iterations — keeps it)
            omega_k = self.unrolled_omega(theta, omega, *args)
            return _neg(jax.grad(self.objective.generator_value)(theta, omega_k, *args))

        def surrogate(t):
            return self.objective.generator_value(t, self.unrolled_omega(t, omega, *args), *args)

        return _neg(jax.grad(surrogate)(theta))

    def _advance(self, state, args):
        (a,) = args
        d_theta = self.generator_direction(state.x, *a)
        d_omega = self._b(state.x, a)[1]
        th, s0 = self._apply(0, d_theta, state.opt_state[0], state.x, a)
        om, s1 = self._apply(1, d_omega, state.opt_state[1], state.x, a)
        return (th, om), (s0, s1), state.extra, state.stats


class RobbinsMonro(eqx.Module):
    r"""The schedule $η_t = η_0 / (1 + t)^p$ as a module: `eta0` and `power` are array leaves
    (differentiable; one compilation for any value). Build it with `robbins_monro`."""

    def __hash__(self) -> int:  # by value: its hyper-parameters are arrays
        return value_hash(self)

    def __eq__(self, other: object) -> bool:
        return value_eq(self, other)

    eta0: Any
    power: Any

    def __call__(self, t: Any) -> Any:
        return self.eta0 / (1.0 + t) ** self.power


def robbins_monro(eta0: Any, power: Any = 1.0) -> RobbinsMonro:
    r"""The schedule $η_t = η_0 / (1 + t)^p$. For $p ∈ (1/2, 1]$ it satisfies the Robbins–Monro
    conditions $\sum η_t = ∞$, $\sum η_t^2 < ∞$ of TTUR (survey §5.1.3); p = 0 is constant.

    - `eta0` (> 0): the initial rate; `power` p (default 1.0, in [0, 1]). Both are array
      leaves (differentiable; one compilation for any value); concrete values are checked.
    """
    eta0 = hyperparameter("eta0", eta0)
    power = hyperparameter("power", power, allow_zero=True)
    if not is_tracer(power) and float(np.max(np.asarray(power))) > 1.0:
        raise ValueError(f"power must be in [0, 1], got {power!r}")
    return RobbinsMonro(eta0, power)


class TTUR(AbstractScheme):
    r"""Two time-scale update rule (Heusel et al. 2018; survey §5.1.3):
    $θ_{k+1} = θ_k + a_k b_θ(x_k)$, $ω_{k+1} = ω_k + b_k b_ω(x_k)$ with separate rates and
    Robbins–Monro schedules $a_k = η_θ/(1+k)^{p_θ}$, $b_k = η_ω/(1+k)^{p_ω}$ (SGD per player).
    Other per-player optimisers: `SimultaneousGDA(field, (opt_theta, opt_omega))`.

    `eta_theta`, `eta_omega` (> 0) and `power_theta`, `power_omega` (default 0.0, in [0, 1])
    are array leaves of the schedules (`robbins_monro`): differentiable, one compilation for
    any value.
    """

    field: Callable[..., Any]
    optimizers: tuple[Any, Any]
    sampler: Callable[[Any], Any] | None

    def __init__(self, field, eta_theta, eta_omega, power_theta=0.0, power_omega=0.0, sampler=None):
        opts = (
            optimizer(optax.sgd, robbins_monro(eta_theta, power_theta)),
            optimizer(optax.sgd, robbins_monro(eta_omega, power_omega)),
        )
        self.field, self.optimizers, self.sampler = _common(field, opts, sampler)

    def _advance(self, state, args):
        return SimultaneousGDA._advance(self, state, args)  # type: ignore[arg-type]


class EMA(AbstractScheme):
    r"""Exponential moving average of the generator around any scheme:
    $\bar θ_{k+1} = β \bar θ_k + (1 - β) θ_{k+1}$, $\bar θ_0 = θ_0$ (Yazıcı et al. 2019).
    The dynamics are those of `scheme`; `average(state)` is $\bar θ$.

    `decay` β (default 0.999, in (0, 1)): an array leaf (differentiable; one compilation for
    any value)."""

    scheme: AbstractScheme
    decay: Any

    def __init__(self, scheme: AbstractScheme, decay: Any = 0.999):
        if not isinstance(scheme, AbstractScheme):
            raise ValueError(f"scheme must be a training scheme, got {type(scheme).__name__}")
        self.scheme = scheme
        self.decay = hyperparameter("decay", decay, below=1.0)

    @property
    def field(self):
        return self.scheme.field

    @property
    def optimizers(self):
        return self.scheme.optimizers

    @property
    def sampler(self):
        return self.scheme.sampler

    def _num_evals(self):
        return self.scheme._num_evals()

    def _init_extra(self, x0):
        return (self.scheme._init_extra(x0), x0[0])

    def _init_stats(self):
        return self.scheme._init_stats()

    def _project(self, x):
        return self.scheme._project(x)

    def _advance(self, state, args):
        inner_extra, avg = state.extra
        inner = TrainState(state.x, state.opt_state, state.step, inner_extra, state.stats)
        x, opt_state, extra, stats = self.scheme._advance(inner, args)
        x = self.scheme._project(x)
        avg = _tmap(lambda a, t: self.decay * a + (1.0 - self.decay) * t, avg, x[0])
        return x, opt_state, (extra, avg), stats

    def average(self, state: TrainState) -> Any:
        """The averaged generator $\\bar θ$."""
        return state.extra[1]


SCHEMES: dict[str, type] = {
    "simultaneous": SimultaneousGDA,
    "alternating": AlternatingGDA,
    "extragradient": Extragradient,
    "optimistic": OptimisticGDA,
    "cgd": CompetitiveGD,
    "unrolled": Unrolled,
    "ttur": TTUR,
}
"""The training schemes by name, as `make_scheme(name, ...)` builds them (name → scheme class)."""


def make_scheme(name: str, target: Any, optimizer: Any = None, *,
                stabilisers: tuple = (), sampler: Callable | None = None,
                population: bool = False, **kwargs: Any) -> AbstractScheme:
    r"""The one scheme factory: a training scheme by name, on a game, an objective or a field,
    with its stabilisers, optimiser and minibatch sampler.

    - `name`: `"simultaneous"`, `"alternating"`, `"extragradient"`, `"optimistic"`, `"cgd"`,
      `"unrolled"` or `"ttur"` (`SCHEMES`);
    - `target`: a game (`ganflow.games.AbstractGame`), an `Objective`, a zero-sum Φ or a field
      b(x[, batch]); with `stabilisers` it must be a game, an `Objective` or a Φ, and the
      scheme follows `ganflow.stabilisers.stabilise(target, *stabilisers)` (e.g.
      `(NagarajanKolter(0.5),)`, `(Consensus(10.0),)`); a game without stabilisers plays its
      b0 (`game.vector_field()`), and the unrolled scheme its objective (`game.objective()`);
    - `optimizer`: an optax transformation (or a learning rate; see each scheme) for both
      players, or a pair (generator, discriminator); for `"cgd"` the step η (CGD's own
      update); omitted for `"ttur"`, whose rates are `kwargs`;
    - `sampler`: `key → batch`, called once per player step (e.g.
      `lambda k: game.sample(k, 64)`);
    - `population`: play the game's exact population objective (`game.vector_field(
      population=True)`, with the stabilisers: `stabilise(..., population=True)`) instead of
      the minibatch one — for games that offer it (Dirac-GAN, LQ-Gaussian, bilinear, NK-2D);
    - `kwargs`: the scheme's own options (`n_d`, `k`, `unroll_lr`, `eta_theta`, …).

    ```python
    make_scheme("alternating", game, optax.adam(1e-3), stabilisers=(st.NagarajanKolter(0.5),),
                sampler=lambda k: game.sample(k, 64))
    ```
    """
    from ..stabilisers import stabilise

    check_choice("scheme", name, tuple(SCHEMES))
    if stabilisers:
        target = stabilise(target, *tuple(stabilisers), population=population)
    elif isinstance(target, AbstractGame):
        target = (target.objective(population=population) if name == "unrolled"
                  else target.vector_field(population=population))
    elif population:
        raise ValueError("make_scheme(population=True) needs a game (it plays "
                         "game.vector_field(population=True))")
    cls = SCHEMES[name]
    if name == "ttur":
        if optimizer is not None:
            raise ValueError("make_scheme('ttur', ...) takes its rates as keyword arguments "
                             "(eta_theta, eta_omega, power_theta, power_omega), not optimizer")
        return cls(target, sampler=sampler, **kwargs)
    if name == "cgd":
        if optimizer is None:
            raise ValueError("make_scheme('cgd', ...) needs the step eta as `optimizer`")
        return cls(target, optimizer, sampler=sampler, **kwargs)
    if optimizer is not None:
        kwargs["optimizer"] = optimizer
    return cls(target, sampler=sampler, **kwargs)
