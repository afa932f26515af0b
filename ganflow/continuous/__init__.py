"""Continuous time: diffrax ODEs, the Cao–Guo SDEs (eqs. 9, 10, 13) and their ensembles over
seeds (sharded over devices). The discrete stochastic schemes they approximate (Cao–Guo eqs. 5–7)
are `ganflow.training.sgda_ensemble`."""

from ._diffusion import (
    AbstractDiffusion as AbstractDiffusion,
    ConstantDiffusion as ConstantDiffusion,
    DiagonalDiffusion as DiagonalDiffusion,
    GradientNoise as GradientNoise,
    MatrixFreeDiffusion as MatrixFreeDiffusion,
)
from ._heun import HeunDrift as HeunDrift
from ._ode import gradient_flow as gradient_flow, solve_ode as solve_ode
from ._random import (
    STREAM_BROWNIAN as STREAM_BROWNIAN,
    CounterBrownianPath as CounterBrownianPath,
    counter_normals as counter_normals,
    normal_from_unit as normal_from_unit,
    stream_key_data as stream_key_data,
    threefry2x32 as threefry2x32,
    tree_normals as tree_normals,
)
from ._sde import (
    SDE as SDE,
    batch_mean_objective as batch_mean_objective,
    cao_guo_sde as cao_guo_sde,
    sde_ensemble as sde_ensemble,
    solve_sde as solve_sde,
)
from ._solution import (
    ODESolution as ODESolution,
    SDESolution as SDESolution,
)
