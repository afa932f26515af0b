r"""Two panels of eigenvalues in the complex plane: of J against the imaginary axis (the flow is
locally stable when every Re λ < 0) and of update operators F′ against the unit circle (a
discrete scheme is locally stable when every |λ| < 1, Mescheder 2017). Each panel is drawn by
`eigenvalue_plane`."""

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._common import new_figure, save
from ._eigenplane import eigenvalue_plane

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def spectra_figure(
    jacobian_eigenvalues: Mapping[str, Any],
    update_eigenvalues: Mapping[str, Any],
    *,
    title: str | None = None,
    path: str | Path | None = None,
) -> "Figure":
    r"""Two panels: the eigenvalues of J against the imaginary axis (left) and those of update
    operators F′ against the unit circle (right), by `eigenvalue_plane`; when the update
    eigenvalues all lie close together (small steps: all near 1), an inset zooms onto them
    (`zoom="auto"`), so that a modulus just above or below 1 stays visible.

    ```python
    J = np.asarray(gf.analysis.eigenvalues(b, x_star))
    spectra_figure({"J": J}, {"I + hJ": 1 + 0.1 * J}, path="spectra.png")
    ```
    """
    fig, axes = new_figure(1, 2, size=(10.0, 5.6))
    eigenvalue_plane(jacobian_eigenvalues, ax=axes[0, 0], title="Jacobian J at x* (flow ẋ = b0)")
    eigenvalue_plane(update_eigenvalues, unit_circle=True, zoom="auto", ax=axes[0, 1],
                     title="update operators F′ at x*")
    for ax in axes[0]:  # the legends below the panels: eigenvalues near the top stay in view
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=7, markerscale=0.7)
    if title:
        fig.suptitle(title)
    return save(fig, path)
