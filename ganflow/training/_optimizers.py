r"""The players' optimisers with the settings of the public reference codes of the GAN stabiliser
papers."""

import functools

import optax

from .._checks import check_choice

REFERENCE_OPTIMIZERS = ("adam", "rmsprop", "sgd")


@functools.lru_cache(maxsize=64)
def reference_optimizer(name: str, learning_rate: float,
                        beta1: float = 0.5) -> optax.GradientTransformation:
    """An optimiser as the reference codes configure it:

    - `"adam"`: Keras/TF Adam with `beta1` (0.5 in Nagarajan–Kolter 2017's and Metz et al.
      2017's codes), β2 0.999, ε 1e-8;
    - `"rmsprop"`: TF1 `RMSPropOptimizer` (Mescheder et al. 2017, Balduzzi et al. 2018): decay
      0.9, ε 1e-10 inside the root, mean square initialised to 1;
    - `"sgd"`: plain gradient steps.

    Cached: equal settings give the same object, so that schemes built with them compare equal
    (and an ensemble member built twice reuses its compilation).
    """
    check_choice("optimizer", name, REFERENCE_OPTIMIZERS)
    if name == "adam":
        return optax.adam(learning_rate, b1=beta1, b2=0.999, eps=1e-8)
    if name == "rmsprop":
        return optax.rmsprop(learning_rate, decay=0.9, eps=1e-10, initial_scale=1.0)
    return optax.sgd(learning_rate)
