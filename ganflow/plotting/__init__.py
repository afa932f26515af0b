"""Figures (matplotlib, imported lazily: importing this package does not import matplotlib).

Every function returns a `matplotlib.figure.Figure` (drawn without pyplot) and, given `path=`,
saves it as PNG.
"""

from ._atlas import atlas_heatmap as atlas_heatmap
from ._phase import phase_plane as phase_plane
from ._sde import ensemble_plot as ensemble_plot
from ._spectra import eigenvalue_plot as eigenvalue_plot, spectra_figure as spectra_figure
from ._weak import weak_error_plot as weak_error_plot
