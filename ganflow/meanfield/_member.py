r"""`MeanFieldGAN` as an ensemble member whose engine step is one unit of time t = k/n, and the
memory one member needs (Wang–Hu–Lu 2019; survey §5.3.1)."""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..engine import AbstractProblem
from ._model import PARAM_NAMES, MeanFieldGAN


class MeanFieldTime(AbstractProblem):
    r"""`MeanFieldGAN` with one engine step per unit of time t = k/n: engine step t runs the
    microscopic steps k = t·n, …, t·n + n − 1, step k drawing its sample from
    `fold_in(seed_key, k)` — exactly `ganflow.meanfield.simulate`'s paths, whatever the save
    points, chunks or checkpoints. Vectorised over the members of a chunk (the engine passes
    the seed keys), so every result has a `step` axis in units of t and runs of different n
    share one sweep (n a static axis).

    Hyper-parameters (`params`): those of `MeanFieldGAN` (`tau_g`, `tau_d`, `eta_t`,
    `eta_g`), and `tau` (τ_G = τ·model.tau_g, τ_D = τ·model.tau_d) or `eta`
    (η_T = η_G = η), the axes of `ganflow.meanfield.phase_diagram`; `n` (the static size axis,
    already in the model) is ignored.

    Memory per member: the state X = [U, V, w], n(2d + 1) numbers, plus O(n) temporaries
    (`member_memory`).

    ```python
    model = MeanFieldGAN(n=500, strengths=[1.0, 0.7], tau_g=0.5, tau_d=1.0)
    res = run_ensemble(MeanFieldTime(model), Sweep(seeds=4, axes={"eta": [0.4, 0.8]}), 100,
                       save_every=1)   # res.observations["M"]: (4, 2, 101, 5, 5)
    ```
    """

    model: MeanFieldGAN
    vectorised = True

    def _hyper(self, params: dict[str, Any], members: int) -> dict[str, jax.Array]:
        h: dict[str, Any] = {}
        for k, v in params.items():
            if k == "n":
                continue
            if k == "tau":
                h["tau_g"], h["tau_d"] = v * self.model.tau_g, v * self.model.tau_d
            elif k == "eta":
                h["eta_t"] = h["eta_g"] = v
            elif k in PARAM_NAMES:
                h[k] = v
            else:
                raise ValueError(f"unknown hyper-parameter {k!r}; MeanFieldTime reads "
                                 f"{PARAM_NAMES + ('tau', 'eta', 'n')}")
        full = self.model.hyper(h)
        return {k: jnp.broadcast_to(v, (members,)) for k, v in full.items()}

    def init(self, key, params, inputs=None):
        h = self._hyper(params, key.shape[0])
        return jax.vmap(self.model.init)(key, h)

    def step(self, state, key, t, params):
        n = self.model.n
        h = self._hyper(params, key.shape[0])
        k0 = jnp.asarray(t, jnp.int32) * n

        def micro(k, s, seed_key, hh):
            return self.model.step(s, jax.random.fold_in(seed_key, k), k, hh)

        def body(i, s):
            k = (k0 + i).astype(jnp.int32)
            return jax.vmap(micro, in_axes=(None, 0, 0, 0))(k, s, key, h)

        return jax.lax.fori_loop(0, n, body, state)

    def observe(self, state, params):
        return jax.vmap(lambda s: self.model.observe(s))(state)


def member_memory(model: MeanFieldGAN) -> dict[str, int]:
    r"""Bytes one member of `MeanFieldTime(model)` needs for one unit of time (n microscopic
    steps, compiled as one `fori_loop`): `state` = n(2d + 1) numbers of the simulation's dtype,
    and `temp`, XLA's temporary buffers of the compiled step (`memory_analysis`; the normals of
    a step and the new V, w; −1 where the backend does not report them), both O(n·d). Lowered
    from shapes only: nothing of size n is allocated."""
    one = MeanFieldTime(model)
    key = jax.ShapeDtypeStruct((1,), jax.random.key(0).dtype)
    state = jax.eval_shape(lambda k: one.init(k, {}), jax.random.split(jax.random.key(0), 1))
    compiled = jax.jit(lambda s, k: one.step(s, k, jnp.int32(0), {})).lower(
        state, key).compile()
    mem = compiled.memory_analysis()
    nbytes = sum(int(np.prod(a.shape)) * a.dtype.itemsize for a in jax.tree_util.tree_leaves(state))
    return {"state": nbytes, "temp": int(getattr(mem, "temp_size_in_bytes", -1))}
