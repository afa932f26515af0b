r"""The players' optimisers: `optimizer(factory, **hyperparams)`, an optax optimiser whose
numeric hyper-parameters are array leaves (one compilation for any value, differentiable), the
check that an optimiser descends, and the settings of the public reference codes of the GAN
stabiliser papers.

**Signs.** ganflow's schemes feed each optimiser $-b$, the gradient of the player's *descent*
loss (docs/conventions.md §Discrete schemes): the signs live in the field b0, and an optimiser
must descend — its update of a positive gradient is never positive. A negative learning rate
(`optax.sgd(-0.1)`) would silently turn a player around; it is refused.
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._checks import check_choice
from .._hyper import hyperparameter, is_tracer, value_eq, value_hash

REFERENCE_OPTIMIZERS = ("adam", "rmsprop", "sgd")
"""The names `reference_optimizer` accepts: the optimisers as the papers' reference codes
configure them."""


def _is_numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return (isinstance(value, (float, np.floating, np.ndarray, jax.Array))
            or isinstance(value, jax.core.Tracer))


def _has_arrays(value: Any) -> bool:
    """An `eqx.Module` holding arrays (a schedule such as `RobbinsMonro`): a dynamic leaf."""
    return isinstance(value, eqx.Module) and any(
        eqx.is_array(a) or isinstance(a, jax.core.Tracer) for a in jax.tree_util.tree_leaves(value)
    )


def check_descending(transformation: Any, name: str = "optimizer") -> None:
    r"""`ValueError` when an optimiser ascends: its first update of the gradient $g = 1$ at
    the parameter 0 is positive (ganflow's signs live in b0; every optimiser descends).

    A cheap probe on one scalar, evaluated eagerly
    (`jax.ensure_compile_time_eval`); skipped where the transformation's values are being
    traced (its result would be unknown) or where it does not apply to a scalar parameter
    (e.g. a transformation for structured parameters).
    """
    try:
        with jax.ensure_compile_time_eval():
            tx = optax.with_extra_args_support(transformation)
            p = jnp.zeros((), dtype=jnp.result_type(float))
            g = jnp.ones_like(p)
            u, _ = tx.update(g, tx.init(p), p, hvp=lambda v: v)
            leaves = jax.tree_util.tree_leaves(u)
            if len(leaves) != 1 or is_tracer(leaves[0]):
                return
            value = float(np.asarray(leaves[0]))
    except Exception:  # noqa: BLE001 - the probe does not apply; nothing is known
        return
    if value > 0:
        raise ValueError(
            f"{name} ascends (its update of a positive gradient is {value:+.3g}): ganflow's "
            "optimisers descend the players' losses and the signs live in b0, so learning rates "
            "are positive — pass optax.sgd(eta) with eta > 0"
        )


class Optimizer(eqx.Module):
    r"""An optax optimiser `factory(**hyperparams, **options)` whose numeric hyper-parameters
    are array leaves. Build it with `optimizer`.

    - `factory` (static): the optax constructor, e.g. `optax.sgd`, `optax.adam` — the same
      function object for every value, so optimisers compare by value;
    - `hyperparams`: the numeric hyper-parameters (learning rate, `b1`, `momentum`, …) as JAX
      arrays (Python numbers become weakly typed scalars: results are bitwise those of the
      Python numbers under `jax_enable_x64`), and schedules that hold arrays; leaves of the
      pytree: `eqx.filter_jit` compiles once for every value, and `jax.grad`/`jax.jvp` reach
      them;
    - `options` (static): the rest (`nesterov=True`, `mu_dtype`, a schedule function, …) as a
      sorted tuple of (name, value) pairs.

    `init`/`update` build the optax transformation at call time (inside the trace), so its
    state has exactly the structure of `factory(...)`'s. Without `jax_enable_x64` a Python
    number becomes a float32 scalar, so constants the factory derives from it (Adam's and
    RMSProp's `1 - b2`, `1 - decay`) round in float32 where optax's Python floats rounded in
    double: results then differ from `factory(...)` with Python numbers in the last bits
    (which chaotic runs amplify); with x64 they are bitwise equal. `update` takes the extra keyword
    arguments of `optax.GradientTransformationExtraArgs` (`hvp=` for `mounjid_guo`).
    """

    def __hash__(self) -> int:  # by value: its hyper-parameters are arrays
        return value_hash(self)

    def __eq__(self, other: object) -> bool:
        return value_eq(self, other)

    factory: Callable[..., Any] = eqx.field(static=True)
    hyperparams: dict[str, Any]
    options: tuple[tuple[str, Any], ...] = eqx.field(static=True)

    def transformation(self) -> optax.GradientTransformationExtraArgs:
        """The optax transformation for the current hyper-parameters."""
        tx = self.factory(**self.hyperparams, **dict(self.options))
        return optax.with_extra_args_support(tx)

    def init(self, params: Any) -> Any:
        return self.transformation().init(params)

    def update(self, updates: Any, state: Any, params: Any = None, **extra: Any):
        return self.transformation().update(updates, state, params, **extra)


def optimizer(factory: Callable[..., Any], learning_rate: Any = None, /,
              **hyperparams: Any) -> Optimizer:
    r"""An optax optimiser with its numeric hyper-parameters as array leaves:
    `optimizer(optax.adam, 1e-3, b1=0.5)` is `optax.adam(1e-3, b1=0.5)`, but a Python loop over
    learning rates (or β₁, momentum, …) compiles `training.run` once, schemes built with equal
    values compare equal, and `jax.grad` differentiates with respect to any of them.

    - `factory`: an optax constructor (`optax.sgd`, `optax.adam`, `optax.rmsprop`,
      `ganflow.training.mounjid_guo`'s transformation, …), called as `factory(**hyperparams)`;
    - `learning_rate` (positional, optional): the factory's `learning_rate`; a number must be
      > 0 (ascending is refused: ganflow's signs live in b0), a tracer passes unchecked, a
      schedule is checked by a probe of its first update (`check_descending`);
    - `hyperparams`: the factory's other keyword arguments. Floats and arrays (incl. tracers)
      and modules holding arrays become leaves; everything else (bools, integers, `None`,
      dtypes, functions) is a static option and must be hashable.
    """
    if not callable(factory):
        raise ValueError(f"factory must be an optax constructor, got {type(factory).__name__}")
    if learning_rate is not None:
        if "learning_rate" in hyperparams:
            raise ValueError("learning_rate given twice")
        hyperparams = {"learning_rate": learning_rate, **hyperparams}
    dynamic, options = {}, []
    for key in sorted(hyperparams):
        value = hyperparams[key]
        if key == "learning_rate" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if _is_numeric(value) and key == "learning_rate":
            try:
                dynamic[key] = hyperparameter(key, value)
            except ValueError as err:
                raise ValueError(
                    f"learning_rate must be > 0 (ganflow's optimisers descend; the signs live "
                    f"in b0), got {value!r}"
                ) from err
        elif _is_numeric(value):
            dynamic[key] = hyperparameter(key, value, sign="any")
        elif _has_arrays(value):
            dynamic[key] = value
        else:
            try:
                hash(value)
            except TypeError as err:
                raise ValueError(
                    f"optimizer option {key}={value!r} is neither a number nor hashable"
                ) from err
            options.append((key, value))
    opt = Optimizer(factory, dynamic, tuple(options))
    lr = dynamic.get("learning_rate", None)
    if lr is None or not eqx.is_array(lr):  # a schedule or no learning rate: probe
        check_descending(opt.transformation(), f"optimizer({getattr(factory, '__name__', '')})")
    return opt


class _Transformation(eqx.Module):
    """A plain optax transformation held statically (its closures compare by identity: the same
    object reuses its compilation), with the extra-argument `update` of the schemes."""

    transformation: Any = eqx.field(static=True)

    def init(self, params: Any) -> Any:
        return self.transformation.init(params)

    def update(self, updates: Any, state: Any, params: Any = None, **extra: Any):
        tx = optax.with_extra_args_support(self.transformation)
        return tx.update(updates, state, params, **extra)


def as_optimizer(opt: Any, name: str = "optimizer") -> Any:
    r"""A player's optimiser from what a scheme is given:

    - a positive number or array `η` (a tracer too): `optimizer(optax.sgd, η)`, plain gradient
      steps with η an array leaf (differentiable; one compilation for every value);
    - an `Optimizer` (from `optimizer`): itself;
    - an `optax.GradientTransformation`: used as it is (its hyper-parameters are compile-time
      constants of its closures: the same object reuses a compilation, a new one compiles
      again), after `check_descending`.

    A negative rate or an ascending transformation is a `ValueError` (the signs live in b0).
    """
    if isinstance(opt, (Optimizer, _Transformation)):
        return opt
    if isinstance(opt, optax.GradientTransformation):
        check_descending(opt, name)
        return _Transformation(opt)
    if isinstance(opt, bool):
        pass
    elif isinstance(opt, (int, float, np.number)) or eqx.is_array(opt) or is_tracer(opt):
        lr = float(opt) if isinstance(opt, int) else opt
        try:
            return optimizer(optax.sgd, lr)
        except ValueError as err:
            raise ValueError(
                f"{name} (a learning rate) must be > 0 (ganflow's signs live in b0), got {opt!r}"
            ) from err
    raise ValueError(
        f"{name} must be an optax.GradientTransformation, a ganflow optimizer or a positive "
        f"learning rate, got {type(opt).__name__}"
    )


def reference_optimizer(name: str, learning_rate: Any, beta1: Any = 0.5) -> Optimizer:
    """An optimiser as the reference codes configure it, with `learning_rate` and `beta1` as
    array leaves (`optimizer`: equal settings compare equal and share a compilation):

    - `"adam"`: Keras/TF Adam with `beta1` (0.5 in Nagarajan–Kolter 2017's and Metz et al.
      2017's codes), β2 0.999, ε 1e-8;
    - `"rmsprop"`: TF1 `RMSPropOptimizer` (Mescheder et al. 2017, Balduzzi et al. 2018): decay
      0.9, ε 1e-10 inside the root, mean square initialised to 1;
    - `"sgd"`: plain gradient steps.
    """
    check_choice("optimizer", name, REFERENCE_OPTIMIZERS)
    if name == "adam":
        return optimizer(optax.adam, learning_rate, b1=beta1, b2=0.999, eps=1e-8)
    if name == "rmsprop":
        return optimizer(optax.rmsprop, learning_rate, decay=0.9, eps=1e-10, initial_scale=1.0)
    return optimizer(optax.sgd, learning_rate)
