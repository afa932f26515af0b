r"""Atomic, verified checkpoints of an ensemble's carry, with equinox's tree serialisation.

A checkpoint is two files per process in `DIR/checkpoints/`:
`ckpt-<step>-p<process>.eqx` (the carry's leaves, `eqx.tree_serialise_leaves`: NumPy's `.npy`
format, no pickle, no eval) and `ckpt-<step>-p<process>.json` (the manifest: step, the static
cell being run, the cells already done, the config's fingerprint, the ganflow version and the
SHA-256 of the leaf file). Each file is written under a temporary name, flushed, `fsync`ed and
renamed into place, and the manifest is written after the leaves: a checkpoint exists only when
its manifest does, and a leaf file whose hash does not match its manifest (truncated or
corrupt) is skipped in favour of the previous checkpoint. The two newest are kept.
"""

import hashlib
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import numpy as np

_NAME = re.compile(r"ckpt-(\d+)-(\d+)-p(\d+)\.json$")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Writes `data` to `path` atomically: temporary file, flush, fsync, rename."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Checkpointer:
    """Saves and restores one process's part of an ensemble's carry in `directory`."""

    def __init__(self, directory: str | os.PathLike, process: int = 0, keep: int = 2):
        self.dir = Path(directory)
        self.process = int(process)
        self.keep = int(keep)

    def _stem(self, cell: int, step: int) -> str:
        return f"ckpt-{cell:04d}-{step:012d}-p{self.process}"

    def save(self, carry: Any, meta: dict[str, Any]) -> Path:
        """Writes `carry` (a pytree of host arrays) and its manifest `meta` atomically."""
        self.dir.mkdir(parents=True, exist_ok=True)
        stem = self._stem(int(meta["cell"]), int(meta["step"]))
        leaves_path = self.dir / f"{stem}.eqx"
        tmp = leaves_path.with_name(f".{leaves_path.name}.tmp-{os.getpid()}")
        host = jax.tree_util.tree_map(np.asarray, carry)
        with open(tmp, "wb") as f:
            eqx.tree_serialise_leaves(f, host)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, leaves_path)
        manifest = dict(meta, leaves=leaves_path.name, sha256=_sha256(leaves_path),
                        process=self.process)
        atomic_write_bytes(self.dir / f"{stem}.json", json.dumps(manifest, indent=1).encode())
        self._prune()
        return leaves_path

    def _manifests(self) -> list[tuple[int, int, Path]]:
        if not self.dir.is_dir():
            return []
        out = []
        for p in self.dir.iterdir():
            m = _NAME.match(p.name)
            if m and int(m.group(3)) == self.process:
                out.append((int(m.group(1)), int(m.group(2)), p))
        return sorted(out)

    def _prune(self) -> None:
        found = self._manifests()
        for _, _, p in found[: max(0, len(found) - self.keep)]:
            leaves = p.with_suffix(".eqx")
            p.unlink(missing_ok=True)
            leaves.unlink(missing_ok=True)

    def latest(self, like: Any | None = None) -> tuple[dict[str, Any], Any] | None:
        """The newest valid checkpoint as `(manifest, carry)` (carry loaded into the structure
        of `like`, a pytree of arrays of the right shapes and dtypes; None to read the manifest
        only), or None. Invalid ones (bad hash, unreadable) are reported and skipped."""
        for _, _, path in reversed(self._manifests()):
            try:
                meta = json.loads(path.read_text())
                leaves = self.dir / meta["leaves"]
                if _sha256(leaves) != meta["sha256"]:
                    raise ValueError("its data does not match the recorded SHA-256")
                if like is None:
                    return meta, None
                with open(leaves, "rb") as f:
                    carry = eqx.tree_deserialise_leaves(f, like)
                return meta, carry
            except Exception as e:  # a truncated or corrupt checkpoint: use the previous one
                warnings.warn(
                    f"ganflow: skipping checkpoint {path.name} ({e}); trying the previous one",
                    stacklevel=2,
                )
        return None
