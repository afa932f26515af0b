"""The worked example of a researcher's own study (docs/examples/dirac_gda_study.py) through the
`ganflow` command: run from its file, killed after its 2nd checkpoint, resumed bitwise, reported —
and its numbers against the closed form of local theory."""

import pathlib

import numpy as np
import pytest
import xarray as xr

from ganflow.engine import Checkpointer
from ganflow.studies import main, open_results

STUDY = pathlib.Path(__file__).resolve().parents[1] / "docs" / "examples" / "dirac_gda_study.py"


def test_the_example_study_is_short():
    assert len(STUDY.read_text().splitlines()) <= 150


def test_example_study_runs_is_killed_resumes_bitwise_and_reports(tmp_path, monkeypatch,
                                                                   capsys):
    argv = [str(STUDY), "--quick", "--set", "etas=[0.1, 0.4]", "--no-progress"]
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    assert main(["run", *argv, "--out", str(clean)]) == 0
    calls = {"n": 0}
    real_save = Checkpointer.save

    def crashing_save(self, *args, **kwargs):
        calls["n"] += 1
        real_save(self, *args, **kwargs)
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the process dies right after its 2nd checkpoint

    monkeypatch.setattr(Checkpointer, "save", crashing_save)
    assert main(["run", *argv, "--out", str(crashed)]) == 130
    monkeypatch.setattr(Checkpointer, "save", real_save)
    partial = xr.open_zarr(crashed / "results.zarr" / "gda")
    assert 0 < int(partial["completed_steps"]) < 80
    assert 'source = "' in (crashed / "config.toml").read_text()
    assert main(["resume", str(crashed)]) == 0  # finds the study through config.toml
    a, b = open_results(clean)["gda"], open_results(crashed)["gda"]
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    report = (crashed / "report.md").read_text()
    assert "ρ(F′(x*))" in report and "| 0.4 |" in report
    (crashed / "report.md").unlink()
    assert main(["report", str(crashed)]) == 0
    assert (crashed / "report.md").read_text() == report
    capsys.readouterr()


def test_example_study_agrees_with_local_theory(tmp_path):
    """Simultaneous GDA on the Dirac-GAN (GAN loss, f′(0) = 1/2): ρ(F′) = √(1 + η²/4) > 1, so
    every seed moves away from the equilibrium; the measured factor per step is within 1e-3
    of ρ near the equilibrium (quick preset: 80 steps from distance 0.5)."""
    out = tmp_path / "gda"
    assert main(["run", str(STUDY), "--quick", "--set", "etas=[0.05, 0.1]",
                 "--set", "radius=0.01", "--out", str(out), "--no-progress"]) == 0
    ds = open_results(out)["gda"]
    d = np.asarray(ds["distance"].values, float)  # (seed, eta, step)
    steps = ds["step"].values
    rate = np.exp(np.log(d[:, :, -1] / d[:, :, 0]) / steps[-1])
    rho = np.sqrt(1 + (np.array([0.05, 0.1]) * 0.5) ** 2)
    np.testing.assert_allclose(rate, np.broadcast_to(rho, rate.shape), atol=1e-3)


def test_report_links_resolve_for_a_relative_out(tmp_path, monkeypatch):
    """Figure links are relative to report.md whatever --out was (relative here)."""
    import re

    monkeypatch.chdir(tmp_path)
    assert main(["run", str(STUDY), "--quick", "--set", "etas=[0.1]", "--out", "runs/gda",
                 "--no-progress"]) == 0
    report = tmp_path / "runs" / "gda" / "report.md"
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report.read_text())
    assert links == ["distance.png"]
    for link in links:
        assert (report.parent / link).is_file(), link


def test_a_file_without_a_study_is_one_line(tmp_path, capsys):
    empty = tmp_path / "nothing.py"
    empty.write_text("x = 1\n")
    assert main(["run", str(empty)]) == 2
    assert "registers no study" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "missing.py")]) == 2
    assert "does not exist" in capsys.readouterr().err
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('typo in my study')\n")
    assert main(["run", str(broken)]) == 2
    assert "typo in my study" in capsys.readouterr().err


@pytest.fixture(autouse=True)
def _forget_loaded_studies():
    """Each test loads the example afresh (the registry is process-wide)."""
    import sys

    from ganflow.studies import REGISTRY

    before = dict(REGISTRY)
    yield
    REGISTRY.clear()
    REGISTRY.update(before)
    for name in [m for m in sys.modules if m.startswith("ganflow_study_")]:
        del sys.modules[name]
