r"""Counter-based Gaussian noise: fast, and a function of each seed's key alone.

Every Brownian increment of an ensemble member is
$$ΔW_{s,k,j} = \sqrt{Δt}\, Φ^{-1}\big(U(\mathrm{Threefry2x32}(κ_s;\ k, j))\big),$$
with $κ_s$ the seed's key (after a fixed `fold_in` per purpose, so the stream never overlaps
what `jax.random` draws from the same key), $k$ the step index and $j$ the index of the number
within the step. The value depends on $(κ_s, k, j)$ only — not on the ensemble size, the other
seeds, the device layout or the save points — which makes each seed's path reproducible from
its key alone (run seed s alone or inside an ensemble of any size: the same numbers).

**Why not `jax.random.normal`.** On CPU the `threefry2x32` primitive of `jax.random` runs
≈40 ns per hash (measured on this machine, 2026-11), an order of magnitude more than the
arithmetic of a small SDE step. `threefry2x32` below is the same hash (Salmon et al. 2011,
20 rounds, bit-for-bit equal to `jax.extend.random.threefry_2x32`, checked in the tests)
written with `jnp` integer operations, which XLA fuses and vectorises: ≈2–3 ns per hash. The
uniform → normal map is JAX's own (`jax.random.normal`: $\sqrt2\,\mathrm{erfinv}(u)$ with
$u ∈ (-1, 1)$ from the top mantissa bits).

float32: one hash (64 bits) gives two normals; float64: one hash gives one normal (52 bits).
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from diffrax import AbstractBrownianPath, BrownianIncrement, SpaceTimeLevyArea
from jaxtyping import Array, PRNGKeyArray

_U32 = jnp.uint32
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))

# `fold_in` constants separating the streams drawn from one seed key.
STREAM_BROWNIAN = 0x6272776E  # "brwn": Brownian increments (scan fast path, CounterBrownianPath)
"""The `fold_in` constant of the Brownian increments' stream: a seed key `k` draws its Brownian
path from `jax.random.fold_in(k, STREAM_BROWNIAN)`, apart from its minibatch streams."""
STREAM_BATCH = 0x62746368  # "btch": minibatch indices / samples of the discrete schemes
STREAM_SIGMA = 0x7369676D  # "sigm": fresh batches for the Σ estimate


def _rotl(v: Array, d: int) -> Array:
    return (v << _U32(d)) | (v >> _U32(32 - d))


def threefry2x32(k1: Array, k2: Array, x1: Array, x2: Array) -> tuple[Array, Array]:
    r"""The Threefry-2x32 hash with 20 rounds (Salmon et al. 2011), on uint32 arrays that
    broadcast together. Bit-for-bit the hash behind `jax.random` (its CPU primitive is not
    fused; this version is, and is ≈15× faster there)."""
    k1, k2, x1, x2 = jnp.broadcast_arrays(*(jnp.asarray(a, _U32) for a in (k1, k2, x1, x2)))
    k3 = k1 ^ k2 ^ _U32(0x1BD11BDA)
    ks = (k1, k2, k3)
    x1 = x1 + k1
    x2 = x2 + k2
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x1 = x1 + x2
            x2 = _rotl(x2, r)
            x2 = x1 ^ x2
        x1 = x1 + ks[(i + 1) % 3]
        x2 = x2 + ks[(i + 2) % 3] + _U32(i + 1)
    return x1, x2


def normal_from_unit(f: Array, dtype) -> Array:
    """JAX's map from uniform bits f ∈ [0, 1) to N(0, 1) (as `jax.random.normal`):
    u = lo + f (1 − lo), lo = nextafter(−1, 0), z = √2 erfinv(u) — the last stage of the
    counter-based normals (`counter_normals`), public for benchmarks that rebuild them."""
    lo = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype))
    u = f * (np.array(1.0, dtype) - lo) + lo
    u = jnp.maximum(lo, u)
    return np.array(np.sqrt(2), dtype) * jax.scipy.special.erfinv(u)


def _normals_halves(k1: Array, k2: Array, step: Array, num: int, dtype: Any) -> list[Array]:
    """Normals 0..num−1 of (k1, k2, step) along a LEADING axis, as a list of consecutive blocks
    whose concatenation is the sequence (float32: the two words of each hash, numbers 0..h−1
    then h..num−1; float64: one block). k1, k2 may carry trailing seed axes. Elementwise in the
    key: any layout gives the same numbers."""
    dtype = jnp.dtype(dtype)
    step = jnp.asarray(step).astype(_U32)
    extra = (1,) * jnp.ndim(k1)
    if dtype == jnp.float64:
        j = jnp.arange(num, dtype=_U32).reshape((num,) + extra)
        w1, w2 = threefry2x32(k1, k2, step, j)
        bits = (w1.astype(jnp.uint64) << np.uint64(32)) | w2.astype(jnp.uint64)
        mant = (bits >> np.uint64(12)) | np.uint64(0x3FF0000000000000)
        f = jax.lax.bitcast_convert_type(mant, jnp.float64) - 1.0
        return [normal_from_unit(f, np.float64)]
    if dtype not in (jnp.float32, jnp.float16, jnp.bfloat16):
        raise ValueError(f"counter_normals supports floating dtypes only, got {dtype}")
    h = (num + 1) // 2
    j = jnp.arange(h, dtype=_U32).reshape((h,) + extra)
    w1, w2 = threefry2x32(k1, k2, step, j)

    def normal(w):
        f = jax.lax.bitcast_convert_type((w >> _U32(9)) | _U32(0x3F800000), jnp.float32) - 1.0
        return normal_from_unit(f, np.float32).astype(dtype)

    return [normal(w1), normal(w2[: num - h])]


def _take(blocks: list[Array], start: int, size: int) -> Array:
    """Rows start..start+size−1 of the concatenation of `blocks`, concatenating only what a
    range actually spans (keeps XLA's loops fused)."""
    parts, offset = [], 0
    for b in blocks:
        n = b.shape[0]
        lo, hi = max(start, offset), min(start + size, offset + n)
        if lo < hi:
            parts.append(b[lo - offset : hi - offset])
        offset += n
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=0)


def counter_normals(key_data: Array, step: Array, num: int, dtype: Any) -> Array:
    r"""`num` standard normals, a function of `(key_data, step)` only (see the module doc).

    `key_data` is the uint32 pair of a threefry key (`jax.random.key_data(key)`), `step` a
    non-negative integer. For a whole ensemble use `batch_tree_normals` (same numbers, laid out
    with the seed axis innermost so that XLA vectorises over seeds).
    """
    blocks = _normals_halves(key_data[..., 0], key_data[..., 1], step, num, dtype)
    return _take(blocks, 0, num)


def _split_leaves(blocks: list[Array], structure: Any, batch: tuple[int, ...]) -> Any:
    """Leaves of `structure` from the blocks (numbers leading, then the `batch` axes), returned
    with the batch axes first."""
    leaves, treedef = jax.tree_util.tree_flatten(structure)
    out, start = [], 0
    nb = len(batch)
    for leaf in leaves:
        size = int(np.prod(leaf.shape))
        a = _take(blocks, start, size).reshape(tuple(leaf.shape) + batch).astype(leaf.dtype)
        if nb:
            a = jnp.moveaxis(a, tuple(range(a.ndim - nb, a.ndim)), tuple(range(nb)))
        out.append(a)
        start += size
    return jax.tree_util.tree_unflatten(treedef, out)


def _structure_size_dtype(structure: Any) -> tuple[int, Any]:
    leaves = jax.tree_util.tree_leaves(structure)
    dtype = jnp.result_type(*[leaf.dtype for leaf in leaves])
    return sum(int(np.prod(leaf.shape)) for leaf in leaves), dtype


def batch_tree_normals(key_data: Array, step: Array, structure: Any, offset: int = 0) -> Any:
    """`tree_normals` for a whole ensemble at once: `key_data` of shape (seeds, 2), leaves of
    shape (seeds, ...). Bitwise `jax.vmap(tree_normals)` (elementwise in the key), but computed
    seeds-innermost: on CPU the vmapped layout (seeds, few numbers) does not vectorise and was
    3× slower (measured; see bench_sde.py)."""
    if not jax.tree_util.tree_leaves(structure):
        return structure
    num, dtype = _structure_size_dtype(structure)
    step = jnp.asarray(step).astype(_U32) + _U32(offset)
    blocks = _normals_halves(key_data[:, 0], key_data[:, 1], step, num, dtype)  # (·, seeds)
    return _split_leaves(blocks, structure, (key_data.shape[0],))


def stream_key_data(key: PRNGKeyArray, stream: int) -> Array:
    """The uint32 key pair of `fold_in(key, stream)` (one per seed, computed once)."""
    if not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.wrap_key_data(key)
    data = jax.random.key_data(jax.random.fold_in(key, stream))
    if data.shape[-1] != 2:
        raise ValueError(
            "ganflow's counter-based noise needs threefry keys (jax.random.key(seed)); "
            f"got key data of shape {data.shape}"
        )
    return data


def batch_tree_normals_block(key_data: Array, steps: Array, structure: Any) -> Any:
    """`batch_tree_normals` for several steps at once: `steps` of shape (K,), leaves of shape
    (K, seeds, ...). Bitwise the per-step numbers; drawing a block of steps per fused call
    amortises the loop and vectorises better (≈25% faster on CPU for K ≈ 10, measured)."""
    if not jax.tree_util.tree_leaves(structure):
        return structure
    num, dtype = _structure_size_dtype(structure)
    steps = jnp.asarray(steps).astype(_U32)[:, None]  # (K, 1)
    shape = (steps.shape[0], key_data.shape[0])
    k1 = jnp.broadcast_to(key_data[:, 0], shape)  # (K, seeds)
    k2 = jnp.broadcast_to(key_data[:, 1], shape)
    blocks = _normals_halves(k1, k2, steps, num, dtype)  # (·, K, seeds)
    return _split_leaves(blocks, structure, (steps.shape[0], key_data.shape[0]))


def tree_normals(key_data: Array, step: Array, structure: Any, offset: int = 0) -> Any:
    """Standard normals shaped like `structure` (a pytree of `jax.ShapeDtypeStruct`), drawn in
    one call: the leaves' numbers are consecutive counters of one step. `offset` shifts the step
    counter into a separate block (Lévy areas)."""
    if not jax.tree_util.tree_leaves(structure):
        return structure
    num, dtype = _structure_size_dtype(structure)
    step = jnp.asarray(step).astype(_U32) + _U32(offset)
    blocks = _normals_halves(key_data[..., 0], key_data[..., 1], step, num, dtype)
    return _split_leaves(blocks, structure, ())


class CounterBrownianPath(AbstractBrownianPath):
    r"""Brownian increments on a fixed grid $t_k = t_{start} + k\,Δt$ from ganflow's
    counter-based generator: $W(t_{k+1}) - W(t_k) = \sqrt{Δt}\,ξ_k$ with $ξ_k$ =
    `tree_normals(key, k)`.

    Like `diffrax.UnsafeBrownianPath`, only for fixed step sizes (`dt0 = Δt`, a
    `ConstantStepSize` controller) and without backpropagation through the solve (use
    `adjoint=diffrax.ForwardMode()`); unlike it, the increments are bitwise those of ganflow's
    `lax.scan` fast path (`sde_ensemble(method="scan")`), so the two paths agree to rounding.
    `levy_area=diffrax.SpaceTimeLevyArea` adds $H_k ∼ N(0, Δt/12)$ from a separate counter
    block (for `diffrax.SRA1`, `ShARK`).
    """

    shape: Any = eqx.field(static=True)
    levy_area: type = eqx.field(static=True)
    key_data: Array
    t_start: Array
    dt: Array

    def __init__(self, shape: Any, key: PRNGKeyArray, t_start, dt, levy_area=BrownianIncrement):
        if levy_area not in (BrownianIncrement, SpaceTimeLevyArea):
            raise ValueError("levy_area must be diffrax.BrownianIncrement or SpaceTimeLevyArea")
        self.shape = shape
        self.levy_area = levy_area
        self.key_data = stream_key_data(key, STREAM_BROWNIAN)
        self.t_start = jnp.asarray(t_start)
        self.dt = jnp.asarray(dt)

    @property
    def t0(self):
        return -jnp.inf

    @property
    def t1(self):
        return jnp.inf

    def evaluate(self, t0, t1=None, left: bool = True, use_levy: bool = False):
        del left
        if t1 is None:
            raise ValueError("CounterBrownianPath only gives increments: call evaluate(t0, t1)")
        t0 = jax.lax.stop_gradient(jnp.asarray(t0))
        t1 = jax.lax.stop_gradient(jnp.asarray(t1))
        k = jnp.round((t0 - self.t_start) / self.dt).astype(jnp.int32)
        width = t1 - t0
        w = jax.tree_util.tree_map(
            lambda z, s: (z * jnp.sqrt(width)).astype(s.dtype),
            tree_normals(self.key_data, k, self.shape),
            self.shape,
        )
        if not use_levy:
            return w
        dt = jnp.asarray(width)
        if self.levy_area is BrownianIncrement:
            return BrownianIncrement(dt=dt, W=w)
        # H on a separate block of counters: step k + 2^31 never meets a Brownian step.
        hh = jax.tree_util.tree_map(
            lambda z, s: (z * jnp.sqrt(width / 12.0)).astype(s.dtype),
            tree_normals(self.key_data, k, self.shape, offset=2**31),
            self.shape,
        )
        return SpaceTimeLevyArea(dt=dt, W=w, H=hh)
