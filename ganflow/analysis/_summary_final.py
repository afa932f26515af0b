r"""The summary over seeds of an ensemble's metrics at its last save point, the seeds that
diverged left out and counted (the final table of a method comparison, e.g. the stacked-MNIST
protocol of VEEGAN and PacGAN)."""

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine import RESULTS
from ._summary import mean_se


def final_step_summary(results: Any, variables: Sequence[str], by: str) -> Any:
    r"""For each of `variables` of an engine result (an `xarray.Dataset` with dims seed, `by`,
    step and the per-seed `status`), at the last save point: `v_mean` and `v_se` over the seeds
    that did not diverge (`mean_se`: $\bar a$ and $\sqrt{s^2/n}$, NaN where n < 2), `v_min`
    and `v_max` over them (±∞ where none); and `seeds_counted`, `seeds_diverged` per value of
    `by` (status `RESULTS.diverged`).

    **Returns:** an `xarray.Dataset` over `by` (its values as strings).
    """
    import xarray as xr

    last = results.isel(step=-1).transpose("seed", by, ...)
    ok = np.asarray(last["status"].values) != RESULTS.diverged  # (seed, by)
    out = {}
    for var in variables:
        vals = np.where(ok, np.asarray(last[var].values, float), np.nan)
        mean, se = mean_se(vals, axis=0)
        out[f"{var}_mean"] = ((by,), mean)
        out[f"{var}_se"] = ((by,), se)
        out[f"{var}_min"] = ((by,), np.nanmin(np.where(np.isfinite(vals), vals, np.inf), axis=0))
        out[f"{var}_max"] = ((by,), np.nanmax(np.where(np.isfinite(vals), vals, -np.inf),
                                              axis=0))
    out["seeds_counted"] = ((by,), np.sum(ok, axis=0).astype(np.int64))
    out["seeds_diverged"] = ((by,), np.sum(~ok, axis=0).astype(np.int64))
    return xr.Dataset(out, coords={by: [str(m) for m in results[by].values]})
