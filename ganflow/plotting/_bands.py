r"""Curves over training with uncertainty bands: ensemble means over seeds (from the engine's
xarray results) and the two sides of a fluctuation–dissipation relation (Cao–Guo §4)."""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from jaxtyping import ArrayLike, Float

from .._checks import check_choice
from ._common import COLOURS, figure_and_axis, mark_diverged, new_figure, save

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_BANDS = ("se", "quantile")


def seed_statistics(
    values: Float[ArrayLike, "seeds T"], band: str = "se"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""NaN-aware statistics over the seed axis (axis 0) of `values`, per column:
    `(mean, lo, hi, count)` with `count` the number of finite seeds,
    `mean` their mean and the band `band="se"`: mean ± one standard error
    $s/\sqrt{n}$ ($s$ with ddof = 1; NaN where n < 2) or `band="quantile"`: the 5 % and 95 %
    quantiles of the finite seeds. Columns without a finite seed are NaN."""
    check_choice("band", band, _BANDS)
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"values must have shape (seeds, T), got {arr.shape}")
    arr = np.where(np.isfinite(arr), arr, np.nan)
    count = np.sum(np.isfinite(arr), axis=0)
    nan = np.full(arr.shape[1], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.divide(np.nansum(arr, axis=0), count, out=nan.copy(), where=count > 0)
        if band == "se":
            dev = np.where(np.isfinite(arr), arr - mean, 0.0)
            var = np.divide(np.sum(dev**2, axis=0), count - 1, out=nan.copy(), where=count > 1)
            se = np.sqrt(var / np.maximum(count, 1))
            return mean, mean - se, mean + se, count
        lo, hi = nan.copy(), nan.copy()
        ok = count > 0
        if ok.any():
            lo[ok] = np.nanquantile(arr[:, ok], 0.05, axis=0)
            hi[ok] = np.nanquantile(arr[:, ok], 0.95, axis=0)
    return mean, lo, hi, count


def ensemble_band(
    da: Any,
    x_dim: str = "step",
    band: str = "se",
    by: str | None = None,
    *,
    seed_dim: str = "seed",
    logy: bool = False,
    ylabel: str | None = None,
    title: str | None = None,
    ax: "Axes | None" = None,
    path: str | Path | None = None,
    panels: bool = False,
    reference: Mapping[str, float] | None = None,
    diverged_marks: bool = False,
) -> "Figure":
    r"""Ensemble means over seeds with a band, one curve per value of `by` — the summary of an
    engine run (`ganflow.engine.run_ensemble` results, `xarray`) over training.

    **Arguments:**

    - `da`: an `xarray.DataArray` with dims `seed_dim`, `x_dim` (the horizontal axis, its
      coordinate values used when present) and optionally `by`; any other dim must have size 1
      (select the rest first, e.g. `ds["distance"].sel({"eta": 0.1})`);
    - `band`: `"se"` — mean ± one standard error over the seeds,
      $\bar y ± s/\sqrt{n}$ — or `"quantile"` — the 5 %–95 % quantiles;
    - `by`: a dim whose values get one curve each (e.g. `"variant"`, `"eta"`);
    - `panels` (default False): with `by`, small multiples instead of overlapping curves — one
      panel per value of `by`, on shared axes (for more than a few curves);
    - `reference` (default None): labelled horizontal reference lines, label → value, drawn
      dotted in every panel and named in the legend (e.g. `{"all 8 modes": 8}`);
    - NaN-aware: a NaN (a seed not yet run, a partial result, a diverged seed masked by
      `ganflow.analysis.mask_diverged`) is left out of that point's statistics; the mean is
      dashed where some seeds have no value, and the legend gives the number of seeds with a
      value at the last x;
    - `diverged_marks` (default False): a seed whose values end in NaN after a value (a
      diverged seed, masked from its divergence on) is marked with a cross at its last value
      and counted in the legend;
    - `logy`: a log-scale vertical axis; `ax`: draw into an existing axis (not with `panels`);
      `path`: save as PNG.

    **Returns:** the `matplotlib.figure.Figure`.

    ```python
    ds = xr.open_zarr("runs/results.zarr")
    ensemble_band(ds["distance"], by="eta", logy=True, path="distance.png")
    ```
    """
    check_choice("band", band, _BANDS)
    dims = tuple(getattr(da, "dims", ()))
    if not dims or not hasattr(da, "transpose"):
        raise ValueError(f"da must be an xarray.DataArray, got {type(da).__name__}")
    for name, dim in (("seed_dim", seed_dim), ("x_dim", x_dim)) + ((("by", by),) if by else ()):
        if dim not in dims:
            raise ValueError(f"{name}={dim!r} is not a dim of the DataArray (dims {dims})")
    if by in (seed_dim, x_dim):
        raise ValueError(f"by={by!r} must differ from seed_dim and x_dim")
    if panels and (by is None or ax is not None):
        raise ValueError("panels=True needs `by` (one panel per value) and no `ax`")
    keep = [seed_dim, x_dim] + ([by] if by else [])
    extra = [d for d in dims if d not in keep]
    too_big = [d for d in extra if da.sizes[d] != 1]
    if too_big:
        raise ValueError(
            f"dims {too_big} are not plotted: select one value of each first, e.g. "
            f"da.sel({{{too_big[0]!r}: ...}}), or draw one curve per value with by={too_big[0]!r}"
        )
    da = da.squeeze(extra, drop=True) if extra else da
    xs = np.asarray(da[x_dim].values) if x_dim in da.coords else np.arange(da.sizes[x_dim])
    groups: list[tuple[str | None, Any]] = [(None, da)]
    if by:
        values = da[by].values if by in da.coords else np.arange(da.sizes[by])
        groups = [(f"{by} = {v}", da.isel({by: i})) for i, v in enumerate(values)]
    band_text = "mean ± 1 standard error" if band == "se" else "mean, 5 %–95 % quantiles"
    name = ylabel or (str(da.name) if da.name is not None else "value")
    units = da.attrs.get("units") if hasattr(da, "attrs") else None
    ylab = f"{name} [{units}]" if units and not ylabel else name
    if panels:
        ncols = min(len(groups), 5)
        nrows = -(-len(groups) // ncols)
        fig, axs = new_figure(nrows, ncols, size=(2.9 * ncols, 2.5 * nrows + 0.6))
        axes = list(axs.ravel())
        for other in axes[1:]:  # shared axes: the panels compare at a glance
            other.sharex(axes[0])
            other.sharey(axes[0])
        for extra_ax in axes[len(groups):]:
            extra_ax.set_visible(False)
    else:
        fig, one = figure_and_axis(ax, size=(6.4, 4.2))
        axes = [one] * len(groups)
    seeds = da.sizes[seed_dim]
    any_partial = False
    for i, (label, sub) in enumerate(groups):
        a = axes[i]
        vals = np.asarray(sub.transpose(seed_dim, x_dim).values, dtype=float)
        colour = COLOURS[0] if panels else COLOURS[i % len(COLOURS)]
        partial = _band_curve(a, xs, vals, band, colour, None if panels else label, seeds,
                              diverged_marks)  # a panel's title names its value
        any_partial = partial if panels else any_partial or partial
        if panels:
            a.set_title(str(label).split(" = ", 1)[-1], fontsize=10)
        if not panels and i < len(groups) - 1:
            continue
        for j, (rname, rvalue) in enumerate((reference or {}).items()):
            a.axhline(float(rvalue), color="0.25", lw=1.0, ls=(0, (1, 2 + j)), label=rname)
        _band_legend(a, any_partial, panels)
    for a in (axes if panels else axes[:1]):
        if logy:
            a.set_yscale("log")
        a.grid(alpha=0.25)
    for a in (axes if panels else axes[:1]):
        if not panels or a.get_subplotspec().is_last_row():
            a.set_xlabel(x_dim)
        if not panels or a.get_subplotspec().is_first_col():
            a.set_ylabel(ylab)
    heading = title or f"{name}: {band_text} over seeds"
    if panels:
        fig.suptitle(heading, fontsize=11)
    else:
        axes[0].set_title(heading, fontsize=10, wrap=True)
    return save(fig, path)


def _band_curve(ax: "Axes", xs: np.ndarray, vals: np.ndarray, band: str, colour: str,
                label: str | None, seeds: int, marks: bool) -> bool:
    """One mean curve with its band into `ax` (solid where every seed has a value, dashed where
    some have none), the diverged seeds marked with `marks`; True where it was dashed."""
    mean, lo, hi, count = seed_statistics(vals, band)
    done = count[np.isfinite(mean)]
    n_text = f"{int(done[-1])}/{seeds} seeds" if done.size else f"0/{seeds} seeds"
    if marks:
        k = mark_diverged(ax, xs, vals, colour)
        if k:
            n_text += f", {k} diverged ×"
    text = f"{label} ({n_text})" if label else f"mean ({n_text})"
    ax.fill_between(xs, lo, hi, color=colour, alpha=0.22, lw=0)
    full = count == seeds
    ax.plot(xs, np.where(full, mean, np.nan), color=colour, lw=1.8, label=text)
    if full.all():
        return False
    near = full & ~(np.r_[full[1:], True] & np.r_[True, full[:-1]])  # dilated: joins up
    ax.plot(xs, np.where(~full | near, mean, np.nan), color=colour, lw=1.4, ls="--")
    return True


def _band_legend(ax: "Axes", partial: bool, small: bool) -> None:
    handles, texts = ax.get_legend_handles_labels()
    if partial:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="0.3", lw=1.4, ls="--"))
        texts.append("dashed: fewer seeds (NaN left out)")
    ax.legend(handles, texts, loc="best", fontsize=7 if small else 8, framealpha=0.85)


# ---------------------------------------------------------------------------------------------
# fluctuation–dissipation relations

_SIDES = {
    "fdr2": ("θᵀg_θ − ωᵀg_ω", "β⁻¹ Tr(Σ_θ + Σ_ω)"),
    "fdr1": ("‖g_θ‖² − ‖g_ω‖²", "β⁻¹ Tr(Σ_θ∇²_θΦ + Σ_ω∇²_ωΦ) − (η/2) gᵀ∇²Φ g"),
}


def _side(name: str, value: Any, se: Any, t: int):
    """(mean, se, samples or None) of one side: a (T,) mean with an optional (T,) se, or (S, T)
    samples over seeds."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 2:
        if se is not None:
            raise ValueError(f"{name} has samples over seeds (shape {arr.shape}): its standard "
                             f"error is computed here; do not pass {name}_se")
        if arr.shape[1] != t:
            raise ValueError(f"{name} has shape {arr.shape}; expected (seeds, {t})")
        mean, lo, hi, _ = seed_statistics(arr, "se")
        return mean, (hi - lo) / 2, arr
    if arr.shape != (t,):
        raise ValueError(f"{name} must have shape ({t},) or (seeds, {t}), got {arr.shape}")
    if se is None:
        return arr, None, None
    se = np.asarray(se, dtype=float)
    if se.shape != (t,):
        raise ValueError(f"{name}_se must have shape ({t},), got {se.shape}")
    return arr, se, None


def fdr_traces(
    steps: Float[ArrayLike, " T"],
    lhs: Float[ArrayLike, "*seeds T"],
    rhs: Float[ArrayLike, "*seeds T"],
    lhs_se: Float[ArrayLike, " T"] | None = None,
    rhs_se: Float[ArrayLike, " T"] | None = None,
    *,
    relation: str | None = "fdr2",
    labels: Sequence[str] | None = None,
    ratio: bool = True,
    yscale: str = "linear",
    ratio_ylim: tuple[float, float] | None = None,
    xlabel: str = "step",
    title: str | None = None,
    path: str | Path | None = None,
) -> "Figure":
    r"""Both sides of a fluctuation–dissipation relation over training, with standard-error
    bands, and (`ratio=True`) their ratio against 1 — the stationarity diagnostic of Cao–Guo
    2020, §4 (Theorems 4 and 5): at stationarity the expectations of the two sides are equal.

    - `relation="fdr2"` (simultaneous SGA, SDE (9), Theorem 5):
      lhs $= θ^\top g_θ - ω^\top g_ω$, rhs $= β^{-1}\mathrm{Tr}(Σ_θ + Σ_ω)$, β = 2B/η;
    - `relation="fdr1"` (alternating, SDE (10), Theorem 4):
      lhs $= \|g_θ\|^2 - \|g_ω\|^2$, rhs $= β^{-1}\mathrm{Tr}(Σ_θ∇^2_θΦ + Σ_ω∇^2_ωΦ) -
      \tfrac η2(g_θ^\top∇^2_θΦ\,g_θ + g_ω^\top∇^2_ωΦ\,g_ω)$;
    - `relation=None`: sides labelled "lhs", "rhs" (or `labels`).

    The pointwise sides are `ganflow.analysis.fdr2_terms` / `fdr1_terms`; their stationary
    means with standard errors are `fdr2` / `fdr1` (`FDREstimate`).

    **Arguments:**

    - `steps` (T,): the training steps (or times) of the measurements;
    - `lhs`, `rhs`: (T,) means with optional (T,) standard errors `lhs_se`, `rhs_se`, or
      (seeds, T) samples, whose NaN-aware mean and standard error over seeds are taken here;
    - `ratio`: a second panel with lhs/rhs and its standard error — paired over seeds (the
      delta method of `fdr_estimate`) when samples are given, else from the two standard
      errors as if independent — against the line 1;
    - `yscale`: of the sides' panel, `"linear"` or `"symlog"` (a transient far above the
      stationary level, and sides that change sign); `ratio_ylim`: the ratio panel's window
      (default: fitted to the second half of the trace, where stationarity is judged, and 1;
      the early transient may leave it);
    - `labels`: the two legend labels; `xlabel`: the horizontal axis (e.g. "time t" for an
      SDE); `path`: save the figure as PNG.

    **Returns:** the `matplotlib.figure.Figure`.

    ```python
    lhs, rhs = jax.vmap(jax.vmap(lambda x: gf.analysis.fdr2_terms(phi, x, factor(x), eta, B)))(xs)
    fdr_traces(ts, lhs, rhs, path="fdr2.png")    # xs with leaves (seeds, T, ...)
    ```
    """
    steps = np.asarray(steps, dtype=float)
    if steps.ndim != 1:
        raise ValueError(f"steps must be a 1-D array, got shape {steps.shape}")
    t = steps.shape[0]
    check_choice("yscale", yscale, ("linear", "symlog"))
    if relation is not None:
        relation = check_choice("relation", str(relation).lower(), tuple(_SIDES))
    if labels is None:
        sides = _SIDES[relation] if relation else ("lhs", "rhs")
        labels = (f"lhs: {sides[0]}", f"rhs: {sides[1]}") if relation else sides
    if len(labels) != 2:
        raise ValueError(f"labels must be two strings (lhs, rhs), got {labels!r}")
    lm, ls, lsamp = _side("lhs", lhs, lhs_se, t)
    rm, rs, rsamp = _side("rhs", rhs, rhs_se, t)
    if ratio:
        fig, axes = new_figure(2, 1, size=(7.0, 6.0))
        ax, rax = axes[0, 0], axes[1, 0]
    else:
        fig, ax = figure_and_axis(None, size=(7.0, 4.0))
        rax = None
    for i, (mean, se, label) in enumerate(((lm, ls, labels[0]), (rm, rs, labels[1]))):
        colour = COLOURS[i]
        if se is not None:
            ax.fill_between(steps, mean - se, mean + se, color=colour, alpha=0.22, lw=0)
        ax.plot(steps, mean, color=colour, lw=1.6, ls="-" if i == 0 else "--", label=label)
    band_note = " (bands: ± 1 standard error)" if ls is not None or rs is not None else ""
    ax.set_ylabel("value of each side")
    if yscale == "symlog":
        # linear within the typical size of the rhs (the stationary level), log beyond
        level = np.abs(rm[np.isfinite(rm) & (rm != 0)])
        if level.size == 0:
            level = np.abs(lm[np.isfinite(lm) & (lm != 0)])
        ax.set_yscale("symlog", linthresh=float(np.median(level)) if level.size else 1.0,
                      linscale=0.5)
    ax.grid(alpha=0.25)
    ax.legend(loc="best", fontsize=8, framealpha=0.85)
    name = relation.upper() if relation else "FDR"
    ax.set_title(f"{name}: both sides over training{band_note}", fontsize=10)
    if rax is None:
        ax.set_xlabel(xlabel)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            r = lm / rm
            if lsamp is not None and rsamp is not None:
                paired = (lsamp - r * rsamp) / rm
                _, lo, hi, _ = seed_statistics(paired, "se")
                rse = (hi - lo) / 2
            elif ls is not None or rs is not None:
                rel_l = (ls if ls is not None else 0.0) / lm
                rel_r = (rs if rs is not None else 0.0) / rm
                rse = np.abs(r) * np.sqrt(rel_l**2 + rel_r**2)
            else:
                rse = None
        if rse is not None:
            rax.fill_between(steps, r - rse, r + rse, color=COLOURS[2], alpha=0.22, lw=0)
        rax.plot(steps, r, color=COLOURS[2], lw=1.6, label="lhs / rhs")
        rax.axhline(1.0, color="k", lw=1.0, ls=":", label="stationary: lhs / rhs = 1")
        rax.set_ylabel("lhs / rhs")
        rax.set_xlabel(xlabel)
        if ratio_ylim is None:
            late = slice(t // 2, None)
            parts = [r[late], np.ones(1)]
            if rse is not None:
                parts += [r[late] - rse[late], r[late] + rse[late]]
            vals = np.concatenate(parts)
            vals = vals[np.isfinite(vals)]
            lo, hi = float(vals.min()), float(vals.max())
            pad = 0.1 * max(hi - lo, 0.05)
            ratio_ylim = (lo - pad, hi + pad)
        rax.set_ylim(*ratio_ylim)
        rax.grid(alpha=0.25)
        rax.legend(loc="best", fontsize=8, framealpha=0.85)
    if title:
        fig.suptitle(title)
    return save(fig, path)
