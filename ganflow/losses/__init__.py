"""GAN losses of the f-family, one per player."""

from ._losses import (
    LOSS_NAMES as LOSS_NAMES,
    AbstractLoss as AbstractLoss,
    GANLoss as GANLoss,
    WGANLoss as WGANLoss,
    get_loss as get_loss,
)
