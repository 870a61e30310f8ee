"""`JohnsonForward` (the fast TensorFlow pass used by `Stylizer`) computes the Keras JohnsonNet's picture."""

from __future__ import annotations

import numpy as np
import pytest
from random_networks import random_johnson


@pytest.mark.parametrize(
    ("width", "shape"),
    [(0.25, (1, 29, 35)), (0.25, (2, 64, 96)), (0.5, (1, 8, 13)), (0.5, (1, 61, 40))],
)
def test_fast_pass_matches_keras(width, shape):
    import tensorflow as tf

    from nst_tf.feedforward.inference import JohnsonForward

    model = random_johnson(width)
    images = np.random.default_rng(1).random((*shape, 3), dtype=np.float32)
    expected = np.asarray(model(images, training=False))
    got = tf.function(JohnsonForward(model))(tf.constant(images)).numpy()
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-5
    assert expected.std() > 1e-3  # not a constant picture that would match trivially


def test_stylizer_uses_the_fast_pass_and_follows_new_weights():
    from nst_tf.feedforward.apply import Stylizer

    model = random_johnson(0.25)
    stylizer, plain = Stylizer(model), Stylizer(model, fast=False)
    assert stylizer.fast and not plain.fast
    images = np.random.default_rng(2).random((1, 40, 52, 3), dtype=np.float32)
    assert np.abs(stylizer(images) - plain(images)).max() <= 1e-5
    # The transformed kernels are made from the variables on every call, so a weight update is seen.
    before = stylizer(images)
    for variable in model.weights:
        variable.assign(variable * 0.9)
    after = stylizer(images)
    assert np.abs(after - before).max() > 1e-4
    assert np.abs(after - np.asarray(model(images))).max() <= 1e-5


@pytest.mark.parametrize("block", [2, 4])
def test_block_conv_is_the_plain_convolution(block):
    import tensorflow as tf

    from nst_tf.feedforward.inference import block_conv

    rng = np.random.default_rng(4)
    x = tf.constant(rng.random((2, 8 + 12, 8 + 20, 3), dtype=np.float32))
    kernel = tf.constant(rng.normal(0, 0.1, (9, 9, 3, 5)).astype(np.float32))
    expected = tf.nn.conv2d(x, kernel, 1, "VALID").numpy()
    assert np.abs(block_conv(x, kernel, block).numpy() - expected).max() <= 1e-5


def test_non_float32_networks_keep_the_keras_call():
    import keras

    from nst_tf.feedforward.apply import Stylizer
    from nst_tf.feedforward.networks import build_generator

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_generator("johnson", width=0.25)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert not Stylizer(model).fast
    assert not Stylizer(build_generator("texture-net", width=0.25)).fast


def test_bfloat16_convolutions_stay_within_their_rounding_bound():
    """bfloat16 rounds each convolution's input and kernel (2 roundings of u = 2^-8 each; oneDNN sums in
    float32); instance norm, the residual sums and the sigmoid run in float32. A JohnsonNet has 16
    convolutions (conv1-3, 2 in each of 5 residual blocks, 2 upsampling, out), so to first order, with layers
    that keep relative errors (instance norm rescales a map and its error alike), the pre-sigmoid output is
    within 2·16·u of float32's, normwise."""
    import tensorflow as tf

    from nst_tf.feedforward.apply import Stylizer
    from nst_tf.feedforward.inference import JohnsonForward

    model = random_johnson(0.25)
    images = tf.constant(np.random.default_rng(1).random((1, 64, 96, 3), dtype=np.float32))
    full = tf.function(JohnsonForward(model))(images).numpy().astype(np.float64)
    half = tf.function(JohnsonForward(model, "bfloat16"))(images).numpy().astype(np.float64)

    def logit(p):
        return np.log(p / (1 - p))

    error = np.linalg.norm(logit(half) - logit(full)) / np.linalg.norm(logit(full))
    assert 2.0**-8 / 10 < error <= 2 * 16 * 2.0**-8  # bfloat16 was used, within its bound (measured 0.018)
    assert half.dtype == full.dtype and half.shape == full.shape
    stylizer = Stylizer(model, precision="bfloat16")
    assert stylizer.fast and stylizer.precision == "bfloat16"
    assert Stylizer(model, fast=False, precision="bfloat16").precision == "float32"  # the Keras call: its own
