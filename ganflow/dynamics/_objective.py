"""The players' objectives: a zero-sum Φ or one objective per player."""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax

from .._checks import check_scalar_output, check_state
from ..engine import StateError, state_error

# errors of an objective traced on a state of the wrong structure or shapes (never the
# RuntimeError of a compiled computation)
_TRACE_ERRORS = (TypeError, ValueError, IndexError, KeyError, AttributeError)


def _on_state(grad_fn, theta: Any, omega: Any, *args: Any):
    """`grad_fn(theta, omega, *args)`; an objective that fails on this state raises one
    `StateError` (a `ValueError`) naming θ's and ω's leaves and shapes, with the objective's
    own message (a weight of the wrong shape, θ and ω swapped, a non-scalar output)."""
    try:
        return grad_fn(theta, omega, *args)
    except StateError as e:
        raise state_error("", e, {}) from None
    except _TRACE_ERRORS as e:
        if isinstance(e, TypeError) and "positional argument" in str(e):
            raise  # called with too few arguments (a minibatch objective without its batch)
        raise state_error("the objective", e, {"theta": theta, "omega": omega}) from None


class Objective(eqx.Module):
    r"""The two players' objectives of a (possibly non-zero-sum) game.

    The generator (parameters θ) **minimises** `generator(θ, ω, *args)`; the discriminator
    (parameters ω) **maximises** `discriminator(θ, ω, *args)`. A zero-sum game has both equal to
    Φ (Cao–Guo eq. 2); the non-saturating GAN changes only the generator's objective
    (docs/conventions.md §The game).

    The gradients are $g_θ = ∇_θ L_G$ and $g_ω = ∇_ω Φ_D$, and the game's vector field is
    $b_0 = (-g_θ, g_ω)$.

    **Example**

    ```python
    phi = lambda th, om: th * om              # bilinear x·y
    obj = Objective.from_phi(phi)
    ```
    """

    generator: Callable[..., Any]
    discriminator: Callable[..., Any]
    zero_sum: bool = eqx.field(static=True, default=False)

    @classmethod
    def from_phi(cls, phi: Callable[..., Any]) -> "Objective":
        """A zero-sum game: both players use Φ."""
        return cls(phi, phi, zero_sum=True)

    def generator_value(self, theta, omega, *args):
        return check_scalar_output("the generator's objective", self.generator(theta, omega, *args))

    def discriminator_value(self, theta, omega, *args):
        return check_scalar_output(
            "the discriminator's objective", self.discriminator(theta, omega, *args)
        )


def as_objective(phi: Callable[..., Any] | Objective) -> Objective:
    """`phi` as an `Objective`: a callable Φ(θ, ω, *args) becomes a zero-sum game."""
    if isinstance(phi, Objective):
        return phi
    if callable(phi):
        return Objective.from_phi(phi)
    raise ValueError(
        "expected an objective Φ(theta, omega, *args) or a ganflow.Objective, "
        f"got {type(phi).__name__}"
    )


def grads(phi: Callable[..., Any] | Objective, x: Any, *args: Any) -> tuple[Any, Any]:
    r"""The players' gradients $(g_θ, g_ω) = (∇_θ L_G, ∇_ω Φ_D)$ at x = (θ, ω) (Cao–Guo eq. 3 in
    expectation; docs/conventions.md §The game). A zero-sum Φ costs one backward pass for
    both. An objective that fails on x (wrong shapes, θ and ω swapped, a non-scalar value)
    raises one `ganflow.engine.StateError` (a `ValueError`) naming the leaves and shapes of θ
    and ω, with the objective's message."""
    obj = as_objective(phi)
    theta, omega = check_state(x)
    if obj.zero_sum:
        return _on_state(jax.grad(obj.discriminator_value, argnums=(0, 1)), theta, omega, *args)
    g_theta = _on_state(jax.grad(obj.generator_value, argnums=0), theta, omega, *args)
    g_omega = _on_state(jax.grad(obj.discriminator_value, argnums=1), theta, omega, *args)
    return g_theta, g_omega


def generator_grad(phi: Callable[..., Any] | Objective, theta: Any, omega: Any, *args: Any) -> Any:
    """$g_θ = ∇_θ L_G(θ, ω)$ alone (errors on the state as for `grads`)."""
    return _on_state(jax.grad(as_objective(phi).generator_value, argnums=0), theta, omega, *args)


def discriminator_grad(
    phi: Callable[..., Any] | Objective, theta: Any, omega: Any, *args: Any
) -> Any:
    """$g_ω = ∇_ω Φ_D(θ, ω)$ alone (errors on the state as for `grads`)."""
    return _on_state(jax.grad(as_objective(phi).discriminator_value, argnums=1), theta, omega,
                     *args)
