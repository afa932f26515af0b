"""MkDocs hooks of ganflow's documentation site (`mkdocs.yml: hooks`).

- The notebooks are rendered from `notebooks/*.ipynb` at the repository root (stored with their
  outputs; mkdocs-jupyter converts them without executing), so the site never holds a copy.
- The API reference is written at build time from the packages' exports: one page per
  subpackage (`api/<name>.md`) and `api/ganflow.md`, each with its module docstring, every
  public name it defines (through mkdocstrings) and a table linking the names it re-exports
  from other subpackages to their entries. A name added to an `__init__` is documented without
  editing the docs.

The exports are read from the `__init__` files' source (no import of ganflow, no JAX): the
explicit re-exports `from ._x import Y as Y`, `from . import y as y` and public top-level
definitions.
"""

import ast
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ganflow"
SUBPACKAGES = ("games", "models", "losses", "dynamics", "stabilisers", "training", "continuous",
               "analysis", "meanfield", "engine", "studies", "plotting", "experiments")
"""The subpackages, each with a page `api/<name>.md` in the API reference."""


def exports(init: Path) -> list[tuple[str, str | None]]:
    """(public name, the module it comes from, or None if the `__init__` defines it) for every
    name an `__init__.py` exports, in source order: the explicit re-exports `from .x import Y as
    Y` (also under `if typing.TYPE_CHECKING:`, where lazily imported names are declared) and its
    public top-level definitions."""
    tree = ast.parse(init.read_text(encoding="utf-8"))
    body = list(tree.body)
    for node in tree.body:
        if isinstance(node, ast.If):
            body += node.body
    out: list[tuple[str, str | None]] = []
    for node in body:
        if isinstance(node, ast.ImportFrom):
            source = "." * node.level + (node.module or "")
            out += [(a.name, source if node.module else f"{source}{a.name}")
                    for a in node.names if a.asname == a.name]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append((node.name, None))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            out += [(t.id, None) for t in targets if isinstance(t, ast.Name)]
    return [(name, source) for name, source in out if not name.startswith("_")]


def _home(source: str | None, root: bool) -> str | None:
    """The other subpackage a name is re-exported from (`..analysis` in a subpackage's
    `__init__`, `.games` in ganflow's), or None when the package itself defines it."""
    if source is None:
        return None
    prefix = "." if root else ".."
    if not source.startswith(prefix) or source.startswith(prefix + "."):
        return None
    part = source[len(prefix):].split(".")[0]
    return part if part and not part.startswith("_") else None


def api_page(name: str | None) -> str:
    """The API page of `ganflow.<name>` (`ganflow` itself for None): its module docstring, the
    names it defines (mkdocstrings), and a table linking the names it re-exports from other
    subpackages to their entries."""
    root = name is None
    module = "ganflow" if root else f"ganflow.{name}"
    init = PACKAGE / "__init__.py" if root else PACKAGE / name / "__init__.py"
    own, linked, modules = [], [], []
    for export, source in exports(init):
        home = _home(source, root)
        if root and home == export:
            modules.append(export)  # `from . import games as games`
        elif home is None:
            own.append(export)
        else:
            linked.append(f"| [`{export}`][ganflow.{home}.{export}] | "
                          f"[`ganflow.{home}`]({home}.md) |")
    members = (["      members:", *(f"        - {m}" for m in own)] if own
               else ["      members: false"])
    text = [f"# {module}", "", f"::: {module}", "    options:", "      show_root_heading: false",
            "      show_root_toc_entry: false", "      heading_level: 2", *members, ""]
    if root:
        text += ["## Subpackages", "",
                 ", ".join(f"[`ganflow.{m}`]({m}.md)" for m in SUBPACKAGES) + ".", ""]
    if linked:
        text += [f"## Names `{module}` re-exports", "",
                 "| name | documented in |", "|---|---|", *linked, ""]
    return "\n".join(text)


def api_index() -> str:
    """`api/index.md`: every package with the first sentence of its module docstring."""
    rows = ["| package | what it holds |", "|---|---|"]
    for name in (None, *SUBPACKAGES):
        init = PACKAGE / "__init__.py" if name is None else PACKAGE / name / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        first = " ".join(doc.split("\n\n")[0].split()).replace("|", "\\|")
        rows.append(f"| [`{'ganflow' if name is None else 'ganflow.' + name}`]"
                    f"({name or 'ganflow'}.md) | {first} |")
    return "\n".join(["# API reference", "",
                      "Every public name of ganflow, from its docstring. A subpackage's public "
                      "names are those its `__init__` exports; the logic lives in private "
                      "modules. The conventions the docstrings cite (`docs/conventions.md "
                      "§…`) are on [the conventions page](../conventions.md).", "", *rows, ""])


@event_priority(100)  # before mkdocs-jupyter wraps the notebooks
def on_files(files: Files, config) -> Files:
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        # a File whose source folder is the repository root: mkdocs-jupyter reads it from there
        files.append(File(f"notebooks/{notebook.name}", src_dir=str(ROOT),
                          dest_dir=config.site_dir, use_directory_urls=config.use_directory_urls))
    files.append(File.generated(config, "api/index.md", content=api_index()))
    for name in (None, *SUBPACKAGES):
        files.append(File.generated(config, f"api/{name or 'ganflow'}.md",
                                    content=api_page(name)))
    return files
