"""ganflow's built-in experiments, each a study registered with `ganflow.studies` (the
`ganflow` command lists them); `Atlas` and `convergence_atlas` are `ganflow.analysis`'s.

```python
from ganflow.studies import get_experiment, run_experiment
exp = get_experiment("atlas")
run_experiment(exp, exp.preset("quick"), "runs/atlas")
```
"""

from ..analysis import Atlas as Atlas, convergence_atlas as convergence_atlas
from . import _catalogue  # noqa: F401  registers every built-in experiment
