"""Lazy public names (PEP 562) for ganflow's package `__init__`s: `import ganflow` and the
`ganflow` command's `list` and `--help` do not import JAX.

A package lists its public names as ordinary imports under `if typing.TYPE_CHECKING:` (what
type checkers, editors, readers and the documentation see) and ends with

```python
from ._lazy import lazy_exports as _lazy_exports  # private: not one of the package's names
__getattr__, __dir__ = _lazy_exports(__name__, __file__)
```

The first access to a name imports its module; the name is then an ordinary attribute.
"""

import ast
import importlib
import sys
from collections.abc import Callable
from pathlib import Path


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _table(package: str, init_file: str) -> dict[str, tuple[str, str | None]]:
    """public name -> (module, attribute; None for a submodule), from the `TYPE_CHECKING`
    imports of `init_file`."""
    tree = ast.parse(Path(init_file).read_text())
    table: dict[str, tuple[str, str | None]] = {}
    parts = package.split(".")
    for node in tree.body:
        if not (isinstance(node, ast.If) and _is_type_checking(node.test)):
            continue
        for stmt in node.body:
            if not isinstance(stmt, ast.ImportFrom):
                continue
            base = parts[: len(parts) - stmt.level + 1] if stmt.level else []
            module = ".".join(base + ([stmt.module] if stmt.module else []))
            for alias in stmt.names:
                public = alias.asname or alias.name
                if stmt.module is None:  # `from . import engine`: a submodule
                    table[public] = (f"{module}.{alias.name}", None)
                else:
                    table[public] = (module, alias.name)
    return table


def lazy_exports(package: str, init_file: str) -> tuple[Callable, Callable]:
    """`(__getattr__, __dir__)` for `package`, whose public names are the imports under
    `if TYPE_CHECKING:` in `init_file`."""
    table: dict[str, tuple[str, str | None]] = {}

    def names() -> dict[str, tuple[str, str | None]]:
        if not table:
            table.update(_table(package, init_file))
        return table

    def __getattr__(name: str):
        entry = names().get(name)
        if entry is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = entry
        value = importlib.import_module(module)
        if attr is not None:
            value = getattr(value, attr)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names()))

    return __getattr__, __dir__
