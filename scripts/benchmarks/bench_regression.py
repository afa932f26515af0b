"""The engine against the code it replaced (issue 7, "CPU, no regression"), as one JSON object.

A ratio such as "64 MoG seeds / 1 seed" moves by ±10% between runs on a shared 2-core machine,
more than the difference between two versions of ganflow. This measures both versions in the
same minutes: for each of `--pairs` rounds it runs `_mog_ratio_probe.py` (S seeds and one seed,
200 simultaneous GDA steps of the 35k-parameter MoG ring GAN, interleaved repeats) once with the
reference commit and once with this checkout, each in a fresh process with one virtual CPU device
per core, and reports both ratios per round and their medians.

    python scripts/benchmarks/bench_regression.py                      # against 930a54b
    python scripts/benchmarks/bench_regression.py --against HEAD~10 --pairs 5

The reference is checked out with `git worktree` into a temporary folder (removed at the end);
it must be a commit of this repository that has `training.run(..., shard=)` (or, later,
`training.run(..., execution=Execution(shard=))`). The default, 930a54b,
is the last commit whose `training.run` had its own loop (its child a0f92db made it a front door
to `ganflow.engine`).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROBE = os.path.join(HERE, "_mog_ratio_probe.py")
DEFAULT_REFERENCE = "930a54b"  # training.run with its own loop, before the engine


def _probe(checkout: str, seeds: int, steps: int, repeats: int) -> dict:
    env = dict(os.environ, PYTHONPATH=checkout,
               XLA_FLAGS=f"--xla_force_host_platform_device_count={os.cpu_count() or 1}")
    out = subprocess.run([sys.executable, PROBE, str(seeds), str(steps), str(repeats)],
                         cwd=checkout, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"the probe failed in {checkout}: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--against", default=DEFAULT_REFERENCE, help="reference commit (git rev)")
    p.add_argument("--pairs", type=int, default=3, help="rounds of (reference, current)")
    p.add_argument("--seeds", type=int, default=64)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3, help="interleaved repeats per probe")
    p.add_argument("--quick", action="store_true", help="smoke sizes (4 seeds, 20 steps, 1 pair)")
    args = p.parse_args(argv)
    if args.quick:
        args.pairs, args.seeds, args.steps, args.repeats = 1, 4, 20, 1
    rev = subprocess.run(["git", "rev-parse", "--verify", "--quiet", args.against + "^{commit}"],
                         cwd=ROOT, capture_output=True, text=True)
    if rev.returncode != 0:
        print(f"bench_regression: error: {args.against!r} is not a commit of this repository "
              "(a shallow clone lacks the history: git fetch --unshallow)", file=sys.stderr)
        return 2
    commit = rev.stdout.strip()
    tmp = tempfile.mkdtemp(prefix="ganflow-reference-")
    ref = os.path.join(tmp, "ref")
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", ref, commit], cwd=ROOT,
                   check=True)
    rounds = []
    try:
        for _ in range(args.pairs):
            r = _probe(ref, args.seeds, args.steps, args.repeats)
            c = _probe(ROOT, args.seeds, args.steps, args.repeats)
            rounds.append({"reference": r, "current": c,
                           "current_over_reference_ratio": c["ratio"] / r["ratio"]})
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", ref], cwd=ROOT)
        shutil.rmtree(tmp, ignore_errors=True)

    def med(who, key):
        return statistics.median(x[who][key] for x in rounds)

    report = {
        "benchmark": "bench_regression",
        "reference_commit": commit,
        "seeds": args.seeds, "steps": args.steps, "pairs": args.pairs,
        "devices": rounds[0]["current"]["devices"],
        "reference_ratio_median": med("reference", "ratio"),
        "current_ratio_median": med("current", "ratio"),
        "current_over_reference_ratio_median": statistics.median(
            x["current_over_reference_ratio"] for x in rounds),
        "current_over_reference_many_seeds_time_median": statistics.median(
            x["current"]["many_seeds_s"] / x["reference"]["many_seeds_s"] for x in rounds),
        "rounds": rounds,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
