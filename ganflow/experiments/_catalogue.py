"""Imports every experiment module so that each registers itself (one line per module)."""

from . import _exp_legacy  # noqa: F401  spectra, atlas, sde, weak-error
from . import _exp_wganqc  # noqa: F401  wgan-qc
from . import _exp_mounjid_guo  # noqa: F401  mounjid-guo
from . import _exp_digits  # noqa: F401  stacked-digits
from . import _exp_meanfield  # noqa: F401  mean-field
from . import _exp_mog  # noqa: F401  mog, jacobian-spectra
from . import _exp_noise  # noqa: F401  sde-neural, fdr-schedule
