"""Attributes of a saved result group (results.zarr/<group>), added after the run."""

from pathlib import Path
from typing import Any


def set_result_attrs(folder: str | Path, group: str, attrs: dict[str, Any]) -> None:
    """Adds `attrs` to the attributes of the group `results.zarr/<group>` of a study's folder
    (e.g. what was measured beside the ensemble: a classifier's accuracy) and re-consolidates
    the store's metadata, so that `open_results` and `xarray.open_zarr` see them."""
    import warnings

    import zarr

    store = Path(folder) / "results.zarr" / group
    if not store.is_dir():
        raise ValueError(f"no result group {group!r} in {Path(folder) / 'results.zarr'}")
    g = zarr.open_group(str(store), mode="r+", zarr_format=3)
    g.attrs.update(attrs)
    with warnings.catch_warnings():  # zarr: consolidated metadata not in the v3 spec yet
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(str(store))
