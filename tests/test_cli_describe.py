"""The `ganflow` command describes itself: --help lists the commands, `list` and `--help` import
no JAX, `show` lists presets and field types, a run prints its folder, groups and load line and
its results open as one tree without warnings, resuming a finished run does nothing, warnings
are one clean line, and TOML values are type-checked exactly like `--set`."""

import dataclasses
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from ganflow.engine import Execution, RunFolder, Sweep, _engine as engine_mod, run_ensemble
from ganflow.studies import _registry as reg
from ganflow.studies._cli import _warm_start, main
from tests.engine_problems import NoisyContraction

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class TinyConfig:
    """A noisy contraction over seeds × η (a test study).

    - `seeds`: number of seeds
    - `etas`: learning rates
    - `sigma`: noise level
    - `steps`: steps per run
    - `label`: a free-text label
    - `noisy`: draw noise at all
    """

    seeds: int = 3
    etas: tuple[float, ...] = (0.1, 0.3)
    sigma: float = 0.5
    steps: int = 16
    label: str = "tiny"
    noisy: bool = True


CALLS = []


def _run(config, out, options):
    CALLS.append(out)
    run_ensemble(NoisyContraction(), Sweep(seeds=config.seeds, axes={
        "eta": list(config.etas), "sigma": [config.sigma if config.noisy else 0.0]}),
        config.steps, save_every=config.steps // 4,
        folder=RunFolder(out, group="main", resume=options.resume,
                         checkpoint_every=config.steps // 4),
        execution=Execution(progress=False))
    reg.write_summary(out, "final", xr.Dataset({"last": ("eta", np.asarray(config.etas))},
                                               coords={"eta": list(config.etas)}))


TINY = reg.Experiment(
    name="tiny", config=TinyConfig, run=_run,
    report=lambda config, results, out: reg.ReportPart("a tiny report"),
    reproduces="a test study", presets={"quick": {"seeds": 2, "steps": 8}, "wide": {
        "etas": (0.1, 0.2, 0.4)}}, quick_runtime="1 s")


@pytest.fixture(autouse=True)
def tiny_registered(monkeypatch):
    import ganflow.experiments

    ganflow.experiments.register_all()  # into the real registry, before the copy
    registry = dict(reg.REGISTRY)
    registry["tiny"] = TINY
    monkeypatch.setattr(reg, "REGISTRY", registry)
    monkeypatch.setattr(reg, "_load_all", lambda: registry)
    CALLS.clear()


def test_help_lists_every_command_with_a_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for verb in ("list", "show", "run", "resume", "report"):
        assert re.search(rf"^    {verb} +\S", text, re.M), verb
    assert "open_datatree" in text and "GANFLOW_COMPILATION_CACHE=0" in text


def test_list_and_help_import_no_jax():
    code = ("import contextlib, io, sys\n"
            "from ganflow.studies import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    assert main(['list']) == 0\n"
            "    try:\n"
            "        main(['--help'])\n"
            "    except SystemExit:\n"
            "        pass\n"
            "print('jax' in sys.modules, 'mog' in out.getvalue(), 'resume' in out.getvalue())\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["False", "True", "True"]


def test_the_static_catalogue_is_the_registered_experiments():
    from ganflow.experiments import CATALOGUE

    registered = {n: e for n, e in reg.experiments().items() if n != "tiny"}
    assert list(CATALOGUE) and set(CATALOGUE) == set(registered)
    for name, entry in CATALOGUE.items():
        exp = registered[name]
        assert (entry.quick_runtime, entry.reproduces) == (exp.quick_runtime, exp.reproduces)
        assert exp.run.__module__.rsplit(".", 1)[-1] == entry.module


def test_list_shows_the_catalogue_and_studies_registered_here(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^tiny +1 s  a test study$", out, re.M)
    assert re.search(r"^mog +\S.*Nagarajan", out, re.M)


def test_show_lists_presets_and_field_types(capsys):
    assert main(["show", "tiny", "--quick"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"^#   default +the defaults below$", text, re.M)
    assert re.search(r"^#   quick +seeds = 2, steps = 8$", text, re.M)
    assert re.search(r"^#   wide +etas = \[0.1, 0.2, 0.4\]$", text, re.M)
    assert "# number of seeds [int; default 3]\nseeds = 2\n" in text
    assert "# learning rates [a list of float]\netas = [0.1, 0.3]\n" in text
    assert "# draw noise at all [bool]\nnoisy = true\n" in text
    import tomllib

    assert tomllib.loads(text)["seeds"] == 2  # still a config file


@pytest.mark.parametrize("key, literal, expected", [
    ("sigma", '"0.1"', "float"),
    ("steps", '"8"', "int"),
    ("noisy", '"true"', "bool"),
    ("label", "3", "str"),
    ("etas", '[0.1, "0.2"]', "float"),
    ("etas", '"0.1,0.2"', "a list of float"),
])
def test_toml_values_are_type_checked_exactly_like_set(key, literal, expected, tmp_path,
                                                      capsys):
    config = tmp_path / "c.toml"
    config.write_text(f'experiment = "tiny"\n{key} = {literal}\n')
    assert main(["run", str(config), "--out", str(tmp_path / "a")]) == 2
    from_toml = capsys.readouterr().err
    assert main(["run", "tiny", "--set", f"{key}={literal}", "--out", str(tmp_path / "b")]) == 2
    from_set = capsys.readouterr().err
    for err in (from_toml, from_set):
        assert err.count("\n") == 1 and err.startswith("ganflow: error:"), err
        assert f"{key}: expected {expected}, got " in err, err
    assert from_toml.split(f"{key}: ", 1)[1] == from_set.split(f"{key}: ", 1)[1]
    assert str(config) in from_toml and "--set" in from_set
    assert not CALLS and not (tmp_path / "a").exists()


def test_command_line_text_is_still_read_as_numbers_and_lists(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "tiny", "--quick", "--set", "etas=0.2,0.4", "--set", "sigma=.25",
                 "--set", "noisy=false", "--set", "label=plain words", "--out", str(out)]) == 0
    saved = (out / "config.toml").read_text()
    assert "etas = [0.2, 0.4]" in saved and "sigma = 0.25" in saved and "noisy = false" in saved
    assert 'label = "plain words"' in saved


def test_run_prints_where_and_the_tree_opens_without_warnings(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "tiny", "--quick", "--seeds", "5", "--out", "runs/tiny"]) == 0  # compiles
    lines = capsys.readouterr().out.splitlines()
    assert re.match(r"ganflow: tiny done in [\d.]+ s \(compiling [\d.]+ s\)$", lines[-5])
    assert lines[-4:] == [
        "  folder:  runs/tiny", f"  report:  {Path('runs/tiny/report.md')}",
        "  groups:  final, main",
        '  load:    xarray.open_datatree("runs/tiny/results.zarr", engine="zarr")']
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tree = eval(lines[-1].split("load:", 1)[1].strip(), {"xarray": xr})
        assert sorted(tree.children) == ["final", "main"]
        main_group = xr.open_zarr("runs/tiny/results.zarr/main")
    xr.testing.assert_identical(tree["main"].to_dataset(), main_group)
    run = json.loads(Path("runs/tiny/run.json").read_text())["runs"][-1]
    assert 0 < run["compile_seconds"] <= run["seconds"]
    assert run["compilation_cache"] is None  # the tests run with GANFLOW_COMPILATION_CACHE=0
    report = Path("runs/tiny/report.md").read_text()
    assert re.search(r"- run finished \S+: [\d.]+ s, of which compiling [\d.]+ s \(\d+ %\); "
                     "compilation cache off", report)
    assert "`final`, `main`" in report


def test_resume_of_a_finished_run_says_so_and_computes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "tiny", "--quick", "--out", str(out)]) == 0
    capsys.readouterr()
    CALLS.clear()
    before = {p: p.read_bytes() for p in (out / "run.json", out / "report.md")}
    for argv in (["resume", str(out)], ["run", "tiny", "--quick", "--resume", "--out", str(out)]):
        assert main(argv) == 0
        text = capsys.readouterr().out
        assert f"{out} holds a finished run of tiny" in text and "nothing to resume" in text
        assert "load:    xarray.open_datatree(" in text
    assert not CALLS
    assert {p: p.read_bytes() for p in before} == before


def test_a_corrupt_checkpoint_is_one_clean_warning_line(tmp_path, capsys, monkeypatch):
    out = tmp_path / "crash"
    saves = {"n": 0}
    real_save = engine_mod.Checkpointer.save

    def crashing_save(self, carry, meta):
        saves["n"] += 1
        real_save(self, carry, meta)
        if saves["n"] == 3:
            raise KeyboardInterrupt  # dies right after its 3rd checkpoint

    monkeypatch.setattr(engine_mod.Checkpointer, "save", crashing_save)
    assert main(["run", "tiny", "--out", str(out)]) == 130
    monkeypatch.setattr(engine_mod.Checkpointer, "save", real_save)
    newest = sorted(out.rglob("ckpt-*.eqx"))[-1]
    newest.write_bytes(newest.read_bytes()[:-7])  # truncated
    capsys.readouterr()
    assert main(["resume", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"ganflow: warning: skipping checkpoint {newest.with_suffix('.json').name} (its data "
        "does not match the recorded SHA-256); trying the previous one"], err
    assert main(["run", "tiny", "--out", str(tmp_path / "clean")]) == 0
    clean = xr.open_zarr(tmp_path / "clean" / "results.zarr" / "main")
    resumed = xr.open_zarr(out / "results.zarr" / "main")
    np.testing.assert_array_equal(resumed["x"].values, clean["x"].values)


def test_the_cache_flag_and_variable_turn_the_cache_off(monkeypatch):
    class NS:
        no_compile_cache = True

    assert _warm_start(NS()) == "compilation cache off"
    NS.no_compile_cache = False
    monkeypatch.setenv("GANFLOW_COMPILATION_CACHE", "0")
    assert _warm_start(NS()) == "compilation cache off"
    import jax

    assert jax.config.jax_compilation_cache_dir is None
