r"""Several sets of Jacobian eigenvalues overlaid in the complex plane, with the imaginary axis
and, optionally, the stability circles of discrete updates (Mescheder et al. 2017)."""

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import check_positive
from ._common import COLOURS, MARKERS, as_mapping, new_figure, save

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _window(values: np.ndarray, must: list[complex], equal: bool, pad: float = 0.08):
    """((x0, x1), (y0, y1)) around `values` and the points `must`; with `equal` (circles
    drawn, equal aspect), or when one side is degenerate (e.g. a purely imaginary spectrum),
    neither side is shorter than half the other."""
    pts = np.concatenate([values[np.isfinite(values)], np.asarray(must, complex)])
    re0, re1 = float(pts.real.min()), float(pts.real.max())
    im0, im1 = float(pts.imag.min()), float(pts.imag.max())
    pr = pad * max(re1 - re0, 1e-3 * max(im1 - im0, 1e-12), 1e-12)
    pi = pad * max(im1 - im0, 1e-3 * max(re1 - re0, 1e-12), 1e-12)
    (x0, x1), (y0, y1) = (re0 - pr, re1 + pr), (im0 - pi, im1 + pi)
    spans = (re1 - re0, im1 - im0)
    if equal or min(spans) <= 1e-6 * max(spans):
        w, h = x1 - x0, y1 - y0
        if h < w / 2:
            c = (y0 + y1) / 2
            y0, y1 = c - w / 4, c + w / 4
        elif w < h / 2:
            c = (x0 + x1) / 2
            x0, x1 = c - h / 4, c + h / 4
    return (x0, x1), (y0, y1)


_CIRCLE = np.exp(1j * np.linspace(0.0, 2.0 * np.pi, 721))


def _draw(ax: "Axes", series: dict[str, np.ndarray], unit_circle: bool, eta: float | None,
          x0: float, x1: float, legend: bool) -> None:
    """References, then every set of eigenvalues, into `ax` (the main axes or the inset)."""
    label = (lambda text: text) if legend else (lambda text: None)
    if unit_circle:
        disc = _CIRCLE
        ax.fill(disc.real, disc.imag, color="#009E73", alpha=0.08, zorder=0,
                label=label("|λ| < 1 (stable update)"))
        ax.plot(disc.real, disc.imag, color="k", ls="--", lw=1.0, zorder=1,
                label=label("unit circle |λ| = 1"))
    else:
        ax.axvspan(min(x0, 0.0) - abs(x1 - x0), 0.0, color="#009E73", alpha=0.07, zorder=0,
                   label=label("Re λ < 0 (stable flow)"))
    ax.axvline(0.0, color="k", lw=1.0, zorder=1, label=label("imaginary axis"))
    ax.axhline(0.0, color="0.7", lw=0.6, zorder=1)
    if eta is not None:
        c = (_CIRCLE - 1.0) / eta
        ax.plot(c.real, c.imag, color="#D55E00", ls=":", lw=1.3, zorder=1,
                label=label(f"|1 + ηλ| = 1, η = {eta:g}"))
    n = len(series)
    many = max(v.size for v in series.values()) > 30
    for i, (name, vals) in enumerate(series.items()):
        size = (4 if many else 8) + (2 if many else 3) * (n - 1 - i)
        if vals.size == 0:
            stat = ""
        elif unit_circle:
            stat = f", ρ = max |λ| = {np.abs(vals).max():.4g}"
        else:
            stat = f", max Re λ = {vals.real.max() + 0.0:.3g}"  # + 0.0: no "-0"
        ax.plot(vals.real, vals.imag, MARKERS[i % len(MARKERS)], ms=size, mfc="none",
                mec=COLOURS[i % len(COLOURS)], mew=1.3, ls="none", zorder=3 + i,
                label=label(f"{name} ({vals.size} eigenvalues{stat})"))


def _auto_zoom(values: np.ndarray, unit_circle: bool,
               extent: float) -> tuple[complex, float] | None:
    """`zoom="auto"`: (centre, half-width) of the square around the eigenvalues with Im λ ≥ 0
    and their nearest points on the reference (λ/|λ| on the unit circle, i Im λ on the imaginary
    axis), with a margin; None when that patch is empty (nothing to tell apart) or not under a
    tenth of the window `extent` (the main view shows it)."""
    scale = max(float(np.abs(values).max()), 1.0)
    upper = values[values.imag >= -1e-9 * scale]
    if unit_circle:
        upper = upper[np.abs(upper) > 0]
        nearest = upper / np.abs(upper)
    else:
        nearest = 1j * upper.imag
    pts = np.concatenate([upper, nearest])
    if pts.size == 0:
        return None
    width = max(float(np.ptp(pts.real)), float(np.ptp(pts.imag)))
    if not 1e-6 * extent < width < 0.1 * extent:
        return None
    centre = complex((pts.real.min() + pts.real.max()) / 2, (pts.imag.min() + pts.imag.max()) / 2)
    return centre, 0.75 * width


_CORNERS = ((0.66, 0.04), (0.66, 0.62), (0.04, 0.04))  # lower right, upper right, lower left
_INSET = 0.32


def _inset_corner(values: np.ndarray, window: tuple) -> tuple[float, float, float, float]:
    """Bounds (axes fraction) of a zoom inset: the corner (not the upper left, the legend's)
    that covers fewest eigenvalues of the main view `window` = (x0, x1, y0, y1, ...)."""
    x0, x1, y0, y1 = window[:4]
    u, v = (values.real - x0) / (x1 - x0), (values.imag - y0) / (y1 - y0)
    counts = [int(np.sum((u >= cu) & (u <= cu + _INSET) & (v >= cv) & (v <= cv + _INSET)))
              for cu, cv in _CORNERS]
    cu, cv = _CORNERS[int(np.argmin(counts))]
    return (cu, cv, _INSET, _INSET)


def eigenvalue_plane(
    eigs_by_label: Mapping[str, Any] | Any,
    *,
    unit_circle: bool = False,
    eta: float | None = None,
    zoom: float | tuple[complex, float] | str | None = None,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    title: str | None = None,
    ax: "Axes | None" = None,
    path: str | Path | None = None,
) -> "Figure":
    r"""Eigenvalues in the complex plane, several sets overlaid (e.g. of a trained neural GAN's
    Jacobian $J = ∂b/∂x$ with and without consensus, or before and after training) — the
    picture Mescheder, Nowozin & Geiger 2017 ("The numerics of GANs", §3–4) reason with: the
    gradient flow is locally stable when every Re λ < 0 (left of the imaginary axis, drawn,
    the half-plane shaded); eigenvalues with a large imaginary part and a small real part make
    simultaneous gradient steps fail, and consensus moves them left.

    **Arguments:**

    - `eigs_by_label`: label → array of complex eigenvalues (one array: one unlabelled set),
      e.g. `ganflow.analysis.top_eigenvalues(b, x, batch, k=...).eigenvalues`; non-finite
      values are dropped;
    - `unit_circle`: the sets are eigenvalues of update operators F′ (e.g. $I + ηJ$): the unit
      circle is drawn and the disc |λ| < 1, where a discrete scheme is locally stable, shaded;
      the legend gives each set's spectral radius instead of its largest real part;
    - `eta`: also draw the circle $|1 + ηλ| = 1$ (centre −1/η, radius 1/η): the eigenvalues λ
      of J inside it are those for which simultaneous GD with step η is locally stable
      ($F' = I + ηJ$);
    - `zoom`: a magnified view of the square of half-width `zoom` around 0 (around 1 with
      `unit_circle`), or `(centre, half_width)`, marked in the main view: for spectra spanning
      several scales. `"auto"`: the square around the eigenvalues with Im λ ≥ 0 (a real J's
      spectrum is symmetric about the real axis) and their nearest points on the reference
      (unit circle or imaginary axis), drawn only when that patch is under a tenth of the
      window — e.g. update operators $I + ηJ$ for small η, all near 1, where a modulus
      $|λ| = \sqrt{1 + η^2 f'(0)^2}$ just above 1 is then seen off the circle. The zoom is a
      second panel, or with `ax` an inset in the corner of `ax` holding fewest eigenvalues;
    - `xlim`, `ylim`: the window (default: every eigenvalue and the drawn references);
    - `ax`: draw into an existing axis; `path`: save the figure as PNG.

    Each set gets its own hollow marker (earlier sets larger, so that coinciding eigenvalues
    stay visible); with circles drawn, the aspect is equal.

    **Returns:** the `matplotlib.figure.Figure`.

    ```python
    eigs = {f"consensus γ = {g}": gf.analysis.top_eigenvalues(
                gf.stabilise(game, gf.Consensus(g)), x, batch, k=50, which="LM").eigenvalues
            for g in (0.0, 1.0)}
    eigenvalue_plane(eigs, eta=0.05, zoom=2.0, path="eigs.png")
    ```
    """
    series = {str(k): np.atleast_1d(np.asarray(v)).astype(complex).ravel()
              for k, v in as_mapping(eigs_by_label, "eigenvalues").items()}
    if not series:
        raise ValueError("eigenvalue_plane needs at least one set of eigenvalues")
    series = {k: v[np.isfinite(v)] for k, v in series.items()}
    allv = np.concatenate(list(series.values()))
    if allv.size == 0:
        raise ValueError("no finite eigenvalue to draw")
    if eta is not None:
        eta = float(check_positive("eta", eta))
    equal = unit_circle or eta is not None
    must = [0j] + ([1.05, -1.05, 1.05j, -1.05j] if unit_circle else [])
    if eta is not None:
        must += [-2.05 / eta, (-1 + 1.05j) / eta, (-1 - 1.05j) / eta]
    (x0, x1), (y0, y1) = _window(allv, must, equal)
    if xlim is not None:
        x0, x1 = xlim
    if ylim is not None:
        y0, y1 = ylim
    panels = [(x0, x1, y0, y1, title or ("eigenvalues of update operators F′" if unit_circle
                                         else "eigenvalues of J"))]
    if isinstance(zoom, str):
        if zoom != "auto":
            raise ValueError(f"zoom must be a half-width, (centre, half-width), 'auto' or None; "
                             f"got {zoom!r}")
        zoom = _auto_zoom(allv, unit_circle, max(x1 - x0, y1 - y0))
    if zoom is not None:
        centre, half = (zoom if isinstance(zoom, tuple) else
                        ((1.0 if unit_circle else 0.0), zoom))
        centre, half = complex(centre), float(check_positive("zoom", half))
        where = f"{centre.real:g}" + (f"{centre.imag:+g}i" if centre.imag else "")
        text = (f"zoom: ±{half:g} around {where}" if ax is None else f"zoom: ±{half:.2g}")
        panels.append((centre.real - half, centre.real + half, centre.imag - half,
                       centre.imag + half, text))
    if ax is None:
        ratio = (y1 - y0) / (x1 - x0) if equal else 0.8
        height = min(max(4.6 * ratio, 2.6), 5.5) + 0.9
        fig, axes = new_figure(1, len(panels), size=(5.4 * len(panels), height))
        axes = list(axes[0])
    else:
        fig, axes = ax.figure, [ax]
        if len(panels) > 1:
            axes.append(ax.inset_axes(_inset_corner(allv, panels[0])))
    inset = ax is not None
    for k, (a, (p0, p1, q0, q1, text)) in enumerate(zip(axes, panels)):
        _draw(a, series, unit_circle, eta, p0, p1, legend=k == 0)
        a.set_xlim(p0, p1)
        a.set_ylim(q0, q1)
        if equal or k > 0:
            a.set_aspect("equal", adjustable="box")
        a.grid(alpha=0.25)
        if k > 0:  # a zoom: few ticks, written in full (no "+0.9994" offset)
            from matplotlib.ticker import MaxNLocator

            a.ticklabel_format(useOffset=False)
            a.xaxis.set_major_locator(MaxNLocator(3 if inset else 4))
            a.yaxis.set_major_locator(MaxNLocator(3 if inset else 4))
        if k > 0 and inset:
            a.set_title(text, fontsize=6, pad=2)
            a.tick_params(labelsize=5, pad=1)
            continue
        a.set_xlabel("Re λ")
        a.set_ylabel("Im λ")
        a.set_title(text, fontsize=10, wrap=True)
    axes[0].legend(loc="upper left", fontsize=7, framealpha=0.85)
    if len(axes) > 1 and inset:
        axes[0].indicate_inset_zoom(axes[1], edgecolor="0.3")
    elif len(axes) > 1:
        axes[0].indicate_inset(bounds=(panels[1][0], panels[1][2], panels[1][1] - panels[1][0],
                                       panels[1][3] - panels[1][2]), edgecolor="0.3")
    return save(fig, path)
