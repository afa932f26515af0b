"""A Python loop of `training.run` over learning rates, measured in one run.

On the Dirac-GAN (population field, 16 seeds, 200 steps): 20 calls of
`training.run(SimultaneousGDA(b, eta), …)` over 20 values of η — the learning rate an array
leaf of the scheme — against the same loop with `optax.sgd(eta)` (the rate a compile-time
constant of optax's closures), with compilations counted (`jax.monitoring`'s backend-compile
events) and wall time per call. The cached call is one η repeated (the loop's best case).

Targets: the array-leaf loop compiles once (in its first call: no XLA program is compiled by
calls 2–20), and its mean time per call (the first, compiling, call excluded) is ≤ 1.5× the
cached call.

```text
python scripts/benchmarks/bench_hyperparams.py
```

Prints a Markdown table and, last, one JSON object.
"""

import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit  # noqa: E402

import ganflow as gf  # noqa: E402
from ganflow import training as tr  # noqa: E402

jax.config.update("jax_enable_x64", True)

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


class Compiles:
    def __init__(self):
        self.count = 0

    def __call__(self, event, duration, **kwargs):
        if event == COMPILE_EVENT:
            self.count += 1


def main() -> None:
    game = gf.games.DiracGAN("gan")
    b = game.vector_field(population=True)
    seeds, steps = 16, 200
    offsets = jnp.linspace(-0.5, 0.5, seeds)
    x0s = jax.tree_util.tree_map(lambda a: a + offsets, game.equilibrium())
    etas = np.linspace(0.01, 0.2, 20)
    counter = Compiles()
    jax.monitoring.register_event_duration_secs_listener(counter)

    def call(opt):
        t0 = time.perf_counter()
        sol = tr.run(tr.SimultaneousGDA(b, opt), x0s, steps)
        jax.block_until_ready(sol.x_final)
        return time.perf_counter() - t0

    def loop(make):
        """(seconds per call, XLA programs compiled by the first call, by the 19 others)."""
        times, counts = [], []
        for e in etas:
            before = counter.count
            times.append(call(make(float(e))))
            counts.append(counter.count - before)
        return times, counts[0], sum(counts[1:])

    leaf_times, leaf_first_n, leaf_compiles = loop(lambda e: e)  # η an array leaf
    cached = [call(0.1) for _ in range(10)]  # one η again and again: the cached call
    # η inside optax's closures
    const_times, const_first_n, const_compiles = loop(lambda e: optax.sgd(e))
    jax.monitoring.unregister_event_duration_listener(counter)

    cached_s = statistics.median(cached)
    leaf_rest = statistics.mean(leaf_times[1:])
    const_mean = statistics.mean(const_times)
    rows = [
        ("η an array leaf (`SimultaneousGDA(b, eta)`)", leaf_first_n, leaf_compiles,
         leaf_times[0], leaf_rest),
        ("η a constant (`SimultaneousGDA(b, optax.sgd(eta))`)", const_first_n, const_compiles,
         const_times[0], statistics.mean(const_times[1:])),
    ]
    print(f"Dirac-GAN, {seeds} seeds × {steps} steps, 20 values of η "
          f"(cached call: {1e3 * cached_s:.1f} ms)\n")
    print("| loop | programs compiled by call 1 | by calls 2–20 | call 1 (ms) | "
          "calls 2–20, mean (ms) | calls 2–20 / cached |")
    print("|---|---|---|---|---|---|")
    for name, n1, n, first, rest in rows:
        print(f"| {name} | {n1} | {n} | {1e3 * first:.1f} | {1e3 * rest:.1f} | "
              f"{rest / cached_s:.2f} |")
    print("\n(call 1 compiles the run's programs and the eager operations a first run needs; "
          "a new η must compile nothing)")
    ok = leaf_compiles == 0 and leaf_rest <= 1.5 * cached_s
    verdict = "met" if ok else "NOT met"
    print(f"\ntarget (one compilation: none after call 1; ≤ 1.5× cached per call): {verdict}")
    emit({
        "benchmark": "hyperparams_loop", "seeds": seeds, "steps": steps, "values": len(etas),
        "cached_call_s": cached_s, "leaf_first_call_compiles": leaf_first_n,
        "leaf_later_compiles": leaf_compiles, "constant_first_call_compiles": const_first_n,
        "leaf_first_call_s": leaf_times[0], "leaf_mean_later_call_s": leaf_rest,
        "leaf_ratio_to_cached": leaf_rest / cached_s, "constant_later_compiles": const_compiles,
        "constant_mean_call_s": const_mean, "constant_ratio_to_cached": const_mean / cached_s,
        "target_met": ok,
    })


if __name__ == "__main__":
    main()
