"""Analysis of GAN dynamics: spectra and stability, stationary points, Nagarajan–Kolter bounds,
the neural-net distance and generalisation gap (Arora et al. 2017), convergence verdicts (one
vocabulary: converges, slow, orbits, diverges) and the convergence atlas."""

from ._arnoldi import (
    ArnoldiEigs as ArnoldiEigs,
    arnoldi_eigs as arnoldi_eigs,
    lanczos_eigs as lanczos_eigs,
    restart_rng as restart_rng,
    start_vector as start_vector,
)
from ._atlas import (
    Atlas as Atlas,
    atlas_catalogue as atlas_catalogue,
    convergence_atlas as convergence_atlas,
)
from ._coverage import nk_coverage_headline as nk_coverage_headline
from ._dirac_lineup import (
    dirac_lineup_fields as dirac_lineup_fields,
    dirac_lineup_schemes as dirac_lineup_schemes,
    dirac_lineup_trajectories as dirac_lineup_trajectories,
)
from ._distances import wasserstein1 as wasserstein1
from ._fdr_training import (
    FDR_METHODS as FDR_METHODS,
    FDR_METRICS as FDR_METRICS,
    FDRMember as FDRMember,
    fdr_summary as fdr_summary,
)
from ._gan_training import (
    LSGD_OPTIMIZERS as LSGD_OPTIMIZERS,
    GANTrainingMember as GANTrainingMember,
    first_step as first_step,
    gan_training_summary as gan_training_summary,
    lsgd_optimizer as lsgd_optimizer,
)
from ._hypersearch import (
    HyperSearch as HyperSearch,
    dirac_stabilised_optimum as dirac_stabilised_optimum,
    dirac_stabilised_rate as dirac_stabilised_rate,
    gradient_search as gradient_search,
    grid_points as grid_points,
    grid_search as grid_search,
)
from ._lanczos import (
    LanczosExtremes as LanczosExtremes,
    has_positive_curvature as has_positive_curvature,
    lanczos_extremes as lanczos_extremes,
)
from ._layer_descent import (
    LayerDescentMember as LayerDescentMember,
    layer_descent_agreement as layer_descent_agreement,
    layer_descent_summary as layer_descent_summary,
)
from ._longrun import (
    Dissipativity as Dissipativity,
    Ellipticity as Ellipticity,
    FDREstimate as FDREstimate,
    FDRSchedule as FDRSchedule,
    dissipativity as dissipativity,
    ellipticity as ellipticity,
    fdr1 as fdr1,
    fdr1_terms as fdr1_terms,
    fdr2 as fdr2,
    fdr2_schedule as fdr2_schedule,
    fdr2_terms as fdr2_terms,
    fdr_estimate as fdr_estimate,
    inverse_temperature as inverse_temperature,
    sde_generator as sde_generator,
)
from ._nk import (
    NKBounds as NKBounds,
    NKMatrices as NKMatrices,
    nk_matrices as nk_matrices,
    nk_rate_bounds as nk_rate_bounds,
    nk_regularised_rate_bounds as nk_regularised_rate_bounds,
)
from ._nndist import (
    GeneralisationGap as GeneralisationGap,
    NeuralNetDistance as NeuralNetDistance,
    generalisation_gap as generalisation_gap,
    neural_net_distance as neural_net_distance,
)
from ._nndist_data import (
    DataDistances as DataDistances,
    nn_distance_to_data as nn_distance_to_data,
)
from ._point_spectra import (
    PointSpectra as PointSpectra,
    field_norm as field_norm,
    pad_eigenvalues as pad_eigenvalues,
    point_spectra as point_spectra,
    state_unravel as state_unravel,
)
from ._small_games import (
    closed_form_spectra as closed_form_spectra,
    equilibrium_linearisation as equilibrium_linearisation,
    field_on_grid as field_on_grid,
    flow_and_gd_paths as flow_and_gd_paths,
)
from ._spectra import (
    Spectrum as Spectrum,
    jacobian_eigs as jacobian_eigs,
    jacobian_operator as jacobian_operator,
    jacobian_spectral_radius as jacobian_spectral_radius,
    operator_top_eigenvalues as operator_top_eigenvalues,
    sort_eigenvalues as sort_eigenvalues,
    spectral_abscissa as spectral_abscissa,
    top_eigenvalues as top_eigenvalues,
)
from ._spectra_grad import (
    extreme_eigenvalue as extreme_eigenvalue,
    jacobian_abscissa as jacobian_abscissa,
    map_spectral_radius as map_spectral_radius,
)
from ._stability import (
    StationaryClassification as StationaryClassification,
    UpdateStability as UpdateStability,
    alternating_update as alternating_update,
    alternating_update_jacobian as alternating_update_jacobian,
    classify_stationary_point as classify_stationary_point,
    eigenvalues as eigenvalues,
    is_hurwitz as is_hurwitz,
    is_local_nash as is_local_nash,
    player_hessian_eigenvalues as player_hessian_eigenvalues,
    simultaneous_update as simultaneous_update,
    simultaneous_update_jacobian as simultaneous_update_jacobian,
    spectral_radius as spectral_radius,
    update_stability as update_stability,
)
from ._stationary import (
    StationarySearch as StationarySearch,
    find_stationary_point as find_stationary_point,
)
from ._summary import (
    format_pm as format_pm,
    mean_se as mean_se,
    summarise as summarise,
)
from ._summary_final import final_step_summary as final_step_summary
from ._verdicts import (
    INTERVAL_VERDICTS as INTERVAL_VERDICTS,
    LOCAL_VERDICTS as LOCAL_VERDICTS,
    THEORY_VERDICTS as THEORY_VERDICTS,
    VERDICTS as VERDICTS,
    DivergenceCount as DivergenceCount,
    LocalVerdict as LocalVerdict,
    count_diverged as count_diverged,
    defective_on_unit_circle as defective_on_unit_circle,
    divergence_text as divergence_text,
    ensemble_verdicts as ensemble_verdicts,
    envelope_growth_rate as envelope_growth_rate,
    fit_log_rate as fit_log_rate,
    interval_verdict as interval_verdict,
    local_growth_rate as local_growth_rate,
    local_verdict as local_verdict,
    mask_diverged as mask_diverged,
    mostly_diverged as mostly_diverged,
    rate_verdict as rate_verdict,
    rho_precision as rho_precision,
    series_verdict as series_verdict,
    steps_to_tol as steps_to_tol,
    theory_verdicts as theory_verdicts,
    verdicts_agree as verdicts_agree,
)
from ._weak import (
    WeakOrder as WeakOrder,
    deterministic_weak_error as deterministic_weak_error,
    fit_order as fit_order,
    student_t_quantile as student_t_quantile,
    weak_error as weak_error,
)
from ._weak_neural import (
    WEAK_PROCESSES as WEAK_PROCESSES,
    WEAK_TEST_FUNCTIONS as WEAK_TEST_FUNCTIONS,
    NeuralSetting as NeuralSetting,
    WeakErrorMember as WeakErrorMember,
    neural_setting as neural_setting,
    weak_adjoints as weak_adjoints,
)
from ._weak_summary import (
    CAO_GUO_WEAK_ORDERS as CAO_GUO_WEAK_ORDERS,
    bootstrap_error_slopes as bootstrap_error_slopes,
    local_slope_medians as local_slope_medians,
    weak_error_summary as weak_error_summary,
)
