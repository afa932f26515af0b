"""The `ganflow` command on a toy experiment: list/show/run/resume/report, typed configs from
TOML and --set, and one clear line for every bad input (exit status 2, nothing lost)."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from ganflow.engine import Execution, RunFolder, Sweep, _engine as engine_mod, run_ensemble
from ganflow.studies import _registry as reg
from ganflow.studies._cli import main
from tests.engine_problems import NoisyContraction


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    """A noisy contraction x ← (1 − η)x + σξ over seeds × η (a test experiment).

    - `seeds`: number of seeds
    - `seed`: root seed (unused: seeds are the keys 0..seeds-1)
    - `etas`: learning rates (a traced axis)
    - `sigma`: noise level
    - `steps`: steps per run
    - `label`: a free-text label
    """

    seeds: int = 4
    seed: int = 0
    etas: tuple[float, ...] = (0.1, 0.3)
    sigma: float = 0.5
    steps: int = 40
    label: str = "toy"

    def __post_init__(self):
        if self.steps % 4:
            raise ValueError(f"steps must be a multiple of 4, got {self.steps}")


def _toy_run(config, out, options):
    run_ensemble(NoisyContraction(), Sweep(seeds=config.seeds, axes={"eta": list(config.etas),
                                                                       "sigma": [config.sigma]}),
                 config.steps, save_every=config.steps // 4,
                 folder=RunFolder(out, group="main", resume=options.resume,
                                  checkpoint_every=config.steps // 4),
                 execution=Execution(progress=options.progress),
                 config=dataclasses.asdict(config))


def _toy_report(config, results, out):
    ds = results["main"]
    final = ds["mean"].isel(step=-1)
    rows = [[f"{eta:g}", f"{float(final.sel(eta=eta).mean()):.4f}"] for eta in ds.eta.values]
    from ganflow.studies import markdown_table

    fig = Path(out) / "toy.png"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f, ax = plt.subplots()
    ax.plot(ds.step.values, ds["mean"].mean("seed").isel(sigma=0).values.T)
    f.savefig(fig)
    plt.close(f)
    return reg.ReportPart(markdown_table(["eta", "final mean"], rows), [fig])


TOY = reg.Experiment(
    name="toy", config=ToyConfig, run=_toy_run, report=_toy_report,
    reproduces="a test experiment (closed form (1 − η)^k without noise)",
    presets={"quick": {"seeds": 2, "steps": 8}}, quick_runtime="1 s",
)


@pytest.fixture(autouse=True)
def toy_registered(monkeypatch):
    registry = dict(reg.REGISTRY)
    registry["toy"] = TOY
    monkeypatch.setattr(reg, "REGISTRY", registry)
    monkeypatch.setattr(reg, "_load_all", lambda: registry)


def test_reader_leaving_the_pipe_is_not_an_error():
    """`ganflow list | head`: the reader closes the pipe before ganflow writes; ganflow stops
    quietly (no "error: Broken pipe" line), with exit 1 as Python's own recipe."""
    proc = subprocess.Popen([sys.executable, "-m", "ganflow", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert "Broken pipe" not in err and "Traceback" not in err, err


def test_list_and_show(capsys, tmp_path):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "toy" in out and "a test experiment" in out
    assert main(["show", "toy", "--quick"]) == 0
    text = capsys.readouterr().out
    assert 'experiment = "toy"' in text and "seeds = 2" in text and "etas = [0.1, 0.3]" in text
    assert "# learning rates (a traced axis)" in text
    # the shown TOML runs as a config file, edited
    cfg = tmp_path / "toy.toml"
    cfg.write_text(text.replace("sigma = 0.5", "sigma = 0.0"))
    assert main(["run", str(cfg), "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    ds = xr.open_zarr(tmp_path / "r" / "results.zarr" / "main")
    expected = (1 - np.array([0.1, 0.3]))[:, None] ** ds.step.values
    np.testing.assert_allclose(ds["mean"].values[:, :, 0], np.broadcast_to(expected, (2, 2, 5)),
                               rtol=1e-12)


def test_run_writes_folder_and_report_rewrites_it(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "toy", "--quick", "--seeds", "3", "--set", "sigma=0.25",
                 "--set", "etas=[0.2, 0.4, 0.6]", "--out", str(out)]) == 0
    for name in ("config.toml", "report.md", "toy.png", "results.zarr"):
        assert (out / name).exists(), name
    ds = xr.open_zarr(out / "results.zarr" / "main")
    assert ds.sizes["seed"] == 3 and list(ds.eta.values) == [0.2, 0.4, 0.6]
    report = (out / "report.md").read_text()
    assert "| 0.4 |" in report and "![toy](toy.png)" in report and "sigma" in report
    (out / "report.md").unlink()
    (out / "toy.png").unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "report.md").read_text() == report and (out / "toy.png").exists()


def test_resume_after_a_crash_is_bitwise(tmp_path, monkeypatch, capsys):
    out = tmp_path / "crash"
    calls = {"n": 0}
    real_save = engine_mod.Checkpointer.save

    def crashing_save(self, carry, meta):
        calls["n"] += 1
        real_save(self, carry, meta)
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the process dies right after its 2nd checkpoint

    monkeypatch.setattr(engine_mod.Checkpointer, "save", crashing_save)
    assert main(["run", "toy", "--out", str(out)]) == 130
    assert "ganflow resume" in capsys.readouterr().err
    monkeypatch.setattr(engine_mod.Checkpointer, "save", real_save)
    partial = xr.open_zarr(out / "results.zarr" / "main")
    assert 0 < int(partial["completed_steps"]) < 40
    assert main(["resume", str(out)]) == 0
    resumed = xr.open_zarr(out / "results.zarr" / "main")
    assert main(["run", "toy", "--out", str(tmp_path / "clean")]) == 0
    clean = xr.open_zarr(tmp_path / "clean" / "results.zarr" / "main")
    np.testing.assert_array_equal(resumed["x"].values, clean["x"].values)
    assert (out / "report.md").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "toi"], "unknown experiment 'toi'; did you mean toy"),
        (["run", "toy", "--set", "sigmaa=1"], "unknown key 'sigmaa'.*did you mean sigma"),
        (["run", "toy", "--set", "steps=ten"], "steps: expected int, got 'ten'"),
        (["run", "toy", "--set", "steps=10"], "steps must be a multiple of 4"),
        (["run", "toy", "--set", "etas=[0.1, \"x\"]"], "etas: expected float"),
        (["run", "toy", "--set", "novalue"], "--set expects key=value"),
        (["run", "missing.toml"], "config file missing.toml does not exist"),
        (["run", "toy", "--quick", "--out", "/proc/ganflow-x"], "cannot write to the output"),
        (["show", "toy", "--preset", "huge"], "no preset 'huge'"),
        (["resume", "."], "holds no ganflow run"),
        (["report", "/nonexistent-ganflow-dir"], "is not a folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ganflow: error:"), err
    import re

    assert re.search(message, err), err


def test_occupied_folder_is_refused_and_kept(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "toy", "--quick", "--out", str(out)]) == 0
    before = (out / "results.zarr" / "main" / "zarr.json").read_bytes()
    assert main(["run", "toy", "--quick", "--set", "sigma=0.1", "--out", str(out)]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert (out / "results.zarr" / "main" / "zarr.json").read_bytes() == before
    assert main(["run", "toy", "--quick", "--set", "sigma=0.1", "--out", str(out),
                 "--overwrite"]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text('experiment = "toy"\nsteps = "x"\n')
    assert main(["run", str(bad)]) == 2
    assert "steps: expected int" in capsys.readouterr().err


def test_save_columns_even_stride_first_and_last():
    from ganflow.studies import save_columns

    assert save_columns(13, 9) == [0, 2, 4, 6, 8, 10, 12]  # 250-step saves: 0, 500, …, 3000
    assert save_columns(13, 6) == [0, 3, 6, 9, 12]
    assert save_columns(12, 6) == [0, 3, 6, 9, 11]  # the last save always shown
    assert save_columns(5, 6) == [0, 1, 2, 3, 4]
    assert save_columns(7, 1) == [6]
    for n in range(1, 40):
        for most in range(2, 10):
            cols = save_columns(n, most)
            assert len(cols) <= most and cols[0] == 0 and cols[-1] == n - 1
