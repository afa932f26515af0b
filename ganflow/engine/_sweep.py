r"""What an ensemble runs over: seeds × hyper-parameter axes, as a grid or as a list of cases.

An axis whose values are all floats is **traced**: its values are `vmap`ped inside one
compilation. Any other axis (strings such as a method name, integers such as a batch size or
n_d, booleans) is **static**: it can change shapes or code, so the engine compiles once per
static value (the traced axes and the seeds still share that compilation). `Axis(..., static=)`
overrides the choice.

**Seeds.** Member (seed s, cell c) uses the key `keys[s]` and, at step t,
`jax.random.fold_in(keys[s], t)`: a seed's path is a function of its own key and its cell only,
identical alone, in any ensemble, chunked or sharded over any number of devices or hosts. Every
cell uses the same seed keys (common random numbers across hyper-parameters).
"""

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_selectable_names


def seed_keys(seeds: Any, *, root: int | None = None, stream: int | None = None) -> jax.Array:
    """The ensemble's seed keys, one per seed — ganflow's one seed convention.

    `seeds` is a count n (seeds 0, …, n − 1), a sequence of non-negative integer seeds, or a
    1-D array of typed keys (returned as is). Seed s gets

    - `jax.random.key(s)` without `root`;
    - `fold_in(base, s)` with a `root` seed (a study's config `seed`), where
      `base = jax.random.key(root)`, or `fold_in(key(root), stream)` with a `stream` (a salt
      that keeps one study's sweeps apart).

    Either way a seed's key depends on its own index (and the root and stream) only, never on
    how many seeds run: 64 seeds then 128 extend the first 64 exactly. Raw `uint32` key data is
    refused.
    """
    if hasattr(seeds, "dtype") and jnp.issubdtype(seeds.dtype, jax.dtypes.prng_key):
        if seeds.ndim != 1:
            raise ValueError(f"keys must be a 1-D array of typed keys, got shape {seeds.shape}")
        if root is not None or stream is not None:
            raise ValueError("root and stream apply to integer seeds, not to typed keys")
        return seeds
    if hasattr(seeds, "dtype") and jnp.asarray(seeds).dtype == jnp.uint32 and jnp.ndim(seeds) == 2:
        raise ValueError(
            "keys must be typed PRNG keys (jax.random.key / jax.random.split of one), not raw "
            "uint32 key data; wrap it with jax.random.wrap_key_data"
        )
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"the number of seeds must be >= 1, got {seeds}")
        ints = jnp.arange(int(seeds), dtype=jnp.uint32)
    else:
        try:
            values = [int(s) for s in seeds]
        except (TypeError, ValueError):
            raise ValueError(
                "seeds must be a count, a sequence of integers or a 1-D array of typed keys; "
                f"got {type(seeds).__name__}"
            ) from None
        if not values or any(s < 0 for s in values):
            raise ValueError(f"seeds must be non-negative integers, got {seeds!r}")
        ints = jnp.asarray(values, dtype=jnp.uint32)
    if root is None:
        if stream is not None:
            raise ValueError("a stream needs a root seed (seed_keys(n, root=seed, stream=...))")
        return jax.vmap(jax.random.key)(ints)
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)) or root < 0:
        raise ValueError(f"root must be a non-negative integer seed, got {root!r}")
    base = jax.random.key(int(root))
    if stream is not None:
        base = jax.random.fold_in(base, int(stream))
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(ints)


@dataclasses.dataclass(frozen=True)
class Axis:
    """One hyper-parameter axis: a name and its values. `static=None` infers it (floats are
    traced, anything else static)."""

    name: str
    values: tuple
    static: bool | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"an axis name must be an identifier, got {self.name!r}")
        vals = self.values
        if isinstance(vals, (str, bytes)) or not isinstance(vals, (Sequence, np.ndarray)):
            raise ValueError(
                f"axis {self.name!r}: values must be a list of values, got {type(vals).__name__}"
            )
        arr = np.asarray(vals)
        if arr.ndim != 1 or len(vals) == 0:
            raise ValueError(
                f"axis {self.name!r}: values must be a non-empty 1-D list, got shape {arr.shape}"
            )
        vals = tuple(v.item() if isinstance(v, np.generic) else v for v in vals)
        kinds = {type(v) for v in vals}
        if len({float if k is int and float in kinds else k for k in kinds}) > 1:
            raise ValueError(f"axis {self.name!r}: values of mixed types {sorted(map(str, kinds))}")
        object.__setattr__(self, "values", vals)
        if self.static is None:
            object.__setattr__(self, "static", not all(isinstance(v, float) for v in vals))
        if not self.static and not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals
        ):
            raise ValueError(f"axis {self.name!r}: a traced axis needs numeric values")


def _as_axes(axes: Any) -> tuple[Axis, ...]:
    if axes is None:
        return ()
    if isinstance(axes, Mapping):
        axes = [Axis(k, tuple(v) if not isinstance(v, np.ndarray) else v) for k, v in axes.items()]
    out = []
    for a in axes:
        if not isinstance(a, Axis):
            raise ValueError(f"axes must be a mapping name -> values or Axis objects, got {a!r}")
        out.append(a)
    names = [a.name for a in out]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate axis names: {names}")
    if "seed" in names or "step" in names:
        raise ValueError("'seed' and 'step' are reserved dimension names")
    check_selectable_names(names, "the axis name")
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class Sweep:
    r"""Seeds × hyper-parameters.

    - `seeds`: see `seed_keys` (a count, integer seeds or typed keys);
    - `axes`: `{name: values}` (or `Axis` objects). As a grid (default) every combination is a
      cell and each axis is a dimension of the results; with `cases=True` the axes are zipped
      (equal lengths) into one `case` dimension, each axis then a coordinate along it.

    ```python
    Sweep(seeds=64, axes={"eta": [0.01, 0.03, 0.1], "variant": ["vanilla", "nk"]})
    ```
    """

    seeds: Any = 1
    axes: Any = None
    cases: bool = False

    def __post_init__(self):
        object.__setattr__(self, "axes", _as_axes(self.axes))
        if self.cases and self.axes:
            lens = {len(a.values) for a in self.axes}
            if len(lens) != 1:
                raise ValueError(
                    "cases=True zips the axes: they need equal lengths, got "
                    + ", ".join(f"{a.name}={len(a.values)}" for a in self.axes)
                )

    @property
    def keys(self) -> jax.Array:
        return seed_keys(self.seeds)

    @property
    def seed_labels(self) -> np.ndarray:
        s = self.seeds
        if isinstance(s, (int, np.integer)):
            return np.arange(int(s))
        if hasattr(s, "dtype") and jnp.issubdtype(s.dtype, jax.dtypes.prng_key):
            return np.arange(s.shape[0])
        return np.asarray([int(v) for v in s])

    @property
    def static_axes(self) -> tuple[Axis, ...]:
        return tuple(a for a in self.axes if a.static)

    @property
    def traced_axes(self) -> tuple[Axis, ...]:
        return tuple(a for a in self.axes if not a.static)

    @property
    def dims(self) -> tuple[str, ...]:
        """Dimensions of a per-member result after `seed`: the axis names, or ('case',)."""
        if self.cases:
            return ("case",) if self.axes else ()
        return tuple(a.name for a in self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        if self.cases:
            return (len(self.axes[0].values),) if self.axes else ()
        return tuple(len(a.values) for a in self.axes)

    def static_cells(self) -> list[dict[str, Any]]:
        """The distinct static settings, one compilation each."""
        st = self.static_axes
        if self.cases:
            seen: list[dict[str, Any]] = []
            for i in range(self.shape[0] if self.axes else 1):
                cell = {a.name: a.values[i] for a in st}
                if cell not in seen:
                    seen.append(cell)
            return seen
        return [dict(zip([a.name for a in st], combo))
                for combo in itertools.product(*[a.values for a in st])]

    def traced_cells(self, static: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], list]:
        """For one static setting: the traced values as flat arrays (one entry per cell of that
        setting) and, per cell, its index into `shape`."""
        tr = self.traced_axes
        if self.cases:
            idx = [i for i in range(self.shape[0] if self.axes else 1)
                   if all(a.values[i] == static[a.name] for a in self.static_axes)]
            vals = {a.name: np.asarray([a.values[i] for i in idx], np.float64) for a in tr}
            return vals, [(i,) for i in idx]
        grids = list(itertools.product(*[range(len(a.values)) for a in tr]))
        vals = {a.name: np.asarray([a.values[g[j]] for g in grids], np.float64)
                for j, a in enumerate(tr)}
        index = []
        for g in grids:
            full, j = [], 0
            for a in self.axes:
                if a.static:
                    full.append(a.values.index(static[a.name]))
                else:
                    full.append(g[j])
                    j += 1
            index.append(tuple(full))
        return vals, index

    @property
    def num_cells(self) -> int:
        return math.prod(self.shape)

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (part of a run's config identity)."""
        return {
            "seeds": [int(s) for s in self.seed_labels],
            "axes": {a.name: list(a.values) for a in self.axes},
            "static": [a.name for a in self.static_axes],
            "cases": self.cases,
        }
