"""Imports every experiment module so that each registers itself (one line per module)."""

from . import (
    _exp_atlas,  # noqa: F401  atlas
    _exp_cao_guo,  # noqa: F401  sde, weak-error
    _exp_digits,  # noqa: F401  stacked-digits
    _exp_fdr_schedule,  # noqa: F401  fdr-schedule
    _exp_jacobian_spectra,  # noqa: F401  jacobian-spectra
    _exp_meanfield,  # noqa: F401  mean-field
    _exp_mog,  # noqa: F401  mog
    _exp_mounjid_guo,  # noqa: F401  mounjid-guo
    _exp_sde_neural,  # noqa: F401  sde-neural
    _exp_spectra,  # noqa: F401  spectra
    _exp_suite,  # noqa: F401  suite (the default job)
    _exp_wganqc,  # noqa: F401  wgan-qc
)
