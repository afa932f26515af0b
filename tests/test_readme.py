"""Executes the README's API tour: every ```python block, in order, in one namespace."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_has_two_quickstart_commands():
    text = README.read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```(?:bash|sh)\n(.*?)```", quick, flags=re.S)
    lines = [ln for block in commands for ln in block.strip().splitlines() if ln.strip()]
    assert lines == ["make run", "make test"], lines


def test_readme_api_tour_runs(tmp_path, monkeypatch):
    blocks = _python_blocks(README.read_text())
    assert len(blocks) >= 5, "the API tour lost its code blocks"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme_tour"}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"README.md[block {i}]", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the message is what matters
            raise AssertionError(f"README block {i} failed:\n{block}") from exc
