"""Imports every experiment module so that each registers itself (one line per module)."""

from . import _exp_legacy  # noqa: F401  spectra, atlas, sde, weak-error
from . import _exp_wganqc  # noqa: F401  wgan-qc
