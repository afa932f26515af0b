r"""Summaries over seeds: mean ± standard error and quantiles, NaN-aware, on arrays or on
labelled results (`xarray`).

One home for the statistic every report quotes: for n finite values $a_1, …, a_n$ over the
seeds, the mean $\bar a = \frac1n Σ a_i$ and the standard error of the mean
$\mathrm{se} = \sqrt{s^2/n}$ with the unbiased variance $s^2 = \frac1{n-1}Σ(a_i − \bar a)^2$.
Non-finite values (a diverged seed, a metric never reached) are left out and counted: the mean
is NaN where no value is finite, the standard error NaN where fewer than two are.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np


def mean_se(a: Any, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and standard error of the mean of `a` over `axis`, non-finite values left out.

    **Returns:** `(mean, se)`, arrays without `axis` (NumPy scalars for a 1-d `a`): the mean is
    NaN where no value is finite, the standard error $\sqrt{s^2/n}$ NaN where n < 2.
    """
    a = np.asarray(a, dtype=float)
    ok = np.isfinite(a)
    n = ok.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.nansum(np.where(ok, a, 0.0), axis=axis) / np.maximum(n, 1),
                        np.nan)
        dev = np.where(ok, a - np.expand_dims(mean, axis), 0.0)
        var = np.sum(dev**2, axis=axis) / np.maximum(n - 1, 1)
        se = np.where(n > 1, np.sqrt(var / np.maximum(n, 1)), np.nan)
    return mean, se


def format_pm(mean: float, se: float, fmt: str = ".2f", *, scale: float = 1.0,
              prefix: str = "") -> str:
    """`"mean ± se"` with the format spec `fmt` (e.g. ".2f", ".3g"), both multiplied by
    `scale` (100 for percentages); `"–"` for a non-finite mean, the mean alone for a
    non-finite standard error; `prefix` goes before the mean (e.g. "≥" for a censored mean)."""
    mean, se = float(mean), float(se)
    if not np.isfinite(mean):
        return "–"
    text = f"{prefix}{scale * mean:{fmt}}"
    return text + (f" ± {scale * se:{fmt}}" if np.isfinite(se) else "")


def summarise(data: Any, dim: str = "seed",
              quantiles: Sequence[float] = (0.1, 0.5, 0.9)) -> Any:
    r"""The summary over `dim` of a labelled result: for each numeric data variable `v` of an
    `xarray.Dataset` (or the one `xarray.DataArray`), the variables `v_mean`, `v_se` (see
    `mean_se`), `v_count` (finite values) and `v_q10`, `v_q50`, … (NaN-aware quantiles, named
    by percent), keeping every other dimension and its coordinates.

    ```python
    ds = gf.training.run(...).dataset            # dims (seed, eta, step)
    s = gf.analysis.summarise(ds["distance"])     # distance_mean, distance_se, ... (eta, step)
    ```

    Variables without `dim` and non-numeric ones are left out.
    """
    import warnings

    import xarray as xr

    ds = data.to_dataset(name=data.name or "value") if isinstance(data, xr.DataArray) else data
    if dim not in ds.dims:
        raise ValueError(f"summarise: no dimension {dim!r} (dimensions: {list(ds.dims)})")
    out = {}
    for name, var in ds.data_vars.items():
        if dim not in var.dims or var.dtype.kind not in "biuf":
            continue
        axis = var.dims.index(dim)
        rest = tuple(d for d in var.dims if d != dim)
        values = np.asarray(var.values, dtype=float)
        mean, se = mean_se(values, axis=axis)
        out[f"{name}_mean"] = (rest, np.asarray(mean))
        out[f"{name}_se"] = (rest, np.asarray(se))
        out[f"{name}_count"] = (rest, np.isfinite(values).sum(axis=axis).astype(np.int64))
        for q in quantiles:
            if not 0.0 <= q <= 1.0:
                raise ValueError(f"summarise: quantiles must lie in [0, 1], got {q}")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
                qv = np.nanquantile(np.where(np.isfinite(values), values, np.nan), q, axis=axis)
            out[f"{name}_q{round(100 * q):02d}"] = (rest, np.asarray(qv))
    coords = {k: v for k, v in ds.coords.items() if dim not in v.dims}
    result = xr.Dataset(out, coords=coords)
    result.attrs["summarised_over"] = dim
    return result
