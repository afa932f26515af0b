r"""Mounjid & Guo 2021 §3 on one layer of a trained GAN: gradient descent on $(a/2)x^2 + bx$
diverges iff η > 2/a (eq. 11: the error is multiplied by $1 - ηa$ every step). Per layer, a is
the largest eigenvalue of the layer's block of the Hessian of its player's loss (Lanczos on
Hessian-vector products); then full-batch gradient descent on that layer alone at
η = factor · 2/a, and whether it explodes."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..engine import RESULTS, AbstractProblem
from ..training import layer_loss
from ._lanczos import has_positive_curvature, lanczos_extremes

_SALT_LANCZOS = 0x4C41


class LayerDescentMember(AbstractProblem):
    r"""§3 of Mounjid–Guo on one layer of a trained network, as an ensemble member of
    `ganflow.engine.run_ensemble`: the member's input is the trained state x of its seed
    (`inputs=`); `params["layer"]` (static) names the layer (`ganflow.training.layer_names`),
    `params["factor"]` (traced) the rate η = factor · 2/a with a the largest eigenvalue of the
    layer's Hessian block (`lanczos_extremes`, `lanczos_iters` steps, at x, from a start drawn
    from the seed key; η = 0 when the block has no positive curvature, see
    `has_positive_curvature`). Then full-batch gradient descent $v \leftarrow v - η∇ℓ(v)$ on that
    layer alone (`ganflow.training.layer_loss` on the batch (`data`, `latents`)). Observes the
    loss, the gradient norm, its component ⟨q, ∇ℓ⟩ along the top Ritz vector q of the start
    (for a quadratic it is multiplied by 1 − ηa = 1 − 2·factor every step: Mounjid–Guo
    eq. 11), the distance ‖v − v0‖ moved, and a_max, a_min, η (constant).
    `layer_descent_summary` reads the results."""

    game: Any
    data: jax.Array
    latents: jax.Array
    lanczos_iters: int = eqx.field(static=True)
    vectorised = False

    def _loss(self, x, params):
        return layer_loss(self.game, x, params["layer"], (self.data, self.latents))

    def init(self, key, params, inputs=None):
        x = inputs  # the seed's trained state (run_ensemble's inputs)
        loss, v0 = self._loss(x, params)
        grad = jax.grad(loss)

        def hvp(v):
            return jax.jvp(grad, (v0,), (v,))[1]

        start = jax.random.normal(jax.random.fold_in(key, _SALT_LANCZOS), v0.shape, v0.dtype)
        res = lanczos_extremes(hvp, start, self.lanczos_iters)
        a_min, a_max, q_max = res.eig_min, res.eig_max, res.ritz_vector
        pos = has_positive_curvature(a_min, a_max)
        eta = jnp.where(pos, params["factor"] * 2.0 / jnp.where(pos, a_max, 1.0),
                        0.0).astype(v0.dtype)
        return {"x": x, "v": v0, "v0": v0, "q": q_max, "eta": eta, "a_max": a_max,
                "a_min": a_min}

    def step(self, state, key, t, params):
        loss, _ = self._loss(state["x"], params)
        v = state["v"] - state["eta"] * jax.grad(loss)(state["v"])
        return {**state, "v": v}

    def observe(self, state, params):
        loss, _ = self._loss(state["x"], params)
        value, g = jax.value_and_grad(loss)(state["v"])
        return {
            "loss": value,
            "grad_norm": jnp.linalg.norm(g),
            "top_component": jnp.dot(state["q"], g),
            "distance": jnp.linalg.norm(state["v"] - state["v0"]),
            "a_max": state["a_max"],
            "a_min": state["a_min"],
            "eta": state["eta"],
        }

    def finite_part(self, state):
        return state["v"]


def layer_descent_summary(ds: Any) -> Any:
    r"""Per (seed, layer, factor) of the results of `LayerDescentMember` (an `xarray.Dataset`
    with dims seed, layer, factor, step and the engine's `status`): `a_max`, `a_min` (of the
    layer's Hessian block at the trained state), `eta`, `positive` (a_max > 0 beyond round-off);
    `top_rate`, the measured factor per step of |⟨q, ∇ℓ⟩| (q the top Ritz vector) over the first
    save interval, beside `top_rate_theory` = |1 − ηa| = |1 − 2·factor| (Mounjid–Guo eq. 11 for
    a quadratic); `unstable` (top_rate > 1); `loss_change` (final − initial loss), `grad_growth`
    (max over save points of ‖∇ℓ‖ / ‖∇ℓ‖ at the start), `diverged` (left the blow-up ball or
    non-finite), `exploded` (diverged, or the loss rose, or the gradient grew ≥ 10×);
    `predicted` (η > 2/a, i.e. factor > 1, with a > 0). `unstable`, `exploded` and `predicted`
    are False where a ≤ 0 (no 2/a)."""
    import xarray as xr

    dims = ("seed", "layer", "factor")
    get = lambda k: ds[k].transpose(*dims, "step").values.astype(np.float64)  # noqa: E731
    loss, gn, top = get("loss"), get("grad_norm"), np.abs(get("top_component"))
    a_max, a_min, eta = get("a_max")[..., 0], get("a_min")[..., 0], get("eta")[..., 0]
    positive = np.asarray(has_positive_curvature(a_min, a_max))
    steps = ds["step"].values
    with np.errstate(all="ignore"):
        top_rate = (top[..., 1] / top[..., 0]) ** (1.0 / float(steps[1] - steps[0]))
        growth = np.nanmax(gn, axis=-1) / gn[..., 0]
    status = ds["status"].transpose(*dims).values
    diverged = status == int(RESULTS.diverged)
    finite = np.isfinite(loss[..., -1])
    loss_change = loss[..., -1] - loss[..., 0]
    exploded = diverged | ~finite | (loss_change > 0) | (growth >= 10.0)
    factor = ds["factor"].values.astype(np.float64)[None, None, :]
    shape = exploded.shape
    predicted = np.broadcast_to(factor > 1.0, shape) & positive
    data = {
        "a_max": a_max, "a_min": a_min, "eta": eta, "positive": positive,
        "top_rate": np.where(positive, top_rate, np.nan),
        "top_rate_theory": np.where(positive, np.abs(1.0 - 2.0 * np.broadcast_to(factor, shape)),
                                    np.nan),
        "unstable": positive & (top_rate > 1.0),
        "loss_change": loss_change, "grad_growth": growth, "diverged": diverged,
        "exploded": exploded & positive, "predicted": predicted,
    }
    coords = {d: ds[d].values for d in dims}
    return xr.Dataset({k: (dims, np.asarray(v)) for k, v in data.items()}, coords=coords)


def layer_descent_agreement(summary: Any) -> dict[str, dict[str, float]]:
    r"""Per layer of a `layer_descent_summary`, over the seeds whose block has positive
    curvature (a > 0): `positive` (how many), `n` (seeds), `agree_local` and `agree` (fractions
    of (seed, factor) cells where *unstable* resp. *exploded* is as predicted by η > 2/a),
    `below`/`above` (fraction exploded at factors < 1 / > 1), `unstable_below`/`unstable_above`
    (likewise unstable), `ratio` (median λ_min/λ_max); NaN where no seed has a > 0; and per
    factor `unstable_count`, `exploded_count` (seeds) and `median_rate` (median `top_rate`)."""
    factors = np.asarray([float(f) for f in summary["factor"].values])
    table = {}
    for layer in summary["layer"].values:
        cell = summary.sel(layer=layer)
        a_max = cell["a_max"].isel(factor=0).values
        a_min = cell["a_min"].isel(factor=0).values
        pos = cell["positive"].isel(factor=0).values.astype(bool)
        expl = cell["exploded"].values.astype(bool)[pos]  # (seeds with a > 0, factor)
        unst = cell["unstable"].values.astype(bool)[pos]
        pred = cell["predicted"].values.astype(bool)[pos]
        rate = cell["top_rate"].values[pos]
        npos = int(pos.sum())

        def frac(a, sel, npos=npos):
            return float(np.mean(a[:, sel])) if npos and sel.any() else float("nan")

        table[str(layer)] = dict(
            positive=npos, n=len(pos),
            agree_local=float(np.mean(unst == pred)) if npos else float("nan"),
            agree=float(np.mean(expl == pred)) if npos else float("nan"),
            below=frac(expl, factors < 1), above=frac(expl, factors > 1),
            unstable_below=frac(unst, factors < 1), unstable_above=frac(unst, factors > 1),
            ratio=float(np.median(a_min[pos] / a_max[pos])) if npos else float("nan"),
            unstable_count=[int(unst[:, k].sum()) for k in range(len(factors))],
            exploded_count=[int(expl[:, k].sum()) for k in range(len(factors))],
            median_rate=[float(np.nanmedian(rate[:, k])) if npos else float("nan")
                         for k in range(len(factors))])
    return table
