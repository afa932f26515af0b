"""The convergence atlas: its theory columns equal closed forms, its measured rates equal ρ(F′(x*))
and its verdicts (converges / slow / orbits / diverges) agree with the theory's — a short budget
reads as `slow`, not as "does not converge"."""

import math

import numpy as np
import pytest

from ganflow.analysis import THEORY_VERDICTS, VERDICTS, Atlas, atlas_catalogue, convergence_atlas
from tests.helpers import F_PRIME

ETAS = (0.03, 0.1, 0.5, 2.5)
STEPS = 300
FP = {loss: F_PRIME[loss] for loss in ("gan", "wgan")}  # the losses the atlas plays


# three small atlases, 11 compiled cells in all (compilation dominates their cost)
@pytest.fixture(scope="module")
def dirac():
    """Dirac-GAN × {GAN, WGAN} × {none, R1(1)} × {simultaneous, alternating}, 4 η, 300 steps."""
    return convergence_atlas(games=("dirac",), stabilisers=("none", "r1"),
                             schemes=("simultaneous", "alternating"), etas=ETAS, num_seeds=16,
                             num_steps=STEPS)


@pytest.fixture(scope="module")
def bilinear():
    """Bilinear × {consensus(0.5), R1 (does not apply)} × simultaneous."""
    return convergence_atlas(games=("bilinear",), stabilisers=("consensus", "r1"),
                             schemes=("simultaneous",), etas=(0.1, 0.5, 2.5), num_seeds=16,
                             num_steps=STEPS)


@pytest.fixture(scope="module")
def long_budget():
    """The R1 Dirac-GAN cells at η = 0.03 again, with 4× the budget."""
    return convergence_atlas(games=("dirac",), stabilisers=("r1",), schemes=("simultaneous",),
                             etas=(0.03,), num_seeds=16, num_steps=4 * STEPS)


def _row(atlas, **kw):
    rows = [r for r in atlas.rows if all(r[k] == v for k, v in kw.items())]
    assert len(rows) == 1, kw
    return rows[0]


def _r1_rho(eta, fp, scheme):
    """ρ(F′) of R1(γ = 1) on the Dirac-GAN (Φ = f(0) + f(−ψθ) − (γ/2)ψ² for the discriminator):
    J = [[0, f′], [−f′, −γ]] at 0, eigenvalues −γ/2 ± sqrt(γ²/4 − f′²); simultaneous
    F′ = I + ηJ; alternating (ψ first, then θ at the new ψ)
    F′ = [[1 − η²f′², ηf′(1 − ηγ)], [−ηf′, 1 − ηγ]]."""
    j = np.array([[0.0, fp], [-fp, -1.0]])
    if scheme == "simultaneous":
        f = np.eye(2) + eta * j
    else:
        f = np.array([[1 - eta**2 * fp**2, eta * fp * (1 - eta)], [-eta * fp, 1 - eta]])
    return float(np.max(np.abs(np.linalg.eigvals(f))))


# ---------------------------------------------------------------------------------------------
# the theory columns


def test_atlas_theory_columns_closed_forms(dirac, bilinear):
    for eta in ETAS:
        for loss, fp in FP.items():
            # Dirac, simultaneous: |λ| = sqrt(1 + η² f′(0)²); alternating: on the unit circle
            r = _row(dirac, loss=loss, stabiliser="none", scheme="simultaneous", eta=eta)
            assert r["rho_theory"] == pytest.approx(np.sqrt(1 + eta**2 * fp**2), rel=1e-12)
            # modified field b − (η/2)Jb: J² = −f′² I, eigenvalues (η/2)f′² ± i f′
            assert r["max_re_eig_modified"] == pytest.approx(eta / 2 * fp**2, rel=1e-10)
            a = eta * fp  # alternating, n_g = n_d = 1: λ = 1 − a²/2 ± sqrt((1 − a²/2)² − 1)
            r = _row(dirac, loss=loss, stabiliser="none", scheme="alternating", eta=eta)
            lam = 1 - a**2 / 2 + np.array([1, -1]) * np.sqrt(complex((1 - a**2 / 2) ** 2 - 1))
            assert r["rho_theory"] == pytest.approx(np.max(np.abs(lam)), rel=1e-12)
            # R1 (γ = 1): J eigenvalues −γ/2 ± sqrt(γ²/4 − f′²); ρ = max |1 + ηλ|
            lam = -0.5 + np.array([1, -1]) * np.sqrt(complex(0.25 - fp**2))
            r = _row(dirac, loss=loss, stabiliser="r1", scheme="simultaneous", eta=eta)
            assert r["rho_theory"] == pytest.approx(np.max(np.abs(1 + eta * lam)), rel=1e-7)
            assert r["rho_theory"] == pytest.approx(_r1_rho(eta, fp, "simultaneous"), rel=1e-7)
            # (γ = 1, f′ = 1/2 is a double eigenvalue: sensitive at sqrt(machine eps))
            assert r["max_re_eig_field"] == pytest.approx(-0.5, rel=1e-7)
            r = _row(dirac, loss=loss, stabiliser="r1", scheme="alternating", eta=eta)
            assert r["rho_theory"] == pytest.approx(_r1_rho(eta, fp, "alternating"), rel=1e-7)
    # bilinear consensus (γ = 0.5): J − γJᵀJ has eigenvalues −γ ± i
    for eta in (0.1, 0.5, 2.5):
        r = _row(bilinear, game="bilinear", stabiliser="consensus", eta=eta)
        assert r["rho_theory"] == pytest.approx(abs(1 + eta * (-0.5 + 1j)), rel=1e-12)
    # R1 needs a GAN game: skipped on bilinear, with the reason
    assert any(s[0] == "bilinear" and s[2] == "r1" and "R1" in s[4] for s in bilinear.skipped)


# ---------------------------------------------------------------------------------------------
# the verdicts on closed forms


def test_simultaneous_gd_diverges_at_the_predicted_rate(dirac):
    """|λ| = sqrt(1 + η² f′(0)²) > 1 for every η: `diverges`, measured and in theory, at the
    rate |λ| per step — exactly for the (linear) WGAN, to the nonlinearity of the logistic loss
    (fit in the local regime, where ‖x − x*‖ ≤ 10 ‖x0 − x*‖) for the GAN."""
    for loss, fp in FP.items():
        for eta in ETAS:
            r = _row(dirac, loss=loss, stabiliser="none", scheme="simultaneous", eta=eta)
            lam = math.sqrt(1 + eta**2 * fp**2)
            assert (r["verdict"], r["verdict_theory"], r["agree"]) == ("diverges", "diverges", True)
            assert r["frac_converged"] == 0.0
            assert r["rate_measured"] == pytest.approx(lam, rel=1e-12 if loss == "wgan" else 5e-3)
            assert r["rate_rel_err"] == pytest.approx(abs(r["rate_measured"] - lam) / lam)
            assert math.isnan(r["steps_to_tol"])
    # ρ = sqrt(1 + 0.03² / 4) = 1.0001125: 3.4 % growth in 300 steps, still `diverges`
    r = _row(dirac, loss="gan", stabiliser="none", scheme="simultaneous", eta=0.03)
    assert r["frac_diverged"] == 0.0 and r["rate_band"] < 1e-4
    # the WGAN at η = 2.5 reaches the blow-up bound: flagged diverged by the engine
    assert _row(dirac, loss="wgan", stabiliser="none", scheme="simultaneous",
                eta=2.5)["frac_diverged"] == 1.0


def test_alternating_gd_orbits(dirac):
    """Alternating GD on the Dirac-GAN: |λ| = 1 while α = ηf′(0) < 2 (`orbits`: the distance
    oscillates, no trend beyond the band); WGAN at η = 2.5 (α = 2.5): real λ, ρ = 4, `diverges`."""
    for loss, fp in FP.items():
        for eta in ETAS:
            r = _row(dirac, loss=loss, stabiliser="none", scheme="alternating", eta=eta)
            if eta * fp < 2:
                assert (r["verdict"], r["verdict_theory"]) == ("orbits", "orbits")
                assert abs(r["rho_theory"] - 1) < 1e-12
                assert abs(math.log(r["rate_measured"])) <= r["rate_band"] < 0.01
            else:
                assert (r["verdict"], r["verdict_theory"]) == ("diverges", "diverges")
                assert r["rho_theory"] == pytest.approx(4.0, rel=1e-12)
            assert r["agree"] and r["frac_converged"] == 0.0


def test_short_budget_is_slow_then_converges(dirac, long_budget):
    """R1 at η = 0.03 contracts at ρ ≈ 0.985 (WGAN: ρ² = 1 − η + η²) but needs n* ≈ 800 > 300
    steps: `slow`, with the rate ρ measured and n* reported; with 1200 steps, `converges`."""
    for scheme in ("simultaneous", "alternating"):
        r = _row(dirac, loss="wgan", stabiliser="r1", scheme=scheme, eta=0.03)
        assert (r["verdict"], r["verdict_theory"], r["agree"]) == ("slow", "converges", True)
        assert r["frac_converged"] == 0.0 and r["frac_diverged"] == 0.0
        assert r["rate_measured"] == pytest.approx(r["rho_theory"], rel=1e-3)
        assert STEPS < r["steps_to_tol"] < 4 * STEPS
    assert _row(dirac, loss="wgan", stabiliser="r1", scheme="simultaneous",
                eta=0.03)["rho_theory"] == pytest.approx(math.sqrt(1 - 0.03 + 0.03**2), rel=1e-12)
    for loss in FP:
        short = _row(dirac, loss=loss, stabiliser="r1", scheme="simultaneous", eta=0.03)
        long = _row(long_budget, loss=loss, stabiliser="r1", scheme="simultaneous", eta=0.03)
        assert short["verdict"] == "slow" and long["verdict"] == "converges"
        assert long["frac_converged"] == 1.0 and long["agree"]
        assert long["steps_to_tol"] == short["steps_to_tol"] < 4 * STEPS
        # the GAN's J has a double eigenvalue −1/2: the k·ρ^k transient biases the fit a little
        assert long["rate_measured"] == pytest.approx(long["rho_theory"], rel=1e-2)
    # where ρ is small the run converges outright, at about the rate ρ
    r = _row(dirac, loss="wgan", stabiliser="r1", scheme="alternating", eta=0.5)
    assert r["verdict"] == "converges" and r["frac_converged"] == 1.0
    assert r["rate_measured"] == pytest.approx(r["rho_theory"], rel=2e-3)


def test_verdicts_agree_with_theory(dirac, bilinear, long_budget):
    for atlas in (dirac, bilinear, long_budget):
        assert atlas.agreement() == 1.0
        for r in atlas.rows:
            assert r["verdict"] in VERDICTS and r["verdict_theory"] in THEORY_VERDICTS
            # a short budget never reads as "does not converge"
            if r["verdict_theory"] == "converges":
                assert r["verdict"] in ("converges", "slow")
            if r["verdict"] == "converges":
                assert r["frac_converged"] == 1.0
    r = _row(bilinear, stabiliser="consensus", eta=0.1)  # ρ = 0.951: converges in ~300 steps
    assert r["verdict"] in ("converges", "slow")
    assert r["rate_measured"] == pytest.approx(r["rho_theory"], rel=2e-3)
    assert dirac.verdict_counts() == {v: sum(r["verdict"] == v for r in dirac.rows)
                                      for v in VERDICTS}
    assert set(dirac.verdict_counts().values()) != {0}


# ---------------------------------------------------------------------------------------------
# table, figure data, figure


def test_atlas_table_figure_data_and_figure(dirac, bilinear, tmp_path):
    md = dirac.to_markdown().splitlines()
    assert md[0].startswith("| game | loss | stabiliser | scheme | eta")
    for col in ("rate_measured", "rho_theory", "rate_rel_err", "verdict", "verdict_theory",
                "agree", "steps_to_tol"):
        assert f"| {col} |" in md[0]
    assert len(md) == 2 + len(dirac.rows)
    assert any("| slow | converges | True | " in line for line in md)
    # dirac: 2 losses × 2 stabilisers × 2 schemes × 4 η; bilinear: consensus only (R1 skipped)
    assert len(dirac.rows) == 2 * 2 * 2 * 4
    assert len(bilinear.rows) == 3
    fig = dirac.figure_data()
    cell = fig["dirac/wgan/r1/simultaneous"]
    assert set(cell) >= {"eta", "frac_converged", "rho_theory", "rate_measured", "verdict",
                         "verdict_theory", "agree", "rate_rel_err", "steps_to_tol"}
    np.testing.assert_array_equal(cell["eta"], ETAS)
    assert cell["verdict"].tolist() == [
        _row(dirac, loss="wgan", stabiliser="r1", scheme="simultaneous", eta=e)["verdict"]
        for e in ETAS]
    # the heatmap shows the verdicts (one word per cell)
    from ganflow.plotting._atlas import VERDICT_STYLE

    assert tuple(VERDICT_STYLE) == Atlas.VERDICTS
    panels = dirac.heatmap_panels()
    methods, etas, frac, verdicts, agree = panels["dirac"]
    assert len(methods) == 8 and verdicts.shape == frac.shape == agree.shape == (8, 4)
    figure = dirac.plot(path=tmp_path / "atlas.png")
    assert (tmp_path / "atlas.png").stat().st_size > 0
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert len(texts) == 32 and {"conv", "slow", "orbit", "div"} <= set(texts)
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert legend == list(VERDICTS)


def test_atlas_heatmap_refusals():
    from ganflow.plotting import atlas_heatmap

    with pytest.raises(ValueError, match="unknown verdicts"):
        atlas_heatmap({"g": (["a"], [0.1], [[0.0]], [["stuck"]])})
    with pytest.raises(ValueError, match="every panel or for none"):
        atlas_heatmap({"g": (["a"], [0.1], [[0.0]], [["slow"]]), "h": (["a"], [0.1], [[1.0]])})
    fig = atlas_heatmap({"g": (["a", "b"], [0.1], [[0.0], [1.0]], [["slow"], ["converges"]],
                               [[False], [True]])})
    assert [t.get_text() for t in fig.axes[0].texts] == ["slow*", "conv"]


def test_atlas_catalogue_and_dataset_round_trip(bilinear):
    games, stabs, schemes = atlas_catalogue()
    assert games == ("dirac", "nk2d", "bilinear", "lq-gaussian")
    assert stabs == ("none", "r1", "consensus", "nk")
    assert schemes == ("simultaneous", "alternating", "extragradient")
    full = atlas_catalogue(full=True)
    assert set(stabs) < set(full[1]) and {"cgd", "unrolled-3"} <= set(full[2])
    ds = bilinear.to_dataset()
    assert ds.sizes == {"cell": 1, "eta": 3}
    again = Atlas.from_dataset(ds)
    assert again.to_markdown() == bilinear.to_markdown()
    assert again.skipped == bilinear.skipped


def test_atlas_bad_names():
    with pytest.raises(ValueError, match="scheme"):
        convergence_atlas(games=("dirac",), schemes=("leapfrog",))
    with pytest.raises(ValueError, match="game"):
        convergence_atlas(games=("mnist",))
