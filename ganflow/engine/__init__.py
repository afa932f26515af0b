r"""The ensemble engine: seeds × hyper-parameters in one compiled call on any backend,
resumable after a kill, results as labelled data (`xarray` over a `zarr` store).

Every ensemble in ganflow (`ganflow.training.run` and `sgda_ensemble`,
`ganflow.continuous.sde_ensemble`, the convergence atlas, the experiments of the `ganflow`
command) runs through `run_ensemble`. Write your own member as an `AbstractProblem` to use it
directly:

```python
class Walk(ganflow.engine.AbstractProblem):
    def init(self, key, params, inputs=None): return jnp.zeros(())
    def step(self, x, key, t, params): return x + params["sigma"] * jax.random.normal(key)
    def observe(self, x, params): return {"x": x}

res = ganflow.engine.run_ensemble(Walk(), Sweep(seeds=64, axes={"sigma": [0.1, 1.0]}), 100,
                                  save_every=10, folder=RunFolder("runs/walk"))
xarray.open_zarr("runs/walk/results.zarr")   # dims (seed, sigma, step)
```

The results are labelled data: `res.dataset` (an `xarray.Dataset`, the store itself with a
folder) has the dims seed, each axis of the sweep (or `case`) and step, with their coordinates.
A pytree observation is one variable per leaf, named by its path (`theta.W1`, `omega.b2`;
`leaf_names`), and `run_ensemble(..., observables={"name": fn(state, step)})` records the
user's own quantities at the save points, computed inside the compiled scan.

Where results go and how an existing run there is treated is a `RunFolder` (path, group,
resume, overwrite, checkpoint interval); how the computation is laid out is an `Execution`
(progress bar, seeds per chunk, sharding, save points per compiled call, unrolling). Every front
door (`training.run`, `training.run_grid`, `training.sgda_ensemble`,
`continuous.sde_ensemble`) takes the same two objects. The engine imports no other part of
ganflow.
"""

from ._checkpoint import Checkpointer as Checkpointer, atomic_write_bytes as atomic_write_bytes
from ._engine import (
    EnsembleResult as EnsembleResult,
    default_chunk as default_chunk,
    problem_fingerprint as problem_fingerprint,
    run_ensemble as run_ensemble,
)
from ._names import (
    StateError as StateError,
    describe_tree as describe_tree,
    leaf_names as leaf_names,
    state_error as state_error,
)
from ._options import (
    Execution as Execution,
    RunFolder as RunFolder,
    front_door_execution as front_door_execution,
)
from ._outcome import RESULTS as RESULTS
from ._problem import AbstractProblem as AbstractProblem
from ._sharding import (
    pad_seeds as pad_seeds,
    seed_mesh as seed_mesh,
    shard_seeds as shard_seeds,
)
from ._sweep import Axis as Axis, Sweep as Sweep, seed_keys as seed_keys
