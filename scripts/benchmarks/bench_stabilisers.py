"""Cost of one evaluation of each stabilised field, as a ratio to b0 in the same run.

MLP GAN on a ring of 8 Gaussians, `gf.games.MixtureOfGaussians("ring")` with its defaults
(generator 8 → 128 → 128 → 2, discriminator 2 → 128 → 128 → 1: 34,947 parameters; a local
stand-in with latent 2, 34,179 parameters, if that class is missing), batch 256, float32
(`--x64` for float64). Each field is
compiled once (`eqx.filter_jit`, compile time reported separately), then timed in `--repeats`
interleaved rounds (each round: `--number` calls of every field); the ratio to b0 is taken within
each round and its median reported, which keeps it meaningful on a shared machine.
Targets (issue 3): consensus and NK ≤ 3× b0.

Prints one JSON object. `--quick` is a smoke run (width 16, few repeats).
"""

import argparse
import json
import time

import jax
import numpy as np


def _game(width: int):
    import ganflow as gf

    mog = getattr(gf.games, "MixtureOfGaussians", None)
    if mog is not None:
        try:
            return mog(kind="ring", loss="gan", width=width, depth=2), "gf.games.MixtureOfGaussians"
        except (TypeError, ValueError):
            pass
    return _Ring8(width), "benchmark-local ring of 8"


def _ring8_class():
    import equinox as eqx
    import jax.numpy as jnp

    import ganflow as gf

    class Ring8(gf.AbstractGANGame):
        """Ring of 8 Gaussians (radius 2, std 0.02; Metz et al.), MLP players: a stand-in used
        only when ganflow.games.MixtureOfGaussians is unavailable."""

        loss: gf.AbstractLoss
        width: int = eqx.field(static=True)

        def __init__(self, width):
            self.loss = gf.get_loss("gan")
            self.width = width

        def init(self, key):
            kg, kd = jax.random.split(key)
            gen = gf.models.MLP.init(kg, 2, 2, self.width, 2)
            disc = gf.models.MLP.init(kd, 2, None, self.width, 2)
            return gen, disc

        def sample_data(self, key, n):
            kc, kn = jax.random.split(key)
            angle = 2 * jnp.pi * jax.random.randint(kc, (n,), 0, 8) / 8
            centres = 2.0 * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=-1)
            return centres + 0.02 * jax.random.normal(kn, (n, 2), centres.dtype)

        def sample_latent(self, key, n):
            return jax.random.normal(key, (n, 2))

    return Ring8


def _Ring8(width):
    return _ring8_class()(width)


def _compile(fn, args):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - t0


def _block(fn, args, number):
    t0 = time.perf_counter()
    for _ in range(number):
        out = fn(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - t0) / number


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--x64", action="store_true")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=20)
    args = parser.parse_args(argv)
    if args.x64:
        jax.config.update("jax_enable_x64", True)
    import equinox as eqx

    import ganflow as gf
    import ganflow.stabilisers as st

    width = 16 if args.quick else 128
    repeats, number = (2, 3) if args.quick else (args.repeats, args.number)
    batch_size = 32 if args.quick else args.batch
    game, game_name = _game(width)
    key = jax.random.key(0)
    kx, kb, kk = jax.random.split(key, 3)
    x = game.init(kx)
    batch = game.sample(kb, batch_size)
    n_params = sum(a.size for a in jax.tree_util.tree_leaves(x))

    fields = {
        "b0": (gf.vector_field(game.objective()), False),
        "consensus": (st.stabilise(game, st.Consensus(0.1)), False),
        "nagarajan_kolter": (st.stabilise(game, st.NagarajanKolter(0.1)), False),
        "r1": (st.stabilise(game, st.R1(1.0)), False),
        "r2": (st.stabilise(game, st.R2(1.0)), False),
        "wgan_gp": (st.stabilise(game, st.WGANGP(10.0)), True),
        "instance_noise_sampled": (st.stabilise(game, st.InstanceNoise(0.1)), True),
        "sga": (st.stabilise(game, st.SGA(0.1)), False),
        "sga_align": (st.stabilise(game, st.SGA(0.1, align=True)), False),
        "spectral_norm_exact": (st.stabilise(game, st.SpectralNorm("exact")), False),
        "spectral_norm_power5": (st.stabilise(game, st.SpectralNorm("power", 5)), False),
        "lss_cg10": (st.stabilise(game, st.LSS(max_steps=10)), False),
    }
    # Compile everything first, then time in interleaved rounds: every round times each field
    # once, so the ratio to b0 within a round shares the machine's load of that moment (the
    # machine is shared); report medians over rounds.
    compiled, compile_s = {}, {}
    for name, (b, needs_key) in fields.items():
        fn = eqx.filter_jit(b)
        call_args = (x, batch, kk) if needs_key else (x, batch)
        compile_s[name] = _compile(fn, call_args)
        compiled[name] = (fn, call_args)
    rounds = {name: [] for name in fields}
    for _ in range(repeats):
        for name, (fn, call_args) in compiled.items():
            rounds[name].append(_block(fn, call_args, number))
    results = {}
    for name in fields:
        ms = np.array(rounds[name]) * 1e3
        ratios = ms / (np.array(rounds["b0"]) * 1e3)
        results[name] = {
            "ms": float(np.median(ms)),
            "ratio_to_b0": float(np.median(ratios)),
            "ratio_min_max": [float(ratios.min()), float(ratios.max())],
            # best-of-rounds times: the least disturbed by other processes
            "ms_best": float(ms.min()),
            "ratio_of_best": float(ms.min() / (min(rounds["b0"]) * 1e3)),
            "compile_s": compile_s[name],
        }
    out = {
        "benchmark": "stabilisers: one field evaluation",
        "game": game_name,
        "num_params": int(n_params),
        "batch": batch_size,
        "dtype": "float64" if args.x64 else "float32",
        "quick": args.quick,
        "repeats": repeats,
        "number": number,
        "device": str(jax.devices()[0]),
        "fields": results,
        "targets": {
            "consensus_le_3x": results["consensus"]["ratio_of_best"] <= 3.0,
            "nagarajan_kolter_le_3x": results["nagarajan_kolter"]["ratio_of_best"] <= 3.0,
        },
    }
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
