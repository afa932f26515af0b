"""Generators and discriminators (equinox Modules holding only their parameters)."""

from ._activations import ACTIVATIONS as ACTIVATIONS, activation as activation
from ._conv import (
    ConvDiscriminator as ConvDiscriminator,
    ConvGenerator as ConvGenerator,
)
from ._init import (
    MLP_INITS as MLP_INITS,
    ScaledInput as ScaledInput,
    init_mlp as init_mlp,
)
from ._models import (
    MLP as MLP,
    DiracGenerator as DiracGenerator,
    Linear as Linear,
    LinearDiscriminator as LinearDiscriminator,
    QuadraticDiscriminator as QuadraticDiscriminator,
    QuadraticLogistic as QuadraticLogistic,
)
