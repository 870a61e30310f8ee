"""The optional pixel-space cost (`PixelTarget`): its formula, its place in both optimisers' compiled steps, and
that without it the costs are exactly the engine's own."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from nst_tf.errors import ConfigError
from nst_tf.optim import engine, pictures
from nst_tf.optim.records import COST_NAMES, PixelTarget
from nst_tf.optim.targets import compute_targets, picture_costs
from nst_tf.presets import DEFAULT
from nst_tf.vgg.extractor import build_extractor
from nst_tf.vgg.weights import random_weights

SMALL = DEFAULT.replace(image_size=48, iterations=4, snapshot_every=0, weights="random", seed=0, init="content")


@pytest.fixture(scope="module")
def extractor():
    return build_extractor(SMALL, random_weights(seed=0))


def _target(shape: tuple[int, ...], weight: float) -> PixelTarget:
    """A grey picture to pull toward, on the left half of the pixels only."""
    mask = np.zeros(shape[1:3], np.float32)
    mask[:, : shape[2] // 2] = 1.0
    return PixelTarget(np.full(shape, 0.5, np.float32), mask, weight)


def test_the_pixel_cost_is_its_formula_and_adds_to_the_total(extractor, content_image, style_image):
    config = SMALL.resolved()
    content, (style,) = pictures.prepare_images(content_image, [style_image], config)
    target = _target(content.shape, 7.0)
    plain = picture_costs(extractor, compute_targets(extractor, content, [style], config), config, tf.constant(content))
    costs = picture_costs(
        extractor, compute_targets(extractor, content, [style], config, None, target), config, tf.constant(content)
    )
    assert set(plain) == set(COST_NAMES) and set(costs) == {*COST_NAMES, "temporal"}
    expected = 7.0 * np.sum(target.mask[np.newaxis, ..., np.newaxis] * (content - 0.5) ** 2) / content.size
    np.testing.assert_allclose(float(costs["temporal"]), expected, rtol=1e-5)  # float32 sums of ~10^3 terms
    np.testing.assert_allclose(float(costs["total"]), float(plain["total"]) + expected, rtol=1e-5)
    for name in COST_NAMES[1:]:  # the engine's own terms do not move by a bit
        assert float(costs[name]) == float(plain[name])


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_a_heavy_pixel_target_pulls_the_masked_pixels_only(extractor, content_image, style_image, optimizer):
    config = SMALL.replace(optimizer=optimizer, learning_rate=0.05)
    free = list(engine.stylize(content_image, style_image, config, extractor=extractor))[-1]
    target = _target(free.image.shape, 1e4)
    held = list(engine.stylize(content_image, style_image, config, extractor=extractor, pixel_target=target))
    assert all(set(s.costs) == {*COST_NAMES, "temporal"} for s in held)
    assert set(free.costs) == set(COST_NAMES)
    half = free.image.shape[2] // 2
    pulled = np.abs(held[-1].image - 0.5)[:, :, :half].mean()
    # the masked half ends much nearer grey than without the target; the other half is not pulled there
    assert pulled < 0.5 * np.abs(free.image - 0.5)[:, :, :half].mean()
    assert np.abs(held[-1].image - 0.5)[:, :, half:].mean() > 2 * pulled


def test_a_pixel_target_of_another_size_or_shape_is_refused(extractor, content_image, style_image):
    with pytest.raises(ConfigError, match="temporal target"):
        list(engine.stylize(content_image, style_image, SMALL, extractor=extractor,
                            pixel_target=_target((1, 20, 20, 3), 1.0)))  # fmt: skip
    with pytest.raises(ValueError, match="mask"):
        PixelTarget(np.zeros((1, 8, 8, 3), np.float32), np.ones((8, 9), np.float32), 1.0)
    with pytest.raises(ValueError, match="new name"):
        PixelTarget(np.zeros((1, 8, 8, 3), np.float32), np.ones((8, 8), np.float32), 1.0, "style")
