"""The main job `ganflow`: section errors and the lazy matplotlib import. (The contents of the
experiments' reports — closed-form eigenvalues, figures, the SDE mean, weak orders — are checked in
tests/test_exp_legacy.py.)"""

import subprocess
import sys

import pytest

from ganflow.experiments import _cli, _sections
from ganflow.experiments._report import SectionResult


def test_unknown_section_is_an_error_naming_it(capsys):
    with pytest.raises(SystemExit) as exc:
        _cli.main(["--only", "spectra,nosuchsection"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "nosuchsection" in err and "spectra" in err
    with pytest.raises(SystemExit) as exc:
        _cli.main(["--nosuchflag"])
    assert exc.value.code == 2
    assert "--nosuchflag" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _cli.main(["--eta", "-1"])
    assert "eta" in capsys.readouterr().err


def test_a_failing_section_is_recorded_and_the_others_still_run(tmp_path, monkeypatch, capsys):
    calls = []

    def broken(config, out_dir):
        calls.append("broken")
        raise RuntimeError("deliberate failure")

    def fine(config, out_dir):
        calls.append("fine")
        (out_dir / "fine.txt").write_text("done")
        return SectionResult("a **fine** fragment")

    sections = {"broken": Section("broken", "A broken section", broken, "fails"),
                "fine": Section("fine", "A fine section", fine, "works")}
    monkeypatch.setattr(_sections, "SECTIONS", sections)
    code = _cli.main(["--out", str(tmp_path)])
    assert code == 1 and calls == ["broken", "fine"]
    report = (tmp_path / "report.md").read_text()
    assert "This section failed" in report and "deliberate failure" in report
    assert "a **fine** fragment" in report
    assert report.index("A broken section") < report.index("A fine section")
    assert "broken" in capsys.readouterr().err


def test_report_is_written_after_each_section(tmp_path, monkeypatch):
    seen = []

    def first(config, out_dir):
        return SectionResult("first fragment")

    def second(config, out_dir):
        seen.append((out_dir / "report.md").read_text())
        return SectionResult("second fragment")

    monkeypatch.setattr(_sections, "SECTIONS", {
        "first": Section("first", "First", first, ""),
        "second": Section("second", "Second", second, ""),
    })
    assert _cli.main(["--out", str(tmp_path)]) == 0
    assert "first fragment" in seen[0] and "second fragment" not in seen[0]


def test_import_ganflow_does_not_import_matplotlib():
    code = (
        "import sys, ganflow, ganflow.plotting, ganflow.experiments; "
        "print('matplotlib' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"


def test_python_dash_m_ganflow_entry_point():
    res = subprocess.run([sys.executable, "-m", "ganflow", "--only", "nosuch"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert "nosuch" in res.stderr and "spectra" in res.stderr
