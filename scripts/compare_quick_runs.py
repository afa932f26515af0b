"""Runs every registered experiment's quick preset with this checkout and with an older commit,
and compares the data variables of their `results.zarr` stores bitwise.

    python scripts/compare_quick_runs.py --before COMMIT [--out DIR] [--only NAME ...]

The older commit is checked out in a temporary git worktree and run with its own code
(`python -m ganflow run NAME --quick`), each experiment in a fresh process, one after the other
(the two cores are never shared between the two checkouts). A run folder already present under
`DIR/before/NAME` or `DIR/after/NAME` is reused. The table lists, per experiment and group, the
data variables compared, those that differ (with the largest absolute difference) and those
present on one side only. Exit status 1 when anything differs.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]


def _experiments(src: Path) -> list[str]:
    out = subprocess.run([sys.executable, "-m", "ganflow", "list"], cwd=src, check=True,
                         capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(src)}).stdout
    return [line.split()[0] for line in out.splitlines()[1:] if line.strip()]


def _run(src: Path, name: str, out: Path) -> None:
    if (out / "results.zarr").is_dir() and (out / "report.md").is_file():
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "ganflow", "run", name, "--quick", "--out", str(out),
           "--overwrite"]
    print(f"  {src.name}: {' '.join(cmd[2:])}", flush=True)
    subprocess.run(cmd, cwd=src, check=True, env={**os.environ, "PYTHONPATH": str(src)},
                   stdout=subprocess.DEVNULL)


def _groups(store: Path) -> dict[str, xr.Dataset]:
    out = {}
    for sub in sorted(p for p in store.iterdir() if (p / "zarr.json").is_file()):
        out[sub.name] = xr.open_zarr(sub)
    return out


def _max_diff(a: np.ndarray, b: np.ndarray) -> str:
    if a.shape != b.shape:
        return f"shape {a.shape} vs {b.shape}"
    if a.dtype.kind in "fc":
        with np.errstate(invalid="ignore"):
            d = np.abs(a.astype(np.complex128) - b.astype(np.complex128))
        d = d[np.isfinite(d)]
        return f"{d.max():.3g}" if d.size else "NaN pattern"
    return f"{int((a != b).sum())} entries"


def compare(before: Path, after: Path) -> list[tuple[str, int, list[str], list[str]]]:
    rows = []
    gb, ga = _groups(before / "results.zarr"), _groups(after / "results.zarr")
    for group in sorted(set(gb) | set(ga)):
        if group not in gb or group not in ga:
            rows.append((group, 0, [], [f"group only {'before' if group in gb else 'after'}"]))
            continue
        b, a = gb[group], ga[group]
        diffs, extra = [], []
        names = sorted(set(b.data_vars) | set(a.data_vars))
        for v in names:
            if v not in b.data_vars or v not in a.data_vars:
                extra.append(f"{v} only {'before' if v in b.data_vars else 'after'}")
                continue
            x, y = np.asarray(b[v].values), np.asarray(a[v].values)
            same = x.shape == y.shape and x.dtype == y.dtype and (
                x.tobytes() == y.tobytes() if x.dtype != object else bool(np.all(x == y)))
            if not same:
                diffs.append(f"{v} ({_max_diff(x, y)})")
        rows.append((group, len(names), diffs, extra))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", required=True, help="the older commit (any git revision)")
    p.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "ganflow-compare")
    p.add_argument("--only", nargs="*", help="experiments to compare (default: all)")
    ns = p.parse_args(argv)
    worktree = ns.out / "worktree"
    if not worktree.is_dir():
        ns.out.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "worktree", "add", "--detach", str(worktree), ns.before],
                       cwd=ROOT, check=True)
    else:
        subprocess.run(["git", "checkout", "--detach", ns.before], cwd=worktree, check=True)
    names = ns.only or _experiments(worktree)
    failed = False
    print("| experiment | group | variables | bitwise different | one side only |")
    print("|---|---|---|---|---|")
    for name in names:
        _run(worktree, name, ns.out / "before" / name)
        _run(ROOT, name, ns.out / "after" / name)
        for group, n, diffs, extra in compare(ns.out / "before" / name, ns.out / "after" / name):
            failed |= bool(diffs or extra)
            print(f"| {name} | {group} | {n} | {', '.join(diffs) or '—'} | "
                  f"{', '.join(extra) or '—'} |", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
