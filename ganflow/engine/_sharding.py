r"""Sharding an ensemble's seed axis over devices (and hosts).

The seed axis is the only sharded axis: every seed's path is independent, so XLA partitions
the vmapped `lax.scan` / diffrax solve with no communication. The mesh uses
`AxisType.Auto` (`jax.make_mesh` defaults to explicit axes in jax 0.10, under which a vmapped
scan fails with "Resource axis … not found in mesh"; MEASURED.md).

**Several devices on one host.** Nothing to do: when `jax.device_count() > 1` the ensemble
functions shard the seeds. On CPU, one device uses one core; create one device per core with
`XLA_FLAGS=--xla_force_host_platform_device_count=<cores>` set *before* jax is imported.

**Several hosts.** Start every process with the same program and call, before anything else,
```python
jax.distributed.initialize(coordinator_address="host0:1234", num_processes=P, process_id=i)
```
(on a managed cluster — SLURM, TPU pods, Kubernetes with the right env — plain
`jax.distributed.initialize()` finds these itself). Then `jax.devices()` lists all hosts'
devices, every process passes the *same* full `keys` array, and `shard_seeds` builds global
arrays with `jax.make_array_from_callback`, each process materialising only its own seeds. The
solution's arrays are global; gather them where needed with
`jax.experimental.multihost_utils.process_allgather(sol.xs)`. ganflow writes no scheduler.
"""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, NamedSharding, PartitionSpec

SEED_AXIS = "seeds"


def seed_mesh(devices: Any = None) -> jax.sharding.Mesh:
    """A 1-D mesh over `devices` (default: all devices, every host) with the seed axis Auto."""
    devices = jax.devices() if devices is None else list(devices)
    return jax.make_mesh(
        (len(devices),), (SEED_AXIS,), axis_types=(AxisType.Auto,), devices=devices
    )


def _global(a: Any, sharding: NamedSharding) -> jax.Array:
    host = np.asarray(a)
    return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])


def shard_seeds(tree: Any, mesh: jax.sharding.Mesh | None = None) -> Any:
    """Places every leaf of `tree` (leading axis = seeds) sharded along the seeds over `mesh`.
    Typed PRNG keys are sharded through their key data."""
    mesh = seed_mesh() if mesh is None else mesh
    sharding = NamedSharding(mesh, PartitionSpec(SEED_AXIS))

    def put(a):
        if jnp.issubdtype(jnp.asarray(a).dtype if not hasattr(a, "dtype") else a.dtype,
                          jax.dtypes.prng_key):
            impl = jax.random.key_impl(a)
            data = _global(jax.random.key_data(a), sharding)
            return jax.random.wrap_key_data(data, impl=impl)
        return _global(a, sharding)

    return jax.tree_util.tree_map(put, tree)


def pad_seeds(num: int, devices: int) -> int:
    """Seeds to add so that `num + pad` divides evenly over `devices`."""
    return (-num) % devices
