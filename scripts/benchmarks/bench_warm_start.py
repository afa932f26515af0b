"""Warm starts of the `ganflow` command, measured in one run.

The `ganflow` console script next to this Python (else `python -m ganflow`) runs in new
processes. For each experiment: `ganflow run NAME --quick` twice, sharing one compilation
cache folder — cold (the folder empty) then warm (the folder filled by the cold run) — wall
and CPU time of each process, warm/cold ratios (target ≤ 0.5 where compiling dominates the
cold run; on a shared machine the CPU-time ratio is the steadier one) and
the compile share of the cold run from its `run.json` (`compile_seconds / seconds`: tracing,
lowering and compiling JAX programs). With `--off`, a third run without the cache shows what
writing the cache costs a cold run. Then the wall time of `ganflow list` and `ganflow --help`
(target ≤ 1.5 s: they import no JAX), the median of 5 processes each.

```text
python scripts/benchmarks/bench_warm_start.py                      # every experiment (~25 min)
python scripts/benchmarks/bench_warm_start.py --only sde,atlas     # a subset
python scripts/benchmarks/bench_warm_start.py --only none          # list and --help only
```

Prints a Markdown table and, last, one JSON object.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _ganflow(args: list[str], env: dict[str, str], timeout: float = 1800,
             cpu: dict | None = None) -> float:
    """Wall seconds of `python -m ganflow ARGS` in a new process (failing loudly); with `cpu`,
    its CPU seconds (user + system) go to `cpu["s"]` (less sensitive to a shared machine's
    load than wall time)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    script = Path(sys.executable).with_name("ganflow")  # the console script, where installed
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "ganflow"]
    proc = subprocess.run([*command, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is not None:
        cpu["s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"ganflow {' '.join(args)} failed ({proc.returncode}): "
                           f"{proc.stderr.strip().splitlines()[-1] if proc.stderr else ''}")
    return seconds


def _last_run(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text())["runs"][-1]


def bench_experiment(name: str, work: Path, off: bool) -> dict:
    cache = work / f"cache-{name}"
    env = {**os.environ, "GANFLOW_COMPILATION_CACHE": str(cache)}
    row = {"experiment": name}
    for tag in ("cold", "warm"):
        out = work / f"{name}-{tag}"
        cpu = {}
        row[f"{tag}_s"] = _ganflow(["run", name, "--quick", "--out", str(out), "--overwrite",
                                    "--no-progress"], env, cpu=cpu)
        row[f"{tag}_cpu_s"] = cpu["s"]
        run = _last_run(out)
        row[f"{tag}_run_s"] = run["seconds"]
        row[f"{tag}_compile_s"] = run["compile_seconds"]
        print(f"  {name} {tag}: {row[f'{tag}_s']:.1f} s, CPU {cpu['s']:.1f} s "
              f"(run {run['seconds']:.1f} s, "
              f"compiling {run['compile_seconds']:.1f} s)", file=sys.stderr, flush=True)
    if off:
        out = work / f"{name}-off"
        row["off_s"] = _ganflow(["run", name, "--quick", "--out", str(out), "--overwrite",
                                 "--no-progress", "--no-compile-cache"], env)
    row["warm_over_cold"] = row["warm_s"] / row["cold_s"]
    row["warm_over_cold_cpu"] = row["warm_cpu_s"] / row["cold_cpu_s"]
    row["cold_compile_share"] = row["cold_compile_s"] / row["cold_run_s"]
    row["cache_mb"] = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file()) / 2**20
    return row


def bench_light_commands(repeats: int = 5) -> dict:
    env = dict(os.environ)
    out = {}
    for label, args in (("list", ["list"]), ("help", ["--help"])):
        out[f"{label}_s"] = statistics.median(_ganflow(args, env) for _ in range(repeats))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default=None,
                   help="experiments, separated by commas (default: every one but suite; "
                        "'none': only list and --help)")
    p.add_argument("--off", action="store_true", help="also a run without the cache")
    ns = p.parse_args()
    sys.path.insert(0, str(ROOT))
    from ganflow.experiments import CATALOGUE

    names = [n for n in CATALOGUE if n != "suite"] if ns.only is None else [
        n.strip() for n in ns.only.split(",") if n.strip() and n.strip() != "none"]
    unknown = [n for n in names if n not in CATALOGUE]
    if unknown:
        raise SystemExit(f"unknown experiment(s): {', '.join(unknown)}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="ganflow-warm-") as tmp:
        for name in names:
            try:
                rows.append(bench_experiment(name, Path(tmp), ns.off))
            except RuntimeError as e:  # recorded; the others still run
                print(f"  {name}: {e}", file=sys.stderr, flush=True)
                rows.append({"experiment": name, "error": str(e)})
    light = bench_light_commands()
    head = "| experiment | cold (s) | warm (s) | warm / cold | CPU cold → warm (s) | " \
           "CPU warm / cold | compile share (cold) | compiling cold → warm (s) |" + (
               " no cache (s) |" if ns.off else "")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for r in rows:
        if "error" in r:
            print(f"| {r['experiment']} | failed: {r['error']} |")
            continue
        print(f"| {r['experiment']} | {r['cold_s']:.1f} | {r['warm_s']:.1f} | "
              f"{r['warm_over_cold']:.2f} | {r['cold_cpu_s']:.1f} → {r['warm_cpu_s']:.1f} | "
              f"{r['warm_over_cold_cpu']:.2f} | {100 * r['cold_compile_share']:.0f} % | "
              f"{r['cold_compile_s']:.1f} → {r['warm_compile_s']:.1f} |"
              + (f" {r['off_s']:.1f} |" if ns.off else ""))
    print(f"\nganflow list: {light['list_s']:.2f} s, ganflow --help: {light['help_s']:.2f} s "
          "(target ≤ 1.5 s)")
    print(json.dumps({"experiments": rows, **light}))


if __name__ == "__main__":
    main()
