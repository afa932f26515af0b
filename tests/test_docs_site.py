"""The documentation site (`mkdocs.yml`, `docs/`) builds strictly — no broken link, no missing
page, figure or cross-reference — and documents every public name of ganflow, every registered
experiment and every notebook."""

import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
griffe = pytest.importorskip("griffe")
pytest.importorskip("mkdocs")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
from _hooks import SUBPACKAGES, exports  # noqa: E402  the site's own reading of the exports

sys.path.remove(str(ROOT / "docs"))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built once with `mkdocs build --strict` (every warning is an error)."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                           "-f", str(ROOT / "mkdocs.yml"), "-d", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-4000:]}"
    return out


def _nav_pages() -> list[str]:
    """Every page the navigation of mkdocs.yml lists."""
    def walk(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                yield from walk(value)

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    return list(walk(config["nav"]))


def test_the_site_builds_strictly(site):
    assert (site / "index.html").is_file()
    for page in _nav_pages():
        html = page.removesuffix(".md").removesuffix(".ipynb").removesuffix("index")
        assert (site / html / "index.html").is_file(), f"{page} was not rendered"


def _packages() -> dict[str, types.ModuleType]:
    return {"ganflow": importlib.import_module("ganflow"),
            **{f"ganflow.{n}": importlib.import_module(f"ganflow.{n}") for n in SUBPACKAGES}}


def _runtime_exports(module: types.ModuleType) -> set[str]:
    return {n for n in dir(module)
            if not n.startswith("_") and not isinstance(getattr(module, n), types.ModuleType)}


def test_the_api_reference_reads_every_export():
    """The site finds a package's public names in its `__init__`'s source; they are exactly the
    names the imported package offers."""
    assert set(SUBPACKAGES) >= {p.name for p in (ROOT / "ganflow").iterdir()
                                if (p / "__init__.py").is_file() and not p.name.startswith("_")}
    for dotted, module in _packages().items():
        init = ROOT / Path(*dotted.split(".")) / "__init__.py"
        static = {n for n, _ in exports(init)}
        static -= {n for n in static if isinstance(getattr(module, n, None), types.ModuleType)}
        assert static == _runtime_exports(module), dotted


def _home(module: types.ModuleType, name: str) -> str:
    """The package whose own API page documents `module.name`: the subpackage that defines it
    (a re-export links there), or the package itself."""
    obj = getattr(module, name)
    for sub in SUBPACKAGES:
        sub_module = importlib.import_module(f"ganflow.{sub}")
        defined_here = getattr(obj, "__module__", "").startswith(f"ganflow.{sub}.")
        if name in _runtime_exports(sub_module) and getattr(sub_module, name) is obj and (
                defined_here or not hasattr(obj, "__module__")):
            return f"ganflow.{sub}"
    return module.__name__


def test_every_public_name_has_a_docstring_and_an_entry(site):
    loaded = griffe.load("ganflow", search_paths=[str(ROOT)])
    undocumented, missing = [], []
    for dotted, module in _packages().items():
        for name in sorted(_runtime_exports(module)):
            obj = loaded[f"{dotted.removeprefix('ganflow.')}.{name}" if dotted != "ganflow"
                         else name]
            if not (obj.docstring and obj.docstring.value.strip()):
                undocumented.append(f"{dotted}.{name}")
            home = _home(module, name)
            page = site / "api" / home.removeprefix("ganflow.") / "index.html"
            if f'id="{home}.{name}"' not in page.read_text(encoding="utf-8"):
                missing.append(f"{dotted}.{name} (expected on {page.relative_to(site)})")
    assert not (undocumented or missing), (
        f"public names without a docstring: {undocumented}; "
        f"missing from the API reference: {missing}")


def test_every_experiment_has_a_page_with_its_results():
    from ganflow.studies import experiments

    registry = experiments()
    nav = set(_nav_pages())
    pages = ROOT / "docs" / "experiments"
    assert {p.name for p in pages.iterdir() if p.is_dir()} == set(registry), (
        "docs/experiments/ and the registry differ: rerun scripts/make_docs_pages.py")
    for name, exp in registry.items():
        assert f"experiments/{name}/index.md" in nav, f"{name} is not in mkdocs.yml's nav"
        text = (pages / name / "index.md").read_text(encoding="utf-8")
        assert f"**Reproduces:** {exp.reproduces}" in text, (
            f"docs/experiments/{name} is out of date: scripts/make_docs_pages.py --only {name}")
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text):
            assert (pages / name / target).is_file(), f"{name}: {target}"


def test_every_notebook_is_rendered_with_its_figures(site):
    nav = set(_nav_pages())
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"notebooks/{notebook.name}" in nav, f"{notebook.name} is not in the nav"
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        figures = sum("image/png" in out.get("data", {})
                      for c in cells for out in c.get("outputs", []))
        html = (site / "notebooks" / notebook.stem / "index.html").read_text(encoding="utf-8")
        assert html.count("data:image/png;base64,") >= figures, notebook.name


def _page_generator():
    spec = importlib.util.spec_from_file_location("make_docs_pages",
                                                  ROOT / "scripts" / "make_docs_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_experiment_page_carries_the_report_and_its_figures(tmp_path, monkeypatch):
    """scripts/make_docs_pages.py on a run folder: the report's body (title and Reproduces line
    dropped, headings one level down), its figures copied beside the page (also from a
    subfolder), links to run files as code, bracketed text escaped; a missing figure stops it."""
    from ganflow.studies import get_experiment

    gen = _page_generator()
    monkeypatch.setattr(gen, "PAGES", tmp_path / "pages")
    run = tmp_path / "run"
    (run / "sub").mkdir(parents=True)
    (run / "a.png").write_bytes(b"png a")
    (run / "sub" / "b.png").write_bytes(b"png b")
    (run / "report.md").write_text(
        "# sde\n\nReproduces: something\n\n## Figures\n\n![a](a.png) ![b](sub/b.png)\n\n"
        "J = [[0, 1] [-1, 0]], `x[0]`; [the results](results.zarr)\n")
    exp = get_experiment("sde")
    gen.write_page(exp, run, {"sde": exp})
    page = (tmp_path / "pages" / "sde" / "index.md").read_text()
    assert f"**Reproduces:** {exp.reproduces}" in page and "Reproduces: something" not in page
    assert "\n### Figures\n" in page and "\n# sde\n" not in page.split("\n", 1)[1]
    assert "![a](a.png) ![b](sub/b.png)" in page
    assert (tmp_path / "pages" / "sde" / "sub" / "b.png").read_bytes() == b"png b"
    assert r"J = \[\[0, 1\] \[-1, 0\]\], `x[0]`; the results (`results.zarr`)" in page
    (run / "a.png").unlink()
    with pytest.raises(SystemExit, match="a.png"):
        gen.write_page(exp, run, {"sde": exp})


def _section_blocks(page: str, heading: str | None = None) -> list[str]:
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    if heading is not None:
        text = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_home_page_and_first_library_call_run():
    """The code of the home page and of getting started's first library call, executed; their
    comments' numbers hold (the Dirac-GAN's ±f′(0)i, R1's −γ/2, every seed converged)."""
    blocks = _section_blocks("index.md") + _section_blocks("getting-started.md",
                                                           "A first library call")
    assert len(blocks) == 2
    namespace: dict = {"__name__": "docs_pages"}
    for block in blocks:
        exec(compile(block, "docs", "exec"), namespace)
    np = pytest.importorskip("numpy")
    eig = namespace["gf"].analysis.eigenvalues(namespace["field"], namespace["game"].equilibrium())
    np.testing.assert_allclose(np.sort(np.asarray(eig.real)), [-0.5, -0.5], atol=1e-12)
    assert set(namespace["sol"].status_names) == {"converged"}
    assert float(np.max(namespace["sol"].final_distance)) < 1e-30
