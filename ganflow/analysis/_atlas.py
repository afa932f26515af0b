r"""The convergence atlas: small games × losses × stabilisers × schemes over a learning-rate grid,
measured (fraction of seeds converged, empirical contraction rate, a verdict) beside the theory
(spectral radius ρ(F′) of the actual update map at x*, its verdict, eigenvalues of the Jacobian of
the stabilised field and of its first-order modified field, Cao–Guo eqs. 10/13).

Each cell (game, loss, stabiliser, scheme) is **one compilation**: the engine runs the η-grid ×
seeds in one compiled function (`training.run_grid`, the scheme rebuilt from a traced learning
rate); the update Jacobians $F'(x^*) = ∂F_η/∂x$ (`jax.jacfwd` of one step) and the
modified-field Jacobians are computed in one more. Local theory (Mescheder 2017;
docs/conventions.md §Discrete schemes): the scheme converges from near x* iff ρ(F′(x*)) < 1,
at the rate ρ per step, so that $‖x_k − x^*‖ ≈ ρ^k ‖x_0 − x^*‖$ and tol is reached after
$n^* = \log(\mathrm{tol}/d_0) / \log ρ$ steps.

The verdicts (`ganflow.analysis.VERDICTS`, `ensemble_verdicts`, `theory_verdicts`) answer "does
it converge?" without mistaking a short budget for "no": a cell that contracts at the predicted
rate but has not reached tol yet is `slow`, with n* beside it.
"""

import dataclasses
import json
import math
import time
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import training as tr
from .._checks import check_choice, check_int_at_least, check_positive
from ..dynamics import ModifiedField, jacobian
from ..engine import RESULTS
from ._verdicts import (
    THEORY_VERDICTS,
    VERDICTS,
    defective_on_unit_circle,
    ensemble_verdicts,
    rho_precision,
    steps_to_tol,
    theory_verdicts,
    verdicts_agree,
)

# ---------------------------------------------------------------------------------------------
# the catalogue


def _games(full: bool) -> dict[str, tuple[Callable[[str | None], Any], tuple[str | None, ...]]]:
    """name -> (make(loss), losses). Bilinear has no loss."""
    from .. import games as g

    # near x* the integrands are smooth: coarser quadrature keeps the default atlas fast
    lq_kwargs = {} if full else {"quadrature": "hermite", "num_nodes": 20}
    nk_kwargs = {} if full else {"levels": 2}
    return {
        "dirac": (lambda loss: g.get_game("dirac", loss=loss), ("gan", "wgan")),
        "nk2d": (lambda loss: g.get_game("nk2d", loss=loss, **nk_kwargs), ("gan", "wgan")),
        "bilinear": (lambda loss: g.get_game("bilinear"), (None,)),
        "lq-gaussian": (
            lambda loss: g.get_game("lq-gaussian", loss=loss, **lq_kwargs),
            ("gan", "nsgan") if full else ("gan",),
        ),
    }


def _stabilisers(full: bool) -> dict[str, Callable[[], tuple]]:
    from .. import stabilisers as s

    out = {
        "none": lambda: (),
        "r1": lambda: (s.R1(1.0),),
        "consensus": lambda: (s.Consensus(0.5),),
        "nk": lambda: (s.NagarajanKolter(0.5),),
    }
    if full:
        out.update(
            {
                "r2": lambda: (s.R2(1.0),),
                "instance-noise": lambda: (s.InstanceNoise(0.7, mode="expected"),),
                "sga": lambda: (s.SGA(0.5),),
                "lss": lambda: (s.LSS(),),
            }
        )
    return out


_SCHEMES = {  # name -> (`training.make_scheme` name, its keyword options given η)
    "simultaneous": ("simultaneous", lambda eta: {}),
    "alternating": ("alternating", lambda eta: {}),
    "extragradient": ("extragradient", lambda eta: {}),
}
_FULL_SCHEMES = {
    "optimistic": ("optimistic", lambda eta: {}),
    "alternating-5": ("alternating", lambda eta: {"n_d": 5}),
    "cgd": ("cgd", lambda eta: {}),
    "unrolled-3": ("unrolled", lambda eta: {"k": 3, "unroll_lr": eta}),
}


def _scheme_maker(name: str, options: Callable[[Any], dict]) -> Callable[[Any, Any], Any]:
    """(field, η) → `training.make_scheme(name, field, optax.sgd(η), **options(η))` (CGD takes
    the step η itself)."""

    def make(b, eta):
        return tr.make_scheme(name, b, eta if name == "cgd" else optax.sgd(eta), **options(eta))

    return make


def _schemes(full: bool) -> dict[str, Callable[[Any, Any], tr.AbstractScheme]]:
    table = {**_SCHEMES, **_FULL_SCHEMES} if full else _SCHEMES
    return {k: _scheme_maker(*v) for k, v in table.items()}


def atlas_catalogue(full: bool = False) -> tuple[tuple[str, ...], tuple[str, ...],
                                                 tuple[str, ...]]:
    """The names `convergence_atlas` accepts: (games, stabilisers, schemes) of its default
    catalogue, or of the full one (`full=True`)."""
    return tuple(_games(full)), tuple(_stabilisers(full)), tuple(_schemes(full))


_MODIFIED = {"simultaneous": "simultaneous", "alternating": "alternating"}

# ---------------------------------------------------------------------------------------------
# the result


@dataclasses.dataclass
class Atlas:
    """The atlas: `rows` (one dict per game × loss × stabiliser × scheme × η, with the measured
    and the theory's verdicts, `VERDICTS` / `THEORY_VERDICTS`) and `cells` (per combination:
    the η-grid with measured and theoretical arrays, for a figure: `figure_data`, `plot`)."""

    rows: list[dict[str, Any]]
    cells: dict[tuple[str, str, str, str], dict[str, np.ndarray]]
    config: dict[str, Any]
    skipped: list[tuple[str, str, str, str, str]]

    VERDICTS = VERDICTS
    THEORY_VERDICTS = THEORY_VERDICTS

    COLUMNS = (
        "game",
        "loss",
        "stabiliser",
        "scheme",
        "eta",
        "frac_converged",
        "frac_diverged",
        "rate_measured",
        "rho_theory",
        "rate_rel_err",
        "verdict",
        "verdict_theory",
        "agree",
        "steps_to_tol",
        "max_re_eig_field",
        "max_re_eig_modified",
    )

    def to_markdown(self) -> str:
        """The rows as a Markdown table (`COLUMNS`; n* = `steps_to_tol` as an integer, – when
        ρ ≥ 1)."""

        def fmt(col, v):
            if isinstance(v, float):
                if math.isnan(v):
                    return "–" if col == "steps_to_tol" else "nan"
                return f"{v:.0f}" if col == "steps_to_tol" else f"{v + 0.0:.4g}"  # no -0
            return str(v)

        head = "| " + " | ".join(self.COLUMNS) + " |"
        sep = "|" + "---|" * len(self.COLUMNS)
        lines = [head, sep]
        for r in self.rows:
            lines.append("| " + " | ".join(fmt(c, r[c]) for c in self.COLUMNS) + " |")
        return "\n".join(lines)

    def agreement(self) -> float:
        """Fraction of rows whose measured verdict agrees with the theory's (see `agree`)."""
        return float(np.mean([r["agree"] for r in self.rows])) if self.rows else float("nan")

    def verdict_counts(self) -> dict[str, int]:
        """How many rows got each measured verdict."""
        return {v: sum(r["verdict"] == v for r in self.rows) for v in VERDICTS}

    def figure_data(self) -> dict[str, Any]:
        """Arrays per cell, keyed "game/loss/stabiliser/scheme": eta, frac_converged,
        frac_diverged, rate_measured, rate_band, rho_theory, rate_rel_err, verdict,
        verdict_theory, agree, steps_to_tol (for a plot of measured vs predicted against η)."""
        return {"/".join(k): v for k, v in self.cells.items()}

    def heatmap_panels(self) -> dict[str, tuple[list[str], list[float], np.ndarray, np.ndarray,
                                                np.ndarray]]:
        """Per game, `(methods, etas, frac_converged, verdicts, agree)` for
        `ganflow.plotting.atlas_heatmap` (methods "loss/stabiliser/scheme"; every cell of a
        game shares the η-grid)."""
        panels: dict[str, Any] = {}
        for (game, loss, stab, scheme), cell in self.cells.items():
            p = panels.setdefault(game, ([], [float(e) for e in cell["eta"]], [], [], []))
            p[0].append(f"{loss}/{stab}/{scheme}")
            for slot, key in zip(p[2:], ("frac_converged", "verdict", "agree")):
                slot.append(np.asarray(cell[key]))
        return {g: (m, e, np.stack(f).astype(float), np.stack(v), np.stack(a).astype(bool))
                for g, (m, e, f, v, a) in panels.items()}

    def plot(self, path: Any = None, title: str | None = "Convergence atlas: measured verdicts"):
        """The verdict heatmaps (`ganflow.plotting.atlas_heatmap` of `heatmap_panels`), saved
        as PNG to `path` when given; returns the figure."""
        from ..plotting import atlas_heatmap

        return atlas_heatmap(self.heatmap_panels(), title=title, path=path)

    CELL = ("game", "loss", "stabiliser", "scheme")
    """The row keys that name a cell (the coordinates of the `cell` dimension of `to_dataset`)."""

    def to_dataset(self) -> Any:
        """The atlas as an `xarray.Dataset` with dims (cell, eta): cell coordinates game, loss,
        stabiliser, scheme; one variable per other column of its rows (whatever columns the
        rows hold); its settings (`config`), the combinations that do not apply (`skipped`) and
        the column order as JSON attributes. `Atlas.from_dataset` reads it back."""
        import xarray as xr

        cells: list[tuple] = []
        etas: list[float] = []
        by_key: dict[tuple, dict] = {}
        columns: list[str] = []
        for row in self.rows:
            cell = tuple(str(row[k]) for k in self.CELL)
            eta = float(row["eta"])
            if cell not in cells:
                cells.append(cell)
            if eta not in etas:
                etas.append(eta)
            by_key[(cell, eta)] = row
            for k in row:
                if k not in self.CELL and k != "eta" and k not in columns:
                    columns.append(k)
        data = {}
        for col in columns:
            values = []
            for cell in cells:
                for eta in etas:
                    row = by_key.get((cell, eta))
                    if row is None:
                        raise ValueError(f"the atlas has no row for {'/'.join(cell)} at eta={eta}")
                    values.append(row[col])
            arr = np.asarray(values)
            if arr.dtype.kind == "O":  # strings (or mixed values) as fixed-width text
                arr = np.asarray([str(v) for v in values])
            data[col] = (("cell", "eta"), arr.reshape((len(cells), len(etas)) + arr.shape[1:]))
        coords = {k: ("cell", np.asarray([c[i] for c in cells], dtype=str))
                  for i, k in enumerate(self.CELL)}
        coords["eta"] = np.asarray(etas, dtype=float)
        return xr.Dataset(
            data, coords=coords,
            attrs={"atlas_config": json.dumps(dict(self.config), default=str),
                   "skipped": json.dumps([list(s) for s in self.skipped]),
                   "columns": json.dumps([*self.CELL, "eta", *columns])},
        )

    @classmethod
    def from_dataset(cls, ds: Any) -> "Atlas":
        """The `Atlas` of a `to_dataset` (rows in their original order, cells per
        game/loss/stabiliser/scheme with their η-arrays)."""
        columns = json.loads(ds.attrs["columns"])
        values = {k: np.asarray(ds[k].values) for k in ds.data_vars}
        keys = {k: [str(v) for v in ds[k].values] for k in cls.CELL}
        etas = np.asarray(ds["eta"].values, dtype=float)
        rows, cells = [], {}
        for ci in range(ds.sizes["cell"]):
            cell = tuple(keys[k][ci] for k in cls.CELL)
            for ei, eta in enumerate(etas):
                row = dict(zip(cls.CELL, cell))
                row["eta"] = float(eta)
                row.update({k: _item(values[k][ci, ei]) for k in values})
                rows.append({k: row[k] for k in columns if k in row})
            cells[cell] = {"eta": etas, **{k: values[k][ci] for k in values}}
        skipped = [tuple(s) for s in json.loads(ds.attrs["skipped"])]
        return cls(rows=rows, cells=cells, config=json.loads(ds.attrs["atlas_config"]),
                   skipped=skipped)


def _item(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


# ---------------------------------------------------------------------------------------------
# one cell


def _seeds_near(x_star: Any, key: Any, radius: float, n: int) -> Any:
    leaves, treedef = jax.tree_util.tree_flatten(x_star)
    keys = jax.random.split(key, len(leaves))
    noisy = [
        jnp.asarray(a) + radius * jax.random.normal(k, (n, *jnp.shape(a)), jnp.result_type(float))
        for a, k in zip(leaves, keys)
    ]
    return jax.tree_util.tree_unflatten(treedef, noisy)


@eqx.filter_jit
def _cell_jacobians(make, field, scheme_name, etas, x_star):
    """Per η: the Jacobian of the actual update map at x* and of the modified field."""

    def per_eta(eta):
        scheme = make(field, eta)
        jac_update = tr.update_jacobian(scheme, x_star)
        if scheme_name in _MODIFIED:
            jac_mod = jacobian(ModifiedField(field, eta, _MODIFIED[scheme_name]), x_star)
        else:
            jac_mod = jnp.full_like(jac_update[:0, :0], jnp.nan)
        return jac_update, jac_mod

    return jax.vmap(per_eta)(etas)


def _cell(make, field, scheme_name, etas, x0s, x_star, num_steps, save_every, tol, blowup):
    """One atlas cell: η × seeds through the engine (`training.run_grid`, one compilation),
    and the update/modified-field Jacobians at x*."""
    sol = tr.run_grid(
        lambda eta: make(field, eta), np.asarray(etas), x0s, num_steps, save_every=save_every,
        x_star=x_star, tol=tol, blowup=blowup,
    )
    jac_u, jac_m = _cell_jacobians(make, field, scheme_name, jnp.asarray(etas), x_star)
    return sol, jac_u, jac_m


def convergence_atlas(
    games: tuple[str, ...] | None = None,
    stabilisers: tuple[str, ...] | None = None,
    schemes: tuple[str, ...] | None = None,
    etas: Any = None,
    *,
    num_seeds: int = 64,
    num_steps: int | None = None,
    radius: float = 0.1,
    tol: float = 1e-6,
    blowup: float = 1e4,
    key: Any = None,
    full: bool = False,
    verbose: bool = False,
) -> Atlas:
    r"""Runs the atlas and returns an `Atlas` (`.rows`, `.to_markdown()`, `.figure_data()`,
    `.plot()`).

    For every game × loss × stabiliser × scheme (combinations a stabiliser does not apply to —
    R1 on the data-free bilinear game — are listed in `skipped`) and every η in `etas`,
    `num_seeds` initial states $x^* + $ `radius`·N(0, I) are trained for `num_steps` steps.
    Each row holds

    - `frac_converged`: fraction within `tol` of x* at the end; `frac_diverged`: flagged
      `diverged` by the engine (non-finite or beyond `blowup`);
    - `rate_measured`: the median over seeds of exp(slope of log‖x_k − x*‖ against k), the
      empirical per-step factor (a diverged seed up to its last good state); `rate_band`: the
      tolerance on its logarithm within which it counts as 1 (`ganflow.analysis.ensemble_verdicts`);
    - `rho_theory`: ρ(F′(x*)) of the actual update map (`jax.jacfwd` of one step), and
      `rate_rel_err` = |rate_measured − ρ| / ρ (nan when either is undefined);
    - `verdict`: the measurement's, one of `VERDICTS` — `converges` (every seed that did not
      diverge is within tol), `slow` (contracting, not yet within tol), `orbits` (rate 1 within
      `rate_band`), `diverges` (at least half the seeds diverged, or expanding) — see
      `ganflow.analysis.ensemble_verdicts`;
    - `verdict_theory`: from ρ (`theory_verdicts`, ρ = 1 to `rho_precision`); `agree`: the two
      agree (`verdicts_agree`: `slow` agrees with ρ < 1; `orbits` also agrees with any ρ whose
      |log ρ| the run's budget cannot resolve);
    - `steps_to_tol`: n* = log(tol/d0)/log ρ for ρ < 1, d0 the largest initial distance: the
      budget that `converges` needs (`steps_to_tol`);
    - `max_re_eig_field`: max Re λ(J) of the stabilised field at x* (η-independent);
      `max_re_eig_modified`: the same for its first-order modified field b − (η/2)Jb
      (simultaneous, Cao–Guo eq. 13) or b + ηb1 (alternating, eq. 10); nan for other schemes.

    The default (4 games, 6 game × loss pairs, stabilisers none/R1/consensus/NK, schemes
    simultaneous/alternating/extragradient: 69 compiled cells, 5 η × 64 seeds × 600 steps each)
    is sized for < 3 minutes on 2 cores; `full=True` adds losses (nsgan), stabilisers (R2,
    instance noise in expectation, SGA, LSS), schemes (optimistic, alternating n_d = 5, CGD,
    unrolled-3), more learning rates and steps, and the finer quadratures of NK-2D and LQ.

    **Returns:** an `Atlas`.
    """
    t_start = time.perf_counter()
    all_games, all_stabs, all_schemes = _games(full), _stabilisers(full), _schemes(full)
    games = tuple(all_games) if games is None else tuple(games)
    stabilisers = tuple(all_stabs) if stabilisers is None else tuple(stabilisers)
    schemes = tuple(all_schemes) if schemes is None else tuple(schemes)
    for g in games:
        check_choice("game", g, tuple(all_games))
    for s in stabilisers:
        check_choice("stabiliser", s, tuple(all_stabs))
    for s in schemes:
        check_choice("scheme", s, tuple(all_schemes))
    if etas is None:
        etas = (0.03, 0.1, 0.3, 1.0, 2.0) if not full else (0.01, 0.03, 0.1, 0.2, 0.5, 1.0, 2.0)
    etas = np.asarray(etas, dtype=float)
    check_positive("etas", etas)
    num_seeds = check_int_at_least("num_seeds", num_seeds, 1)
    if num_steps is None:
        num_steps = 2000 if full else 600
    num_steps = check_int_at_least("num_steps", num_steps, 1)
    save_every = max(num_steps // 60, 1)
    num_steps = save_every * (num_steps // save_every)
    check_positive("radius", radius)
    check_positive("tol", tol)
    key = jax.random.key(0) if key is None else key

    from ..stabilisers import stabilise

    rows, cells, skipped = [], {}, []
    for gi, gname in enumerate(games):
        make_game, losses = all_games[gname]
        for loss in losses:
            game = make_game(loss)
            x_star = game.equilibrium()
            x0s = _seeds_near(x_star, jax.random.fold_in(key, gi), radius, num_seeds)
            star_leaves = jax.tree_util.tree_leaves(x_star)
            eps = float(jnp.finfo(jnp.result_type(*star_leaves, float)).eps)
            size_star = math.sqrt(sum(float(jnp.sum(jnp.square(a))) for a in star_leaves))
            # distances below this are round-off of ‖x − x*‖: left out of the rate fits
            floor = max(tol * 1e-3, 100 * eps * (1.0 + size_star))
            for sname in stabilisers:
                try:
                    field = stabilise(game, *all_stabs[sname](), population=True)
                    eig_field = np.linalg.eigvals(np.asarray(jacobian(field, x_star)))
                except ValueError as err:
                    for scheme in schemes:
                        skipped.append(
                            (gname, str(loss or "-"), sname, scheme, str(err).split("\n")[0])
                        )
                    continue
                for scheme in schemes:
                    t0 = time.perf_counter()
                    sol, jac_u, jac_m = _cell(
                        all_schemes[scheme],
                        field,
                        scheme,
                        jnp.asarray(etas),
                        x0s,
                        x_star,
                        num_steps,
                        save_every,
                        tol,
                        blowup,
                    )
                    cell = _analyse_cell(sol, jac_u, etas, save_every, tol, floor)
                    jac_m = np.asarray(jac_m)
                    for i, eta in enumerate(etas):
                        mod = (
                            float(np.max(np.linalg.eigvals(jac_m[i]).real))
                            if jac_m.shape[-1]
                            else float("nan")
                        )
                        row = {
                            "game": gname,
                            "loss": str(loss or "-"),
                            "stabiliser": sname,
                            "scheme": scheme,
                            "eta": float(eta),
                        }
                        for k, v in cell.items():
                            if k != "eta":
                                v = v[i]
                                row[k] = v if isinstance(v, str) else (
                                    bool(v) if k == "agree" else float(v))
                        row["max_re_eig_field"] = float(np.max(eig_field.real))
                        row["max_re_eig_modified"] = mod
                        rows.append(row)
                    cells[(gname, str(loss or "-"), sname, scheme)] = cell
                    if verbose:
                        print(f"{gname}/{loss}/{sname}/{scheme}: {time.perf_counter() - t0:.2f}s")
    config = {
        "games": games,
        "stabilisers": stabilisers,
        "schemes": schemes,
        "etas": etas.tolist(),
        "num_seeds": num_seeds,
        "num_steps": num_steps,
        "radius": radius,
        "tol": tol,
        "full": full,
        "seconds": time.perf_counter() - t_start,
    }
    return Atlas(rows=rows, cells=cells, config=config, skipped=skipped)


def _analyse_cell(sol, jac_u, etas, save_every, tol, floor) -> dict[str, np.ndarray]:
    """The measured and theoretical columns of one cell (arrays over η)."""
    ds, status = np.asarray(sol.distances), np.asarray(sol.status)
    ts = np.arange(ds.shape[-1]) * save_every
    jac_u = np.asarray(jac_u)
    rho = np.array([np.max(np.abs(np.linalg.eigvals(j.astype(np.float64)))) for j in jac_u])
    delta = np.array([rho_precision(j) for j in jac_u])
    defective = np.array([defective_on_unit_circle(j, d) for j, d in zip(jac_u, delta)])
    meas = ensemble_verdicts(ds, ts, status, np.asarray(sol.diverged_step), tol, delta, floor)
    theory = theory_verdicts(rho, delta, defective)
    with np.errstate(invalid="ignore"):
        rel = np.abs(meas["rate"] - rho) / rho
    return {
        "eta": np.asarray(etas),
        "frac_converged": (status == RESULTS.converged).mean(axis=1),
        "frac_diverged": (status == RESULTS.diverged).mean(axis=1),
        "rate_measured": meas["rate"],
        "rate_band": meas["band"],
        "rho_theory": rho,
        "rate_rel_err": rel,
        "verdict": meas["verdict"],
        "verdict_theory": theory,
        "agree": verdicts_agree(meas["verdict"], theory, rho, meas["band"]),
        "steps_to_tol": np.where(theory == "converges",
                                 steps_to_tol(rho, ds[:, :, 0].max(axis=1), tol), np.nan),
    }
