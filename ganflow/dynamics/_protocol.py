r"""The field protocol: what every vector field `b(x, *args)` of ganflow may declare.

A vector field is any callable `b(x, *args) -> pytree shaped like x`, with x = (θ, ω)
(docs/conventions.md §The field protocol). Three calling forms are in use:

- `b(x)`: a population field (exact expectations, no data);
- `b(x, batch)`: a minibatch field; for a GAN game `batch = (data, latent)`;
- `b(x, batch, key)`: a minibatch field that draws random numbers per evaluation (WGAN-GP's
  interpolation weights, sampled instance noise); it declares `needs_key = True`.

A field may also declare a projection `project(x) -> x` that training schemes apply to the
state after every step (weight clipping). Fields that declare either implement `AbstractField`;
plain Python functions are fields too, with `needs_key = False` and no projection. Code that
consumes fields reads the declarations through `field_needs_key` and `field_project`, which
accept both.
"""

import abc
from typing import Any

import equinox as eqx


class AbstractField(eqx.Module):
    r"""A vector field $b(x, \ldots)$ on the state x = (θ, ω), the direction the state follows
    ($\dot x = b(x)$, one step $x + η\,b(x)$); see docs/conventions.md §The field protocol.

    Concrete fields implement `__call__(x, *args)` and may override:

    - `needs_key` (default False): True when the field is called as `b(x, batch, key)` with a
      PRNG key after the batch;
    - `project(x)` (default: identity): applied to the state after every training step.

    `GameField` (the game's b0), `ModifiedField` and `ganflow.stabilisers.Stabilised` implement
    it. A plain function `b(x, *args)` needs no base class: `field_needs_key` and
    `field_project` treat it as a field with no key and no projection.

    **Example**

    ```python
    class Clipped(AbstractField):
        inner: Callable
        c: float = eqx.field(static=True)

        def __call__(self, x, *args):
            return self.inner(x, *args)

        def project(self, x):
            theta, omega = x
            return theta, jnp.clip(omega, -self.c, self.c)
    ```
    """

    @abc.abstractmethod
    def __call__(self, x: Any, *args: Any) -> Any:
        """b(x, *args): a pytree with the structure and leaf shapes of x."""

    @property
    def needs_key(self) -> bool:
        """True: call as `b(x, batch, key)`. Default False."""
        return False

    def project(self, x: Any) -> Any:
        """The state after a training step, projected; default: x unchanged."""
        return x


def _check_field(b: Any) -> None:
    if not callable(b):
        raise ValueError(f"expected a vector field b(x, *args), got {type(b).__name__}")


def field_needs_key(b: Any) -> bool:
    """Whether the field `b` is called as `b(x, batch, key)`: its `needs_key` if it is an
    `AbstractField`, False for any other callable.

    **Arguments:** `b`: a vector field (an `AbstractField` or a plain callable).

    **Returns:** a Python bool (static: decided before tracing).
    """
    _check_field(b)
    return bool(b.needs_key) if isinstance(b, AbstractField) else False


def field_project(b: Any, x: Any) -> Any:
    """The state x after the projection the field `b` declares: `b.project(x)` for an
    `AbstractField`, x unchanged for any other callable.

    **Arguments:** `b`: a vector field; `x`: a state (θ, ω).

    **Returns:** the projected state, with the structure of x.
    """
    _check_field(b)
    return b.project(x) if isinstance(b, AbstractField) else x
