"""The main job `ganflow`: report contents against closed forms, figures, section errors, and the
lazy matplotlib import."""

import math
import re
import subprocess
import sys

import numpy as np
import pytest

from ganflow.experiments import _cli, _sections
from ganflow.experiments._report import SectionResult
from ganflow.experiments._sections import (
    Section,
    closed_form_eigenvalues,
    format_eigenvalues,
    measured_verdict,
)

_NUMBER = re.compile(r"([+-]\d+\.\d+)([+-]\d+\.\d+)i")


def _parse(cell: str) -> np.ndarray:
    """'+0.000000+0.500000i; +0.000000-0.500000i' -> complex array, sorted."""
    values = [complex(float(a), float(b)) for a, b in _NUMBER.findall(cell)]
    return np.sort_complex(np.array(values))


def _rows(report: str) -> dict[tuple[str, str, str], list[str]]:
    """The spectra table: (game, loss, first word of dynamics) -> cells."""
    rows = {}
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| game | loss | dynamics"))
    header = [c.strip() for c in lines[start].strip("|").split(" | ")]
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        assert len(cells) == len(header), line
        rows[(cells[0], cells[1], cells[2].split()[0])] = dict(zip(header, cells))
    return rows


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ganflow-out")
    code = _cli.main(["--quick", "--out", str(out), "--only", "spectra"])
    return code, out


def test_quick_run_writes_report_with_closed_form_eigenvalues(quick_run):
    code, out = quick_run
    assert code == 0
    report = (out / "report.md").read_text()
    rows = _rows(report)
    # 2 games x 2 losses (quick: gan, wgan; the full run adds nsgan) x 3 dynamics
    assert len(rows) == 12
    h = 0.1
    # Dirac-GAN: J(0) has eigenvalues ±f'(0) i (Mescheder 2018): f'(0) = 1/2 (GAN), 1 (WGAN)
    for loss, f1 in (("gan", 0.5), ("wgan", 1.0)):
        eigs = _parse(rows[("Dirac-GAN", loss, "gradient")]["eigenvalues (ganflow)"])
        np.testing.assert_allclose(eigs, [-1j * f1, 1j * f1], atol=1e-6)
        # simultaneous: 1 ± i h f'(0), radius sqrt(1 + h² f'(0)²) > 1
        sim = _parse(rows[("Dirac-GAN", loss, "simultaneous")]["eigenvalues (ganflow)"])
        np.testing.assert_allclose(sim, [1 - 1j * h * f1, 1 + 1j * h * f1], atol=1e-6)
        radius = float(rows[("Dirac-GAN", loss, "simultaneous")]["stability value"].split("=")[1])
        assert radius == pytest.approx(math.sqrt(1 + h**2 * f1**2), abs=1e-6)
        # alternating: 1 − α²/2 ± i sqrt(1 − (1 − α²/2)²), α = h f'(0): on the unit circle
        alt = _parse(rows[("Dirac-GAN", loss, "alternating")]["eigenvalues (ganflow)"])
        a = h * f1
        re_part = 1 - a**2 / 2
        im_part = math.sqrt(1 - re_part**2)
        np.testing.assert_allclose(alt, [re_part - 1j * im_part, re_part + 1j * im_part], atol=1e-6)
        np.testing.assert_allclose(np.abs(alt), 1.0, atol=1e-6)
    # NK-2D at (a, w2) = (1, 0): J = [[0, 2f'/3], [-2f'/3, 2f''/5]]
    gan = _parse(rows[("NK-2D", "gan", "gradient")]["eigenvalues (ganflow)"])
    np.testing.assert_allclose(
        gan, [-0.05 - 1j * math.sqrt(1 / 9 - 1 / 400), -0.05 + 1j * math.sqrt(1 / 9 - 1 / 400)],
        atol=1e-6)
    wgan = _parse(rows[("NK-2D", "wgan", "gradient")]["eigenvalues (ganflow)"])
    np.testing.assert_allclose(wgan, [-2j / 3, 2j / 3], atol=1e-6)
    # the verdicts: GAN on NK-2D converges (Hurwitz), WGAN orbits, simultaneous Dirac diverges
    assert rows[("NK-2D", "gan", "gradient")]["converges? (simulated)"].startswith("yes")
    assert "orbits" in rows[("NK-2D", "wgan", "gradient")]["converges? (simulated)"]
    assert "orbits" in rows[("Dirac-GAN", "wgan", "alternating")]["converges? (simulated)"]
    assert "diverges" in rows[("Dirac-GAN", "wgan", "simultaneous")]["converges? (simulated)"]
    assert all(r["agree?"] in ("yes", "n/a (neutral)") for r in rows.values())
    assert "Each row is one game" in report  # the report explains its rows


def test_quick_run_writes_valid_png_figures(quick_run):
    import matplotlib.image as mpimg

    _, out = quick_run
    pngs = sorted(out.glob("*.png"))
    names = {p.name for p in pngs}
    assert {"trajectories_diracgan.png", "spectra_diracgan.png", "trajectories_nk2d.png",
            "spectra_nk2d.png"} <= names
    report = (out / "report.md").read_text()
    for p in pngs:
        assert f"]({p.name})" in report
        img = mpimg.imread(p)
        assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 300
        colours = np.unique(img.reshape(-1, img.shape[-1]).round(2), axis=0)
        assert len(colours) > 50 and float(img[..., :3].std()) > 0.05


def test_unknown_section_is_an_error_naming_it(capsys):
    with pytest.raises(SystemExit) as exc:
        _cli.main(["--only", "spectra,nosuchsection"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "nosuchsection" in err and "spectra" in err
    with pytest.raises(SystemExit) as exc:
        _cli.main(["--nosuchflag"])
    assert exc.value.code == 2
    assert "--nosuchflag" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _cli.main(["--eta", "-1"])
    assert "eta" in capsys.readouterr().err


def test_a_failing_section_is_recorded_and_the_others_still_run(tmp_path, monkeypatch, capsys):
    calls = []

    def broken(config, out_dir):
        calls.append("broken")
        raise RuntimeError("deliberate failure")

    def fine(config, out_dir):
        calls.append("fine")
        (out_dir / "fine.txt").write_text("done")
        return SectionResult("a **fine** fragment")

    sections = {"broken": Section("broken", "A broken section", broken, "fails"),
                "fine": Section("fine", "A fine section", fine, "works")}
    monkeypatch.setattr(_sections, "SECTIONS", sections)
    code = _cli.main(["--out", str(tmp_path)])
    assert code == 1 and calls == ["broken", "fine"]
    report = (tmp_path / "report.md").read_text()
    assert "This section failed" in report and "deliberate failure" in report
    assert "a **fine** fragment" in report
    assert report.index("A broken section") < report.index("A fine section")
    assert "broken" in capsys.readouterr().err


def test_report_is_written_after_each_section(tmp_path, monkeypatch):
    seen = []

    def first(config, out_dir):
        return SectionResult("first fragment")

    def second(config, out_dir):
        seen.append((out_dir / "report.md").read_text())
        return SectionResult("second fragment")

    monkeypatch.setattr(_sections, "SECTIONS", {
        "first": Section("first", "First", first, ""),
        "second": Section("second", "Second", second, ""),
    })
    assert _cli.main(["--out", str(tmp_path)]) == 0
    assert "first fragment" in seen[0] and "second fragment" not in seen[0]


def test_closed_forms_and_verdicts():
    # Dirac-GAN GAN: c = 1/2, d = 0 (J = [[0, c], [-c, 0]])
    th = closed_form_eigenvalues(0.5, 0.0, 0.2)
    np.testing.assert_allclose(np.sort_complex(th["flow"]), [-0.5j, 0.5j], atol=1e-15)
    np.testing.assert_allclose(np.abs(th["simultaneous"]), math.sqrt(1 + 0.04 * 0.25))
    np.testing.assert_allclose(np.abs(th["alternating"]), 1.0, atol=1e-14)
    # NK-2D GAN alternating: |μ|² = 1 + h d with d = −1/10
    nk = closed_form_eigenvalues(1 / 3, -0.1, 0.1)
    np.testing.assert_allclose(np.abs(nk["alternating"]) ** 2, 0.99, atol=1e-14)
    t = np.linspace(0, 100, 1001)
    assert measured_verdict(t, np.exp(-0.05 * t))[0] == "converges"
    assert measured_verdict(t, np.exp(0.02 * t))[0] == "diverges"
    ellipse = np.hypot(np.cos(t), 0.5 * np.sin(t))  # a closed orbit, distance oscillating
    verdict, rate = measured_verdict(t, ellipse)
    assert verdict == "orbits" and abs(rate) < 1e-3
    assert measured_verdict(t, np.where(t > 50, np.inf, 1.0))[0] == "diverges"
    assert format_eigenvalues(np.array([0.5j, -0.5j])) == "+0.000000+0.500000i; +0.000000-0.500000i"


def test_import_ganflow_does_not_import_matplotlib():
    code = (
        "import sys, ganflow, ganflow.plotting, ganflow.experiments; "
        "print('matplotlib' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"


def test_python_dash_m_ganflow_entry_point():
    res = subprocess.run([sys.executable, "-m", "ganflow", "--only", "nosuch"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert "nosuch" in res.stderr and "spectra" in res.stderr


def _check_value(report: str, label: str) -> float:
    line = next(line for line in report.splitlines() if line.startswith(f"| {label}"))
    return float(line.rstrip(" |").rsplit("|", 1)[1])


def test_sde_section_matches_the_exact_mean(tmp_path):
    """R1 Dirac-GAN with the WGAN loss is linear, b = Ax, A = [[0, 1], [−1, −1]]: the ODE solve
    equals e^{tA}x0 and the Euler–Maruyama ensemble mean equals (I + dt A)^k x0 up to Monte Carlo
    error."""
    assert _cli.main(["--quick", "--out", str(tmp_path), "--only", "sde"]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "| seeds finite at the end | 256 / 256 |" in report
    z = _check_value(report, "max over t of \\|ensemble mean − (I + dt A)^k x0\\|")
    assert z < 4.5  # max over 100 correlated |z| values of a correct mean
    ode = _check_value(report, "max over t of \\|ODE solve")
    assert ode < 1e-8
    bias = _check_value(report, "max over t of \\|(I + dt A)^k x0 − e^(tA) x0\\|")
    assert 1e-3 < bias < 2e-2  # the O(dt) weak error of Euler–Maruyama at dt = 0.01
    import matplotlib.image as mpimg

    img = mpimg.imread(tmp_path / "sde_ensemble.png")
    assert img.ndim == 3 and float(img[..., :3].std()) > 0.05


@pytest.mark.slow
def test_every_section_quick(tmp_path):
    """The default section list end to end in quick mode (atlas, sde and weak-error too)."""
    assert _cli.main(["--quick", "--out", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    for name in _sections.SECTIONS:
        assert f"| {name} | ok |" in report
    weak = [line for line in report.splitlines() if line.startswith("| simultaneous |")
            or line.startswith("| alternating |")]
    assert len(weak) == 4 and all(line.rstrip(" |").endswith("yes") for line in weak)
    assert {p.name for p in tmp_path.glob("*.png")} >= {"atlas.png", "sde_ensemble.png",
                                                      "weak_error.png"}
