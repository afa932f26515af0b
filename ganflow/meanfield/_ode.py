r"""The n → ∞ limit of `MeanFieldGAN`: a deterministic ODE for the macroscopic state M(t)
(Wang, Hu & Lu 2019, Theorem 1; survey §5.3.1), derived step by step in `docs/mean_field.md`."""

from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._checks import check_positive
from ..continuous import ODESolution
from ..engine import RESULTS
from ._model import MeanFieldGAN, macro_blocks


def _assemble(dP, dq, dr, dS) -> Array:
    d = dP.shape[0]
    zero_d = jnp.zeros((d, d), dP.dtype)
    top = jnp.concatenate([zero_d, dP, dq[:, None]], axis=1)
    mid = jnp.concatenate([dP.T, dS, dr[:, None]], axis=1)
    bot = jnp.concatenate([dq, dr, jnp.zeros((1,), dP.dtype)])[None, :]
    return jnp.concatenate([top, mid, bot], axis=0)


def mean_field_rhs(
    M: Float[ArrayLike, "m m"], model: MeanFieldGAN, params: dict[str, Any] | None = None
) -> Float[Array, "m m"]:
    r"""The drift F(M) of the limit ODE $\dot M = F(M)$, t = k/n (docs/mean_field.md, eq. (ODE)).

    With Λ = diag(`strengths`), Λ̃ = diag(`gen_strengths`), $D_r$ = diag(r), unit norms
    (z = 1, diag S = 1) and

    $$ρ = q^\top Λ q - r^\top \tilde Λ r, \qquad
    κ = \tfrac{τ_D^2}{2}\big[η_T (q^\top Λ q + η_T) + η_G (r^\top \tilde Λ r + η_G)\big],$$

    $$\begin{aligned}
    \dot P &= τ_G\,(q r^\top - P D_r^2)\,\tilde Λ,\\
    \dot q &= τ_D\,(Λ q - P \tilde Λ r - ρ q) - κ q,\\
    \dot r &= τ_G\,\tilde Λ (I - D_r^2)\, r + τ_D\,(P^\top Λ q - S \tilde Λ r - ρ r) - κ r,\\
    \dot S &= τ_G\,(\tilde Λ r r^\top + r r^\top \tilde Λ - \tilde Λ D_r^2 S - S \tilde Λ D_r^2),
    \qquad \dot z = 0.
    \end{aligned}$$

    The −ρ·(q, r) terms are the first-order part of the projection to ‖w‖ = 1 and κ is its
    Itô part: the discriminator's n-dimensional gradient noise, of squared norm
    n(η_T α² + η_G β²), shrinks every overlap of w (the noise difference η_T − η_G cancels
    from the drift). Every expectation over c, c̃, a, ã is exact (only second moments enter), so
    the same ODE holds for Gaussian and Rademacher latents.

    **Arguments:** `M` the macroscopic state (2d + 1, 2d + 1); `model` a `MeanFieldGAN` (its
    strengths and default hyper-parameters); `params` overrides (traced values allowed).

    **Returns:** dM/dt, the shape of M (zero on the UᵀU block, on z and on diag S).
    """
    M = jnp.asarray(M)
    M = M.astype(jnp.result_type(M.dtype, model.strengths.dtype))
    h = model.hyper(params, M.dtype)
    b = macro_blocks(M)
    if b["P"].shape[-1] != model.d or M.ndim != 2:
        raise ValueError(
            f"M must have shape ({2 * model.d + 1},) * 2 for this model, got {M.shape}")
    P, q, r, S = b["P"], b["q"], b["r"], b["S"]
    lam, lamt = model.strengths.astype(M.dtype), model.gen_strengths.astype(M.dtype)
    tg, td, et, eg = h["tau_g"], h["tau_d"], h["eta_t"], h["eta_g"]
    qLq, rLr = q @ (lam * q), r @ (lamt * r)
    rho = qLq - rLr
    kappa = 0.5 * td**2 * (et * (qLq + et) + eg * (rLr + eg))
    dP = tg * (jnp.outer(q, r) - P * r**2) * lamt
    dq = td * (lam * q - P @ (lamt * r) - rho * q) - kappa * q
    dr = tg * lamt * r * (1 - r**2) + td * (P.T @ (lam * q) - S @ (lamt * r) - rho * r) - kappa * r
    g = lamt * r**2
    dS = tg * (jnp.outer(lamt * r, r) + jnp.outer(r, lamt * r) - g[:, None] * S - S * g[None, :])
    return _assemble(dP, dq, dr, dS)


@eqx.filter_jit
def _solve(model, hyper, M0, t1, ts, rtol, atol, max_steps):
    term = diffrax.ODETerm(lambda t, y, args: mean_field_rhs(y, model, args))
    sol = diffrax.diffeqsolve(
        term,
        diffrax.Tsit5(),
        jnp.zeros((), M0.dtype),
        t1,
        None,
        M0,
        args=hyper,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        max_steps=max_steps,
        throw=False,
    )
    ok = sol.result == diffrax.RESULTS.successful
    maxed = sol.result == diffrax.RESULTS.max_steps_reached
    finite = jnp.all(jnp.isfinite(sol.ys))
    status = jnp.where(
        ok, RESULTS.successful, jnp.where(maxed, RESULTS.max_steps_reached, RESULTS.failed)
    )
    status = jnp.where(finite, status, RESULTS.diverged).astype(jnp.int32)
    return ODESolution(sol.ts, sol.ys, status, sol.result, sol.stats["num_accepted_steps"])


def solve_mean_field(
    model: MeanFieldGAN,
    params: dict[str, Any] | None = None,
    t_max: float = 10.0,
    *,
    ts: Float[ArrayLike, " T"] | None = None,
    M0: Float[ArrayLike, "m m"] | None = None,
    rtol: float = 1e-9,
    atol: float = 1e-9,
    max_steps: int = 100_000,
) -> ODESolution:
    r"""Solves the limit ODE $\dot M = F(M)$ (`mean_field_rhs`) from M(0) = `model.M0` with
    diffrax (Tsit5, PID step control).

    **Arguments:**

    - `model`, `params`: as for `mean_field_rhs` (params may be traced: vmap over a grid);
    - `t_max`: final time; `ts`: save times (default 0, 1, ..., ⌊t_max⌋, matching `simulate`);
    - `M0`: another initial state; `rtol`, `atol`, `max_steps`: the solver's controls.

    **Returns:** a `ganflow.continuous.ODESolution` with `ts` and `xs` = M(ts), shape
    (T, 2d + 1, 2d + 1); `status` a `ganflow.engine.RESULTS` code (`successful` when the solve
    finished).
    """
    check_positive("t_max", t_max)
    check_positive("rtol", rtol)
    check_positive("atol", atol)
    dtype = jnp.result_type(float)
    hyper = model.hyper(params, dtype)
    if ts is None:
        if not isinstance(t_max, jax.core.Tracer):
            ts = np.arange(int(np.floor(t_max)) + 1, dtype=np.float64)
        else:
            raise ValueError("pass ts when t_max is traced")
    ts = jnp.asarray(ts, dtype)
    if ts.ndim != 1:
        raise ValueError(f"ts must be a 1-D array of save times, got shape {ts.shape}")
    M0 = model.M0 if M0 is None else jnp.asarray(M0, dtype)
    return _solve(model, hyper, M0, jnp.asarray(t_max, dtype), ts, rtol, atol, max_steps)
