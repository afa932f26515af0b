"""The `ganflow` command (console script; also `python -m ganflow`).

```text
ganflow                                  the main job: spectra, atlas, sde, weak-error
ganflow list                             the registered experiments
ganflow show NAME [--preset P]           a config as TOML, ready to edit
ganflow run NAME|FILE.toml [--quick] [--preset P] [--seeds N] [--set key=value ...]
                           [--out DIR] [--overwrite] [--progress | --no-progress]
ganflow resume DIR                       finish an interrupted run (bitwise as if uninterrupted)
ganflow report DIR                       rewrite report.md and figures from DIR/results.zarr
```

Bad input (an unknown experiment or key, a wrong type, a missing file, an unwritable or
occupied folder, a folder with no run) is one line on stderr and exit status 2; nothing already
saved is touched. A thin layer over `argparse` and the experiments' dataclasses: every value is
type-checked against its dataclass field.
"""

import argparse
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from ._registry import ConfigError, RunOptions

DEFAULT_OUT = Path("ganflow-output")
COMMANDS = ("list", "show", "run", "resume", "report")
MAIN_JOB = ("spectra", "atlas", "sde", "weak-error")


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
    from ._registry import experiments

    exps = experiments()
    width = max(len(n) for n in exps)
    print(f"{'name':<{width}}  {'quick run':>10}  reproduces")
    for name, exp in exps.items():
        print(f"{name:<{width}}  {exp.quick_runtime:>10}  {exp.reproduces}")
    return 0


def _cmd_show(ns) -> int:
    from ._registry import get_experiment
    from ._runner import show_config

    exp = get_experiment(ns.name)
    sys.stdout.write(show_config(exp, "quick" if ns.quick else ns.preset))
    return 0


def _resolve(ns):
    """(experiment, config) from NAME or FILE.toml, preset, --seeds and --set."""
    from ._registry import get_experiment, load_toml, make_config, parse_set

    target = ns.target
    values = {}
    if target.endswith(".toml") or Path(target).is_file():
        exp, values = load_toml(Path(target))
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


def _cmd_run(ns) -> int:
    from ._runner import run_experiment

    exp, config = _resolve(ns)
    out = Path(ns.out) if ns.out is not None else Path("ganflow-runs") / exp.name
    _x64()
    print(f"ganflow: running {exp.name} into {out}", flush=True)
    start = time.perf_counter()
    path = run_experiment(exp, config, out, RunOptions(overwrite=ns.overwrite,
                                                       progress=ns.progress))
    print(f"ganflow: {exp.name} done in {time.perf_counter() - start:.1f} s; report at {path}")
    return 0


def _cmd_resume(ns) -> int:
    from ._runner import read_run, resume_run

    exp, _ = read_run(Path(ns.dir))
    _x64()
    print(f"ganflow: resuming {exp.name} in {ns.dir}", flush=True)
    path = resume_run(Path(ns.dir), progress=ns.progress)
    print(f"ganflow: report at {path}")
    return 0


def _cmd_report(ns) -> int:
    from ._runner import read_run, write_report

    exp, config = read_run(Path(ns.dir))
    _x64()
    path = write_report(exp, config, Path(ns.dir))
    print(f"ganflow: report at {path}")
    return 0


def build_subparser() -> argparse.ArgumentParser:
    p = _Parser(prog="ganflow", description="GAN training as a dynamical system: experiments.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="the registered experiments")
    s = sub.add_parser("show", help="an experiment's config as TOML")
    s.add_argument("name")
    s.add_argument("--preset", default="default")
    s.add_argument("--quick", action="store_true", help="the quick preset")
    r = sub.add_parser("run", help="run an experiment (NAME or FILE.toml)")
    r.add_argument("target", metavar="NAME|FILE.toml")
    r.add_argument("--quick", action="store_true", help="the quick preset (≤ 2 min on 2 cores)")
    r.add_argument("--preset", default="default")
    r.add_argument("--seeds", type=int, default=None, help="number of seeds")
    r.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key")
    r.add_argument("--out", default=None, metavar="DIR",
                   help="run folder (default: ganflow-runs/NAME)")
    r.add_argument("--overwrite", action="store_true", help="replace a finished run in DIR")
    for q in (r,):
        q.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="progress bar (default: on a terminal)")
    m = sub.add_parser("resume", help="finish an interrupted run")
    m.add_argument("dir")
    m.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    t = sub.add_parser("report", help="rewrite DIR/report.md and figures from the results")
    t.add_argument("dir")
    return p


# ---------------------------------------------------------------------------------------------
# the main job


def build_parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {n}" for n in MAIN_JOB)
    parser = _Parser(
        prog="ganflow",
        description="GAN training as a dynamical system. Without a command: the main job runs "
                    "the experiments below (default presets) and writes OUT/report.md linking "
                    "each experiment's own report. Commands: " + ", ".join(COMMANDS)
                    + " (ganflow list shows every experiment).",
        epilog=f"main-job experiments (default: all, in this order):\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                        help=f"output folder (default: ./{DEFAULT_OUT}/)")
    parser.add_argument("--quick", action="store_true", help="the quick preset everywhere")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only these experiments (repeat or separate by commas)")
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed (default: 0)")
    parser.add_argument("--eta", type=float, default=None,
                        help="learning rate h of the spectra experiment")
    return parser


def _main_job(argv: Sequence[str]) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    names = list(MAIN_JOB)
    if ns.only:
        wanted = [v.strip() for value in ns.only for v in value.split(",") if v.strip()]
        unknown = [w for w in wanted if w not in MAIN_JOB]
        if unknown:
            parser.error(f"unknown experiment {', '.join(map(repr, unknown))} "
                         f"(choose from {', '.join(MAIN_JOB)})")
        names = [n for n in MAIN_JOB if n in wanted]
    if ns.seed < 0:
        parser.error(f"--seed must be >= 0, got {ns.seed}")
    from .._checks import ensure_writable_folder
    from ..engine import atomic_write_bytes
    from ._registry import check_folder, get_experiment, make_config
    from ._runner import run_experiment

    out = Path(ns.out)
    try:
        ensure_writable_folder(out)
    except ValueError as e:
        parser.error(str(e))
    _x64()
    rows, failed = [], []
    print(f"ganflow: main job into {out}", flush=True)
    for name in names:
        exp = get_experiment(name)
        config = exp.preset("quick" if ns.quick else "default")
        overrides = {"seed": ns.seed}
        if ns.eta is not None and name == "spectra":
            overrides["eta"] = ns.eta
        try:
            config = make_config(exp, overrides, base=config, origin="command line")
        except ConfigError as e:
            parser.error(str(e))
        folder = out / name
        print(f"[{name}] running ...", flush=True)
        start = time.perf_counter()
        try:
            check_folder(folder, overwrite=True, resume=False)
            report = run_experiment(exp, config, folder, RunOptions(overwrite=True))
        except Exception as err:  # record it and carry on with the others
            seconds = time.perf_counter() - start
            failed.append(name)
            text = "".join(traceback.format_exception(err)).rstrip()
            rows.append((name, exp, seconds, None, text))
            print(f"[{name}] FAILED after {seconds:.1f} s: {type(err).__name__}: {err}",
                  file=sys.stderr, flush=True)
            continue
        seconds = time.perf_counter() - start
        rows.append((name, exp, seconds, report, None))
        print(f"[{name}] done in {seconds:.1f} s: {report}", flush=True)
        # rewritten after every experiment: an interrupted main job keeps what finished
        atomic_write_bytes(out / "report.md", _main_report(rows, ns).encode())
    atomic_write_bytes(out / "report.md", _main_report(rows, ns).encode())
    print(f"ganflow: report at {(out / 'report.md').resolve()}", flush=True)
    if failed:
        print(f"ganflow: {len(failed)} experiment(s) failed: {', '.join(failed)}",
              file=sys.stderr, flush=True)
        return 1
    return 0


def _main_report(rows, ns) -> str:
    import platform

    import jax

    from ._report import markdown_table

    lines = [
        "# ganflow report",
        "",
        f"Main job on {platform.node() or 'this host'} (Python {platform.python_version()}, "
        f"jax {jax.__version__}, {jax.default_backend()} backend); "
        f"{'quick presets' if ns.quick else 'default presets'}, seed {ns.seed}.",
        "",
        "Conventions (stated in full in each report; derived in the ganflow repository's "
        "docs/conventions.md): the state is x = (θ, ω), generator first; the field is "
        "b0 = (−∇_θΦ, +∇_ωΦ) and J = ∂b0/∂x its Jacobian; simultaneous GD is x ← x + h b0, "
        "alternating GD moves the discriminator first.",
        "",
        markdown_table(
            ["experiment", "status", "seconds", "report", "reproduces"],
            [[n, "failed" if err else "ok", f"{s:.1f}",
              "" if rep is None else f"[{n}/report.md]({n}/report.md)", exp.reproduces]
             for n, exp, s, rep, err in rows]),
        "",
    ]
    for n, _exp, _s, rep, err in rows:
        lines += [f"## {n}", ""]
        if err:
            lines += ["**This experiment failed**; the others ran on. The error:", "",
                      "```text", err, "```", ""]
            continue
        body = Path(rep).read_text().split("\n## Configuration")[0]
        body = body.split("\n", 1)[1] if body.startswith("# ") else body
        lines += [body.replace("](", f"]({n}/").replace(f"]({n}/http", "](http").strip(), ""]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `ganflow` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in COMMANDS:
            ns = build_subparser().parse_args(argv)
            handler = {"list": _cmd_list, "show": _cmd_show, "run": _cmd_run,
                       "resume": _cmd_resume, "report": _cmd_report}[ns.command]
            return handler(ns)
        return _main_job(argv)
    except BrokenPipeError:  # `ganflow list | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ConfigError, ValueError, OSError) as err:
        print(f"ganflow: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ganflow: interrupted; finished work is saved (ganflow resume DIR continues a "
              "run)", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
