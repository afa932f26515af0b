r"""The neural-net distance (Arora et al. 2017) of generated sample sets, per seed and method,
to fresh data, with its data-vs-data floor."""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np

from ._nndist import neural_net_distance


class DataDistances(NamedTuple):
    """`nn_distance_to_data`'s result: `distance`, `stderr` (seed, set) and `floor` (seed,)."""

    distance: np.ndarray
    stderr: np.ndarray
    floor: np.ndarray


def nn_distance_to_data(keys: Any, samples: Any, sample_data: Callable[[Any, int], Any], *,
                        num_restarts: int = 8, num_steps: int = 500,
                        batch_size: int | None = None) -> DataDistances:
    r"""The neural-net distance (Arora et al. 2017; `neural_net_distance`, its WGAN form with a
    weight-clipped 2×32 ReLU discriminator) between each generated sample set and as many fresh
    data samples, and the floor $d(\text{data}, \text{data}')$ between two independent data sets
    of that size — the value a perfect generator would get with this estimator.

    - `keys`: one typed key per seed (S,); seed s splits its key into (real, fit, floor): the
      data, the discriminators' initialisation (shared by every set of the seed and its floor)
      and the second data set;
    - `samples`: (S, M, n, d): M sample sets of n points per seed (e.g. the final samples of M
      methods), in the dtype the distance is computed in;
    - `sample_data(key, n)`: n data points (e.g. `MoGNetsGame.sample_data`);
    - `num_restarts`, `num_steps`: of each distance; `batch_size`: its minibatch
      (default min(n, 256)).

    One compilation for everything (`jit` of a `vmap` over seeds and sets).
    """
    n = samples.shape[-2]
    kw = dict(num_restarts=num_restarts, num_steps=num_steps,
              batch_size=min(n, 256) if batch_size is None else batch_size)

    def per_seed(key, fakes):
        k_real, k_fit, k_floor = jax.random.split(key, 3)
        real = sample_data(k_real, n)
        other = sample_data(k_floor, n)
        est = jax.vmap(lambda f: neural_net_distance(k_fit, real, f, **kw))(fakes)
        floor = neural_net_distance(k_fit, real, other, **kw)
        return est.distance, est.stderr, floor.distance

    d, se, floor = jax.jit(jax.vmap(per_seed))(keys, samples)
    return DataDistances(np.asarray(d), np.asarray(se), np.asarray(floor))
