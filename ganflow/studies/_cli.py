"""The `ganflow` command (console script; also `python -m ganflow`) and `scripts/run_*.py`:
one parser.

```text
ganflow [--quick] [--only NAME] [--out DIR]   the default job: ganflow run suite
ganflow list                             the built-in studies, a line each
ganflow show NAME [--preset P]           its presets, fields and config as TOML, ready to edit
ganflow run NAME|FILE.toml|STUDY.py|module:NAME [--quick] [--preset P] [--seeds N]
            [--set key=value ...] [--out DIR] [--overwrite] [--resume] [--progress]
            [--no-compile-cache]
            [--cpu-devices N] [--coordinator HOST:PORT --num-processes P --process-id I]
ganflow resume DIR                       finish an interrupted run (bitwise as if uninterrupted)
ganflow report DIR                       rewrite report.md and figures from DIR/results.zarr
```

Bad input (an unknown study or key, a wrong type, a missing file, an unwritable or occupied
folder, a folder with no run) is one line on stderr and exit status 2; nothing already saved is
touched. A warning is one line on stderr (`ganflow: warning: ...`), once. A thin layer over
`argparse` and the studies' dataclasses: every value, from `--set` or a TOML file, is
type-checked against its dataclass field. `list` and `--help` do not import JAX. `run` and
`resume` keep JAX's compiled programs in the persistent compilation cache
(`ganflow.enable_compilation_cache`; `--no-compile-cache` or `GANFLOW_COMPILATION_CACHE=0` turns
it off).
"""

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from ._registry import ConfigError, RunOptions, StudyFailed

DEFAULT_OUT = Path("ganflow-output")
COMMANDS = ("list", "show", "run", "resume", "report")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2
        self.exit(2, f"ganflow: error: {message} (ganflow {self.prog.split()[-1]} --help)\n"
                  if self.prog != "ganflow" else f"ganflow: error: {message}\n")


def _x64():
    import jax

    jax.config.update("jax_enable_x64", True)


# ---------------------------------------------------------------------------------------------
# subcommands


def _cmd_list(ns) -> int:
    """The built-in studies from the static catalogue (no import of JAX or of the experiments),
    then any other study registered in this process."""
    from ganflow.experiments import CATALOGUE

    from . import _registry

    rows = [(name, e.quick_runtime, e.reproduces) for name, e in CATALOGUE.items()]
    rows += [(name, exp.quick_runtime, exp.reproduces)
             for name, exp in _registry.REGISTRY.items() if name not in CATALOGUE]
    width = max(len(r[0]) for r in rows)
    print(f"{'name':<{width}}  {'quick run':>10}  reproduces")
    for name, quick, reproduces in rows:
        print(f"{name:<{width}}  {quick:>10}  {reproduces}")
    print("(ganflow show NAME: its presets and config; ganflow run NAME --quick: a quick run)")
    return 0


def _cmd_show(ns) -> int:
    from ._registry import get_experiment
    from ._runner import describe_experiment

    exp = get_experiment(ns.name)
    sys.stdout.write(describe_experiment(exp, "quick" if ns.quick else ns.preset))
    return 0


def _resolve(ns):
    """(experiment, config) from NAME, FILE.toml, path/to/study.py or module:NAME, the preset,
    --seeds and --set."""
    from ._registry import get_experiment, load_study, load_toml, make_config, parse_set

    target = ns.target
    values = {}
    if target.endswith(".toml"):
        exp, values = load_toml(Path(target))
    elif target.split(":")[0].endswith(".py") or (":" in target and not Path(target).exists()):
        exp = load_study(target)
    else:
        exp = get_experiment(target)
    preset = "quick" if ns.quick else ns.preset
    config = exp.preset(preset)
    if values:
        config = make_config(exp, values, base=config, origin=target)
    overrides = parse_set(ns.set)
    if ns.seeds is not None:
        overrides["seeds"] = ns.seeds
    if overrides:
        config = make_config(exp, overrides, base=config, origin="--set")
    return exp, config


def _devices(ns) -> None:
    """--cpu-devices (before jax starts) and --coordinator (jax.distributed)."""
    if getattr(ns, "cpu_devices", None) is not None:
        if ns.cpu_devices < 1:
            raise ConfigError(f"--cpu-devices must be >= 1, got {ns.cpu_devices}")
        if "jax" in sys.modules and "jax._src.xla_bridge" in sys.modules:
            import jax

            if jax._src.xla_bridge.backends_are_initialized():  # noqa: SLF001
                raise ConfigError("--cpu-devices must be set before jax starts")
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   f" --xla_force_host_platform_device_count={ns.cpu_devices}")
    if getattr(ns, "coordinator", None) is not None:
        if ns.num_processes is None or ns.process_id is None:
            raise ConfigError("--coordinator needs --num-processes and --process-id")
        import jax

        if jax.default_backend() == "cpu":
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=ns.coordinator,
                                   num_processes=ns.num_processes, process_id=ns.process_id)


def _warm_start(ns) -> str:
    """Turns on the persistent compilation cache unless --no-compile-cache or
    GANFLOW_COMPILATION_CACHE=0; returns a few words saying where it is."""
    from .._cache import enable_compilation_cache

    if getattr(ns, "no_compile_cache", False):
        return "compilation cache off"
    try:
        folder = enable_compilation_cache()
    except ValueError as e:  # a broken cache folder never stops a run
        warnings.warn(f"{e}; running without the compilation cache", stacklevel=1)
        return "compilation cache off"
    return "compilation cache off" if folder is None else f"compilation cache {folder}"


def _where(out: Path) -> list[str]:
    """The lines that say where a run's results are and how to load them."""
    from ._registry import result_groups

    store = out / "results.zarr"
    return [f"  folder:  {out}",
            f"  report:  {out / 'report.md'}",
            f"  groups:  {', '.join(result_groups(out)) or '(none)'}",
            f"  load:    xarray.open_datatree({json.dumps(str(store))}, engine=\"zarr\")"]


def _finished(out: Path, name: str) -> bool:
    """Says so and returns True when `out` holds a finished run (nothing to resume)."""
    from ._registry import finished_run

    done = finished_run(out)
    if done is None or not (out / "report.md").is_file():
        return False
    print(f"ganflow: {out} holds a finished run of {done.get('experiment') or name} "
          f"(finished {done.get('finished', '?')}); nothing to resume. `ganflow report {out}` "
          f"rewrites its report; `ganflow run {out / 'config.toml'} --out {out} --overwrite` "
          "runs it again.")
    print("\n".join(_where(out)))
    return True


def _took(seconds: float, out: Path) -> str:
    from ._registry import finished_run

    done = finished_run(out) or {}
    compiling = done.get("compile_seconds")
    return f"{seconds:.1f} s" + (f" (compiling {compiling:.1f} s)" if compiling is not None
                                 else "")


def _cmd_run(ns) -> int:
    from ._registry import load_toml, make_config

    _devices(ns)
    exp, config = _resolve(ns)
    out = Path(ns.out) if ns.out is not None else Path("ganflow-runs") / exp.name
    resume = False
    if ns.resume and (out / "config.toml").is_file():
        saved_exp, saved = load_toml(out / "config.toml")
        if saved_exp.name != exp.name or make_config(saved_exp, saved) != config:
            raise ConfigError(f"{out} holds another run ({saved_exp.name}, another config); "
                              "choose another --out or pass --overwrite")
        resume = True
        if _finished(out, exp.name):
            return 0
    cache = _warm_start(ns)
    _x64()
    import jax

    from ._runner import run_experiment

    lead = jax.process_index() == 0
    if lead:
        print(f"ganflow: {'resuming' if resume else 'running'} {exp.name} into {out}"
              + (f" on {jax.device_count()} device(s), {jax.process_count()} process(es)"
                 if jax.device_count() > 1 else "") + f"; {cache}", flush=True)
    start = time.perf_counter()
    run_experiment(exp, config, out, RunOptions(
        resume=resume, overwrite=ns.overwrite and not resume, progress=ns.progress))
    if lead:
        print(f"ganflow: {exp.name} done in {_took(time.perf_counter() - start, out)}")
        print("\n".join(_where(out)))
    return 0


def _cmd_resume(ns) -> int:
    out = Path(ns.dir)
    if _finished(out, "a study"):  # before importing the study: at once
        return 0
    from ._runner import read_run, resume_run

    exp, _ = read_run(out)
    cache = _warm_start(ns)
    _x64()
    print(f"ganflow: resuming {exp.name} in {out}; {cache}", flush=True)
    start = time.perf_counter()
    resume_run(out, progress=ns.progress)
    print(f"ganflow: {exp.name} done in {_took(time.perf_counter() - start, out)}")
    print("\n".join(_where(out)))
    return 0


def _cmd_report(ns) -> int:
    from ._registry import consolidate_results, finished_run
    from ._runner import read_run, write_report

    exp, config = read_run(Path(ns.dir))
    _x64()
    if finished_run(Path(ns.dir)) is not None:  # a folder written before the tree had a root
        consolidate_results(Path(ns.dir))
    write_report(exp, config, Path(ns.dir))
    print(f"ganflow: {exp.name} report rewritten")
    print("\n".join(_where(Path(ns.dir))))
    return 0


def _add_run_arguments(r: argparse.ArgumentParser, *, target: bool = True) -> None:
    if target:
        r.add_argument("target", metavar="NAME|FILE.toml|STUDY.py|module:NAME")
    r.add_argument("--quick", action="store_true", help="the quick preset (≤ 2 min on 2 cores)")
    r.add_argument("--preset", default="default")
    r.add_argument("--seeds", type=int, default=None, help="number of seeds")
    r.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key")
    r.add_argument("--out", default=None, metavar="DIR",
                   help="run folder (default: ganflow-runs/NAME)")
    r.add_argument("--overwrite", action="store_true", help="replace a finished run in DIR")
    r.add_argument("--resume", action="store_true",
                   help="continue the run in DIR if it holds this config (re-submitting the "
                        "same command on a cluster)")
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: on a terminal)")
    r.add_argument("--no-compile-cache", action="store_true",
                   help="do not use the persistent compilation cache (also: "
                        "GANFLOW_COMPILATION_CACHE=0)")
    g = r.add_argument_group("devices and hosts (seeds are sharded over every device)")
    g.add_argument("--cpu-devices", type=int, default=None, metavar="N",
                   help="N CPU devices (one per core), set before jax starts")
    g.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="process 0 of a multi-host job (jax.distributed)")
    g.add_argument("--num-processes", type=int, default=None)
    g.add_argument("--process-id", type=int, default=None)


def _epilog() -> str:
    from .._cache import CACHE_ENV, default_compilation_cache_dir

    return (
        "Without a command, `ganflow [--quick] [--only NAME,...] [--out DIR]` runs the suite of\n"
        "small-game experiments (spectra, atlas, sde, weak-error) into ganflow-output/.\n\n"
        "examples:\n"
        "  ganflow list                            the built-in studies\n"
        "  ganflow show mog                        presets, fields and defaults of mog\n"
        "  ganflow run mog --quick --out runs/mog  a quick run into runs/mog\n"
        "  ganflow resume runs/mog                 finish it after an interruption\n"
        "  ganflow report runs/mog                 rewrite runs/mog/report.md\n\n"
        "Each run prints its folder, its result groups and the line that loads them:\n"
        "  xarray.open_datatree(\"runs/mog/results.zarr\", engine=\"zarr\")\n\n"
        "Warm starts: `run` and `resume` keep compiled programs in "
        f"{default_compilation_cache_dir()}\n"
        f"({CACHE_ENV}=0 or --no-compile-cache turns it off).\n"
        "`ganflow COMMAND --help` gives a command's options."
    )


def build_parser() -> argparse.ArgumentParser:
    """The one parser of the `ganflow` command and of `scripts/run_*.py`."""
    p = _Parser(
        prog="ganflow",
        description="ganflow: GAN training as a dynamical system. Run, resume and report "
                    "ganflow's studies (each reproduces a paper's result) or your own.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND",
                           title="commands")
    sub.add_parser("list", help="the built-in studies, a line each: name, quick-run time, "
                                "what it reproduces")
    s = sub.add_parser("show", help="a study's presets (a line each), its config fields "
                                    "(type, default) and its config as TOML, ready to edit")
    s.add_argument("name")
    s.add_argument("--preset", default="default")
    s.add_argument("--quick", action="store_true", help="the quick preset")
    r = sub.add_parser("run", help="run a study: NAME, FILE.toml, path/to/study.py or "
                                   "module:NAME; prints the folder, groups and load line")
    _add_run_arguments(r)
    m = sub.add_parser("resume", help="finish an interrupted run (a finished one: says so)")
    m.add_argument("dir")
    m.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    m.add_argument("--no-compile-cache", action="store_true",
                   help="do not use the persistent compilation cache")
    t = sub.add_parser("report", help="rewrite DIR/report.md and figures from the results")
    t.add_argument("dir")
    return p


def _suite_argv(argv: Sequence[str]) -> list[str]:
    """`ganflow [--out DIR] [--quick] [--only NAME ...] [--seed N] [--eta H]` as
    `ganflow run suite ...` (the default job is the study `suite`)."""
    p = _Parser(prog="ganflow", description="The default job: ganflow run suite (see "
                "ganflow --help for the commands).")
    p.add_argument("--out", default=str(DEFAULT_OUT), metavar="DIR",
                   help=f"output folder (default: ./{DEFAULT_OUT}/)")
    p.add_argument("--quick", action="store_true", help="the quick preset everywhere")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="run only these experiments (repeat or separate by commas)")
    p.add_argument("--seed", type=int, default=None, help="PRNG seed (default: 0)")
    p.add_argument("--eta", type=float, default=None,
                   help="learning rate h of the spectra experiment")
    p.add_argument("--no-compile-cache", action="store_true",
                   help="do not use the persistent compilation cache")
    ns = p.parse_args(argv)
    out = ["run", "suite", "--out", ns.out, "--overwrite"]
    if ns.no_compile_cache:
        out.append("--no-compile-cache")
    if ns.quick:
        out += ["--set", "preset=quick"]
    if ns.only:
        wanted = [v.strip() for value in ns.only for v in value.split(",") if v.strip()]
        out += ["--set", "experiments=" + ",".join(wanted)]
    if ns.seed is not None:
        out += ["--set", f"seed={ns.seed}"]
    if ns.eta is not None:
        out += ["--set", f"eta={ns.eta!r}"]
    return out


def _one_line_warning(seen: set[str]):
    """A `warnings.showwarning` that writes each distinct warning once, as one line on stderr:
    `ganflow: warning: TEXT` (no source line, no file name)."""

    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        text = text.removeprefix("ganflow: ")
        if category is not UserWarning:
            text = f"{category.__name__}: {text}"
        if text in seen:
            return
        seen.add(text)
        try:
            print(f"ganflow: warning: {text}", file=sys.stderr if file is None else file,
                  flush=True)
        except OSError:
            pass

    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `ganflow` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if not argv or argv[0] not in COMMANDS + ("-h", "--help"):
            argv = _suite_argv(argv)
        ns = build_parser().parse_args(argv)
        if ns.command is None:
            build_parser().print_help()
            return 0
        handler = {"list": _cmd_list, "show": _cmd_show, "run": _cmd_run,
                   "resume": _cmd_resume, "report": _cmd_report}[ns.command]
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning(set())
            return handler(ns)
    except BrokenPipeError:  # `ganflow list | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except StudyFailed as err:
        print(f"ganflow: {err}", file=sys.stderr)
        return 1
    except (ConfigError, ValueError, OSError) as err:
        print(f"ganflow: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ganflow: interrupted; finished work is saved (ganflow resume DIR continues a "
              "run)", file=sys.stderr)
        return 130


def batch_main(name: str, argv: Sequence[str] | None = None) -> int:
    """`scripts/run_<name>.py`: `ganflow run NAME` with the same parser and options (the
    devices and hosts included)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        return main(["run", "--help"])
    return main(["run", name, *argv])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
