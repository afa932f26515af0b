r"""A training scheme's iteration as a pure, differentiable function of its inputs.

`iterate(scheme, x0, N)` runs `scheme.step` N times from `scheme.init(x0)` inside `lax.scan`
and returns the final state. It is the function to give `jax.grad`, `jax.jvp` or `jax.vmap`:
its derivative with respect to the initial state and to every array inside the scheme (a
learning rate η given to `optax.sgd`, a stabiliser's γ or λ, an unroll rate, an EMA decay, the
game's own parameters) is the derivative of the iterates, $dx_N/dη$, computed by reverse mode
through the steps.

**Memory by checkpointing.** Reverse mode through a plain scan keeps the residuals of every
step: memory O(N) states. With `checkpoint="sqrt"` (the default) the N steps run as ⌊N/B⌋
blocks of B = ⌈√N⌉ steps (and a remainder of N mod B steps), each block under `jax.checkpoint`
inside an outer `lax.scan`: the forward pass keeps only the state at the start of each block,
and the backward pass re-runs one block at a time, keeping that block's residuals. Peak memory
is about N/B + 2B ≈ 3√N states' worth of residuals, and the compute of a gradient is about two
forward passes (the forward run, and every block re-run once in the backward pass) plus one
backward pass — against one forward plus one backward pass and O(N) memory without
checkpointing (`checkpoint="none"`). An integer `checkpoint=B` chooses the block length. The
numbers are the same either way (the same operations in the same order).
"""

import math
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Int, PRNGKeyArray

from .._checks import check_int_at_least, check_state
from ._schemes import AbstractScheme, TrainState

_tmap = jax.tree_util.tree_map


class IterateSolution(eqx.Module):
    r"""The result of `iterate`.

    - `state`: the final `TrainState` (x, the optimiser states, the scheme's memory, the step
      count, stats);
    - `x`: the final iterate $x_N$ = `state.x`;
    - `ts` (T,): the step counts of the saved states (`None` without `save_every`);
    - `xs`: the saved iterates $x_0, x_s, x_{2s}, …, x_N$ (s = `save_every`), leaves with a
      leading axis T (`None` without `save_every`).
    """

    state: TrainState
    ts: Int[Array, " T"] | None = None
    xs: Any = None

    @property
    def x(self) -> Any:
        return self.state.x


def _block_length(checkpoint: Any, n: int) -> int | None:
    """Steps per checkpointed block for a run of n steps; None: no checkpointing."""
    if checkpoint == "none":
        return None
    if checkpoint == "sqrt":
        return max(1, math.ceil(math.sqrt(n)))
    return int(checkpoint)


def _check_checkpoint(checkpoint: Any) -> Any:
    if isinstance(checkpoint, str):
        if checkpoint not in ("sqrt", "none"):
            raise ValueError(
                f"checkpoint must be 'sqrt', 'none' or a block length (an int >= 1), "
                f"got {checkpoint!r}"
            )
        return checkpoint
    return check_int_at_least("checkpoint (a block length)", checkpoint, 1)


def _scan_steps(step: Any, state: Any, n: int) -> Any:
    return jax.lax.scan(lambda c, _: (step(c), None), state, None, length=n)[0]


def _steps(step: Any, state: Any, n: int, block: int | None) -> Any:
    """n steps of `step`: one scan (block None, or block ≥ n), else ⌊n/block⌋ blocks of `block`
    steps each recomputed in the backward pass (`jax.checkpoint`), then the remainder."""
    if n == 0:
        return state
    if block is None or block >= n:
        return _scan_steps(step, state, n)
    num_blocks, rest = divmod(n, block)
    run_block = jax.checkpoint(lambda s: _scan_steps(step, s, block), prevent_cse=False)
    state = jax.lax.scan(lambda c, _: (run_block(c), None), state, None, length=num_blocks)[0]
    return _scan_steps(step, state, rest) if rest else state


@eqx.filter_jit
def _iterate(scheme, state, data, key, num_steps, checkpoint, save_every):
    if scheme.sampler is None:
        def step(s):
            return scheme.step(s, data)
    else:
        def step(s):  # step t draws its batches from fold_in(key, t), as training.run does
            return scheme.step(s, jax.random.fold_in(key, s.step))

    if save_every is None:
        return IterateSolution(_steps(step, state, num_steps, _block_length(checkpoint,
                                                                           num_steps)))
    block = _block_length(checkpoint, save_every)

    def segment(s):
        return _steps(step, s, save_every, block)

    if block is not None:  # the outer scan keeps only each segment's start
        segment = jax.checkpoint(segment, prevent_cse=False)

    def body(s, _):
        s = segment(s)
        return s, s.x

    x0 = state.x
    final, xs = jax.lax.scan(body, state, None, length=num_steps // save_every)
    xs = _tmap(lambda a, b: jnp.concatenate([a[None], b]), x0, xs)
    ts = state.step + jnp.arange(0, num_steps + 1, save_every, dtype=state.step.dtype)
    return IterateSolution(final, ts, xs)


def iterate(
    scheme: AbstractScheme,
    x0: Any,
    num_steps: int,
    *,
    data: tuple = (),
    key: PRNGKeyArray | None = None,
    checkpoint: Literal["sqrt", "none"] | int = "sqrt",
    save_every: int | None = None,
) -> IterateSolution:
    r"""`num_steps` steps of `scheme` from `x0` as one differentiable function: the iterates
    $x_{k+1} = F(x_k)$ of the scheme's update map F (any scheme of `ganflow.training`: GDA
    simultaneous or alternating, extragradient, OGDA, CGD, unrolled, TTUR, EMA, with any
    stabilised field and any optax optimiser), for `jax.grad`/`jax.jvp`/`jax.vmap`.

    **Arguments:**

    - `scheme`: a training scheme (`make_scheme(...)`). To differentiate with respect to a
      hyper-parameter, build the scheme from it inside the differentiated function (e.g.
      `make_scheme("simultaneous", game, optax.sgd(eta))`), or differentiate with respect to
      the scheme's array leaves (`eqx.filter_grad`);
    - `x0`: the initial state (θ, ω), or a `TrainState` (e.g. a previous `iterate`'s `state`,
      to continue: the step count carries on);
    - `num_steps`: N ≥ 0;
    - `data`: the field's extra arguments for a scheme without a sampler (default `()`, a
      population game), the same at every step;
    - `key`: a typed PRNG key, required when the scheme samples its batches: step t uses
      `fold_in(key, t)` (the convention of `training.run`, so the final state equals that of
      `run` with `keys=key[None]`). With a fixed key the gradient is the pathwise one;
    - `checkpoint`: `"sqrt"` (default: blocks of ⌈√N⌉ steps recomputed in the backward pass,
      memory O(√N) states, compute ≈ 2 forward passes + 1 backward), `"none"` (memory O(N),
      1 forward + 1 backward) or a block length (int); see the module doc. It changes no value;
    - `save_every`: keep $x_0, x_s, …, x_N$ every s = `save_every` steps (s must divide N;
      default: only the final state). The saves are the outer loop, each segment of s steps is
      checkpointed as above: memory O(N/s + √s) states.

    **Returns:** an `IterateSolution` (`.x`, `.state`, and `.ts`, `.xs` with `save_every`).

    ```python
    game = gf.games.DiracGAN("wgan")
    def final_theta(eta):
        scheme = make_scheme("simultaneous", game, optax.sgd(eta), population=True)
        return iterate(scheme, game.make_state(1.0, 0.5), 100).x[0].theta
    jax.grad(final_theta)(0.1)    # dθ_100/dη
    ```
    """
    if not isinstance(scheme, AbstractScheme):
        raise ValueError(f"scheme must be a ganflow training scheme, got {type(scheme).__name__}")
    num_steps = check_int_at_least("num_steps", num_steps, 0)
    checkpoint = _check_checkpoint(checkpoint)
    if save_every is not None:
        save_every = check_int_at_least("save_every", save_every, 1)
        if num_steps % save_every:
            raise ValueError(f"save_every={save_every} must divide num_steps={num_steps}")
    if scheme.sampler is None:
        if key is not None:
            raise ValueError("this scheme has no sampler: pass its batches as `data`, not a key")
        if not isinstance(data, tuple):
            raise ValueError("data must be the tuple of the field's extra arguments, e.g. "
                             "(batch,), or () for a population game")
    else:
        if data != ():
            raise ValueError("this scheme samples its batches from `key`: pass no `data`")
        if not (hasattr(key, "dtype") and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
                and jnp.ndim(key) == 0):
            raise ValueError("this scheme samples its batches: pass one typed PRNG key, "
                             "e.g. key=jax.random.key(0)")
    if isinstance(x0, TrainState):
        state = x0
    else:
        state = scheme.init(tuple(check_state(x0, "x0")))
    return _iterate(scheme, state, data, key, num_steps, checkpoint, save_every)
