"""ganflow.enable_compilation_cache: a second process reads the programs the first compiled;
`GANFLOW_COMPILATION_CACHE=0` turns it off; the compile clock counts nested spans once."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ganflow
from ganflow._cache import CompileClock, default_compilation_cache_dir

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = """
import json, sys
import ganflow
folder = ganflow.enable_compilation_cache(sys.argv[1] if len(sys.argv) > 1 else None)
import jax, jax.numpy as jnp
from jax import monitoring
hits = []
monitoring.register_event_listener(lambda e, **k: hits.append(e) if e.endswith("cache_hits")
                                   else None)
f = jax.jit(lambda x: jnp.tanh(x @ x).sum())
f(jnp.ones((3, 3))).block_until_ready()
print(json.dumps({"folder": None if folder is None else str(folder), "hits": len(hits)}))
"""


def _run(env, *args):
    env = {**os.environ, **env}
    out = subprocess.run([sys.executable, "-c", PROGRAM, *args], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_second_process_reads_the_cache_and_the_variable_turns_it_off(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    on = {"GANFLOW_COMPILATION_CACHE": "1"}
    cold = _run(on, str(folder))
    assert cold == {"folder": str(folder.resolve()), "hits": 0}
    assert any(folder.iterdir())  # small, quickly compiled programs are written too
    warm = _run(on, str(folder))
    assert warm["hits"] >= 1
    monkeypatch.setenv("GANFLOW_COMPILATION_CACHE", "0")
    assert ganflow.enable_compilation_cache(tmp_path / "never") is None
    assert not (tmp_path / "never").exists()


def test_default_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("GANFLOW_COMPILATION_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_compilation_cache_dir() == tmp_path / "ganflow" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_compilation_cache_dir() == Path.home() / ".cache" / "ganflow" / "jax"
    monkeypatch.setenv("GANFLOW_COMPILATION_CACHE", str(tmp_path / "moved"))
    assert default_compilation_cache_dir() == tmp_path / "moved"


def test_unwritable_folder_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("GANFLOW_COMPILATION_CACHE", "1")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="cannot write to the compilation cache folder"):
        ganflow.enable_compilation_cache(blocker / "cache")


def test_compile_clock_counts_overlapping_spans_once():
    clock = CompileClock()
    for span in [(0.0, 1.0), (0.5, 0.8), (0.9, 2.0), (3.0, 3.5), (3.2, 3.4)]:
        clock._listen("/jax/core/compile/backend_compile_duration", *span)
    clock._listen("/jax/some/other/event", 10.0, 20.0)
    assert clock.seconds == pytest.approx(2.0 + 0.5, abs=1e-12)


def test_compile_clock_measures_a_compile():
    import jax
    import jax.numpy as jnp

    with CompileClock() as clock:
        jax.jit(lambda x: jnp.sin(x) * 3.0 + x.shape[0])(jnp.ones(7)).block_until_ready()
    first = clock.seconds
    assert first > 0
    with CompileClock() as again:  # the same program again: nothing compiled
        jax.jit(lambda x: x)  # never called
    assert again.seconds == 0.0
