"""The main job: `ganflow` (console script) or `python -m ganflow`.

The default run needs nothing but its name: every section in `SECTIONS`, output in
`./ganflow-output/`. Each section's figures and report fragment are written as soon as it
finishes; a failing section is recorded in the report and the others still run; the exit status
is non-zero when any section failed.
"""

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ._config import DEFAULT_OUT, RunConfig


def _sections():
    from ._sections import SECTIONS

    return SECTIONS


def _parse_sections(values: Sequence[str] | None, choices: Sequence[str],
                    parser: argparse.ArgumentParser) -> tuple[str, ...]:
    """`--only a,b --only c` → ("a", "b", "c") in the registry's order; an unknown name is an
    error that lists the choices."""
    if not values:
        return tuple(choices)
    names = [v.strip() for value in values for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in choices]
    if unknown:
        parser.error(f"unknown section {', '.join(map(repr, unknown))} "
                     f"(choose from {', '.join(choices)})")
    return tuple(c for c in choices if c in names)


def build_parser() -> argparse.ArgumentParser:
    sections = _sections()
    listing = "\n".join(f"  {s.name:<12} {s.description}" for s in sections.values())
    parser = argparse.ArgumentParser(
        prog="ganflow",
        description="GAN training as a dynamical system: runs the report sections and writes "
                    "report.md and PNG figures into an output folder.",
        epilog=f"sections (default: all, in this order):\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                        help=f"output folder (default: ./{DEFAULT_OUT}/)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: small step counts and grids everywhere")
    parser.add_argument("--only", action="append", metavar="SECTION",
                        help="run only these sections (repeat the flag or separate by commas)")
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed (default: 0)")
    parser.add_argument("--eta", type=float, default=RunConfig.eta,
                        help="learning rate h of the discrete schemes in the spectra section "
                             f"(default: {RunConfig.eta})")
    return parser


def parse_config(argv: Sequence[str] | None = None) -> RunConfig:
    """The `RunConfig` of a command line (argparse exits with status 2 on a typo)."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    sections = _parse_sections(ns.only, list(_sections()), parser)
    try:
        return RunConfig(out=ns.out, sections=sections, quick=ns.quick, seed=ns.seed,
                         eta=ns.eta)
    except ValueError as err:
        parser.error(str(err))


def run(config: RunConfig) -> int:
    """Runs the sections of `config` in order; returns the exit status (0: all succeeded)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    from ._report import Report

    sections = _sections()
    report = Report(config)
    print(f"ganflow: writing {report.path}", flush=True)
    for name in config.sections:
        section = sections[name]
        out_dir = Path(config.out)
        print(f"[{name}] running ...", flush=True)
        start = time.perf_counter()
        try:
            result = section.run(config, out_dir)
        except Exception as err:  # record it and carry on with the other sections
            seconds = time.perf_counter() - start
            report.add(name, section.title, seconds, error=err)
            print(f"[{name}] FAILED after {seconds:.1f} s: {type(err).__name__}: {err}",
                  file=sys.stderr, flush=True)
            continue
        seconds = time.perf_counter() - start
        report.add(name, section.title, seconds, result=result)
        print(f"[{name}] done in {seconds:.1f} s", flush=True)
        for fig in result.figures:
            print(f"  figure: {fig}", flush=True)
    print(f"ganflow: report at {report.path.resolve()}", flush=True)
    print(f"ganflow: figures in {report.out.resolve()}", flush=True)
    if report.failed:
        print(f"ganflow: {len(report.failed)} section(s) failed: {', '.join(report.failed)}",
              file=sys.stderr, flush=True)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `ganflow` console script."""
    return run(parse_config(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
