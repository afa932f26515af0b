"""The default job `ganflow` (the study `suite`): experiment errors, the report after each
experiment, one parser for the command and the batch scripts, and the lazy matplotlib import.
(The contents of the experiments' reports are checked in their own test files.)"""

import dataclasses
import subprocess
import sys

import pytest

from ganflow.studies import _cli, _registry as reg


def _code(argv):
    try:
        return _cli.main(argv)
    except SystemExit as e:  # argparse's own errors
        return e.code


def test_unknown_section_is_an_error_naming_it(capsys):
    assert _code(["--only", "spectra,nosuchsection"]) == 2
    err = capsys.readouterr().err
    assert "nosuchsection" in err and "spectra" in err and err.count("\n") == 1
    assert _code(["--nosuchflag"]) == 2
    assert "--nosuchflag" in capsys.readouterr().err
    assert _code(["--eta", "-1"]) == 2
    assert "eta" in capsys.readouterr().err


def _toy(name, run):
    @dataclasses.dataclass(frozen=True)
    class Cfg:
        """A toy main-job experiment.

        - `seed`: root seed
        """

        seed: int = 0

    def report(config, results, out):
        return reg.ReportPart(f"a **{name}** fragment")

    return reg.Experiment(name=name, config=Cfg, run=run, report=report,
                          reproduces=f"the {name} toy", presets={"quick": {}},
                          quick_runtime="0 s")


def _fake_results(out):
    import xarray as xr

    reg.write_summary(out, "toy", xr.Dataset({"v": ("i", [1.0])}))


def _main_job_with(monkeypatch, experiments):
    """Registers the toys; returns the `--only` argument that runs them as the default job."""
    reg.get_experiment("suite")  # the built-in experiments are registered first
    registry = dict(reg.REGISTRY)
    registry.update({e.name: e for e in experiments})
    monkeypatch.setattr(reg, "REGISTRY", registry)
    monkeypatch.setattr(reg, "_load_all", lambda: registry)
    return ",".join(e.name for e in experiments)


def test_a_failing_experiment_is_recorded_and_the_others_still_run(tmp_path, monkeypatch,
                                                                     capsys):
    calls = []

    def broken(config, out, options):
        calls.append("broken")
        raise RuntimeError("deliberate failure")

    def fine(config, out, options):
        calls.append("fine")
        _fake_results(out)

    only = _main_job_with(monkeypatch, [_toy("broken", broken), _toy("fine", fine)])
    code = _cli.main(["--out", str(tmp_path), "--only", only])
    assert code == 1 and calls == ["broken", "fine"]
    report = (tmp_path / "report.md").read_text()
    assert "This experiment failed" in report and "deliberate failure" in report
    assert "a **fine** fragment" in report and "[fine/report.md](fine/report.md)" in report
    assert report.index("## broken") < report.index("## fine")
    assert "1 experiment(s) failed: broken" in capsys.readouterr().err
    ds = reg.open_results(tmp_path)["suite"]
    assert list(ds["status"].values) == ["failed", "ok"]


def test_report_is_written_after_each_experiment(tmp_path, monkeypatch):
    seen = []

    def first(config, out, options):
        _fake_results(out)

    def second(config, out, options):
        seen.append((tmp_path / "report.md").read_text())
        _fake_results(out)

    only = _main_job_with(monkeypatch, [_toy("first", first), _toy("second", second)])
    assert _cli.main(["--out", str(tmp_path), "--only", only]) == 0
    assert "a **first** fragment" in seen[0] and "a **second** fragment" not in seen[0]
    assert "a **second** fragment" in (tmp_path / "report.md").read_text()


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


def test_one_parser_for_the_command_and_the_batch_scripts(capsys):
    """`scripts/run_<name>.py` is `ganflow run NAME`: the same options, the multi-host ones
    included, and the same one-line errors."""
    with pytest.raises(SystemExit) as exc:
        _cli.main(["run", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--cpu-devices", "--coordinator", "--num-processes", "--process-id",
                 "--resume", "--set", "--seeds"):
        assert flag in text, flag
    assert _cli.batch_main("nosuch", ["--out", "x"]) == 2
    assert "unknown experiment 'nosuch'" in capsys.readouterr().err
    assert _cli.batch_main("sde", ["--coordinator", "h:1", "--out", "x"]) == 2
    assert "--coordinator needs --num-processes" in capsys.readouterr().err


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit):
        _cli.main(["--help"])
    text = capsys.readouterr().out
    for verb in ("list", "show", "run", "resume", "report"):
        assert verb in text
