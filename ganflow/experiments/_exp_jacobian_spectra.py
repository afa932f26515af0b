r"""The Jacobian spectra of trained mixture-of-Gaussians GANs with and without consensus
(`jacobian-spectra`): the eigenvalue analysis of Mescheder, Nowozin & Geiger 2017 ("The
numerics of GANs", §3–4) — the top eigenvalues of the Jacobian J of the followed field and of
the update operator at the save points of training (`ganflow.analysis.point_spectra`), with the
local verdict (`ganflow.analysis.local_verdict`: converges, orbits, diverges) there.

Training runs through the ensemble engine (`ganflow.training.MoGTrainProblem` on
`ganflow.games.MoGNetsGame`, methods as a static axis `method`), the analysis afterwards on the
saved parameters.
"""

import dataclasses
import json
import warnings
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import plotting, stabilisers as st, training as tr
from .._checks import check_choice, check_int_at_least, check_positive
from ..analysis import (
    LOCAL_VERDICTS,
    count_diverged,
    divergence_text,
    format_pm,
    local_verdict,
    mask_diverged,
    mean_se,
    player_hessian_eigenvalues,
    point_spectra,
    state_unravel,
)
from ..engine import (
    RESULTS,
    AbstractProblem,
    Execution,
    RunFolder,
    Sweep,
    run_ensemble,
    seed_keys,
)
from ..games import GameSampler, MoGNetsGame
from ..studies import (
    Experiment,
    ReportPart,
    RunOptions,
    check_run_fields,
    checkpoint_interval,
    markdown_table,
    register,
    write_summary,
)
from ._exp_mog import check_methods

_SALT_EVAL = 0x4556

SPECTRA_METHODS = ("simultaneous", "consensus")
SPECTRA_FIELDS = ("b0", "consensus")
VERDICTS = {code: f"{v} ({kind})" if v == "diverges" else v
            for code, (v, kind) in LOCAL_VERDICTS.items()}
"""Stored verdict code → its name (`ganflow.analysis.LOCAL_VERDICTS`; the two ways to diverge
told apart by their kind)."""
_VERDICT_WHY = {
    0: "every eigenvalue of F′ = I + ηJ lies inside the unit circle",
    1: "the dominant eigenvalue of J is rotational (|Im λ| ≫ |Re λ| ≈ 0): the linearised flow "
       "circles and simultaneous steps spiral slowly outwards",
    2: "J has an eigenvalue with Re λ > 0: the linearised flow itself moves away",
    3: "the flow is locally contracting (all Re λ < 0) but η is too large for an eigenvalue λ: "
       "|1 + ηλ| > 1 when η > 2|Re λ|/|λ|²",
}


@dataclasses.dataclass(frozen=True)
class JacobianSpectraConfig:
    """The eigenvalues of trained MoG GANs' Jacobians (Mescheder, Nowozin & Geiger 2017, "The
    numerics of GANs", §3–4 and their notebook mog-eigval-dist: 4×16 ReLU players, latent 16,
    batch 512, non-saturating loss, γ = 10), with and without consensus. Training is
    simultaneous gradient descent with step η (plain SGD, so that the update operator analysed,
    F′ = I + ηJ of the followed field, is exactly the one in use). At every save point the
    parameters are kept; afterwards, on one fixed evaluation batch, the top eigenvalues of J
    (largest modulus and largest real part, matrix-free Arnoldi on JVPs) of b0 and of the
    consensus field, the top eigenvalues of the update operator (`update_stability`,
    Arnoldi), the players' Hessian extremes (local-Nash test) and the verdict (converges,
    orbits, diverges) are computed. Writes the groups `spectra_train` (dims seed, scheme, step:
    the parameters, `modes_covered`, `high_quality_fraction`, `kl_uniform`) and `spectra`
    (dims seed, scheme, step, field, k; a point whose eigensolver fails keeps verdict −1 and
    NaN, with the reason in the attrs `failed`).

    - `kind`: the mixture (ring, grid or grid16)
    - `methods`: simultaneous (b0) and/or consensus
    - `seeds`: number of seeds
    - `seed`: root PRNG seed
    - `num_steps`: training steps
    - `save_every`: steps between save points (each is analysed)
    - `batch_size`: training minibatch size
    - `eval_batch`: size of the fixed batch on which J is evaluated
    - `latent_dim`: generator latent dimension
    - `width`: hidden width of both players
    - `depth`: hidden layers of both players
    - `loss`: gan (saturating) or nsgan (Mescheder's)
    - `learning_rate`: the SGD step eta of both players
    - `gamma_consensus`: consensus weight gamma
    - `num_eigs`: eigenvalues kept per spectrum (k)
    - `arnoldi_tol`: ARPACK tolerance
    - `dtype`: float64 (analysis precision) or float32
    """

    kind: str = "ring"
    methods: tuple[str, ...] = SPECTRA_METHODS
    seeds: int = 4
    seed: int = 0
    num_steps: int = 4000
    save_every: int = 1000
    batch_size: int = 512
    eval_batch: int = 2048
    latent_dim: int = 16
    width: int = 16
    depth: int = 4
    loss: str = "nsgan"
    learning_rate: float = 0.05
    gamma_consensus: float = 10.0
    num_eigs: int = 6
    arnoldi_tol: float = 1e-8
    dtype: str = "float64"

    def __post_init__(self):
        check_run_fields(self)
        check_methods(self.methods, SPECTRA_METHODS)
        check_choice("kind", self.kind, ("ring", "grid", "grid16"))
        for n in ("batch_size", "eval_batch", "latent_dim", "width", "num_eigs"):
            check_int_at_least(n, getattr(self, n), 1)
        check_int_at_least("depth", self.depth, 0)
        check_positive("learning_rate", self.learning_rate)
        check_positive("arnoldi_tol", self.arnoldi_tol)
        check_positive("gamma_consensus", self.gamma_consensus, allow_zero=True)
        check_choice("loss", self.loss, ("gan", "nsgan"))


SPECTRA_PRESETS: dict[str, dict[str, Any]] = {
    "quick": dict(seeds=2, num_steps=400, save_every=200, batch_size=128, eval_batch=512,
                  latent_dim=4, width=8, depth=2, num_eigs=4, arnoldi_tol=1e-6),
}


def spectra_game(cfg: JacobianSpectraConfig) -> MoGNetsGame:
    """The game of a spectra run: Mescheder et al.'s players (`depth` × `width` ReLU for both,
    Glorot init, raw x)."""
    return MoGNetsGame(cfg.kind, cfg.loss, cfg.latent_dim, cfg.width, cfg.depth, cfg.width,
                       cfg.depth, 1.0, "glorot", 0.8, cfg.dtype)


class SpectraMember(AbstractProblem):
    """A `MoGTrainProblem` that also observes its parameters x (flat, ganflow's flat order)
    instead of its samples."""

    inner: tr.MoGTrainProblem
    vectorised = False

    def init(self, key, params, inputs=None):
        return self.inner.init(key, params)

    def step(self, state, key, t, params):
        return self.inner.step(state, key, t, params)

    def observe(self, state, params):
        from jax.flatten_util import ravel_pytree

        out = self.inner.observe(state, params)
        del out["samples"]
        out["x"] = ravel_pytree(state[0].x)[0]
        return out

    def finite_part(self, state):
        return self.inner.finite_part(state)


def spectra_fields(cfg: JacobianSpectraConfig):
    """(game, {"b0": b0, "consensus": b0 − γJᵀb0}) of a spectra run (minibatch fields,
    called as b(x, batch))."""
    game = spectra_game(cfg)
    return game, {"b0": game.vector_field(),
                  "consensus": st.stabilise(game, st.Consensus(cfg.gamma_consensus))}


def analyse_point(cfg: JacobianSpectraConfig, game, fields, x, batch) -> dict[str, Any]:
    """Spectra, update operator and verdict at one state x for every field
    (`ganflow.analysis.point_spectra`), and the players' Hessian extremes (local-Nash test)."""
    out: dict[str, Any] = {}
    for name, b in fields.items():
        s = point_spectra(b, x, batch, eta=cfg.learning_rate, k=cfg.num_eigs,
                          tol=cfg.arnoldi_tol)
        code, *_, why = local_verdict(s.rho, complex(s.lr[0]), complex(s.upd[0]),
                                      cfg.learning_rate)
        out[name] = {"lm": s.lm, "lr": s.lr, "upd": s.upd, "rho": s.rho, "max_re": s.max_re,
                     "field_norm": s.field_norm, "verdict": code, "why": why}
    eig_t, eig_w = player_hessian_eigenvalues(game.objective(), x, batch)
    out["theta_hess_min"] = float(np.min(eig_t))
    out["omega_hess_max"] = float(np.max(eig_w))
    out["nash"] = bool(np.min(eig_t) > 0 and np.max(eig_w) < 0)
    return out


def spectra_eval_point(cfg: JacobianSpectraConfig, game):
    """(unravel, batch): the map from a saved flat parameter vector to the state x, and the
    fixed evaluation batch of a spectra run."""
    import equinox as eqx

    key = jax.random.fold_in(jax.random.key(cfg.seed), _SALT_EVAL)
    batch = eqx.filter_jit(lambda k: game.sample(k, cfg.eval_batch))(key)
    return state_unravel(game), batch


def run_spectra(cfg: JacobianSpectraConfig, out: Path, options: RunOptions | None = None) -> None:
    """Training through the engine (group `spectra_train`), then the analysis of every saved
    state (summary `spectra`)."""
    import xarray as xr

    from ..engine import Axis

    options = RunOptions() if options is None else options

    def make(scheme: str) -> SpectraMember:
        """Simultaneous SGD with step η on b0 of the config's loss, or on the consensus field."""
        game = spectra_game(cfg)
        stabilisers = (st.Consensus(cfg.gamma_consensus),) if scheme == "consensus" else ()
        scheme = tr.make_scheme("simultaneous", game,
                                tr.reference_optimizer("sgd", cfg.learning_rate),
                                stabilisers=stabilisers, sampler=GameSampler(game, cfg.batch_size))
        return SpectraMember(tr.MoGTrainProblem(game, scheme, 2500, 1))

    sweep = Sweep(seeds=seed_keys(cfg.seeds, root=cfg.seed),
                  axes=[Axis("scheme", tuple(cfg.methods), static=True)])
    res = run_ensemble(make, sweep, cfg.num_steps, save_every=cfg.save_every,
                       folder=RunFolder(out, group="spectra_train", resume=options.resume,
                                        checkpoint_every=checkpoint_interval(cfg.num_steps,
                                                                             cfg.save_every)),
                       execution=Execution(progress=options.progress),
                       config=dataclasses.asdict(cfg), keep_final=False, name="jacobian-spectra")
    ds = res.dataset
    game, fields = spectra_fields(cfg)
    unravel, batch = spectra_eval_point(cfg, game)
    xs = np.asarray(ds["x"].values)  # (seed, scheme, step, d)
    steps = np.asarray(ds["step"].values)
    status, dstep = np.asarray(ds["status"].values), np.asarray(ds["diverged_step"].values)
    ns, nm, nt, k, nf = cfg.seeds, len(cfg.methods), len(steps), cfg.num_eigs, len(fields)
    shape = (ns, nm, nt, nf)
    arr = {n: np.full(shape + (k,), np.nan, np.float64)
           for n in ("lm_re", "lm_im", "lr_re", "lr_im", "upd_re", "upd_im")}
    scal = {n: np.full(shape, np.nan, np.float64) for n in ("rho", "max_re", "field_norm")}
    code = np.full(shape, -1, np.int8)
    hess = {n: np.full((ns, nm, nt), np.nan) for n in ("theta_hess_min", "omega_hess_max")}
    nash = np.full((ns, nm, nt), -1, np.int8)
    whys, failed = {}, {}
    for s in range(ns):
        for m in range(nm):
            for t in range(nt):
                flat = xs[s, m, t]
                frozen = status[s, m] == int(RESULTS.diverged) and steps[t] >= dstep[s, m]
                if not np.all(np.isfinite(flat)) or frozen:  # no analysis of a frozen state
                    continue
                x = unravel(jnp.asarray(flat, game.dtype))
                try:
                    a = analyse_point(cfg, game, fields, x, batch)
                except (RuntimeError, ValueError, ArithmeticError) as err:
                    # an eigensolver failing at one point: flagged, the other points go on
                    where = f"seed {s}, {cfg.methods[m]}, step {int(steps[t])}"
                    failed[where] = f"{type(err).__name__}: {err}"
                    warnings.warn(f"jacobian-spectra: analysis failed at {where}: {err}",
                                  stacklevel=1)
                    continue
                for f, name in enumerate(fields):
                    r = a[name]
                    for key in ("lm", "lr", "upd"):
                        arr[f"{key}_re"][s, m, t, f] = r[key].real
                        arr[f"{key}_im"][s, m, t, f] = r[key].imag
                    for key in scal:
                        scal[key][s, m, t, f] = r[key]
                    code[s, m, t, f] = r["verdict"]
                    whys[f"{s}/{cfg.methods[m]}/{int(steps[t])}/{name}"] = r["why"]
                hess["theta_hess_min"][s, m, t] = a["theta_hess_min"]
                hess["omega_hess_max"][s, m, t] = a["omega_hess_max"]
                nash[s, m, t] = int(a["nash"])
    dims4, dims5 = ("seed", "scheme", "step", "field"), ("seed", "scheme", "step", "field", "k")
    data = {n: (dims5, v) for n, v in arr.items()}
    data.update({n: (dims4, v) for n, v in scal.items()})
    data["verdict"] = (dims4, code)
    data["local_nash"] = (("seed", "scheme", "step"), nash)
    data.update({n: (("seed", "scheme", "step"), v) for n, v in hess.items()})
    summary = xr.Dataset(
        data,
        coords={"seed": np.arange(ns), "scheme": list(cfg.methods), "step": steps,
                "field": list(fields), "k": np.arange(k)},
        attrs={"verdicts": json.dumps(VERDICTS), "reasons": json.dumps(whys),
               "failed": json.dumps(failed),
               "eta": cfg.learning_rate, "eval_batch": cfg.eval_batch,
               "what": "top eigenvalues of J (lm: largest modulus, lr: largest real part) and "
                       "of F' = I + eta J (upd), per field analysed; verdict codes in attrs"},
    )
    write_summary(out, "spectra", summary)


def report_spectra(cfg: JacobianSpectraConfig, results: dict[str, Any], out: Path) -> ReportPart:
    """Per save point: the top eigenvalues, ρ(F′), Nash and the verdict (majority over seeds,
    with one seed's reason); the complex-plane figure."""
    ds = results["spectra"]
    train = results.get("spectra_train")
    methods = [str(m) for m in ds["scheme"].values]
    fields = [str(f) for f in ds["field"].values]
    steps = np.asarray(ds["step"].values)
    reasons = json.loads(ds.attrs.get("reasons", "{}"))
    eta = float(ds.attrs.get("eta", cfg.learning_rate))
    lines = [
        f"Mixture **{cfg.kind}**; players {cfg.depth}×{cfg.width} ReLU (latent "
        f"{cfg.latent_dim}), loss {cfg.loss}; simultaneous SGD with η = {eta:g}, batch "
        f"{cfg.batch_size}; {cfg.seeds} seeds. At every save point, on one fixed batch of "
        f"{cfg.eval_batch}: the top {cfg.num_eigs} eigenvalues of J = ∂b/∂x by largest modulus "
        "and by largest real part (matrix-free Arnoldi on JVPs), of the update operator "
        "F′ = I + ηJ (its spectral radius ρ), and the players' Hessian extremes. Fields: b0 (the "
        f"game's) and consensus b0 − γJᵀb0 (γ = {cfg.gamma_consensus:g}). A save point is not a "
        "stationary point (‖b‖ is listed): the verdict is that of the linearisation there — "
        "would the iteration, started near this point, contract (converge), circle (cycle) or "
        "expand (diverge), and why. A seed that diverged in training (non-finite, or beyond the "
        "engine's blow-up bound) is not analysed from its divergence on; the column *diverged* "
        "counts such seeds by that step.",
        "",
    ]
    header = ["run", "step", "field", "‖b‖", "λ(J) max |·|", "λ(J) max Re", "ρ(I + ηJ)",
              "local Nash (% seeds)", "verdict (seeds)", "diverged", "why (seed 0)"]
    shape = (ds.sizes["seed"], len(methods))
    status = np.zeros(shape, int) if train is None else np.asarray(train["status"].values)
    dstep = np.full(shape, -1) if train is None else np.asarray(train["diverged_step"].values)
    rows = []
    for i, m in enumerate(methods):
        for j, s in enumerate(steps):
            for f, fname in enumerate(fields):
                own = (m == "consensus") == (fname == "consensus")
                if not own:
                    continue
                sub = ds.isel(scheme=i, step=j, field=f)
                codes = np.asarray(sub["verdict"].values)
                ok = codes >= 0
                by_then = count_diverged(np.where(dstep[:, i] <= s, status[:, i], 0),
                                         dstep[:, i])
                if not ok.any() and not by_then.diverged:
                    continue
                lm = sub["lm_re"].values[:, 0] + 1j * sub["lm_im"].values[:, 0]
                lr = sub["lr_re"].values[:, 0] + 1j * sub["lr_im"].values[:, 0]
                nash = np.asarray(ds["local_nash"].isel(scheme=i, step=j).values)
                counts = {VERDICTS[int(c)]: int(np.sum(codes == c)) for c in np.unique(codes[ok])}
                rows.append([
                    m, str(int(s)), fname,
                    f"{np.nanmean(sub['field_norm'].values):.3g}",
                    _cfmt(lm[0]), _cfmt(lr[0]),
                    format_pm(*mean_se(sub["rho"].values), ".6f"),
                    f"{100 * np.mean(nash[nash >= 0] == 1):.0f}" if (nash >= 0).any() else "–",
                    ", ".join(f"{k} {v}" for k, v in counts.items()) or "–",
                    divergence_text(*by_then),
                    reasons.get(f"0/{m}/{int(s)}/{fname}", "–"),
                ])
    lines += [markdown_table(header, rows), ""]
    failed = json.loads(ds.attrs.get("failed", "{}"))
    if failed:
        lines += [f"**The analysis failed at {len(failed)} saved point(s)**, left out of the "
                  "table (verdict −1, NaN in the results):", ""]
        lines += [f"- {where}: {why}" for where, why in failed.items()] + [""]
    lines += ["Verdicts: " + "; ".join(f"*{VERDICTS[c]}*: {_VERDICT_WHY[c]}" for c in VERDICTS)
              + ".", ""]
    # what consensus does to the same points
    if "consensus" in fields and "b0" in fields:
        i_b0, i_c = fields.index("b0"), fields.index("consensus")
        mr = np.asarray(ds["max_re"].values)  # (seed, scheme, step, field)
        rho = np.asarray(ds["rho"].values)
        lines += [
            "Both fields at every saved point (mean over seeds and save points): "
            + "; ".join(
                f"trained with {m}: max Re λ(J) b0 {np.nanmean(mr[:, i, :, i_b0]):.3g} vs "
                f"consensus {np.nanmean(mr[:, i, :, i_c]):.3g}, ρ(I + ηJ) b0 "
                f"{np.nanmean(rho[:, i, :, i_b0]):.6f} vs consensus "
                f"{np.nanmean(rho[:, i, :, i_c]):.6f}" for i, m in enumerate(methods))
            + ". Mescheder et al. (2017) predict that consensus moves the eigenvalues of J "
            "to the left (J − γJᵀJ at a stationary point), away from the imaginary axis.", ""]
    if train is not None:
        mc = mask_diverged(train["modes_covered"].values, train["step"].values, status, dstep)
        lines += ["Modes covered at the last save point (mean ± s.e.): " + "; ".join(
            f"{m} {format_pm(*mean_se(mc[:, i, -1]))}" for i, m in enumerate(methods)) + ".", ""]
    figures = _spectra_figure(cfg, ds, methods, fields, steps, out)
    return ReportPart("\n".join(lines), figures)


def _cfmt(z: complex) -> str:
    if not np.isfinite(z):
        return "–"
    return f"{z.real:.3g} {z.imag:+.3g}i"


def _spectra_figure(cfg, ds, methods, fields, steps, out: Path) -> list[Path]:
    """Per run, the spectra of the field it followed (`plotting.spectra_over_training`)."""
    own = ["consensus" if m == "consensus" else "b0" for m in methods]
    idx = [fields.index(f) if f in fields else 0 for f in own]

    def eigs(key):  # (scheme, step, seed * k), the field each run followed
        z = np.asarray(ds[f"{key}_re"].values) + 1j * np.asarray(ds[f"{key}_im"].values)
        z = np.stack([z[:, i, :, f] for i, f in enumerate(idx)])  # (scheme, seed, step, k)
        return np.moveaxis(z, 1, 2).reshape(len(methods), len(steps), -1)

    path = Path(out) / "jacobian_spectra.png"
    plotting.spectra_over_training(
        eigs("lm"), eigs("lr"), eigs("upd"), steps,
        [f"{f} field, trained with {m}" for f, m in zip(own, methods)],
        eta=cfg.learning_rate, path=path)
    return [path]


register(
    Experiment(
        name="jacobian-spectra",
        config=JacobianSpectraConfig,
        run=run_spectra,
        report=report_spectra,
        reproduces="Mescheder, Nowozin & Geiger 2017 §3–4: eigenvalues of trained MoG GANs' "
                   "Jacobians with and without consensus",
        presets=SPECTRA_PRESETS,
        quick_runtime="~1 min",
        full_runtime="~15 min (2 cores; 5 training, 10 analysis)",
    )
)