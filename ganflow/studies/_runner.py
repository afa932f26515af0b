"""Running, resuming and reporting registered experiments in run folders."""

import dataclasses
import datetime
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from ..engine import atomic_write_bytes
from ._registry import (
    ConfigError,
    Experiment,
    RunOptions,
    check_folder,
    config_to_toml,
    consolidate_results,
    finished_run,
    load_toml,
    make_config,
    open_results,
    save_config,
)
from ._report import markdown_table


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def run_experiment(experiment: Experiment, config: Any, out: Path,
                   options: RunOptions | None = None) -> Path:
    """Runs `experiment` with `config` into the folder `out` (see `_registry`) and writes its
    report. Returns the report's path. Resuming a run that has finished computes nothing (the
    report is rewritten only when it is missing)."""
    out = Path(out)
    options = RunOptions() if options is None else options
    if options.resume:
        saved = out / "config.toml"
        if not saved.is_file():
            raise ConfigError(f"{out} holds no ganflow run to resume (no config.toml)")
        exp_saved, values = load_toml(saved)
        if exp_saved.name != experiment.name:
            raise ConfigError(f"{out} holds a run of {exp_saved.name}, not {experiment.name}")
        if make_config(exp_saved, values) != config:
            raise ConfigError(f"{out} holds a run of {experiment.name} with another config; "
                              "resume it with ganflow resume DIR or choose another --out")
        if finished_run(out) is not None:
            report = out / "report.md"
            return report if report.is_file() else write_report(experiment, config, out)
    import jax

    from .._cache import CompileClock

    lead = jax.process_index() == 0  # several processes (jax.distributed): one writes the files
    if lead:
        check_folder(out, overwrite=options.overwrite, resume=options.resume)
        if not options.resume:
            (out / "run.json").unlink(missing_ok=True)  # a fresh run: no finished run yet
        save_config(experiment, config, out)
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices("ganflow-run-folder")
    started = time.perf_counter()
    with CompileClock() as clock:
        experiment.run(config, out, options)
    seconds = time.perf_counter() - started
    if not lead:
        return out / "report.md"
    consolidate_results(out)
    meta = out / "run.json"
    previous = json.loads(meta.read_text()) if meta.is_file() else {}
    cache = jax.config.jax_compilation_cache_dir if jax.config.jax_enable_compilation_cache \
        else None
    runs = previous.get("runs", []) + [{
        "finished": _now(), "seconds": round(seconds, 2),
        "compile_seconds": round(min(clock.seconds, seconds), 2), "resumed": options.resume,
        "compilation_cache": cache}]
    atomic_write_bytes(meta, json.dumps({"experiment": experiment.name, "runs": runs},
                                        indent=1).encode())
    return write_report(experiment, config, out)


def read_run(out: Path) -> tuple[Experiment, Any]:
    """(experiment, config) of a run folder."""
    out = Path(out)
    if not out.is_dir():
        raise ConfigError(f"{out} is not a folder")
    saved = out / "config.toml"
    if not saved.is_file():
        raise ConfigError(f"{out} holds no ganflow run (no config.toml)")
    experiment, values = load_toml(saved)
    return experiment, make_config(experiment, values, origin=str(saved))


def resume_run(out: Path, progress: bool | None = None) -> Path:
    """Finishes the interrupted run in the folder `out` (bitwise as if uninterrupted) and writes
    its report; a finished run is left as it is. Returns the report's path."""
    experiment, config = read_run(out)
    return run_experiment(experiment, config, out, RunOptions(resume=True, progress=progress))


def _provenance(results: dict[str, Any]) -> list[str]:
    lines = []
    for name, ds in results.items():
        attrs = ds.attrs
        if "ganflow_version" not in attrs:
            continue
        status = ""
        if "status" in ds:
            import numpy as np

            from ..engine import RESULTS

            counts = RESULTS.summary(np.asarray(ds["status"].values))
            status = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
        lines.append(
            f"- `{name or 'results'}`: ganflow {attrs.get('ganflow_version')}, jax "
            f"{attrs.get('jax_version')}, backend {attrs.get('backend')} "
            f"({len(attrs.get('devices', []))} device(s)), {attrs.get('start_time')} → "
            f"{attrs.get('end_time') or 'unfinished'}" + (f"; outcomes: {status}" if status
                                                           else "")
        )
    return lines


def _run_times(out: Path) -> list[str]:
    """A provenance line per finished run: wall time and the part spent compiling."""
    meta = Path(out) / "run.json"
    try:
        runs = json.loads(meta.read_text()).get("runs", []) if meta.is_file() else []
    except ValueError:
        return []
    lines = []
    for run in runs:
        seconds, compiling = run.get("seconds"), run.get("compile_seconds")
        took = f"{seconds:.1f} s" if seconds is not None else "?"
        if compiling is not None and seconds:
            took += (f", of which compiling {compiling:.1f} s "
                     f"({100 * compiling / seconds:.0f} %)")
        cache = ("compilation cache on" if run.get("compilation_cache") else
                 "compilation cache off" if "compilation_cache" in run else None)
        lines.append(f"- {'resumed' if run.get('resumed') else 'run'} finished "
                     f"{run.get('finished', '?')}: {took}" + (f"; {cache}" if cache else ""))
    return lines


def write_report(experiment: Experiment, config: Any, out: Path) -> Path:
    """Rewrites `out/report.md` and the figures from the saved results (no recomputation)."""
    out = Path(out)
    results = open_results(out)
    part = experiment.report(config, results, out)
    rows = [[f.name, f"`{getattr(config, f.name)!r}`"] for f in dataclasses.fields(config)]
    text = [
        f"# {experiment.name}",
        "",
        f"Reproduces: {experiment.reproduces}",
        "",
        part.markdown.strip(),
        "",
    ]
    if part.figures:
        text += ["## Figures", ""]
        for fig in part.figures:  # links relative to report.md, for any --out
            rel = Path(os.path.relpath(Path(fig).resolve(), out.resolve()))
            text += [f"![{rel.stem}]({rel.as_posix()})", ""]
    text += [
        "## Configuration",
        "",
        markdown_table(["key", "value"], rows),
        "",
        "Labelled results, every group at once: `xarray.open_datatree(\"results.zarr\", "
        "engine=\"zarr\")` in this folder (groups: "
        + ", ".join(f"`{g}`" for g in results if g) + "); one group: "
        "`xarray.open_zarr(\"results.zarr/<group>\")`. `ganflow report DIR` rewrites this "
        "report from them, `ganflow resume DIR` finishes an interrupted run.",
        "",
        "## Provenance",
        "",
        *_run_times(out),
        *(_provenance(results) or ["- (no engine results)"]),
        "",
    ]
    path = out / "report.md"
    atomic_write_bytes(path, "\n".join(text).encode())
    return path


def show_config(experiment: Experiment, preset: str = "default") -> str:
    """The config of `experiment` with `preset` applied (default `"default"`: the config's own
    defaults) as documented TOML, what `ganflow show NAME --preset P` prints."""
    return config_to_toml(experiment, experiment.preset(preset),
                          None if preset == "default" else preset)


def describe_experiment(experiment: Experiment, preset: str = "default") -> str:
    """What `ganflow show NAME` prints: what the experiment reproduces, its run times, its
    presets with a line each (what each changes), then the config of `preset` as TOML with
    every field's meaning, type and default (all description in TOML comments: the output is
    a config file, ready to edit and pass to `ganflow run`)."""
    from ._registry import _toml_value

    config = experiment.preset(preset)
    names = ["default", *experiment.presets]
    width = max(len(n) for n in names)
    lines = [
        f"# run time: --quick {experiment.quick_runtime}, default {experiment.full_runtime} "
        "(2 CPU cores)",
        "#",
        f"# presets (ganflow run {experiment.name} --preset NAME; --quick is --preset quick):",
        f"#   {'default':<{width}}  the defaults below",
    ]
    for name, values in experiment.presets.items():
        changes = ", ".join(f"{k} = {_toml_value(v)}" for k, v in values.items())
        lines.append(f"#   {name:<{width}}  {changes or 'the defaults'}")
    lines += ["#", "# each key below: its meaning [its type; its default where this preset "
              "differs]", ""]
    toml = config_to_toml(experiment, config, None if preset == "default" else preset,
                          annotate=True)
    head, rest = toml.split("\n", 1)  # the experiment's line first
    return head + "\n" + "\n".join(lines) + "\n" + rest


def checkpoint_interval(num_steps: int, save_every: int, count: int = 8) -> int:
    """Steps between a study's checkpoints: a multiple of `save_every` giving at most about
    `count` checkpoints over `num_steps` steps (at least one save interval), the rule every
    built-in experiment uses for `RunFolder(checkpoint_every=...)`."""
    saves = max(1, num_steps // save_every)
    return save_every * max(1, math.ceil(saves / count))
