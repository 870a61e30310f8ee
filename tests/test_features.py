"""The feature extractor: keys, shapes, frozen weights, preprocessing and pooling."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from nst_tf.errors import ConfigError
from nst_tf.features import FeatureExtractor
from nst_tf.weights import CAFFE, IDENTITY, hed_vgg16_weights, random_weights


@pytest.fixture(scope="module")
def vgg19():
    return random_weights(seed=3)


def test_keys_and_shapes(vgg19, content_image):
    layers = ["conv4_2", "conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
    extractor = FeatureExtractor(vgg19, layers, pooling="max")
    features = extractor(tf.constant(content_image))  # (1, 32, 48, 3)
    assert set(features) == {
        "block4_conv2",
        "block1_conv1",
        "block2_conv1",
        "block3_conv1",
        "block4_conv1",
        "block5_conv1",
    }
    assert features["block1_conv1"].shape == (1, 32, 48, 64)
    assert features["block2_conv1"].shape == (1, 16, 24, 128)
    assert features["block4_conv2"].shape == (1, 4, 6, 512)
    assert features["block5_conv1"].shape == (1, 2, 3, 512)


def test_truncated_after_deepest_layer_and_frozen(vgg19):
    extractor = FeatureExtractor(vgg19, ["conv3_1"], pooling="avg")
    conv_names = [layer.name for layer in extractor.model.layers if "conv" in layer.name]
    assert conv_names == ["block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2", "block3_conv1"]
    assert extractor.model.trainable_weights == []
    np.testing.assert_array_equal(
        extractor.model.get_layer("block2_conv2").get_weights()[0], vgg19.layers["block2_conv2"][0]
    )


def test_preprocessing_is_caffe_bgr_minus_means(vgg19):
    extractor = FeatureExtractor(vgg19, ["conv1_1"])
    assert extractor.preprocessing == CAFFE
    pixel = tf.constant([[[[1.0, 0.5, 0.0]]]])  # RGB
    np.testing.assert_allclose(
        extractor.preprocess(pixel).numpy()[0, 0, 0], [0 - 103.939, 127.5 - 116.779, 255 - 123.68], rtol=1e-6
    )
    raw = FeatureExtractor(vgg19, ["conv1_1"], preprocessing=IDENTITY)
    np.testing.assert_allclose(raw.preprocess(pixel).numpy(), pixel.numpy())


def test_first_layer_matches_a_hand_convolution(vgg19, content_image):
    extractor = FeatureExtractor(vgg19, ["conv1_1"])
    kernel, bias = vgg19.layers["block1_conv1"]
    x = extractor.preprocess(tf.constant(content_image))
    expected = tf.nn.relu(tf.nn.conv2d(x, kernel, 1, "SAME") + bias)
    np.testing.assert_allclose(extractor(tf.constant(content_image))["block1_conv1"], expected, rtol=1e-5, atol=1e-3)


def test_average_and_max_pooling_differ(vgg19, content_image):
    avg = FeatureExtractor(vgg19, ["conv2_1"], pooling="avg")(tf.constant(content_image))["block2_conv1"]
    mx = FeatureExtractor(vgg19, ["conv2_1"], pooling="max")(tf.constant(content_image))["block2_conv1"]
    assert avg.shape == mx.shape and not np.allclose(avg, mx)


def test_same_padding_rounds_odd_sizes_up(vgg19):
    image = tf.zeros((1, 75, 75, 3))
    valid = FeatureExtractor(vgg19, ["conv2_1"], pooling="avg", pool_padding="valid")(image)["block2_conv1"]
    same = FeatureExtractor(vgg19, ["conv2_1"], pooling="avg", pool_padding="same")(image)["block2_conv1"]
    assert valid.shape[1] == 37 and same.shape[1] == 38


def test_unknown_layer_for_the_architecture():
    hed = hed_vgg16_weights()
    with pytest.raises(ConfigError, match="conv5_4"):
        FeatureExtractor(hed, ["conv5_4"])
    extractor = FeatureExtractor(hed, ["conv4_2", "conv5_1"])  # every default layer exists in VGG16
    assert extractor.layer_names == ["block4_conv2", "block5_conv1"]
