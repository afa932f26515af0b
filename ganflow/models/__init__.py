"""Generators and discriminators (equinox Modules holding only their parameters)."""

from ._models import (
    DiracGenerator as DiracGenerator,
    Linear as Linear,
    LinearDiscriminator as LinearDiscriminator,
    MLP as MLP,
    QuadraticDiscriminator as QuadraticDiscriminator,
    QuadraticLogistic as QuadraticLogistic,
)
