"""`ganflow.studies.set_result_attrs`: attributes added to a saved result group are seen by
`open_results` and `xarray.open_zarr`, the data untouched."""

import numpy as np
import pytest
import xarray as xr

from ganflow.studies import open_results, set_result_attrs, write_summary


def test_set_result_attrs_adds_attributes(tmp_path):
    ds = xr.Dataset({"x": (("seed",), np.arange(3.0))}, attrs={"kept": 1})
    write_summary(tmp_path, "runs", ds)
    set_result_attrs(tmp_path, "runs", {"accuracy": 0.97, "split": "held_out"})
    back = open_results(tmp_path)["runs"]
    assert back.attrs["accuracy"] == 0.97 and back.attrs["split"] == "held_out"
    assert back.attrs["kept"] == 1
    np.testing.assert_array_equal(back["x"].values, np.arange(3.0))
    assert xr.open_zarr(tmp_path / "results.zarr" / "runs").attrs["accuracy"] == 0.97
    with pytest.raises(ValueError, match="no result group 'other'"):
        set_result_attrs(tmp_path, "other", {"a": 1})
