"""Discrete training schemes (simultaneous/alternating GDA, extragradient, OGDA, CGD, unrolled,
TTUR, EMA, WGAN-QC), the Mounjid–Guo adaptive learning rate, and runs over seeds with per-seed
status."""

from ._adaptive import (
    ScaleByMounjidGuoState as ScaleByMounjidGuoState,
    mounjid_guo as mounjid_guo,
    mounjid_guo_u as mounjid_guo_u,
    scale_by_mounjid_guo as scale_by_mounjid_guo,
)
from ._iterate import IterateSolution as IterateSolution, iterate as iterate
from ._layers import (
    layer_groups as layer_groups,
    layer_loss as layer_loss,
    layer_names as layer_names,
    parse_layer_name as parse_layer_name,
)
from ._mog import MoGTrainProblem as MoGTrainProblem
from ._optimizers import (
    REFERENCE_OPTIMIZERS as REFERENCE_OPTIMIZERS,
    Optimizer as Optimizer,
    as_optimizer as as_optimizer,
    check_descending as check_descending,
    optimizer as optimizer,
    reference_optimizer as reference_optimizer,
)
from ._run import (
    RunSolution as RunSolution,
    TrainProblem as TrainProblem,
    run as run,
    run_grid as run_grid,
    update_jacobian as update_jacobian,
)
from ._schemes import (
    EMA as EMA,
    SCHEMES as SCHEMES,
    TTUR as TTUR,
    AbstractScheme as AbstractScheme,
    AlternatingGDA as AlternatingGDA,
    CompetitiveGD as CompetitiveGD,
    Extragradient as Extragradient,
    OptimisticGDA as OptimisticGDA,
    RobbinsMonro as RobbinsMonro,
    SimultaneousGDA as SimultaneousGDA,
    TrainState as TrainState,
    Unrolled as Unrolled,
    make_scheme as make_scheme,
    robbins_monro as robbins_monro,
)
from ._sgda import MinibatchDraw as MinibatchDraw, sgda_ensemble as sgda_ensemble
from ._wganqc import (
    WGANQC as WGANQC,
    OTTargets as OTTargets,
    WGANQCField as WGANQCField,
    quadratic_ot_targets as quadratic_ot_targets,
    wganqc_dirac_update_jacobian as wganqc_dirac_update_jacobian,
)
