"""The Dirac-GAN lineup (Mescheder et al. 2018, §2–3): `ganflow.analysis.dirac_lineup_schemes`,
`dirac_lineup_trajectories` and `dirac_lineup_fields` against the closed-form first steps and the
long-run behaviour of every method."""

import numpy as np

import ganflow as gf


def _sigmoid(t):
    return 1 / (1 + np.exp(-t))


def test_dirac_lineup_trajectories():
    eta, start = 0.1, (1.0, 0.8)
    paths = gf.analysis.dirac_lineup_trajectories(start, 300, eta=eta)
    labels = list(paths)
    assert len(labels) == 6
    assert labels[:2] == ["simultaneous GD", "alternating GD"]
    assert labels[2].startswith("WGAN (n_d = 5") and labels[3].startswith("R1")
    assert labels[4].startswith("instance noise") and labels[5].startswith("consensus")
    for p in paths.values():
        assert p.shape == (301, 2)
        np.testing.assert_array_equal(p[0], start)
    th, ps = start
    # GAN, f(t) = log sigmoid(t): b0 = (ψ s(ψθ), −θ s(ψθ)) with s the logistic function
    sim = paths["simultaneous GD"][1]
    np.testing.assert_allclose(sim, [th + eta * ps * _sigmoid(ps * th),
                                     ps - eta * th * _sigmoid(ps * th)], rtol=1e-13)
    ps1 = ps - eta * th * _sigmoid(ps * th)  # discriminator first, then θ sees the new ψ
    np.testing.assert_allclose(paths["alternating GD"][1],
                               [th + eta * ps1 * _sigmoid(ps1 * th), ps1], rtol=1e-13)
    # WGAN, b0 = (ψ, −θ): five ψ-steps (inside the clip box), then one θ-step
    ps5 = ps - 5 * eta * th
    np.testing.assert_allclose(paths[labels[2]][1], [th + eta * ps5, ps5], rtol=1e-13)
    # the fields drawn behind the paths are the ones the schemes follow
    fields = gf.analysis.dirac_lineup_fields(eta=eta)
    assert list(fields) == labels
    g, d = fields["simultaneous GD"](gf.DiracGAN.make_state(th, ps))
    np.testing.assert_allclose([g.theta, d.psi], (sim - np.array(start)) / eta, rtol=1e-12)
    # the long run: simultaneous GD spirals out (|λ| = sqrt(1 + η²f′(0)²) > 1), alternating GD
    # stays on a closed orbit, the WGAN never leaves the clip box, the regularised methods
    # converge (spectra in the open left half-plane)
    r = {k: np.linalg.norm(p, axis=1) for k, p in paths.items()}
    assert r["simultaneous GD"][-1] > 1.15 * r["simultaneous GD"][0]
    assert 0.8 < r["alternating GD"].min() / r["alternating GD"][0] < 1.25
    assert r["alternating GD"].max() / r["alternating GD"][0] < 1.25
    assert np.abs(paths[labels[2]][:, 1]).max() <= 1.0 + 1e-12
    for k in labels[3:]:
        assert r[k][-1] < 0.05 * r[k][0], k
