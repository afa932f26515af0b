"""Figures (matplotlib, imported lazily: importing this package does not import matplotlib).

Every function returns a `matplotlib.figure.Figure` (drawn without pyplot) and, given `path=`,
saves it as PNG. The helpers that compute what a figure shows (`nk_field_grid`,
`parameter_slice_grid`, `slice_coordinates`, `gridded_field`, `seed_statistics`) need no
matplotlib. Plotting never trains: the trajectories a figure shows are computed by the caller
(e.g. `ganflow.analysis.dirac_lineup_trajectories` for `dirac_lineup`).
"""

from ._atlas import atlas_heatmap as atlas_heatmap
from ._bands import (
    ensemble_band as ensemble_band,
    fdr_traces as fdr_traces,
    seed_statistics as seed_statistics,
)
from ._digits import (
    mode_coverage_curves as mode_coverage_curves,
    samples_over_training as samples_over_training,
    tile_images as tile_images,
)
from ._dirac import dirac_lineup as dirac_lineup
from ._eigenplane import eigenvalue_plane as eigenvalue_plane
from ._game_spectra import (
    distance_curves as distance_curves,
    eigenvalue_grid as eigenvalue_grid,
    gridded_field as gridded_field,
    phase_plane_row as phase_plane_row,
)
from ._hyper import hyper_search_map as hyper_search_map
from ._meanfield import (
    PHASE_COLOURS as PHASE_COLOURS,
    mean_field_concentration as mean_field_concentration,
    mean_field_phase_grid as mean_field_phase_grid,
    mean_field_phases as mean_field_phases,
    mean_field_trajectories as mean_field_trajectories,
)
from ._phase import phase_plane as phase_plane
from ._samples import mog_sample_grid as mog_sample_grid
from ._sde import ensemble_plot as ensemble_plot
from ._spectra import spectra_figure as spectra_figure
from ._spectra_training import spectra_over_training as spectra_over_training
from ._streamlines import (
    nk_field_grid as nk_field_grid,
    nk_streamlines as nk_streamlines,
    parameter_slice_grid as parameter_slice_grid,
    parameter_slice_streamlines as parameter_slice_streamlines,
    slice_coordinates as slice_coordinates,
)
from ._training_curves import (
    batch_size_accuracy as batch_size_accuracy,
    layer_descent_figure as layer_descent_figure,
    seed_band as seed_band,
    seed_band_panels as seed_band_panels,
)
from ._weak import weak_error_plot as weak_error_plot
from ._weak_orders import weak_orders_plot as weak_orders_plot
