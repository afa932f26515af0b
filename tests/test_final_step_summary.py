"""`ganflow.analysis.final_step_summary`: the metrics at the last save point over the seeds that
did not diverge (mean ± s.e., min, max) and the seed counts."""

import numpy as np
import xarray as xr

from ganflow.analysis import final_step_summary, mean_se
from ganflow.engine import RESULTS


def test_final_step_summary_leaves_out_diverged_seeds():
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 10, (4, 2, 3))  # (seed, method, step)
    status = np.zeros((4, 2), np.int8)
    status[1, 0] = RESULTS.diverged
    status[:, 1] = [RESULTS.diverged, RESULTS.diverged, RESULTS.diverged, 0]
    ds = xr.Dataset({"m": (("seed", "variant", "step"), values),
                     "status": (("seed", "variant"), status)},
                    coords={"variant": ["a", "b"], "step": [0, 1, 2]})
    s = final_step_summary(ds, ["m"], "variant")
    last = values[:, :, -1]
    kept = last[[0, 2, 3], 0]
    mean, se = mean_se(kept)
    assert s["m_mean"].values[0] == mean and s["m_se"].values[0] == se
    np.testing.assert_allclose(s["m_se"].values[0], kept.std(ddof=1) / np.sqrt(3), rtol=1e-12)
    assert s["m_min"].values[0] == kept.min() and s["m_max"].values[0] == kept.max()
    assert s["m_mean"].values[1] == last[3, 1] and np.isnan(s["m_se"].values[1])
    np.testing.assert_array_equal(s["seeds_counted"].values, [3, 1])
    np.testing.assert_array_equal(s["seeds_diverged"].values, [1, 3])
    assert list(s["variant"].values) == ["a", "b"]
