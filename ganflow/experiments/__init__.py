"""Experiments: the registry behind the `ganflow` command, run folders (config.toml,
results.zarr, report.md, figures), and the convergence atlas.

```python
from ganflow.experiments import get_experiment, run_experiment, make_config
exp = get_experiment("atlas")
run_experiment(exp, exp.preset("quick"), "runs/atlas")
```
"""

from ._atlas import Atlas as Atlas, convergence_atlas as convergence_atlas
from ._cli import main as main
from ._registry import (
    REGISTRY as REGISTRY,
    ConfigError as ConfigError,
    Experiment as Experiment,
    ReportPart as ReportPart,
    RunOptions as RunOptions,
    config_to_toml as config_to_toml,
    experiments as experiments,
    get_experiment as get_experiment,
    make_config as make_config,
    open_results as open_results,
    register as register,
    write_summary as write_summary,
)
from ._report import markdown_table as markdown_table, save_columns as save_columns
from ._runner import (
    read_run as read_run,
    resume_run as resume_run,
    run_experiment as run_experiment,
    write_report as write_report,
)
