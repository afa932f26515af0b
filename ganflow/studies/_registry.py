r"""The experiment registry: every experiment of the `ganflow` command is an `Experiment`.

An experiment is

- a **config**: a frozen dataclass whose fields are scalars, strings, booleans or tuples of
  them, with documented defaults (its docstring says what the experiment reproduces — paper,
  figure or table — and what it writes);
- **presets**: named overrides of the defaults; `quick` (≤ 2 minutes on 2 CPU cores) is
  required;
- `run(config, out, options)`: computes and writes the labelled results under
  `out/results.zarr` (through the ensemble engine, `ganflow.engine.run_ensemble(...,
  folder=RunFolder(out, group=..., resume=options.resume))`, which checkpoints and resumes;
  summaries computed afterwards with `write_summary`);
- `report(config, results, out)`: rewrites the Markdown report body and the figures from the
  saved results only (never recomputes the runs). `results` maps group names to
  `xarray.Dataset`s (see `open_results`).

A run folder holds `config.toml` (the experiment's name and every field), `results.zarr`,
`checkpoints/`, `report.md` and the figures.
"""

import dataclasses
import difflib
import math
import shutil
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A configuration problem, reported to the user as one line."""


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How to run (not part of a config's identity): resume an interrupted run, overwrite a
    finished one, show a progress bar (None: on a terminal)."""

    resume: bool = False
    overwrite: bool = False
    progress: bool | None = None


@dataclasses.dataclass
class ReportPart:
    """What `report` returns: the Markdown body (no top heading) and the figures written."""

    markdown: str
    figures: list[Path] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A registered experiment (see the module doc)."""

    name: str
    config: type
    run: Callable[[Any, Path, RunOptions], None]
    report: Callable[[Any, dict[str, Any], Path], ReportPart]
    reproduces: str
    presets: Mapping[str, Mapping[str, Any]]
    quick_runtime: str
    full_runtime: str = "?"
    source: str | None = None
    """Where a study defined outside ganflow was loaded from (`path/to/study.py` or
    `package.module`), recorded in `config.toml` so that `ganflow resume`/`report` find it;
    set by `load_study`."""

    def __post_init__(self):
        if not dataclasses.is_dataclass(self.config):
            raise TypeError(f"{self.name}: config must be a dataclass")
        if "quick" not in self.presets:
            raise TypeError(f"{self.name}: a 'quick' preset is required")
        for preset, values in self.presets.items():
            make_config(self, values, origin=f"preset {preset!r}")

    def preset(self, name: str = "default") -> Any:
        if name == "default":
            return self.config()
        if name not in self.presets:
            raise ConfigError(
                f"{self.name} has no preset {name!r}; presets: "
                + ", ".join(["default", *self.presets])
            )
        return make_config(self, self.presets[name], origin=f"preset {name!r}")


REGISTRY: dict[str, Experiment] = {}
"""Every registered study by name (the built-in experiments once loaded, and the studies
`register` added); read it through `experiments()` or `get_experiment(name)`, which load the
built-in experiments first."""


def register(experiment: Experiment) -> Experiment:
    """Adds `experiment` to the registry under its name, after which `ganflow run NAME` (and
    `get_experiment(NAME)`) find it; returns it. A name registered twice raises `ValueError`."""
    if experiment.name in REGISTRY:
        raise ValueError(f"experiment {experiment.name!r} is registered twice")
    REGISTRY[experiment.name] = experiment
    return experiment


class StudyFailed(RuntimeError):
    """A study finished with failures it has recorded (the `suite` study when one of its
    experiments failed): the command prints one line and exits with status 1."""


def load_study(target: str) -> Experiment:
    """A study defined in the researcher's own code, registered on loading:

    - `path/to/study.py` (the file calls `register(Experiment(...))`; a file registering
      several names one with `path/to/study.py:NAME`);
    - `package.module:NAME`, an importable module and either a registered name or an
      `Experiment` object of that module.

    The experiment comes back with its `source`, which `config.toml` records."""
    import importlib
    import importlib.util
    import sys

    path_part, _, name = target.partition(":") if not (
        len(target) > 1 and target[1] == ":") else (target, "", "")
    if path_part.endswith(".py"):
        path = Path(path_part).resolve()
        if not path.is_file():
            raise ConfigError(f"study file {path_part} does not exist")
        before = set(REGISTRY)
        module_name = f"ganflow_study_{path.stem}_{abs(hash(str(path))):x}"
        if module_name not in sys.modules:
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            try:
                spec.loader.exec_module(module)
            except Exception as e:
                del sys.modules[module_name]
                raise ConfigError(f"{path_part} failed to load: {type(e).__name__}: {e}") from e
        new = sorted(set(REGISTRY) - before) or [
            n for n, e in REGISTRY.items() if e.source == str(path)]
        if name:
            if name not in REGISTRY:
                raise ConfigError(f"{path_part} registers no study {name!r} "
                                  f"(it registers: {', '.join(new) or 'nothing'})")
            chosen = name
        elif len(new) == 1:
            chosen = new[0]
        else:
            raise ConfigError(
                f"{path_part} registers {'no study' if not new else ', '.join(new)}; "
                + ("call register(Experiment(...)) in it" if not new else
                   f"choose one with {path_part}:NAME"))
        exp = dataclasses.replace(REGISTRY[chosen], source=str(path))
        REGISTRY[chosen] = exp
        return exp
    if not name:
        raise ConfigError(f"{target!r}: expected NAME, FILE.toml, path/to/study.py or "
                          "module:NAME")
    try:
        module = importlib.import_module(path_part)
    except ImportError as e:
        raise ConfigError(f"cannot import {path_part}: {e}") from None
    obj = getattr(module, name, None)
    if isinstance(obj, Experiment):
        if obj.name not in REGISTRY:
            register(obj)
        name = obj.name
    if name not in REGISTRY:
        raise ConfigError(f"{path_part} defines no study {name!r}")
    exp = dataclasses.replace(REGISTRY[name], source=path_part)
    REGISTRY[name] = exp
    return exp


def _load_all() -> dict[str, Experiment]:
    import ganflow.experiments

    ganflow.experiments.register_all()  # the built-in experiments register on import
    return REGISTRY


def get_experiment(name: str) -> Experiment:
    """The registered study called `name` (built-in or registered); an unknown name raises
    `ConfigError` naming the closest registered ones. A built-in experiment's module is
    imported alone (not every experiment's)."""
    if name not in REGISTRY:
        import ganflow.experiments

        ganflow.experiments.register_all([name])  # nothing for a name not built in
    registry = REGISTRY if name in REGISTRY else _load_all()
    if name not in registry:
        close = difflib.get_close_matches(name, list(registry), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(
            f"unknown experiment {name!r}{hint} (ganflow list shows them all)"
        )
    return registry[name]


def experiments() -> dict[str, Experiment]:
    """Every registered study, name → `Experiment`, in registration order (what `ganflow list`
    shows)."""
    return dict(_load_all())


# ---------------------------------------------------------------------------------------------
# typed values


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is tuple:
        args = typing.get_args(tp)
        inner = _type_name(args[0]) if args else "value"
        return f"a list of {inner}"
    if tp is type(None):
        return "none"
    return getattr(tp, "__name__", str(tp))


class _CommandLineText(str):
    """A `--set` value that is not a TOML literal (`--set games=dirac,nk2d`, `--set eta=.5`):
    text typed on the command line, which `make_config` may read as a number, a boolean or a
    comma-separated list. Any other string (a quoted `--set` value, a TOML or preset string)
    is a string and only fits a `str` field."""


def _got(value: Any) -> str:
    if isinstance(value, str) and not isinstance(value, _CommandLineText):
        return f"the string {str(value)!r}"
    return repr(str(value) if isinstance(value, _CommandLineText) else value)


def _refuse(key: str, tp: Any, value: Any) -> "ConfigError":
    hint = ""
    if isinstance(value, str) and not isinstance(value, _CommandLineText) and tp is not str:
        hint = " (write it without quotes)"
    return ConfigError(f"{key}: expected {_type_name(tp)}, got {_got(value)}{hint}")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """`value` as type `tp` (int, float, str, bool, tuple[...], X | None), or ConfigError. Typed
    values (TOML, presets, `--set` literals) must have the field's type (an int is a float;
    an integral float an int); only `_CommandLineText` is read from text. "none" is None for an
    optional field."""
    text = isinstance(value, _CommandLineText)
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        for arg in typing.get_args(tp):
            if arg is type(None):
                if value is None or (isinstance(value, str) and value.lower() == "none"):
                    return None
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError:
                pass
        raise _refuse(key, tp, value)
    if origin is tuple:
        args = typing.get_args(tp)
        inner = args[0] if args else Any
        if text:
            value = [_CommandLineText(v.strip()) for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise _refuse(key, tp, value)
        return tuple(_coerce(v, inner, key) for v in value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if text and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _refuse(key, tp, value)
    if tp is int:
        if isinstance(value, bool):
            raise _refuse(key, tp, value)
        if isinstance(value, int):
            return value
        if text:
            try:
                return int(value)
            except ValueError:
                pass
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _refuse(key, tp, value)
    if tp is float:
        if isinstance(value, bool):
            raise _refuse(key, tp, value)
        if isinstance(value, (int, float)):
            return float(value)
        if text:
            try:
                return float(value)
            except ValueError:
                pass
        raise _refuse(key, tp, value)
    if tp is str:
        if isinstance(value, str):
            return str(value)
        raise _refuse(key, tp, value)
    return value


def _fields(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def make_config(experiment: Experiment, values: Mapping[str, Any], *, base: Any = None,
                origin: str = "config") -> Any:
    """A config of `experiment` from `base` (default: the defaults) with `values` applied,
    type-checked: an unknown key names the closest valid keys, a wrong type the expected one,
    and the config's own checks (`__post_init__`) run."""
    fields = _fields(experiment.config)
    clean = {}
    for key, value in values.items():
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=3, cutoff=0.5)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise ConfigError(
                f"{origin}: unknown key {key!r} for experiment {experiment.name}{hint} "
                f"(valid keys: {', '.join(fields)})"
            )
        try:
            clean[key] = _coerce(value, fields[key], key)
        except ConfigError as e:
            raise ConfigError(f"{origin}: {e}") from None
    base = experiment.config() if base is None else base
    try:
        return dataclasses.replace(base, **clean)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{origin}: {e}") from None


RUN_FIELDS = ("seeds", "seed", "num_steps", "save_every", "dtype")
"""The fields most study configs share; `check_run_fields` checks whichever a config has."""


def check_run_fields(config: Any, *, dtypes: tuple[str, ...] = ("float32", "float64")) -> None:
    """The checks of a study config's common run fields, in one place (call it from the
    config's `__post_init__`): `seeds` ≥ 1, `seed` ≥ 0, `num_steps` ≥ 1, `save_every` ≥ 1 and
    dividing `num_steps`, `dtype` one of `dtypes`. Fields the config does not have are skipped;
    a bad value is a `ValueError` naming the field."""
    from .._checks import check_choice, check_int_at_least

    for name, least in (("seeds", 1), ("seed", 0), ("num_steps", 1), ("save_every", 1)):
        if hasattr(config, name):
            check_int_at_least(name, getattr(config, name), least)
    if hasattr(config, "num_steps") and hasattr(config, "save_every"):
        if config.num_steps % config.save_every:
            raise ValueError(f"save_every={config.save_every} must divide "
                             f"num_steps={config.num_steps}")
    if hasattr(config, "dtype"):
        check_choice("dtype", config.dtype, dtypes)


def parse_set(items: list[str] | None) -> dict[str, Any]:
    """`["a=1", "b=x,y"]` → {"a": 1, "b": _CommandLineText("x,y")} (values typed later by
    `make_config`): a TOML literal (`1`, `[1, 2]`, `"text"`, `true`) is read as TOML, like a
    config file's value; anything else is `_CommandLineText`."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        key, value = key.strip(), value.strip()
        try:
            out[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = _CommandLineText(value)
    return out


# ---------------------------------------------------------------------------------------------
# TOML


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if v is None:
        return '"none"'
    raise TypeError(f"cannot write {v!r} to TOML")


def config_to_toml(experiment: Experiment, config: Any, preset: str | None = None, *,
                   annotate: bool = False) -> str:
    """The config as TOML, one documented key per line, ready to edit and pass to `ganflow run`;
    with `annotate`, each key's comment also gives its type and, where the value differs, its
    default."""
    lines = [
        f"# ganflow experiment {experiment.name}: {experiment.reproduces}",
        "# run it with: ganflow run THIS_FILE.toml [--set key=value ...]",
        f'experiment = "{experiment.name}"',
    ]
    if experiment.source:
        lines.append(f"source = {_toml_value(experiment.source)}")
    if preset:
        lines.append(f"# from preset {preset!r}")
    doc = _field_docs(experiment.config)
    types_ = _fields(experiment.config) if annotate else {}
    default = experiment.config() if annotate else None
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        comment = doc.get(f.name, "")
        if annotate:
            note = _type_name(types_[f.name])
            if getattr(default, f.name) != value:
                note += f"; default {_toml_value(getattr(default, f.name))}"
            comment = f"{comment} [{note}]" if comment else f"[{note}]"
        if comment:
            lines.append(f"# {comment}")
        lines.append(f"{f.name} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _field_docs(cls: type) -> dict[str, str]:
    """`- `name`: text` lines of the class docstring."""
    out = {}
    for line in (cls.__doc__ or "").splitlines():
        line = line.strip()
        if line.startswith("- `") and "`:" in line:
            name, text = line[3:].split("`:", 1)
            out[name.strip()] = text.strip()
    return out


def load_toml(path: Path) -> tuple[Experiment, dict[str, Any]]:
    """(experiment, values) of a config file written by `ganflow show` or `config_to_toml`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from None
    name = data.pop("experiment", None)
    if not isinstance(name, str):
        raise ConfigError(f'{path} has no `experiment = "NAME"` line')
    data.pop("preset", None)
    source = data.pop("source", None)
    if source is not None:
        if not isinstance(source, str):
            raise ConfigError(f"{path}: source must be a string, got {source!r}")
        target = f"{source}:{name}"
        return load_study(target), data
    return get_experiment(name), data


def save_config(experiment: Experiment, config: Any, folder: Path) -> None:
    from ..engine import atomic_write_bytes

    atomic_write_bytes(Path(folder) / "config.toml",
                       config_to_toml(experiment, config).encode())


# ---------------------------------------------------------------------------------------------
# results


def consolidate_results(folder: Path) -> None:
    """Makes `folder/results.zarr` one readable tree: a root group (zarr format 3, like every
    group) whose consolidated metadata lists every group, so that
    `xarray.open_datatree("results.zarr", engine="zarr")` reads all of them in one call, without
    warnings. Run when a study's run ends and by `write_summary`; a store still being written
    (an interrupted run) has no root yet: read its groups one by one."""
    import warnings

    import zarr

    store = Path(folder) / "results.zarr"
    if not store.is_dir():
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr: consolidated metadata not in the v3 spec yet
        zarr.open_group(str(store), mode="a", zarr_format=3)
        zarr.consolidate_metadata(str(store), zarr_format=3)


def open_results(folder: Path) -> dict[str, Any]:
    """The labelled results of a run folder: group name → `xarray.Dataset` (the root of
    `results.zarr` under the name "" when it holds arrays)."""
    import xarray as xr

    store = Path(folder) / "results.zarr"
    if not store.is_dir():
        raise ConfigError(f"{folder} holds no results (no results.zarr)")
    out = {}
    for sub in sorted(p for p in store.iterdir() if (p / "zarr.json").is_file()):
        out[sub.name] = xr.open_zarr(sub)
    if any(p.is_dir() and not (p / "zarr.json").is_file() for p in store.iterdir()):
        try:
            out[""] = xr.open_zarr(store)
        except Exception:  # the root is a plain group
            pass
    return out


def write_summary(folder: Path, name: str, dataset: Any) -> None:
    """Writes a derived `xarray.Dataset` (fits, tables) as the group `results.zarr/<name>`,
    replacing an older one. A dimension or variable named after a keyword of xarray's selection
    methods (`method`, `tolerance`, `drop`, `indexers`, …) is refused with a `ValueError`."""
    import warnings

    from .._checks import check_selectable_names

    check_selectable_names(list(dataset.dims) + list(dataset.variables),
                           f"results.zarr/{name}: the name")
    store = Path(folder) / "results.zarr"
    target = store / name
    if target.exists():
        shutil.rmtree(target)
    store.mkdir(parents=True, exist_ok=True)
    import datetime

    import jax

    from .. import __version__

    dataset = dataset.copy()
    dataset.attrs.setdefault("ganflow_version", __version__)
    dataset.attrs.setdefault("jax_version", jax.__version__)
    dataset.attrs.setdefault("backend", jax.default_backend())
    dataset.attrs.setdefault("devices", [str(d) for d in jax.devices()])
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    dataset.attrs.setdefault("start_time", now)
    dataset.attrs.setdefault("end_time", now)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr: consolidated metadata not in the v3 spec yet
        dataset.to_zarr(str(target), mode="w", zarr_format=3, consolidated=True)
    if (store / "zarr.json").is_file():  # a finished run's tree: list the new group too
        consolidate_results(folder)


def finished_run(folder: Path) -> dict[str, Any] | None:
    """The record of the last run that finished in `folder` (from its `run.json`: experiment,
    finished, seconds, compile_seconds, resumed, compilation_cache), or None when none did (an
    interrupted run has none: `run.json` is written when a run ends and removed when a run
    starts afresh)."""
    import json

    meta = Path(folder) / "run.json"
    if not meta.is_file():
        return None
    try:
        data = json.loads(meta.read_text())
        runs = data.get("runs", [])
    except (ValueError, AttributeError):
        return None
    return {"experiment": data.get("experiment"), **runs[-1]} if runs else None


def result_groups(folder: Path) -> list[str]:
    """The names of the groups of `folder/results.zarr` (each an `xarray.Dataset`)."""
    store = Path(folder) / "results.zarr"
    if not store.is_dir():
        return []
    return sorted(p.name for p in store.iterdir() if (p / "zarr.json").is_file())


def check_folder(folder: Path, *, overwrite: bool, resume: bool) -> Path:
    """Creates `folder` or checks that it may be used: a non-empty folder is refused unless
    resuming or overwriting (overwrite removes only what ganflow wrote there)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not (overwrite or resume):
        raise ConfigError(
            f"{folder} is not empty; choose another --out, resume it (ganflow resume "
            f"{folder}) or pass --overwrite"
        )
    from .._checks import ensure_writable_folder

    try:
        ensure_writable_folder(folder)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if overwrite and not resume:
        for name in ("results.zarr", "checkpoints"):
            shutil.rmtree(folder / name, ignore_errors=True)
    return folder
