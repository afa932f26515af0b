"""`ganflow.analysis.fdr_summary`: the summary of FDR-tracking training runs (Cao–Guo 2020
§4.2, Theorems 4–5) over seeds, on a synthetic labelled result."""

import numpy as np
import xarray as xr

from ganflow.analysis import FDR_METRICS, fdr_estimate, fdr_summary
from ganflow.engine import RESULTS


def test_fdr_summary_leaves_out_diverged_seeds():
    rng = np.random.default_rng(0)
    seeds, methods, steps = 6, ["constant", "fdr2"], 8
    shape = (seeds, len(methods), steps)
    data = {name: (("seed", "schedule", "step"), rng.uniform(1, 2, shape))
            for name in FDR_METRICS + ("eta", "fdr2_lhs", "fdr2_rhs")}
    status = np.full((seeds, len(methods)), RESULTS.successful)
    status[0, 1] = RESULTS.diverged
    data["status"] = (("seed", "schedule"), status)
    ds = xr.Dataset(data, coords={"schedule": methods})
    s = fdr_summary(ds, fdr1=False, seeds=seeds)
    final = ds["modes_covered"].values[1:, 1, -1]
    np.testing.assert_allclose(s["modes_covered"].values[1], final.mean(), rtol=1e-14)
    np.testing.assert_allclose(s["modes_covered_se"].values[1],
                               final.std(ddof=1) / np.sqrt(final.size), rtol=1e-12)
    np.testing.assert_allclose(s["diverged_fraction"].values, [0.0, 1 / seeds])
    tail = slice(steps - steps // 4, steps)
    est = fdr_estimate(ds["fdr2_lhs"].values[1:, 1, tail].ravel(),
                       ds["fdr2_rhs"].values[1:, 1, tail].ravel())
    np.testing.assert_allclose(s["fdr2_tail_ratio"].values[1], float(est.ratio), rtol=1e-14)
    assert "fdr1_final_ratio" not in s and s.attrs["tail_saves"] == steps // 4
