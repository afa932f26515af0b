"""Warm starts: JAX's persistent compilation cache, and how long a run spent compiling.

JAX compiles every jitted program (a training step, an ensemble's scan, an ODE solve) the first
time it meets it, in every new process. With the persistent compilation cache on, the compiled
programs are written to a folder and read back by the next process that needs the same program
(same code, shapes, dtypes, jax version and device), so a second `ganflow run` of a study, or a
notebook re-run, skips most of its compiling. The `ganflow` command and `scripts/run_*.py` turn
it on by default; library users opt in with one call:

```python
import ganflow
ganflow.enable_compilation_cache()  # ~/.cache/ganflow/jax (or $XDG_CACHE_HOME/ganflow/jax)
```

Turn it off with the environment variable `GANFLOW_COMPILATION_CACHE=0` (the command, the
scripts, the notebooks and `enable_compilation_cache` all obey it) or the command's
`--no-compile-cache` flag; `GANFLOW_COMPILATION_CACHE=/some/folder` moves it. The cache is
trusted code: keep it in a folder only you can write to. Deleting the folder is always safe.
"""

import contextlib
import os
import threading
import time
from pathlib import Path

CACHE_ENV = "GANFLOW_COMPILATION_CACHE"
"""The environment variable: `0` (or `false`, `off`, `no`) turns the cache off, `1` or unset
uses the default folder, anything else is the folder to use."""

_OFF = ("0", "false", "off", "no")
_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)


def default_compilation_cache_dir() -> Path:
    """The folder of ganflow's compilation cache when none is given:
    `$GANFLOW_COMPILATION_CACHE` when it names a folder, else `$XDG_CACHE_HOME/ganflow/jax`,
    else `~/.cache/ganflow/jax`."""
    env = os.environ.get(CACHE_ENV, "").strip()
    if env and env.lower() not in _OFF + ("1", "true", "on", "yes"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "ganflow" / "jax"


def compilation_cache_disabled() -> bool:
    """True when the environment variable `GANFLOW_COMPILATION_CACHE` turns the cache off
    (`0`, `false`, `off` or `no`)."""
    return os.environ.get(CACHE_ENV, "").strip().lower() in _OFF


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Turns on JAX's persistent compilation cache for this process, so that programs compiled
    once are read back from disk by later processes instead of compiled again (warm starts).

    Every program is cached, however small or quick to compile (JAX's defaults skip programs
    that compile in under a second, which are most of a CPU run's programs). Call it before or
    after importing ganflow, preferably before the first computation: programs compiled before
    the call are not written. A later call with another folder changes the folder.

    **Arguments:**

    - `path`: the cache folder, created if missing (default `None`:
      `default_compilation_cache_dir()`, i.e. `$XDG_CACHE_HOME/ganflow/jax` or
      `~/.cache/ganflow/jax`).

    **Returns:** the folder in use, or `None` when the environment variable
    `GANFLOW_COMPILATION_CACHE=0` turns the cache off (then nothing is changed).

    Raises `ValueError` when the folder cannot be created or written.
    """
    if compilation_cache_disabled():
        return None
    folder = Path(default_compilation_cache_dir() if path is None else path).expanduser()
    from ._checks import ensure_writable_folder  # imports JAX: not at `ganflow list`'s start

    ensure_writable_folder(folder, "the compilation cache folder")
    folder = folder.resolve()
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    if jax.config.jax_compilation_cache_dir not in (None, str(folder)):
        compilation_cache.reset_cache()  # a new folder: JAX opens its cache once per folder
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    jax.config.update("jax_enable_compilation_cache", True)
    return folder


class CompileClock:
    """Wall-clock seconds this process spent tracing, lowering and compiling JAX programs
    while the clock runs (`with CompileClock() as clock: ...; clock.seconds`), from JAX's
    monitoring events (`/jax/core/compile/...`). Nested and overlapping spans (a function
    traced inside another) count once. A program read back from the compilation cache still
    counts its tracing, lowering and cache read."""

    def __init__(self):
        self._spans: list[tuple[float, float]] = []
        self._lock = threading.Lock()
        self._started = self._stopped = None

    def _listen(self, event: str, start: float, end: float, **kwargs) -> None:
        if event in _COMPILE_EVENTS:
            with self._lock:
                self._spans.append((start, end))

    def __enter__(self) -> "CompileClock":
        from jax import monitoring

        self._started = time.time()
        monitoring.register_event_time_span_listener(self._listen)
        return self

    def __exit__(self, *exc) -> None:
        from jax import monitoring

        self._stopped = time.time()
        with contextlib.suppress(AssertionError, ValueError):
            monitoring.unregister_event_time_span_listener(self._listen)

    @property
    def seconds(self) -> float:
        """The union of the compile spans recorded so far, in seconds."""
        with self._lock:
            spans = sorted(self._spans)
        total, end = 0.0, -float("inf")
        for a, b in spans:
            if b <= end:
                continue
            total += b - max(a, end)
            end = b
        return total

