r"""The Dirac-GAN lineup (Mescheder et al. 2018, §2–3; the convergence slides): the schemes of
simultaneous and alternating GD, the WGAN with n_d = 5, R1, instance noise and consensus, and
their trajectories from one start in the (θ, ψ) plane (`ganflow.plotting.dirac_lineup` draws
them)."""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .._checks import check_choice, check_int_at_least, check_positive
from ..games import DiracGAN
from ..losses import AbstractLoss
from ..stabilisers import R1, Consensus, InstanceNoise, WeightClipping, stabilise
from ..training import AlternatingGDA, SimultaneousGDA, run


def dirac_lineup_schemes(
    *,
    eta: float = 0.1,
    loss: str | AbstractLoss = "gan",
    n_d: int = 5,
    clip: float = 1.0,
    r1_gamma: float = 0.3,
    noise_sigma: float = 1.0,
    consensus_gamma: float = 1.0,
    scheme: str = "alternating",
) -> dict[str, Any]:
    r"""The training schemes of the Dirac-GAN lineup, label → scheme (population fields, step
    size `eta` for both players):

    | label | field | scheme |
    |---|---|---|
    | simultaneous GD | b0 of `DiracGAN(loss)` | `SimultaneousGDA` |
    | alternating GD | b0 | `AlternatingGDA` |
    | WGAN (n_d = 5) | `DiracGAN("wgan")`, ψ clipped to ±`clip` | `AlternatingGDA(n_d=n_d)` |
    | R1 | `R1(r1_gamma)` | `scheme` |
    | instance noise | `InstanceNoise(noise_sigma, mode="expected")` | `scheme` |
    | consensus | `Consensus(consensus_gamma)` | `scheme` |

    `scheme` ("alternating" or "simultaneous") trains the three regularised methods. Local
    spectra at 0 (docs/conventions.md §Stabilisers): R1 $-γ/2 ± \sqrt{γ^2/4 - f'(0)^2}$,
    instance noise $f''(0)σ^2 ± \sqrt{f''(0)^2σ^4 - f'(0)^2}$, consensus
    $-γf'(0)^2 ± i f'(0)$: all in the left half-plane.
    """
    check_positive("eta", eta)
    check_choice("scheme", scheme, ("alternating", "simultaneous"))
    n_d = check_int_at_least("n_d", n_d, 1)
    game = DiracGAN(loss)
    regularised = AlternatingGDA if scheme == "alternating" else SimultaneousGDA
    b0 = game.vector_field(population=True)
    wgan = stabilise(DiracGAN("wgan"), WeightClipping(clip), population=True)
    return {
        "simultaneous GD": SimultaneousGDA(b0, eta),
        "alternating GD": AlternatingGDA(b0, eta),
        f"WGAN (n_d = {n_d}, |ψ| ≤ {clip:g})": AlternatingGDA(wgan, eta, n_d=n_d),
        f"R1 (γ = {r1_gamma:g})": regularised(
            stabilise(game, R1(r1_gamma), population=True), eta),
        f"instance noise (σ = {noise_sigma:g})": regularised(
            stabilise(game, InstanceNoise(noise_sigma, mode="expected"), population=True), eta),
        f"consensus (γ = {consensus_gamma:g})": regularised(
            stabilise(game, Consensus(consensus_gamma), population=True), eta),
    }


def dirac_lineup_trajectories(
    start: tuple[float, float] = (1.0, 1.0),
    num_steps: int = 500,
    *,
    save_every: int = 1,
    **scheme_kwargs: Any,
) -> dict[str, np.ndarray]:
    r"""Trajectories of the Dirac-GAN lineup from one start (θ₀, ψ₀): every scheme of
    `dirac_lineup_schemes(**scheme_kwargs)` run for `num_steps` steps by
    `ganflow.training.run` (one seed, through the ensemble engine), saving every `save_every`
    steps.

    **Returns:** label → a (T, 2) array of (θ, ψ), T = num_steps / save_every + 1, starting at
    `start`. A run that diverges is frozen at its last finite state by the engine.
    """
    num_steps = check_int_at_least("num_steps", num_steps, 1)
    theta0, psi0 = (float(s) for s in start)
    x0 = jax.tree_util.tree_map(lambda a: jnp.asarray(a)[None],
                                DiracGAN.make_state(theta0, psi0))
    out = {}
    for label, scheme in dirac_lineup_schemes(**scheme_kwargs).items():
        sol = run(scheme, x0, num_steps, save_every=save_every)
        xs = jax.tree_util.tree_map(lambda a: a[0], sol.xs)
        path = jax.vmap(lambda x: ravel_pytree(x)[0])(xs)
        out[label] = np.asarray(path, dtype=float)
    return out


def dirac_lineup_fields(**scheme_kwargs: Any) -> dict[str, Callable[..., Any]]:
    """label → the field b(x) of each method of `dirac_lineup_schemes(**scheme_kwargs)` (the
    direction its scheme follows; the clipping of the WGAN is a projection, not part of it)."""
    return {k: s.field for k, s in dirac_lineup_schemes(**scheme_kwargs).items()}
