"""The library's boundaries: no subpackage of ganflow imports another subpackage's private
module or name, and the scripts and notebooks use public ganflow names only.

A subpackage's private modules (`ganflow/games/_mog.py`) and private names (`_ACTIVATIONS`) are
its own; other subpackages, the scripts and the notebooks go through the public names its
`__init__` exports. The package root's private helpers (`ganflow/_checks.py`,
`ganflow/_custom_types.py`) are shared by every subpackage of ganflow (never by scripts or
notebooks)."""

import ast
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {  # subpackage -> subpackages it must not import (the layering of the library)
    "engine": {"analysis", "continuous", "dynamics", "experiments", "games", "losses",
               "meanfield", "models", "plotting", "stabilisers", "studies", "training"},
    "continuous": {"training", "experiments", "studies", "plotting"},
    "plotting": {"training", "continuous", "experiments", "studies"},
    "studies": {"training", "continuous", "analysis", "games", "plotting"},
}


def _imports(tree: ast.AST, package: list[str]):
    """(line, absolute module, names) of every import in `tree`; `package` resolves the
    relative ones."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield node.lineno, module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, []


def _offences(tree: ast.AST, package: list[str], own: str | None, where: str) -> list[str]:
    out = []
    for line, module, names in _imports(tree, package):
        parts = module.split(".")
        if parts[0] != "ganflow":
            continue
        target = parts[1] if len(parts) > 1 else None
        if own is not None and target == own:
            continue  # inside one subpackage, private modules are its own
        if own is not None and target is not None and target.startswith("_") and len(parts) == 2:
            continue  # ganflow/_checks.py, ganflow/_custom_types.py: shared inside ganflow
        private = [p for p in parts[1:] if p.startswith("_")]
        if private:
            out.append(f"{where}:{line}: imports the private module {module}")
            continue
        # `from ganflow.x import y`: y may itself be a private submodule or a private name
        hidden = [n for n in names if n.startswith("_") and not n.endswith("__")]
        if hidden:
            out.append(f"{where}:{line}: imports private name(s) {', '.join(hidden)} from "
                       f"{module}")
        if own in LAYERS and target in LAYERS[own]:
            out.append(f"{where}:{line}: ganflow.{own} must not import ganflow.{target}")
    return out


def _package_of(path: Path) -> tuple[list[str], str]:
    """(the package that resolves relative imports, the subpackage that owns the module:
    "games" for ganflow/games/_mog.py, "__root__" for ganflow/__init__.py and ganflow/*.py)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    package = parts[:-1]
    own = parts[1] if len(parts) > 2 else "__root__"
    return package, own


def _cells(notebook: Path):
    nb = json.loads(notebook.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            src = "".join(cell["source"])
            src = "\n".join(line for line in src.splitlines()
                            if not line.lstrip().startswith(("%", "!")))
            yield i, src


def test_no_private_imports_across_subpackages_scripts_or_notebooks():
    offences = []
    for path in sorted((ROOT / "ganflow").rglob("*.py")):
        package, own = _package_of(path)
        offences += _offences(ast.parse(path.read_text()), package, own,
                              str(path.relative_to(ROOT)))
    for path in sorted((ROOT / "scripts").rglob("*.py")):
        offences += _offences(ast.parse(path.read_text()), [], None,
                              str(path.relative_to(ROOT)))
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, src in _cells(nb):
            offences += _offences(ast.parse(src), [], None, f"{nb.relative_to(ROOT)} cell {i}")
    assert not offences, "private imports:\n" + "\n".join(offences)


def test_the_check_finds_what_it_forbids():
    bad = ast.parse("from ..games._mog import MoG\nfrom ganflow.games import _ACTIVATIONS\n"
                    "from ganflow.engine._checkpoint import atomic_write_bytes\n"
                    "from ..training import run\n")
    found = _offences(bad, ["ganflow", "continuous"], "continuous", "x.py")
    assert len(found) == 4, found
    assert "private module ganflow.games._mog" in found[0]
    assert "_ACTIVATIONS" in found[1]
    assert "must not import ganflow.training" in found[3]
    ok = ast.parse("from ._sde import _one_x0\nfrom .._checks import check_positive\n"
                   "from ..dynamics import vector_field\n")
    assert _offences(ok, ["ganflow", "continuous"], "continuous", "x.py") == []
    assert _offences(ast.parse("from ganflow._checks import check_positive\n"), [], None,
                     "scripts/x.py")
