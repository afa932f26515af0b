"""The dynamics layer against maths: closed forms, finite differences, dense Hessians from
`jax.hessian` of Φ itself, and the Taylor expansion of one alternating step (Cao–Guo eq. 10)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import ganflow as gf
from tests.conftest import flat, tree_allclose
from tests.helpers import F_PRIME

# ----------------------------------------------------------------------------------------------
# A random MLP GAN written the plain way (not through ganflow.games)


def _mlp_game(key, loss_name="gan", width=5, depth=2, batch=8):
    kg, kd, kx, kz = jax.random.split(key, 4)
    gen = gf.models.MLP.init(kg, 2, 2, width, depth, activation=jnp.tanh)
    disc = gf.models.MLP.init(kd, 2, None, width, depth, activation=jnp.tanh)
    data = jax.random.normal(kx, (batch, 2)) + 1.0
    z = jax.random.normal(kz, (batch, 2))
    loss = gf.get_loss(loss_name)

    def gen_loss(theta, omega, data, z):
        d_real = jax.vmap(omega)(data)
        d_fake = jax.vmap(omega)(jax.vmap(theta)(z))
        return jnp.mean(loss.generator(d_real, d_fake))

    def disc_obj(theta, omega, data, z):
        d_real = jax.vmap(omega)(data)
        d_fake = jax.vmap(omega)(jax.vmap(theta)(z))
        return jnp.mean(loss.discriminator(d_real, d_fake))

    obj = gf.Objective(gen_loss, disc_obj, zero_sum=loss.zero_sum)
    return obj, (gen, disc), (data, z)


def _fd_jvp(fn, x, u, eps=1e-6):
    """Central finite difference of fn along u, flat vectors."""
    flat_x, unravel = ravel_pytree(x)
    flat_u = flat(u)
    plus = flat(fn(unravel(flat_x + eps * flat_u)))
    minus = flat(fn(unravel(flat_x - eps * flat_u)))
    return (plus - minus) / (2 * eps)


def _random_like(key, x):
    flat_x, unravel = ravel_pytree(x)
    return unravel(jax.random.normal(key, flat_x.shape))


@pytest.mark.parametrize("loss_name", ["gan", "nsgan", "wgan"])
def test_derivatives_against_finite_differences_and_dense(loss_name, getkey):
    obj, x, args = _mlp_game(getkey(), loss_name)
    b = gf.vector_field(obj)
    u = _random_like(getkey(), x)
    w = _random_like(getkey(), x)

    # b0 against a hand-written pair of jax.grad calls (signs of docs/conventions.md §The vector
    # field b0 and its Jacobian J).
    gt = jax.grad(obj.generator, argnums=0)(*x, *args)
    gw = jax.grad(obj.discriminator, argnums=1)(*x, *args)
    assert tree_allclose(b(x, *args), (jax.tree.map(jnp.negative, gt), gw), rtol=1e-13, atol=1e-15)

    # J·u against finite differences of b0.
    ju = flat(gf.jvp(b, x, u, *args))
    np.testing.assert_allclose(ju, _fd_jvp(lambda y: b(y, *args), x, u), rtol=1e-6, atol=1e-8)

    # Dense Jacobian (chunked and unchunked) against finite differences, column by column.
    dense = np.asarray(jax.jit(lambda y: gf.jacobian(b, y, *args, chunk_size=7))(x))
    dense_vmap = jax.jit(lambda y: gf.jacobian(b, y, *args, chunk_size=None))(x)
    np.testing.assert_allclose(dense, np.asarray(dense_vmap),
                               rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(dense @ flat(u), ju, rtol=1e-12, atol=1e-13)
    # Jᵀ·w equals the dense transpose.
    np.testing.assert_allclose(flat(gf.vjp(b, x, w, *args)), dense.T @ flat(w), rtol=1e-11,
                               atol=1e-13)

    # The block structure of J (docs/conventions.md §The vector field b0 and its Jacobian J),
    # with Hessians taken by jax.hessian of each objective.
    d_theta = gf.split_index(x)
    flat_x, unravel = ravel_pytree(x)

    def hess(fn):
        return np.asarray(jax.jit(jax.hessian(lambda v: fn(*unravel(v), *args)))(flat_x))

    h_gen, h_disc = hess(obj.generator), hess(obj.discriminator)
    expected = np.block(
        [[-h_gen[:d_theta, :d_theta], -h_gen[:d_theta, d_theta:]],
         [h_disc[d_theta:, :d_theta], h_disc[d_theta:, d_theta:]]]
    )
    np.testing.assert_allclose(dense, expected, rtol=1e-10, atol=1e-12)

    # HVPs of each block.
    ut, uw = u
    np.testing.assert_allclose(flat(gf.hvp_theta(obj, x, ut, *args)),
                               h_gen[:d_theta, :d_theta] @ flat(ut), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(flat(gf.hvp_omega(obj, x, uw, *args)),
                               h_disc[d_theta:, d_theta:] @ flat(uw), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(flat(gf.mixed_theta_omega(obj, x, uw, *args)),
                               h_gen[:d_theta, d_theta:] @ flat(uw), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(flat(gf.mixed_omega_theta(obj, x, ut, *args)),
                               h_disc[d_theta:, :d_theta] @ flat(ut), rtol=1e-10, atol=1e-12)
    blocks = gf.hessian_blocks(obj, x, *args)
    np.testing.assert_allclose(blocks["theta_omega"], h_gen[:d_theta, d_theta:], rtol=1e-10,
                               atol=1e-12)

    # b1 against its definition built from dense matrices (Cao–Guo eq. 10):
    # b1 = -1/2 J b0 - (∇_ω g_θ g_ω, 0).
    b0v = flat(b(x, *args))
    g_omega = b0v[d_theta:]
    correction = np.concatenate([h_gen[:d_theta, d_theta:] @ g_omega, np.zeros(b0v.size - d_theta)])
    b1_dense = -0.5 * expected @ b0v - correction
    np.testing.assert_allclose(flat(gf.b1(b, x, *args)), b1_dense, rtol=1e-10, atol=1e-12)
    # and -(η/2) J b0 of eq. 13
    np.testing.assert_allclose(flat(gf.simultaneous_correction(b, x, *args)),
                               -0.5 * expected @ b0v, rtol=1e-10, atol=1e-12)


def test_b1_matches_one_alternating_step_expansion(getkey):
    """One alternating step (docs/conventions.md §Discrete schemes: ω first, then θ at the new ω)
    moves η b0 + η² (b1 + ½ J b0) + O(η³): check the η² coefficient by Richardson
    extrapolation."""
    obj, x, args = _mlp_game(getkey(), "gan", width=4, depth=1, batch=8)
    b = gf.vector_field(obj)

    def alt_step(eta):
        theta, omega = x
        g_omega = jax.grad(obj.discriminator, argnums=1)(theta, omega, *args)
        omega_new = jax.tree.map(lambda w, g: w + eta * g, omega, g_omega)
        g_theta = jax.grad(obj.generator, argnums=0)(theta, omega_new, *args)
        theta_new = jax.tree.map(lambda t, g: t - eta * g, theta, g_theta)
        return flat((theta_new, omega_new)) - flat(x)

    b0v = flat(b(x, *args))
    jb0 = flat(gf.jvp(b, x, b(x, *args), *args))
    predicted = flat(gf.b1(b, x, *args)) + 0.5 * jb0

    def second_order_coeff(eta):
        return (alt_step(eta) - eta * b0v) / eta**2

    eta = 1e-3
    richardson = 2 * second_order_coeff(eta / 2) - second_order_coeff(eta)  # removes the O(η) term
    np.testing.assert_allclose(richardson, predicted, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("loss_name", ["gan", "wgan", "nsgan"])
def test_dirac_closed_forms(loss_name):
    """Dirac-GAN, Φ = f(0) + f(−ψθ): b0 = (ψ f′(−ψθ), −θ f′(−ψθ)); J(0) = [[0, f′(0)],
    [−f′(0), 0]], eigenvalues ±f′(0)i."""
    game = gf.DiracGAN(loss_name)
    b = game.vector_field(population=True)
    loss = game.loss
    fp = jax.grad(loss.f)
    for th, ps in [(0.3, -0.7), (1.0, 1.0), (-2.0, 0.5)]:
        out = flat(b(game.make_state(th, ps)))
        s = fp(-ps * th)
        expected_theta = ps * s if loss_name != "nsgan" else ps * jax.grad(loss.f)(ps * th)
        np.testing.assert_allclose(out, [expected_theta, -th * s], rtol=1e-14, atol=1e-15)
    jac = np.asarray(gf.jacobian(b, game.equilibrium()))
    f1 = float(loss.f_prime(0.0))
    np.testing.assert_allclose(jac, [[0.0, f1], [-f1, 0.0]], atol=1e-15)
    eig = np.sort_complex(np.linalg.eigvals(jac))
    np.testing.assert_allclose(eig, [-1j * f1, 1j * f1], atol=1e-15)
    assert f1 == pytest.approx(F_PRIME[loss_name], abs=1e-15)


def test_minibatch_field_of_dirac_equals_population():
    game = gf.DiracGAN("gan")
    x = game.make_state(0.4, -1.2)
    batch = game.sample(jax.random.key(0), 5)
    assert tree_allclose(game.vector_field()(x, batch), game.vector_field(population=True)(x),
                         rtol=1e-15, atol=1e-16)


def test_user_written_objective_over_nested_dicts():
    """What a user writes: Φ over nested dicts, no ganflow types, then every derivative."""

    def phi(theta, omega, data):
        pred = theta["layer"]["w"] @ data + theta["bias"]
        return jnp.sum(omega["critic"] * pred) - 0.5 * omega["scale"] ** 2 * jnp.sum(pred**2)

    theta = {"layer": {"w": jnp.array([[1.0, 2.0], [0.5, -1.0]])}, "bias": jnp.array([0.1, 0.2])}
    omega = {"critic": jnp.array([0.3, -0.4]), "scale": jnp.array(0.7)}
    data = jnp.array([1.0, -2.0])
    x = (theta, omega)

    b = gf.vector_field(phi)
    out = b(x, data)
    assert jax.tree.structure(out) == jax.tree.structure(x)
    # closed form: pred = W d + c, ∂Φ/∂pred = critic − s² pred; g_W = (critic − s² pred) dᵀ
    pred = theta["layer"]["w"] @ data + theta["bias"]
    dpred = omega["critic"] - omega["scale"] ** 2 * pred
    np.testing.assert_allclose(out[0]["layer"]["w"], -np.outer(dpred, data), rtol=1e-14)
    np.testing.assert_allclose(out[0]["bias"], -dpred, rtol=1e-14)
    np.testing.assert_allclose(out[1]["critic"], pred, rtol=1e-14)
    np.testing.assert_allclose(out[1]["scale"], -omega["scale"] * jnp.sum(pred**2), rtol=1e-14)

    dense = gf.jacobian(b, x, data)
    assert dense.shape == (9, 9)
    u = jax.tree.map(jnp.ones_like, x)
    np.testing.assert_allclose(flat(gf.jvp(b, x, u, data)), dense @ flat(u), rtol=1e-12)
    np.testing.assert_allclose(flat(gf.vjp(b, x, u, data)), dense.T @ flat(u), rtol=1e-12)

    # jit and vmap over a leading seed axis
    xs = jax.tree.map(lambda a: jnp.stack([a, 2 * a, -a]), x)
    batched = jax.jit(jax.vmap(lambda y: gf.b1(b, y, data)))(xs)
    for i in range(3):
        xi = jax.tree.map(lambda a, i=i: a[i], xs)
        assert tree_allclose(jax.tree.map(lambda a, i=i: a[i], batched), gf.b1(b, xi, data))


def test_per_example_grads_and_noise_factor_against_dense():
    """Σ̂ = CᵀC equals the covariance of per-example gradients computed by NumPy."""
    w_data = jnp.array([0.5, -1.0, 2.0, 0.3, 1.1])

    def example_phi(theta, omega, e):
        return jnp.tanh(theta * e) * omega[0] + omega[1] * e**2 * theta**2

    x = (jnp.array(0.7), jnp.array([0.2, -0.4]))
    gt, gw = gf.per_example_grads(example_phi, x, w_data)
    manual = np.array([np.asarray(jax.grad(example_phi, argnums=(0, 1))(*x, e)[0]) for e in w_data])
    np.testing.assert_allclose(gt, manual, rtol=1e-14)
    factor = gf.noise_factor(example_phi, x, w_data)
    cov_t, cov_w = factor.covariance()
    np.testing.assert_allclose(cov_t, np.cov(np.asarray(gt)[:, None].T, bias=True).reshape(1, 1),
                               rtol=1e-12)
    np.testing.assert_allclose(cov_w, np.cov(np.asarray(gw).T, bias=True), rtol=1e-12, atol=1e-14)
    tr_t, tr_w = factor.trace()
    np.testing.assert_allclose([tr_t, tr_w], [np.trace(cov_t), np.trace(cov_w)], rtol=1e-12)
    # Cᵀξ for generic ξ, per player, against NumPy's product of the same factor.
    xi = (jnp.arange(5.0), jnp.array([1.0, -2.0, 0.5, 3.0, -1.5]))
    applied = factor.apply(xi)
    np.testing.assert_allclose(applied[0], np.asarray(factor.theta) @ np.arange(5.0), rtol=1e-13)
    np.testing.assert_allclose(applied[1], np.asarray(factor.omega).T @ np.asarray(xi[1]),
                               rtol=1e-13)
    # Centred rows sum to zero: Cᵀ1 = 0 up to rounding (exactly 0 on one backend, ~1e-17 on
    # another), with entries of C of order 1, so atol = 1e-14 is ~100 ulps.
    ones = factor.apply((jnp.ones(5), jnp.ones(5)))
    assert float(np.max(np.abs(np.asarray(factor.omega)))) > 0.1
    np.testing.assert_allclose(ones[0], 0.0, atol=1e-14, rtol=0)
    np.testing.assert_allclose(ones[1], [0.0, 0.0], atol=1e-14, rtol=0)


def test_modified_fields_are_first_order_corrections():
    game = gf.DiracGAN("gan")
    b = game.vector_field(population=True)
    x = game.make_state(0.8, -0.3)
    eta = 0.05
    sim = gf.modified_field(b, eta, "simultaneous")(x)
    expected = flat(b(x)) - 0.5 * eta * np.asarray(gf.jacobian(b, x)) @ flat(b(x))
    np.testing.assert_allclose(flat(sim), expected, rtol=1e-13)
    alt = gf.modified_field(b, eta, "alternating")(x)
    np.testing.assert_allclose(flat(alt), flat(b(x)) + eta * flat(gf.b1(b, x)), rtol=1e-13)


# ----------------------------------------------------------------------------------------------
# The field protocol (docs/conventions.md §The field protocol)


class _KeyedClippedField(gf.dynamics.AbstractField):
    """b(x, batch, key) = (batch, uniform(key)); projection clips ω to [−c, c]."""

    c: float = eqx.field(static=True)

    def __call__(self, x, batch, key):
        theta, omega = x
        return batch * jnp.ones_like(theta), jax.random.uniform(key, (), omega.dtype)

    @property
    def needs_key(self):
        return True

    def project(self, x):
        return x[0], jnp.clip(x[1], -self.c, self.c)


def test_field_protocol():
    """Plain callables are fields with no key and no projection; AbstractFields declare both;
    ModifiedField inherits them; schemes call b(x, batch, key) and project after each step."""
    from ganflow.dynamics import AbstractField, field_needs_key, field_project

    x = (jnp.array(2.0), jnp.array(-3.0))
    plain = lambda y, *args: (-y[1], y[0])  # noqa: E731
    assert not field_needs_key(plain) and field_project(plain, x) is x
    b0 = gf.vector_field(_bilinear)
    assert isinstance(b0, AbstractField) and not field_needs_key(b0) and field_project(b0, x) is x
    keyed = _KeyedClippedField(0.5)
    assert field_needs_key(keyed)
    np.testing.assert_array_equal(flat(field_project(keyed, x)), [2.0, -0.5])
    mod = gf.modified_field(keyed, 0.1)
    assert isinstance(mod, AbstractField) and field_needs_key(mod)
    np.testing.assert_array_equal(flat(field_project(mod, x)), [2.0, -0.5])
    assert not field_needs_key(gf.modified_field(b0, 0.1))
    clipped = gf.stabilise(gf.DiracGAN("gan"), gf.stabilisers.WeightClipping(0.1), population=True)
    assert isinstance(clipped, AbstractField) and not field_needs_key(clipped)
    with pytest.raises(ValueError, match="vector field"):
        field_needs_key(3.0)
    with pytest.raises(TypeError):  # the interface is declared: __call__ is abstract
        AbstractField()

    # A scheme honours both declarations: θ moves by η·batch, ω by η·uniform(key) > 0, then is
    # clipped to c (a wide c leaves it unclipped).
    x0 = (jnp.array(1.0), jnp.array(0.5))
    omegas = []
    for c in (0.5, 10.0):
        scheme = gf.training.SimultaneousGDA(
            _KeyedClippedField(c), 0.1, sampler=lambda key: jnp.asarray(2.0)
        )
        state = scheme.step(scheme.init(x0), jax.random.key(0))
        np.testing.assert_allclose(float(state.x[0]), 1.2, rtol=1e-15)
        omegas.append(float(state.x[1]))
    assert omegas[0] == 0.5 and 0.5 < omegas[1] < 0.6


# ----------------------------------------------------------------------------------------------
# Bad input: ValueError naming the problem, before anything is compiled


def _bilinear(t, w):
    return t * w


def test_bad_input_raises_value_errors():
    b = gf.vector_field(_bilinear)
    x = (jnp.array(1.0), jnp.array(2.0))
    with pytest.raises(ValueError, match="pytree structure"):
        gf.jvp(b, x, (jnp.array(1.0), {"a": jnp.array(1.0)}))
    with pytest.raises(ValueError, match="leaf shapes"):
        gf.vjp(b, x, (jnp.ones(2), jnp.array(1.0)))
    with pytest.raises(ValueError, match="pair"):
        gf.b0(_bilinear, (jnp.array(1.0),))
    with pytest.raises(ValueError, match="scalar"):
        gf.b0(lambda t, w: jnp.stack([t * w, t]), x)
    with pytest.raises(ValueError, match="eta must be > 0"):
        gf.modified_field(b, 0.0)
    with pytest.raises(ValueError, match="eta must be > 0"):
        gf.modified_field(b, -1e-3, "alternating")
    with pytest.raises(ValueError, match="unknown scheme"):
        gf.modified_field(b, 0.1, "alternate")
    with pytest.raises(ValueError, match="unknown loss 'wgan-gp'"):
        gf.get_loss("wgan-gp")
    with pytest.raises(ValueError, match="unknown loss"):
        gf.DiracGAN("GAN")
    with pytest.raises(ValueError, match="floating-point"):
        gf.b0(_bilinear, (jnp.array(1), jnp.array(2)))
    with pytest.raises(ValueError, match="Objective"):
        gf.jacobian(gf.Objective.from_phi(_bilinear), x)
    with pytest.raises(ValueError, match="no exact population"):
        # a game without a population objective
        class NoPop(gf.games.DiracGAN):
            def population(self):
                return None

        NoPop().objective(population=True)


def test_traced_eta_is_checked_at_run_time():
    b = gf.vector_field(_bilinear)
    x = (jnp.array(1.0), jnp.array(2.0))
    fn = eqx.filter_jit(lambda eta: gf.modified_field(b, eta)(x))
    fn(jnp.array(0.1))
    with pytest.raises(Exception, match="eta must be > 0"):
        fn(jnp.array(-0.1))
