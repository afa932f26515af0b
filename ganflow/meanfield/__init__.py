r"""The solvable high-dimensional GAN of Wang, Hu & Lu (NeurIPS 2019; survey §5.3.1): the
microscopic online-SGD model (`MeanFieldGAN`, an ensemble member; `MeanFieldTime`, the same
with one engine step per unit of time t = k/n), its n → ∞ ODE for the macroscopic state
M = XᵀX (`mean_field_rhs`, `solve_mean_field`), the O(1/√n) concentration of M_k around
M(k/n) (`concentration_error`, `concentration_summary`), and the phases of training (success,
oscillation, mode collapse, failure; `classify_phase`, `phase_diagram`, `phase_verdicts`,
`linear_theory_phase`). The derivation is in `docs/mean_field.md`."""

from ._analysis import (
    PHASES as PHASES,
    Concentration as Concentration,
    PhaseDiagram as PhaseDiagram,
    classify_phase as classify_phase,
    concentration_error as concentration_error,
    feature_overlaps as feature_overlaps,
    phase_diagram as phase_diagram,
)
from ._member import MeanFieldTime as MeanFieldTime, member_memory as member_memory
from ._model import (
    LATENT_LAWS as LATENT_LAWS,
    PARAM_NAMES as PARAM_NAMES,
    MeanFieldGAN as MeanFieldGAN,
    MicroState as MicroState,
    macro_blocks as macro_blocks,
    macro_state as macro_state,
    simulate as simulate,
)
from ._ode import mean_field_rhs as mean_field_rhs, solve_mean_field as solve_mean_field
from ._verdicts import (
    boundary_disagreements as boundary_disagreements,
    concentration_summary as concentration_summary,
    linear_theory_phase as linear_theory_phase,
    phase_names as phase_names,
    phase_order as phase_order,
    phase_tables as phase_tables,
    phase_verdicts as phase_verdicts,
    representative_cells as representative_cells,
)
