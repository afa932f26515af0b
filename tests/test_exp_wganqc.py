"""The `wgan-qc` experiment at a tiny size: labelled results, the verdicts against the
closed-form ρ(F′(0)), the Jacobians against the block form, and the report."""

import numpy as np
import xarray as xr

from ganflow.studies import get_experiment, make_config, run_experiment
from tests.test_dataset_names import assert_every_group_selectable


def test_wgan_qc_quick(tmp_path):
    exp = get_experiment("wgan-qc")
    config = make_config(exp, {"seeds": 3, "gammas": (1.0, 3.0), "steps": 400, "saves": 20})
    report = run_experiment(exp, config, tmp_path)
    assert assert_every_group_selectable(tmp_path) == 3
    runs = xr.open_zarr(tmp_path / "results.zarr" / "dirac")
    assert runs["distance"].dims == ("seed", "case", "step")
    assert list(runs["scheme"].values) == ["wgan-qc", "wgan-qc", "wgan-simultaneous",
                                           "wgan-alternating", "wgan-alternating-nd5"]
    s = xr.open_zarr(tmp_path / "results.zarr" / "dirac_summary")
    # closed forms: WGAN simultaneous |λ| = sqrt(1 + η²); WGAN-QC ρ from F′(0)
    np.testing.assert_allclose(float(s.rho_theory[2]), np.sqrt(1.01), rtol=1e-14)
    qc = s.isel(case=[0, 1])
    # the distance of a non-normal spiral wobbles around ρ^k: the fitted slope is within 0.5%
    np.testing.assert_allclose(qc.rate_measured, qc.rho_theory, rtol=5e-3)
    assert list(s.verdict.values) == ["converges", "converges", "diverges", "orbits", "orbits"]
    assert (s.verdict == s.verdict_theory).all()
    j = xr.open_zarr(tmp_path / "results.zarr" / "jacobians")
    np.testing.assert_allclose(j.field_jacobian, j.field_jacobian_closed_form, atol=1e-14)
    np.testing.assert_allclose(j.update_jacobian, j.update_jacobian_closed_form, atol=1e-13)
    text = report.read_text()
    assert "does not hold" not in text and "holds here" in text
    assert (tmp_path / "wgan_qc_dirac.png").stat().st_size > 10_000
