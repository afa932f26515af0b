r"""The discrete stochastic schemes that the Cao–Guo SDEs approximate (Cao–Guo §2), as
ensembles over seeds (`sgda_ensemble`) that return the SDEs' solution type
(`ganflow.continuous.SDESolution`).

With $b^{\mathcal B}(x) = (-g_θ^{\mathcal B}, g_ω^{\mathcal B})$ the field b0 on a minibatch
$\mathcal B$ of B examples (Cao–Guo eq. 4):

- `scheme="simultaneous"` (eq. 7): $x_{k+1} = x_k + η\, b^{\mathcal B_k}(x_k)$;
- `scheme="alternating"` (eq. 6), discriminator first, independent batches
  $\bar{\mathcal B}_k, \mathcal B_k$ for the two players:
  $ω_{k+1} = ω_k + η\, b^{\mathcal B_k}_ω(θ_k, ω_k)$,
  $θ_{k+1} = θ_k + η\, b^{\bar{\mathcal B}_k}_θ(θ_k, ω_{k+1})$
  (`independent_batches=False` uses one batch for both: eq. 5).

Plain SGD steps of size η for both players, exactly as in the paper: the ensemble runs
`ganflow.training.SimultaneousGDA` / `AlternatingGDA` with `optax.sgd(η)` — the one
implementation of each scheme — through `ganflow.training.run` and the engine. The signs come
from b0 only.
Step k sits at time $kη$ (η is the time between updates, Cao–Guo §2). Minibatches are drawn
i.i.d. with replacement from a finite data set $\mathcal D$ (`data`), as in Cao–Guo §2, or
from the game's sampler; `batch_size=None` is the full-batch (deterministic) scheme.
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._checks import (
    check_choice,
    check_int_at_least,
    check_keys,
    check_positive,
    check_seed_x0,
    check_state,
)
from ..continuous import SDESolution, batch_mean_objective
from ..dynamics import as_objective, vector_field
from ..engine import RESULTS, Execution, RunFolder
from ._optimizers import optimizer
from ._run import run
from ._schemes import AlternatingGDA, SimultaneousGDA

_tmap = jax.tree_util.tree_map


class MinibatchDraw(eqx.Module):
    r"""Draws one minibatch (Cao–Guo §2): `batch_size` indices B drawn uniformly with
    replacement from the finite data set `data` (leading example axis), or `game.sample(key, B)`
    when `data` is None; `batch_size=None` is the full batch (`data` itself, or None for a
    population game). Called as `draw(key)`."""

    data: Any
    game: Any
    batch_size: int | None = eqx.field(static=True)

    def __call__(self, key):
        if self.data is not None:
            if self.batch_size is None:
                return self.data
            n = jnp.shape(jax.tree_util.tree_leaves(self.data)[0])[0]
            idx = jax.random.randint(key, (self.batch_size,), 0, n)
            return _tmap(lambda a: a[idx], self.data)
        if self.batch_size is None:
            return None
        return self.game.sample(key, self.batch_size)


def sgda_ensemble(
    game: Any,
    x0: Any,
    eta: float,
    batch_size: int | None,
    num_steps: int,
    keys: Any,
    *,
    scheme: str = "simultaneous",
    data: Any = None,
    field: Callable[..., Any] | None = None,
    independent_batches: bool = True,
    save_every: int | None = None,
    batched_x0: bool = False,
    throw: bool = False,
    folder: RunFolder | None = None,
    execution: Execution | None = None,
) -> SDESolution:
    r"""Minibatch stochastic gradient descent–ascent (Cao–Guo eqs. 5–7), one run per key.

    - `game`: an `AbstractGame`, or a per-example objective `(θ, ω, example) ↦ value` (then
      `data` is required);
    - `eta`: the learning rate η (both players); `batch_size`: B, or `None` for full batch;
    - `data`: a finite data set $\mathcal D$ (leading example axis n): batches are B indices
      drawn uniformly with replacement; without it, `game.sample(key, B)` (full batch then
      means the game's exact population field);
    - `field`: the minibatch field `b(x, batch)` to follow (default b0 of the batch-mean
      objective; pass a stabilised minibatch field to train with it);
    - `scheme`: `"simultaneous"` (eq. 7) or `"alternating"` (eq. 6; eq. 5 with
      `independent_batches=False`);
    - `save_every`: save every this many steps (must divide `num_steps`; default: first and
      last).

    Returns an `SDESolution` with `ts = η · step` and leaves (seeds, T, ...); a seed whose
    state becomes non-finite is frozen and reported as `diverged` in `status`. Seed s depends
    on `keys[s]` only (step k draws its batches from `fold_in(keys[s], k)`). `folder` (a
    `ganflow.engine.RunFolder`) and `execution` (a `ganflow.engine.Execution`) go to the engine
    unchanged (see `ganflow.training.run`).
    """
    eta = check_positive("eta", eta)
    num_steps = check_int_at_least("num_steps", num_steps, 1)
    check_choice("scheme", scheme, ("simultaneous", "alternating"))
    if save_every is None:
        save_every = num_steps
    save_every = check_int_at_least("save_every", save_every, 1)
    if num_steps % save_every:
        raise ValueError(f"save_every={save_every} must divide num_steps={num_steps}")
    if batch_size is not None:
        batch_size = check_int_at_least("batch_size B", batch_size, 1)
    keys = check_keys(keys)
    num = keys.shape[0]
    check_seed_x0(x0, num, batched_x0)
    check_state(_tmap(lambda a: a[0], x0) if batched_x0 else x0, "x0")
    is_game = hasattr(game, "example_objective") and hasattr(game, "sample")

    if data is not None:
        leaves = jax.tree_util.tree_leaves(data)
        if not leaves or any(jnp.ndim(a) == 0 for a in leaves):
            raise ValueError("data must be a pytree of arrays with a leading example axis")
        draw = MinibatchDraw(data, None, batch_size)
    elif is_game:
        if batch_size is None:
            if game.population() is None:
                raise ValueError(
                    "full batch (batch_size=None) without data needs a population game"
                )
            if field is not None:
                raise ValueError("a custom field with batch_size=None needs data")
            field = game.vector_field(population=True)  # b(x): no batch argument
        draw = MinibatchDraw(None, game, batch_size)
    else:
        raise ValueError("pass data (a batch of examples) or a game with a sampler")

    if field is None:
        example = game.example_objective if is_game else as_objective(game)
        field = vector_field(batch_mean_objective(example))
    if not callable(field):
        raise ValueError("field must be a minibatch vector field b(x, batch)")

    dtype = jnp.result_type(*jax.tree_util.tree_leaves(x0))
    sampler = None if draw.data is None and draw.batch_size is None else draw
    opt = optimizer(optax.sgd, eta)  # η an array leaf: one compilation for every η
    if scheme == "simultaneous":
        sch = SimultaneousGDA(field, opt, sampler)
    else:
        sch = AlternatingGDA(field, opt, sampler, independent_batches=independent_batches)
    x0s = x0 if batched_x0 else _tmap(
        lambda a: jnp.broadcast_to(jnp.asarray(a), (num,) + jnp.shape(a)), x0)
    sol = run(sch, tuple(x0s), num_steps, keys=keys, save_every=save_every, blowup=np.inf,
              folder=folder, execution=execution)
    ts = jnp.asarray(eta, dtype) * save_every * jnp.arange(num_steps // save_every + 1,
                                                           dtype=dtype)
    dstep = np.asarray(sol.diverged_step)
    t_bad = jnp.asarray(np.where(dstep >= 0, dstep * float(eta), np.inf), dtype)
    status = jnp.where(sol.status == RESULTS.diverged, RESULTS.diverged, RESULTS.successful)
    if throw and bool(np.any(np.asarray(status) != RESULTS.successful)):
        raise RuntimeError("an ensemble member failed (status != successful): "
                           f"{RESULTS.summary(status)}")
    return SDESolution(ts, sol.xs, status, t_bad, None, f"sgda-{scheme}", sol.dataset)
