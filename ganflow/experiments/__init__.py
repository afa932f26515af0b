"""ganflow's built-in experiments, each a study registered with `ganflow.studies` (the
`ganflow` command lists them); `Atlas` and `convergence_atlas` are `ganflow.analysis`'s.
`CATALOGUE` describes them without importing them (what `ganflow list` prints);
`register_all()` imports and registers them (`ganflow.studies.get_experiment` does it for you).

```python
from ganflow.studies import get_experiment, run_experiment
exp = get_experiment("atlas")
run_experiment(exp, exp.preset("quick"), "runs/atlas")
```
"""

import typing

from .._lazy import lazy_exports as _lazy_exports

if typing.TYPE_CHECKING:  # imported on first use: `ganflow list` needs no JAX
    from ..analysis import Atlas as Atlas, convergence_atlas as convergence_atlas
    from ._catalogue import (
        CATALOGUE as CATALOGUE,
        CatalogueEntry as CatalogueEntry,
        register_all as register_all,
    )

__getattr__, __dir__ = _lazy_exports(__name__, __file__)
