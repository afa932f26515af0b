r"""The weak errors of several test functions with their fitted orders (Cao–Guo Theorems 1–2:
$e(η) ≤ C η^p$)."""

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._weak import weak_error_plot

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def weak_orders_plot(
    etas: Sequence[float],
    errors: Any,
    stderrs: Any,
    names: Sequence[str],
    *,
    orders: Any = None,
    ci_low: Any = None,
    ci_high: Any = None,
    fit_max_eta: float = np.inf,
    title: str | None = None,
    ax: "Axes | None" = None,
    path: str | Path | None = None,
) -> "Figure | None":
    r"""`weak_error_plot` of one series per test function: `errors`, `stderrs` of shape
    (len(etas), len(names)) (e.g. the `error`, `error_se` of
    `ganflow.analysis.weak_error_summary` for one variant and scheme), each series drawn at the
    η where its error is finite and > 0. Where `orders[i]` is finite, the series carries its
    fitted line: slope `orders[i]`, confidence interval [`ci_low[i]`, `ci_high[i]`], and the
    intercept that puts the line through the mean of $(\log η, \log e)$ over the drawn
    η ≤ `fit_max_eta`.

    **Returns:** the figure, or None (nothing drawn) when no error is finite and > 0.
    """
    etas = np.asarray(etas, dtype=float)
    errors = np.asarray(errors, dtype=float)
    stderrs = np.asarray(stderrs, dtype=float)
    if errors.shape != (etas.size, len(names)) or stderrs.shape != errors.shape:
        raise ValueError(f"errors and stderrs must have shape (len(etas), len(names)) = "
                         f"{(etas.size, len(names))}, got {errors.shape}, {stderrs.shape}")
    series = {}
    for i, name in enumerate(names):
        err = errors[:, i]
        ok = np.isfinite(err) & (err > 0)
        if ok.sum() < 1:
            continue
        d = {"etas": etas[ok], "errors": err[ok], "stderrs": stderrs[:, i][ok]}
        o = float(orders[i]) if orders is not None else float("nan")
        if np.isfinite(o):
            ok2 = (etas <= fit_max_eta) & ok
            icpt = np.mean(np.log(err[ok2])) - o * np.mean(np.log(etas[ok2]))
            d.update(slope=o, intercept=icpt, ci=[float(ci_low[i]), float(ci_high[i])])
        series[name] = d
    if not series:
        return None
    return weak_error_plot(series, title=title, ax=ax, path=path)
