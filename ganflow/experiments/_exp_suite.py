"""`suite`: several experiments in one folder, each in its own run folder, with one report
linking them — the default job of the `ganflow` command (`ganflow` alone runs it with the four
small-game experiments into `ganflow-output/`)."""

import dataclasses
import time
import traceback
from pathlib import Path
from typing import Any

from ..studies import (
    ConfigError,
    Experiment,
    ReportPart,
    RunOptions,
    StudyFailed,
    get_experiment,
    make_config,
    markdown_table,
    register,
    run_experiment,
    write_report,
    write_summary,
)

SMALL_GAMES = ("spectra", "atlas", "sde", "weak-error")


@dataclasses.dataclass(frozen=True)
class SuiteConfig:
    """Runs each of `experiments` with its `preset` into `OUT/<name>/` (its own config.toml,
    results.zarr, report and figures) and writes `OUT/report.md` with every experiment's report
    body, rewritten after each experiment. A failing experiment is recorded (its traceback in
    the report) and the others still run; the command then exits with status 1. Writes the group
    `suite` (dim experiment: `status` ok/failed, `seconds`).

    - `experiments`: registered experiments, run in this order
    - `preset`: the preset of every experiment (default or quick)
    - `seed`: the root PRNG seed given to every experiment
    - `eta`: the learning rate h of the spectra experiment (none: its default)
    """

    experiments: tuple[str, ...] = SMALL_GAMES
    preset: str = "default"
    seed: int = 0
    eta: float | None = None

    def __post_init__(self):
        if not self.experiments:
            raise ValueError("experiments must name at least one experiment")
        from ..studies import experiments

        known = [n for n in experiments() if n != "suite"]
        for name in self.experiments:
            if name not in known:
                raise ValueError(f"unknown experiment {name!r} in experiments (choose from "
                                 f"{', '.join(known)})")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if self.eta is not None and not self.eta > 0:
            raise ValueError(f"eta must be > 0, got {self.eta}")


def _config_of(config: SuiteConfig, name: str) -> Any:
    exp = get_experiment(name)
    base = exp.preset(config.preset if config.preset in exp.presets else "default")
    overrides: dict[str, Any] = {"seed": config.seed}
    if config.eta is not None and name == "spectra":
        overrides["eta"] = config.eta
    fields = {f.name for f in dataclasses.fields(base)}
    return exp, make_config(exp, {k: v for k, v in overrides.items() if k in fields},
                            base=base, origin=f"suite ({name})")


def _record(out: Path, rows: list[tuple[str, str, float, str]]) -> None:
    import numpy as np
    import xarray as xr

    names = [r[0] for r in rows]
    ds = xr.Dataset({"status": ("experiment", np.array([r[1] for r in rows], dtype=str)),
                     "seconds": ("experiment", np.array([r[2] for r in rows], float))},
                    coords={"experiment": names})
    ds.attrs["errors"] = {r[0]: r[3] for r in rows if r[3]}
    write_summary(out, "suite", ds)


def run(config: SuiteConfig, out: Path, options: RunOptions) -> None:
    out = Path(out)
    rows: list[tuple[str, str, float, str]] = []
    for name in config.experiments:
        exp, sub = _config_of(config, name)
        folder = out / name
        finished = (folder / "run.json").is_file() and (folder / "report.md").is_file()
        if options.resume and finished:
            rows.append((name, "ok", 0.0, ""))
            continue
        resume = options.resume and (folder / "config.toml").is_file()
        print(f"[{name}] {'resuming' if resume else 'running'} ...", flush=True)
        start = time.perf_counter()
        try:
            report = run_experiment(exp, sub, folder, RunOptions(
                resume=resume, overwrite=not resume, progress=options.progress))
        except (Exception, ConfigError) as err:  # recorded; the others still run
            seconds = time.perf_counter() - start
            rows.append((name, "failed", seconds,
                         "".join(traceback.format_exception(err)).rstrip()))
            print(f"[{name}] FAILED after {seconds:.1f} s: {type(err).__name__}: {err}",
                  flush=True)
        else:
            seconds = time.perf_counter() - start
            rows.append((name, "ok", seconds, ""))
            print(f"[{name}] done in {seconds:.1f} s: {report}", flush=True)
        _record(out, rows)
        write_report(SUITE, config, out)  # an interrupted suite keeps what finished
    failed = [r[0] for r in rows if r[1] == "failed"]
    if failed:
        write_report(SUITE, config, out)
        raise StudyFailed(f"{len(failed)} experiment(s) failed: {', '.join(failed)}; the "
                          f"report at {out / 'report.md'} has the tracebacks")


def report(config: SuiteConfig, results: dict[str, Any], out: Path) -> ReportPart:
    ds = results["suite"]
    names = [str(n) for n in ds["experiment"].values]
    status = [str(s) for s in ds["status"].values]
    errors = dict(ds.attrs.get("errors", {}))
    lines = [markdown_table(
        ["experiment", "status", "seconds", "report", "reproduces"],
        [[n, s, f"{float(t):.1f}", f"[{n}/report.md]({n}/report.md)" if s == "ok" else "",
          get_experiment(n).reproduces]
         for n, s, t in zip(names, status, ds["seconds"].values)]), ""]
    for n, s in zip(names, status):
        lines += [f"## {n}", ""]
        if s != "ok":
            lines += ["**This experiment failed**; the others ran on. The error:", "",
                      "```text", errors.get(n, "(no traceback recorded)"), "```", ""]
            continue
        body = (out / n / "report.md").read_text().split("\n## Configuration")[0]
        body = body.split("\n", 1)[1] if body.startswith("# ") else body
        body = body.replace("\n## ", "\n### ")
        lines += [body.replace("](", f"]({n}/").replace(f"]({n}/http", "](http").strip(), ""]
    return ReportPart("\n".join(lines))


SUITE = register(Experiment(
    name="suite",
    config=SuiteConfig,
    run=run,
    report=report,
    reproduces="several experiments in one folder with one report (the default job: the "
               "small-game experiments spectra, atlas, sde, weak-error)",
    presets={"quick": {"preset": "quick"}},
    quick_runtime="1 min",
    full_runtime="5 min",
))
