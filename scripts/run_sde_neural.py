"""Batch run of the `sde-neural` experiment (Cao–Guo Theorems 1–2 on an MLP GAN), resumable.

    python scripts/run_sde_neural.py --out runs/sde-neural --seeds 4096 \
        --etas 0.8,0.4,0.2,0.1,0.05 --batch-size 64 --variants "activation=relu" "batch_size=8"
    python scripts/run_sde_neural.py --out runs/sde-neural --resume      # after an interruption
    python scripts/run_sde_neural.py --out runs/cpu8 --devices 8 ...     # 8 CPU devices

The seeds of every (η, scheme, process) cell are sharded over all devices (`--devices N` makes
N host devices on CPU; on a GPU machine all GPUs are used). Every engine segment is
checkpointed under OUT/checkpoints, so `--resume` continues an interrupted run bitwise. The
report (OUT/report.md) and figures are rewritten at the end; `ganflow report OUT` rewrites them
from the saved results at any time.
"""

import argparse
import os
import sys
import time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--preset", default="default", help="start from this preset (quick, full)")
    p.add_argument("--seeds", type=int)
    p.add_argument("--etas", help="comma-separated learning rates")
    p.add_argument("--horizon", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--num-examples", type=int)
    p.add_argument("--width", type=int)
    p.add_argument("--depth", type=int)
    p.add_argument("--activation")
    p.add_argument("--substeps", type=int)
    p.add_argument("--variants", nargs="*", help='e.g. "activation=relu" "batch_size=8"')
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="any other config field")
    p.add_argument("--devices", type=int, default=0,
                   help="number of CPU host devices to shard the seeds over (0: as found)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.devices:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = (
            f"{flags} --xla_force_host_platform_device_count={args.devices}").strip()

    import jax

    jax.config.update("jax_enable_x64", True)
    from ganflow.experiments import (RunOptions, make_config, read_run, resume_run,
                                     run_experiment)
    from ganflow.experiments._exp_noise import SDE_NEURAL
    from ganflow.experiments._registry import parse_set

    progress = False if args.no_progress else None
    started = time.perf_counter()
    if args.resume:
        read_run(args.out)
        report = resume_run(args.out, progress=progress)
    else:
        values = parse_set(args.set)
        for key in ("seeds", "etas", "horizon", "batch_size", "num_examples", "width", "depth",
                    "activation", "substeps", "variants"):
            v = getattr(args, key)
            if v is not None:
                values[key] = tuple(v) if key == "variants" else v
        base = SDE_NEURAL.preset(args.preset)
        config = make_config(SDE_NEURAL, values, base=base, origin="command line")
        report = run_experiment(SDE_NEURAL, config, args.out,
                                RunOptions(overwrite=args.overwrite, progress=progress))
    print(f"{report} ({time.perf_counter() - started:.0f} s on {jax.device_count()} "
          f"{jax.default_backend()} device(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
