"""Batch runs of the `mog` and `jacobian-spectra` experiments on any machine (CPU or GPU).

A thin front end to `ganflow.experiments` (the same configs, presets, run folders and reports
as `ganflow run`): choose the experiment, a preset, the seeds, sizes (any config key with
`--set`) and the devices. Re-running the same command on a folder that holds an unfinished run
of the same config resumes it (bitwise as if uninterrupted); `--overwrite` starts afresh.

    python scripts/run_mog.py --preset nk --seeds 64 --out runs/mog-nk              # GPU
    python scripts/run_mog.py --set kind=grid --devices 2 --out runs/mog-grid        # 2 CPU devices
    python scripts/run_mog.py --experiment jacobian-spectra --preset quick --out runs/spec
    python scripts/run_mog.py --out runs/mog-nk --report-only                       # rewrite report

`--devices`: on CPU a count N (the seeds are sharded over N host devices, one per core is the
useful maximum); on GPU a comma-separated list of device ids (CUDA_VISIBLE_DEVICES). Prints the
wall time and the path of the report.
"""

import argparse
import os
import sys
import time


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment", default="mog", choices=("mog", "jacobian-spectra"))
    p.add_argument("--preset", default="default", help="default, quick, nk, consensus, sga, "
                   "issue (mog); default, quick (jacobian-spectra)")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds")
    p.add_argument("--steps", type=int, default=None, help="num_steps (save_every must divide it)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any config key, e.g. --set methods=vanilla,nk --set batch_size=512")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--devices", default=None, help="CPU: a count; GPU: ids such as 0,1")
    p.add_argument("--platform", default=None, choices=("cpu", "gpu"),
                   help="force a jax platform (default: jax's choice)")
    p.add_argument("--overwrite", action="store_true", help="discard a run already in --out")
    p.add_argument("--report-only", action="store_true", help="rewrite the report and exit")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> int:
    ns = _parse(argv)
    # devices must be chosen before jax is imported
    if ns.platform:
        os.environ["JAX_PLATFORMS"] = ns.platform if ns.platform == "cpu" else "cuda"
    if ns.devices:
        if ns.platform == "gpu" or "," in ns.devices:
            os.environ["CUDA_VISIBLE_DEVICES"] = ns.devices
        else:
            flags = os.environ.get("XLA_FLAGS", "")
            os.environ["XLA_FLAGS"] = (
                f"{flags} --xla_force_host_platform_device_count={int(ns.devices)}").strip()

    import jax

    jax.config.update("jax_enable_x64", True)  # as the `ganflow` command; the nets use cfg.dtype

    from pathlib import Path

    from ganflow.experiments import _exp_mog  # noqa: F401  registers mog, jacobian-spectra
    from ganflow.studies._registry import (
        REGISTRY,
        ConfigError,
        RunOptions,
        load_toml,
        make_config,
        parse_set,
    )
    from ganflow.studies._runner import run_experiment, write_report

    out = Path(ns.out)
    exp = REGISTRY[ns.experiment]
    try:
        if ns.report_only:
            saved_exp, values = load_toml(out / "config.toml")
            cfg = make_config(saved_exp, values)
            print(write_report(saved_exp, cfg, out))
            return 0
        cfg = exp.preset(ns.preset)
        values = parse_set(ns.set)
        if ns.seeds is not None:
            values["seeds"] = ns.seeds
        if ns.steps is not None:
            values["num_steps"] = ns.steps
        if values:
            cfg = make_config(exp, values, base=cfg, origin="--set")
        resume = False
        if (out / "config.toml").is_file() and not ns.overwrite:
            saved_exp, saved = load_toml(out / "config.toml")
            if saved_exp.name != exp.name or make_config(saved_exp, saved) != cfg:
                raise ConfigError(f"{out} holds another run; choose another --out or pass "
                                  "--overwrite")
            resume = True
        print(f"run_mog: {exp.name} ({ns.preset}) into {out} on {jax.devices()}"
              + (" (resuming)" if resume else ""), flush=True)
        t0 = time.perf_counter()
        report = run_experiment(exp, cfg, out, RunOptions(
            resume=resume, overwrite=ns.overwrite and not resume,
            progress=False if ns.no_progress else None))
    except ConfigError as e:
        print(f"run_mog: error: {e}", file=sys.stderr)
        return 2
    print(f"run_mog: done in {time.perf_counter() - t0:.1f} s; report: {report}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
