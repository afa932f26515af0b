"""The image-GAN figures (`tile_images`, `samples_over_training`, `mode_coverage_curves`) draw
the data they are given."""

import numpy as np
import pytest
import xarray as xr

from ganflow import plotting


def test_tile_images_places_each_image_with_gaps():
    images = np.arange(3 * 2 * 3, dtype=float).reshape(3, 2, 3)
    canvas = plotting.tile_images(images, cols=2)
    assert canvas.shape == (2 * 3 - 1, 2 * 4 - 1)
    np.testing.assert_array_equal(canvas[0:2, 0:3], images[0])
    np.testing.assert_array_equal(canvas[0:2, 4:7], images[1])
    np.testing.assert_array_equal(canvas[3:5, 0:3], images[2])
    assert np.all(np.isnan(canvas[2])) and np.all(np.isnan(canvas[:, 3]))
    assert np.all(np.isnan(canvas[3:5, 4:7]))  # no fourth image
    with pytest.raises(ValueError, match="n, h, w"):
        plotting.tile_images(images[0])


def test_samples_over_training_draws_the_tiled_samples(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.uniform(-1, 1, (2, 3, 8, 8, 24))  # (variant, step, n, h, w)
    values[1, 2, 0, 0, 0] = np.nan  # a diverged run
    samples = xr.DataArray(values, dims=("variant", "step", "n", "h", "w"),
                           coords={"variant": ["a", "b"], "step": [0, 10, 20]})
    fig = plotting.samples_over_training(samples, [0, 2], title="t", path=tmp_path / "s.png")
    axes = np.asarray(fig.axes).reshape(2, 2)
    for i in range(2):
        np.testing.assert_array_equal(np.asarray(axes[i, 0].images[0].get_array()),
                                      plotting.tile_images(values[i, 0], 4))
    np.testing.assert_array_equal(np.asarray(axes[0, 1].images[0].get_array()),
                                  plotting.tile_images(values[0, 2], 4))
    assert not axes[1, 1].images and axes[1, 1].texts[0].get_text() == "diverged"
    assert axes[0, 1].get_title() == "step 20" and axes[1, 0].get_ylabel() == "b"
    assert (tmp_path / "s.png").stat().st_size > 5000


def test_mode_coverage_curves_draw_the_means_and_the_real_values():
    modes = xr.DataArray(np.array([[[10, 20], [30, 40]], [[12, 22], [34, 44]]]),
                         dims=("seed", "variant", "step"),
                         coords={"variant": ["a", "b"], "step": [0, 5]})
    kl = (modes / 10.0).rename("kl")
    fig = plotting.mode_coverage_curves(modes, kl, real=(100, 0.5))
    left, right = fig.axes[:2]
    means = [line.get_ydata() for line in left.lines if len(line.get_ydata()) == 2
             and line.get_label() != "real digits"]
    np.testing.assert_allclose(means[0], [11, 21])
    np.testing.assert_allclose(means[1], [32, 42])
    real = [line for line in left.lines if line.get_label() == "real digits"]
    np.testing.assert_array_equal(real[0].get_ydata(), [100, 100])
    real = [line for line in right.lines if line.get_label() == "real digits"]
    np.testing.assert_array_equal(real[0].get_ydata(), [0.5, 0.5])
