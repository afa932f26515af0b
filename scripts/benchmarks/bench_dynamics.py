"""Cost of the dynamics layer on an MLP GAN of ~35k parameters, batch 256 (issue 2).

Prints JSON: the cost of J·b0 and Jᵀ·b0 (b0 included: `gf.self_jvp`, `gf.self_vjp`), of J·u and
Jᵀ·u for a given u, an HVP of each player's block, b1 and −(η/2)J b0 as ratios
to the cost of b0, and b0 against a hand-written pair of `jax.grad` calls, all measured
round-robin in one run. Targets: each derivative ≤ 3×, b1 ≤ 4×, b0 ≤ 1.1× the hand-written pair.

    python scripts/benchmarks/bench_dynamics.py [--quick] [--x64]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from _common import emit, mlp_gan, time_interleaved  # noqa: E402

import ganflow as gf  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny model, few repeats (smoke run)")
    parser.add_argument("--x64", action="store_true", help="float64 instead of float32")
    args = parser.parse_args(argv)
    if args.x64:
        jax.config.update("jax_enable_x64", True)

    width, batch, repeats = (16, 32, 3) if args.quick else (128, 256, 40)
    phi, _, x, (data, z) = mlp_gan(jax.random.key(0), width=width, batch=batch)
    b = gf.vector_field(phi)
    n_params = sum(a.size for a in jax.tree_util.tree_leaves(x))

    @jax.jit
    def hand_written(x, data, z):
        theta, omega = x
        g_theta = jax.grad(phi, argnums=0)(theta, omega, data, z)
        g_omega = jax.grad(phi, argnums=1)(theta, omega, data, z)
        return jax.tree_util.tree_map(jnp.negative, g_theta), g_omega

    u = b(x, data, z)
    fns = {
        "hand_written_pair": jax.jit(hand_written),
        "b0": jax.jit(lambda x, d, z: b(x, d, z)),
        "J_b0": jax.jit(lambda x, d, z: gf.self_jvp(b, x, d, z)),
        "J_u": jax.jit(lambda x, u, d, z: gf.jvp(b, x, u, d, z)),
        "JT_b0": jax.jit(lambda x, d, z: gf.self_vjp(b, x, d, z)),
        "JT_u": jax.jit(lambda x, u, d, z: gf.vjp(b, x, u, d, z)),
        "hvp_theta": jax.jit(lambda x, u, d, z: gf.hvp_theta(phi, x, u[0], d, z)),
        "hvp_omega": jax.jit(lambda x, u, d, z: gf.hvp_omega(phi, x, u[1], d, z)),
        "b1": jax.jit(lambda x, d, z: gf.b1(b, x, d, z)),
        "sim_correction": jax.jit(lambda x, d, z: gf.simultaneous_correction(b, x, d, z)),
    }
    takes_u = {"J_u", "JT_u", "hvp_theta", "hvp_omega"}
    calls = {
        name: (lambda f=f, name=name: f(x, u, data, z) if name in takes_u else f(x, data, z))
        for name, f in fns.items()
    }
    times = time_interleaved(calls, repeats=repeats)
    base = times["b0"]["median_s"]
    ratios = {name: t["median_s"] / base for name, t in times.items() if name != "b0"}
    targets = {"J_b0": 3.0, "J_u": 3.0, "JT_b0": 3.0, "JT_u": 3.0, "hvp_theta": 3.0,
               "hvp_omega": 3.0, "b1": 4.0, "sim_correction": 3.0}
    emit({
        "benchmark": "dynamics",
        "device": jax.devices()[0].device_kind,
        "dtype": "float64" if args.x64 else "float32",
        "num_params": int(n_params),
        "batch": batch,
        "b0_ms": base * 1e3,
        "ratio_to_b0": ratios,
        "b0_over_hand_written_pair": base / times["hand_written_pair"]["median_s"],
        "targets": {**targets, "b0_over_hand_written_pair": 1.1},
        "meets_targets": {
            **{k: ratios[k] <= v for k, v in targets.items()},
            "b0_over_hand_written_pair": base / times["hand_written_pair"]["median_s"] <= 1.1,
        },
        "first_call_s": {k: v["first_call_s"] for k, v in times.items()},
    })


if __name__ == "__main__":
    main()
