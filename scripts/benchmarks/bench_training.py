"""Cost per training step of each scheme / stabiliser, as a ratio to plain simultaneous GDA.

The MoG MLP GAN of issue 3: `gf.games.MixtureOfGaussians("ring")` (generator 8 → 128 → 128 → 2,
discriminator 2 → 128 → 128 → 1: 34,947 parameters), minibatches of 256 sampled inside the scan
from a per-seed key, float32 (`--x64` for float64). Every variant is `--steps` steps compiled
in one `lax.scan` (compile time reported separately), then timed in `--repeats` interleaved
rounds; the ratio to simultaneous GDA is taken within each round and its median reported.

Targets (issue 3): consensus and NK ≤ 3×; unrolled-k about (k+1)×; CGD reported with its CG
iterations per step; 64 vmapped seeds ≤ 40× one seed (CPU).

The seed comparison is reported twice: plain `vmap` on one JAX CPU device (one core), and with
the seed axis sharded over one virtual CPU device per core
(`--xla_force_host_platform_device_count`, set before jax is imported unless `--no-shard`;
MEASURED.md: this doubled throughput on 2 cores). The single seed always runs on one device.

Prints one JSON object. `--quick` is a smoke run (width 16, few steps and repeats).
"""

import argparse
import json
import os
import statistics
import sys
import time

if "--no-shard" not in sys.argv and "XLA_FLAGS" not in os.environ:
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={os.cpu_count() or 1}"

import jax  # noqa: E402


def build(width: int, batch: int):
    import jax.numpy as jnp
    import optax

    import ganflow as gf
    from ganflow import stabilisers as st, training as tr

    game = gf.games.MixtureOfGaussians("ring", "gan", width=width, depth=2)
    sampler = lambda k: game.sample(k, batch)  # noqa: E731
    b0 = game.vector_field()
    eta = 1e-3

    def stab(*s):
        return st.stabilise(game, *s)

    variants = {
        "simultaneous": tr.SimultaneousGDA(b0, eta, sampler),
        "alternating": tr.AlternatingGDA(b0, eta, sampler),
        "alternating_nd5": tr.AlternatingGDA(b0, eta, sampler, n_d=5),
        "extragradient": tr.Extragradient(b0, eta, sampler),
        "optimistic": tr.OptimisticGDA(b0, eta, sampler),
        "adam": tr.SimultaneousGDA(b0, optax.adam(eta), sampler),
        "mounjid_guo": tr.SimultaneousGDA(b0, tr.mounjid_guo(eta, 10.0), sampler),
        "consensus": tr.SimultaneousGDA(stab(st.Consensus(0.1)), eta, sampler),
        "nk": tr.SimultaneousGDA(stab(st.NagarajanKolter(0.1)), eta, sampler),
        "r1": tr.SimultaneousGDA(stab(st.R1(1.0)), eta, sampler),
        "r2": tr.SimultaneousGDA(stab(st.R2(1.0)), eta, sampler),
        "sga": tr.SimultaneousGDA(stab(st.SGA(0.1)), eta, sampler),
        "instance_noise": tr.SimultaneousGDA(stab(st.InstanceNoise(0.1)), eta, sampler),
        "unrolled_1": tr.Unrolled(game.objective(), 1, eta, eta, sampler),
        "unrolled_3": tr.Unrolled(game.objective(), 3, eta, eta, sampler),
        "unrolled_5": tr.Unrolled(game.objective(), 5, eta, eta, sampler),
        "unrolled_1_first_order": tr.Unrolled(game.objective(), 1, eta, eta, sampler,
                                              second_order=False),
        "unrolled_3_first_order": tr.Unrolled(game.objective(), 3, eta, eta, sampler,
                                              second_order=False),
        "unrolled_5_first_order": tr.Unrolled(game.objective(), 5, eta, eta, sampler,
                                              second_order=False),
        "cgd": tr.CompetitiveGD(b0, eta, sampler=sampler, rtol=1e-6, max_steps=50),
    }
    x0 = game.init(jax.random.key(0))
    n_params = sum(a.size for a in jax.tree_util.tree_leaves(x0))
    return game, variants, x0, n_params, jnp


def make_loop(scheme, steps: int):
    import equinox as eqx
    import jax.numpy as jnp

    @eqx.filter_jit
    def loop(state, key):
        def body(s, t):
            return scheme.step(s, jax.random.fold_in(key, t)), None

        return jax.lax.scan(body, state, jnp.arange(steps))[0]

    return loop


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--x64", action="store_true")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seeds", type=int, default=64)
    p.add_argument("--only", type=str, default=None, help="comma-separated variant names")
    p.add_argument("--no-shard", action="store_true", help="one CPU device only")
    args = p.parse_args(argv)
    if args.x64:
        jax.config.update("jax_enable_x64", True)
    width, batch = (16, 32) if args.quick else (128, 256)
    steps, repeats = (2, 1) if args.quick else (args.steps, args.repeats)
    seeds = 4 if args.quick else args.seeds
    game, variants, x0, n_params, jnp = build(width, batch)
    if args.only:
        keep = set(args.only.split(",")) | {"simultaneous"}
        variants = {k: v for k, v in variants.items() if k in keep}
    key = jax.random.key(1)

    loops, states, compile_s, stats = {}, {}, {}, {}
    for name, scheme in variants.items():
        state = scheme.init(x0)
        loop = make_loop(scheme, steps)
        t0 = time.perf_counter()
        out = jax.block_until_ready(loop(state, key))
        compile_s[name] = time.perf_counter() - t0
        loops[name], states[name] = loop, state
        if "cg_iterations" in out.stats:
            stats[name] = {"cg_iterations_per_step": float(out.stats["cg_iterations"]) / steps}

    # interleaved rounds: the ratio to simultaneous GDA is taken within each round
    per_step = {name: [] for name in loops}
    for _ in range(repeats):
        for name, loop in loops.items():
            t0 = time.perf_counter()
            jax.block_until_ready(loop(states[name], key))
            per_step[name].append((time.perf_counter() - t0) / steps)
    base = per_step["simultaneous"]
    results = {}
    for name, ts in per_step.items():
        ratios = [t / b for t, b in zip(ts, base)]
        results[name] = {
            "ms_per_step": 1e3 * statistics.median(ts),
            "ratio_to_simultaneous": statistics.median(ratios),
            "compile_s": compile_s[name],
            **stats.get(name, {}),
        }

    # 64 vmapped seeds against one seed (simultaneous GDA)
    sim = variants["simultaneous"]
    x0s = jax.vmap(game.init)(jax.random.split(jax.random.key(2), seeds))
    states_s = jax.vmap(sim.init)(x0s)
    keys = jax.random.split(key, seeds)
    one = loops["simultaneous"]
    many = jax.jit(jax.vmap(one))
    t0 = time.perf_counter()
    jax.block_until_ready(many(states_s, keys))
    compile_many = time.perf_counter() - t0
    t_one, t_many = [], []
    for _ in range(max(repeats // 2, 1)):
        t0 = time.perf_counter()
        jax.block_until_ready(one(states["simultaneous"], key))
        t_one.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        jax.block_until_ready(many(states_s, keys))
        t_many.append(time.perf_counter() - t0)
    seeds_ratio = statistics.median(t_many) / statistics.median(t_one)
    # the library path: `ganflow.training.run` over the seeds (sharded over every device, seeds
    # in cache-sized chunks per device) against `run` on one seed, on one device
    from ganflow import training as tr
    from ganflow.engine import Execution

    x1 = jax.tree_util.tree_map(lambda a: a[:1], x0s)
    t_run1, t_run = [], []

    def run_final(xs, shard):
        return tr.run(sim, xs, steps, key, execution=Execution(shard=shard)).x_final

    jax.block_until_ready(run_final(x1, False))
    t0 = time.perf_counter()
    jax.block_until_ready(run_final(x0s, None))
    compile_run = time.perf_counter() - t0
    for _ in range(max(repeats, 3)):
        t0 = time.perf_counter()
        jax.block_until_ready(run_final(x1, False))
        t_run1.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        jax.block_until_ready(run_final(x0s, None))
        t_run.append(time.perf_counter() - t0)
    devices = jax.devices()
    sharded = {
        "devices": len(devices),
        "time_ratio_many_to_one": statistics.median(t_run) / statistics.median(t_run1),
        "compile_s": compile_run,
        "what": "ganflow.training.run: seeds sharded over the devices, cache-sized chunks",
    }

    def ratio(n):
        return results[n]["ratio_to_simultaneous"] if n in results else None

    report = {
        "benchmark": "bench_training",
        "game": "MixtureOfGaussians(ring)",
        "num_params": int(n_params),
        "batch": batch,
        "dtype": "float64" if args.x64 else "float32",
        "steps_per_scan": steps,
        "repeats": repeats,
        "quick": args.quick,
        "variants": results,
        "seeds": {
            "num_seeds": seeds,
            "time_ratio_many_to_one": seeds_ratio,
            "compile_s": compile_many,
            "ganflow_run_sharded_chunked": sharded,
            "target_max": 40.0,
        },
        "targets": {
            "consensus_le_3x": None if ratio("consensus") is None else ratio("consensus") <= 3.0,
            "nk_le_3x": None if ratio("nk") is None else ratio("nk") <= 3.0,
            "unrolled_k_first_order_vs_k_plus_1": {
                k: ratio(f"unrolled_{k}_first_order")
                for k in (1, 3, 5)
                if ratio(f"unrolled_{k}_first_order") is not None
            },
            "unrolled_k_vs_k_plus_1": {
                k: ratio(f"unrolled_{k}") for k in (1, 3, 5) if ratio(f"unrolled_{k}") is not None
            },
            "seeds_le_40x": seeds_ratio <= 40.0,
            "seeds_ganflow_run_le_40x": None
            if sharded is None
            else sharded["time_ratio_many_to_one"] <= 40.0,
        },
    }
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
