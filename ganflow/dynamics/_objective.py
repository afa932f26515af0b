"""The players' objectives: a zero-sum Φ or one objective per player."""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax

from .._checks import check_scalar_output, check_state


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
    both."""
    obj = as_objective(phi)
    theta, omega = check_state(x)
    if obj.zero_sum:
        return jax.grad(obj.discriminator_value, argnums=(0, 1))(theta, omega, *args)
    g_theta = jax.grad(obj.generator_value, argnums=0)(theta, omega, *args)
    g_omega = jax.grad(obj.discriminator_value, argnums=1)(theta, omega, *args)
    return g_theta, g_omega


def generator_grad(phi: Callable[..., Any] | Objective, theta: Any, omega: Any, *args: Any) -> Any:
    """$g_θ = ∇_θ L_G(θ, ω)$ alone."""
    return jax.grad(as_objective(phi).generator_value, argnums=0)(theta, omega, *args)


def discriminator_grad(
    phi: Callable[..., Any] | Objective, theta: Any, omega: Any, *args: Any
) -> Any:
    """$g_ω = ∇_ω Φ_D(θ, ω)$ alone."""
    return jax.grad(as_objective(phi).discriminator_value, argnums=1)(theta, omega, *args)
