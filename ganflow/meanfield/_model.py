r"""The solvable high-dimensional GAN of Wang, Hu & Lu (NeurIPS 2019; survey §5.3.1), one
ensemble member at a time: the microscopic online-SGD simulation.

Data $y = Uc + \sqrt{η_T}\,a$, generator $\tilde y = V\tilde c + \sqrt{η_G}\,\tilde a$,
discriminator $D(y) = \hat D(y^\top w)$ with $\hat D(x) = x^2/2$ and $F = \tilde F = \mathrm{id}$;
the norms of $w$ and of the columns of $V$ are held at 1 (the paper's strict-regularisation limit λ
→ ∞, done as a projection after each step). The derivation of the n → ∞ ODE is in
`docs/mean_field.md`.
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from .._checks import check_int_at_least, is_concrete
from ..continuous import counter_normals
from ..engine import AbstractProblem, seed_keys

PARAM_NAMES = ("tau_g", "tau_d", "eta_t", "eta_g")
"""The scalar hyper-parameters a member reads from `params` (each defaults to the model's field of
the same name): generator and discriminator learning rates τ_G, τ_D (step τ/n) and the noise
variances η_T (data) and η_G (generator)."""

LATENT_LAWS = ("gaussian", "rademacher")
"""The laws of the latent features c the model accepts (`MeanFieldGAN(latent=...)`): gaussian
(the default) or rademacher (bounded, non-Gaussian data with the same mean-field ODE)."""


def macro_state(
    P: Float[ArrayLike, "d d"],
    q: Float[ArrayLike, " d"],
    r: Float[ArrayLike, " d"],
    S: Float[ArrayLike, "d d"] | None = None,
    z: float = 1.0,
) -> Float[Array, "m m"]:
    r"""The macroscopic state $M = X^\top X$ of $X = [U, V, w]$ from its blocks (m = 2d + 1):

    $$M = \begin{bmatrix} I & P & q \\ P^\top & S & r \\ q^\top & r^\top & z \end{bmatrix},\quad
    P = U^\top V,\ q = U^\top w,\ r = V^\top w,\ S = V^\top V,\ z = w^\top w.$$

    **Arguments:** `P` (d, d), `q` (d,), `r` (d,), `S` (d, d; default I), `z` (default 1).

    **Returns:** M, shape (2d + 1, 2d + 1).
    """
    P = jnp.asarray(P, dtype=jnp.result_type(float))
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        raise ValueError(f"P must be a square (d, d) matrix, got shape {P.shape}")
    d = P.shape[0]
    q = jnp.asarray(q, P.dtype).reshape(-1)
    r = jnp.asarray(r, P.dtype).reshape(-1)
    S = jnp.eye(d, dtype=P.dtype) if S is None else jnp.asarray(S, P.dtype)
    if q.shape != (d,) or r.shape != (d,) or S.shape != (d, d):
        raise ValueError(
            f"q and r must have shape ({d},) and S ({d}, {d}); got {q.shape}, {r.shape}, {S.shape}"
        )
    top = jnp.concatenate([jnp.eye(d, dtype=P.dtype), P, q[:, None]], axis=1)
    mid = jnp.concatenate([P.T, S, r[:, None]], axis=1)
    bot = jnp.concatenate([q, r, jnp.asarray([z], P.dtype)])[None, :]
    return jnp.concatenate([top, mid, bot], axis=0)


def macro_blocks(M: Float[ArrayLike, "... m m"]) -> dict[str, Array]:
    r"""The blocks of M (leading batch axes allowed): `P` = UᵀV (..., d, d), `q` = Uᵀw (..., d),
    `r` = Vᵀw (..., d), `S` = VᵀV (..., d, d), `z` = wᵀw (...)."""
    M = jnp.asarray(M)
    m = M.shape[-1]
    if M.ndim < 2 or M.shape[-2] != m or m % 2 != 1 or m < 3:
        raise ValueError(f"M must have trailing shape (2d + 1, 2d + 1), got {M.shape}")
    d = (m - 1) // 2
    return {
        "P": M[..., :d, d : 2 * d],
        "q": M[..., :d, 2 * d],
        "r": M[..., d : 2 * d, 2 * d],
        "S": M[..., d : 2 * d, d : 2 * d],
        "z": M[..., 2 * d, 2 * d],
    }


class MicroState(eqx.Module):
    r"""The microscopic state $X = [U, V, w]$: features U (n, d), generator V (n, d),
    discriminator w (n,). O(n·d) memory."""

    U: Float[Array, "n d"]
    V: Float[Array, "n d"]
    w: Float[Array, " n"]


def _check_m0(M0: np.ndarray, d: int) -> None:
    m = 2 * d + 1
    if M0.shape != (m, m):
        raise ValueError(f"M0 must have shape ({m}, {m}) for d = {d} features, got {M0.shape}")
    if not np.allclose(M0, M0.T, atol=1e-12):
        raise ValueError("M0 must be symmetric (it is a Gram matrix XᵀX)")
    if not np.allclose(M0[:d, :d], np.eye(d), atol=1e-12):
        raise ValueError("M0's UᵀU block must be the identity (orthonormal features)")
    if not np.allclose(np.diag(M0)[d:], 1.0, atol=1e-12):
        raise ValueError(
            "M0 must have unit diagonal: ‖w‖ = ‖v_l‖ = 1 (the model keeps the norms at 1)"
        )
    if np.linalg.eigvalsh(M0).min() <= 1e-12:
        raise ValueError("M0 must be positive definite (the Gram matrix of 2d + 1 free vectors)")


class MeanFieldGAN(AbstractProblem):
    r"""The Wang–Hu–Lu GAN (survey §5.3.1) as an ensemble member: `init`, `step`, `observe`.

    **Model** (one fresh sample per step, k = 0, 1, ...):

    - data $y_k = U c_k + \sqrt{η_T}\,a_k$, generator $\tilde y_k = V_k \tilde c_k +
      \sqrt{η_G}\,\tilde a_k$ with $a, \tilde a ∼ N(0, I_n)$, $E\,cc^\top = Λ$ =
      diag(`strengths`), $E\,\tilde c\tilde c^\top = \tilde Λ$ = diag(`gen_strengths`); `latent`
      is the law of c and c̃ (standardised, times the square roots of the strengths);
    - loss $L = \tfrac12 (y^\top w)^2 - \tfrac12 (\tilde y^\top w)^2$ (the paper's
      $F(\hat D(y^\top w)) - \tilde F(\hat D(\tilde y^\top w))$ with $\hat D(x) = x^2/2$,
      $F = \tilde F = \mathrm{id}$): the discriminator ascends, the generator descends,
      simultaneously, with steps τ_D/n and τ_G/n:
      $w' = w + \tfrac{τ_D}{n}(α y - β \tilde y)$, $V' = V + \tfrac{τ_G}{n} β\, w \tilde c^\top$,
      $α = y^\top w$, $β = \tilde y^\top w$;
    - strict regularisation (λ → ∞): $w_{k+1} = w'/\|w'\|$ and each column
      $v_{\ell,k+1} = v'_\ell/\|v'_\ell\|$.

    The macroscopic state is $M = X^\top X$, $X = [U, V, w]$ (`macro_blocks`); as n → ∞ with
    t = k/n it follows the ODE of `mean_field_rhs` (Wang–Hu–Lu Theorem 1; derivation in
    `docs/mean_field.md`).

    **Fields:**

    - `n`: ambient dimension (static); `strengths` (d,): Λ; `gen_strengths` (d,): Λ̃ (default Λ);
    - `M0`: the initial macroscopic state, (2d + 1, 2d + 1), unit diagonal (default
      `macro_state(0.1 I, 0.1·1, 0)`); `init` builds X₀ with XᵀX = M0 exactly, so the paper's
      assumption E‖M₀ − M₀*‖ ≤ C/√n holds with C = 0;
    - `tau_g`, `tau_d`, `eta_t`, `eta_g`: default hyper-parameters; `params` entries of the same
      names override them (traced values allowed);
    - `latent`: "gaussian" (default; then y is Gaussian and the quadratic discriminator sees all
      of its law) or "rademacher" (bounded, non-Gaussian data; same ODE, since the drift only
      involves second moments of c);
    - `dtype`: the simulation's float type (default: JAX's default float). The step is
      dominated by drawing 2n normals, about 4× cheaper in float32 on CPU; float32 round-off
      (~1e-7 per step) stays far below the O(n^{-1/2}) fluctuations for n ≤ 10⁶.

    **Example**

    ```python
    model = MeanFieldGAN(n=1000, strengths=[2.0, 1.0], eta_t=1.0, eta_g=1.0)
    ts, M = simulate(model, None, seeds=4, t_max=20)   # M: (4, 21, 5, 5)
    ```
    """

    n: int = eqx.field(static=True)
    strengths: Float[Array, " d"]
    gen_strengths: Float[Array, " d"]
    M0: Float[Array, "m m"]
    tau_g: float
    tau_d: float
    eta_t: float
    eta_g: float
    latent: str = eqx.field(static=True)
    dtype: Any = eqx.field(static=True)
    vectorised = False

    def __init__(
        self,
        n: int,
        strengths: Float[ArrayLike, " d"],
        gen_strengths: Float[ArrayLike, " d"] | None = None,
        M0: Float[ArrayLike, "m m"] | None = None,
        tau_g: float = 1.0,
        tau_d: float = 1.0,
        eta_t: float = 1.0,
        eta_g: float = 1.0,
        latent: str = "gaussian",
        dtype: Any = None,
    ):
        dtype = jnp.dtype(jnp.result_type(float) if dtype is None else dtype)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(f"dtype must be a floating dtype, got {dtype}")
        self.dtype = dtype
        lam = np.asarray(strengths, dtype=np.float64)
        if lam.ndim != 1 or lam.size < 1:
            raise ValueError(f"strengths must be a 1-D array of d >= 1 values, got {lam.shape}")
        if np.any(~(lam > 0)):
            raise ValueError(f"strengths must be > 0, got {lam.tolist()}")
        d = lam.size
        lamt = lam if gen_strengths is None else np.asarray(gen_strengths, dtype=np.float64)
        if lamt.shape != (d,) or np.any(~(lamt > 0)):
            raise ValueError(f"gen_strengths must be {d} values > 0, got {lamt.tolist()}")
        self.n = check_int_at_least("n", n, 2 * d + 2)
        if latent not in LATENT_LAWS:
            raise ValueError(f"latent must be one of {LATENT_LAWS}, got {latent!r}")
        self.latent = latent
        if M0 is None:
            M0 = macro_state(0.1 * np.eye(d), 0.1 * np.ones(d), np.zeros(d))  # P₀ = 0.1 I, q₀ = 0.1
        if is_concrete(M0):
            _check_m0(np.asarray(M0, dtype=np.float64), d)
        wide = jnp.result_type(float)  # the ODE side keeps JAX's default (widest) float
        self.strengths = jnp.asarray(lam, wide)
        self.gen_strengths = jnp.asarray(lamt, wide)
        self.M0 = jnp.asarray(M0, wide)
        for name, value in (("tau_g", tau_g), ("tau_d", tau_d)):
            if is_concrete(value) and not float(value) > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        for name, value in (("eta_t", eta_t), ("eta_g", eta_g)):
            if is_concrete(value) and not float(value) >= 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        self.tau_g, self.tau_d, self.eta_t, self.eta_g = tau_g, tau_d, eta_t, eta_g

    @property
    def d(self) -> int:
        """The number of features."""
        return self.strengths.shape[0]

    def hyper(self, params: dict[str, Any] | None, dtype: Any = None) -> dict[str, Array]:
        """τ_G, τ_D, η_T, η_G as arrays of `dtype` (default: the simulation's): the model's
        defaults overridden by `params` (unknown names are refused, so that a misspelt sweep
        axis cannot be silently ignored)."""
        dtype = self.dtype if dtype is None else dtype
        params = {} if params is None else params
        unknown = set(params) - set(PARAM_NAMES)
        if unknown:
            raise ValueError(
                f"unknown hyper-parameter(s) {sorted(unknown)}; MeanFieldGAN reads {PARAM_NAMES}"
            )
        return {k: jnp.asarray(params.get(k, getattr(self, k)), dtype) for k in PARAM_NAMES}

    def _latent(self, xi: Array, strengths: Array) -> Array:
        """c = Λ^{1/2} ζ from standard normals ξ: ζ = ξ (Gaussian) or ζ = sign ξ (Rademacher)."""
        z = xi if self.latent == "gaussian" else jnp.where(xi >= 0, 1.0, -1.0).astype(xi.dtype)
        return jnp.sqrt(strengths) * z

    def init(self, key: Any, params: dict[str, Any] | None = None) -> MicroState:
        r"""X₀ = [U, V₀, w₀] with X₀ᵀX₀ = M0: an orthonormal frame Q = [U, E] (QR of an
        n × (2d + 1) Gaussian matrix; U is a uniformly random orthonormal feature matrix), then
        $[V_0, w_0] = U C + E B$ with $C = [P_0, q_0]$ and $B^\top B = M_0[d:, d:] - C^\top C$
        (Cholesky). O(n d²) work."""
        self.hyper(params)
        d, m = self.d, 2 * self.d + 1
        Q, _ = jnp.linalg.qr(jax.random.normal(key, (self.n, m), self.dtype))
        U, E = Q[:, :d], Q[:, d:]
        M0 = self.M0.astype(self.dtype)
        C = M0[:d, d:]
        B = jnp.linalg.cholesky(M0[d:, d:] - C.T @ C).T
        Vw = U @ C + E @ B
        return MicroState(U=U, V=Vw[:, :d], w=Vw[:, d])

    def step(
        self, state: MicroState, key: Any, t: Int[Array, ""], params: dict[str, Any] | None = None
    ) -> MicroState:
        r"""One online step with a fresh sample $(c, \tilde c, a, \tilde a)$ drawn from `key`
        (the engine's `fold_in(seed_key, t)`; 2n + 2d normals from ganflow's counter-based
        generator, `ganflow.continuous.counter_normals`), then `update`. O(n d) work."""
        n, d = self.n, self.d
        zero = jnp.zeros((), jnp.uint32)
        xi = counter_normals(jax.random.key_data(key), zero, 2 * n + 2 * d, self.dtype)
        c = self._latent(xi[:d], self.strengths.astype(self.dtype))
        ct = self._latent(xi[d : 2 * d], self.gen_strengths.astype(self.dtype))
        return self.update(state, c, ct, xi[2 * d : 2 * d + n], xi[2 * d + n :], params)

    def update(
        self,
        state: MicroState,
        c: Float[ArrayLike, " d"],
        ct: Float[ArrayLike, " d"],
        a: Float[ArrayLike, " n"],
        at: Float[ArrayLike, " n"],
        params: dict[str, Any] | None = None,
    ) -> MicroState:
        r"""The step for given samples: $y = Uc + \sqrt{η_T} a$, $\tilde y = V\tilde c +
        \sqrt{η_G}\tilde a$, $α = y^\top w$, $β = \tilde y^\top w$,

        $$w' = w + \tfrac{τ_D}{n}(α y - β \tilde y), \qquad
        V' = V + \tfrac{τ_G}{n}\, β\, w \tilde c^\top,$$

        then $w_{k+1} = w'/\|w'\|$ and $v_{\ell,k+1} = v'_\ell/\|v'_\ell\|$ (simultaneous:
        both gradients at $(V_k, w_k)$)."""
        h = self.hyper(params)
        U, V, w = state.U, state.V, state.w
        n = self.n
        y = U @ c + jnp.sqrt(h["eta_t"]) * a
        yt = V @ ct + jnp.sqrt(h["eta_g"]) * at
        alpha, beta = y @ w, yt @ w
        w_new = w + (h["tau_d"] / n) * (alpha * y - beta * yt)
        V_new = V + (h["tau_g"] / n) * beta * jnp.outer(w, ct)
        w_new = w_new / jnp.linalg.norm(w_new)
        V_new = V_new / jnp.linalg.norm(V_new, axis=0, keepdims=True)
        return MicroState(U=U, V=V_new, w=w_new)

    def observe(self, state: MicroState, params: dict[str, Any] | None = None) -> dict[str, Array]:
        """{"M": XᵀX}, the macroscopic state (2d + 1, 2d + 1). O(n d²) work."""
        X = jnp.concatenate([state.U, state.V, state.w[:, None]], axis=1)
        return {"M": X.T @ X}


@eqx.filter_jit
def _simulate(model: MeanFieldGAN, hyper: dict, keys: Any, t_max: int, save_every: int):
    def one(key):
        state = model.init(key, hyper)

        def block(state, j):
            def body(i, s):
                t = (j * save_every + i).astype(jnp.int32)
                return model.step(s, jax.random.fold_in(key, t), t, hyper)

            state = jax.lax.fori_loop(0, save_every, body, state)
            return state, model.observe(state, hyper)["M"]

        M0 = model.observe(state, hyper)["M"]
        _, Ms = jax.lax.scan(block, state, jnp.arange(t_max, dtype=jnp.int32))
        return jnp.concatenate([M0[None], Ms], axis=0)

    return jax.vmap(one)(keys)


def simulate(
    model: MeanFieldGAN,
    params: dict[str, Any] | None = None,
    seeds: Any = 1,
    t_max: int = 10,
    *,
    save_every: int | None = None,
) -> tuple[Float[Array, " T"], Float[Array, "seeds T m m"]]:
    r"""Runs the microscopic model for `t_max` units of time t = k/n (t_max · n steps) as one
    compiled `lax.scan` over save points, vmapped over seeds.

    Step k of seed s uses the key `fold_in(key_s, k)` and `init` uses `key_s`, as
    `ganflow.engine.run_ensemble` does, so the paths are those of the engine.

    **Arguments:**

    - `model`: a `MeanFieldGAN`; `params`: hyper-parameter overrides (see `PARAM_NAMES`);
    - `seeds`: a count (keys 0..S−1), a list of integer seeds, or a 1-D array of typed keys;
    - `t_max`: number of time units; `save_every`: steps between saves (default n, i.e. the
      save times are t = 0, 1, ..., t_max).

    **Returns:** `(ts, M)`: the save times t = k/n, shape (T,), and the macroscopic states,
    shape (S, T, 2d + 1, 2d + 1).
    """
    t_max = check_int_at_least("t_max", t_max, 1)
    save_every = model.n if save_every is None else check_int_at_least("save_every", save_every, 1)
    keys = seed_keys(seeds)
    hyper = model.hyper(params)
    Ms = _simulate(model, hyper, keys, t_max, save_every)
    ts = jnp.arange(t_max + 1, dtype=Ms.dtype) * (save_every / model.n)
    return ts, Ms
