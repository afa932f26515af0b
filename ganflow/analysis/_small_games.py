r"""Closed-form spectra and trajectories of the two-parameter games: the Dirac-GAN (Mescheder
2018, slides p. 5) and the two-parameter GAN of Nagarajan–Kolter §4 (NK-2D).

Both linearise at x* to $J = \begin{pmatrix} 0 & c \\ -c & d \end{pmatrix}$ (θ first): Dirac-GAN
$c = f'(0)$, $d = 0$; NK-2D $c = 2f'(0)/3$, $d = 2f''(0)/5$ (with $E x^2 = 1/3$, $E x^4 = 1/5$
for U[−1, 1]), f′ and f″ the loss's own derivatives (`AbstractLoss.f_prime`, `f_second`).
Hence

- flow: $λ = d/2 ± \sqrt{d^2/4 - c^2}$;
- simultaneous GD, $F' = I + hJ$ (Cao–Guo eq. 7): $1 + hλ$; on the Dirac-GAN
  $|1 + hλ| = \sqrt{1 + h^2 f'(0)^2}$;
- alternating GD, discriminator first (Cao–Guo eq. 5): $ω' = ω + h(-cθ + dω)$,
  $θ' = θ + h c ω'$, so $F' = \begin{pmatrix} 1 - h^2c^2 & hc(1 + hd) \\ -hc & 1 + hd
  \end{pmatrix}$ with trace $2 - h^2c^2 + hd$ and determinant $1 + hd$: on the unit circle when
  d = 0 and $hc < 2$ (Dirac: $1 - α^2/2 ± \sqrt{(1 - α^2/2)^2 - 1}$, α = h f′(0)).
"""

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree


def equilibrium_linearisation(game: Any) -> tuple[float, float]:
    """(c, d) of J(x*) = [[0, c], [−c, d]] of a `ganflow.games.DiracGAN` (c = f′(0), d = 0) or a
    `ganflow.games.NagarajanKolter2D` (c = 2f′(0)/3, d = 2f″(0)/5, Nagarajan–Kolter §4), from its
    loss's f′(0) and f″(0) (module docstring)."""
    from ..games import DiracGAN, NagarajanKolter2D

    if not isinstance(game, (DiracGAN, NagarajanKolter2D)):
        raise TypeError(f"no closed-form linearisation for {type(game).__name__}; "
                        "expected a DiracGAN or a NagarajanKolter2D")
    f1, f2 = float(game.loss.f_prime(0.0)), float(game.loss.f_second(0.0))
    if isinstance(game, DiracGAN):
        return f1, 0.0
    return 2.0 * f1 / 3.0, 2.0 * f2 / 5.0


def closed_form_spectra(c: float, d: float, eta: float) -> dict[str, np.ndarray]:
    """The eigenvalues of J = [[0, c], [−c, d]] (`"flow"`), of simultaneous GD's update operator
    I + ηJ (`"simultaneous"`) and of alternating GD's, discriminator first (`"alternating"`):
    the roots of μ² − (2 − η²c² + ηd)μ + 1 + ηd (module docstring)."""
    flow = np.roots([1.0, -d, c * c]).astype(complex)
    sim = 1.0 + eta * flow
    alt = np.roots([1.0, -(2.0 - eta * eta * c * c + eta * d), 1.0 + eta * d]).astype(complex)
    return {"flow": flow, "simultaneous": sim, "alternating": alt}


def _product_field(fields: list) -> Callable:
    """The field of the product game of independent games: a state ((θ_1, …, θ_K),
    (ω_1, …, ω_K)) moves as each (θ_k, ω_k) under its own field. Simultaneous and alternating GD
    on the product are exactly the same schemes on every factor (each step acts factor by
    factor), so one compiled solve serves all the games."""

    def field(x):
        outs = [f((t, w)) for f, t, w in zip(fields, x[0], x[1])]
        return tuple(o[0] for o in outs), tuple(o[1] for o in outs)

    return field


def _factor_paths(xs, num: int) -> list[np.ndarray]:
    """(T, d_k) flat paths of each factor of product states with a leading time axis."""
    return [np.asarray(jax.vmap(lambda x, k=k: ravel_pytree((x[0][k], x[1][k]))[0])(xs))
            for k in range(num)]


def flow_and_gd_paths(games: Sequence[Any], eta: float, offset: float,
                      num_steps: int) -> list[dict[str, np.ndarray]]:
    """Trajectories of the gradient flow (`ganflow.continuous.solve_ode`: diffrax Tsit5,
    rtol = atol = 1e-10, at the times kη) and of simultaneous and alternating GD with step η
    (`ganflow.training.run`) from x* + offset·(1, …, 1), for every game at once (as one product
    game; if an overflow in one factor stops the product, the games run one by one).

    **Returns:** per game, {"flow" | "simultaneous" | "alternating": a (num_steps + 1, d) path};
    a non-finite state is +inf from then on, and a failed flow solve ends in NaN.
    """
    from ..continuous import solve_ode
    from ..training import AlternatingGDA, SimultaneousGDA, run

    fields = [g.vector_field(population=True) for g in games]
    stars = [ravel_pytree(g.equilibrium()) for g in games]
    starts = [unravel(flat + offset) for flat, unravel in stars]
    x0 = (tuple(x[0] for x in starts), tuple(x[1] for x in starts))
    field = _product_field(fields)
    h, n = eta, num_steps
    times = np.arange(n + 1) * h
    out = [{} for _ in games]

    def record(kind, paths):
        for k, path in enumerate(paths):
            path = np.array(path, dtype=float)
            bad = ~np.all(np.isfinite(path), axis=1)
            if bad.any():
                path[int(np.argmax(bad)):] = np.inf
            out[k][kind] = path

    sol = solve_ode(field, x0, 0.0, h * n, ts=jnp.asarray(times), rtol=1e-10, atol=1e-10)
    paths = _factor_paths(sol.xs, len(games))
    if not bool(sol.ok):  # a failed solve reads as "diverges"
        for p in paths:
            p[-1] = np.nan
    record("flow", paths)
    batch = lambda x: jax.tree_util.tree_map(lambda a: a[None], x)  # noqa: E731
    first = lambda x: jax.tree_util.tree_map(lambda a: a[0], x)  # noqa: E731
    for kind, scheme_cls in (("simultaneous", SimultaneousGDA), ("alternating", AlternatingGDA)):
        res = run(scheme_cls(field, h), batch(x0), n, save_every=1, blowup=np.inf)
        if not bool(res.diverged[0]):
            record(kind, _factor_paths(first(res.xs), len(games)))
            continue
        # an overflow in one factor froze them all: run the games one by one instead
        paths = []
        for f, x in zip(fields, starts):
            one = run(scheme_cls(f, h), batch(x), n, save_every=1, blowup=1e100)
            path = np.asarray(jax.vmap(lambda y: ravel_pytree(y)[0])(first(one.xs)))
            if bool(one.diverged[0]):
                path[int(one.diverged_step[0]):] = np.inf
            paths.append(path)
        record(kind, paths)
    return out


def field_on_grid(field: Callable, x_star: Any, half: float,
                  num: int) -> tuple[np.ndarray, ...]:
    """A two-parameter field on the `num` × `num` grid of the square of half-width `half`
    around x* (θ across, ω up): (xs, ys, u, v), u and v of shape (num, num) indexed [y, x]."""
    star, unravel = ravel_pytree(x_star)
    star = np.asarray(star, dtype=float)
    xs = np.linspace(star[0] - half, star[0] + half, num)
    ys = np.linspace(star[1] - half, star[1] + half, num)
    gx, gy = np.meshgrid(xs, ys)
    flat = jax.jit(jax.vmap(lambda p: ravel_pytree(field(unravel(p)))[0]))
    uv = np.asarray(flat(jnp.asarray(np.stack([gx.ravel(), gy.ravel()], axis=1))), dtype=float)
    return xs, ys, uv[:, 0].reshape(gx.shape), uv[:, 1].reshape(gx.shape)
