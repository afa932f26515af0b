r"""WGAN-QC: the Wasserstein GAN with quadratic transport cost (Liu, Gu & Samaras, ICCV 2019).

The discriminator is not trained by ascending an objective Φ: on every minibatch the exact
Kantorovich potentials of the optimal transport problem with cost $c(x, y) = \tfrac12\|x - y\|^2$
between the real and the generated samples are computed (with ott-jax), and D is *regressed*
onto them, with an optimal-transport regulariser on its input gradient. The generator then
ascends the discriminator's value on its samples. So WGAN-QC is a training scheme (an
`AbstractScheme`), with its own field (`WGANQCField`) for analysis.
"""

from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from .._checks import check_choice, check_int_at_least, check_positive, scalar_logit
from .._custom_types import ScalarLike, State
from ..dynamics import AbstractField
from ..games import AbstractGANGame, GameSampler
from ..stabilisers import safe_norm
from ._schemes import AbstractScheme, _common

_tmap = jax.tree_util.tree_map
_REGULARISERS = ("vector", "norm")


def _neg(tree: Any) -> Any:
    return _tmap(jnp.negative, tree)


# ---------------------------------------------------------------------------------------------
# the optimal transport step


class OTTargets(eqx.Module):
    r"""The discriminator's regression targets on one minibatch (see `quadratic_ot_targets`).

    - `h_real` (n_r,): the potential $H^*(y_i)$ on the real samples;
    - `h_fake` (n_f,): the potential $H^*(x_j)$ on the generated samples;
    - `matched` (n_f, ...): $y_{σ(j)}$, the real sample each generated sample is transported to;
    - `value` (): $\frac1{n_r}\sum_i H^*(y_i) - \frac1{n_f}\sum_j H^*(x_j)$, the dual value, an
      estimate of $\tfrac12 W_2^2$ between the two batches (exact when Sinkhorn has converged);
    - `sinkhorn_iterations` (): the iterations Sinkhorn used.
    """

    h_real: Float[Array, " n_r"]
    h_fake: Float[Array, " n_f"]
    matched: Array
    value: Float[Array, ""]
    sinkhorn_iterations: Int[Array, ""]


def quadratic_ot_targets(
    real: Float[ArrayLike, "n_r ..."],
    fake: Float[ArrayLike, "n_f ..."],
    *,
    epsilon: ScalarLike = 0.02,
    max_iterations: int = 100,
    threshold: float = 1e-3,
) -> OTTargets:
    r"""Kantorovich potentials of the quadratic-cost transport between two minibatches
    (WGAN-QC, Liu et al. 2019, the linear program of §3; slides p. 13).

    With uniform weights on the real samples $y_i$ and the generated samples $x_j$ and
    $c(x, y) = \tfrac12\|x - y\|^2$, the potentials solve the dual linear program

    $$\max_H\ \frac1{n_r}\sum_i H(y_i) - \frac1{n_f}\sum_j H(x_j)
      \quad\text{s.t.}\quad H(y_i) - H(x_j) \le c(x_j, y_i),$$

    whose value is the transport cost $\tfrac12 W_2^2$; the free constant is fixed by
    $\frac1{n_r}\sum_i H(y_i) + \frac1{n_f}\sum_j H(x_j) = 0$ (as the reference implementation
    does). They are computed as follows:

    1. entropic OT with ott-jax (`ott.solvers.linear.sinkhorn.Sinkhorn` on an
       `ott.geometry.geometry.Geometry` with the cost matrix; ε = `epsilon` × the batch's mean
       cost, at most `max_iterations` iterations) gives the generated-side potential g;
    2. two exact c-transforms turn it into a *feasible* pair:
       $f_i = \min_j c_{ij} - g_j$, $g'_j = \min_i c_{ij} - f_i$, with
       $σ(j) = \arg\min_i c_{ij} - f_i$ the transport map; then $H(y_i) = f_i$,
       $H(x_j) = -g'_j$ (up to the centring). The constraints hold exactly and the dual value
       is within the Sinkhorn error of the optimum (it equals the optimal assignment cost once
       Sinkhorn has converged at small ε).

    **Derivatives.** The solve (Sinkhorn, both c-transforms, the centring) runs on
    `stop_gradient`-ed costs, which also keeps forward-mode autodiff away from ott-jax's custom
    VJP: the real-side values $H(y_i)$ are constants. The generated-side values are those of the
    c-concave potential $H(x) = \max_i\, H(y_i) - c(x, y_i)$ at $x = x_j$ (equal to the LP's
    values), differentiated in x: $∇_x H(x_j) = y_{σ(j)} - x_j$, the transport step, which is
    also the regulariser's target in `WGANQCField`. jit-, vmap- and jacfwd-friendly.

    **Arguments:**

    - `real`, `fake`: the samples, shapes (n_r, ...) and (n_f, ...) with the same event shape.
    - `epsilon`: the entropic regularisation relative to the mean cost (> 0).
    - `max_iterations`, `threshold`: Sinkhorn's iteration cap and marginal-error tolerance.

    **Returns:** an `OTTargets`.
    """
    real = jnp.asarray(real)
    fake = jnp.asarray(fake)
    if real.ndim < 1 or fake.ndim < 1 or real.shape[1:] != fake.shape[1:]:
        raise ValueError(
            "real and fake must be batches (leading sample axis) with the same event shape; got "
            f"shapes {real.shape} and {fake.shape}"
        )
    check_positive("epsilon", epsilon)
    check_int_at_least("max_iterations", max_iterations, 1)
    y = real.reshape(real.shape[0], -1)
    x = fake.reshape(fake.shape[0], -1)
    cost = 0.5 * jnp.sum(jnp.square(y[:, None, :] - x[None, :, :]), axis=-1)  # (n_r, n_f)
    cost_sg = jax.lax.stop_gradient(cost)
    tiny = jnp.finfo(cost.dtype).tiny
    eps = epsilon * jnp.mean(cost_sg) + tiny
    # ott-jax is imported here, not at module level: it imports matplotlib, and `import ganflow`
    # must not
    from ott.geometry import geometry as ott_geometry
    from ott.problems.linear import linear_problem
    from ott.solvers.linear import sinkhorn

    geom = ott_geometry.Geometry(cost_matrix=cost_sg, epsilon=eps)
    solver = sinkhorn.Sinkhorn(max_iterations=max_iterations, threshold=threshold)
    out = solver(linear_problem.LinearProblem(geom))
    g = out.g
    f = jnp.min(cost_sg - g[None, :], axis=1)  # c-transform: feasible with g
    g2 = jnp.min(cost_sg - f[:, None], axis=0)  # f ⊕ g2 ≤ c, tight on (σ(j), j)
    shift = 0.5 * (jnp.mean(f) - jnp.mean(g2))
    h_real = f - shift
    # H(x) = max_i H(y_i) − c(x, y_i): equal to −(g2 + shift), differentiable in x
    scores = h_real[:, None] - cost
    sigma = jnp.argmax(jax.lax.stop_gradient(scores), axis=0)
    return OTTargets(
        h_real=h_real,
        h_fake=jnp.max(scores, axis=0),
        matched=real[sigma],
        value=jnp.mean(f) + jnp.mean(g2),
        sinkhorn_iterations=jnp.asarray(out.n_iters, jnp.int32),
    )


# ---------------------------------------------------------------------------------------------
# the field


def _logit(omega: Any, x: Any) -> jax.Array:
    return scalar_logit(omega, x)


def _sum_sq(tree: Any) -> jax.Array:
    return sum(jnp.sum(jnp.square(a)) for a in jax.tree_util.tree_leaves(tree))


class WGANQCField(AbstractField):
    r"""The losses of WGAN-QC (Liu, Gu & Samaras 2019; slides pp. 13–14) on a minibatch
    `batch = (data, latent)` of an `AbstractGANGame`, and the field
    $b(x, \text{batch}) = (-∇_θ L_G,\ -∇_ω L_D)$ they define.

    With real samples $y_i$, generated samples $x_j = G_θ(z_j)$ and the targets $H$, σ of
    `quadratic_ot_targets` (cost $c = \tfrac12\|x-y\|^2$):

    $$L_D(ω) = \tfrac12\Big(\tfrac1n\sum_i D_ω(y_i) - \tfrac1n\sum_i H(y_i)\Big)^2
      + \tfrac12\,\tfrac1n\sum_j \big(D_ω(x_j) - H(x_j)\big)^2 + \tfrac{γ}{2}\,\tfrac1n\sum_j R_j,$$

    $$L_G(θ) = -\tfrac1n \sum_j D_ω(G_θ(z_j)) .$$

    The regulariser (the "optimal transport regulariser") asks $∇_x D$ at a generated sample to
    be the gradient of the potential there, $∇_x H(x_j) = y_{σ(j)} - x_j$:

    - `regulariser="vector"` (default): $R_j = \|∇_x D_ω(x_j) - (y_{σ(j)} - x_j)\|^2$, smooth,
      the form whose Hessian is the slides' $M_R$;
    - `regulariser="norm"`: $R_j = (\|∇_x D_ω(x_j)\| - \|y_{σ(j)} - x_j\|)^2$, the form of the
      authors' code. It agrees with "vector" where $∇_x D$ points along $y_{σ(j)} - x_j$ but is
      blind to the sign of $∇_x D$ and not differentiable where both vanish (at the
      equilibrium). On the Dirac-GAN ($R = (|ψ| - |θ|)^2$) it has a spurious attracting
      stationary point $(θ, ψ) = (±2\sqrt γ, 0^±)$, where the critic has the wrong sign:
      ψ → 0 stops the generator and $∂_ψ L_D → |θ|(γ - θ^2/4) = 0$ (tested); "vector" has none.

    **Signs.** D is a critic, high on data, as the WGAN loss of ganflow ($Φ = E D(x) - E D(G(z))$):
    H is the potential of the real side. The generator's loss is the WGAN generator loss; the
    game's own `loss` is not used. Compared with the authors' code: the cost has K = 1 (their
    default is K = 1/dim, with γ rescaled by $\sqrt K$), and the generator step draws its own
    batch (theirs reuses the last discriminator batch's latents).

    **Jacobian at an equilibrium** ($p_θ = p_\text{data}$, $D_{ω^*} ≡ 0$, H ≡ 0), ordering
    x = (θ, ω) as in docs/conventions.md §The vector field:

    $$J = \begin{pmatrix} C & B \\ -N & -(M_{DD} + M_R) \end{pmatrix},$$

    $M_{DD} = E∇_ωD(y)\,E∇_ωD(y)^\top + E[∇_ωD(y)∇_ωD(y)^\top]$ and
    $M_R = γ\,E[∇_ω∇_xD(x)\,(∇_ω∇_xD(x))^\top]$ (the Hessian of $L_D$ in ω),
    $N = ∂_θ∇_ωL_D$ (the slides' $M_{GD}$; through the generated samples and the targets),
    $B = ∂_ω∇_θ E D_ω(G_θ(z)) = E[∇_ω∇_xD\,∇_θG]$, $C = ∇^2_θ E D_{ω^*}(G_θ(z)) = 0$. The
    slides print $-J$ with the ω-row first; their generator row is printed as zero.

    On the **Dirac-GAN** (D(x) = ψx, data δ₀, G = θ; `regulariser="vector"`):
    $L_D = \tfrac12(θ^2/4)^2 + \tfrac12(ψθ + θ^2/4)^2 + \tfrac{γ}{2}(ψ + θ)^2$ and
    $L_G = -ψθ$, so $M_{DD} = 0$, $M_R = N = γ$, $B = 1$, C = 0:

    $$J = \begin{pmatrix} 0 & 1 \\ -γ & -γ \end{pmatrix}, \qquad
      λ = \tfrac12\big(-γ ± \sqrt{γ^2 - 4γ}\big),$$

    both with negative real part for every γ > 0, where WGAN has ±i. The regulariser's target
    $y_σ - x = -θ$ supplies both the damping $-γ$ and the coupling that makes the generator's
    error visible to the discriminator; the regression terms are of order three.

    **Arguments:**

    - `game`: an `AbstractGANGame` (players are models, batches are `(data, latent)`).
    - `gamma`: the regulariser's weight γ ≥ 0.
    - `regulariser`: `"vector"` or `"norm"`.
    - `epsilon`, `max_iterations`, `threshold`: the OT solve (`quadratic_ot_targets`).
    """

    game: AbstractGANGame
    gamma: Any
    epsilon: Any
    regulariser: str = eqx.field(static=True)
    max_iterations: int = eqx.field(static=True)
    threshold: float = eqx.field(static=True)

    def __init__(
        self,
        game: AbstractGANGame,
        gamma: ScalarLike = 0.1,
        regulariser: Literal["vector", "norm"] = "vector",
        epsilon: ScalarLike = 0.02,
        max_iterations: int = 100,
        threshold: float = 1e-3,
    ):
        if not isinstance(game, AbstractGANGame):
            raise ValueError(
                "WGAN-QC needs an AbstractGANGame (models as players, batches (data, latent)); "
                f"got {type(game).__name__}"
            )
        self.game = game
        self.gamma = check_positive("gamma", gamma, allow_zero=True)
        self.regulariser = check_choice("regulariser", regulariser, _REGULARISERS)
        self.epsilon = check_positive("epsilon", epsilon)
        self.max_iterations = check_int_at_least("max_iterations", max_iterations, 1)
        self.threshold = float(check_positive("threshold", threshold))

    # -- pieces -----------------------------------------------------------------------------
    @staticmethod
    def _split(batch: Any) -> tuple[jax.Array, jax.Array]:
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError(
                "WGAN-QC takes a GAN minibatch (data, latent), e.g. game.sample(key, n); got "
                f"{type(batch).__name__}"
            )
        return batch[0], batch[1]

    def generate(self, theta: Any, batch: Any) -> jax.Array:
        """The generated samples $G_θ(z_j)$ of the batch's latents."""
        return jax.vmap(theta)(self._split(batch)[1])

    def targets(self, theta: Any, batch: Any) -> OTTargets:
        """The OT targets between the batch's data and $G_θ$ of its latents."""
        data, _ = self._split(batch)
        return quadratic_ot_targets(
            data,
            self.generate(theta, batch),
            epsilon=self.epsilon,
            max_iterations=self.max_iterations,
            threshold=self.threshold,
        )

    def discriminator_loss(
        self, theta: Any, omega: Any, batch: Any, targets: OTTargets | None = None
    ) -> jax.Array:
        r"""$L_D(ω)$ (minimised by the discriminator); `targets` default to `targets(θ, batch)`."""
        data, _ = self._split(batch)
        fake = self.generate(theta, batch)
        if targets is None:
            targets = self.targets(theta, batch)
        d_real = jax.vmap(lambda y: _logit(omega, y))(data)
        d_fake = jax.vmap(lambda x: _logit(omega, x))(fake)
        fit_real = 0.5 * jnp.square(jnp.mean(d_real) - jnp.mean(targets.h_real))
        fit_fake = 0.5 * jnp.mean(jnp.square(d_fake - targets.h_fake))
        grads = jax.vmap(jax.grad(lambda x: _logit(omega, x)))(fake)
        step = targets.matched - fake  # y_σ(j) − x_j = ∇_x H(x_j)
        if self.regulariser == "vector":
            reg = jax.vmap(lambda a, b: _sum_sq(a - b))(grads, step)
        else:
            reg = jax.vmap(lambda a, b: jnp.square(safe_norm(a) - safe_norm(b)))(grads, step)
        return fit_real + fit_fake + 0.5 * self.gamma * jnp.mean(reg)

    def generator_loss(self, theta: Any, omega: Any, batch: Any) -> jax.Array:
        r"""$L_G(θ) = -\frac1n\sum_j D_ω(G_θ(z_j))$ (minimised by the generator)."""
        fake = self.generate(theta, batch)
        return -jnp.mean(jax.vmap(lambda x: _logit(omega, x))(fake))

    def discriminator_direction(
        self, theta: Any, omega: Any, batch: Any, targets: OTTargets | None = None
    ) -> Any:
        r"""$-∇_ω L_D$."""
        return _neg(jax.grad(self.discriminator_loss, argnums=1)(theta, omega, batch, targets))

    def generator_direction(self, theta: Any, omega: Any, batch: Any) -> Any:
        r"""$-∇_θ L_G$."""
        return _neg(jax.grad(self.generator_loss, argnums=0)(theta, omega, batch))

    def __call__(self, x: State, *args: Any) -> State:
        if len(args) != 1:
            raise ValueError(
                "WGANQCField is a minibatch field: call it as b(x, batch) with batch = "
                f"(data, latent); got {len(args)} extra arguments"
            )
        theta, omega = x
        (batch,) = args
        return (
            self.generator_direction(theta, omega, batch),
            self.discriminator_direction(theta, omega, batch),
        )


# ---------------------------------------------------------------------------------------------
# the scheme


class WGANQC(AbstractScheme):
    r"""WGAN-QC training (Liu, Gu & Samaras 2019, Algorithm 1; slides pp. 13–14): per step,

    1. `n_d` times: draw a batch (y, z), solve the OT problem between y and $G_θ(z)$
       (`quadratic_ot_targets`), then take `n_reg` optimiser steps of the discriminator on the
       regression loss $L_D$ (`WGANQCField`) with these targets;
    2. one generator step on $L_G = -\frac1n\sum_j D_ω(G_θ(z_j))$ with the new ω and a fresh
       batch.

    The optimisers see $∇L_D$ and $∇L_G$, so `optax.sgd(η)` is plain gradient descent on each
    player's loss (no negative learning rate). `field` is the `WGANQCField`: its
    $b = (-∇_θL_G, -∇_ωL_D)$ is the direction of the simultaneous version.

    **Update Jacobian on the Dirac-GAN** (SGD with rates $η_G$, $η_D$, `regulariser="vector"`;
    derived from `WGANQCField`'s linearisation $ψ \leftarrow ψ - η_Dγ(ψ + θ)$,
    $θ \leftarrow θ + η_G ψ$): with $m = n_d\,n_\text{reg}$ and $a = 1 - η_Dγ$,
    after m regression steps $ψ_m = a^mψ - (1 - a^m)θ$, and

    $$F'(0) = \begin{pmatrix} 1 - η_G(1 - a^m) & η_G a^m \\ -(1 - a^m) & a^m \end{pmatrix},
      \qquad \det F' = a^m,\quad \operatorname{tr} F' = 1 + a^m - η_G(1 - a^m)$$

    (`wganqc_dirac_update_jacobian`). By the Jury conditions ρ(F′) < 1 iff
    $0 < η_Dγ < 2$ (so $|a| < 1$) and $η_G < 2(1 + a^m)/(1 - a^m)$: WGAN-QC is locally
    convergent on the Dirac-GAN, while WGAN with simultaneous ($|λ| = \sqrt{1 + η^2}$) or
    alternating GDA (|λ| = 1) is not.

    **Arguments:**

    - `game`: an `AbstractGANGame`, or a ready `WGANQCField` (then `gamma`, `regulariser` and
      the OT options are taken from it).
    - `gamma`, `regulariser`, `epsilon`, `max_iterations`, `threshold`: see `WGANQCField`.
    - `optimizer`: a learning rate (SGD), an optax transformation, or a pair
      (generator's, discriminator's).
    - `sampler`: a callable key → batch; or give `batch_size` to sample `game.sample(key, B)`;
      with neither, `step(state, (batch,))` takes a fixed batch.
    - `n_d`: OT solves (fresh batches) per generator step; `n_reg`: regression steps per solve.

    `state.stats` holds `sinkhorn_iterations` (accumulated) and `ot_value` (the dual value of
    the last batch, an estimate of $\tfrac12 W_2^2$).

    ```python
    game = ganflow.games.MixtureOfGaussians("ring", loss="wgan")
    scheme = WGANQC(game, gamma=0.1, optimizer=optax.adam(1e-3), batch_size=64)
    sol = ganflow.training.run(scheme, x0s, 1000, key)
    ```
    """

    field: WGANQCField
    optimizers: tuple[Any, Any]
    sampler: Any
    n_d: int = eqx.field(static=True)
    n_reg: int = eqx.field(static=True)

    def __init__(
        self,
        game: AbstractGANGame | WGANQCField,
        gamma: ScalarLike = 0.1,
        optimizer: Any = 1e-2,
        sampler: Any = None,
        *,
        batch_size: int | None = None,
        n_d: int = 1,
        n_reg: int = 1,
        regulariser: Literal["vector", "norm"] = "vector",
        epsilon: ScalarLike = 0.02,
        max_iterations: int = 100,
        threshold: float = 1e-3,
    ):
        if isinstance(game, WGANQCField):
            field = game
        else:
            field = WGANQCField(game, gamma, regulariser, epsilon, max_iterations, threshold)
        if batch_size is not None:
            if sampler is not None:
                raise ValueError("give either sampler or batch_size, not both")
            sampler = GameSampler(field.game, check_int_at_least("batch_size", batch_size, 1))
        self.n_d = check_int_at_least("n_d", n_d, 1)
        self.n_reg = check_int_at_least("n_reg", n_reg, 1)
        self.field, self.optimizers, self.sampler = _common(field, optimizer, sampler)

    def _num_evals(self) -> int:
        return self.n_d + 1

    def _init_stats(self) -> dict[str, jax.Array]:
        dtype = jnp.result_type(float)
        return {
            "sinkhorn_iterations": jnp.zeros((), jnp.int32),
            "ot_value": jnp.zeros((), dtype),
        }

    def _advance(self, state, args):
        (theta, omega), (s0, s1) = state.x, state.opt_state
        stats = state.stats

        def solve_and_regress(carry, a):  # one batch: one OT solve, n_reg regression steps
            omega, s1, iters, _ = carry
            (batch,) = a
            targets = self.field.targets(theta, batch)

            def regress(c, _):
                omega, s1 = c
                d = self.field.discriminator_direction(theta, omega, batch, targets)
                return self._apply(1, d, s1, (theta, omega), a), None

            (omega, s1), _ = jax.lax.scan(regress, (omega, s1), None, length=self.n_reg)
            iters = iters + targets.sinkhorn_iterations
            return (omega, s1, iters, targets.value.astype(stats["ot_value"].dtype)), None

        # the n_d batches are scanned over (one trace of the OT solve, whatever n_d is)
        batches = _tmap(lambda *leaves: jnp.stack(leaves), *args[: self.n_d])
        carry = (omega, s1, stats["sinkhorn_iterations"], stats["ot_value"])
        (omega, s1, iters, value), _ = jax.lax.scan(solve_and_regress, carry, batches)
        a = args[self.n_d]
        (batch,) = a
        d = self.field.generator_direction(theta, omega, batch)
        theta, s0 = self._apply(0, d, s0, (theta, omega), a)
        stats = {"sinkhorn_iterations": iters, "ot_value": value}
        return (theta, omega), (s0, s1), state.extra, stats


def wganqc_dirac_update_jacobian(
    gamma: float, eta_theta: float, eta_omega: float, n_d: int = 1, n_reg: int = 1
) -> np.ndarray:
    r"""The closed-form Jacobian $F'(0)$ of one `WGANQC` step (SGD, `regulariser="vector"`) at
    the Dirac-GAN equilibrium, ordering (θ, ψ): with $a = 1 - η_Dγ$, $m = n_d n_\text{reg}$,

    $$F'(0) = \begin{pmatrix} 1 - η_G(1 - a^m) & η_G a^m \\ -(1 - a^m) & a^m \end{pmatrix}.$$

    **Arguments:** `gamma` (γ), `eta_theta` ($η_G$), `eta_omega` ($η_D$), `n_d`, `n_reg`.

    **Returns:** a (2, 2) float64 NumPy array.
    """
    m = check_int_at_least("n_d", n_d, 1) * check_int_at_least("n_reg", n_reg, 1)
    am = (1.0 - float(eta_omega) * float(gamma)) ** m
    eg = float(eta_theta)
    return np.array([[1.0 - eg * (1.0 - am), eg * am], [-(1.0 - am), am]], dtype=np.float64)
