"""The `mounjid-guo` experiment (Mounjid & Guo 2021 §3–4): its config checks, and a tiny run
through the registry: labelled results, report and figures rewritten from the saved results
alone. The slow test runs the headline comparisons. The library it uses is tested in
test_gaussian_mlp.py (the game, LSGD per layer, the training summary), test_layer_descent.py
(§3 per layer) and test_lanczos.py."""

import dataclasses
import time

import numpy as np
import pytest

from ganflow.studies import (
    ConfigError,
    RunOptions,
    get_experiment,
    make_config,
    open_results,
    run_experiment,
    write_report,
)


def test_config_checks():
    exp = get_experiment("mounjid-guo")
    with pytest.raises(ConfigError, match="curvature_lr"):
        make_config(exp, {"curvature_lr": 0.3})
    with pytest.raises(ConfigError, match="save_every"):
        make_config(exp, {"save_every": 300})
    with pytest.raises(ConfigError, match="curvature_layers"):
        make_config(exp, {"curvature_layers": ("generator/7",)})
    with pytest.raises(ConfigError, match="optimizers"):
        make_config(exp, {"optimizers": ("adam",)})
    assert exp.preset("quick").seeds == 2


# ---------------------------------------------------------------------------------------------
# a tiny run through the registry

TINY = dict(seeds=2, num_steps=20, save_every=10, batch_steps=20, n_train=100, n_test=50,
            width=3, depth=1, lrs=(1e-2, 1e-3), batch_sizes=(4,), u_maxes=(),
            curvature_seeds=2, curvature_batch=32, curvature_layers=("discriminator/1",),
            factors=(0.9, 1.1), explosion_steps=10, lanczos_iters=6)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    exp = get_experiment("mounjid-guo")
    cfg = make_config(exp, TINY)
    out = tmp_path_factory.mktemp("mounjid_guo")
    report = run_experiment(exp, cfg, out, RunOptions(progress=False))
    return exp, cfg, out, report


def test_tiny_run_results(tiny_run):
    exp, cfg, out, report = tiny_run
    res = open_results(out)
    assert {"lr", "batch", "trained", "explosion", "lr_summary", "batch_summary",
            "explosion_summary"} <= set(res)
    lr = res["lr"]
    acc = lr["accuracy"]
    assert acc.dims == ("seed", "optimizer", "lr", "step")
    assert list(lr["optimizer"].values) == ["sgd", "lsgd"]
    np.testing.assert_allclose(lr["lr"].values, [1e-2, 1e-3])
    np.testing.assert_array_equal(lr["step"].values, [0, 10, 20])
    a = acc.values
    assert np.all((a >= 0) & (a <= 1))
    # step 0: the same networks in every cell (the initialisation depends on the seed only)
    assert np.all(a[:, :, :, 0] == a[:, :1, :1, 0])
    u = lr["u_generator"].sel(optimizer="sgd").values
    assert np.all(u == 1.0)
    u = lr["u_discriminator"].sel(optimizer="lsgd").values
    assert np.all((u > 0) & (u <= cfg.u_max * (1 + 1e-6)))
    assert res["batch"]["accuracy"].dims == ("seed", "batch_size", "step")
    ex = res["explosion"]
    assert ex["a_max"].dims == ("seed", "layer", "factor", "step")
    eta = ex["eta"].isel(step=0).values
    a_max = ex["a_max"].isel(step=0).values
    np.testing.assert_allclose(eta, ex["factor"].values[None, None, :] * 2 / a_max, rtol=1e-6)
    sm = res["explosion_summary"]
    assert sm["exploded"].dims == ("seed", "layer", "factor")
    assert res["trained"]["params"].shape[0] == cfg.curvature_seeds


def test_tiny_run_report_from_saved_results(tiny_run):
    exp, cfg, out, report = tiny_run
    text = report.read_text()
    for heading in ("Which of the paper's claims hold", "Figs. 3 and 4", "Fig. 5",
                    "§3: learning rate against explosion"):
        assert heading in text
    assert "| lsgd | 0.001 |" in text and "| sgd | 0.01 |" in text
    for name in ("accuracy", "generator_loss", "w1", "batch_size", "explosion"):
        png = out / f"{name}.png"
        assert png.is_file() and png.stat().st_size > 5000
        assert f"({name}.png)" in text
    # the report is rewritten from the saved results alone, identically
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    again = write_report(exp, cfg, out).read_text()
    assert again == text
    assert {p.name for p in out.iterdir()} == set(before)


# ---------------------------------------------------------------------------------------------
# the headline comparisons

SLOW = dict(seeds=4, num_steps=3000, save_every=100, batch_steps=2000, batch_sizes=(4, 64),
            u_maxes=(), curvature_seeds=3, factors=(0.9, 0.98, 1.02, 1.1),
            explosion_steps=100)


@pytest.mark.slow
def test_headline_comparisons(tmp_path):
    exp = get_experiment("mounjid-guo")
    cfg = make_config(exp, SLOW)
    start = time.perf_counter()
    run_experiment(exp, cfg, tmp_path, RunOptions(progress=False))
    seconds = time.perf_counter() - start
    res = open_results(tmp_path)
    sm = res["lr_summary"]
    chance = sm["steps_to_chance"].fillna(cfg.num_steps).mean("seed")
    print(f"\nwall time {seconds:.0f} s")
    print("steps to chance (mean, never = budget):\n", chance.to_pandas())
    print("late W1:\n", sm["late_w1"].mean("seed").to_pandas())
    print("u at cap:", float(sm["u_at_cap"].sel(optimizer="lsgd").mean()))
    # SGD: the smallest base rate is the slowest to reach chance level
    assert float(chance.sel(optimizer="sgd", lr=5e-4)) > float(chance.sel(optimizer="sgd",
                                                                          lr=1e-2))
    # LSGD beats SGD at the small base rates, where its cap u_max · lr is the larger rate
    for lr in (1e-3, 5e-4):
        assert float(chance.sel(optimizer="lsgd", lr=lr)) < float(chance.sel(optimizer="sgd",
                                                                             lr=lr))
    # the cap binds almost always: LSGD(lr) is SGD(u_max · lr)
    assert float(sm["u_at_cap"].sel(optimizer="lsgd").mean()) > 0.9
    # Fig. 5 per epoch: the smallest batch reaches chance level in the fewest epochs
    bs = res["batch_summary"]
    epochs = (bs["steps_to_chance"].fillna(cfg.batch_steps) * bs["batch_size"] /
              cfg.n_train).mean("seed")
    print("epochs to chance:", epochs.to_pandas().to_dict())
    assert int(epochs.idxmin()) == min(cfg.batch_sizes)
    # §3 on the discriminator's output layer: the top mode grows iff eta > 2/a, at |1 - eta a|
    ex = res["explosion_summary"].sel(layer=f"discriminator/{cfg.depth}")
    print("D output layer top-mode rate:\n", ex["top_rate"].to_pandas())
    assert bool(ex["positive"].all())
    np.testing.assert_array_equal(ex["unstable"].values, ex["predicted"].values)
    np.testing.assert_allclose(ex["top_rate"].values, ex["top_rate_theory"].values, atol=0.03)
    assert dataclasses.asdict(cfg)["curvature_lr"] == 1e-2
