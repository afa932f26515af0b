r"""`atlas`: the convergence atlas (`ganflow.analysis.convergence_atlas`) as a study: small games
× losses × stabilisers × schemes over a learning-rate grid, measured beside the local theory."""

import dataclasses
import json
from pathlib import Path
from typing import Any

from .._checks import check_choices, check_positive
from ..analysis import Atlas, atlas_catalogue
from ..studies import Experiment, ReportPart, RunOptions, check_run_fields, register
from ._exp_spectra import now, save

# Runtimes (quick_runtime: preset quick; full_runtime: the defaults) are CPU times measured on
# 2 cores, run and report, the process included. Preset full: 28 of its ~360 cells (all games ×
# {none, sga} × {alternating, unrolled-3}) had not finished after 690 s of CPU time.

_DEFAULT_GAMES, _DEFAULT_STABS, _DEFAULT_SCHEMES = atlas_catalogue(False)
_FULL_GAMES, _FULL_STABS, _FULL_SCHEMES = atlas_catalogue(True)


@dataclasses.dataclass(frozen=True)
class AtlasConfig:
    r"""The convergence atlas (`ganflow.analysis.convergence_atlas`): small games × losses ×
    stabilisers × schemes over a learning-rate grid, the fraction of seeds converged and the
    measured contraction rate beside the local theory — the spectral radius ρ(F′(x*)) of the
    actual update map (Mescheder 2017: local convergence iff ρ < 1) and the eigenvalues of the
    stabilised field and of its modified field (Cao–Guo eqs. 10, 13). Settings: the library's
    default atlas (4 games, stabilisers none/R1/consensus/NK, schemes simultaneous/alternating/
    extragradient, 5 η × 64 seeds × 600 steps); preset `full` is `convergence_atlas(full=True)`.
    Writes `results.zarr/atlas` (dims cell × eta, cell coordinates game/loss/stabiliser/scheme,
    one variable per column of the atlas), the table in `report.md` and `atlas.png`.

    - `games`: games: dirac, nk2d, bilinear, lq-gaussian
    - `stabilisers`: none, r1, consensus, nk (`full`: + r2, instance-noise, sga, lss)
    - `schemes`: simultaneous, alternating, extragradient (full: + optimistic, cgd, unrolled-3, …)
    - `etas`: the learning-rate grid
    - `seeds`: initial states x* + radius·N(0, I) per cell and learning rate
    - `num_steps`: training steps (rounded down to a multiple of num_steps // 60)
    - `radius`: scale of the initial perturbation of x*
    - `tol`: a seed has converged when it ends within tol of x*
    - `full`: the full catalogue (more losses, stabilisers, schemes; fine quadratures)
    - `seed`: root PRNG seed of the initial states
    """

    games: tuple[str, ...] = _DEFAULT_GAMES
    stabilisers: tuple[str, ...] = _DEFAULT_STABS
    schemes: tuple[str, ...] = _DEFAULT_SCHEMES
    etas: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0, 2.0)
    seeds: int = 64
    num_steps: int = 600
    radius: float = 0.1
    tol: float = 1e-6
    full: bool = False
    seed: int = 0

    def __post_init__(self):
        choices = atlas_catalogue(self.full)
        for name, choice, every in zip(("games", "stabilisers", "schemes"), choices,
                                       atlas_catalogue(True)):
            values = getattr(self, name)
            extra = [v for v in values if v not in choice and v in every]
            if extra:
                raise ValueError(f"{name} {', '.join(extra)} need full = true")
            check_choices(name, values, choice)
        if not self.etas:
            raise ValueError("etas must list at least one learning rate")
        check_positive("etas", self.etas)
        check_run_fields(self)
        check_positive("radius", self.radius)
        check_positive("tol", self.tol)


def run_atlas(config: AtlasConfig, out: Path, options: RunOptions) -> None:
    import jax

    from ..analysis import convergence_atlas

    started = now()
    atlas = convergence_atlas(
        config.games, config.stabilisers, config.schemes, config.etas, num_seeds=config.seeds,
        num_steps=config.num_steps, radius=config.radius, tol=config.tol,
        key=jax.random.key(config.seed), full=config.full,
    )
    save(out, "atlas", atlas.to_dataset(), config, started)


_ATLAS_DOC = {
    "frac_converged": "the fraction of seeds within tol of x* at the end",
    "frac_diverged": "the fraction flagged diverged (non-finite or beyond the blow-up bound)",
    "rate_measured": "the median over seeds of the fitted per-step factor of ‖x_k − x*‖",
    "rate_band": "the tolerance on log(rate_measured) within which it counts as 1",
    "rho_theory": "the spectral radius ρ(F′(x*)) of the actual update map (Mescheder 2017: "
                  "local convergence iff ρ < 1)",
    "rate_rel_err": "|rate_measured − ρ| / ρ",
    "verdict": "what the runs say: converges (every seed within tol), slow (contracting, not "
               "yet within tol), orbits (no trend), diverges",
    "verdict_theory": "what ρ says: converges (ρ < 1), orbits (ρ = 1 to its precision), "
                      "diverges (ρ > 1)",
    "agree": "the measurement agrees with the local theory",
    "steps_to_tol": "n* = log(tol/d0)/log ρ, the steps the linearisation needs from the "
                    "largest initial distance d0 (– when ρ ≥ 1)",
    "max_re_eig_field": "max Re λ of the Jacobian of the stabilised field",
    "max_re_eig_modified": "the same for its first-order modified field (Cao–Guo eqs. 13, 10)",
}


def report_atlas(config: AtlasConfig, results: dict[str, Any], out: Path) -> ReportPart:
    """The atlas table (`Atlas.to_markdown` of the saved rows) and its heatmaps
    (`Atlas.plot`), from the saved results alone."""
    ds = results["atlas"].load()
    out = Path(out)
    atlas = Atlas.from_dataset(ds)
    cfg = atlas.config
    figures = []
    if atlas.rows:
        figures.append(out / "atlas.png")
        atlas.plot(path=figures[-1])
    columns = [c for c in json.loads(ds.attrs["columns"]) if c not in Atlas.CELL + ("eta",)]
    known = "; ".join(f"*{c}*: {_ATLAS_DOC[c]}" for c in columns if c in _ATLAS_DOC)
    others = [c for c in columns if c not in _ATLAS_DOC]
    text = f"""Every row is one game × loss × stabiliser × scheme × learning rate η
(`ganflow.analysis.convergence_atlas`): {cfg['num_seeds']} initial states
x* + {cfg['radius']:g}·N(0, I) trained for {cfg['num_steps']} steps (tol = {cfg['tol']:g})."""
    if known:
        text += f"\nColumns: {known}."
    if others:
        text += (" Further columns (see `convergence_atlas`): "
                 + ", ".join(f"*{c}*" for c in others) + ".")
    if atlas.rows:
        counts = ", ".join(f"{k} {v}" for k, v in atlas.verdict_counts().items())
        text += f"""

Measurement agrees with theory in {100 * atlas.agreement():.0f} % of the rows
({len(atlas.cells)} cells × {ds.sizes['eta']} learning rates; measured verdicts: {counts};
{cfg.get('seconds', float('nan')):.1f} s).

{atlas.to_markdown()}
"""
    else:
        text += "\n\nNo combination of this configuration applies: the atlas is empty.\n"
    if atlas.skipped:
        text += "\nCombinations that do not apply:" + "".join(
            f"\n- {g}/{lo}/{st}/{sc}: {why}" for g, lo, st, sc, why in atlas.skipped) + "\n"
    return ReportPart(text, figures)


register(Experiment(
    name="atlas",
    config=AtlasConfig,
    run=run_atlas,
    report=report_atlas,
    reproduces="Mescheder 2017 (local convergence iff ρ(F′(x*)) < 1) measured over small games "
               "× losses × stabilisers × schemes × learning rates, with Cao–Guo eqs. 10/13",
    presets={
        "quick": {"games": ("dirac",), "stabilisers": ("none", "r1"),
                  "schemes": ("alternating",), "etas": (0.1, 1.0), "seeds": 8,
                  "num_steps": 300},
        "full": {"full": True, "games": _FULL_GAMES, "stabilisers": _FULL_STABS,
                 "schemes": _FULL_SCHEMES, "etas": (0.01, 0.03, 0.1, 0.2, 0.5, 1.0, 2.0),
                 "num_steps": 2000},
    },
    quick_runtime="10 s",
    full_runtime="3 min (preset full: about 2 h)",
))
