"""Analysis of GAN dynamics: spectra and stability, stationary points, Nagarajan–Kolter bounds."""

from ._spectra import Spectrum as Spectrum
from ._spectra import jacobian_operator as jacobian_operator
from ._spectra import jacobian_spectral_radius as jacobian_spectral_radius
from ._spectra import operator_top_eigenvalues as operator_top_eigenvalues
from ._spectra import sort_eigenvalues as sort_eigenvalues
from ._spectra import spectral_abscissa as spectral_abscissa
from ._spectra import top_eigenvalues as top_eigenvalues
from ._stability import StationaryClassification as StationaryClassification
from ._stability import UpdateStability as UpdateStability
from ._stability import alternating_update as alternating_update
from ._stability import alternating_update_jacobian as alternating_update_jacobian
from ._stability import classify_stationary_point as classify_stationary_point
from ._stability import eigenvalues as eigenvalues
from ._stability import is_hurwitz as is_hurwitz
from ._stability import is_local_nash as is_local_nash
from ._stability import player_hessian_eigenvalues as player_hessian_eigenvalues
from ._stability import simultaneous_update as simultaneous_update
from ._stability import simultaneous_update_jacobian as simultaneous_update_jacobian
from ._stability import spectral_radius as spectral_radius
from ._stability import update_stability as update_stability
from ._stationary import StationarySearch as StationarySearch
from ._stationary import find_stationary_point as find_stationary_point
