"""No stored dimension, coordinate or variable is named after a keyword of xarray's selection
methods: `ds.sel(method="nk")` passes `method` to xarray (the fill rule) and silently returns
every method. The keywords are read from the signatures of `Dataset`/`DataArray` `.sel`,
`.isel`, `.reindex`, `.interp`; sweep axes and written summaries refuse them, and the datasets
stored by real runs carry none (`assert_every_group_selectable`, called on the runs of the
experiments' own tests and of the report-link test)."""

import pathlib

import pytest
import xarray as xr

from ganflow.engine import Axis, RunFolder, Sweep, run_ensemble
from ganflow.studies import open_results, write_summary
from tests.engine_problems import NoisyContraction


def selection_keywords() -> set[str]:
    """Read from xarray here, independently of ganflow's own list."""
    import inspect

    names = set()
    for cls in (xr.Dataset, xr.DataArray):
        for fn in (cls.sel, cls.isel, cls.reindex, cls.interp):
            names |= {n for n, p in inspect.signature(fn).parameters.items()
                      if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return names


def assert_selectable(ds: xr.Dataset, where: str) -> None:
    """No dim, coordinate or variable of `ds` is a selection keyword."""
    names = set(map(str, ds.dims)) | set(map(str, ds.variables))
    bad = names & selection_keywords()
    assert not bad, f"{where}: {sorted(bad)} cannot be selected by keyword"


def assert_every_group_selectable(folder: pathlib.Path) -> int:
    """`assert_selectable` on every group of `folder/results.zarr`; returns how many."""
    groups = open_results(folder)
    for name, ds in groups.items():
        assert_selectable(ds, f"{folder}/results.zarr/{name}")
    return len(groups)


def test_the_keywords_are_those_xarray_takes():
    assert {"method", "tolerance", "drop", "indexers"} <= selection_keywords()


@pytest.mark.parametrize("name", ["method", "tolerance", "drop", "indexers"])
def test_sweep_axes_and_summaries_refuse_a_keyword(tmp_path, name):
    with pytest.raises(ValueError, match=f"'{name}' is a keyword of xarray"):
        Sweep(seeds=2, axes={name: ["a", "b"]})
    with pytest.raises(ValueError, match=f"'{name}' is a keyword of xarray"):
        Sweep(seeds=2, axes=[Axis(name, (0.1, 0.2))])
    with pytest.raises(ValueError, match=f"results.zarr/s: the name '{name}'"):
        write_summary(tmp_path, "s", xr.Dataset({"v": ((name,), [1.0, 2.0])}))
    with pytest.raises(ValueError, match=f"'{name}' is a keyword"):
        write_summary(tmp_path, "s", xr.Dataset({name: (("case",), [1.0, 2.0])}))
    assert not (tmp_path / "results.zarr" / "s").exists()


def test_the_library_labelled_output_carries_no_keyword(tmp_path):
    """An engine run over a learning-rate axis, in memory and on disk."""
    sweep = Sweep(seeds=2, axes={"eta": [0.1, 0.2]})
    res = run_ensemble(NoisyContraction(), sweep, 4, save_every=2)
    assert_selectable(res.dataset, "run_ensemble (in memory)")
    run_ensemble(NoisyContraction(), sweep, 4, save_every=2, folder=RunFolder(tmp_path, group="g"))
    assert assert_every_group_selectable(tmp_path) == 1
