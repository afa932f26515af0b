r"""Eigenvalues in the complex plane: of J against the imaginary axis (the flow is locally stable
when every Re λ < 0) and of update operators F′ against the unit circle (a discrete scheme is
locally stable when every |λ| < 1, Mescheder 2017)."""

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._common import COLOURS, MARKERS, as_mapping, figure_and_axis, new_figure, save

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_REFERENCES = ("imaginary-axis", "unit-circle")


def _limits(values: np.ndarray, must: np.ndarray) -> tuple[float, float, float, float]:
    pts = np.concatenate([values, must]) if values.size else must
    pts = pts[np.isfinite(pts)]
    re0, re1 = float(pts.real.min()), float(pts.real.max())
    im0, im1 = float(pts.imag.min()), float(pts.imag.max())
    pad = 0.12 * max(re1 - re0, im1 - im0, 0.2)
    return re0 - pad, re1 + pad, im0 - pad, im1 + pad


def _draw_series(ax: "Axes", series: dict[str, np.ndarray]) -> None:
    n = len(series)
    for i, (name, vals) in enumerate(series.items()):
        size = 9 + 4 * (n - 1 - i)  # earlier series larger, so later ones show inside them
        ax.plot(vals.real, vals.imag, MARKERS[i % len(MARKERS)], ms=size, mfc="none",
                mec=COLOURS[i % len(COLOURS)], mew=1.6, ls="none", label=name, zorder=3 + i)


def _modulus_inset(ax: "Axes", series: dict[str, np.ndarray], allv: np.ndarray) -> None:
    """When every eigenvalue lies in a small patch (small η: all near 1), an inset shows |λ|
    against arg λ with the line |λ| = 1, so that a modulus slightly above or below 1 (e.g.
    sqrt(1 + η²f′(0)²) for simultaneous GD on the Dirac-GAN) stays visible."""
    finite = allv[np.isfinite(allv)]
    if finite.size == 0 or max(np.ptp(finite.real), np.ptp(finite.imag)) > 0.6:
        return
    inset = ax.inset_axes((0.71, 0.05, 0.26, 0.26))
    args = np.degrees(np.angle(finite))
    mods = np.abs(finite)
    a0, a1 = float(args.min()), float(args.max())
    pad_a = max(0.15 * (a1 - a0), 2.0)
    from matplotlib.ticker import MaxNLocator

    inset.axhline(1.0, color="k", lw=1.0)
    n = len(series)
    for i, (_, vals) in enumerate(series.items()):
        vals = vals[np.isfinite(vals)]
        inset.plot(np.degrees(np.angle(vals)), np.abs(vals), MARKERS[i % len(MARKERS)],
                   ms=4 + 2 * (n - 1 - i), mfc="none", mec=COLOURS[i % len(COLOURS)], mew=1.2)
    m0, m1 = min(float(mods.min()), 1.0), max(float(mods.max()), 1.0)
    pad_m = max(0.15 * (m1 - m0), 1e-3)
    inset.set_xlim(a0 - pad_a, a1 + pad_a)
    inset.set_ylim(m0 - pad_m, m1 + pad_m)
    inset.set_xlabel("arg λ (°)", fontsize=6, labelpad=1)
    inset.set_ylabel("|λ|", fontsize=6, labelpad=1)
    inset.tick_params(labelsize=5, pad=1)
    inset.ticklabel_format(axis="y", useOffset=False)
    inset.xaxis.set_major_locator(MaxNLocator(3))
    inset.yaxis.set_major_locator(MaxNLocator(3))
    inset.grid(alpha=0.25)


def eigenvalue_plot(
    eigenvalues: Mapping[str, Any] | Any,
    *,
    reference: str = "imaginary-axis",
    title: str | None = None,
    ax: "Axes | None" = None,
    path: str | Path | None = None,
) -> "Figure":
    r"""Eigenvalues in the complex plane with the stability boundary.

    - `eigenvalues`: label → array of complex eigenvalues (or one array);
    - `reference="imaginary-axis"`: for a Jacobian J of a flow $\dot x = b(x)$; the stable
      half-plane Re λ < 0 is shaded;
    - `reference="unit-circle"`: for an update operator $F' = I + ηJ$ (simultaneous) or the
      alternating one; the stable disc |λ| < 1 is shaded and the aspect is equal.

    Series are drawn with distinct hollow markers so that coinciding spectra stay visible.

    ```python
    J = gf.jacobian(game.vector_field(population=True), game.equilibrium())
    eigenvalue_plot({"J": np.linalg.eigvals(J)}, path="spectrum.png")
    ```
    """
    if reference not in _REFERENCES:
        raise ValueError(f"reference must be one of {_REFERENCES}, got {reference!r}")
    series = {k: np.atleast_1d(np.asarray(v)).astype(complex) for k, v in
              as_mapping(eigenvalues, "eigenvalues").items()}
    fig, ax = figure_and_axis(ax)
    allv = np.concatenate(list(series.values())) if series else np.zeros(0, complex)
    if reference == "unit-circle":
        t = np.linspace(0, 2 * np.pi, 400)
        circle = np.exp(1j * t)
        x0, x1, y0, y1 = _limits(allv, np.array([1.4, -1.4, 1.4j, -1.4j]))
        ax.fill(circle.real, circle.imag, color="#009E73", alpha=0.08, zorder=0,
                label="stable: |λ| < 1")
        ax.plot(circle.real, circle.imag, color="k", lw=1.0, zorder=1, label="unit circle |λ| = 1")
        ax.set_xlabel("Re λ")
        ax.set_ylabel("Im λ")
    else:
        x0, x1, y0, y1 = _limits(allv, np.array([0.1, -0.1, 0.1j, -0.1j]))
        ax.axvspan(min(x0, -1e-9), 0.0, color="#009E73", alpha=0.08, zorder=0,
                   label="stable: Re λ < 0")
        ax.axvline(0.0, color="k", lw=1.0, zorder=1, label="imaginary axis")
        ax.set_xlabel("Re λ")
        ax.set_ylabel("Im λ")
    ax.axhline(0.0, color="0.7", lw=0.6, zorder=1)
    _draw_series(ax, series)
    if reference == "unit-circle":
        # a square window, so that the circle is round with adjustable="box"
        half = max(x1 - x0, y1 - y0) / 2
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        x0, x1, y0, y1 = cx - half, cx + half, cy - half, cy + half
        ax.set_aspect("equal", adjustable="box")
        _modulus_inset(ax, series, allv)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.grid(alpha=0.25)
    if title:
        ax.set_title(title)
    ax.legend(loc="upper left", fontsize=7, framealpha=0.85)
    return save(fig, path)


def spectra_figure(
    jacobian_eigenvalues: Mapping[str, Any],
    update_eigenvalues: Mapping[str, Any],
    *,
    title: str | None = None,
    path: str | Path | None = None,
) -> "Figure":
    r"""Two panels: the eigenvalues of J against the imaginary axis (left) and those of update
    operators F′ against the unit circle (right); see `eigenvalue_plot`."""
    fig, axes = new_figure(1, 2, size=(10.0, 4.6))
    eigenvalue_plot(jacobian_eigenvalues, reference="imaginary-axis", ax=axes[0, 0],
                    title="Jacobian J at x* (flow ẋ = b0)")
    eigenvalue_plot(update_eigenvalues, reference="unit-circle", ax=axes[0, 1],
                    title="update operators F′ at x*")
    if title:
        fig.suptitle(title)
    return save(fig, path)
