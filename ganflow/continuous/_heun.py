r"""Heun's predictor as the drift of an Euler–Maruyama step: the integrator that resolves the
$O(η^2)$ weak error of the Cao–Guo SDEs (Cao–Guo Theorems 1–2) at a step h = η/m."""

from typing import Any

import equinox as eqx
import jax

_tmap = jax.tree_util.tree_map


def _axpy(a: Any, x: Any, y: Any) -> Any:
    """a·x + y over pytrees."""
    return _tmap(lambda xi, yi: a * xi + yi, x, y)


class HeunDrift(eqx.Module):
    r"""Heun's predictor as a drift: $\tilde b(x) = \tfrac12[b(x) + b(x + h\,b(x))]$.

    Euler–Maruyama with step h on $\tilde b$ is Heun's method for the noise-free part (local
    error $O(h^3)$, as $\tilde b = b + \tfrac h2 Jb + O(h^2)$) and Euler–Maruyama for the noise;
    for the Cao–Guo SDEs (eqs. 9, 10), whose $σσ^\top = (η/B)Σ$ is $O(η)$, its weak error is
    $O(h^2 + ηh)$. `field` is the drift b(x, *args) of the SDE (b0, or b0 + ηb1); pass a
    `HeunDrift` as `drift=` to `cao_guo_sde`.

    ```python
    sde = cao_guo_sde(game, eta, B, data=data, drift=HeunDrift(b0, eta / 2))
    ```
    """

    field: Any
    h: Any

    def __call__(self, x: Any, *args: Any) -> Any:
        v = self.field(x, *args)
        w = self.field(_axpy(self.h, v, x), *args)
        return _tmap(lambda p, q: 0.5 * (p + q), v, w)
