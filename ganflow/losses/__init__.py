"""GAN losses of the f-family, one per player."""

from ._losses import (
    AbstractLoss as AbstractLoss,
    GANLoss as GANLoss,
    get_loss as get_loss,
    LOSS_NAMES as LOSS_NAMES,
    WGANLoss as WGANLoss,
)
