r"""The weak error of minibatch SGDA on a neural GAN against the Cao–Guo SDEs (Cao–Guo 2020,
Theorems 1–2, eqs. 9, 10, 13), made resolvable with martingale control variates.

The weak error $e(η) = |\mathbb E f(x_K) - \mathbb E f(X_T)|$ of alternating SGDA is $O(η^2)$,
about 10⁻⁴ of the test functions' scale at η = 0.1 on a small MLP GAN, while one seed's f
fluctuates by ~10⁻² — plain Monte Carlo would need ~10⁶ seeds. Each ensemble member
(`WeakErrorMember`) therefore carries a **martingale control variate**: with x̄ the noise-free
path of the same scheme (full-batch update, resp. the drift-only integrator) and
$a_k = ∂ f(\bar x_K)/∂ u_k$ the sensitivity of the test function to a perturbation $u_k$ added
after step k (`weak_adjoints`: reverse mode through the noise-free path, once per η), the member
accumulates $M = \sum_k a_k \cdot u_k$ over its own noise increments
$u_k = x_{k+1} - F(x_k)$ (SGDA: the minibatch update minus the full-batch update at the same
point; SDE: $σ(X_k)ΔW_k$). Each $u_k$ has conditional mean zero given the past — minibatches
are drawn uniformly with replacement, independently for the two players of alternating SGDA,
and Brownian increments are independent of $X_k$ — and $a_k$ is deterministic, so
$\mathbb E M = 0$ exactly and $f - M$ estimates $\mathbb E f$ without bias. M removes the
first-order (linear-response) fluctuation; what is left is second order in the noise.

The SDE is integrated by Euler–Maruyama with step h = η/m on the Heun-predictor drift
(`ganflow.continuous.HeunDrift`), whose own weak error $O(η^2/m)$ lies below the $O(η^2)$ it
must resolve. The SDE itself is `ganflow.continuous.cao_guo_sde` (drift b0 for eq. 9,
b0 + ηb1 for eq. 10; diffusion `GradientNoise`, the matrix-free Σ factor over the finite data
set), and a member's path equals `sde_ensemble`'s for the same key; the SGDA members run
`ganflow.training.SimultaneousGDA`/`AlternatingGDA` with `optax.sgd(η)` and
`ganflow.training.MinibatchDraw`, as `sgda_ensemble` does.
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from ..continuous import (
    STREAM_BROWNIAN,
    HeunDrift,
    cao_guo_sde,
    stream_key_data,
    tree_normals,
)
from ..dynamics import modified_field
from ..engine import AbstractProblem
from ..games import MixtureOfGaussians
from ..training import AlternatingGDA, MinibatchDraw, SimultaneousGDA

_tmap = jax.tree_util.tree_map

WEAK_TEST_FUNCTIONS = ("generator_loss", "mean_x", "mean_y", "cov_xx", "cov_xy", "cov_yy",
                       "theta_sq")
"""The test functions f of `NeuralSetting.tests`, in order."""

WEAK_PROCESSES = ("sgda", "sde")
"""The two processes a `WeakErrorMember` runs: minibatch SGDA, or the Cao–Guo SDE."""


def _contract(table: Any, u: Any) -> jax.Array:
    """Σ over leaves of `table` (leaves (O, *shape)) contracted with `u` (leaves shape)."""
    pairs = zip(jax.tree_util.tree_leaves(table), jax.tree_util.tree_leaves(u))
    return sum(jnp.tensordot(a, b, axes=b.ndim) for a, b in pairs)


class NeuralSetting(eqx.Module):
    r"""The fixed ingredients of a weak-error measurement on a neural GAN (Cao–Guo Theorems
    1–2): the game, the finite data set
    $\mathcal D = \{(x_i, z_i)\}_{i ≤ n}$ (Cao–Guo §2: minibatches are drawn from it uniformly
    with replacement, and Σ is the covariance of the per-example gradients over it), the
    initial state x0 (the same for every seed: Theorems 1–2 start from a given point) and the
    latents on which the generator's sample mean and covariance are measured."""

    game: MixtureOfGaussians
    data: Any
    x0: Any
    latents: Any

    @property
    def field(self):
        """b0(x, batch) of the batch-mean objective."""
        return self.game.vector_field()

    def tests(self, x: Any) -> jax.Array:
        r"""The test functions, in the order of `WEAK_TEST_FUNCTIONS`: the generator loss on
        $\mathcal D$, the mean (2) and covariance (3 entries) of $G_θ(z_j)$ over the fixed
        latents, and $\|θ\|^2$."""
        theta, omega = x
        loss = self.game.objective().generator_value(theta, omega, self.data)
        samples = jax.vmap(theta)(self.latents)
        mean = jnp.mean(samples, axis=0)
        centred = samples - mean
        cov = centred.T @ centred / (samples.shape[0] - 1)
        tsq = sum(jnp.sum(a**2) for a in jax.tree_util.tree_leaves(theta))
        return jnp.stack([loss, mean[0], mean[1], cov[0, 0], cov[0, 1], cov[1, 1], tsq])


def neural_setting(key: Any, *, width: int, depth: int, latent_dim: int, activation: str,
                   num_examples: int, num_latents: int) -> NeuralSetting:
    """The ring of 8 Gaussians with MLP players (`MixtureOfGaussians`), its data set, initial
    state and measurement latents, all from `key`."""
    game = MixtureOfGaussians("ring", "gan", latent_dim=latent_dim, width=width, depth=depth,
                              activation=activation)
    k0, kd, kz = jax.random.split(key, 3)
    return NeuralSetting(game, game.sample(kd, num_examples), game.init(k0),
                         game.sample_latent(kz, num_latents))


class WeakErrorMember(AbstractProblem):
    r"""One engine member of a weak-error ensemble (Cao–Guo Theorems 1–2): a seed of
    minibatch SGDA (`process="sgda"`) or of the Cao–Guo SDE (`"sde"`), for `scheme`
    simultaneous (eq. 7 / SDE (9)) or alternating (eq. 6 / SDE (10)), with the learning rate η
    the traced sweep axis `eta` (one of `etas`).

    One engine step is one SGDA step, i.e. time η (the SDE takes `substeps` steps of η/m in it);
    the member stops after $K = T/η$ steps (later steps leave it unchanged), so all η share one
    compiled run of $K_{max}$ steps. State: the scheme's state (or (x, noise key)), the control
    variate M (one per evaluation time × test function, see the module doc) and the test
    functions recorded at the evaluation times $t_j = jT/J$, j = 1..J (`num_times`).
    `adjoints[i]` holds the sensitivities $a_k$ for η = `etas[i]`: leaves (L, J·F, ...) with L
    the number of (sub)steps; for alternating SGDA a pair (ω's, θ's) for the two half-steps.
    """

    setting: NeuralSetting
    adjoints: Any
    etas: tuple = eqx.field(static=True)
    process: str = eqx.field(static=True)
    scheme: str = eqx.field(static=True)
    horizon: float = eqx.field(static=True)
    batch_size: int = eqx.field(static=True)
    substeps: int = eqx.field(static=True)
    num_times: int = eqx.field(static=True)
    sde_batch_size: int = eqx.field(static=True, default=0)
    vectorised = False

    @property
    def steps(self) -> tuple[int, ...]:
        return tuple(int(round(self.horizon / e)) for e in self.etas)

    def _index(self, eta):
        etas = jnp.asarray(self.etas, jnp.result_type(float))
        i = jnp.argmin(jnp.abs(etas - eta))
        return i, jnp.asarray(self.steps, jnp.int32)[i]

    def _scheme(self, eta):
        draw = MinibatchDraw(self.setting.data, None, self.batch_size)
        if self.scheme == "simultaneous":
            return SimultaneousGDA(self.setting.field, optax.sgd(eta), draw)
        return AlternatingGDA(self.setting.field, optax.sgd(eta), draw)

    def sde(self, eta):
        """The Cao–Guo SDE of this member at η, with the Heun-predictor drift for step η/m."""
        s = self.setting
        b = s.field if self.scheme == "simultaneous" else modified_field(s.field, eta,
                                                                          "alternating")
        return cao_guo_sde(s.game, eta, self.sde_batch_size or self.batch_size, data=s.data,
                           drift=HeunDrift(b, eta / self.substeps))

    def init(self, key, params, inputs=None):
        s = self.setting
        if self.process == "sgda":
            core = self._scheme(params["eta"]).init(s.x0)
        else:
            core = (s.x0, stream_key_data(key, STREAM_BROWNIAN))
        dtype = jnp.result_type(*jax.tree_util.tree_leaves(s.x0))
        shape = (self.num_times, len(WEAK_TEST_FUNCTIONS))
        return core, jnp.zeros(shape, dtype), jnp.zeros(shape, dtype)

    def _x(self, core):
        return core.x if self.process == "sgda" else core[0]

    def step(self, state, key, t, params):
        core, cv, snap = state
        eta = params["eta"]
        i, K = self._index(eta)
        table = _tmap(lambda a: a[i], self.adjoints)
        s = self.setting
        if self.process == "sgda":
            new = self._scheme(eta).step(core, key)
            theta, omega = core.x
            if self.scheme == "simultaneous":
                u = _tmap(lambda a, b, g: a - (b + eta * g), new.x, core.x,
                          s.field(core.x, s.data))
                dcv = _contract(_tmap(lambda a: a[t], table), u)
            else:
                theta1, omega1 = new.x
                u_omega = _tmap(lambda a, b, g: a - (b + eta * g), omega1, omega,
                                s.field(core.x, s.data)[1])
                u_theta = _tmap(lambda a, b, g: a - (b + eta * g), theta1, theta,
                                s.field((theta, omega1), s.data)[0])
                ta, tt = table
                dcv = _contract(_tmap(lambda a: a[t], ta), u_omega) + _contract(
                    _tmap(lambda a: a[t], tt), u_theta)
            x1 = new.x
        else:
            x, kd = core
            sde = self.sde(eta)
            structure = sde.diffusion.noise_structure(x)
            dtype = jnp.result_type(*jax.tree_util.tree_leaves(x))
            h = jnp.asarray(eta / self.substeps, dtype)
            sqh = jnp.sqrt(h)

            def sub(c, j):
                y, acc = c
                z = tree_normals(kd, j, structure)
                dw = _tmap(lambda a: a * sqh, z)
                noise = sde.diffusion.apply(j.astype(dtype) * h, y, dw)
                b = sde.drift(y, *sde.args)
                y = _tmap(lambda a, bb, ss: a + h * bb + ss, y, b, noise)
                acc = acc + _contract(_tmap(lambda a: a[j], table), noise)
                return (y, acc), None

            js = t * self.substeps + jnp.arange(self.substeps, dtype=jnp.int32)
            (x1, dcv), _ = jax.lax.scan(sub, (x, jnp.zeros_like(cv).ravel()), js)
            new = (x1, kd)
        active = t < K
        core = _tmap(lambda a, b: jnp.where(active, a, b), new, core)
        cv = jnp.where(active, cv + dcv.reshape(cv.shape), cv)
        # record the test functions at t_j = j T / J (a cond on the step alone: unbatched)
        hits = [(K // self.num_times) * (j + 1) for j in range(self.num_times)]
        marks = sorted({k * (j + 1) // self.num_times for k in self.steps
                        for j in range(self.num_times)})
        due = jnp.isin(t + 1, jnp.asarray(marks, jnp.int32))

        def record(snap):
            f = s.tests(x1)
            for j, k in enumerate(hits):
                snap = snap.at[j].set(jnp.where(t + 1 == k, f, snap[j]))
            return snap

        snap = jax.lax.cond(due, record, lambda sn: sn, snap)
        return core, cv, snap

    def observe(self, state, params):
        _, cv, snap = state
        return {"f": snap, "cv": cv}

    def finite_part(self, state):
        return self._x(state[0])


def weak_adjoints(setting: NeuralSetting, etas: tuple[float, ...], horizon: float,
                  scheme: str, process: str, substeps: int, num_times: int) -> tuple[Any, Any]:
    r"""The control-variate coefficients of `WeakErrorMember` (Cao–Guo Theorems 1–2): the
    sensitivities $a_k = ∂f(\bar x(t_j))/∂u_k$ of every test function at every
    evaluation time to a perturbation $u_k$ added after (sub)step k of the noise-free path, for
    every η (one compiled `vmap` over η of a `jax.jacrev` through a `lax.scan`), and the
    noise-free values $f(\bar x(t_j))$ themselves.

    - SGDA: $\bar x_{k+1} = F_η(\bar x_k) + u_k$ with F the full-batch update of the scheme
      (alternating: perturbations $u^ω_k$ after the discriminator's half-step and $u^θ_k$ after
      the generator's, returned as a pair of tables);
    - SDE: $\bar X_{k+1} = \bar X_k + h\tilde b(\bar X_k) + u_k$ (the member's integrator
      without noise), h = η/m.

    **Returns:** `(tables, values)`: tables with leaves (len(etas), L, J·F, ...) (L = K_max
    steps, or K_max·m substeps), values (len(etas), J, F).
    """
    steps = [int(round(horizon / e)) for e in etas]
    per = 1 if process == "sgda" else substeps
    length = max(steps) * per
    x0 = setting.x0
    b0 = setting.field
    data = setting.data
    nf = len(WEAK_TEST_FUNCTIONS)

    def zeros(tree):
        return _tmap(lambda a: jnp.zeros((length,) + a.shape, a.dtype), tree)

    us0 = (zeros(x0[1]), zeros(x0[0])) if (process, scheme) == ("sgda", "alternating") \
        else zeros(x0)

    def path(us, eta, K):
        K = K * per
        if process == "sde":
            b = b0 if scheme == "simultaneous" else modified_field(b0, eta, "alternating")
            drift = HeunDrift(b, eta / substeps)
            h = eta / substeps

        def body(carry, inp):
            x, snap = carry
            t, u = inp
            if process == "sde":
                x1 = _tmap(lambda a, bb, uu: a + h * bb + uu, x, drift(x, data), u)
            elif scheme == "simultaneous":
                x1 = _tmap(lambda a, bb, uu: a + eta * bb + uu, x, b0(x, data), u)
            else:
                u_omega, u_theta = u
                theta, omega = x
                omega1 = _tmap(lambda a, bb, uu: a + eta * bb + uu, omega, b0(x, data)[1],
                               u_omega)
                theta1 = _tmap(lambda a, bb, uu: a + eta * bb + uu, theta,
                               b0((theta, omega1), data)[0], u_theta)
                x1 = (theta1, omega1)
            x1 = _tmap(lambda a, b: jnp.where(t < K, a, b), x1, x)
            f = setting.tests(x1)
            for j in range(num_times):
                snap = snap.at[j].set(jnp.where(t + 1 == (K // num_times) * (j + 1), f,
                                                snap[j]))
            return (x1, snap), None

        dtype = jnp.result_type(*jax.tree_util.tree_leaves(x0))
        snap0 = jnp.zeros((num_times, nf), dtype)
        (_, snap), _ = jax.lax.scan(body, (x0, snap0), (jnp.arange(length), us))
        return snap.reshape(-1), snap

    @eqx.filter_jit
    def all_etas(etas_arr, ks):
        jac = jax.vmap(lambda e, k: jax.jacrev(path, has_aux=True)(us0, e, k))
        tables, values = jac(etas_arr, ks)
        # (E, J·F, L, ...) -> (E, L, J·F, ...)
        return _tmap(lambda a: jnp.moveaxis(a, 1, 2), tables), values

    dtype = jnp.result_type(*jax.tree_util.tree_leaves(x0))
    return all_etas(jnp.asarray(etas, dtype), jnp.asarray(steps, jnp.int32))
