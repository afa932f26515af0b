"""The ensemble engine's performance targets (issue 7), printed as one JSON object.

Every ensemble in ganflow runs through `ganflow.engine.run_ensemble`; this measures it, all
ratios taken within one run (interleaved repeats) so machine load affects both sides alike:

1. `mog_seeds`: the MoG ring GAN (34,947 parameters, B = 256, tanh 2×128 players), 200
   simultaneous GDA steps through `ganflow.training.run`: S seeds / 1 seed with the engine's
   default chunk (backend-aware), and with every seed in one chunk. CPU target: 64 seeds ≤ 20×;
   GPU: 64 ≤ 2.5×, 1024 ≤ 4×.
2. `sde_fast_path`: the R1 Dirac-GAN SDE (σ = 0.1, dt = 0.01, 10³ steps) through
   `sde_ensemble` (engine) against a hand-written `lax.scan` with the same counter-based noise
   and against a no-noise scan, for `unroll` ∈ {1, 2, 4, 8}; the PyTorch batched loop when
   torch is installed. CPU: 10⁴ seeds, target ≤ 1.2× the hand scan and faster than PyTorch;
   GPU: 10⁶ seeds, target within 1.5× of the no-noise scan.
3. `checkpoints`: a MoG run with results streamed to zarr and a checkpoint every 30 s (one, at
   the end, for this short run) and with a checkpoint after each of its 20 segments, against
   the same run in memory: the cost of one checkpoint, and so the overhead at one per 30 s
   (target ≤ 5%), apart from the cost of streaming the results.

    python scripts/benchmarks/bench_engine.py            # CPU sizes
    python scripts/benchmarks/bench_engine.py --gpu      # GPU sizes (one command on the device)
    python scripts/benchmarks/bench_engine.py --quick    # smoke sizes
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))

# On CPU, one virtual device per core (set before jax is imported; `--no-shard` keeps one):
# ganflow shards the seeds over the devices, which is how a user runs a sweep on a multi-core
# CPU (README, "Sweeps"). The single seed and the SDE comparisons run on one device.
if "--no-shard" not in sys.argv and "--gpu" not in sys.argv and "XLA_FLAGS" not in os.environ:
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={os.cpu_count() or 1}"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from _common import paired_times  # noqa: E402
from bench_sde import SIGMA, make_hand_scan, noise_variants, r1_dirac_field  # noqa: E402

import ganflow as gf  # noqa: E402
import ganflow.continuous as gc  # noqa: E402
from ganflow import training as tr  # noqa: E402
from ganflow.engine import Execution, RunFolder, Sweep, run_ensemble  # noqa: E402


def _median_pair(fa, fb, repeats):
    ta, tb = paired_times(fa, fb, repeats)
    return statistics.median(ta), statistics.median(tb)


def mog_setup(steps):
    """The MoG ring GAN of the issue (default MLP players: 34,947 parameters), B = 256 drawn
    inside the loop from each seed's keys, simultaneous GDA with SGD."""
    game = gf.games.MixtureOfGaussians("ring", "gan")
    scheme = tr.SimultaneousGDA(game.vector_field(), optax.sgd(1e-3),
                                lambda k: game.sample(k, 256))
    x0 = game.init(jax.random.key(0))
    n = sum(int(np.size(a)) for a in jax.tree_util.tree_leaves(x0))
    return scheme, x0, n


def mog_seeds(seed_counts, steps, repeats):
    scheme, x0, n = mog_setup(steps)

    def runner(num, chunk=None):
        xs = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (num,) + a.shape), x0)
        key = jax.random.key(1)
        shard = None if num > 1 else False  # one seed: one device
        layout = Execution(chunk=chunk, shard=shard)
        return lambda: tr.run(scheme, xs, steps, key, execution=layout).x_final

    out = {"num_params": n, "steps": steps, "devices": len(jax.devices())}
    one = runner(1)
    for s in seed_counts:
        t1, ts = _median_pair(one, runner(s), repeats)
        t1b, tall = _median_pair(one, runner(s, s), repeats)
        out[f"{s}_seeds_over_1_default_chunk"] = ts / t1
        out[f"{s}_seeds_over_1_one_chunk"] = tall / t1b
        out[f"{s}_seeds_default_chunk_size"] = gf.engine.default_chunk(
            4 * n, s if jax.default_backend() != "cpu" else s)
    return out


def sde_fast_path(seeds, steps, repeats, unrolls):
    dt = 0.01
    keys = jax.random.split(jax.random.key(0), seeds)
    sde = gc.SDE(r1_dirac_field(), gc.ConstantDiffusion(SIGMA))
    x0 = gf.DiracGAN("gan").make_state(jnp.float32(1.0), jnp.float32(0.5))
    variants = noise_variants(seeds, keys)
    hand = make_hand_scan(seeds, steps, dt, variants["fused_threefry_erfinv_ganflow"])
    quiet = make_hand_scan(seeds, steps, dt, variants["no_noise_arithmetic_only"])
    per = seeds * steps
    out = {"seeds": seeds, "steps": steps}
    for u in unrolls:
        def fast(u=u):
            return gc.sde_ensemble(sde, x0, 0.0, steps * dt, dt=dt, keys=keys,
                                   execution=Execution(unroll=u, shard=False)  # one device,
                                   ).xs  # as the hand scans

        tf, th = _median_pair(fast, hand, repeats)
        _, tq = _median_pair(fast, quiet, max(repeats // 2, 1))
        out[f"unroll_{u}"] = {
            "ganflow_ns_per_seed_step": tf / per * 1e9,
            "hand_scan_same_noise_ns": th / per * 1e9,
            "no_noise_scan_ns": tq / per * 1e9,
            "ganflow_over_hand_scan": tf / th,
            "ganflow_over_no_noise_scan": tf / tq,
            "ganflow_ms": tf * 1e3,
        }
    try:
        import torch

        th0 = torch.ones(seeds)
        ps0 = torch.full((seeds,), 0.5)
        sq = float(np.sqrt(dt))

        def torch_loop():
            th, ps = th0.clone(), ps0.clone()
            for _ in range(steps):
                s = torch.sigmoid(ps * th)
                b1, b2 = ps * s, -th * s - ps
                n = torch.randn(2, seeds)
                th, ps = th + dt * b1 + SIGMA * sq * n[0], ps + dt * b2 + SIGMA * sq * n[1]
            return th

        torch_loop()
        ts = []
        for _ in range(max(repeats // 2, 1)):
            t0 = time.perf_counter()
            torch_loop()
            ts.append(time.perf_counter() - t0)
        out["torch_batched_loop_ns"] = statistics.median(ts) / per * 1e9
    except ImportError:
        out["torch_batched_loop_ns"] = None
    return out


def checkpoints(seeds, steps, repeats):
    scheme, x0, n = mog_setup(steps)
    from ganflow.training import TrainProblem

    xs = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (seeds,) + a.shape), x0)
    problem = TrainProblem(scheme, None, 1e-8)
    keys = jax.random.split(jax.random.key(1), seeds)
    save_every = steps // 20
    tmp = tempfile.mkdtemp()

    def in_memory():
        return run_ensemble(problem, Sweep(seeds=keys), steps, save_every=save_every,
                            inputs=xs, execution=Execution(segment_saves=1)).status

    def streamed(seconds):
        def go():
            shutil.rmtree(os.path.join(tmp, "r"), ignore_errors=True)
            return run_ensemble(problem, Sweep(seeds=keys), steps, save_every=save_every,
                                inputs=xs, execution=Execution(segment_saves=1),
                                folder=RunFolder(os.path.join(tmp, "r"),
                                                 checkpoint_seconds=seconds)).status
        return go

    t_mem, t_30 = _median_pair(in_memory, streamed(30.0), repeats)
    _, t_all = _median_pair(in_memory, streamed(1e-9), repeats)
    shutil.rmtree(tmp, ignore_errors=True)
    # the run is shorter than 30 s: `streamed(30)` writes its results to zarr and one checkpoint
    # at the end; `streamed(0)` also checkpoints after each of the 20 segments. Their difference
    # is the cost of 19 checkpoints; the difference to the in-memory run is result streaming.
    per_checkpoint = max(t_all - t_30, 0.0) / 19
    return {
        "seeds": seeds, "steps": steps, "segments": 20, "run_s": t_mem,
        "state_mb_per_checkpoint": 4 * n * seeds / 2**20,
        "streamed_with_one_checkpoint_over_in_memory": t_30 / t_mem,
        "checkpoint_every_segment_over_in_memory": t_all / t_mem,
        "checkpoint_cost_s": per_checkpoint,
        "checkpoint_every_30s_overhead": per_checkpoint / 30.0,
    }


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--gpu", action="store_true", help="GPU sizes")
    p.add_argument("--quick", action="store_true", help="smoke sizes")
    p.add_argument("--no-shard", action="store_true",
                   help="one CPU device (default: one virtual device per core)")
    args = p.parse_args(argv)
    if args.quick:
        seed_counts, mog_steps, sde_seeds, sde_steps, reps, unrolls = [4], 20, 1000, 100, 2, [1, 4]
    elif args.gpu:
        seed_counts, mog_steps, sde_seeds, sde_steps, reps, unrolls = (
            [64, 1024], 200, 10**6, 10**3, 5, [1, 2, 4, 8])
    else:
        seed_counts, mog_steps, sde_seeds, sde_steps, reps, unrolls = ([64], 200, 10**4, 10**3, 5,
                                                                       [1, 4])
    report = {
        "benchmark": "bench_engine",
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "load_average": os.getloadavg(),
        "mog_seeds": mog_seeds(seed_counts, mog_steps, reps),
        "sde_fast_path": sde_fast_path(sde_seeds, sde_steps, reps, unrolls),
        "checkpoints": checkpoints(64 if not args.quick else 4, mog_steps, max(reps // 2, 1)),
    }
    m = report["mog_seeds"]
    s = report["sde_fast_path"]
    unrolled = [v for k, v in s.items() if k.startswith("unroll_")]
    best = min(unrolled, key=lambda v: v["ganflow_ns_per_seed_step"])
    same_unroll = min(v["ganflow_over_hand_scan"] for v in unrolled)
    gpu = jax.default_backend() != "cpu"
    report["targets"] = {
        "mog_64_seeds": (m.get("64_seeds_over_1_default_chunk"), 2.5 if gpu else 20.0),
        "mog_1024_seeds": (m.get("1024_seeds_over_1_default_chunk"), 4.0 if gpu else None),
        "sde_over_hand_scan_same_unroll": (same_unroll, None if gpu else 1.2),
        "sde_over_no_noise_scan": (best["ganflow_over_no_noise_scan"], 1.5 if gpu else None),
        "sde_faster_than_torch": None if s["torch_batched_loop_ns"] is None else (
            best["ganflow_ns_per_seed_step"] < s["torch_batched_loop_ns"]),
        "checkpoint_every_30s": (report["checkpoints"]["checkpoint_every_30s_overhead"], 0.05),
    }
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
