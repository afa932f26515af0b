"""Reverse mode through N training steps (`ganflow.training.iterate`) against the forward run.

The MoG ring GAN (`ganflow.games.MoGNetsGame("ring")`: latent 8, ReLU generator and
discriminator of `--width` × 2, minibatches of `--batch` drawn inside the scan from each seed's
key through `games.GameSampler`), simultaneous GDA with `optax.sgd(η)` (`training.make_scheme`),
`--seeds` seeds vmapped, float32. The objective is the mean over seeds of ½‖θ_N‖² (the final
generator's parameters), differentiated with respect to η — reverse mode through all N steps.

- **Time** (N = `--steps`, default 10³): `value_and_grad` with `checkpoint="sqrt"` (and
  `"none"`) against the forward run alone, timed interleaved in one run (target ≤ 4×).
- **Memory** (N = 10², 10³, 10⁴): the compiled program's temporary buffers
  (`jax.jit(f).lower(η).compile().memory_analysis().temp_size_in_bytes`, no run needed), with
  and without checkpointing, in units of one state (all seeds' (θ, ω)); with `"sqrt"` it
  should grow like √N, without like N.

The default players (width 32: 2,595 parameters per seed) keep the timed runs to a few minutes
on two CPU cores; `--memory-only --width 128 --batch 256` gives the memory table at the
35k-parameter size of the other MoG benchmarks (compiled, not run). Prints the tables and one
JSON object. `--quick` is a smoke run (tiny players, N = 20).
"""

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402
from _common import block, emit  # noqa: E402

import ganflow as gf  # noqa: E402
from ganflow import training as tr  # noqa: E402


def build(width: int, batch: int, seeds: int):
    game = gf.games.MoGNetsGame("ring", "gan", latent_dim=8, gen_width=width, gen_depth=2,
                                disc_width=width, disc_depth=2)
    sampler = gf.games.GameSampler(game, batch)
    keys = jax.random.split(jax.random.key(0), seeds)
    x0s = jax.vmap(game.init)(keys)
    n_params = sum(a.size for a in jax.tree_util.tree_leaves(x0s)) // seeds
    return game, sampler, x0s, keys, n_params


def objective(game, sampler, x0s, keys, num_steps, checkpoint):
    def loss(eta):
        scheme = tr.make_scheme("simultaneous", game, optax.sgd(eta), sampler=sampler)

        def one(x0, key):
            theta = tr.iterate(scheme, x0, num_steps, key=key, checkpoint=checkpoint).x[0]
            return 0.5 * sum(jnp.sum(a * a) for a in jax.tree_util.tree_leaves(theta))

        return jnp.mean(jax.vmap(one)(x0s, keys))

    return loss


def temp_bytes(fn, eta) -> int:
    return int(jax.jit(fn).lower(eta).compile().memory_analysis().temp_size_in_bytes)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seeds", type=int, default=16)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--memory-only", action="store_true",
                   help="only the compiled memory table (no run: any player size)")
    args = p.parse_args(argv)
    width, batch, steps, repeats = args.width, args.batch, args.steps, args.repeats
    mem_steps = (100, 1000, 10000)
    if args.quick:
        width, batch, steps, repeats, mem_steps = 8, 16, 20, 1, (16, 64, 256)
    game, sampler, x0s, keys, n_params = build(width, batch, args.seeds)
    eta = jnp.asarray(1e-3, jnp.float32)
    state_bytes = args.seeds * n_params * 4

    # ---- time: forward run vs reverse mode through it
    fns = {} if args.memory_only else {
        "forward": jax.jit(objective(game, sampler, x0s, keys, steps, "sqrt")),
        "grad_sqrt": jax.jit(jax.value_and_grad(objective(game, sampler, x0s, keys, steps,
                                                          "sqrt"))),
        "grad_none": jax.jit(jax.value_and_grad(objective(game, sampler, x0s, keys, steps,
                                                          "none"))),
    }
    compile_s, samples = {}, {k: [] for k in fns}
    for name, fn in fns.items():
        t0 = time.perf_counter()
        block(fn(eta))
        compile_s[name] = time.perf_counter() - t0
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            block(fn(eta))
            samples[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in samples.items()}
    ratios = {k: statistics.median(a / b for a, b in zip(samples[k], samples["forward"]))
              for k in ("grad_sqrt", "grad_none") if fns}

    # ---- memory: temporary buffers of the compiled gradient
    memory = []
    for n in mem_steps:
        row = {"N": n}
        for ck in ("sqrt", "none"):
            row[ck] = temp_bytes(jax.grad(objective(game, sampler, x0s, keys, n, ck)), eta)
        row["forward"] = temp_bytes(objective(game, sampler, x0s, keys, n, "sqrt"), eta)
        memory.append(row)

    print(f"MoG ring GAN, {n_params} parameters per seed, {args.seeds} seeds vmapped, batch "
          f"{batch}, float32; one state of all seeds = {state_bytes / 2**20:.2f} MiB",
          file=sys.stderr)
    if fns:
        print(f"\ntime, N = {steps} steps (median of {repeats}, interleaved)", file=sys.stderr)
        print("| run | s | × forward |\n|---|---|---|", file=sys.stderr)
        print(f"| forward | {med['forward']:.3f} | 1 |", file=sys.stderr)
        for k in ("grad_sqrt", "grad_none"):
            print(f"| value_and_grad, checkpoint={k[5:]!r} | {med[k]:.3f} | {ratios[k]:.2f} |",
                  file=sys.stderr)
    print("\nmemory: temp buffers of the compiled program, in states (and MiB)", file=sys.stderr)
    print("| N | √N | grad sqrt | grad none | forward | sqrt / √N | none / N |\n"
          "|---|---|---|---|---|---|---|", file=sys.stderr)
    for r in memory:
        n = r["N"]
        s, no, fw = (r[k] / state_bytes for k in ("sqrt", "none", "forward"))
        print(f"| {n} | {math.sqrt(n):.0f} | {s:.1f} ({r['sqrt'] / 2**20:.1f}) | "
              f"{no:.1f} ({r['none'] / 2**20:.1f}) | {fw:.1f} | {s / math.sqrt(n):.2f} | "
              f"{no / n:.2f} |", file=sys.stderr)
    report = {
        "benchmark": "bench_gradients",
        "game": "MoGNetsGame(ring)",
        "num_params": int(n_params),
        "seeds": args.seeds,
        "batch": batch,
        "dtype": "float32",
        "steps": steps,
        "seconds": med,
        "compile_s": compile_s,
        "time_ratio_to_forward": ratios,
        "target_time_ratio": 4.0,
        "state_bytes": state_bytes,
        "temp_bytes": memory,
    }
    emit(report)
    return report


if __name__ == "__main__":
    main()
