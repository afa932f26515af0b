r"""The adaptive learning rate of Mounjid–Guo (§3.1 Proposition 1, §4.1 eq. 20) as an optax
transformation.

For each parameter group i (a layer / leaf by default) with gradient $g_i$ of the player's
*descent* loss ℓ and base rate $\bar η$, the step is $x^i \leftarrow x^i - u^i \bar η\, g_i$ with

$$u^i = \frac{\|g_i\|^2}{\bar g_i^\top H_{ii} \bar g_i} ∧ u_{max},
\qquad \bar g_i = \sqrt{\bar η}\, g_i,$$

when $\bar g_i^\top H_{ii} \bar g_i > 0$, and $u^i = u_{max}$ otherwise (§4.1). $H_{ii}$ is the
diagonal block of the Hessian of ℓ; $\bar g_i^\top H_{ii} \bar g_i$ costs one Hessian-vector
product per group (tangent $\bar g_i$ on group i, zero elsewhere; the groups are vmapped).

**Signs per player.** ganflow's schemes feed each optimiser $-b$, the gradient of the player's
descent loss: $ℓ_θ = L_G$ for the generator and $ℓ_ω = -Φ_D$ for the discriminator, so the
discriminator's curvature is $-∇^2_{ωω}Φ_D$ — the paper's $u^w = -|g_w|^2 / (\bar Σ^w : g_{ww})$.
The schemes pass `hvp=` (v ↦ H_ℓ v, the diagonal block of −J) to `update`; outside a scheme, pass
it yourself.

**Newton-like limit** (eq. 15, `newton=True`): each coordinate is its own group and
$u_j = 1/(\bar η\, ∂^2_{jj} ℓ) ∧ u_{max}$ ($u_{max}$ when $∂^2_{jj} ℓ ≤ 0$); it needs one HVP per
coordinate (small models only). On a quadratic $(a/2)x^2 + bx$ both forms give $\bar η u = 1/a$,
Newton's step.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float

from .._checks import check_positive
from ._optimizers import optimizer

_tmap = jax.tree_util.tree_map


class ScaleByMounjidGuoState(NamedTuple):
    """The last adjustments u (one per group, in group order), for monitoring."""

    u: Float[Array, " groups"]


def _group_labels(groups: Any, params: Any) -> tuple[list[int], int]:
    """An integer group id per leaf of `params`, and the number of groups."""
    leaves = jax.tree_util.tree_leaves(params)
    if groups == "leaf":
        return list(range(len(leaves))), len(leaves)
    if groups == "all":
        return [0] * len(leaves), 1
    if jax.tree_util.tree_structure(groups) != jax.tree_util.tree_structure(params) and callable(
        groups
    ):
        groups = groups(params)
    labels = jax.tree_util.tree_leaves(groups)
    if len(labels) != len(leaves):
        raise ValueError(
            f"groups must give one integer label per parameter leaf: {len(labels)} labels for "
            f"{len(leaves)} leaves"
        )
    names = sorted({int(lab) for lab in labels})
    index = {lab: i for i, lab in enumerate(names)}
    return [index[int(lab)] for lab in labels], len(names)


def mounjid_guo_u(
    grad: Any,
    hvp: Callable[[Any], Any],
    eta_bar: Any,
    u_max: Any,
    groups: Any = "leaf",
    newton: bool = False,
) -> tuple[Float[Array, " groups"], Any]:
    r"""The adjustments $u^i$ (Mounjid–Guo §4.1) and the per-leaf factors that apply them.

    Returns `(u, factors)` with `u` of shape (groups,) — or, with `newton=True`, `u` as a pytree
    shaped like `grad` (one u per coordinate) — and `factors` a pytree shaped like `grad`.
    """
    leaves, treedef = jax.tree_util.tree_flatten(grad)
    if newton:
        flat = jnp.concatenate([jnp.ravel(a) for a in leaves])
        d = flat.size
        sizes = [a.size for a in leaves]
        offsets = [int(o) for o in np.cumsum([0, *sizes])]

        def unflat(v):
            return jax.tree_util.tree_unflatten(
                treedef,
                [v[o : o + s].reshape(a.shape) for o, s, a in zip(offsets, sizes, leaves)],
            )

        def diag_entry(e):
            hv = jnp.concatenate([jnp.ravel(a) for a in jax.tree_util.tree_leaves(hvp(unflat(e)))])
            return jnp.dot(e, hv)

        diag = jax.vmap(diag_entry)(jnp.eye(d, dtype=flat.dtype))
        u = jnp.where(
            diag > 0, jnp.minimum(1.0 / (eta_bar * jnp.where(diag > 0, diag, 1.0)), u_max), u_max
        )
        factors = unflat(u)
        return factors, factors
    labels, n = _group_labels(groups, grad)
    gbar = [jnp.sqrt(eta_bar) * a for a in leaves]
    # tangent for group k: gbar on the leaves of group k, zero elsewhere (stacked over k)
    tangents = [
        jnp.stack([gb if labels[i] == k else jnp.zeros_like(gb) for k in range(n)])
        for i, gb in enumerate(gbar)
    ]
    stacked = jax.tree_util.tree_unflatten(treedef, tangents)
    hv = jax.vmap(hvp)(stacked)
    hv_leaves = jax.tree_util.tree_leaves(hv)
    onehot = jnp.asarray(
        [[1.0 if labels[i] == k else 0.0 for k in range(n)] for i in range(len(leaves))]
    )
    # quad[k] = sum over leaves i of group k of <gbar_i, (H gbar^(k))_i>
    quad = jnp.zeros((n,), dtype=jnp.result_type(*leaves))
    num = jnp.zeros((n,), dtype=jnp.result_type(*leaves))
    for i, (gb, g, h) in enumerate(zip(gbar, leaves, hv_leaves)):
        per_k = jnp.sum((h * gb[None]).reshape(n, -1), axis=1)
        quad = quad + onehot[i] * per_k
        num = num + onehot[i] * jnp.sum(jnp.square(g))
    safe = jnp.where(quad > 0, quad, 1.0)
    u = jnp.where(quad > 0, jnp.minimum(num / safe, u_max), u_max)
    factors = jax.tree_util.tree_unflatten(
        treedef, [jnp.full_like(a, u[labels[i]]) for i, a in enumerate(leaves)]
    )
    return u, factors


def scale_by_mounjid_guo(
    eta_bar: Any, u_max: Any = 10.0, groups: Any = "leaf", newton: bool = False
) -> optax.GradientTransformationExtraArgs:
    r"""Multiplies each group's update by its adjustment $u^i$ (Mounjid–Guo §4.1, eq. 20).

    `update(updates, state, params, *, hvp)` needs `hvp`, a callable v ↦ H v with H the Hessian of
    the descent loss whose gradient is `updates` (ganflow's schemes pass it). `groups`: `"leaf"`
    (one group per parameter array, i.e. per layer weight/bias), `"all"`, a pytree of integer
    labels shaped like the parameters, or a callable params ↦ labels. Chain with
    `optax.scale_by_learning_rate(eta_bar)`, or use `mounjid_guo`.
    """
    check_positive("eta_bar", eta_bar)
    check_positive("u_max", u_max)
    _check_groups(groups)
    return _scale_by_mounjid_guo(eta_bar, u_max, groups, newton)


def _check_groups(groups: Any) -> None:
    if isinstance(groups, str) and groups not in ("leaf", "all"):
        raise ValueError(f"unknown groups {groups!r}; expected 'leaf', 'all', labels or a callable")


def _scale_by_mounjid_guo(eta_bar, u_max, groups, newton) -> optax.GradientTransformationExtraArgs:
    """`scale_by_mounjid_guo` without its checks (its values may be traced)."""

    def init_fn(params):
        if newton:
            n = sum(a.size for a in jax.tree_util.tree_leaves(params))
        else:
            n = _group_labels(groups, params)[1]
        dtype = jnp.result_type(*jax.tree_util.tree_leaves(params)) if n else jnp.float32
        return ScaleByMounjidGuoState(u=jnp.ones((n,), dtype=dtype))

    def update_fn(updates, state, params=None, *, hvp=None, **extra):
        del params, extra
        if hvp is None:
            raise ValueError(
                "scale_by_mounjid_guo needs hvp=... in update(): a callable v -> H v (ganflow's "
                "training schemes pass it)"
            )
        u, factors = mounjid_guo_u(updates, hvp, eta_bar, u_max, groups, newton)
        new = _tmap(lambda f, g: f * g, factors, updates)
        if newton:
            u = jnp.concatenate([jnp.ravel(a) for a in jax.tree_util.tree_leaves(u)])
        return new, ScaleByMounjidGuoState(u=u.astype(state.u.dtype))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _mounjid_guo_chain(learning_rate, u_max, groups, newton):
    return optax.chain(
        _scale_by_mounjid_guo(learning_rate, u_max, groups, newton),
        optax.scale_by_learning_rate(learning_rate),
    )


def mounjid_guo(learning_rate: Any, u_max: Any = 10.0, groups: Any = "leaf",
                newton: bool = False) -> Any:
    r"""SGD with the Mounjid–Guo adaptive rate ("LSGD", §4.1): $x^i \leftarrow x^i - u^i \bar η
    g_i$ with $\bar η$ = `learning_rate`. With a ganflow scheme:

    ```python
    scheme = SimultaneousGDA(b, mounjid_guo(0.5, u_max=4.0))
    ```

    - `learning_rate` $\bar η$ (> 0) and `u_max` (default 10.0, > 0): array leaves of the
      returned `ganflow.training.Optimizer` (differentiable; one compilation for any value);
    - `groups` (default `"leaf"`), `newton` (default False): static, as for
      `scale_by_mounjid_guo`. Labels given as an unhashable pytree give a plain optax
      transformation instead (its values then compile as constants).
    """
    check_positive("eta_bar (the learning rate)", learning_rate)
    check_positive("u_max", u_max)
    _check_groups(groups)
    try:
        hash(groups)
    except TypeError:
        return _mounjid_guo_chain(learning_rate, u_max, groups, bool(newton))
    if isinstance(u_max, int) and not isinstance(u_max, bool):
        u_max = float(u_max)
    return optimizer(_mounjid_guo_chain, learning_rate, u_max=u_max, groups=groups,
                     newton=bool(newton))
