"""Every image link of a written report opens, whatever `--out` was: relative to the working
folder (the README's examples, the default folder) or absolute. Runs the example study
(docs/examples/dirac_gda_study.py) and one built-in experiment (`sde`) at tiny sizes."""

import pathlib
import re

import pytest

from ganflow.studies import main
from tests.test_dataset_names import assert_every_group_selectable

STUDY = pathlib.Path(__file__).resolve().parents[1] / "docs" / "examples" / "dirac_gda_study.py"
_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
_PNG = b"\x89PNG\r\n\x1a\n"


def image_links(report: pathlib.Path) -> list[str]:
    """The targets of the markdown image links of `report`."""
    return _IMAGE.findall(report.read_text())


def assert_links_open(report: pathlib.Path, at_least: int = 1) -> None:
    """Every image link of `report`, resolved against the report's folder (as a markdown viewer
    does), is a PNG file; there are at least `at_least` of them; none is absolute."""
    links = image_links(report)
    assert len(links) >= at_least, (report, links)
    for link in links:
        assert not pathlib.PurePath(link).is_absolute(), link
        target = report.parent / link
        assert target.is_file(), f"{report}: {link} does not open"
        with open(target, "rb") as f:
            assert f.read(8) == _PNG, target


RUNS = {
    "study": [str(STUDY), "--quick", "--set", "etas=[0.1]", "--set", "num_steps=20"],
    "sde": ["sde", "--quick", "--set", "seeds=8", "--set", "t1=0.5"],
}


@pytest.mark.parametrize("name", list(RUNS))
def test_report_links_open_for_relative_and_absolute_out(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    relative = pathlib.Path("runs") / "nested" / name
    absolute = tmp_path / "abs" / name
    for out in (relative, absolute):
        assert main(["run", *RUNS[name], "--out", str(out), "--no-progress"]) == 0
        folder = out if out.is_absolute() else tmp_path / out
        assert_links_open(folder / "report.md")
        assert assert_every_group_selectable(folder) >= 1


def test_image_links_finds_every_image():
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        report = pathlib.Path(tmp) / "report.md"
        report.write_text("a ![x](x.png) b ![y z](sub/y.png)\n[not an image](r.md)\n")
        assert image_links(report) == ["x.png", "sub/y.png"]
        with pytest.raises(AssertionError, match="does not open"):
            assert_links_open(report)
