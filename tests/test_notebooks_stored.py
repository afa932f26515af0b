"""The notebooks are stored executed, with their outputs (the documentation site renders them as
stored): each has the cells `scripts/make_notebooks.py` writes, was run top to bottom in one
kernel (execution counts 1, 2, … in order), ended without an error, and shows a figure for every
cell that draws. Regenerate them with `python scripts/make_notebooks.py`."""

import base64
import importlib.util
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
DRAWS = re.compile(r"\bplotting\.\w+\(|\bplt\.show\(\)")
MAX_BYTES = 1_000_000  # per notebook, figures included


def _generator():
    spec = importlib.util.spec_from_file_location("make_notebooks",
                                                  ROOT / "scripts" / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()


def _code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_every_generated_notebook_is_stored():
    assert sorted(p.name for p in NOTEBOOKS) == sorted(GEN.NOTEBOOK_CELLS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_cells_are_the_generators(path):
    stored = nbformat.read(path, as_version=4)
    expected = GEN.build(path.name)
    got = [(c.cell_type, c.get("id"), c.source) for c in stored.cells]
    want = [(c.cell_type, c.get("id"), c.source) for c in expected.cells]
    assert got == want, f"{path.name} differs from scripts/make_notebooks.py: rerun it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_executed_in_order_without_errors(path):
    cells = _code_cells(path)
    counts = [c.execution_count for c in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{path.name}: execution counts {counts}; store it executed top to bottom")
    for i, cell in enumerate(cells):
        kinds = [o.output_type for o in cell.outputs]
        assert "error" not in kinds, f"{path.name}, code cell {i + 1} stored an error"
        stderr = [o.text for o in cell.outputs if o.get("name") == "stderr"]
        assert not stderr, f"{path.name}, code cell {i + 1} wrote to stderr: {stderr}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_figures(path):
    cells = _code_cells(path)
    drawing = 0
    for i, cell in enumerate(cells):
        images = [o.data["image/png"] for o in cell.outputs if "image/png" in o.get("data", {})]
        if DRAWS.search(cell.source):
            drawing += 1
            assert len(images) == 1, f"{path.name}, code cell {i + 1} draws: {len(images)} images"
        for image in images:
            assert base64.b64decode(image)[:8] == b"\x89PNG\r\n\x1a\n"
    assert drawing >= 2, f"{path.name} tells its story with at least two figures"
    assert path.stat().st_size < MAX_BYTES


def test_first_code_cell_warm_starts():
    for path in NOTEBOOKS:
        first = _code_cells(path)[0].source
        assert "gf.enable_compilation_cache()" in first, path.name
        assert first.index("enable_compilation_cache") < first.index("jax.config.update")
