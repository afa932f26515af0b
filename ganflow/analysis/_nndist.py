r"""The neural-net distance of Arora et al. 2017 ("Generalization and Equilibrium in Generative
Adversarial Nets", §3; survey §6) estimated by training a fresh bounded discriminator, and the
generalisation gap it defines."""

from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._checks import check_int_at_least, check_positive
from ..losses import AbstractLoss, get_loss
from ..models import MLP
from ..stabilisers import WeightClipping


class NeuralNetDistance(NamedTuple):
    r"""An estimate of $d_{\mathcal F}(P, Q)$ from `num_restarts` independently initialised
    discriminators: `distance`, the mean of the per-restart values; `stderr`, their standard
    deviation (ddof 1) over √R (NaN when R = 1); `best`, their maximum (each value is attained
    by a member of F, so `best` is the tightest lower bound of the supremum on these samples);
    `per_restart`, the R values."""

    distance: Float[Array, ""]
    stderr: Float[Array, ""]
    best: Float[Array, ""]
    per_restart: Float[Array, " restarts"]


class GeneralisationGap(NamedTuple):
    r"""$|d(P_\text{data}, P_\text{gen}) - d(\hat P_\text{data}, \hat P_\text{gen})|$ with the
    population distance estimated on held-out samples (`test`) and the empirical one on the
    training samples (`train`): `gap` = |test.distance − train.distance|, `stderr` =
    sqrt(test.stderr² + train.stderr²) (independent restarts)."""

    gap: Float[Array, ""]
    stderr: Float[Array, ""]
    train: NeuralNetDistance
    test: NeuralNetDistance


def _as_examples(name: str, x: Any) -> Array:
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    if x.ndim not in (1, 2) or x.shape[0] == 0:
        raise ValueError(
            f"{name} must have shape (n,) or (n, d) with n >= 1 (one example per row); got "
            f"{x.shape}"
        )
    return x.reshape(x.shape[0], -1)


def _value(loss: AbstractLoss, disc: Any, real: Array, fake: Array) -> Array:
    r"""$E_P f(D(x)) + E_Q f(-D(y)) - 2f(0)$ on the two sample sets."""
    d_real = jax.vmap(disc)(real)
    d_fake = jax.vmap(disc)(fake)
    f0 = loss.f(jnp.zeros((), d_real.dtype))
    return jnp.mean(loss.f(d_real)) + jnp.mean(loss.f(-d_fake)) - 2.0 * f0


@eqx.filter_jit
def _fit_restarts(
    keys, real, fake, loss, width, depth, activation, clip, num_steps, learning_rate, batch_size
):
    project = WeightClipping(clip)
    opt = optax.adam(learning_rate)
    dim = real.shape[1]

    def clipped(disc):
        return project.project(((), disc))[1]

    def fit(key):
        k_init, k_steps = jax.random.split(key)
        disc = clipped(MLP.init(k_init, dim, None, width, depth, activation))
        params, static = eqx.partition(disc, eqx.is_inexact_array)
        state = opt.init(params)

        def neg_value(p, r, f):
            return -_value(loss, eqx.combine(p, static), r, f)

        def step(carry, k):
            p, s = carry
            if batch_size is None:
                r, f = real, fake
            else:
                kr, kf = jax.random.split(k)
                r = real[jax.random.randint(kr, (batch_size,), 0, real.shape[0])]
                f = fake[jax.random.randint(kf, (batch_size,), 0, fake.shape[0])]
            g = jax.grad(neg_value)(p, r, f)
            updates, s = opt.update(g, s, p)
            p = clipped(optax.apply_updates(p, updates))
            return (p, s), None

        (params, _), _ = jax.lax.scan(step, (params, state), jax.random.split(k_steps, num_steps))
        return _value(loss, eqx.combine(params, static), real, fake)

    return jax.vmap(fit)(keys)


def neural_net_distance(
    key: PRNGKeyArray,
    real: Float[ArrayLike, "n ..."],
    fake: Float[ArrayLike, "m ..."],
    *,
    loss: str | AbstractLoss = "wgan",
    width: int = 32,
    depth: int = 2,
    activation: Callable[[Array], Array] = jax.nn.relu,
    clip: float = 0.1,
    num_steps: int = 500,
    learning_rate: float = 5e-3,
    num_restarts: int = 8,
    batch_size: int | None = None,
) -> NeuralNetDistance:
    r"""The neural-net distance between the sample sets `real` ∼ P and `fake` ∼ Q (Arora et al.
    2017, §2–3; survey §6, with the measuring function φ written through ganflow's f-family):

    $$d_{\mathcal F, f}(P, Q) = \sup_{D ∈ \mathcal F}\; E_{x∼P} f(D(x)) + E_{y∼Q} f(-D(y))
      - 2 f(0),$$

    D a real logit. With `loss="wgan"` (f(t) = t, the default) this is Arora's neural-net
    distance $\sup_D E_P D - E_Q D$ (the WGAN objective); with `loss="gan"`
    (f = log sigmoid, D ↦ sigmoid(D) ∈ [0, 1]) it is the survey's
    $\sup_D E_P \log D + E_Q \log(1 - D) + 2\log 2$ (φ = log), ≤ 2 JS(P, Q). For identical
    sample sets both are 0 (every D gives 0 for the WGAN; D ≡ 0 attains the supremum 0 for the
    GAN).

    **The class F** (decided here): `MLP(d → scalar)` with `depth` hidden layers of `width`
    units and `activation` (`depth=0`: the linear functions $w·x + b$), **every parameter
    clipped to [−clip, clip]** — a bounded parameter set, as Arora et al.'s generalisation bound
    (§3) assumes for discriminators D_v Lipschitz in their parameters v, and the clipping of the
    original WGAN (Arjovsky et al. 2017), applied with
    `ganflow.stabilisers.WeightClipping`. So F is a bounded class: for 1-Lipschitz activations
    every D is Lipschitz in x with constant ≤ ∏_l clip·sqrt(n_in,l · n_out,l). For the linear
    class and the WGAN loss the supremum is $\text{clip}\cdot\|\hat μ_P - \hat μ_Q\|_1$ (attained
    at w = clip·sign(μ̂_P − μ̂_Q)).

    **The estimator.** Each of `num_restarts` discriminators is initialised from its own key
    (`MLP.init`, then clipped) and trained by projected gradient ascent: `num_steps` steps of
    `optax.adam(learning_rate)` on $-(\text{value})$, each followed by the clipping — full batch
    (`batch_size=None`: the exact empirical expectations) or on minibatches of `batch_size`
    drawn with replacement from each set. Its value on the full sample sets is that restart's
    estimate; the restarts are vmapped over `jax.random.split(key, num_restarts)`. Every
    restart's value is attained by a member of F, so each is a lower bound of the empirical
    supremum $d(\hat P, \hat Q)$ (up to optimisation error); `best` is the tightest. Note that
    $d(\hat P, \hat Q)$ is an upward-biased estimate of $d(P, Q)$ (the discriminator also fits
    the sampling noise); `generalisation_gap` measures exactly this.

    Cost: R · num_steps · (n + m) discriminator evaluations with their gradients.

    **Arguments:** `key` (a typed PRNG key); `real` (n, d) or (n,); `fake` (m, d) or (m,);
    `loss` (`"wgan"`, `"gan"` or an `AbstractLoss`); `width`, `depth`, `activation` of the MLP;
    `clip` > 0; `num_steps` ≥ 1; `learning_rate` > 0; `num_restarts` ≥ 1; `batch_size` ≥ 1 or
    None.

    **Returns:** a `NeuralNetDistance` (mean over restarts, standard error, best, per restart).

    **Example:** `neural_net_distance(key, game.sample_data(k1, 2000), game.generate(theta, k2,
    2000)).distance`.
    """
    real = _as_examples("real", real)
    fake = _as_examples("fake", fake)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"real and fake examples must have the same size; got {real.shape[1:]} and "
            f"{fake.shape[1:]}"
        )
    loss = get_loss(loss)
    width = check_int_at_least("width", width, 1)
    depth = check_int_at_least("depth", depth, 0)
    num_steps = check_int_at_least("num_steps", num_steps, 1)
    num_restarts = check_int_at_least("num_restarts", num_restarts, 1)
    if batch_size is not None:
        batch_size = check_int_at_least("batch_size", batch_size, 1)
    clip = check_positive("clip", clip)
    learning_rate = check_positive("learning_rate", learning_rate)
    keys = jax.random.split(key, num_restarts)
    values = _fit_restarts(
        keys, real, fake, loss, width, depth, activation, clip, num_steps, learning_rate,
        batch_size,
    )
    if num_restarts > 1:
        stderr = jnp.std(values, ddof=1) / jnp.sqrt(num_restarts)
    else:
        stderr = jnp.full((), jnp.nan, values.dtype)
    return NeuralNetDistance(jnp.mean(values), stderr, jnp.max(values), values)


def generalisation_gap(
    key: PRNGKeyArray,
    train_real: Float[ArrayLike, "n ..."],
    train_fake: Float[ArrayLike, "m ..."],
    test_real: Float[ArrayLike, "n2 ..."],
    test_fake: Float[ArrayLike, "m2 ..."],
    **kwargs: Any,
) -> GeneralisationGap:
    r"""The generalisation gap of Arora et al. 2017 (§3, the definition of generalisation;
    survey §6):

    $$\big|\,d_{\mathcal F}(P_\text{data}, P_\text{gen})
      - d_{\mathcal F}(\hat P_\text{data}, \hat P_\text{gen})\,\big|,$$

    the generator generalises with error ε when this is ≤ ε. The empirical distance is
    `neural_net_distance` on the training samples (`train_real`: the data the GAN was trained on,
    `train_fake`: the generated samples it saw); the population distance is estimated by the same
    estimator on held-out samples (`test_real`: fresh data, `test_fake`: fresh generated samples;
    take them larger than the training sets, the estimator's own upward bias shrinks like
    1/sqrt(size)). The two use independent restart keys (`jax.random.split(key)`), so
    `stderr` = sqrt(se_train² + se_test²).

    **Arguments:** `key`; the four sample sets ((n, d) or (n,)); `**kwargs` for
    `neural_net_distance` (loss, width, depth, activation, clip, num_steps, learning_rate,
    num_restarts, batch_size).

    **Returns:** a `GeneralisationGap` (gap, stderr, train, test).
    """
    k_train, k_test = jax.random.split(key)
    train = neural_net_distance(k_train, train_real, train_fake, **kwargs)
    test = neural_net_distance(k_test, test_real, test_fake, **kwargs)
    gap = jnp.abs(test.distance - train.distance)
    stderr = jnp.sqrt(jnp.square(test.stderr) + jnp.square(train.stderr))
    return GeneralisationGap(gap, stderr, train, test)
