"""The MoG training step for 16 vmapped seeds, ganflow against PyTorch (issue 9, Performance).

The model of `ganflow run mog` (default, fast CPU preset): ring of 8 Gaussians, generator
16 → 64 → 64 → 2 ReLU, discriminator x/4 → 64 → 1 ReLU (NK's architecture at half width),
batch 256, Adam 1e-3 (β1 0.5), one alternating step = a discriminator update then a generator
update, each on a fresh minibatch, saturating loss; `vanilla` and `nk` (the generator descends
Φ + λ‖∇_ωΦ‖², λ = 0.5: double backprop).

- ganflow: the experiment's own ensemble member through the engine (`run_ensemble`, in
  memory): vmapped over 16 seeds, sharded over one virtual CPU device per core, `--steps`
  steps per call (per-call work included);
- PyTorch, as a PyTorch user would write it: stacked parameters (16, ...) as leaf tensors,
  `torch.func.vmap(torch.func.grad(loss))` over the seeds, `torch.optim.Adam` on the stacked
  parameters (elementwise: 16 independent Adams), a Python loop over the steps, batches drawn
  with `torch` on the same sizes. float32 CPU on both sides.

Both are timed in one process, interleaved (machine load affects both alike); the ratio
ganflow / PyTorch per step is reported (target ≤ 0.5). `--table` also runs the whole ring
table of `mog` in its default preset (10 methods × 16 seeds; target ≤ 15 min on 2 cores) and
reports its wall and CPU time with the load average before and after. Prints one JSON object.

    python scripts/benchmarks/bench_mog_torch.py            # step benchmark
    python scripts/benchmarks/bench_mog_torch.py --table    # and the ring table
    python scripts/benchmarks/bench_mog_torch.py --quick    # smoke sizes
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

# one virtual CPU device per core, as ganflow's sweeps run on a multi-core CPU (the engine
# shards the seeds over the devices); torch uses the same cores through its threads.
# `--one-device` keeps one device (the seeds then run on one core's worth of XLA threads).
if "--one-device" not in sys.argv and "XLA_FLAGS" not in os.environ:
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={os.cpu_count() or 1}"

import jax
import numpy as np
from _common import paired_times


def ganflow_runner(cfg, method: str, seeds: int, steps: int):
    """`steps` steps of the experiment's own members for `seeds` seeds through the engine
    (`run_ensemble`: vmapped, sharded over the devices, in memory, no progress bar), as
    `ganflow run mog` runs them; returns (fn, None). Each call includes the engine's per-call
    work (initialisation, outcome), so `steps` should be large enough to amortise it."""
    from ganflow.engine import Execution, Sweep, run_ensemble, seed_keys

    member = mog_member(cfg, method)
    keys = seed_keys(seeds, root=cfg.seed)  # the seed keys of `ganflow run mog`

    def run():
        return run_ensemble(member, Sweep(seeds=keys), steps, save_every=steps,
                            execution=Execution(progress=False)).status

    return run, None


def torch_runner(cfg, method: str, seeds: int, steps: int, threads: int | None, std: float):
    import torch
    import torch.nn.functional as F
    from torch.func import grad, vmap

    if threads:
        torch.set_num_threads(threads)
    gen_rng = torch.Generator().manual_seed(0)
    z_dim, w_g, w_d, batch = cfg.latent_dim, cfg.gen_width, cfg.disc_width, cfg.batch_size
    angles = torch.arange(8) * (2 * np.pi / 8)
    modes = 2.0 * torch.stack([torch.cos(angles), torch.sin(angles)], 1)

    def orth(*shape):
        w = torch.empty(seeds, *shape)
        for i in range(seeds):
            torch.nn.init.orthogonal_(w[i], gain=cfg.init_gain)
        return w

    pg = {"w0": orth(w_g, z_dim), "b0": torch.zeros(seeds, w_g),
          "w1": orth(w_g, w_g), "b1": torch.zeros(seeds, w_g),
          "w2": orth(2, w_g), "b2": torch.zeros(seeds, 2)}
    pd = {"w0": orth(w_d, 2), "b0": torch.zeros(seeds, w_d),
          "w1": orth(1, w_d), "b1": torch.zeros(seeds, 1)}
    for p in list(pg.values()) + list(pd.values()):
        p.requires_grad_(False)

    def G(p, z):
        h = F.relu(z @ p["w0"].T + p["b0"])
        h = F.relu(h @ p["w1"].T + p["b1"])
        return h @ p["w2"].T + p["b2"]

    def D(p, x):
        h = F.relu((cfg.input_scale * x) @ p["w0"].T + p["b0"])
        return (h @ p["w1"].T + p["b1"]).squeeze(-1)

    def phi(p_g, p_d, x, z):
        return F.logsigmoid(D(p_d, x)).mean() + F.logsigmoid(-D(p_d, G(p_g, z))).mean()

    lam = cfg.lam_nk

    def g_loss(p_g, p_d, x, z):
        if method == "nk":
            g = grad(phi, argnums=1)(p_g, p_d, x, z)
            return phi(p_g, p_d, x, z) + lam * sum((v * v).sum() for v in g.values())
        return phi(p_g, p_d, x, z)

    d_grad = vmap(grad(lambda p_d, p_g, x, z: -phi(p_g, p_d, x, z)))
    g_grad = vmap(grad(g_loss))
    opt_d = torch.optim.Adam(list(pd.values()), lr=cfg.learning_rate, betas=(cfg.beta1, 0.999))
    opt_g = torch.optim.Adam(list(pg.values()), lr=cfg.learning_rate, betas=(cfg.beta1, 0.999))

    def sample():
        idx = torch.randint(0, 8, (seeds, batch), generator=gen_rng)
        x = modes[idx] + std * torch.randn(seeds, batch, 2, generator=gen_rng)
        z = torch.randn(seeds, batch, z_dim, generator=gen_rng)
        return x, z

    def run():
        for _ in range(steps):
            x, z = sample()
            for p, g in zip(pd.values(), d_grad(pd, pg, x, z).values()):
                p.grad = g
            opt_d.step()
            x, z = sample()
            for p, g in zip(pg.values(), g_grad(pg, pd, x, z).values()):
                p.grad = g
            opt_g.step()
        return pg["w2"]

    return run, torch.__version__, torch.get_num_threads()


def mog_game(cfg):
    """The game of `ganflow run mog` for vanilla and nk (the saturating loss)."""
    import ganflow as gf

    return gf.games.MoGNetsGame(cfg.kind, "gan", cfg.latent_dim, cfg.gen_width, cfg.gen_depth,
                                cfg.disc_width, cfg.disc_depth, cfg.input_scale, cfg.init,
                                cfg.init_gain, cfg.dtype)


def mog_member(cfg, method: str):
    """The ensemble member of `ganflow run mog` for `method` (vanilla or nk), from public
    names: the config's scheme and reference optimiser, NK's penalty for nk."""
    import ganflow as gf

    game = mog_game(cfg)
    stabilisers = (gf.stabilisers.NagarajanKolter(cfg.lam_nk),) if method == "nk" else ()
    opt = gf.training.reference_optimizer(cfg.optimizer, cfg.learning_rate, cfg.beta1)
    scheme = gf.training.make_scheme(cfg.scheme, game, opt, stabilisers=stabilisers,
                                     sampler=gf.games.GameSampler(game, cfg.batch_size))
    return gf.training.MoGTrainProblem(game, scheme, cfg.num_eval_samples, cfg.num_kept_samples)


def ring_table(quick: bool) -> dict:
    """The whole ring table of `mog` in its default preset (or quick), timed."""
    jax.config.update("jax_enable_x64", True)  # as `ganflow run`
    from ganflow.studies import get_experiment, run_experiment

    exp = get_experiment("mog")
    cfg = exp.preset("quick" if quick else "default")
    load0 = os.getloadavg()
    t0, c0 = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        run_experiment(exp, cfg, tmp)
        import xarray as xr

        ds = xr.open_zarr(f"{tmp}/results.zarr/mog")
        modes = np.asarray(ds["modes_covered"].isel(step=-1).values, float)
        summary = {str(m): float(modes[:, i].mean()) for i, m in enumerate(ds["variant"].values)}
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "preset": "quick" if quick else "default",
        "methods": list(cfg.methods), "seeds": cfg.seeds, "num_steps": cfg.num_steps,
        "wall_s": wall, "wall_min": wall / 60, "process_cpu_s": cpu,
        "target_wall_min": 15.0, "meets_target": wall / 60 <= 15.0,
        "loadavg_before": load0, "loadavg_after": os.getloadavg(),
        "cpu_count": os.cpu_count(), "final_modes_covered_mean": summary,
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke sizes")
    p.add_argument("--seeds", type=int, default=16)
    p.add_argument("--steps", type=int, default=100, help="steps per timed call")
    p.add_argument("--one-device", action="store_true",
                   help="one CPU device (default: one virtual device per core)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--table", action="store_true", help="also time the default ring table")
    args = p.parse_args(argv)

    import ganflow as gf
    from ganflow.studies import get_experiment

    cfg = get_experiment("mog").preset("quick" if args.quick else "default")
    steps, repeats = (3, 2) if args.quick else (args.steps, args.repeats)
    std = gf.games.MixtureOfGaussians(cfg.kind).std
    out = {
        "benchmark": "bench_mog_torch",
        "model": {"kind": cfg.kind, "latent": cfg.latent_dim,
                  "generator": f"{cfg.gen_depth}x{cfg.gen_width} ReLU",
                  "discriminator": f"{cfg.disc_depth}x{cfg.disc_width} ReLU on "
                                   f"{cfg.input_scale}*x",
                  "batch": cfg.batch_size, "optimizer": f"adam {cfg.learning_rate} "
                                                        f"b1 {cfg.beta1}",
                  "step": "alternating: D then G, fresh batch each", "dtype": "float32",
                  "num_params": mog_game(cfg).num_params()},
        "seeds": args.seeds, "steps_per_call": steps, "repeats": repeats,
        "jax": jax.__version__, "backend": jax.default_backend(),
        "devices": len(jax.devices()),
        "loadavg_before": os.getloadavg(), "cpu_count": os.cpu_count(),
        "methods": {},
    }
    for method in ("vanilla", "nk"):
        fa, _ = ganflow_runner(cfg, method, args.seeds, steps)
        fb, tv, threads = torch_runner(cfg, method, args.seeds, steps, args.threads, std)
        ta, tb = paired_times(fa, fb, repeats)
        ratios = [a / b for a, b in zip(ta, tb)]
        out["methods"][method] = {
            "ganflow_ms_per_step": 1e3 * statistics.median(ta) / steps,
            "torch_ms_per_step": 1e3 * statistics.median(tb) / steps,
            "ratio_ganflow_to_torch": statistics.median(ratios),
            "ratio_min": min(ratios), "ratio_max": max(ratios),
            "target_max": 0.5, "meets_target": statistics.median(ratios) <= 0.5,
        }
        out["torch"] = {"version": tv, "threads": threads}
    out["loadavg_after"] = os.getloadavg()
    if args.table:
        out["ring_table"] = ring_table(args.quick)
    json.dump(out, sys.stdout, indent=1, default=float)
    sys.stdout.write("\n")
    return out


if __name__ == "__main__":
    main()
