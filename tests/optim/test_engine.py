"""The compiled step, targets, init modes and the stylize generator."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import IMAGES

from nst_tf.config import IMAGENET_MEAN_RGB
from nst_tf.errors import ConfigError
from nst_tf.io import images as image_io
from nst_tf.optim import adam, pictures
from nst_tf.optim import engine as optimize
from nst_tf.optim.targets import compute_targets
from nst_tf.presets import COURSE, DEFAULT
from nst_tf.vgg.extractor import build_extractor
from nst_tf.vgg.weights import hed_vgg16_weights, random_weights

SMALL = DEFAULT.replace(image_size=48, iterations=3, snapshot_every=1, weights="random", seed=0, init="content")


@pytest.fixture(scope="module")
def extractor():
    return build_extractor(SMALL, random_weights(seed=0))


def _setup(extractor, content, style, config):
    content, (style,) = pictures.prepare_images(content, [style], config)
    targets = compute_targets(extractor, content, [style], config)
    image = tf.Variable(pictures.initial_image(content, config, np.random.default_rng(0)) * config.pixel_scale)
    optimizer = adam.make_optimizer(config)
    return content, image, adam.make_step(extractor, targets, config, image, optimizer)


def test_one_step_changes_the_image_stays_in_range_and_traces_once(extractor, content_image, style_image):
    _, image, step = _setup(extractor, content_image, style_image, SMALL)
    before = image.numpy().copy()
    costs = step()
    after = image.numpy()
    assert set(costs) == {"total", "content", "style", "tv"}
    assert float(costs["content"]) == 0.0 and float(costs["style"]) > 0  # starts from the content picture
    assert np.abs(after - before).max() > 1e-3
    assert after.min() >= 0.0 and after.max() <= 1.0
    for _ in range(4):
        step()
    assert step.experimental_get_tracing_count() == 1


def test_targets_are_computed_once_from_the_pictures(extractor, content_image, style_image):
    content, (style,) = pictures.prepare_images(content_image, [style_image], SMALL)
    targets = compute_targets(extractor, content, [style], SMALL)
    features = extractor(tf.constant(style))
    np.testing.assert_allclose(
        targets.style_grams["block3_conv1"][0],  # one picture: (1, C, C)
        tf.matmul(
            tf.reshape(features["block3_conv1"], [-1, 256]),
            tf.reshape(features["block3_conv1"], [-1, 256]),
            transpose_a=True,
        ),
        rtol=1e-5,
    )
    assert targets.content.shape[-1] == 512
    assert targets.style_positions["block1_conv1"] == style.shape[1] * style.shape[2]


def test_init_modes(content_image):
    rng = np.random.default_rng(0)
    config = DEFAULT.replace(init="content", init_noise_range=0.1)
    np.testing.assert_array_equal(pictures.initial_image(content_image, config, rng), content_image)
    jitter = pictures.initial_image(content_image, config.replace(init="content+noise"), rng)
    assert 0 <= jitter.min() and jitter.max() <= 1 and 0 < np.abs(jitter - content_image).max() <= 0.1 + 1e-6
    noise = pictures.initial_image(content_image, config.replace(init="noise"), rng)
    np.testing.assert_allclose(noise.mean(axis=(0, 1, 2)), np.array(IMAGENET_MEAN_RGB) / 255, atol=0.01)
    blend = pictures.initial_image(content_image, COURSE, rng)
    # 0.6·(mean + U(-20, 20)/255) + 0.4·content
    residual = (blend - 0.4 * content_image) / 0.6 - np.array(IMAGENET_MEAN_RGB, np.float32) / 255
    assert np.abs(residual).max() <= 20 / 255 + 1e-5 and np.abs(residual).max() > 15 / 255


def test_init_from_a_picture_file(tmp_path, content_image):
    image_io.save_image(np.full((1, 10, 10, 3), 0.5, np.float32), tmp_path / "start.png")
    start = pictures.initial_image(content_image, DEFAULT.replace(init=str(tmp_path / "start.png")), None)
    assert start.shape == content_image.shape
    np.testing.assert_allclose(start, 128 / 255, atol=1e-6)


def test_recoloured_start_has_the_style_colours_and_keeps_the_content(content_image, style_image):
    start = pictures.initial_image(content_image, DEFAULT.replace(init="recoloured"), None, [style_image])
    assert start.shape == content_image.shape and start.dtype == np.float32
    style = style_image.reshape(-1, 3).astype(np.float64)
    got = start.reshape(-1, 3).astype(np.float64)
    # Clipping to [0, 1] moves the moments a little; unclipped they would be equal.
    np.testing.assert_allclose(got.mean(axis=0), style.mean(axis=0), atol=0.03)
    np.testing.assert_allclose(np.cov(got, rowvar=False), np.cov(style, rowvar=False), atol=0.02)
    # A linear map of the content's colours: the luminance's layout is the content's.
    luma = np.array([0.299, 0.587, 0.114])
    assert np.corrcoef(start[0] @ luma, content_image[0] @ luma)[0, 1] > 0.9
    with pytest.raises(ConfigError, match="needs a style picture"):
        pictures.initial_image(content_image, DEFAULT.replace(init="recoloured"), None, [])


def test_colour_moments_of_several_styles_are_their_weighted_mixture(content_image, style_image):
    from nst_tf.losses import color

    a, b = content_image, style_image
    mean, covariance = color.colour_moments([a, b], [3.0, 1.0])
    # The same as all pixels together, a's weighing 3/4 in all and b's 1/4 (up to np.cov's n - 1 per picture).
    pixels = np.concatenate([a.reshape(-1, 3), b.reshape(-1, 3)]).astype(np.float64)
    n_a, n_b = a[0, ..., 0].size, b[0, ..., 0].size
    weights = np.concatenate([np.full(n_a, 0.75 / n_a), np.full(n_b, 0.25 / n_b)])
    np.testing.assert_allclose(mean, np.average(pixels, axis=0, weights=weights), atol=1e-9)
    np.testing.assert_allclose(covariance, np.cov(pixels, rowvar=False, aweights=weights, bias=True), atol=1e-3)
    # The blend reaches the start: weights 3:1 differ from 1:3.
    config = DEFAULT.replace(init="recoloured")
    one = pictures.initial_image(a, config, None, [a, b], [3.0, 1.0])
    other = pictures.initial_image(a, config, None, [a, b], [1.0, 3.0])
    assert np.abs(one - other).mean() > 0.01


def test_lbfgs_function_with_targets_as_arguments_matches_the_eager_costs(extractor, content_image, style_image):
    from nst_tf.optim import lbfgs_tf
    from nst_tf.optim.records import Stage
    from nst_tf.optim.targets import picture_costs

    config = SMALL.replace(optimizer="lbfgs", tv_weight=1.0).resolved()
    content, (style,) = pictures.prepare_images(content_image, [style_image], config)
    stage = Stage(extractor, content, [style], config, None, None, None, 0, 1, 1, "/CPU:0")
    function, targets = lbfgs_tf.traced_with_targets(stage)
    assert function.experimental_get_tracing_count() == 1  # traced before the targets were known
    arguments = lbfgs_tf.target_arguments(targets, config, True)
    picture = np.clip(content + 0.1 * np.sin(np.arange(content.size)).reshape(content.shape), 0, 1)
    values, gradient = function(tf.constant(picture, tf.float32), arguments)
    with tf.GradientTape() as tape:
        pixels = tf.constant(picture, tf.float32)
        tape.watch(pixels)
        eager = picture_costs(extractor, compute_targets(extractor, content, [style], config), config, pixels)
    for name in ("total", "content", "style", "tv"):
        np.testing.assert_allclose(float(values[name]), float(eager[name]), rtol=1e-5)
    np.testing.assert_allclose(gradient, tape.gradient(eager["total"], pixels), rtol=1e-4, atol=1e-6)
    assert float(values["content"]) > 0 and function.experimental_get_tracing_count() == 1


def test_stylize_yields_steps_with_snapshots(content_image, style_image, extractor):
    config = SMALL.replace(iterations=5, snapshot_every=2)
    steps = list(optimize.stylize(content_image, style_image, config, extractor=extractor))
    assert [s.iteration for s in steps] == [0, 1, 2, 3, 4]
    assert [s.image is not None for s in steps] == [True, False, True, False, True]
    assert steps[-1].image.shape == (1, 32, 48, 3)
    assert all(np.isfinite(list(s.costs.values())).all() for s in steps)
    assert steps[0].seconds <= steps[-1].seconds


def test_seeded_cpu_runs_repeat_bit_for_bit(content_image, style_image, extractor):
    config = SMALL.replace(iterations=4, init="content+noise", tv_weight=1.0)
    first = list(optimize.stylize(content_image, style_image, config, extractor=extractor))
    second = list(optimize.stylize(content_image, style_image, config, extractor=extractor))
    np.testing.assert_array_equal(first[-1].image, second[-1].image)
    assert [s.costs for s in first] == [s.costs for s in second]
    other = list(optimize.stylize(content_image, style_image, config.replace(seed=1), extractor=extractor))
    assert not np.array_equal(first[-1].image, other[-1].image)


def test_hed_vgg16_cost_falls_steadily_on_a_real_picture():
    content = image_io.load_image(IMAGES / "chelsea.png")
    style = image_io.load_image(IMAGES / "ihc.png")
    config = DEFAULT.replace(image_size=64, iterations=20, snapshot_every=0, weights="hed-vgg16", seed=0)
    steps = list(optimize.stylize(content, style, config, extractor=build_extractor(config, hed_vgg16_weights())))
    totals = np.array([s.costs["total"] for s in steps])
    blocks = totals.reshape(4, 5).mean(axis=1)
    assert np.all(np.diff(blocks) < 0), totals  # every 5 steps lower than the 5 before
    assert totals[-1] < 0.5 * totals[0]
    assert steps[-1].image.std() > 0.05  # a picture, not a grey field


def test_resolve_device_on_this_machine():
    assert optimize.resolve_device("cpu") == "/CPU:0"
    if not tf.config.list_logical_devices("GPU"):
        assert optimize.resolve_device("auto") == "/CPU:0"
        with pytest.raises(Exception, match="no GPU"):
            optimize.resolve_device("gpu")
