r"""What the mean-field model is used for: the O(n^{-1/2}) concentration of the macroscopic state
around the ODE (Wang–Hu–Lu Theorem 1; survey §5.3.1), and the phases of training (success,
oscillation, mode collapse, failure) with their phase diagrams, ODE beside simulation."""

import dataclasses
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from .._checks import check_int_at_least
from ..analysis import WeakOrder, fit_order
from ..engine import seed_keys
from ._model import PARAM_NAMES, MeanFieldGAN, _simulate, simulate
from ._ode import _solve, solve_mean_field

PHASES = ("success", "oscillation", "mode_collapse", "failure", "pursuit")
"""Phase codes of `classify_phase` (index = code)."""


# ---------------------------------------------------------------------------------------------
# Concentration


class Concentration(eqx.Module):
    r"""`concentration_error`'s result, for each n in `ns`:

    - `errors`: $\max_j \frac1S\sum_s \|M^{(s)}_{jn} - M(j)\|_F$ over the save times t = j;
    - `stderrs`: the standard error of that mean (over seeds) at the maximising time;
    - `fit`: the log-log fit $\log e ≈ a + p \log n$ (`ganflow.analysis.fit_order`, with n in
      place of the step); the theorem predicts p = −1/2 (`fit.slope`, `fit.ci`).
    """

    ns: Int[Array, " k"]
    errors: Float[Array, " k"]
    stderrs: Float[Array, " k"]
    fit: WeakOrder


def concentration_error(
    model: MeanFieldGAN,
    ns: Sequence[int],
    params: dict[str, Any] | None = None,
    seeds: Any = 8,
    t_max: int = 5,
) -> Concentration:
    r"""The concentration error $e(n) = \max_{k} E\|M_k - M(k/n)\|_F$ for each n in `ns`
    (Wang–Hu–Lu Theorem 1: $e(n) ≤ C(T)/\sqrt n$), and its log-log slope.

    The maximum runs over the saved steps k = n, 2n, ..., n·t_max (t = 1, ..., t_max; at t = 0
    the error is zero by construction of `MeanFieldGAN.init`); E is the mean over `seeds`.
    M(t) is `solve_mean_field` at rtol = atol = 1e-10.

    **Arguments:** `model` (its n is replaced by each of `ns`), `ns` (≥ 2 distinct sizes),
    `params` hyper-parameter overrides, `seeds` (count, list or typed keys), `t_max` (int).

    **Returns:** a `Concentration`.
    """
    ns_arr = [check_int_at_least("n", int(n), 2 * model.d + 2) for n in ns]
    if len(ns_arr) < 2 or len(set(ns_arr)) != len(ns_arr):
        raise ValueError(f"ns must hold at least two distinct sizes, got {list(ns)}")
    t_max = check_int_at_least("t_max", t_max, 1)
    ode = solve_mean_field(model, params, float(t_max), rtol=1e-10, atol=1e-10)
    ref = np.asarray(ode.xs, dtype=np.float64)
    errs, ses = [], []
    for n in ns_arr:
        member = dataclasses.replace(model, n=n)
        _, M = simulate(member, params, seeds, t_max)
        dist = np.linalg.norm(np.asarray(M, np.float64) - ref[None], axis=(-2, -1))  # (S, T)
        mean = dist.mean(axis=0)
        j = int(np.argmax(mean))
        errs.append(mean[j])
        s = dist.shape[0]
        ses.append(dist[:, j].std(ddof=1) / np.sqrt(s) if s > 1 else 0.0)
    fit = fit_order(np.asarray(ns_arr, np.float64), np.asarray(errs), np.asarray(ses))
    return Concentration(
        ns=jnp.asarray(ns_arr), errors=jnp.asarray(errs), stderrs=jnp.asarray(ses), fit=fit
    )


# ---------------------------------------------------------------------------------------------
# Phases


def feature_overlaps(M: Float[ArrayLike, "... m m"]) -> Float[Array, "... d"]:
    r"""For each feature i, the best overlap $\max_\ell |P_{i\ell}|$ = the largest |cosine|
    between $u_i$ and a column of V (1 when some generator column has recovered $u_i$ up to
    sign)."""
    M = jnp.asarray(M)
    d = (M.shape[-1] - 1) // 2
    return jnp.max(jnp.abs(M[..., :d, d : 2 * d]), axis=-1)


def classify_phase(
    M: Float[ArrayLike, "... T m m"],
    *,
    window: float = 0.25,
    learnt: float = 0.5,
    amplitude: float = 0.02,
    informative: float = 0.5,
) -> Int[Array, "..."]:
    r"""The phase of a trajectory M saved at equally spaced times (leading batch axes allowed),
    judged on its last `window` fraction of saves (at least 2):

    1. **oscillation** (code 1): some entry of P = UᵀV, detrended over the window (residual of
       a least-squares line in t), has a root-mean-square above `amplitude`: the generator
       goes back and forth (a slow monotone drift towards a stationary state is not counted);
    2. otherwise feature i counts as **learnt** when the window mean of its best overlap $\max_\ell
       |P_{i\ell}|$ (`feature_overlaps`) is at least `learnt`; then **success** (code 0) when every
       feature is learnt, **mode collapse** (code 2) when some but not all are (in the ODE: the
       weaker feature's column stays near its initial overlap), **failure** (code 3) when none is
       (for d = 1 a feature not learnt is failure); a run with every feature learnt whose
       discriminator still sees the data, window mean of $\max_i |q_i|$ ≥ `informative`, is
       **pursuit** (code 4): the stationary chase found at small noise, w close to the generator's
       columns (docs/mean_field.md §Phases).

    Why these tests. The ODE's stationary points include the whole manifold q = r = 0 (the
    discriminator has lost the data: nothing moves, whatever P), and training stops as soon as
    the (q, r)-block becomes stable, so a successful run ends at an overlap below 1 that
    decreases with the noise (docs/mean_field.md §Phases): success is "every feature recovered
    to at least `learnt`", not P = I. The generator's overlaps P are the slow variables; q and r
    fluctuate by O((γ n)^{-1/2}) in a simulation (γ the slowest relaxation rate, small at a
    near-critical success), so oscillation is tested on P only. The criteria are thresholds:
    near a phase boundary (a Hopf bifurcation, a detection threshold) the verdict depends on
    them and on the run's length.

    **Returns:** integer codes (index into `PHASES`), shape M.shape[:-3].
    """
    M = jnp.asarray(M)
    if M.ndim < 3 or M.shape[-1] != M.shape[-2] or M.shape[-1] % 2 != 1:
        raise ValueError(f"M must have shape (..., T, 2d + 1, 2d + 1), got {M.shape}")
    T = M.shape[-3]
    k = max(2, int(np.ceil(window * T)))
    if k > T:
        raise ValueError(f"a trajectory needs at least 2 saves to be classified, got {T}")
    tail = M[..., T - k :, :, :]
    d = (M.shape[-1] - 1) // 2
    P = tail[..., :d, d : 2 * d]
    s = jnp.linspace(-1.0, 1.0, k, dtype=P.dtype)[:, None, None]  # centred time in the window
    slope = jnp.sum(s * P, axis=-3, keepdims=True) / jnp.sum(s**2)
    resid = P - jnp.mean(P, axis=-3, keepdims=True) - slope * s
    osc = jnp.max(jnp.sqrt(jnp.mean(resid**2, axis=-3)), axis=(-2, -1)) > amplitude
    best = jnp.mean(feature_overlaps(tail), axis=-2)  # (..., d)
    n_learnt = jnp.sum(best >= learnt, axis=-1)
    q_abs = jnp.mean(jnp.max(jnp.abs(tail[..., :d, 2 * d]), axis=-1), axis=-1)
    all_learnt = jnp.where(q_abs >= informative, 4, 0)
    code = jnp.where(n_learnt == d, all_learnt, jnp.where(n_learnt == 0, 3, 2))
    return jnp.where(osc, 1, code).astype(jnp.int32)


class PhaseDiagram(eqx.Module):
    r"""`phase_diagram`'s result on the grid `names[0]` × `names[1]` (shape (a, b)):

    - `values`: the two axes' values;
    - `ode`: the ODE's phase per cell (a, b), codes of `PHASES`;
    - `ode_overlap`: the ODE's final best overlaps per feature (a, b, d);
    - `simulation`: the phase of each seed's simulation (S, a, b) (None without seeds);
    - `simulation_overlap`: (S, a, b, d), final best overlaps;
    - `n`, `t_max`: the simulation's size and the horizon.

    `agreement()` is the fraction of (seed, cell) pairs whose simulation phase equals the
    ODE's; `table(which)` renders a grid as text.
    """

    names: tuple[str, str] = eqx.field(static=True)
    values: tuple[Array, Array]
    ode: Int[Array, "a b"]
    ode_overlap: Float[Array, "a b d"]
    simulation: Int[Array, "S a b"] | None
    simulation_overlap: Float[Array, "S a b d"] | None
    n: int = eqx.field(static=True)
    t_max: int = eqx.field(static=True)

    def agreement(self) -> float:
        if self.simulation is None:
            return float("nan")
        return float(np.mean(np.asarray(self.simulation) == np.asarray(self.ode)[None]))

    def table(self, which: str = "ode") -> str:
        """The grid as text: rows `names[0]`, columns `names[1]`, one letter per phase
        (S success, O oscillation, C mode collapse, F failure, P pursuit); for "simulation" the
        seeds' letters are joined per cell."""
        letters = np.array(["S", "O", "C", "F", "P"])
        a, b = self.values
        if which == "ode":
            cells = letters[np.asarray(self.ode)]
        elif which == "simulation" and self.simulation is not None:
            sim = letters[np.asarray(self.simulation)]
            cells = np.apply_along_axis("".join, 0, sim)
        else:
            raise ValueError(f"which must be 'ode' or 'simulation' (with seeds), got {which!r}")
        width = max(6, max(len(c) for c in cells.ravel()) + 1)
        head = f"{self.names[0]}\\{self.names[1]}".ljust(12) + "".join(
            f"{float(v):<{width}.3g}" for v in np.asarray(b)
        )
        rows = [head]
        for i, v in enumerate(np.asarray(a)):
            rows.append(f"{float(v):<12.3g}" + "".join(f"{c:<{width}}" for c in cells[i]))
        return "\n".join(rows)


def _grid_params(model, names, values, params) -> dict[str, np.ndarray]:
    """Flattened hyper-parameter grid (cells,) per name. "tau" scales both learning rates
    (τ_G = τ·tau_g, τ_D = τ·tau_d at their base values); "eta" sets η_T = η_G = η."""
    A, B = np.meshgrid(values[0], values[1], indexing="ij")
    grid = {k: np.asarray(v, np.float64) for k, v in (params or {}).items()}
    for name, vals in zip(names, (A.ravel(), B.ravel())):
        if name == "tau":
            for k in ("tau_g", "tau_d"):
                grid[k] = vals * np.asarray(grid.get(k, getattr(model, k)), np.float64)
        elif name == "eta":
            grid["eta_t"] = grid["eta_g"] = vals
        else:
            grid[name] = vals
    return grid


def phase_diagram(
    model: MeanFieldGAN,
    axes: dict[str, Sequence[float]],
    *,
    params: dict[str, Any] | None = None,
    t_max: int = 100,
    seeds: Any = 0,
    **criteria: Any,
) -> PhaseDiagram:
    r"""Phases over a 2-D grid of hyper-parameters, the ODE's beside the simulation's.

    **Arguments:**

    - `model`: a `MeanFieldGAN` (its n is the simulation's size; d = 1 or 2 or more);
    - `axes`: two names → values, among `PARAM_NAMES`, "tau" (a common factor on both
      learning rates: τ_G = τ·tau_g, τ_D = τ·tau_d, their ratio kept) and "eta" (η_T = η_G = η),
      e.g. `{"eta_t": [...], "eta_g": [...]}` or `{"tau": [...], "eta": [...]}`;
      `params`: other overrides (scalars);
    - `t_max`: horizon (saves at t = 0, 1, ..., t_max); `seeds`: simulation seeds (0: ODE only);
    - `criteria`: keyword arguments of `classify_phase` (`window`, `learnt`, `amplitude`).

    **Returns:** a `PhaseDiagram`. Every ODE cell is one vmapped diffrax solve; the simulation
    of all cells × seeds is one vmapped `lax.scan` (cost ∝ cells · seeds · t_max · n²).
    """
    if not isinstance(axes, dict) or len(axes) != 2:
        raise ValueError("axes must map exactly two hyper-parameter names to their values")
    names = tuple(axes)
    allowed = PARAM_NAMES + ("tau", "eta")
    for name in names:
        if name not in allowed:
            raise ValueError(f"unknown axis {name!r}; phase_diagram sweeps over {allowed}")
    if "tau" in names and ({"tau_g", "tau_d"} & set(names)):
        raise ValueError("'tau' scales tau_g and tau_d: do not sweep it with either of them")
    if "eta" in names and ({"eta_t", "eta_g"} & set(names)):
        raise ValueError("'eta' sets eta_t and eta_g: do not sweep it with either of them")
    values = tuple(np.asarray(axes[k], np.float64) for k in names)
    if any(v.ndim != 1 or v.size < 1 for v in values):
        raise ValueError("each axis needs a non-empty 1-D list of values")
    t_max = check_int_at_least("t_max", t_max, 2)
    shape = (values[0].size, values[1].size)
    grid = _grid_params(model, names, values, params)

    wide = jnp.result_type(float)
    hyper = model.hyper(grid, wide)  # leaves (cells,) or scalars
    hyper = {k: jnp.broadcast_to(v, (shape[0] * shape[1],)) for k, v in hyper.items()}
    ts = jnp.arange(t_max + 1, dtype=wide)
    t1 = jnp.asarray(float(t_max), wide)
    sols = jax.vmap(lambda h: _solve(model, h, model.M0, t1, ts, 1e-9, 1e-9, 100_000))(hyper)
    ode_M = sols.xs  # (cells, T, m, m)
    ode_phase = classify_phase(ode_M, **criteria).reshape(shape)
    ode_overlap = feature_overlaps(ode_M[:, -1]).reshape(shape + (model.d,))

    sim_phase = sim_overlap = None
    if not (isinstance(seeds, (int, np.integer)) and seeds == 0):
        keys = seed_keys(seeds)
        h_sim = model.hyper({k: v for k, v in grid.items()})
        h_sim = {k: jnp.broadcast_to(v, (shape[0] * shape[1],)) for k, v in h_sim.items()}
        Ms = jax.vmap(lambda h: _simulate(model, h, keys, t_max, model.n))(h_sim)
        Ms = jnp.moveaxis(Ms, 0, 1)  # (S, cells, T, m, m)
        S = Ms.shape[0]
        sim_phase = classify_phase(Ms, **criteria).reshape((S,) + shape)
        sim_overlap = feature_overlaps(Ms[:, :, -1]).reshape((S,) + shape + (model.d,))
    return PhaseDiagram(
        names=names,
        values=tuple(jnp.asarray(v) for v in values),
        ode=ode_phase,
        ode_overlap=ode_overlap,
        simulation=sim_phase,
        simulation_overlap=sim_overlap,
        n=model.n,
        t_max=t_max,
    )
