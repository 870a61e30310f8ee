"""nst_tf.losses.cs231n: the assignment's functions on hand-computed values, and the engine's costs in the
cs231n preset's conventions give the same numbers."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from nst_tf.losses import costs, cs231n
from nst_tf.presets import CS231N


def test_content_loss_hand_computed():
    current, original = tf.ones((1, 2, 3, 4)), tf.zeros((1, 2, 3, 4))
    assert float(cs231n.content_loss(0.5, current, original)) == pytest.approx(0.5 * 24)


def test_gram_matrix_hand_computed():
    features = tf.constant([[[[1.0, 2.0], [3.0, 4.0]]]])  # positions (1, 2), (3, 4); H·W·C = 1·2·2 = 4
    np.testing.assert_allclose(cs231n.gram_matrix(features, normalize=False).numpy(), [[10, 14], [14, 20]])
    np.testing.assert_allclose(cs231n.gram_matrix(features).numpy(), [[2.5, 3.5], [3.5, 5.0]])


def test_style_loss_hand_computed():
    features = tf.constant([[[[1.0, 2.0], [3.0, 4.0]]]])
    zero = tf.zeros((1, 1, 2, 2))
    feats = [zero, features, zero]
    targets = [cs231n.gram_matrix(features), cs231n.gram_matrix(features)]
    # layer 1 matches its target (0); layer 2's Gram is 0 against [[2.5, 3.5], [3.5, 5]]: Σ = 55.75
    assert float(cs231n.style_loss(feats, [1, 2], targets, [7.0, 3.0])) == pytest.approx(3.0 * 55.75)


def test_tv_loss_hand_computed():
    image = np.zeros((1, 3, 3, 3), np.float32)
    image[0, 1, 1, :] = 2.0  # 2 vertical and 2 horizontal differences of 2 per channel: Σ = 3·(4·4) = 48
    assert float(cs231n.tv_loss(tf.constant(image), 0.1)) == pytest.approx(4.8)


def test_the_preset_conventions_give_the_assignment_numbers():
    rng = np.random.default_rng(0)
    current, original, style = (tf.constant(rng.normal(size=(1, 4, 5, 3)).astype(np.float32)) for _ in range(3))
    config = CS231N
    engine_content = costs.content_cost(original, current, config.content_cost_form)[0]
    assert float(config.content_weight * engine_content) == pytest.approx(
        float(cs231n.content_loss(config.content_weight, current, original)), rel=1e-6
    )
    target = costs.gram_matrix(style, config.gram_normalisation)
    engine_style = costs.layer_style_cost(
        target, current, form=config.style_cost_form, normalisation=config.gram_normalisation
    )[0]
    assignment = cs231n.style_loss([current], [0], [cs231n.gram_matrix(style)], [1.0])
    assert float(engine_style) == pytest.approx(float(assignment), rel=1e-6)
