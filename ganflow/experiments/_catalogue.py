"""The built-in experiments: a static table (name, module, quick-run time, what it reproduces)
that `ganflow list` prints without importing JAX, and `register_all`, which imports every
experiment module so that each registers itself. A test checks the table against the
registered experiments."""

import importlib
from collections.abc import Iterable
from typing import NamedTuple


class CatalogueEntry(NamedTuple):
    """One built-in experiment as `ganflow list` shows it: the module that registers it, the
    quick preset's run time on 2 CPU cores and what it reproduces (its `Experiment.reproduces`)."""

    module: str
    quick_runtime: str
    reproduces: str


CATALOGUE: dict[str, CatalogueEntry] = {
    "spectra": CatalogueEntry(
        "_exp_spectra", "20 s",
        "Mescheder 2018 (Dirac-GAN) and Nagarajan–Kolter 2017 §4, Fig. 3: Jacobian and "
        "update-operator eigenvalues against closed forms, trajectories, convergence"),
    "atlas": CatalogueEntry(
        "_exp_atlas", "10 s",
        "Mescheder 2017 (local convergence iff ρ(F′(x*)) < 1) measured over small games × "
        "losses × stabilisers × schemes × learning rates, with Cao–Guo eqs. 10/13"),
    "sde": CatalogueEntry(
        "_exp_cao_guo", "10 s",
        "Cao–Guo eq. 9: an Euler–Maruyama ensemble of the R1-regularised Dirac-GAN SDE "
        "against its exact mean e^(tA)x0"),
    "weak-error": CatalogueEntry(
        "_exp_cao_guo", "20 s",
        "Cao–Guo Theorems 1, 2 (eqs. 10, 13): deterministic weak orders of simultaneous and "
        "alternating GD on the R1 Dirac-GAN"),
    "stacked-digits": CatalogueEntry(
        "_exp_digits", "2 min",
        "stacked MNIST (Metz et al. 2017; VEEGAN Table 2; PacGAN Table 2; Nagarajan–Kolter "
        "2017 Fig. 2) on scikit-learn's 8×8 digits: modes covered of 1000 and KL to uniform "
        "for vanilla, non-saturating, NK and unrolled GANs"),
    "fdr-schedule": CatalogueEntry(
        "_exp_fdr_schedule", "~1 min",
        "Cao–Guo 2020 §4.2: FDR1/FDR2 during MoG training and the FDR2-driven learning-rate "
        "schedule against constant η and Adam"),
    "mog": CatalogueEntry(
        "_exp_mog", "~2 min",
        "Nagarajan–Kolter 2017 §4 Fig. 1 (mixture of Gaussians), with VEEGAN/PacGAN mode "
        "metrics for every stabiliser"),
    "jacobian-spectra": CatalogueEntry(
        "_exp_jacobian_spectra", "~1 min",
        "Mescheder, Nowozin & Geiger 2017 §3–4: eigenvalues of trained MoG GANs' Jacobians "
        "with and without consensus"),
    "mean-field": CatalogueEntry(
        "_exp_meanfield", "55 s",
        "Wang–Hu–Lu 2019 (survey §5.3.1): O(n^-1/2) concentration around the mean-field ODE; "
        "phase diagrams (success/oscillation/mode collapse) over noise and learning rate, ODE "
        "beside simulation, d = 1 and 2"),
    "mounjid-guo": CatalogueEntry(
        "_exp_mounjid_guo", "1.5 min",
        "Mounjid & Guo 2021 §4, Figs. 3–5 (SGD against the per-layer adaptive rate LSGD, "
        "batch sizes) and §3 (η against 2/a from per-layer Hessian curvature) on a neural "
        "vanilla GAN, data N(3, 1)"),
    "sde-neural": CatalogueEntry(
        "_exp_sde_neural", "~2 min",
        "Cao–Guo 2020 Theorems 1–2: weak orders of minibatch SGDA against the SDEs (9), (10) "
        "with the Σ factor, on an MLP GAN"),
    "wgan-qc": CatalogueEntry(
        "_exp_wganqc", "30 s",
        "Liu et al. 2019 / slides: WGAN-QC converges on the Dirac-GAN where WGAN orbits or "
        "diverges; its Jacobian against the block form"),
    "hypergradient": CatalogueEntry(
        "_exp_hypergradient", "1.5 min",
        "tuning (η, γ) of consensus and (η, λ) of the NK penalty by gradient through ρ(F′) on "
        "the Dirac-GAN (against its closed-form optimum) and through N training steps of the "
        "MoG ring GAN (Sinkhorn divergence), beside a grid search of the same compute"),
    "suite": CatalogueEntry(
        "_exp_suite", "1 min",
        "several experiments in one folder with one report (the default job: the small-game "
        "experiments spectra, atlas, sde, weak-error)"),
}
"""name → `CatalogueEntry` of every built-in experiment, in the order `ganflow list` shows."""


def register_all(names: Iterable[str] | None = None) -> None:
    """Imports the built-in experiment modules (each registers its experiments with
    `ganflow.studies.register`); a module already imported is not imported again.

    **Arguments:**

    - `names`: the built-in experiments whose modules to import (default `None`: every one);
      names not in `CATALOGUE` are ignored.
    """
    wanted = CATALOGUE if names is None else [n for n in names if n in CATALOGUE]
    for module in dict.fromkeys(CATALOGUE[name].module for name in wanted):
        importlib.import_module(f"{__package__}.{module}")
