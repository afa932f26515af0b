r"""The game's vector field b0 and its matrix-free derivatives.

Conventions (docs/conventions.md §The vector field b0 and its Jacobian J): the state is
x = (θ, ω); $b_0 = (-g_θ, g_ω)$; $J = ∂b_0/∂x$. Every function
here works for any objective Φ(θ, ω, *args) over arbitrary pytrees, and every derivative function
works for any vector field `b(x, *args)` (b0, a stabilised field, a modified equation), because
they only use `jax.jvp`, `jax.vjp` and `jax.linearize` of `b`.

The flat order of dense matrices is that of `jax.flatten_util.ravel_pytree((θ, ω))`: all of θ's
leaves (in `jax.tree_util` order, each raveled row-major) then all of ω's (docs/conventions.md
§Flat order).
"""

from collections.abc import Callable
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from .._checks import check_choice, check_positive, check_same_structure, check_state
from ._objective import Objective, as_objective, grads
from ._protocol import AbstractField, field_needs_key, field_project

_tmap = jax.tree_util.tree_map


def _zeros_like(tree: Any) -> Any:
    return _tmap(jnp.zeros_like, tree)


def _axpy(a: Any, x: Any, y: Any) -> Any:
    """a·x + y over pytrees."""
    return _tmap(lambda xi, yi: a * xi + yi, x, y)


class GameField(AbstractField):
    r"""The vector field $b_0(x) = (-∇_θ L_G, +∇_ω Φ_D)$ of a game, as a callable `b(x, *args)`.

    This is the direction in which simultaneous gradient descent–ascent moves
    (Cao–Guo eq. 7; Mescheder's v). Build it with `vector_field(phi)`. Every argument after x
    goes to the objectives; it declares no key and no projection (an `AbstractField` with the
    defaults; docs/conventions.md §The field protocol).
    """

    objective: Objective

    def __call__(self, x: Any, *args: Any) -> tuple[Any, Any]:
        g_theta, g_omega = grads(self.objective, x, *args)
        return _tmap(jnp.negative, g_theta), g_omega


def vector_field(phi: Callable[..., Any] | Objective) -> GameField:
    """The game's vector field b0 as a callable `b(x, *args)`.

    **Example**

    ```python
    b = vector_field(lambda th, om: th * om)
    b((1.0, 2.0))    # (-2.0, 1.0)
    ```
    """
    return GameField(as_objective(phi))


def b0(phi: Callable[..., Any] | Objective, x: Any, *args: Any) -> tuple[Any, Any]:
    r"""$b_0(x) = (-g_θ, g_ω)$ (Cao–Guo §3, defined after eq. 10; docs/conventions.md §The vector
    field b0 and its Jacobian J)."""
    return vector_field(phi)(x, *args)


def _as_field(field: Any) -> Callable[..., Any]:
    if isinstance(field, Objective):
        raise ValueError(
            "expected a vector field b(x, *args); got an Objective: use ganflow.vector_field(obj)"
        )
    if not callable(field):
        raise ValueError(f"expected a vector field b(x, *args), got {type(field).__name__}")
    return field


def _checked_field_fn(field: Any, x: Any, args: tuple) -> Callable[[Any], Any]:
    field = _as_field(field)

    def fn(y):
        out = field(y, *args)
        check_same_structure("the vector field's output", out, y, "x")
        return out

    return fn


def jvp(field: Callable[..., Any], x: Any, u: Any, *args: Any) -> Any:
    r"""$J(x)\,u$ with one `jax.jvp` of the field (docs/conventions.md §The vector field b0 and
    its Jacobian J)."""
    check_state(x)
    check_same_structure("u", u, x)
    return jax.jvp(_checked_field_fn(field, x, args), (x,), (u,))[1]


def vjp(field: Callable[..., Any], x: Any, u: Any, *args: Any) -> Any:
    r"""$J(x)^\top u$ with one `jax.vjp` of the field."""
    check_state(x)
    check_same_structure("u", u, x)
    _, pullback = jax.vjp(_checked_field_fn(field, x, args), x)
    return pullback(u)[0]


def linearize(field: Callable[..., Any], x: Any, *args: Any) -> tuple[Any, Callable[[Any], Any]]:
    """`(b(x), u ↦ J(x) u)`: linearise once, apply J many times (Arnoldi, CG, b1)."""
    check_state(x)
    return jax.linearize(_checked_field_fn(field, x, args), x)


def ravel_state(x: Any) -> tuple[jax.Array, Callable[[jax.Array], Any]]:
    """Flattens x = (θ, ω) to one vector in ganflow's flat order (θ first) and returns the
    inverse. `split_index(x)` is the length of the θ part."""
    check_state(x)
    return ravel_pytree(x)


def split_index(x: Any) -> int:
    """Number of generator parameters d_θ: flat index where ω starts."""
    theta, _ = check_state(x)
    return int(sum(jnp.size(a) for a in jax.tree_util.tree_leaves(theta)))


def jacobian(
    field: Callable[..., Any], x: Any, *args: Any, chunk_size: int | None = 256
) -> jax.Array:
    r"""The dense Jacobian $J(x)$ of a field, a (d, d) matrix in ganflow's flat order (θ first).

    Built column by column from JVPs, `chunk_size` columns at a time (`jax.lax.map`): the memory
    of `jax.jacfwd` (all d tangents at once) is out of reach beyond a few thousand parameters.
    `chunk_size=None` computes all columns in one `vmap`. For small games and spectra only.
    """
    check_state(x)
    flat, unravel = ravel_pytree(x)
    fn = _checked_field_fn(field, x, args)

    def column(e):
        return ravel_pytree(jax.jvp(fn, (x,), (unravel(e),))[1])[0]

    eye = jnp.eye(flat.size, dtype=flat.dtype)
    if chunk_size is None or chunk_size >= flat.size:
        cols = jax.vmap(column)(eye)
    else:
        cols = jax.lax.map(column, eye, batch_size=chunk_size)
    return cols.T


def b1(field: Callable[..., Any], x: Any, *args: Any) -> tuple[Any, Any]:
    r"""The drift correction of alternating GDA (Cao–Guo eq. 10; docs/conventions.md §Continuous
    time: b1, the SDEs, β, Σ and its factor):

    $$b_1 = -\tfrac12 J b - (∇_ω g_θ \, g_ω, 0),$$

    written for any field $b = (b_θ, b_ω)$ as $b_1 = -\tfrac12 J b + (∂_ω b_θ\, b_ω, 0)$, which
    for $b = b_0$ is the paper's formula. Rearranged per player,

    $$b_{1,θ} = -\tfrac12\,[J\,(b_θ, -b_ω)]_θ, \qquad b_{1,ω} = -\tfrac12\,[J\,(b_θ, b_ω)]_ω,$$

    so each player's part costs one linearisation of that player's part of the field and one
    application of it (about 3× b0 on an MLP GAN; `scripts/benchmarks/bench_dynamics.py`).
    """
    return _field_and_b1(field, x, *args)[1]


def _field_and_b1(field: Callable[..., Any], x: Any, *args: Any) -> tuple[Any, Any]:
    """(b(x), b1(x)) from one linearisation of each player's part of the field."""
    check_state(x)
    fn = _checked_field_fn(field, x, args)
    b_theta, j_theta = jax.linearize(lambda y: fn(y)[0], x)
    b_omega, j_omega = jax.linearize(lambda y: fn(y)[1], x)
    half = lambda tree: _tmap(lambda a: -0.5 * a, tree)  # noqa: E731
    b1_theta = half(j_theta((b_theta, _tmap(jnp.negative, b_omega))))
    b1_omega = half(j_omega((b_theta, b_omega)))
    return (b_theta, b_omega), (b1_theta, b1_omega)


def self_jvp(field: Callable[..., Any], x: Any, *args: Any) -> tuple[Any, Any]:
    r"""$(b(x),\, J(x)\,b(x))$ from one linearisation (cheaper than `b` then `jvp`)."""
    b, jmap = linearize(field, x, *args)
    return b, jmap(b)


def self_vjp(field: Callable[..., Any], x: Any, *args: Any) -> tuple[Any, Any]:
    r"""$(b(x),\, J(x)^\top b(x))$ from one `jax.vjp` (the consensus direction
    $∇\tfrac12\|b\|^2$ when b = b0 of a zero-sum game)."""
    check_state(x)
    b, pullback = jax.vjp(_checked_field_fn(field, x, args), x)
    return b, pullback(b)[0]


def simultaneous_correction(field: Callable[..., Any], x: Any, *args: Any) -> tuple[Any, Any]:
    r"""$-\tfrac12 J b$: the first-order correction of simultaneous GDA (Cao–Guo Remark 1,
    eq. 13), one JVP."""
    _, jb = self_jvp(field, x, *args)
    return _tmap(lambda a: -0.5 * a, jb)


class ModifiedField(AbstractField):
    r"""The first-order modified equation of a discrete scheme with step η (Cao–Guo §3):

    - `scheme="simultaneous"`: $b - \tfrac{η}{2} J b$ (eq. 13);
    - `scheme="alternating"`: $b + η\, b_1$ (eq. 10).

    A flow of this field over time η matches one step of the scheme to $O(η^3)$. It is called
    with the arguments of the field it modifies, and declares that field's `needs_key` and
    `project` (docs/conventions.md §The field protocol).
    """

    field: Callable[..., Any]
    eta: Any
    scheme: Literal["simultaneous", "alternating"] = eqx.field(static=True)

    def __init__(self, field, eta, scheme: str = "simultaneous"):
        self.field = _as_field(field)
        self.eta = check_positive("eta", eta)
        self.scheme = check_choice("scheme", scheme, ("simultaneous", "alternating"))

    def __call__(self, x: Any, *args: Any) -> tuple[Any, Any]:
        if self.scheme == "simultaneous":
            b, jb = self_jvp(self.field, x, *args)
            return _axpy(-0.5 * self.eta, jb, b)
        b, corr = _field_and_b1(self.field, x, *args)
        return _axpy(self.eta, corr, b)

    @property
    def needs_key(self) -> bool:
        return field_needs_key(self.field)

    def project(self, x: Any) -> Any:
        return field_project(self.field, x)


def modified_field(
    field: Callable[..., Any], eta: Any, scheme: str = "simultaneous"
) -> ModifiedField:
    """See `ModifiedField`."""
    return ModifiedField(field, eta, scheme)


# ---------------------------------------------------------------------------------------------
# Hessian-vector products of each block (need the objective, not only the field)


def hvp_theta(phi: Any, x: Any, v_theta: Any, *args: Any) -> Any:
    r"""$∇^2_{θθ} L_G \, v_θ$: the generator's Hessian times v_θ (one JVP of $g_θ$)."""
    obj = as_objective(phi)
    theta, omega = check_state(x)
    check_same_structure("v_theta", v_theta, theta, "theta")
    g = jax.grad(obj.generator_value, argnums=0)
    return jax.jvp(lambda t: g(t, omega, *args), (theta,), (v_theta,))[1]


def hvp_omega(phi: Any, x: Any, v_omega: Any, *args: Any) -> Any:
    r"""$∇^2_{ωω} Φ_D \, v_ω$: the discriminator's Hessian times v_ω (one JVP of $g_ω$)."""
    obj = as_objective(phi)
    theta, omega = check_state(x)
    check_same_structure("v_omega", v_omega, omega, "omega")
    g = jax.grad(obj.discriminator_value, argnums=1)
    return jax.jvp(lambda w: g(theta, w, *args), (omega,), (v_omega,))[1]


def mixed_theta_omega(phi: Any, x: Any, v_omega: Any, *args: Any) -> Any:
    r"""$∇_ω g_θ \, v_ω$ (θ-shaped): the cross block of the generator's gradient."""
    obj = as_objective(phi)
    theta, omega = check_state(x)
    check_same_structure("v_omega", v_omega, omega, "omega")
    g = jax.grad(obj.generator_value, argnums=0)
    return jax.jvp(lambda w: g(theta, w, *args), (omega,), (v_omega,))[1]


def mixed_omega_theta(phi: Any, x: Any, v_theta: Any, *args: Any) -> Any:
    r"""$∇_θ g_ω \, v_θ$ (ω-shaped): the cross block of the discriminator's gradient."""
    obj = as_objective(phi)
    theta, omega = check_state(x)
    check_same_structure("v_theta", v_theta, theta, "theta")
    g = jax.grad(obj.discriminator_value, argnums=1)
    return jax.jvp(lambda t: g(t, omega, *args), (theta,), (v_theta,))[1]


def hessian_blocks(phi: Any, x: Any, *args: Any) -> dict[str, jax.Array]:
    r"""Dense blocks `{"theta_theta": ∇²_θθ L_G, "omega_omega": ∇²_ωω Φ_D, "theta_omega": ∇_ω g_θ,
    "omega_theta": ∇_θ g_ω}` in the flat order of each player (small games only). The Jacobian
    is `[[-theta_theta, -theta_omega], [omega_theta, omega_omega]]`.

    Compiled (`eqx.filter_jit`): each block is a `vmap` of HVPs over the unit vectors, which
    op by op would compile every batched primitive on its own."""
    check_state(x)
    return _hessian_blocks_jit(phi, x, *args)


@eqx.filter_jit
def _hessian_blocks_jit(phi: Any, x: Any, *args: Any) -> dict[str, jax.Array]:
    theta, omega = x
    ft, unt = ravel_pytree(theta)
    fo, uno = ravel_pytree(omega)

    def cols(fn, unravel, n, dtype):
        eye = jnp.eye(n, dtype=dtype)
        return jax.vmap(lambda e: ravel_pytree(fn(unravel(e)))[0])(eye).T

    return {
        "theta_theta": cols(lambda v: hvp_theta(phi, x, v, *args), unt, ft.size, ft.dtype),
        "omega_omega": cols(lambda v: hvp_omega(phi, x, v, *args), uno, fo.size, fo.dtype),
        "theta_omega": cols(lambda v: mixed_theta_omega(phi, x, v, *args), uno, fo.size, fo.dtype),
        "omega_theta": cols(lambda v: mixed_omega_theta(phi, x, v, *args), unt, ft.size, ft.dtype),
    }
