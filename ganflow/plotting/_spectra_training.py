r"""The top eigenvalues of J and of the update operator F′ = I + ηJ at the save points of training,
one column per run (Mescheder, Nowozin & Geiger 2017, "The numerics of GANs", §3–4)."""

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._common import new_figure, save

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def spectra_over_training(
    jacobian_lm: Any,
    jacobian_lr: Any,
    update: Any,
    steps: Sequence[int],
    labels: Sequence[str],
    *,
    eta: float,
    title: str | None = None,
    path: str | Path | None = None,
) -> "Figure":
    r"""The eigenvalues of trained GANs' Jacobians over training, one column per run: on top the
    top eigenvalues of J = ∂b/∂x (o: largest modulus, □: largest real part) against the
    imaginary axis, below those of simultaneous GD's update operator $F' = I + ηJ$ near 1
    against the unit circle (dashed) — the picture of Mescheder et al. 2017 §3–4 (consensus
    moves the eigenvalues of J to the left, away from the imaginary axis). A save point's
    colour runs along viridis from the first to the last step.

    **Arguments:**

    - `jacobian_lm`, `jacobian_lr`, `update`: complex arrays (runs, steps, ...) — the trailing
      axes (e.g. seed × k, from `ganflow.analysis.point_spectra` at every save point) are
      flattened; non-finite values are not drawn;
    - `steps`: the training step of each save point (legend); `labels`: one per run, in the
      panel titles ("J of {label}");
    - `eta`: the step of F′ (its panel title); `title`: the figure title; `path`: save as PNG.

    **Returns:** the `matplotlib.figure.Figure`.
    """
    import matplotlib

    lm, lr, upd = (np.asarray(a, dtype=complex) for a in (jacobian_lm, jacobian_lr, update))
    labels, steps = [str(s) for s in labels], [int(s) for s in steps]
    for name, a in (("jacobian_lm", lm), ("jacobian_lr", lr), ("update", upd)):
        if a.ndim < 2 or a.shape[:2] != (len(labels), len(steps)):
            raise ValueError(f"{name} must have shape (runs, steps, ...) = ({len(labels)}, "
                             f"{len(steps)}, ...), got {a.shape}")
    n = len(labels)
    fig, axes = new_figure(2, n, size=(4.6 * n, 9.4))
    cmap = matplotlib.colormaps["viridis"]
    for i, label in enumerate(labels):
        for j in range(len(steps)):
            c = cmap(j / max(len(steps) - 1, 1))
            for z, mk in ((lm[i, j].ravel(), "o"), (lr[i, j].ravel(), "s")):
                axes[0, i].plot(z.real, z.imag, mk, ms=5, mfc="none", mec=c)
            u = upd[i, j].ravel()
            axes[1, i].plot(u.real, u.imag, "o", ms=5, mfc="none", mec=c)
        ax = axes[0, i]
        ax.axvline(0.0, color="k", lw=0.8)
        ax.axhline(0.0, color="0.7", lw=0.5)
        ax.set_title(f"J of {label}\n(black line: imaginary axis, Re λ = 0)", fontsize=10)
        ax.set_xlabel("Re λ")
        ax.set_ylabel("Im λ")
        ax = axes[1, i]
        t = np.linspace(0, 2 * np.pi, 400)
        ax.plot(np.cos(t), np.sin(t), "k--", lw=0.8)
        u_all = upd[i].ravel()
        u_all = u_all[np.isfinite(u_all)]
        if u_all.size:
            r = max(float(np.max(np.abs(u_all - 1.0))), 1e-6) * 1.3
            ax.set_xlim(1 - r, 1 + r)
            ax.set_ylim(-r, r)
        ax.set_aspect("equal", adjustable="box")  # the unit circle drawn round
        ax.set_title(f"F′ = I + ηJ (η = {eta:g}) near 1\n(dashed: the unit circle |μ| = 1)",
                     fontsize=10)
        ax.set_xlabel("Re μ")
        ax.set_ylabel("Im μ")
    # one legend for every panel, outside them: it hides no data
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], ls="none", marker="o", ms=6, mfc="none", mec="0.3",
                      label="largest modulus"),
               Line2D([], [], ls="none", marker="s", ms=6, mfc="none", mec="0.3",
                      label="largest real part (J only)")]
    handles += [Line2D([], [], ls="none", marker="o", ms=6, mfc="none",
                       mec=cmap(j / max(len(steps) - 1, 1)), label=f"step {s}")
                for j, s in enumerate(steps)]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4),
               fontsize=9, frameon=False)
    fig.suptitle(title or "Top eigenvalues of J and of F′ over training (colour: save point)",
                 fontsize=11)
    return save(fig, path)
