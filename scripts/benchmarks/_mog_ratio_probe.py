"""One measurement for `bench_regression.py`: 64 MoG seeds / 1 seed through `training.run`.

Run as a script with PYTHONPATH set to the ganflow checkout under test; it uses only
`ganflow.games.MixtureOfGaussians`, `training.SimultaneousGDA` and `training.run(scheme, x0s,
steps, key, seed_chunk=, shard=)`, which every ganflow since the MLP games has, so it measures
the old and the new code alike. Prints one JSON line.

    python _mog_ratio_probe.py SEEDS STEPS REPEATS
"""

import json
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import optax

import ganflow as gf
from ganflow import training as tr


def main(seeds: int, steps: int, repeats: int) -> dict:
    game = gf.games.MixtureOfGaussians("ring", "gan")
    scheme = tr.SimultaneousGDA(game.vector_field(), optax.sgd(1e-3),
                                lambda k: game.sample(k, 256))
    x0 = game.init(jax.random.key(0))

    def runner(num):
        xs = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (num,) + a.shape), x0)
        shard = None if num > 1 else False  # one seed: one device
        if hasattr(gf.engine, "Execution"):  # this checkout
            layout = {"execution": gf.engine.Execution(shard=shard)}
        else:  # an older commit: training.run(..., shard=)
            layout = {"shard": shard}
        return lambda: jax.block_until_ready(
            tr.run(scheme, xs, steps, jax.random.key(1), **layout).x_final)

    fns = {"one": runner(1), "many": runner(seeds)}
    for f in fns.values():
        f()  # compile
    times = {k: [] for k in fns}
    for _ in range(repeats):  # interleaved: machine load affects both alike
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    one, many = statistics.median(times["one"]), statistics.median(times["many"])
    return {"one_seed_s": one, "many_seeds_s": many, "ratio": many / one,
            "ganflow": getattr(gf, "__version__", "?"), "devices": len(jax.devices())}


if __name__ == "__main__":
    print(json.dumps(main(*(int(a) for a in sys.argv[1:4]))))
