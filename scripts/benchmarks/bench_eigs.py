"""Benchmark: top-10 eigenvalues of the Jacobian J of the ~99k-parameter MLP GAN (ring of 8
Gaussians, batch 256 fixed, float64; the game of bench_spectra.py) by the Krylov–Schur Arnoldi
method written in JAX (`analysis.top_eigenvalues(..., method="krylov-schur")`, i.e.
`jacobian_eigs`) against ARPACK driven by the same jitted JVP (`method="arnoldi"`), and 16 seeds
vmapped in one call (`jax.vmap(jacobian_eigs)`) against one seed.

Prints one JSON object: wall times of the second call (the first compiles), matvec counts,
the eigenvalue agreement max |λ_JAX − λ_ARPACK| / |λ|, and the ratios of the targets
(JAX / ARPACK ≤ 2; 16 seeds vmapped / one seed ≤ 8). `--quick`: a ~600-parameter model with
k = 3 and 4 seeds (smoke test).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit  # noqa: E402
from bench_spectra import make_problem  # noqa: E402

import ganflow as gf  # noqa: E402
from ganflow.analysis import jacobian_eigs, start_vector, top_eigenvalues  # noqa: E402


def timed(fn):
    """(seconds of the second call, its result); the first call compiles."""
    jax.block_until_ready(fn())
    t = time.perf_counter()
    out = jax.block_until_ready(fn())
    return time.perf_counter() - t, out


def agreement(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--which", nargs="+", default=["LR", "LM"], choices=["LR", "LM"])
    opts = parser.parse_args(argv)
    width, depth, k, seeds = (16, 1, 3, 4) if opts.quick else (220, 2, 10, 16)
    seeds = opts.seeds or seeds
    tol = 1e-10
    b, x, (data, z) = make_problem(width, depth, 256)
    dim = int(gf.ravel_state(x)[0].size)
    out = {"benchmark": "bench_eigs", "quick": opts.quick, "device": str(jax.devices()[0]),
           "num_params": dim, "k": k, "tol": tol, "dtype": "float64"}
    for which in opts.which:
        row = {}
        for method in ("arnoldi", "krylov-schur"):
            wall, spec = timed(lambda m=method, w=which: top_eigenvalues(
                b, x, data, z, k=k, which=w, method=m, tol=tol))
            row[method] = {"wall_s": wall, "num_matvecs": spec.num_matvecs,
                           "converged": bool(spec.converged),
                           "max_residual": float(np.max(spec.residuals)),
                           "eigenvalues": [[float(v.real), float(v.imag)]
                                           for v in spec.eigenvalues]}
            row[method + "_values"] = spec.eigenvalues
        row["jax_over_arpack"] = row["krylov-schur"]["wall_s"] / row["arnoldi"]["wall_s"]
        row["max_rel_eig_diff"] = agreement(row.pop("krylov-schur_values"),
                                            row.pop("arnoldi_values"))
        out[which] = row
        print(json.dumps({which: row}, default=float), file=sys.stderr, flush=True)  # progress

    # seeds: the same architecture and batch, parameters from `seeds` initialisations
    xs = [make_problem(width, depth, 256, seed=s)[1] for s in range(seeds)]
    xs = jax.tree.map(lambda *leaves: jnp.stack(leaves), *xs)
    v0 = jnp.asarray(start_vector(dim, 0))
    k_req = k + 1  # as top_eigenvalues: one spare so that a pair on the boundary stays whole

    def solve(x):
        return jacobian_eigs(b, x, data, z, k=k_req, which="LR", v0=v0, tol=tol)

    one = jax.jit(solve)
    many = jax.jit(jax.vmap(solve))
    x0 = jax.tree.map(lambda a: a[0], xs)
    t_one, r_one = timed(lambda: one(x0))
    t_many, r_many = timed(lambda: many(xs))
    out["seeds"] = {
        "num_seeds": seeds, "which": "LR",
        "one_seed_s": t_one, "vmapped_s": t_many, "vmapped_over_one": t_many / t_one,
        "num_matvecs_one": int(r_one.num_matvecs),
        "num_matvecs_per_seed": [int(n) for n in r_many.num_matvecs],
        "all_converged": bool(np.all(r_many.converged)),
        "seed0_vmapped_vs_single_max_rel_diff": agreement(r_many.eigenvalues[0][:k],
                                                          r_one.eigenvalues[:k]),
    }
    emit(out)
    return out


if __name__ == "__main__":
    main()
