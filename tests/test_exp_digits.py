"""The `stacked-digits` experiment (1000 modes from scikit-learn's 8×8 digits): a tiny run through
the engine into a folder, its labelled results against the mode-metric bounds and against the
library's metrics recomputed on the same samples, the report rewritten from the saved results
alone, the method wiring and the config checks. Slow: the default classifier's accuracy
(≥ 97%, recorded in the results' attributes) and the real-data reference of the protocol on
26,000 samples."""

import dataclasses
import math

import equinox as eqx
import jax
import numpy as np
import pytest

from ganflow.engine import seed_keys
from ganflow.experiments import _exp_digits as E
from ganflow.games import _digits_member as member_module
from ganflow.studies._registry import (
    ConfigError,
    RunOptions,
    _field_docs,
    config_to_toml,
    get_experiment,
    make_config,
    open_results,
)
from ganflow.studies._runner import run_experiment, write_report
from tests.test_dataset_names import assert_every_group_selectable

K = 1000
NAME = "stacked-digits"
TINY = dict(methods=("vanilla", "nsgan"), latent_dim=4, channels=2, batch_size=8, unroll_k=1,
            num_steps=4, save_every=2, num_eval=300, num_keep=4, classifier_steps=200, seeds=2)


def _config(**values):
    exp = get_experiment(NAME)
    return exp, make_config(exp, values, base=exp.preset("quick"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """One tiny run (2 seeds × vanilla, nsgan; 4 steps) and its report, for the module. (The
    unrolled scheme is `training.Unrolled`, tested in tests/test_training_steps.py; compiling it
    through the conv players here would double this fixture's time.)"""
    exp, config = _config(**TINY)
    folder = tmp_path_factory.mktemp("digits")
    path = run_experiment(exp, config, folder, RunOptions(progress=False))
    return exp, config, folder, path.read_text()


def _check_metric_bounds(modes: np.ndarray, kl: np.ndarray, n: int) -> None:
    r"""$1 ≤ m ≤ \min(K, n)$ and $\log(K/m) ≤ KL(\hat p\|u) = \log K - H(\hat p) ≤ \log K$
    (the entropy of a histogram on m bins is at most log m)."""
    assert np.issubdtype(modes.dtype, np.integer)
    assert np.all((modes >= 1) & (modes <= min(K, n)))
    assert np.all(kl <= math.log(K) + 1e-9)
    assert np.all(kl >= np.log(K / modes) - 1e-9)


# ---------------------------------------------------------------------------------------------
# the run


def test_results_are_labelled_and_within_the_bounds(tiny):
    _, config, folder, _ = tiny
    results = open_results(folder)
    assert set(results) == {E.GROUP, E.SUMMARY}
    assert assert_every_group_selectable(folder) == 2
    ds = results[E.GROUP].load()
    assert ds["modes_covered"].dims == ("seed", "variant", "step")
    assert ds["kl_uniform"].dims == ("seed", "variant", "step")
    assert [str(m) for m in ds["variant"].values] == list(config.methods)
    assert list(ds["seed"].values) == [0, 1]
    assert list(ds["step"].values) == [0, 2, 4]
    assert ds["samples"].shape == (2, 2, 3, config.num_keep, 8, 24)
    samples = ds["samples"].values
    assert np.all(np.isfinite(samples)) and np.all(np.abs(samples) < 1.0)  # tanh
    assert np.all(ds["status"].values == 0)  # successful
    _check_metric_bounds(ds["modes_covered"].values, ds["kl_uniform"].values, config.num_eval)
    acc = ds.attrs["classifier_accuracy"]
    assert isinstance(acc, float) and 0.5 < acc <= 1.0  # 200 classifier steps: well above chance
    assert results[E.SUMMARY].attrs["classifier_accuracy"] == acc
    # common random numbers: same initial players and evaluation latents for every method
    first = ds.isel(step=0)
    for var in ("modes_covered", "kl_uniform", "samples"):
        np.testing.assert_array_equal(first[var].isel(variant=0).values,
                                      first[var].isel(variant=1).values)
    assert not np.array_equal(ds["samples"].isel(step=-1, variant=0).values,
                              ds["samples"].isel(step=0, variant=0).values)


def test_summary_is_the_mean_and_standard_error_over_seeds(tiny):
    _, config, folder, _ = tiny
    results = open_results(folder)
    ds, summ = results[E.GROUP].load(), results[E.SUMMARY].load()
    for i in range(len(config.methods)):
        for var in ("modes_covered", "kl_uniform"):
            last = ds[var].isel(variant=i, step=-1).values.astype(float)
            np.testing.assert_allclose(summ[f"{var}_mean"].values[i], last.mean(), rtol=1e-12)
            np.testing.assert_allclose(summ[f"{var}_se"].values[i],
                                       last.std(ddof=1) / math.sqrt(len(last)), rtol=1e-12)
    assert summ.attrs["kl_sampling_bias"] == (K - 1) / (2 * config.num_eval)
    real_modes = summ.attrs["real_modes_covered"]
    # n = 300 uniform draws on 1000 modes cover 1000 (1 − (1 − 1/1000)^300) ≈ 259 in expectation
    assert 220 <= real_modes <= 300
    _check_metric_bounds(np.array([real_modes]), np.array([summ.attrs["real_kl_uniform"]]), 300)


def test_observed_metrics_are_the_library_metrics_of_the_same_samples(tiny):
    """Step 0 of seed 0, recomputed outside the engine: the initial players from the seed key,
    `num_eval` samples from the evaluation latents, `stacked_mode_metrics` of the classifier."""
    from ganflow.games import stacked_mode_metrics

    _, config, folder, _ = tiny
    ds = open_results(folder)[E.GROUP]
    classifier, acc = E.train_classifier(config)  # deterministic given the seed
    assert acc == ds.attrs["classifier_accuracy"]
    member = E.make_member(config, "vanilla", classifier)
    key = seed_keys(config.seeds, root=config.seed)[0]

    @eqx.filter_jit
    def recompute(member, key):
        train, _ = member.init(key, {})
        theta = train.x[0]
        k_eval = jax.random.fold_in(jax.random.fold_in(key, member_module.SALT_EVAL), 0)
        (k_block,) = jax.random.split(k_eval, 1)  # num_eval = 300 < one block
        m = stacked_mode_metrics(member.classifier, member.game.generate(theta, k_block, 300))
        shown = member.game.generate(theta, jax.random.fold_in(key, member_module.SALT_FIGURE), 4)
        return m.modes_covered, m.kl_uniform, shown

    modes, kl, shown = recompute(member, key)
    first = ds.isel(seed=0, variant=0, step=0)
    assert int(modes) == int(first["modes_covered"])
    np.testing.assert_allclose(float(kl), float(first["kl_uniform"]), rtol=1e-12)
    # float32 players: another compiled graph may round the last bit differently
    np.testing.assert_allclose(np.asarray(shown), first["samples"].values, rtol=1e-5, atol=1e-6)


def test_report_is_rewritten_from_the_saved_results_alone(tiny, monkeypatch):
    exp, config, folder, report = tiny

    def refuse(*args, **kwargs):
        raise AssertionError("the report recomputed results")

    for name in ("run_ensemble", "train_digit_classifier", "train_classifier",
                 "real_mode_metrics", "make_member"):
        monkeypatch.setattr(E, name, refuse)
    figures = sorted(p.name for p in folder.glob("*.png"))
    assert figures == ["modes.png", "samples.png"]
    for p in folder.glob("*.png"):
        p.unlink()
    (folder / "report.md").unlink()
    assert write_report(exp, config, folder).read_text() == report
    assert sorted(p.name for p in folder.glob("*.png")) == figures
    import matplotlib.image as mpimg

    for name in figures:
        img = mpimg.imread(folder / name)
        assert img.shape[0] > 200 and img.shape[1] > 300 and float(img[..., :3].std()) > 0.05
    # the tables: one row per method, the real-data row, the literature rows
    summ = open_results(folder)[E.SUMMARY]
    for i, m in enumerate(config.methods):
        row = next(line for line in report.splitlines() if line.startswith(f"| {m} |"))
        assert f"{float(summ['modes_covered_mean'][i]):.1f} ± " in row
    assert "| real digits |" in report
    lit = "| stacked MNIST (28×28), literature |"
    for text in (f"| DCGAN (VEEGAN Table 2) {lit} 99 | 3.4 |",
                 f"| unrolled GAN (VEEGAN Table 2) {lit} 48.7 | 4.32 |",
                 f"| PacGAN-4 (PacGAN Table 2) {lit} 1000 | 0.07 |",
                 "not MNIST", "### What holds", "classifier_accuracy"):
        assert text in report, text


# ---------------------------------------------------------------------------------------------
# wiring and configs (nothing compiled)


def test_methods_play_their_losses_and_schemes():
    from ganflow.stabilisers import NagarajanKolter
    from ganflow.training import AlternatingGDA, SimultaneousGDA, Unrolled, make_scheme

    def scheme(config, m):
        name, stabilisers, options = E.method_scheme(config, m)
        return make_scheme(name, E.make_game(config, m), 1e-3, stabilisers=stabilisers,
                           **options)

    _, config = _config(loss="nsgan", unroll_k=3)
    zero_sum = {m: E.make_game(config, m).zero_sum for m in E.METHODS}  # gan: zero-sum
    assert zero_sum == {"vanilla": True, "nsgan": False, "nk": False, "unrolled": False}
    _, saturating = _config(loss="gan")
    assert E.make_game(saturating, "nk").zero_sum and E.make_game(saturating, "unrolled").zero_sum
    schemes = {m: scheme(config, m) for m in E.METHODS}
    assert isinstance(schemes["vanilla"], AlternatingGDA)
    assert isinstance(schemes["nk"], AlternatingGDA)
    assert any(isinstance(s, NagarajanKolter) for s in schemes["nk"].field.stabilisers)
    assert isinstance(schemes["unrolled"], Unrolled) and schemes["unrolled"].k == 3
    simultaneous = dataclasses.replace(config, scheme="simultaneous")
    assert isinstance(scheme(simultaneous, "nk"), SimultaneousGDA)
    game = E.make_game(config, "vanilla")
    assert game.data.images.dtype == np.float32 and game.channels == config.channels


def test_presets_and_documented_fields():
    exp = get_experiment(NAME)
    fields = [f.name for f in dataclasses.fields(exp.config)]
    assert set(_field_docs(exp.config)) == set(fields) and {"seed", "seeds"} <= set(fields)
    assert set(exp.presets) >= {"quick", "paper"}
    paper = exp.preset("paper")
    assert paper.num_eval == 26000 and paper.methods == E.METHODS and paper.seeds >= 5
    assert exp.preset("default").methods == E.METHODS
    assert exp.preset("quick").num_eval < paper.num_eval
    toml = config_to_toml(exp, exp.preset("quick"), "quick")
    assert all(f"\n{f} = " in toml for f in fields)


@pytest.mark.parametrize("values, words", [
    ({"methods": ("vanilla", "wgan")}, "wgan"),
    ({"methods": ("nk", "nk")}, "twice"),
    ({"methods": ()}, "at least one"),
    ({"num_steps": 10, "save_every": 3}, "divide"),
    ({"num_eval": 10, "num_keep": 16}, "num_keep"),
    ({"dtype": "float16"}, "float16"),
    ({"loss": "wgan"}, "wgan"),
    ({"beta1": 1.0}, "beta1"),
    ({"lam_nk": 0.0}, "lam_nk"),
])
def test_bad_configs_are_one_line_errors(values, words):
    exp = get_experiment(NAME)
    with pytest.raises(ConfigError, match=words) as err:
        make_config(exp, values)
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------------------------------------
# slow


@pytest.mark.slow
def test_default_classifier_and_the_protocol_on_26000_samples(tmp_path):
    """The default classifier (1000 AdamW steps) reaches ≥ 97% held-out accuracy, recorded in
    the results' attributes; 26,000 real stacked digits cover all 1000 modes with KL near the
    finite-sample value (K − 1)/(2n) ≈ 0.019; generated samples' metrics lie in their bounds."""
    exp = get_experiment(NAME)
    config = make_config(exp, dict(methods=("vanilla", "nk"), channels=4, latent_dim=8,
                                   batch_size=16, num_steps=200, save_every=100,
                                   num_eval=26000, seeds=2), base=exp.preset("default"))
    assert config.classifier_steps == 1000
    run_experiment(exp, config, tmp_path, RunOptions(progress=False))
    results = open_results(tmp_path)
    ds, summ = results[E.GROUP].load(), results[E.SUMMARY].load()
    acc = ds.attrs["classifier_accuracy"]
    print(f"classifier accuracy {acc:.4f}; real digits: {summ.attrs['real_modes_covered']} modes, "
          f"KL {summ.attrs['real_kl_uniform']:.4f}; modes {ds['modes_covered'].values.tolist()}; "
          f"KL {np.round(ds['kl_uniform'].values, 3).tolist()}")
    assert acc >= 0.97
    assert summ.attrs["real_modes_covered"] == K
    assert 0.5 * 0.019 < summ.attrs["real_kl_uniform"] < 0.05
    _check_metric_bounds(ds["modes_covered"].values, ds["kl_uniform"].values, 26000)
    assert np.all(ds["status"].values == 0)
