"""GAN losses of the f-family, one per player."""

from ._losses import (
    LOSS_NAMES as LOSS_NAMES,
)
from ._losses import (
    AbstractLoss as AbstractLoss,
)
from ._losses import (
    GANLoss as GANLoss,
)
from ._losses import (
    WGANLoss as WGANLoss,
)
from ._losses import (
    get_loss as get_loss,
)
