"""The figures of GAN training curves over seeds and of the per-layer check of Mounjid & Guo
(`plotting.seed_band_panels`, `batch_size_accuracy`, `layer_descent_figure`): they draw the data
they are given."""

import numpy as np
import xarray as xr

from ganflow.plotting import batch_size_accuracy, layer_descent_figure, seed_band_panels


def _runs():
    rng = np.random.default_rng(0)
    acc = rng.uniform(0.4, 1.0, (3, 2, 2, 5))  # (seed, optimizer, lr, step)
    return xr.Dataset({"accuracy": (("seed", "optimizer", "lr", "step"), acc)},
                      coords={"seed": [0, 1, 2], "optimizer": ["sgd", "lsgd"],
                              "lr": [1e-2, 1e-3], "step": [0, 10, 20, 30, 40]})


def test_seed_band_panels_draws_the_seed_means(tmp_path):
    ds = _runs()
    fig = seed_band_panels(ds, "accuracy", "optimizer", "lr", ylabel="accuracy", hline=0.5,
                           path=tmp_path / "acc.png")
    assert (tmp_path / "acc.png").is_file()
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["optimizer = sgd", "optimizer = lsgd"]
    for j, o in enumerate(["sgd", "lsgd"]):
        lines = axes[j].get_lines()
        for i, lr in enumerate([1e-2, 1e-3]):
            x, y = lines[i].get_data()
            np.testing.assert_array_equal(x, ds["step"].values)
            np.testing.assert_allclose(y, ds["accuracy"].sel(optimizer=o, lr=lr).mean("seed"))
            assert lines[i].get_label() == f"lr = {lr:g}"


def test_batch_size_accuracy_per_step_and_per_epoch():
    rng = np.random.default_rng(1)
    acc = rng.uniform(0.4, 1.0, (2, 2, 4))
    ds = xr.Dataset({"accuracy": (("seed", "batch_size", "step"), acc)},
                    coords={"seed": [0, 1], "batch_size": [8, 64], "step": [0, 5, 10, 15]})
    fig = batch_size_accuracy(ds, n_train=80, title="per step")
    left, right = fig.axes
    for i, b in enumerate([8, 64]):
        x, y = left.get_lines()[i].get_data()
        np.testing.assert_array_equal(x, [0, 5, 10, 15])
        np.testing.assert_allclose(y, acc[:, i].mean(axis=0))
        x, _ = right.get_lines()[i].get_data()
        np.testing.assert_allclose(x, np.array([0, 5, 10, 15]) * b / 80)
    assert right.get_xscale() == "log" and left.get_title() == "per step"


def test_layer_descent_figure_draws_rates_and_gradient_norms():
    factors = [0.9, 1.1]
    sm = xr.Dataset(
        {"positive": (("seed", "layer", "factor"), np.ones((2, 1, 2), bool)),
         "top_rate": (("seed", "layer", "factor"), np.array([[[0.8, 1.2]], [[0.7, 1.3]]]))},
        coords={"seed": [0, 1], "layer": ["discriminator/1"], "factor": factors})
    gn = np.array([[[[2.0, 1.0, 0.5], [2.0, 4.0, 8.0]]]] * 2)
    ds = xr.Dataset({"grad_norm": (("seed", "layer", "factor", "step"), gn)},
                    coords={"seed": [0, 1], "layer": ["discriminator/1"], "factor": factors,
                            "step": [0, 10, 20]})
    fig = layer_descent_figure(sm, ds, "discriminator/1")
    left, right = fig.axes
    x, y = left.get_lines()[0].get_data()
    np.testing.assert_array_equal(x, factors)
    np.testing.assert_allclose(y, [0.75, 1.25])  # median over seeds
    for k in range(2):
        x, y = right.get_lines()[k].get_data()
        np.testing.assert_array_equal(x, [0, 10, 20])
        np.testing.assert_allclose(y, gn[0, 0, k] / gn[0, 0, k, 0])
    assert right.get_title() == "layer discriminator/1"


def test_layer_descent_figure_shows_the_layer_that_follows_eq_11_best():
    factors = [0.9, 1.1]
    dims = ("seed", "layer", "factor")
    unstable = np.array([[[False, False], [False, True]]] * 2)  # layer b agrees, a does not
    predicted = np.array([[[False, True], [False, True]]] * 2)
    sm = xr.Dataset(
        {"positive": (dims, np.ones((2, 2, 2), bool)), "unstable": (dims, unstable),
         "predicted": (dims, predicted), "top_rate": (dims, np.full((2, 2, 2), 0.5))},
        coords={"seed": [0, 1], "layer": ["a", "b"], "factor": factors})
    ds = xr.Dataset({"grad_norm": (dims + ("step",), np.ones((2, 2, 2, 3)))},
                    coords={"seed": [0, 1], "layer": ["a", "b"], "factor": factors,
                            "step": [0, 10, 20]})
    assert layer_descent_figure(sm, ds).axes[1].get_title() == "layer b"
