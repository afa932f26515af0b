"""Discrete training schemes (simultaneous/alternating GDA, extragradient, OGDA, CGD, unrolled,
TTUR, EMA), the Mounjid–Guo adaptive learning rate, and runs over seeds with per-seed status."""

from ._adaptive import (
    ScaleByMounjidGuoState as ScaleByMounjidGuoState,
)
from ._adaptive import (
    mounjid_guo as mounjid_guo,
)
from ._adaptive import (
    mounjid_guo_u as mounjid_guo_u,
)
from ._adaptive import (
    scale_by_mounjid_guo as scale_by_mounjid_guo,
)
from ._run import (
    RunSolution as RunSolution,
)
from ._run import (
    RunStatus as RunStatus,
)
from ._run import (
    run as run,
)
from ._run import (
    run_grid as run_grid,
)
from ._run import (
    run_one as run_one,
)
from ._run import (
    spectral_radius as spectral_radius,
)
from ._run import (
    update_jacobian as update_jacobian,
)
from ._schemes import (
    EMA as EMA,
)
from ._schemes import (
    SCHEMES as SCHEMES,
)
from ._schemes import (
    TTUR as TTUR,
)
from ._schemes import (
    AbstractScheme as AbstractScheme,
)
from ._schemes import (
    AlternatingGDA as AlternatingGDA,
)
from ._schemes import (
    CompetitiveGD as CompetitiveGD,
)
from ._schemes import (
    Extragradient as Extragradient,
)
from ._schemes import (
    OptimisticGDA as OptimisticGDA,
)
from ._schemes import (
    SimultaneousGDA as SimultaneousGDA,
)
from ._schemes import (
    TrainState as TrainState,
)
from ._schemes import (
    Unrolled as Unrolled,
)
from ._schemes import (
    as_optimizer as as_optimizer,
)
from ._schemes import (
    make_scheme as make_scheme,
)
from ._schemes import (
    robbins_monro as robbins_monro,
)
