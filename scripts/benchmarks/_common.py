"""Shared helpers of the benchmark scripts: interleaved timing and the MLP GAN of the issues."""

import json
import statistics
import sys
import time

import jax
import jax.numpy as jnp

import ganflow as gf


def block(tree):
    return jax.block_until_ready(tree)


def paired_times(fa, fb, repeats: int) -> tuple[list[float], list[float]]:
    """Seconds per call of `fa` and `fb`, alternating (each called once first: compile), so
    that machine load affects both alike; `fb` may return anything (e.g. a torch tensor)."""
    block(fa())
    block(fb())
    ta, tb = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        block(fa())
        ta.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        block(fb())
        tb.append(time.perf_counter() - t0)
    return ta, tb


def time_interleaved(fns: dict, repeats: int = 30, inner: int = 5) -> dict:
    """Median seconds per call of each compiled function, measured round-robin in one run so that
    machine load affects all of them alike. Each function is called once first (compile)."""
    compile_s = {}
    for name, fn in fns.items():
        t0 = time.perf_counter()
        block(fn())
        compile_s[name] = time.perf_counter() - t0
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(inner):
                out = fn()
            block(out)
            samples[name].append((time.perf_counter() - t0) / inner)
    return {
        name: {"median_s": statistics.median(s), "min_s": min(s), "first_call_s": compile_s[name]}
        for name, s in samples.items()
    }


def mlp_gan(key, width=128, depth=2, batch=256, loss="gan"):
    """The issues' "MLP GAN of about 35k parameters, batch 256": 2-D latent → 2-D samples, MLP
    players of `width` × `depth` (tanh), data from a ring of 8 Gaussians (radius 2, std 0.02)."""
    kg, kd, kx, kz, km = jax.random.split(key, 5)
    gen = gf.models.MLP.init(kg, 2, 2, width, depth, activation=jnp.tanh)
    disc = gf.models.MLP.init(kd, 2, None, width, depth, activation=jnp.tanh)
    angles = 2 * jnp.pi * jax.random.randint(km, (batch,), 0, 8) / 8
    data = 2.0 * jnp.stack([jnp.cos(angles), jnp.sin(angles)], -1)
    data = data + 0.02 * jax.random.normal(kx, (batch, 2))
    z = jax.random.normal(kz, (batch, 2))
    f = gf.get_loss(loss)

    def phi(theta, omega, data, z):
        d_real = jax.vmap(omega)(data)
        d_fake = jax.vmap(omega)(jax.vmap(theta)(z))
        return jnp.mean(f.discriminator(d_real, d_fake))

    def example_phi(theta, omega, example):
        x, zz = example
        return f.discriminator(omega(x), omega(theta(zz)))

    return phi, example_phi, (gen, disc), (data, z)


def emit(result: dict) -> None:
    json.dump(result, sys.stdout, indent=2, default=float)
    sys.stdout.write("\n")
