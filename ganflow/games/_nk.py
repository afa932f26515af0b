r"""The two-parameter GAN of Nagarajan–Kolter (2017), §4 and Fig. 3."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import ArrayLike

from .._checks import check_int_at_least
from .._quadrature import graded_rule
from ..dynamics import Objective
from ..losses import AbstractLoss, WGANLoss, get_loss
from ..models import Linear, QuadraticDiscriminator
from ._base import AbstractGANGame


class NagarajanKolter2D(AbstractGANGame):
    r"""Data and latent uniform on [−1, 1], discriminator $D(x) = w_2 x^2$
    (`QuadraticDiscriminator`), generator $G(z) = a z$ (`Linear(weight=a)`); the state is
    x = (Linear(a), QuadraticDiscriminator(w₂)) and the equilibrium is (a, w₂) = (1, 0)
    (Nagarajan–Kolter §4, Fig. 3; a = −1 is an equilibrium too, by the symmetry z ↦ −z).

    The population objective, in ganflow's f-family convention (Nagarajan–Kolter eq. 2),
    $$Φ(a, w_2) = E_x f(w_2 x^2) + E_z f(-w_2 a^2 z^2),\qquad x, z ∼ U[−1, 1],$$
    is exact: in closed form for the WGAN ($f(t) = t$, so $Φ = w_2 (1 - a^2)/3$ from
    $E x^2 = 1/3$), and otherwise by the graded composite Gauss–Legendre rule of
    `ganflow._quadrature` on [−1, 0, 1] (the integrand is analytic; its only sharp feature, for
    large |w₂|, sits at 0), accurate to about 1e-15.

    The Jacobian of b0 at the equilibrium, from differentiating Φ twice (with $E z^2 = 1/3$,
    $E x^4 = E z^4 = 1/5$):
    $$J(1, 0) = \begin{pmatrix} 0 & 2f'(0)/3 \\ -2f'(0)/3 & 2f''(0)/5 \end{pmatrix},$$
    Hurwitz for the GAN (eigenvalues $-1/20 ± i\sqrt{1/9 - 1/400}$), a pure rotation for the WGAN
    (eigenvalues ±2i/3): the GAN converges, the WGAN orbits, as in Fig. 3.
    The non-saturating generator loss gives the same Jacobian at the equilibrium.

    Example: `g = NagarajanKolter2D("gan"); b = g.vector_field(population=True);
    gf.jacobian(b, g.equilibrium())`.
    """

    loss: AbstractLoss
    num_nodes: int = eqx.field(static=True)
    levels: int = eqx.field(static=True)

    def __init__(self, loss: str | AbstractLoss = "gan", num_nodes: int = 8, levels: int = 30):
        self.loss = get_loss(loss)
        self.num_nodes = check_int_at_least("num_nodes", num_nodes, 1)
        self.levels = check_int_at_least("levels", levels, 0)

    @staticmethod
    def make_state(a: ArrayLike, w2: ArrayLike):
        """x = (G, D) = (Linear(weight=a), QuadraticDiscriminator(w₂))."""
        return Linear(a), QuadraticDiscriminator(w2)

    def init(self, key):
        """(a, w₂) uniform on [0.5, 1.5] × [−0.5, 0.5]: around the equilibrium (1, 0)."""
        ka, kw = jax.random.split(key)
        dtype = jnp.result_type(float)
        a = jax.random.uniform(ka, (), dtype, 0.5, 1.5)
        w2 = jax.random.uniform(kw, (), dtype, -0.5, 0.5)
        return self.make_state(a, w2)

    def sample_data(self, key, n):
        return jax.random.uniform(key, (n,), jnp.result_type(float), -1.0, 1.0)

    def sample_latent(self, key, n):
        return jax.random.uniform(key, (n,), jnp.result_type(float), -1.0, 1.0)

    def equilibrium(self):
        return self.make_state(1.0, 0.0)

    def _uniform_rule(self):
        nodes, weights = graded_rule(jnp.asarray([-1.0, 0.0, 1.0]), self.num_nodes, self.levels)
        return nodes, 0.5 * weights  # density of U[−1, 1]

    def data_expectation(self, fn):
        """$E_{x∼U[−1,1]} fn(x)$ by the graded Gauss–Legendre rule (for population penalties:
        R1, WGAN-GP)."""
        nodes, weights = self._uniform_rule()
        return jnp.dot(weights, jax.vmap(fn)(nodes))

    def latent_expectation(self, fn):
        """$E_{z∼U[−1,1]} fn(z)$ (the latent has the data's law)."""
        return self.data_expectation(fn)

    def population(self):
        loss = self.loss
        if isinstance(loss, WGANLoss):
            # f linear: E f(D) = f(E D); E D(x) = w₂/3, E D(G(z)) = w₂ a² E z² = w₂ a²/3.
            def means(theta, omega):
                return omega.w2 / 3.0, omega.w2 * jnp.square(theta.weight) / 3.0

            return Objective(
                lambda t, w: loss.generator(*means(t, w)),
                lambda t, w: loss.discriminator(*means(t, w)),
                loss.zero_sum,
            )
        nodes, weights = self._uniform_rule()
        ex = self.example_objective

        # The example objective is f(D(x)) + f(−D(G(z))): a function of x plus one of z, and x, z
        # have the same law, so one rule evaluated at the paired nodes (x_i, z_i) = (u_i, u_i)
        # gives E_x + E_z exactly as two separate quadratures would.
        def expect(fn):
            return lambda t, w: jnp.dot(weights, jax.vmap(lambda u: fn(t, w, (u, u)))(nodes))

        return Objective(expect(ex.generator), expect(ex.discriminator), ex.zero_sum)
