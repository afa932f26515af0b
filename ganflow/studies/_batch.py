"""Batch runs of registered experiments on accelerators and clusters: `scripts/run_<name>.py`.

```text
python scripts/run_mog.py --out runs/mog [--preset nk] [--seeds 256] [--set key=value ...]
       [--cpu-devices 8] [--coordinator host0:1234 --num-processes 4 --process-id 0]
       [--resume] [--no-progress]
```

Seeds are sharded over every device the process sees (`jax.sharding`); `--cpu-devices N` makes
N CPU devices (one per core) before jax starts; with `--coordinator` every process of a
multi-host job calls `jax.distributed.initialize` and writes its own seeds into the shared run
folder. `--resume` continues an interrupted run from its last checkpoint (bitwise as if
uninterrupted). Runs the same code as `ganflow run`; nothing here is specific to a scheduler.
"""

import argparse
import os
import sys
from collections.abc import Sequence


def batch_main(name: str, argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=f"run_{name.replace('-', '_')}.py",
                                description=f"Batch run of the ganflow experiment {name}.")
    p.add_argument("--out", required=True, help="run folder (shared by all processes)")
    p.add_argument("--preset", default="default")
    p.add_argument("--seeds", type=int, default=None)
    p.add_argument("--set", action="append", metavar="KEY=VALUE")
    p.add_argument("--cpu-devices", type=int, default=None,
                   help="number of CPU devices (one per core) to shard the seeds over")
    p.add_argument("--coordinator", default=None, help="host:port of process 0 (multi-host)")
    p.add_argument("--num-processes", type=int, default=None)
    p.add_argument("--process-id", type=int, default=None)
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    ns = p.parse_args(argv)
    if ns.cpu_devices is not None:
        if ns.cpu_devices < 1:
            p.error("--cpu-devices must be >= 1")
        if "jax" in sys.modules:
            p.error("--cpu-devices must be set before jax is imported")
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   f" --xla_force_host_platform_device_count={ns.cpu_devices}")
    import jax

    if ns.coordinator is not None:
        if ns.num_processes is None or ns.process_id is None:
            p.error("--coordinator needs --num-processes and --process-id")
        if jax.default_backend() == "cpu":
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=ns.coordinator,
                                   num_processes=ns.num_processes, process_id=ns.process_id)
    jax.config.update("jax_enable_x64", True)
    from pathlib import Path

    from ._registry import ConfigError, RunOptions, get_experiment, make_config, parse_set
    from ._runner import run_experiment

    try:
        exp = get_experiment(name)
        config = exp.preset(ns.preset)
        overrides = parse_set(ns.set)
        if ns.seeds is not None:
            overrides["seeds"] = ns.seeds
        if overrides:
            config = make_config(exp, overrides, base=config, origin="--set")
        if jax.process_index() == 0:
            print(f"{name}: {jax.device_count()} device(s) over {jax.process_count()} "
                  f"process(es), out={ns.out}", flush=True)
        path = run_experiment(exp, config, Path(ns.out),
                              RunOptions(resume=ns.resume, overwrite=ns.overwrite,
                                         progress=ns.progress))
    except (ConfigError, ValueError, OSError) as err:
        print(f"{p.prog}: error: {err}", file=sys.stderr)
        return 2
    print(f"{name}: report at {path}")
    return 0
