r"""Summaries of GAN training curves over seeds (Mounjid & Guo 2021 §4, Figs. 3–5): when the
discriminator's test accuracy falls back to chance, when the generator's loss returns to its
equilibrium value, when the generated distribution fits the data, and how often the adaptive
rate LSGD sits at its cap; and the training run that records them, as an ensemble member."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._checks import check_choice
from ..engine import AbstractProblem
from ..training import layer_groups, make_scheme, mounjid_guo
from ._distances import wasserstein1

_PLAYERS = ("generator", "discriminator")
_SALT_INIT = 0x494E
LSGD_OPTIMIZERS = ("sgd", "lsgd")
"""The optimiser names `lsgd_optimizer` accepts (Mounjid–Guo §4: SGD and the per-layer adaptive
rate LSGD)."""


def lsgd_optimizer(name: str, lr: Any, u_max: Any) -> optax.GradientTransformation:
    """The optimisers Mounjid–Guo §4 compares: `"sgd"`, `optax.sgd(lr)`; `"lsgd"`, SGD with the
    per-layer adaptive rate of eq. 20, `ganflow.training.mounjid_guo(lr, u_max,
    groups=layer_groups)`."""
    check_choice("optimizer", name, LSGD_OPTIMIZERS)
    return optax.sgd(lr) if name == "sgd" else mounjid_guo(lr, u_max=u_max, groups=layer_groups)


class GANTrainingMember(AbstractProblem):
    r"""GAN training observed on a test set (Mounjid–Guo §4, Figs. 3–5), as an ensemble member
    of `ganflow.engine.run_ensemble`: one seed of one (optimizer, lr, batch size) cell of a
    `GaussianMLPGame` (any game with its test metrics and `MLP` players). The state is the
    scheme's `TrainState` (`ganflow.training.make_scheme(scheme_kind, game, optimiser,
    sampler=minibatches of batch_size)`, both players with `lsgd_optimizer(optimizer, lr,
    u_max)`); step t draws its minibatches from `fold_in(seed_key, t)`. The initial networks
    depend on the seed only (common across cells). `params` may set `optimizer` (static), `lr`
    (traced), `batch_size` (static), `u_max` (traced); otherwise the member's defaults apply.
    Observes `accuracy`, `generator_loss`, `discriminator_loss` on the test set, `w1`
    (`wasserstein1` between the generated test samples and the test data), `generated_mean`,
    `generated_std` of the generated test samples, and `u_generator`, `u_discriminator`: the
    adjustments u of each layer (1 for SGD). `gan_training_summary` reads the results."""

    game: Any
    test_data: jax.Array
    test_latents: jax.Array
    optimizer: str = eqx.field(static=True)
    lr: float = eqx.field(static=True)
    batch_size: int = eqx.field(static=True)
    u_max: float = eqx.field(static=True)
    scheme_kind: str = eqx.field(static=True, default="alternating")
    vectorised = False

    def scheme(self, params):
        """The training scheme of the cell `params`."""
        lr = jnp.asarray(params.get("lr", self.lr), self.game.dtype)
        u_max = jnp.asarray(params.get("u_max", self.u_max), self.game.dtype)
        opt = lsgd_optimizer(params.get("optimizer", self.optimizer), lr, u_max)
        batch_size = int(params.get("batch_size", self.batch_size))
        return make_scheme(self.scheme_kind, self.game, opt,
                           sampler=lambda k: self.game.sample(k, batch_size))

    def init(self, key, params, inputs=None):
        x0 = self.game.init(jax.random.fold_in(key, _SALT_INIT))
        return self.scheme(params).init(x0)

    def step(self, state, key, t, params):
        return self.scheme(params).step(state, key)

    def observe(self, state, params):
        x, game, data, latents = state.x, self.game, self.test_data, self.test_latents
        fake = jax.vmap(x[0])(latents)
        out = {
            "accuracy": game.discriminator_accuracy(x, data, latents),
            "generator_loss": game.generator_loss(x, data, latents),
            "discriminator_loss": game.discriminator_loss(x, data, latents),
            "w1": wasserstein1(fake, data),
            "generated_mean": jnp.mean(fake),
            "generated_std": jnp.std(fake),
        }
        for p, name in enumerate(_PLAYERS):
            layers = len(x[p].layers)
            s = state.opt_state[p]
            u = s[0].u if isinstance(s, tuple) and hasattr(s[0], "u") else jnp.ones((layers,))
            out[f"u_{name}"] = u.astype(fake.dtype)
        return out

    def finite_part(self, state):
        return state.x


def first_step(mask: np.ndarray, steps: np.ndarray, rise: np.ndarray | None = None
               ) -> np.ndarray:
    """First saved step after 0 at which `mask` (..., step) holds — with `rise` (same shape),
    strictly after the first save point after 0 at which `rise` holds (from the start if it
    never does); NaN if never. `steps` are the saved steps (the last axis)."""
    idx = np.arange(mask.shape[-1])
    ok = mask & (idx >= 1)
    if rise is not None:
        r = rise & (idx >= 1)
        first = np.where(r.any(axis=-1), np.argmax(r, axis=-1), 0)
        ok = ok & (idx > first[..., None])
    hit = ok.any(axis=-1)
    return np.where(hit, steps[np.argmax(ok, axis=-1)], np.nan)


def _late(a: np.ndarray) -> np.ndarray:
    """Mean over the second half of the save points (last axis)."""
    n = a.shape[-1]
    return np.nanmean(a[..., n // 2:], axis=-1) if n > 1 else a[..., -1]


def gan_training_summary(ds: Any, *, chance_tol: float, w1_tol: float, target_loss: float,
                         u_max: float | None = None, n_train: int | None = None) -> Any:
    r"""Per member of a training run (an `xarray.Dataset` with dims seed, …, step and the
    variables `accuracy`, `w1`, `generator_loss`, `u_generator`, `u_discriminator` that
    `GaussianMLPGame`'s metrics and LSGD's adjustments give), the criteria of Mounjid–Guo
    Figs. 3–5:

    - `steps_to_chance`: the first save step with |accuracy − ½| ≤ `chance_tol` after the
      discriminator has learned (the first save point after 0 with accuracy ≥ ½ + 2·`chance_tol`;
      from the start if it never has), NaN if never — the accuracy first rises (the
      discriminator separates the initial generator's samples from the data) and then falls
      back to ½ as the generator catches up (Fig. 3): this times the fall, not an untrained
      discriminator's chance level at the start;
    - `steps_to_loss`: likewise, the generator loss back within `chance_tol` of `target_loss`
      (its value at the equilibrium D ≡ ½, `AbstractLoss.equilibrium_generator_loss`) after it
      first exceeded that value by 2·`chance_tol`;
    - `steps_to_fit`: the first save step with W1 ≤ `w1_tol`;
    - `final_accuracy`, `late_gap` (mean |accuracy − ½| over the second half of the save
      points), `final_generator_loss`, `final_w1`, `late_w1`;
    - `u_at_cap`: the fraction of the saved adjustments u (after step 0, both players) at the
      cap — `u_max`, or the coordinate of a dim `u_max` when the run sweeps it; NaN for the
      members with `optimizer` = "sgd";
    - with `n_train` (the training set's size) and a dim `batch_size`: `epochs_to_chance` and
      `epochs_to_fit`, the steps times B / `n_train` (Fig. 5 per epoch).
    """
    import xarray as xr

    steps = ds["step"].values
    dims = [d for d in ds["accuracy"].dims if d != "step"]
    acc = ds["accuracy"].transpose(*dims, "step").values.astype(np.float64)
    w1 = ds["w1"].transpose(*dims, "step").values.astype(np.float64)
    gl = ds["generator_loss"].transpose(*dims, "step").values.astype(np.float64)
    target = target_loss
    out = {
        "steps_to_chance": first_step(np.abs(acc - 0.5) <= chance_tol, steps,
                                      acc >= 0.5 + 2 * chance_tol),
        "steps_to_fit": first_step(w1 <= w1_tol, steps),
        "steps_to_loss": first_step(np.abs(gl - target) <= chance_tol, steps,
                                    gl >= target + 2 * chance_tol),
        "final_accuracy": acc[..., -1],
        "late_gap": _late(np.abs(acc - 0.5)),
        "final_generator_loss": gl[..., -1],
        "final_w1": w1[..., -1],
        "late_w1": _late(w1),
    }
    us = [ds[f"u_{p}"] for p in _PLAYERS]
    u = np.concatenate([u.transpose(*dims, "step", u.dims[-1]).values[..., 1:, :]
                        .reshape(acc.shape[:-1] + (-1,)) for u in us], axis=-1)
    if "u_max" in dims:
        cap = np.asarray(ds["u_max"].values, np.float64).reshape(
            [len(ds[d]) if d == "u_max" else 1 for d in dims] + [1])
    else:
        if u_max is None:
            raise ValueError("gan_training_summary needs u_max (the run has no u_max dim)")
        cap = np.full(acc.shape[:-1] + (1,), u_max)
    at_cap = np.mean(u >= cap * (1 - 1e-5), axis=-1)
    if "optimizer" in dims:
        sgd = np.asarray(ds["optimizer"].values == "sgd").reshape(
            [len(ds[d]) if d == "optimizer" else 1 for d in dims])
        at_cap = np.where(sgd, np.nan, at_cap)
    out["u_at_cap"] = at_cap
    if n_train is not None and dims == ["seed", "batch_size"]:
        b = ds["batch_size"].values.astype(np.float64)[None, :]
        out["epochs_to_chance"] = out["steps_to_chance"] * b / n_train
        out["epochs_to_fit"] = out["steps_to_fit"] * b / n_train
    coords = {d: ds[d].values for d in dims}
    return xr.Dataset({k: (tuple(dims), v) for k, v in out.items()}, coords=coords)
