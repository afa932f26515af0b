r"""Stabilisers of GAN training, composable into one vector field.

## Interface

```python
class AbstractStabiliser(eqx.Module):          # every stabiliser is a small final subclass
    def objective(self, objective, game) -> Objective   # loss-level change; default: unchanged
    def field(self, b, objective) -> Callable           # direction-level change; default: b
    def project(self, x) -> x                           # after every step; default: identity
    needs_key: bool                                     # True: call b(x, batch, key)

stabilise(target, *stabilisers, population=False) -> Stabilised
    # target: an AbstractGame (game.objective(population)), an Objective, or a Φ callable.
    # Objective-level changes in order → b0 of the result → field-level changes in order.

class Stabilised(ganflow.dynamics.AbstractField):   # b(x, *args) -> (b_theta, b_omega)
    objective: Objective        # the modified objectives (HVPs, unrolling, CGD)
    field: Callable             # the modified field
    project(x) -> x             # all projections in order
    needs_key: bool             # minibatch fields of WGANGP / InstanceNoise("sampled")
```

`Stabilised` implements the field protocol of `ganflow.dynamics.AbstractField`
(docs/conventions.md §The field protocol): training schemes read its `needs_key` and `project`
through `field_needs_key` / `field_project`.

**Arguments of the field.** A population field is called as `b(x)`; a minibatch field as
`b(x, batch)` with the game's batch `(data, latent)`, or as `b(x, batch, key)` when
`needs_key` is True (WGAN-GP's interpolation weights and sampled instance noise are drawn from
`key`; the game's own objective never sees it).

| level | stabilisers |
|---|---|
| objective | `R1`, `R2`, `WGANGP`, `InstanceNoise`, `Roth`, `NagarajanKolter`, `SpectralNorm` |
| field | `Consensus`, `SGA`, `LSS` (and `LSSTwoTimescale`, an augmented field on (x, φ)) |
| project | `WeightClipping` |

Signs (docs/conventions.md §The vector field b0 and its Jacobian J, §Stabilisers): the field is
the direction followed, $b_0 = (-g_θ, g_ω)$, $J = ∂b/∂x$.
"""

from ._base import (
    AbstractStabiliser as AbstractStabiliser,
    Stabilised as Stabilised,
    stabilise as stabilise,
)
from ._constraints import (
    SpectralNorm as SpectralNorm,
    WeightClipping as WeightClipping,
    spectral_norm as spectral_norm,
)
from ._fields import (
    LSS as LSS,
    SGA as SGA,
    Consensus as Consensus,
    LSSTwoTimescale as LSSTwoTimescale,
)
from ._noise import InstanceNoise as InstanceNoise
from ._penalties import (
    R1 as R1,
    R2 as R2,
    WGANGP as WGANGP,
    NagarajanKolter as NagarajanKolter,
    nk_lambda_bound as nk_lambda_bound,
    safe_norm as safe_norm,
)
from ._roth import Roth as Roth
