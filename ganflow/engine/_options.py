r"""The two option objects of `run_ensemble`: where a run's results go (`RunFolder`) and how its
computation is laid out (`Execution`).

In the manner of diffrax's `SaveAt` and `adjoint` objects, each groups the options of one
concern, validates them once when it is built, and passes unchanged through every front door
(`ganflow.training.run`, `run_grid`, `sgda_ensemble`, `ganflow.continuous.sde_ensemble`):

```python
from ganflow.engine import Execution, RunFolder

folder = RunFolder("runs/noisy-gda", resume=True, checkpoint_every=100)
res = run_ensemble(problem, sweep, 400, save_every=40, folder=folder,
                   execution=Execution(chunk=8, progress=True))
```

Neither changes a number of the results: a run gives bitwise the same values with or without a
folder, chunked or not, sharded or not, in one segment or many, and resumed or not.
"""

import dataclasses
import os
import re
from pathlib import Path

from .._checks import check_int_at_least, check_positive


def _check_bool(name: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, bool):
        allowed = "True, False or None" if optional else "True or False"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


@dataclasses.dataclass(frozen=True)
class RunFolder:
    r"""Where an ensemble's results stream and its checkpoints go, and how an existing run
    there is treated.

    - `path`: a directory. Results stream to `path/results.zarr` (readable with
      `xarray.open_zarr` during the run and after a crash), checkpoints go to
      `path/checkpoints/`;
    - `group`: write to the zarr group `path/results.zarr/<group>` (checkpoints in
      `path/checkpoints/<group>`), so that one folder holds several sweeps of an experiment;
      read it with `xarray.open_zarr(path/results.zarr/<group>)`;
    - `resume`: continue the run already in the folder from its newest valid checkpoint (the
      result is bitwise equal to an uninterrupted run); refused when its config, sweep, step
      budget, problem or ganflow version (major.minor) differ. A finished run is returned as
      it is;
    - `overwrite`: replace a run already in the folder. Without `resume` or `overwrite`, a
      folder that already holds results is refused;
    - `checkpoint_every`: steps between checkpoints (a multiple of `save_every`; it is also the
      segment length); `checkpoint_seconds`: also checkpoint at the first segment boundary after
      this many seconds. With neither, every segment ends with a checkpoint.
    """

    path: str | os.PathLike
    group: str | None = None
    resume: bool = False
    overwrite: bool = False
    checkpoint_every: int | None = None
    checkpoint_seconds: float | None = None

    def __post_init__(self):
        if not isinstance(self.path, (str, os.PathLike)) or str(self.path) == "":
            raise ValueError(f"RunFolder path must be a directory name, got {self.path!r}")
        if self.group is not None and not (
            isinstance(self.group, str) and re.fullmatch(r"[A-Za-z0-9_.-]+", self.group)
        ):
            raise ValueError(f"group must be a simple name, got {self.group!r}")
        _check_bool("resume", self.resume)
        _check_bool("overwrite", self.overwrite)
        if self.resume and self.overwrite:
            raise ValueError("resume=True and overwrite=True exclude each other: continue the run "
                             "in the folder, or replace it")
        if self.checkpoint_every is not None:
            check_int_at_least("checkpoint_every", self.checkpoint_every, 1)
        if self.checkpoint_seconds is not None:
            check_positive("checkpoint_seconds", self.checkpoint_seconds)

    @property
    def store(self) -> Path:
        """The results store: `path/results.zarr[/group]`."""
        store = Path(self.path) / "results.zarr"
        return store if self.group is None else store / self.group

    @property
    def checkpoints(self) -> Path:
        """The checkpoint directory: `path/checkpoints[/group]`."""
        ckpt = Path(self.path) / "checkpoints"
        return ckpt if self.group is None else ckpt / self.group


@dataclasses.dataclass(frozen=True)
class Execution:
    r"""How an ensemble's computation is laid out — nothing about its results.

    - `progress`: a tqdm bar (steps/s, ETA, members diverged so far); None: only on a terminal
      for `run_ensemble`, none for the front doors (`training.run`, `sde_ensemble`, …);
    - `chunk`: seeds computed together per device, the rest wait in a `lax.map` (default
      `default_chunk`, from the backend and the state size);
    - `shard`: shard the seeds over all devices and hosts (default: when there is more than one
      device);
    - `segment_saves`: save points per compiled call (default: all of them without a folder,
      else `checkpoint_every / save_every`, else about 1/20 of the run);
    - `unroll`: `lax.scan(unroll=...)` of the step loop (latency-bound GPU runs of tiny states
      gain from unrolling; scripts/benchmarks/bench_engine.py).
    """

    progress: bool | None = None
    chunk: int | None = None
    shard: bool | None = None
    segment_saves: int | None = None
    unroll: int = 1

    def __post_init__(self):
        _check_bool("progress", self.progress, optional=True)
        if self.chunk is not None:
            check_int_at_least("chunk", self.chunk, 1)
        _check_bool("shard", self.shard, optional=True)
        if self.segment_saves is not None:
            check_int_at_least("segment_saves", self.segment_saves, 1)
        check_int_at_least("unroll", self.unroll, 1)

    def with_progress_default(self, progress: bool) -> "Execution":
        """This layout with `progress=None` replaced by `progress` (a front door's default)."""
        if self.progress is not None:
            return self
        return dataclasses.replace(self, progress=progress)


def front_door_execution(execution: "Execution | None") -> Execution:
    """The layout of a front door (`training.run`, `run_grid`, `continuous.sde_ensemble`, …):
    the engine's defaults, without a progress bar unless asked; anything but an `Execution`
    (or None) is one ValueError."""
    execution = Execution() if execution is None else execution
    if not isinstance(execution, Execution):
        raise ValueError(
            f"execution must be a ganflow.engine.Execution, got {type(execution).__name__}")
    return execution.with_progress_default(False)
