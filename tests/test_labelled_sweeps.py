"""Library sweeps as labelled data: `training.run`, `run_grid` and `engine.run_ensemble` give an
`xarray.Dataset` with the sweep's dims and coordinates, parameters named by their pytree path,
the user's observables recorded at the save points, and `distance` only with a reference point.
The README's hand-written MLP GAN runs here at tiny size."""

import pathlib
import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import xarray as xr

import ganflow as gf
from ganflow.engine import AbstractProblem, RunFolder, Sweep, leaf_names, run_ensemble

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def test_leaf_names_follow_the_pytree_paths():
    w = jnp.zeros((2, 3))
    assert leaf_names("theta", w) == ["theta"]
    assert leaf_names("theta", {"W1": w, "b1": w}) == ["theta.W1", "theta.b1"]
    assert leaf_names("x", (w, (w, w))) == ["x.0", "x.1.0", "x.1.1"]
    mlp = eqx.nn.MLP(1, 1, 4, 1, key=jax.random.key(0))
    assert leaf_names("theta", mlp)[:2] == ["theta.layers.0.weight", "theta.layers.0.bias"]
    assert leaf_names("theta", {"a/b": w}) == ["theta.a_b"]  # zarr-safe: no '/'
    with pytest.raises(ValueError, match="same result name 'theta.a_b'"):
        leaf_names("theta", {"a/b": w, "a.b": w})


class _Contraction(AbstractProblem):
    """x_{k+1} = (1 − η) x_k from x_0 = (1, 2): x_k = (1 − η)^k x_0 exactly."""

    def init(self, key, params, inputs=None):
        return {"u": jnp.asarray([1.0, 2.0])}

    def step(self, x, key, t, params):
        return {"u": (1.0 - params["eta"]) * x["u"]}

    def observe(self, x, params):
        return {"x": x}


class _VectorisedContraction(_Contraction):
    vectorised = True

    def init(self, key, params, inputs=None):
        return {"u": jnp.broadcast_to(jnp.asarray([1.0, 2.0]), (key.shape[0], 2))}

    def step(self, x, key, t, params):
        return {"u": (1.0 - params["eta"])[:, None] * x["u"]}


@pytest.mark.parametrize("problem", [_Contraction(), _VectorisedContraction()])
def test_engine_observables_match_the_closed_form(problem):
    """fn(state, step) is recorded at every save point (and step 0) with dims (seed, eta, step);
    on x_k = (1 − η)^k x_0, ‖x_k‖² = 5 (1 − η)^{2k} and the step argument is k."""
    etas = [0.1, 0.3]
    res = run_ensemble(problem, Sweep(seeds=3, axes={"eta": etas}), 12, save_every=4,
                       observables={"sq": lambda x, step: jnp.sum(x["u"] ** 2),
                                    "k": lambda x, step: step})
    ds = res.dataset
    assert ds["sq"].dims == ("seed", "eta", "step")
    assert ds["x.u"].dims == ("seed", "eta", "step", "x.u_dim0")
    np.testing.assert_array_equal(ds["step"].values, [0, 4, 8, 12])
    np.testing.assert_array_equal(ds["eta"].values, etas)
    k = np.asarray([0, 4, 8, 12])
    exact = 5.0 * (1.0 - np.asarray(etas))[:, None] ** (2 * k)
    np.testing.assert_allclose(ds["sq"].values, np.broadcast_to(exact, (3, 2, 4)), rtol=1e-13)
    np.testing.assert_array_equal(ds["k"].values, np.broadcast_to(k, (3, 2, 4)))
    rebuilt = res.tree("x", {"u": jnp.zeros(2)})
    np.testing.assert_array_equal(rebuilt["u"], ds["x.u"].values)


def _dirac_setup(seeds=3):
    game = gf.DiracGAN("gan")
    field = gf.stabilise(game, gf.R1(1.0), population=True)
    x0s = jax.vmap(game.init)(jax.random.split(jax.random.key(0), seeds))
    return game, field, x0s


def test_run_gives_labelled_parameters_observables_and_no_distance_without_x_star(tmp_path):
    game, field, x0s = _dirac_setup()
    scheme = gf.training.SimultaneousGDA(field, optax.sgd(0.1))
    obs = {"radius2": lambda x, step: x[0].theta ** 2 + x[1].psi ** 2,
           "step_seen": lambda x, step: step}
    sol = gf.training.run(scheme, x0s, 8, save_every=2, observables=obs,
                          folder=RunFolder(tmp_path / "run"))
    ds = sol.dataset
    assert "distance" not in ds and sol.distances is None
    assert ds["theta.theta"].dims == ("seed", "step") and ds["omega.psi"].dims == ("seed", "step")
    np.testing.assert_array_equal(ds["theta.theta"].values, np.asarray(sol.xs[0].theta))
    np.testing.assert_array_equal(ds["omega.psi"].values, np.asarray(sol.xs[1].psi))
    r2 = ds["theta.theta"].values ** 2 + ds["omega.psi"].values ** 2  # numpy, from the store
    np.testing.assert_allclose(ds["radius2"].values, r2, rtol=1e-14)
    np.testing.assert_array_equal(ds["step_seen"].values, np.broadcast_to([0, 2, 4, 6, 8], (3, 5)))
    on_disk = xr.open_zarr(tmp_path / "run" / "results.zarr")
    for name in ("theta.theta", "omega.psi", "radius2"):
        np.testing.assert_array_equal(on_disk[name].values, ds[name].values)
    # with a reference point, distance is ‖x − x*‖ of the stored parameters (x* = 0)
    with_star = gf.training.run(scheme, x0s, 8, save_every=2, x_star=game.equilibrium())
    d = np.sqrt(with_star.dataset["theta.theta"].values ** 2
                + with_star.dataset["omega.psi"].values ** 2)
    np.testing.assert_allclose(with_star.dataset["distance"].values, d, rtol=1e-14)


def test_run_grid_dataset_has_seed_eta_step_and_the_observables():
    """One step of SGD on the Dirac-GAN's R1 field from x0: θ₁ = θ₀ + η b_θ(x₀); the grid's
    observable at step 2 (save_every=1) is checked against it per η."""
    game, field, x0s = _dirac_setup()
    etas = [0.05, 0.2]
    sol = gf.training.run_grid(lambda eta: gf.training.SimultaneousGDA(field, optax.sgd(eta)),
                               etas, x0s, 2, save_every=1,
                               observables={"theta_obs": lambda x, step: x[0].theta})
    ds = sol.dataset
    assert ds["theta_obs"].dims == ("seed", "eta", "step")
    np.testing.assert_array_equal(ds["eta"].values, etas)
    np.testing.assert_array_equal(ds["theta_obs"].values, ds["theta.theta"].values)
    b = jax.vmap(field)(x0s)
    theta1 = np.asarray(x0s[0].theta)[:, None] + np.asarray(etas)[None, :] * np.asarray(
        b[0].theta)[:, None]
    np.testing.assert_allclose(ds["theta_obs"].sel(step=1).values, theta1, rtol=1e-14)


def test_the_readme_mlp_gan_runs_at_tiny_size(tmp_path, monkeypatch):
    """The README's section "A hand-written MLP GAN over seeds × η", executed with 2 seeds and
    20 steps: a labelled (seed, eta, step) dataset with the named parameters, the observable,
    and its band plot on disk."""
    text = README.read_text()
    section = text.split("### A hand-written MLP GAN over seeds × η", 1)[1].split("\n## ", 1)[0]
    section = section.split("\n### ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert "SEEDS, STEPS = 8, 400" in block
    block = block.replace("SEEDS, STEPS = 8, 400", "SEEDS, STEPS = 2, 20")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme_mlp_gan", "jax": jax, "jnp": jnp, "gf": gf}
    exec(compile(block, "README.md[MLP GAN]", "exec"), namespace)
    ds = namespace["ds"]
    assert dict(ds["gen_mean"].sizes) == {"seed": 2, "eta": 3, "step": 21}
    assert {"theta.W1", "theta.b1", "theta.W2", "theta.b2", "omega.W1", "omega.b2"} <= set(
        ds.data_vars)
    assert ds["theta.W1"].dims == ("seed", "eta", "step", "theta.W1_dim0", "theta.W1_dim1")
    assert "distance" not in ds
    # the observable is the generator's mean on the z grid, recomputed here from theta.*
    mlp, z = namespace["mlp"], np.asarray(namespace["z_grid"])
    p = {k: ds[f"theta.{k}"].isel(seed=1, eta=2, step=-1).values for k in ("W1", "b1", "W2",
                                                                              "b2")}
    np.testing.assert_allclose(float(np.mean(mlp(p, z))),
                               float(ds["gen_mean"].isel(seed=1, eta=2, step=-1)), rtol=1e-12)
    assert (tmp_path / "mlp_gan.png").stat().st_size > 10_000
