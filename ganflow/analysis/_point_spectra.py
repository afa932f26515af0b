r"""The local spectra of a field at one point of a training run (not necessarily a stationary
point): the top eigenvalues of its Jacobian J and of simultaneous gradient descent's update
operator $F' = I + ηJ$ (Mescheder, Nowozin & Geiger 2017, "The numerics of GANs", §3–4)."""

from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ._spectra import top_eigenvalues
from ._stability import update_stability


class PointSpectra(NamedTuple):
    """The spectra of a field b at one point (`point_spectra`): `lm`, `lr`, `upd` are (k,)
    complex arrays padded with NaN, `rho` = ρ(F′), `max_re` = max Re λ(J), `field_norm` =
    ‖b(x)‖ (a save point of training is not a stationary point: the linearisation is local)."""

    lm: np.ndarray
    lr: np.ndarray
    upd: np.ndarray
    rho: float
    max_re: float
    field_norm: float


def pad_eigenvalues(vals: Any, k: int) -> np.ndarray:
    """The first `k` of `vals` as a complex128 array of length k, NaN + NaN·i after the last."""
    v = np.full(k, np.nan + 1j * np.nan, np.complex128)
    vals = np.asarray(vals, np.complex128)[:k]
    v[: vals.size] = vals
    return v


@eqx.filter_jit
def field_norm(b: Any, x: Any, *args: Any) -> jax.Array:
    """‖b(x, *args)‖₂ over every parameter (ganflow's flat order)."""
    return jnp.linalg.norm(ravel_pytree(b(x, *args))[0])


def point_spectra(b: Any, x: Any, *args: Any, eta: float, k: int = 6,
                  tol: float = 1e-8) -> PointSpectra:
    r"""The top `k` eigenvalues of J = ∂b/∂x at x by largest modulus (`lm`) and by largest real
    part (`lr`), matrix-free Arnoldi on JVPs (`top_eigenvalues`, ARPACK tolerance `tol`), and of
    simultaneous GD's update operator $F' = I + ηJ$ with step `eta` (`update_stability`,
    Arnoldi; its spectral radius `rho`), with ‖b(x)‖ — the picture of Mescheder, Nowozin &
    Geiger 2017 §3–4 at a save point of training: eigenvalues of J with Re λ > 0 make the flow
    itself move away, eigenvalues near the imaginary axis make simultaneous steps fail for
    every η, and ρ(F′) < 1 is local convergence of the iteration.

    ```python
    s = point_spectra(game.vector_field(), x, batch, eta=0.05, k=6)
    s.rho, s.lr[0]
    ```
    """
    kw = dict(method="arnoldi", k=k, tol=tol)
    lm = top_eigenvalues(b, x, *args, which="LM", return_eigenvectors=False, **kw)
    lr = top_eigenvalues(b, x, *args, which="LR", return_eigenvectors=False, **kw)
    upd = update_stability(b, x, *args, eta=eta, scheme="simultaneous", method="arnoldi", k=k)
    upd_eigs = np.asarray(upd.eigenvalues)
    return PointSpectra(
        lm=pad_eigenvalues(lm.eigenvalues, k), lr=pad_eigenvalues(lr.eigenvalues, k),
        upd=pad_eigenvalues(upd_eigs, k), rho=float(upd.radius),
        max_re=float(lr.eigenvalues[0].real), field_norm=float(field_norm(b, x, *args)))


def state_unravel(game: Any) -> Callable[[Any], Any]:
    """The map from a flat parameter vector (ganflow's flat order, `ravel_pytree` of
    `game.init(key)`, e.g. the saved `x` of a run) back to the game's state (θ, ω)."""
    shapes = jax.eval_shape(game.init, jax.random.key(0))
    _, unravel = ravel_pytree(jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype),
                                                     shapes))
    return unravel
