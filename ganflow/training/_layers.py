r"""Per-layer views of a GAN's players (Mounjid & Guo 2021, §3 and §4.1 eq. 20): the layer
labels that make `mounjid_guo` adjust one rate per layer, layer names, and the descent loss of one
layer with everything else fixed."""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
from jax.flatten_util import ravel_pytree

from .._checks import check_int_at_least

PLAYERS = ("generator", "discriminator")


def layer_groups(model: Any) -> Any:
    """Integer labels shaped like `model`: the index of the layer each leaf belongs to (the
    first sequence index on its path: the weight and bias of `MLP.layers[i]` get label i). As
    `groups=layer_groups` of `mounjid_guo` it gives one adjustment u per layer, the per-layer
    groups of Mounjid–Guo eq. 20.

    ```python
    opt = ganflow.training.mounjid_guo(1e-2, u_max=10.0, groups=layer_groups)
    ```
    """
    leaves, treedef = jax.tree_util.tree_flatten_with_path(model)
    labels = []
    for path, _ in leaves:
        idx = [k.idx for k in path if isinstance(k, jax.tree_util.SequenceKey)]
        if not idx:
            raise ValueError("cannot find the layer of the parameter at "
                             f"{jax.tree_util.keystr(path)}")
        labels.append(int(idx[0]))
    return jax.tree_util.tree_unflatten(treedef, labels)


def layer_names(num_layers: int) -> tuple[str, ...]:
    """`"generator/0"`, …, `"discriminator/<num_layers − 1>"`: one name per layer of each player
    (players with `num_layers` layers each, e.g. an `MLP` with depth + 1 layers)."""
    n = check_int_at_least("num_layers", num_layers, 1)
    return tuple(f"{p}/{i}" for p in PLAYERS for i in range(n))


def parse_layer_name(name: str) -> tuple[int, int]:
    """(player, layer index) of a name of `layer_names`: player 0 is the generator, 1 the
    discriminator."""
    player, _, index = name.partition("/")
    if player not in PLAYERS or not index.isdigit():
        raise ValueError(f"a layer name is '<generator|discriminator>/<index>', got {name!r}")
    return PLAYERS.index(player), int(index)


def layer_loss(game: Any, x: Any, layer: str, batch: Any) -> tuple[Callable, jax.Array]:
    r"""(ℓ, v0): the descent loss of the player owning `layer` (a name of `layer_names`) as a
    function of that layer's flat parameters v, everything else fixed at the state x, on
    `batch` (e.g. the full training batch (data, latents)): the generator's $L_G$ or the
    discriminator's $-Φ_D$ (the losses whose Hessian blocks $H_{ii}$ Mounjid–Guo §3 and eq. 20
    use); v0 the layer's parameters at x. The players must keep their layers in a sequence
    `layers` (`ganflow.models.MLP`).

    ```python
    loss, v0 = layer_loss(game, x, "discriminator/2", (data, latents))
    h = jax.hessian(loss)(v0)                    # the layer's Hessian block
    ```
    """
    p, i = parse_layer_name(layer)
    v0, unravel = ravel_pytree(x[p].layers[i])
    obj = game.objective()

    def loss(v):
        model = eqx.tree_at(lambda m: m.layers[i], x[p], unravel(v))
        if p == 0:
            return obj.generator_value(model, x[1], batch)
        return -obj.discriminator_value(x[0], model, batch)

    return loss, v0
