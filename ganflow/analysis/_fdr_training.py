r"""GAN training that tracks the fluctuation–dissipation relations of the Cao–Guo SDEs
(Cao–Guo 2020 §4.2, Theorems 4–5) and schedules its learning rate with FDR2, and the summary of
such runs over seeds."""

import warnings
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..dynamics import noise_factor
from ..engine import RESULTS, AbstractProblem
from ..games import MixtureOfGaussians
from ..training import AlternatingGDA, SimultaneousGDA
from ._longrun import fdr1_terms, fdr2_schedule, fdr2_terms, fdr_estimate

FDR_METHODS = ("constant", "fdr2", "adam", "alternating")
"""The training methods of `FDRMember`."""

FDR_METRICS = ("modes_covered", "high_quality_fraction", "kl_uniform")
"""The mode metrics (VEEGAN/PacGAN) that `FDRMember` records and `fdr_summary` summarises."""

_INIT, _MEASURE = 0x696E6974, 0x6D656173  # fold_in streams: initial state, measurement batches


class FDRMember(AbstractProblem):
    r"""One engine member: a seed of minibatch training of a GAN (`MixtureOfGaussians`) that
    tracks both sides of the fluctuation–dissipation relations FDR1/FDR2 (Cao–Guo Theorems 4–5)
    and can schedule its learning rate with FDR2 (Cao–Guo after Theorem 5). One engine step is
    a *window* of `window` training steps; `method`:

    - `"constant"`: simultaneous minibatch SGDA (Cao–Guo eq. 7) with η fixed;
    - `"fdr2"`: the same with the FDR2-driven schedule `ganflow.analysis.fdr2_schedule`
      (one window per engine step): the window's mean of $θ^\top g_θ - ω^\top g_ω$ over its
      last (1 − burn_in) steps is compared with that of $β^{-1}\mathrm{Tr}(Σ_θ + Σ_ω)$
      (Σ on a batch of `fdr_examples` fresh examples drawn for the window) and η ← max(decay·η,
      eta_min) when their ratio is within `tol` of 1 (Cao–Guo after Theorem 5);
    - `"adam"`: simultaneous Adam (β₁ = 0.5, β₂ = 0.999) with learning rate `adam_lr`;
    - `"alternating"`: alternating SGDA with independent batches (eq. 6), η fixed — the
      dynamics of FDR1.

    Every seed starts from its own initial state (`game.init` from the seed's key). At each
    save the member records both sides of FDR2 (Theorem 5) and of FDR1 (Theorem 4) at its
    current state and η (Σ from a fresh batch of `fdr_examples`), η, the schedule's last
    window ratio, and the mode metrics of `eval_samples` generated points.
    """

    game: MixtureOfGaussians
    method: str = eqx.field(static=True)
    eta: float = eqx.field(static=True)
    adam_lr: float = eqx.field(static=True)
    batch_size: int = eqx.field(static=True)
    window: int = eqx.field(static=True)
    burn_in: float = eqx.field(static=True)
    tol: float = eqx.field(static=True)
    decay: float = eqx.field(static=True)
    eta_min: float = eqx.field(static=True)
    fdr_examples: int = eqx.field(static=True)
    eval_samples: int = eqx.field(static=True)
    fdr1: bool = eqx.field(static=True)
    vectorised = False

    def _sampler(self, key):
        return self.game.sample(key, self.batch_size)

    def _scheme(self, lr):
        field = self.game.vector_field()
        if self.method == "alternating":
            return AlternatingGDA(field, optax.sgd(lr), self._sampler)
        if self.method == "adam":
            return SimultaneousGDA(field, optax.adam(lr, b1=0.5, b2=0.999), self._sampler)
        return SimultaneousGDA(field, optax.sgd(lr), self._sampler)

    def init(self, key, params, inputs=None):
        x0 = self.game.init(jax.random.fold_in(key, _INIT))
        dtype = jnp.result_type(*jax.tree_util.tree_leaves(x0))
        lr = self.adam_lr if self.method == "adam" else self.eta
        train = self._scheme(lr).init(x0)
        # the measurement key as raw key data: checkpoints store plain arrays
        return train, jnp.asarray(lr, dtype), jnp.asarray(jnp.nan, dtype), \
            jax.random.key_data(jax.random.fold_in(key, _MEASURE))

    def step(self, state, key, t, params):
        train, lr, ratio, mkey = state
        if self.method == "fdr2":
            k_batch, k_run = jax.random.split(key)
            batch = self.game.sample(k_batch, self.fdr_examples)
            phi, example = self.game.objective(), self.game.example_objective

            def one(x, eta, k):
                sch = self._scheme(eta)
                return sch.step(sch.init(x), k).x

            def terms(x, eta):
                return fdr2_terms(phi, x, noise_factor(example, x, batch), eta,
                                  self.batch_size, batch)

            res = fdr2_schedule(one, terms, train.x, lr, k_run, num_windows=1,
                                window=self.window, burn_in=self.burn_in, tol=self.tol,
                                decay=self.decay, eta_min=self.eta_min)
            ratio = res.ratios[0].astype(lr.dtype)
            lr = jnp.where(res.lowered[0], jnp.maximum(self.decay * lr, self.eta_min), lr)
            train = self._scheme(lr).init(res.x)
        else:
            sch = self._scheme(lr)
            train, _ = jax.lax.scan(lambda s, k: (sch.step(s, k), None), train,
                                    jax.random.split(key, self.window))
        return train, lr, ratio, jax.random.key_data(
            jax.random.fold_in(jax.random.wrap_key_data(mkey), t))

    def observe(self, state, params):
        train, lr, ratio, mkey = state
        x = train.x
        kb, ks = jax.random.split(jax.random.wrap_key_data(mkey))
        batch = self.game.sample(kb, self.fdr_examples)
        phi = self.game.objective()
        factor = noise_factor(self.game.example_objective, x, batch)
        l2, r2 = fdr2_terms(phi, x, factor, lr, self.batch_size, batch)
        out = {"fdr2_lhs": l2, "fdr2_rhs": r2, "eta": lr, "window_ratio": ratio}
        if self.fdr1:
            l1, r1 = fdr1_terms(phi, x, factor, lr, self.batch_size, batch)
            out.update(fdr1_lhs=l1, fdr1_rhs=r1)
        metrics = self.game.mode_metrics(self.game.generate(x[0], ks, self.eval_samples))
        out.update({k: jnp.asarray(v, lr.dtype) for k, v in metrics.items()})
        return out

    def finite_part(self, state):
        return state[0].x


def fdr_summary(ds: Any, *, fdr1: bool, seeds: int, by: str = "schedule") -> Any:
    r"""The summary of `FDRMember` runs (`ds`: dims seed × `by` × step): final mode metrics
    (VEEGAN/PacGAN: `FDR_METRICS`) and η, mean and standard error over the non-diverged seeds,
    the diverged fraction, and the FDR2 (and with `fdr1`, FDR1) estimates `fdr_estimate` of
    Cao–Guo Theorems 5 (4) over the seeds, at the last save (`final`) and pooled over the last
    quarter of the saves (`tail`): `<rel>_<where>_ratio`, `_ratio_se`, `_gap_z` per value of
    `by` (default "schedule": the training rule of each run). `seeds` is recorded in the
    attributes."""
    import xarray as xr

    methods = [str(m) for m in ds[by].values]
    ok_all = np.asarray(ds["status"].values) != RESULTS.diverged  # (seed, by)
    data: dict[str, Any] = {}
    for name in FDR_METRICS + ("eta",):
        arr = np.asarray(ds[name].isel(step=-1).values, dtype=float)  # (seed, by)
        arr = np.where(ok_all, arr, np.nan)
        n = np.sum(np.isfinite(arr), axis=0)
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a method with every seed diverged
            data[name] = ((by,), np.nanmean(arr, axis=0))
            data[name + "_se"] = ((by,), np.nanstd(arr, axis=0, ddof=1) / np.sqrt(n))
    data["diverged_fraction"] = ((by,), 1.0 - ok_all.mean(axis=0))
    relations = ["fdr2"] + (["fdr1"] if fdr1 else [])
    nsave = ds.sizes["step"]
    tail = max(1, nsave // 4)
    for rel in relations:
        for where, sl in (("final", slice(nsave - 1, nsave)), ("tail", slice(nsave - tail, nsave))):
            vals = {k: np.full(len(methods), np.nan) for k in ("ratio", "ratio_se", "gap_z")}
            for m in range(len(methods)):
                lhs = np.asarray(ds[f"{rel}_lhs"].values[:, m, sl], dtype=float)
                rhs = np.asarray(ds[f"{rel}_rhs"].values[:, m, sl], dtype=float)
                ok = ok_all[:, m]
                lhs, rhs = lhs[ok].ravel(), rhs[ok].ravel()
                if lhs.size >= 2:
                    est = fdr_estimate(lhs, rhs)
                    vals["ratio"][m] = float(est.ratio)
                    vals["ratio_se"][m] = float(est.ratio_se)
                    vals["gap_z"][m] = float(est.z)
            for k, v in vals.items():
                data[f"{rel}_{where}_{k}"] = ((by,), v)
    return xr.Dataset(data, coords={by: methods},
                      attrs={"tail_saves": tail, "seeds": seeds})
