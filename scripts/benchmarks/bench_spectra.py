"""Benchmark: top-10 eigenvalues (largest modulus, largest real part) of the Jacobian J of an MLP
GAN with about 10⁵ parameters (ring-of-8 Gaussian mixture in 2-D, batch 256 fixed), from JVPs
alone (ARPACK driven by a jitted JVP of b0); J is never formed.

Prints one JSON object: wall times, matvec counts, residual norms ‖Jv − λv‖, the time of one JVP
(median of repeats after a warm-up compile) and its ratio to b0 measured in the same run.
`--quick` runs a ~100-parameter model with k = 3 as a smoke test.
"""

import argparse
import json
import math
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import ganflow as gf  # noqa: E402
from ganflow.analysis import jacobian_operator, top_eigenvalues  # noqa: E402
from ganflow.models import MLP  # noqa: E402


def ring_batch(key, n, modes=8, radius=2.0, std=0.02):
    """n points of a ring of `modes` Gaussians (Metz et al. 2017), and n standard latents."""
    kc, kn, kz = jax.random.split(key, 3)
    angle = 2 * math.pi * jax.random.randint(kc, (n,), 0, modes) / modes
    centres = radius * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=-1)
    data = centres + std * jax.random.normal(kn, (n, 2))
    return data, jax.random.normal(kz, (n, 2))


def make_problem(width, depth, batch, seed=0):
    kg, kd, kb = jax.random.split(jax.random.key(seed), 3)
    gen = MLP.init(kg, 2, 2, width, depth, activation=jnp.tanh)
    disc = MLP.init(kd, 2, None, width, depth, activation=jnp.tanh)
    loss = gf.get_loss("gan")

    def phi(g, d, data, z):
        return jnp.mean(loss.discriminator(jax.vmap(d)(data), jax.vmap(d)(jax.vmap(g)(z))))

    return gf.vector_field(phi), (gen, disc), ring_batch(kb, batch)


def median_time(fn, repeats):
    jax.block_until_ready(fn())  # warm-up / compile
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--k", type=int, default=None)
    opts = parser.parse_args(argv)
    width, depth, k = (16, 1, 3) if opts.quick else (220, 2, 10)
    k = opts.k or k
    batch = 256
    b, x, (data, z) = make_problem(width, depth, batch)
    flat, unravel = gf.ravel_state(x)
    dim = int(flat.size)
    repeats = 2 if opts.quick else 7

    b_jit = jax.jit(lambda y: b(y, data, z))
    u = unravel(jax.random.normal(jax.random.key(1), flat.shape))
    jvp_jit = jax.jit(lambda y, v: gf.jvp(b, y, v, data, z))
    t_b0 = median_time(lambda: b_jit(x), repeats)
    t_jvp = median_time(lambda: jvp_jit(x, u), repeats)

    t = time.perf_counter()
    matvec = jacobian_operator(b, x, data, z)
    jax.block_until_ready(matvec(flat))
    t_compile = time.perf_counter() - t
    t_matvec = median_time(lambda: matvec(flat), repeats)

    out = {
        "benchmark": "bench_spectra",
        "quick": opts.quick,
        "num_params": dim,
        "batch": batch,
        "k": k,
        "dtype": str(flat.dtype),
        "time_b0_s": t_b0,
        "time_jvp_s": t_jvp,
        "jvp_over_b0": t_jvp / t_b0,
        "time_flat_matvec_s": t_matvec,
        "matvec_over_b0": t_matvec / t_b0,
        "matvec_compile_s": t_compile,
    }
    for which in ("LM", "LR"):
        t = time.perf_counter()
        spec = top_eigenvalues(b, x, data, z, k=k, which=which, method="arnoldi", tol=1e-10)
        wall = time.perf_counter() - t
        out[which] = {
            "wall_s": wall,
            "num_matvecs": spec.num_matvecs,
            "converged": bool(spec.converged),
            "eigenvalues": [[float(v.real), float(v.imag)] for v in spec.eigenvalues],
            "max_residual": float(np.max(spec.residuals)),
            "residuals": [float(r) for r in spec.residuals],
        }
    out["total_wall_s_top10_LM_and_LR"] = out["LM"]["wall_s"] + out["LR"]["wall_s"]
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
