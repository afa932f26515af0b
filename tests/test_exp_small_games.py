"""The four small-game experiments (spectra, atlas, sde, weak-error) as registered
experiments: each quick preset run into a folder through `run_experiment`, its labelled results
(`results.zarr`) and report checked against closed forms, and the report rewritten from the saved
results alone (nothing recomputed) equal to the first."""

import dataclasses
import math
import re

import numpy as np
import pytest

from ganflow.experiments._exp_spectra import format_eigenvalues
from ganflow.studies import (
    ConfigError,
    RunOptions,
    config_to_toml,
    get_experiment,
    make_config,
    open_results,
    run_experiment,
    write_report,
)

NAMES = ("spectra", "atlas", "sde", "weak-error")
_NUMBER = re.compile(r"([+-]\d+\.\d+)([+-]\d+\.\d+)i")


def _parse(cell: str) -> np.ndarray:
    """'+0.000000+0.500000i; +0.000000-0.500000i' -> complex array, sorted."""
    values = [complex(float(a), float(b)) for a, b in _NUMBER.findall(cell)]
    return np.sort_complex(np.array(values))


def _table(report: str, first: str) -> list[dict[str, str]]:
    """The rows of the Markdown table whose header starts with `| first`."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first}"))
    header = [c.strip() for c in re.split(r"(?<!\\)\|", lines[start].strip().strip("|"))]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        assert len(cells) == len(header), line
        rows.append(dict(zip(header, cells)))
    return rows


def _check_value(report: str, label: str) -> float:
    line = next(line for line in report.splitlines() if line.startswith(f"| {label}"))
    return float(line.rstrip(" |").rsplit("|", 1)[1])


def _run(name, folder, **overrides):
    exp = get_experiment(name)
    config = make_config(exp, overrides, base=exp.preset("quick"))
    path = run_experiment(exp, config, folder, RunOptions())
    return exp, config, path.read_text()


def _assert_png(path):
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 300
    assert float(img[..., :3].std()) > 0.05


@pytest.fixture
def no_compute(monkeypatch):
    """Every function that computes results raises: a report must come from the saved data."""
    import ganflow.analysis
    import ganflow.continuous
    import ganflow.training

    def refuse(*args, **kwargs):
        raise AssertionError("the report recomputed results")

    for module, name in ((ganflow.training, "run"), (ganflow.training, "run_grid"),
                         (ganflow.continuous, "sde_ensemble"), (ganflow.continuous, "solve_ode"),
                         (ganflow.analysis, "deterministic_weak_error"),
                         (ganflow.analysis, "update_stability"),
                         (ganflow.analysis, "convergence_atlas")):
        monkeypatch.setattr(module, name, refuse)


def _rewrite_from_saved(exp, config, folder, first_report):
    """Removes the figures and the report, rewrites them from results.zarr alone and checks that
    the report is the same, byte for byte, and every figure is back."""
    figures = sorted(p.name for p in folder.glob("*.png"))
    assert figures
    for p in folder.glob("*.png"):
        p.unlink()
    (folder / "report.md").unlink()
    again = write_report(exp, config, folder).read_text()
    assert again == first_report
    assert sorted(p.name for p in folder.glob("*.png")) == figures


# ---------------------------------------------------------------------------------------------
# registry


def test_the_four_experiments_are_registered_with_documented_configs():
    from ganflow.studies._registry import _field_docs

    for name in NAMES:
        exp = get_experiment(name)
        assert "quick" in exp.presets and exp.quick_runtime and exp.full_runtime != "?"
        docs = _field_docs(exp.config)
        fields = [f.name for f in dataclasses.fields(exp.config)]
        assert set(fields) == set(docs), name  # every field documented, nothing else
        assert "seed" in fields
        toml = config_to_toml(exp, exp.preset("quick"), "quick")
        assert all(f"\n{f} = " in toml for f in fields)
    assert "full" in get_experiment("atlas").presets
    assert get_experiment("atlas").preset("full").full is True


@pytest.mark.parametrize("name, values, words", [
    ("spectra", {"games": ("dirac", "mog")}, "mog"),
    ("spectra", {"horizon": 1.0}, "too short"),
    ("spectra", {"losses": ()}, "losses"),
    ("atlas", {"stabilisers": ("sga",)}, "sga need full = true"),
    ("atlas", {"schemes": ("adam",)}, "adam"),
    ("atlas", {"etas": (0.1, -1.0)}, "etas"),
    ("sde", {"t1": 1.0, "dt": 0.3}, "whole number"),
    ("sde", {"save_every": 7}, "save_every"),
    ("weak-error", {"etas": (0.1,)}, "two"),
    ("weak-error", {"loss": "hinge"}, "hinge"),
])
def test_bad_configs_are_one_line_errors(name, values, words):
    exp = get_experiment(name)
    with pytest.raises(ConfigError, match=words) as err:
        make_config(exp, values)
    assert "\n" not in str(err.value)
    make_config(get_experiment("atlas"), {"full": True, "stabilisers": ("sga",)})  # fine there


def test_eigenvalue_text():
    assert format_eigenvalues(np.array([0.5j, -0.5j])) == "+0.000000+0.500000i; +0.000000-0.500000i"


# ---------------------------------------------------------------------------------------------
# spectra


@pytest.fixture(scope="module")
def spectra_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spectra")
    exp, config, report = _run("spectra", folder)
    return exp, config, folder, report


def test_spectra_results_are_labelled_and_match_the_closed_forms(spectra_run):
    _, config, folder, _ = spectra_run
    ds = open_results(folder)["spectra"]
    assert list(ds["game"].values) == ["Dirac-GAN", "NK-2D"]
    assert list(ds["loss"].values) == ["gan", "wgan"]  # quick: the full run adds nsgan
    assert list(ds["dynamics"].values) == ["flow", "simultaneous", "alternating"]
    n = config.num_steps
    assert ds["path"].dims == ("game", "loss", "dynamics", "time", "coord")
    assert ds["path"].shape == (2, 2, 3, n + 1, 2) and ds.sizes["eig"] == 2
    np.testing.assert_allclose(ds["time"].values, np.arange(n + 1) * config.eta)
    eig = ds["eig_real"].values + 1j * ds["eig_imag"].values
    h = config.eta
    for li, f1 in enumerate((0.5, 1.0)):  # Dirac-GAN: J(0) has eigenvalues ±f'(0)i
        np.testing.assert_allclose(eig[0, li, 0], [1j * f1, -1j * f1], atol=1e-12)
        np.testing.assert_allclose(np.abs(eig[0, li, 1]), math.sqrt(1 + h**2 * f1**2),
                                   atol=1e-12)
        np.testing.assert_allclose(np.abs(eig[0, li, 2]), 1.0, atol=1e-12)
    # the closed forms are stored beside ganflow's values and agree with them
    theory = ds["theory_real"].values + 1j * ds["theory_imag"].values
    np.testing.assert_allclose(eig, theory, atol=1e-8)
    assert float(ds["eig_error"].max()) < 1e-8
    # distances are the distances of the stored paths to x*
    dist = np.linalg.norm(ds["path"].values - ds["x_star"].values[:, None, None, None], axis=-1)
    np.testing.assert_allclose(ds["distance"].values, dist)
    np.testing.assert_allclose(ds["distance"].values[..., 0], 0.3 * math.sqrt(2))


def test_spectra_report_has_closed_form_eigenvalues_and_verdicts(spectra_run):
    _, _, folder, report = spectra_run
    rows = {(r["game"], r["loss"], r["dynamics"].split()[0]): r
            for r in _table(report, "game | loss | dynamics")}
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
        np.testing.assert_allclose(alt, [re_part - 1j * im_part, re_part + 1j * im_part],
                                   atol=1e-6)
        np.testing.assert_allclose(np.abs(alt), 1.0, atol=1e-6)
    # NK-2D at (a, w2) = (1, 0): J = [[0, 2f'/3], [-2f'/3, 2f''/5]]
    gan = _parse(rows[("NK-2D", "gan", "gradient")]["eigenvalues (ganflow)"])
    np.testing.assert_allclose(
        gan, [-0.05 - 1j * math.sqrt(1 / 9 - 1 / 400), -0.05 + 1j * math.sqrt(1 / 9 - 1 / 400)],
        atol=1e-6)
    wgan = _parse(rows[("NK-2D", "wgan", "gradient")]["eigenvalues (ganflow)"])
    np.testing.assert_allclose(wgan, [-2j / 3, 2j / 3], atol=1e-6)
    # the verdicts: GAN on NK-2D converges (Hurwitz), WGAN orbits, simultaneous Dirac diverges
    # (within the horizon it contracts, not yet to 1e-10 of its start: `slow`)
    assert rows[("NK-2D", "gan", "gradient")]["converges? (simulated)"].startswith("yes: slow")
    assert "orbits" in rows[("NK-2D", "wgan", "gradient")]["converges? (simulated)"]
    assert "orbits" in rows[("Dirac-GAN", "wgan", "alternating")]["converges? (simulated)"]
    assert "diverges" in rows[("Dirac-GAN", "wgan", "simultaneous")]["converges? (simulated)"]
    assert all(r["agree?"] in ("yes", "n/a (neutral)") for r in rows.values())
    assert "Each row is one game" in report  # the report explains its rows
    assert "Every ganflow spectrum matches its closed form to 1e-8." in report
    names = {p.name for p in folder.glob("*.png")}
    assert names == {"trajectories_diracgan.png", "spectra_diracgan.png",
                     "trajectories_nk2d.png", "spectra_nk2d.png"}
    for name in names:
        assert f"]({name})" in report
        _assert_png(folder / name)


def test_spectra_report_from_saved_results_alone(spectra_run, no_compute):
    exp, config, folder, report = spectra_run
    _rewrite_from_saved(exp, config, folder, report)


# ---------------------------------------------------------------------------------------------
# atlas


@pytest.fixture(scope="module")
def atlas_run(tmp_path_factory):
    """The quick atlas, and the `Atlas` that `convergence_atlas` returned inside the run."""
    import ganflow.analysis as atlas_module

    folder = tmp_path_factory.mktemp("atlas")
    seen = []
    original = atlas_module.convergence_atlas

    def spy(*args, **kwargs):
        seen.append(original(*args, **kwargs))
        return seen[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(atlas_module, "convergence_atlas", spy)
        exp, config, report = _run("atlas", folder)
    assert len(seen) == 1
    return exp, config, folder, report, seen[0]


def test_atlas_results_hold_every_column_per_cell_and_eta(atlas_run):
    from ganflow.analysis import Atlas
    from ganflow.experiments import Atlas as ExperimentsAtlas

    assert ExperimentsAtlas is Atlas  # one object, two import paths

    _, config, folder, report, _ = atlas_run
    ds = open_results(folder)["atlas"]
    # quick: Dirac-GAN (gan, wgan) x (none, r1) x alternating, eta 0.1 and 1
    assert ds.sizes == {"cell": 4, "eta": 2}
    np.testing.assert_array_equal(ds["eta"].values, [0.1, 1.0])
    cells = set(zip(*(ds[k].values.tolist() for k in ("game", "loss", "stabiliser", "scheme"))))
    assert cells == {("dirac", loss, stab, "alternating")
                     for loss in ("gan", "wgan") for stab in ("none", "r1")}
    columns = set(Atlas.COLUMNS) - {"game", "loss", "stabiliser", "scheme", "eta"}
    assert columns <= set(ds.data_vars)
    assert all(ds[c].dims == ("cell", "eta") for c in columns)
    # alternating GD on the unregularised Dirac-GAN: eigenvalues on the unit circle (ρ = 1 for
    # α = η f'(0) < 2), no seed converges; R1 makes x* attracting (ρ < 1)
    none = ds["stabiliser"].values == "none"
    np.testing.assert_allclose(ds["rho_theory"].values[none], 1.0, atol=1e-9)
    assert np.all(ds["frac_converged"].values[none] == 0.0)
    assert np.all(ds["rho_theory"].values[~none] < 1.0)
    rows = _table(report, "game | loss | stabiliser | scheme | eta")
    assert len(rows) == 8
    _assert_png(folder / "atlas.png")
    assert "](atlas.png)" in report


def test_atlas_results_round_trip_every_row(atlas_run):
    """The saved dataset keeps every column the atlas returned: the rows rebuilt from it equal
    the atlas's own rows, and so do the table, the agreement and the skipped combinations."""
    from ganflow.analysis import Atlas

    *_, folder, _, atlas = atlas_run
    again = Atlas.from_dataset(open_results(folder)["atlas"].load())
    assert len(again.rows) == len(atlas.rows) == 8
    for a, b in zip(atlas.rows, again.rows):
        assert list(a) == list(b)
        for k in a:
            if isinstance(a[k], float) and math.isnan(a[k]):
                assert math.isnan(b[k]), k
            else:
                assert b[k] == a[k], k
    assert again.to_markdown() == atlas.to_markdown()
    assert again.agreement() == atlas.agreement()
    assert again.skipped == atlas.skipped
    assert set(again.cells) == set(atlas.cells)


def test_atlas_report_from_saved_results_alone(atlas_run, no_compute):
    exp, config, folder, report, _ = atlas_run
    _rewrite_from_saved(exp, config, folder, report)


# ---------------------------------------------------------------------------------------------
# sde


@pytest.fixture(scope="module")
def sde_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sde")
    exp, config, report = _run("sde", folder)
    return exp, config, folder, report


def test_sde_matches_the_exact_mean(sde_run):
    """R1 Dirac-GAN with the WGAN loss is linear, b = Ax, A = [[0, 1], [−1, −1]]: the ODE solve
    equals e^{tA}x0 and the Euler–Maruyama ensemble mean equals (I + dt A)^k x0 up to Monte Carlo
    error."""
    from scipy.linalg import expm

    _, config, folder, report = sde_run
    assert "| seeds finite at the end | 256 / 256 |" in report
    z = _check_value(report, "max over t of \\|ensemble mean − (I + dt A)^k x0\\|")
    assert z < 4.5  # max over 50 correlated |z| values of a correct mean
    ode = _check_value(report, "max over t of \\|ODE solve")
    assert ode < 1e-8
    bias = _check_value(report, "max over t of \\|(I + dt A)^k x0 − e^(tA) x0\\|")
    assert 1e-3 < bias < 2e-2  # the O(dt) weak error of Euler–Maruyama at dt = 0.01
    _assert_png(folder / "sde_ensemble.png")
    # the saved results: the engine's ensemble and the derived checks
    results = open_results(folder)
    ens, checks = results["sde"], results["sde_checks"]
    n_saves = round(config.t1 / config.dt) // config.save_every + 1
    assert ens["theta"].dims == ("seed", "step") and ens["theta"].shape == (256, n_saves)
    assert np.all(ens["status"].values == 0)
    np.testing.assert_allclose(ens["time"].values, checks["time"].values)
    np.testing.assert_allclose(checks["mean"].values[:, 0], ens["theta"].values.mean(axis=0))
    a = np.array([[0.0, 1.0], [-1.0, -config.gamma]])
    exact = np.stack([expm(t * a) @ np.ones(2) for t in checks["time"].values])
    np.testing.assert_allclose(checks["exact_mean"].values, exact, atol=1e-12)
    assert "- `sde`: ganflow" in report  # provenance of the engine run


def test_sde_report_from_saved_results_alone(sde_run, no_compute):
    exp, config, folder, report = sde_run
    _rewrite_from_saved(exp, config, folder, report)


# ---------------------------------------------------------------------------------------------
# weak-error


@pytest.fixture(scope="module")
def weak_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weak")
    exp, config, report = _run("weak-error", folder)
    return exp, config, folder, report


def test_weak_error_orders_match_cao_guo(weak_run):
    _, config, folder, report = weak_run
    ds = open_results(folder)["weak_error"]
    assert ds["errors"].dims == ("case", "eta")
    np.testing.assert_array_equal(ds["eta"].values, config.etas)
    cases = list(zip(ds["scheme"].values.tolist(), ds["against"].values.tolist()))
    assert cases == [("simultaneous", "flow"), ("simultaneous", "simultaneous"),
                     ("alternating", "flow"), ("alternating", "alternating")]
    np.testing.assert_array_equal(ds["expected_order"].values, [1, 2, 1, 2])
    np.testing.assert_allclose(ds["slope"].values, ds["expected_order"].values, atol=0.1)
    assert np.all(np.diff(ds["errors"].values, axis=1) < 0)  # smaller η, smaller error
    assert np.all(ds["ci_low"].values < ds["slope"].values)
    rows = _table(report, "scheme | against")
    assert len(rows) == 4 and all(r["order ± 0.1"] == "consistent" for r in rows)
    assert "Every fitted order's 95 % interval lies within 0.1 of the theorem's" in report
    _assert_png(folder / "weak_error.png")


def test_weak_error_report_from_saved_results_alone(weak_run, no_compute):
    exp, config, folder, report = weak_run
    _rewrite_from_saved(exp, config, folder, report)


# ---------------------------------------------------------------------------------------------
# defaults


@pytest.mark.slow
@pytest.mark.parametrize("name", ["spectra", "sde", "weak-error"])
def test_default_presets(tmp_path, name):
    """The default settings (the full run of the main job before the registry)."""
    exp = get_experiment(name)
    report = run_experiment(exp, exp.preset("default"), tmp_path, RunOptions()).read_text()
    if name == "spectra":
        rows = _table(report, "game | loss | dynamics")
        assert len(rows) == 18  # 2 games x 3 losses x 3 dynamics
        assert all(r["agree?"] in ("yes", "n/a (neutral)") for r in rows)
        assert "Every ganflow spectrum matches its closed form to 1e-8." in report
    elif name == "sde":
        assert "| seeds finite at the end | 4096 / 4096 |" in report
        assert _check_value(report, "max over t of \\|ensemble mean − (I + dt A)^k x0\\|") < 4.5
    else:
        rows = _table(report, "scheme | against")
        assert len(rows) == 5 and all(r["order ± 0.1"] == "consistent" for r in rows)


@pytest.mark.slow
def test_default_atlas(tmp_path):
    exp = get_experiment("atlas")
    report = run_experiment(exp, exp.preset("default"), tmp_path, RunOptions()).read_text()
    ds = open_results(tmp_path)["atlas"]
    assert ds.sizes["eta"] == 5 and ds.sizes["cell"] > 40
    assert "Combinations that do not apply" in report  # R1 on the data-free bilinear game


@pytest.mark.slow
def test_main_job_quick(tmp_path):
    """`ganflow --quick`: the four experiments end to end, each in its own folder, linked from
    one report."""
    from ganflow.studies import _cli

    assert _cli.main(["--quick", "--out", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    for name in NAMES:
        assert f"| {name} | ok |" in report
        assert (tmp_path / name / "results.zarr").is_dir()
    weak = _table((tmp_path / "weak-error" / "report.md").read_text(), "scheme | against")
    assert len(weak) == 4 and all(r["order ± 0.1"] == "consistent" for r in weak)
    assert {"atlas.png", "sde_ensemble.png", "weak_error.png", "spectra_diracgan.png"} <= {
        p.name for p in tmp_path.glob("*/*.png")}
