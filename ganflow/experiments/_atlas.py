r"""The convergence atlas: small games × losses × stabilisers × schemes over a learning-rate grid,
measured (fraction of seeds converged, empirical contraction rate) beside the theory (spectral
radius ρ(F′) of the actual update map at x*, eigenvalues of the Jacobian of the stabilised field
and of its first-order modified field, Cao–Guo eqs. 10/13).

Each cell (game, loss, stabiliser, scheme) is **one compilation**: the scheme is rebuilt from a
traced learning rate inside a `vmap` over the η-grid, itself around a `vmap` over the seeds; the
update Jacobians $F'(x^*) = ∂F_η/∂x$ (`jax.jacfwd` of one step) and the modified-field
Jacobians are computed in the same compiled function. Local theory (Mescheder 2017): the scheme
converges from near x* iff ρ(F′(x*)) < 1, at the rate ρ per step.
"""

import dataclasses
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


def _schemes(full: bool) -> dict[str, Callable[[Any, Any], tr.AbstractScheme]]:
    out = {
        "simultaneous": lambda b, eta: tr.SimultaneousGDA(b, optax.sgd(eta)),
        "alternating": lambda b, eta: tr.AlternatingGDA(b, optax.sgd(eta)),
        "extragradient": lambda b, eta: tr.Extragradient(b, optax.sgd(eta)),
    }
    if full:
        out.update(
            {
                "optimistic": lambda b, eta: tr.OptimisticGDA(b, optax.sgd(eta)),
                "alternating-5": lambda b, eta: tr.AlternatingGDA(b, optax.sgd(eta), n_d=5),
                "cgd": lambda b, eta: tr.CompetitiveGD(b, eta),
                "unrolled-3": lambda b, eta: tr.Unrolled(
                    b, k=3, unroll_lr=eta, optimizer=optax.sgd(eta)
                ),
            }
        )
    return out


_MODIFIED = {"simultaneous": "simultaneous", "alternating": "alternating"}

# ---------------------------------------------------------------------------------------------
# the result


@dataclasses.dataclass
class Atlas:
    """The atlas: `rows` (one dict per game × loss × stabiliser × scheme × η) and `cells`
    (per combination: the η-grid with measured and theoretical arrays, for a figure)."""

    rows: list[dict[str, Any]]
    cells: dict[tuple[str, str, str, str], dict[str, np.ndarray]]
    config: dict[str, Any]
    skipped: list[tuple[str, str, str, str, str]]

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
        "max_re_eig_field",
        "max_re_eig_modified",
        "agree",
    )

    def to_markdown(self) -> str:
        def fmt(v):
            if isinstance(v, float):
                return "nan" if math.isnan(v) else f"{v:.4g}"
            return str(v)

        head = "| " + " | ".join(self.COLUMNS) + " |"
        sep = "|" + "---|" * len(self.COLUMNS)
        lines = [head, sep]
        for r in self.rows:
            lines.append("| " + " | ".join(fmt(r[c]) for c in self.COLUMNS) + " |")
        return "\n".join(lines)

    def agreement(self) -> float:
        """Fraction of rows where the measurement agrees with the theory (see `agree`)."""
        return float(np.mean([r["agree"] for r in self.rows])) if self.rows else float("nan")

    def figure_data(self) -> dict[str, Any]:
        """Arrays per cell, keyed "game/loss/stabiliser/scheme": eta, frac_converged,
        rho_theory, rate_measured (for a plot of measured vs predicted against η)."""
        return {"/".join(k): v for k, v in self.cells.items()}


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


def _fit_rates(distances: np.ndarray, ts: np.ndarray, floor: float) -> np.ndarray:
    """Per seed: exp(slope) of a least-squares fit of log d_k against k over the save points
    with d_k > floor (the per-step contraction/expansion factor); nan with < 3 points."""
    out = np.full(distances.shape[:-1], np.nan)
    it = np.ndindex(*distances.shape[:-1])
    for idx in it:
        d = distances[idx]
        m = np.isfinite(d) & (d > floor)
        if m.sum() >= 3:
            out[idx] = math.exp(np.polyfit(ts[m], np.log(d[m]), 1)[0])
    return out


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
    r"""Runs the atlas and returns an `Atlas` (`.rows`, `.to_markdown()`, `.figure_data()`).

    For every game × loss × stabiliser × scheme (combinations a stabiliser does not apply to —
    R1 on the data-free bilinear game — are listed in `skipped`) and every η in `etas`,
    `num_seeds` initial states $x^* + $ `radius`·N(0, I) are trained for `num_steps` steps:

    - `frac_converged`: fraction within `tol` of x* at the end; `frac_diverged`: flagged DIVERGED;
    - `rate_measured`: median over non-diverged seeds of exp(slope of log‖x_k − x*‖ against k),
      the empirical per-step factor;
    - `rho_theory`: ρ(F′(x*)) of the actual update map (`jax.jacfwd` of one step);
    - `max_re_eig_field`: max Re λ(J) of the stabilised field at x* (η-independent);
      `max_re_eig_modified`: the same for its first-order modified field b − (η/2)Jb
      (simultaneous, Cao–Guo eq. 13) or b + ηb1 (alternating, eq. 10); nan for other schemes;
    - `agree`: the measurement agrees with local theory: all seeds converged when
      $ρ^{n}\,\|x_0 - x^*\|_{max} ≤ $ tol/10 (n = `num_steps`), none converged when ρ > 1, and
      no claim (True) in between.

    The default (4 games, 6 game × loss pairs, stabilisers none/R1/consensus/NK, schemes
    simultaneous/alternating/extragradient: 69 compiled cells, 5 η × 64 seeds × 600 steps each)
    is sized for < 3 minutes on 2 cores; `full=True` adds losses (nsgan), stabilisers (R2,
    instance noise in expectation, SGA, LSS), schemes (optimistic, alternating n_d = 5, CGD,
    unrolled-3), more learning rates and steps, and the finer quadratures of NK-2D and LQ.
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
    key = jax.random.key(0) if key is None else key

    from ..stabilisers import stabilise

    rows, cells, skipped = [], {}, []
    for gi, gname in enumerate(games):
        make_game, losses = all_games[gname]
        for loss in losses:
            game = make_game(loss)
            x_star = game.equilibrium()
            x0s = _seeds_near(x_star, jax.random.fold_in(key, gi), radius, num_seeds)
            dev0 = np.max(
                np.abs(
                    np.stack(
                        [
                            np.asarray(a - b).reshape(num_seeds, -1).max(axis=1)
                            for a, b in zip(
                                jax.tree_util.tree_leaves(x0s), jax.tree_util.tree_leaves(x_star)
                            )
                        ]
                    )
                )
            )
            dist0 = float(dev0) * math.sqrt(
                sum(np.size(a) for a in jax.tree_util.tree_leaves(x_star))
            )
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
                    ds, status = np.asarray(sol.distances), np.asarray(sol.status)
                    ts = np.arange(ds.shape[-1]) * save_every
                    rates = _fit_rates(ds, ts, floor=max(tol * 1e-3, 1e-13))
                    rho = np.array(
                        [np.max(np.abs(np.linalg.eigvals(j))) for j in np.asarray(jac_u)]
                    )
                    jac_m = np.asarray(jac_m)
                    frac_c = (status == RESULTS.converged).mean(axis=1)
                    frac_d = (status == RESULTS.diverged).mean(axis=1)
                    rate_med = np.array(
                        [
                            np.nanmedian(r[s != RESULTS.diverged])
                            if np.any((s != RESULTS.diverged) & np.isfinite(r))
                            else np.nan
                            for r, s in zip(rates, status)
                        ]
                    )
                    for i, eta in enumerate(etas):
                        mod = (
                            float(np.max(np.linalg.eigvals(jac_m[i]).real))
                            if jac_m.shape[-1]
                            else float("nan")
                        )
                        must = rho[i] < 1 and rho[i] ** num_steps * dist0 <= tol / 10
                        agree = bool(
                            (frac_c[i] == 1.0 if must else True)
                            and (frac_c[i] == 0.0 if rho[i] > 1 + 1e-9 else True)
                        )
                        rows.append(
                            {
                                "game": gname,
                                "loss": str(loss or "-"),
                                "stabiliser": sname,
                                "scheme": scheme,
                                "eta": float(eta),
                                "frac_converged": float(frac_c[i]),
                                "frac_diverged": float(frac_d[i]),
                                "rate_measured": float(rate_med[i]),
                                "rho_theory": float(rho[i]),
                                "max_re_eig_field": float(np.max(eig_field.real)),
                                "max_re_eig_modified": mod,
                                "agree": agree,
                            }
                        )
                    cells[(gname, str(loss or "-"), sname, scheme)] = {
                        "eta": etas,
                        "frac_converged": frac_c,
                        "frac_diverged": frac_d,
                        "rate_measured": rate_med,
                        "rho_theory": rho,
                    }
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
