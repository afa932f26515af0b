"""Studies: the framework behind the `ganflow` command, for ganflow's built-in experiments and
for your own.

A study is a typed config (a frozen dataclass with documented defaults), presets, a `run`
that computes labelled results through the ensemble engine, and a `report` rewritten from the
saved results. Register it with `register(Experiment(...))`; `ganflow run NAME` (or
`ganflow run path/to/study.py`) then gives it TOML and `--set` checking, presets, resume, a
`results.zarr` store, a progress bar and a report.

```python
from ganflow.studies import get_experiment, run_experiment
exp = get_experiment("atlas")
run_experiment(exp, exp.preset("quick"), "runs/atlas")
```
"""

import typing

from .._lazy import lazy_exports as _lazy_exports

if typing.TYPE_CHECKING:  # imported on first use: the command's list and --help need no JAX
    from ._attrs import set_result_attrs as set_result_attrs
    from ._cli import batch_main as batch_main, build_parser as build_parser, main as main
    from ._registry import (
        REGISTRY as REGISTRY,
        RUN_FIELDS as RUN_FIELDS,
        ConfigError as ConfigError,
        Experiment as Experiment,
        ReportPart as ReportPart,
        RunOptions as RunOptions,
        StudyFailed as StudyFailed,
        check_folder as check_folder,
        check_run_fields as check_run_fields,
        config_to_toml as config_to_toml,
        experiments as experiments,
        get_experiment as get_experiment,
        load_study as load_study,
        load_toml as load_toml,
        make_config as make_config,
        open_results as open_results,
        parse_set as parse_set,
        register as register,
        write_summary as write_summary,
    )
    from ._report import markdown_table as markdown_table, save_columns as save_columns
    from ._runner import (
        checkpoint_interval as checkpoint_interval,
        read_run as read_run,
        resume_run as resume_run,
        run_experiment as run_experiment,
        show_config as show_config,
        write_report as write_report,
    )

__getattr__, __dir__ = _lazy_exports(__name__, __file__)
