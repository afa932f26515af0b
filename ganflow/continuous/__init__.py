"""Continuous time: diffrax ODEs, the Cao–Guo SDEs (eqs. 9, 10, 13), ensembles over seeds
(sharded over devices), and the matching discrete stochastic schemes (Cao–Guo eqs. 5–7)."""

from ._diffusion import (
    AbstractDiffusion as AbstractDiffusion,
)
from ._diffusion import (
    ConstantDiffusion as ConstantDiffusion,
)
from ._diffusion import (
    DiagonalDiffusion as DiagonalDiffusion,
)
from ._diffusion import (
    GradientNoise as GradientNoise,
)
from ._diffusion import (
    MatrixFreeDiffusion as MatrixFreeDiffusion,
)
from ._discrete import sga_ensemble as sga_ensemble
from ._ode import gradient_flow as gradient_flow
from ._ode import solve_ode as solve_ode
from ._random import (
    CounterBrownianPath as CounterBrownianPath,
)
from ._random import (
    counter_normals as counter_normals,
)
from ._random import (
    threefry2x32 as threefry2x32,
)
from ._sde import (
    SDE as SDE,
)
from ._sde import (
    cao_guo_sde as cao_guo_sde,
)
from ._sde import (
    sde_ensemble as sde_ensemble,
)
from ._sde import (
    solve_sde as solve_sde,
)
from ._sharding import seed_mesh as seed_mesh
from ._sharding import shard_seeds as shard_seeds
from ._solution import (
    STATUS_NAMES as STATUS_NAMES,
)
from ._solution import (
    ODESolution as ODESolution,
)
from ._solution import (
    SDESolution as SDESolution,
)
