r"""The weak-error log-log figure (Cao–Guo Theorems 1, 2: $e(η) ≤ C η^p$)."""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._common import COLOURS, MARKERS, as_mapping, figure_and_axis, save

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _field(result: Any, name: str, default: Any = None) -> Any:
    if isinstance(result, Mapping):
        return result.get(name, default)
    return getattr(result, name, default)


def weak_error_plot(
    results: Mapping[str, Any] | Any,
    *,
    reference_orders: Sequence[float] = (1.0, 2.0),
    title: str | None = None,
    ax: "Axes | None" = None,
    path: str | Path | None = None,
) -> "Figure":
    r"""Errors $e(η)$ against η on log-log axes, with error bars and the fitted line
    $\log e = \text{intercept} + p \log η$ labelled with its slope p and confidence interval.

    - `results`: label → a fitted order (`ganflow.analysis.WeakOrder`, or any object or dict
      with `etas`, `errors`, optional `stderrs`, `slope`, `intercept`, `ci`), or one of them;
    - `reference_orders`: thin grey guide lines of these slopes through the first series' point
      at the largest η (pass `()` for none).

    ```python
    res = gf.analysis.deterministic_weak_error(...)
    weak_error_plot({"simultaneous vs eq. 13": res}, path="weak.png")
    ```
    """
    series = as_mapping(results, "e(η)")
    fig, ax = figure_and_axis(ax, size=(5.8, 6.0))
    anchor = None
    for i, (name, r) in enumerate(series.items()):
        etas = np.asarray(_field(r, "etas"), dtype=float)
        errors = np.asarray(_field(r, "errors"), dtype=float)
        if etas.shape != errors.shape or etas.ndim != 1:
            raise ValueError(f"{name!r}: etas and errors must be 1-D of the same length, got "
                             f"{etas.shape} and {errors.shape}")
        stderrs = _field(r, "stderrs")
        stderrs = np.zeros_like(errors) if stderrs is None else np.asarray(stderrs, dtype=float)
        colour = COLOURS[i % len(COLOURS)]
        slope, intercept = _field(r, "slope"), _field(r, "intercept")
        label = name
        if slope is not None:
            label = f"{name}: slope {float(slope):.3f}"
            ci = _field(r, "ci")
            if ci is not None and np.all(np.isfinite(np.asarray(ci, dtype=float))):
                lo, hi = (float(c) for c in np.asarray(ci, dtype=float))
                label += f" [{lo:.3f}, {hi:.3f}]"
        yerr = np.minimum(stderrs, errors * 0.999) if np.any(stderrs > 0) else None
        ax.errorbar(etas, errors, yerr=yerr, fmt=MARKERS[i % len(MARKERS)], color=colour,
                    capsize=3, ms=6, mfc="none", mew=1.5, label=label, zorder=3)
        if slope is not None and intercept is not None:
            grid = np.geomspace(etas.min(), etas.max(), 50)
            ax.plot(grid, np.exp(float(intercept)) * grid ** float(slope), color=colour, lw=1.2,
                    zorder=2)
        if anchor is None and etas.size:
            j = int(np.argmax(etas))
            anchor = (etas, etas[j], errors[j])
    if anchor is not None:
        etas, e_max, err_at = anchor
        grid = np.geomspace(etas.min(), etas.max(), 50)
        dashes = ((0, (5, 3)), (0, (1, 2)), (0, (6, 2, 1, 2)))
        for i, p in enumerate(reference_orders):
            ax.plot(grid, err_at * 2.0 * (grid / e_max) ** p, ls=dashes[i % len(dashes)],
                    color="0.5", lw=1.0, zorder=1, label=f"reference slope {p:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    if anchor is not None:  # label the learning rates themselves, not powers of ten
        from matplotlib.ticker import NullFormatter

        ax.set_xticks(anchor[0], [f"{e:g}" for e in anchor[0]])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("learning rate η")
    ax.set_ylabel("weak error  max_k |E f(x_k) − E f(X(kη))|")
    ax.grid(which="both", alpha=0.25)
    if title:
        ax.set_title(title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=7, ncol=1,
              frameon=False)
    return save(fig, path)
