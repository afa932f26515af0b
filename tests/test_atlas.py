"""The convergence atlas: its theory columns equal closed forms and its measurements agree."""

import numpy as np
import pytest

from ganflow.experiments._atlas import convergence_atlas


class _Both:
    """Two small atlases (9 compiled cells) viewed as one."""

    def __init__(self, a, b):
        self.rows = a.rows + b.rows
        self.skipped = a.skipped + b.skipped
        self.parts = (a, b)

    def agreement(self):
        return float(np.mean([r["agree"] for r in self.rows]))


@pytest.fixture(scope="module")
def atlas():
    kw = dict(etas=(0.1, 0.5, 2.5), num_seeds=64, num_steps=600)
    dirac = convergence_atlas(
        games=("dirac",), stabilisers=("none", "r1"), schemes=("simultaneous", "alternating"), **kw
    )
    bilinear = convergence_atlas(
        games=("bilinear",), stabilisers=("consensus", "r1"), schemes=("simultaneous",), **kw
    )
    return _Both(dirac, bilinear)


def _row(atlas, **kw):
    rows = [r for r in atlas.rows if all(r[k] == v for k, v in kw.items())]
    assert len(rows) == 1, kw
    return rows[0]


def test_atlas_theory_columns_closed_forms(atlas):
    for eta in (0.1, 0.5, 2.5):
        for loss, fp in (("gan", 0.5), ("wgan", 1.0)):
            # Dirac, simultaneous: |λ| = sqrt(1 + η² f′(0)²); alternating: on the unit circle
            r = _row(
                atlas, game="dirac", loss=loss, stabiliser="none", scheme="simultaneous", eta=eta
            )
            assert r["rho_theory"] == pytest.approx(np.sqrt(1 + eta**2 * fp**2), rel=1e-12)
            assert r["frac_converged"] == 0.0
            # modified field b − (η/2)Jb: J² = −f′² I, eigenvalues (η/2)f′² ± i f′
            assert r["max_re_eig_modified"] == pytest.approx(eta / 2 * fp**2, rel=1e-10)
            a = eta * fp  # alternating, n_g = n_d = 1
            r = _row(
                atlas, game="dirac", loss=loss, stabiliser="none", scheme="alternating", eta=eta
            )
            if a < 2:
                assert r["rho_theory"] == pytest.approx(1.0, abs=1e-12)
            assert r["frac_converged"] == 0.0
            # R1 (γ = 1): J eigenvalues −γ/2 ± sqrt(γ²/4 − f′²); ρ = max |1 + ηλ|
            lam = -0.5 + np.array([1, -1]) * np.sqrt(complex(0.25 - fp**2))
            r = _row(
                atlas, game="dirac", loss=loss, stabiliser="r1", scheme="simultaneous", eta=eta
            )
            assert r["rho_theory"] == pytest.approx(np.max(np.abs(1 + eta * lam)), rel=1e-7)
            # (γ = 1, f′ = 1/2 is a double eigenvalue: sensitive at sqrt(machine eps))
            assert r["max_re_eig_field"] == pytest.approx(-0.5, rel=1e-7)
    # bilinear consensus (γ = 0.5): J − γJᵀJ has eigenvalues −γ ± i
    for eta in (0.1, 0.5, 2.5):
        r = _row(atlas, game="bilinear", stabiliser="consensus", scheme="simultaneous", eta=eta)
        assert r["rho_theory"] == pytest.approx(abs(1 + eta * (-0.5 + 1j)), rel=1e-12)


def test_atlas_measurements_agree_with_theory(atlas):
    assert atlas.agreement() == 1.0
    # where theory predicts fast convergence, all 64 seeds converge, at the predicted rate
    r = _row(
        atlas, game="bilinear", loss="-", stabiliser="consensus", scheme="simultaneous", eta=0.1
    )
    assert r["frac_converged"] == 1.0
    assert r["rate_measured"] == pytest.approx(r["rho_theory"], rel=2e-3)
    r = _row(atlas, game="dirac", loss="wgan", stabiliser="r1", scheme="alternating", eta=0.1)
    assert r["frac_converged"] == 1.0
    assert r["rate_measured"] == pytest.approx(r["rho_theory"], rel=2e-3)
    # where ρ > 1 nothing converges
    bad = [r for r in atlas.rows if r["rho_theory"] > 1 + 1e-9]
    assert bad and all(r["frac_converged"] == 0.0 for r in bad)
    # R1 needs a GAN game: skipped on bilinear, with the reason
    assert any(s[0] == "bilinear" and s[2] == "r1" and "R1" in s[4] for s in atlas.skipped)


def test_atlas_table_and_figure_data(atlas):
    dirac, bilinear = atlas.parts
    md = dirac.to_markdown().splitlines()
    assert md[0].startswith("| game | loss | stabiliser | scheme | eta")
    assert len(md) == 2 + len(dirac.rows)
    # dirac: 2 losses × 2 stabilisers × 2 schemes × 3 η; bilinear: consensus only (R1 skipped)
    assert len(dirac.rows) == 2 * 2 * 2 * 3
    assert len(bilinear.rows) == 3
    fig = dirac.figure_data()
    cell = fig["dirac/gan/r1/simultaneous"]
    assert set(cell) >= {"eta", "frac_converged", "rho_theory", "rate_measured"}
    np.testing.assert_array_equal(cell["eta"], [0.1, 0.5, 2.5])


def test_atlas_bad_names():
    with pytest.raises(ValueError, match="scheme"):
        convergence_atlas(games=("dirac",), schemes=("leapfrog",))
    with pytest.raises(ValueError, match="game"):
        convergence_atlas(games=("mnist",))
