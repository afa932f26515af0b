r"""The results store: one zarr group per run, readable with `xarray.open_zarr(path)` at any
time, during the run and after a crash.

Layout (zarr format 3, consolidated metadata): one array per observed quantity with dims
(seed, *axes, step, <trailing dims>), `status` and `diverged_step` with dims (seed, *axes),
coordinate arrays `seed`, each axis (or `case` with the axes as coordinates along it) and
`step` (plus `time` when the steps have a time scale), and `completed_steps` (the steps whose
results are written). Unwritten entries hold the fill value (NaN for floats, −1 for integers),
so partial results read as missing. Every process writes only its own block of seeds (the seed
chunks are aligned with the processes), so several hosts write one store without locking.
"""

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ._outcome import RESULTS


def _zarr():
    import zarr  # noqa: PLC0415 — imported when a run writes results

    return zarr


def _fill(dtype: np.dtype) -> Any:
    if np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.complexfloating):
        return np.nan
    if np.issubdtype(dtype, np.bool_):
        return False
    return -1


def consolidate(path: str | os.PathLike) -> None:
    with warnings.catch_warnings():  # zarr warns that v3 consolidation is not in the spec yet
        warnings.simplefilter("ignore")
        _zarr().consolidate_metadata(str(path))


def _seed_chunk(num_seeds: int, per_process: int) -> int:
    """A seed chunk that divides the per-process block (processes never share a chunk)."""
    best = 1
    for c in range(1, per_process + 1):
        if per_process % c == 0 and c <= 4096:
            best = c
    return min(best, num_seeds)


def create_store(
    path: str | os.PathLike,
    *,
    seeds: np.ndarray,
    dims: tuple[str, ...],
    coords: dict[str, tuple[tuple[str, ...], np.ndarray]],
    steps: np.ndarray,
    times: np.ndarray | None,
    variables: dict[str, tuple[tuple[int, ...], np.dtype]],
    shape: tuple[int, ...],
    per_process: int,
    saves_per_chunk: int,
    attrs: dict[str, Any],
) -> None:
    """Creates the store with every array allocated (fill values) and its metadata final."""
    zarr = _zarr()
    g = zarr.open_group(str(path), mode="w-", zarr_format=3)
    num = len(seeds)
    sc = _seed_chunk(num, per_process)
    g.create_array("seed", shape=(num,), dtype="i8", dimension_names=["seed"], fill_value=0)[:] = (
        seeds
    )
    g.create_array("step", shape=(len(steps),), dtype="i8", dimension_names=["step"],
                   fill_value=0)[:] = steps
    coord_names = []
    if times is not None:
        g.create_array("time", shape=(len(times),), dtype="f8", dimension_names=["step"],
                       fill_value=0.0)[:] = times
        coord_names.append("time")
    for name, (cdims, values) in coords.items():
        values = np.asarray(values)
        dtype = str if values.dtype.kind in "US" else values.dtype
        arr = g.create_array(name, shape=values.shape, dtype=dtype, dimension_names=list(cdims),
                             fill_value="" if dtype is str else 0)
        arr[...] = values
        if cdims != (name,):
            coord_names.append(name)
    extra = {"coordinates": " ".join(coord_names)} if coord_names else {}
    base = ("seed",) + dims
    for name, (trail, dtype) in variables.items():
        dtype = np.dtype(dtype)
        full = (num,) + shape + (len(steps),) + tuple(trail)
        chunks = (sc,) + shape + (min(saves_per_chunk, len(steps)),) + tuple(trail)
        tdims = [f"{name}_dim{i}" for i in range(len(trail))]
        g.create_array(name, shape=full, chunks=chunks, dtype=dtype, fill_value=_fill(dtype),
                       dimension_names=list(base) + ["step"] + tdims, attributes=dict(extra))
    g.create_array("status", shape=(num,) + shape, chunks=(sc,) + shape, dtype="i1",
                   fill_value=-1, dimension_names=list(base),
                   attributes={**RESULTS.flag_attrs(), **extra,
                               "long_name": "outcome of each member (-1: not finished)"})
    g.create_array("diverged_step", shape=(num,) + shape, chunks=(sc,) + shape, dtype="i8",
                   fill_value=-1, dimension_names=list(base),
                   attributes={**extra,
                               "long_name": "step at which the member diverged (-1: never)"})
    g.create_array("completed_steps", shape=(), dtype="i8", fill_value=0, dimension_names=[])
    g.attrs.update(attrs)
    consolidate(path)


def open_group(path: str | os.PathLike, mode: str = "r+"):
    return _zarr().open_group(str(path), mode=mode, zarr_format=3)


def read_attrs(path: str | os.PathLike) -> dict[str, Any] | None:
    """The store's attributes, or None when `path` holds no ganflow results store."""
    p = Path(path)
    if not (p / "zarr.json").is_file():
        return None
    try:
        meta = json.loads((p / "zarr.json").read_text())
    except (OSError, ValueError):
        return None
    attrs = meta.get("attributes", {})
    return attrs if "ganflow_config_sha256" in attrs else None


def finish_store(path: str | os.PathLike, attrs: dict[str, Any]) -> None:
    g = open_group(path)
    g.attrs.update(attrs)
    consolidate(path)
