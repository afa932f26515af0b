"""Executes docs/adding.md: every ```python block, in order, in one namespace."""

import pathlib
import re

GUIDE = pathlib.Path(__file__).resolve().parent.parent / "docs" / "adding.md"


def test_the_adding_guide_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
    assert len(blocks) == 4, "the guide has a block for a game, a stabiliser, a scheme, a study"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "adding_guide"}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"docs/adding.md[block {i}]", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the message is what matters
            raise AssertionError(f"docs/adding.md block {i} failed:\n{block}") from exc
