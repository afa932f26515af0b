"""Cost of the `sde-neural` ensembles (issue 10, Performance), printed as one JSON object.

1. Per seed-step, through the engine (`sgda_ensemble`, `sde_ensemble` fast path), float64, the
   experiment's MLP GAN (tanh, ring of 8 Gaussians): one minibatch simultaneous SGDA step (B
   examples) and one Euler–Maruyama step of the SDE (9) with the Σ factor (`cao_guo_sde`,
   `GradientNoise`: drift over the n examples of the data set plus one VJP per player for
   σ dW), at n = B (the factor's own overhead: target ≤ 2× the SGDA step) and at the
   experiment's n; also the Heun-predictor drift that `sde-neural` integrates. Ratios to the
   SGDA step, seed-steps per second and seeds per second (a seed = the experiment's horizon at
   the smallest η: T/η·m SDE steps).
2. The wall time of the quick preset (`ganflow run sde-neural --quick`, in a subprocess:
   compilation included; target ≤ 5 min on 2 cores), with the load average before and after
   (the machine may be shared).

    python scripts/benchmarks/bench_sde_neural.py [--quick] [--no-preset]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

from _common import emit, time_interleaved  # noqa: E402

from ganflow.analysis import neural_setting  # noqa: E402
from ganflow.continuous import HeunDrift, cao_guo_sde, sde_ensemble  # noqa: E402
from ganflow.training import sgda_ensemble  # noqa: E402


def per_step_section(seeds, steps, repeats, width, depth, batch, n_exp, eta, substeps):
    """ns per seed-step of SGDA and SDE steps, timed round-robin (`time_interleaved`) so that
    the machine's load affects them alike."""
    keys = jax.random.split(jax.random.key(1), seeds)
    fns, meta = {}, {}
    for n in sorted({batch, n_exp}):
        s = neural_setting(jax.random.key(0), width=width, depth=depth, latent_dim=2,
                           activation="tanh", num_examples=n, num_latents=16)
        if not fns:
            for scheme in ("simultaneous", "alternating"):
                def sgda(s=s, scheme=scheme):
                    return sgda_ensemble(s.game, s.x0, eta, batch, steps, keys, data=s.data,
                                         scheme=scheme).xs
                fns[f"sgda_{scheme}"] = sgda
        dt = eta / substeps
        for label, drift in (("sde_eq9_euler", "simultaneous"),
                             ("sde_eq9_heun_drift", HeunDrift(s.field, dt))):
            sde = cao_guo_sde(s.game, eta, batch, data=s.data, drift=drift)

            def run(sde=sde, s=s, dt=dt):
                return sde_ensemble(sde, s.x0, 0.0, steps * dt, dt=dt, keys=keys).xs

            fns[f"{label}_n{n}"] = run
            meta[f"{label}_n{n}"] = n
    timing = time_interleaved(fns, repeats=repeats, inner=1)
    out = {}
    for name, t in timing.items():
        out[name] = {"ns_per_seed_step": 1e9 * t["median_s"] / (seeds * steps),
                     "first_call_s": t["first_call_s"]}
        if name in meta:
            out[name]["examples_behind_sigma"] = meta[name]
    base = out["sgda_simultaneous"]["ns_per_seed_step"]
    ratios = {k: v["ns_per_seed_step"] / base for k, v in out.items() if k.startswith("sde")}
    return out, ratios


def preset_section():
    with tempfile.TemporaryDirectory() as tmp:
        load0 = os.getloadavg()
        t0 = time.perf_counter()
        cmd = [sys.executable, "-c",
               "import sys, jax; jax.config.update('jax_enable_x64', True);"
               "from ganflow.studies import get_experiment, run_experiment, RunOptions;"
               "SDE_NEURAL = get_experiment('sde-neural');"
               "run_experiment(SDE_NEURAL, SDE_NEURAL.preset('quick'), sys.argv[1], "
               "RunOptions(progress=False))", os.path.join(tmp, "run")]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        return {"wall_s": wall, "ok": proc.returncode == 0,
                "stderr_tail": proc.stderr[-500:] if proc.returncode else "",
                "load_average_before": load0, "load_average_after": os.getloadavg(),
                "cpu_count": os.cpu_count()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="few seeds and repeats")
    p.add_argument("--no-preset", action="store_true", help="skip the quick-preset timing")
    args = p.parse_args(argv)
    seeds, steps, repeats = (64, 16, 2) if args.quick else (512, 64, 5)
    width, depth, batch, n_exp, eta, substeps = 12, 2, 64, 64, 0.05, 2
    horizon = 3.2
    result = {"setup": {
        "model": f"MoG ring MLP GAN, tanh, width {width}, depth {depth}, latent 2",
        "batch_size": batch, "experiment_examples": n_exp, "eta": eta, "seeds": seeds,
        "steps": steps, "dtype": "float64", "jax": jax.__version__,
        "backend": jax.default_backend(), "devices": jax.device_count(),
        "load_average_at_start": os.getloadavg(), "cpu_count": os.cpu_count()}}
    per, ratios = per_step_section(seeds, steps, repeats, width, depth, batch, n_exp, eta,
                                   substeps)
    result["per_seed_step"] = per
    result["ratio_to_sgda_step"] = ratios
    em = per[f"sde_eq9_euler_n{batch}"]["ns_per_seed_step"]
    heun = per[f"sde_eq9_heun_drift_n{n_exp}"]["ns_per_seed_step"]
    sgda = per["sgda_simultaneous"]["ns_per_seed_step"]
    result["throughput"] = {
        "sde_seed_steps_per_s": 1e9 / em,
        "sgda_seed_steps_per_s": 1e9 / sgda,
        "sde_seeds_per_s_full_horizon": 1e9 / (heun * horizon / eta * substeps),
        "sgda_seeds_per_s_full_horizon": 1e9 / (sgda * horizon / eta),
    }
    result["target_sde_over_sgda_at_n_equal_B"] = {"value": ratios[f"sde_eq9_euler_n{batch}"],
                                                   "target": 2.0}
    if not args.no_preset:
        result["quick_preset"] = preset_section()
    result["load_average_at_end"] = os.getloadavg()
    result["gpu"] = "skipped: no GPU in this task"
    emit(result)
    return result


if __name__ == "__main__":
    main()
