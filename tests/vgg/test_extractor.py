"""The feature extractor: keys, shapes, frozen weights, preprocessing and pooling, and its fast gradient
(tf.nn ops with flipped-kernel convolution gradients) against the Keras model under TensorFlow's own."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_image

from nst_tf.config import Config
from nst_tf.errors import ConfigError
from nst_tf.losses import costs
from nst_tf.parity.tf_side import build_tf_extractor
from nst_tf.vgg.extractor import BFloat16Extractor, FeatureExtractor
from nst_tf.vgg.weights import CAFFE, IDENTITY, conv_layer_names, hed_vgg16_weights, random_weights

STYLE_LAYERS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]
CONTENT_LAYER = "block4_conv2"


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


@pytest.mark.parametrize(("pooling", "padding"), [("avg", "same"), ("max", "valid")])
def test_fast_features_equal_the_keras_model(vgg19, pooling, padding):
    layers = conv_layer_names("vgg19")
    fast = FeatureExtractor(vgg19, layers, pooling, padding)
    keras_path = FeatureExtractor(vgg19, layers, pooling, padding, fast_gradient=False)
    assert fast.fast_gradient and not keras_path.fast_gradient
    picture = tf.constant(tiny_image(37, 45, seed=3))  # odd sizes: "same" and "valid" pool differently
    ours, theirs = fast(picture), keras_path(picture)
    assert list(ours) == list(theirs)
    for name, value in theirs.items():
        # The same TensorFlow ops on the same weights: bit-exact on TF 2.21 CPU; a hair of slack all the same.
        np.testing.assert_allclose(ours[name].numpy(), value.numpy(), rtol=1e-6, atol=1e-6, err_msg=name)
    np.testing.assert_array_equal(ours["block1_conv1"], keras_path.model(fast.preprocess(picture))["block1_conv1"])


def _style_content_gradient(extractor, targets, picture, plain_gram=False):
    """d(10·J_content + 40·J_style)/d picture, the style Grams by `costs.gram_matrix` or TF's matmul gradient."""

    def gram(features):
        if not plain_gram:
            return costs.gram_matrix(features)
        unrolled = tf.reshape(features, [-1, tf.shape(features)[-1]])
        return tf.matmul(unrolled, unrolled, transpose_a=True)

    with tf.GradientTape() as tape:
        tape.watch(picture)
        features = extractor(picture)
        total = 10.0 * costs.content_cost(targets[CONTENT_LAYER], features[CONTENT_LAYER])
        for layer in STYLE_LAYERS:
            a = features[layer]
            n, c = tf.cast(tf.shape(a)[1] * tf.shape(a)[2], a.dtype), tf.cast(tf.shape(a)[3], a.dtype)
            style_gram = gram(targets[layer])
            total += 40.0 / 5 * tf.reduce_sum(tf.square(style_gram - gram(a))) / (4.0 * tf.square(c * n))
    return tape.gradient(total, picture)


def _relative(value, reference) -> float:
    return float(np.linalg.norm(value - reference) / np.linalg.norm(reference))


@pytest.fixture(scope="module", params=[("avg", "same"), ("max", "valid")], ids=["avg-same", "max-valid"])
def fast_and_keras(request, vgg19):
    pooling, padding = request.param
    layers = [CONTENT_LAYER, *STYLE_LAYERS]
    fast = FeatureExtractor(vgg19, layers, pooling, padding)
    keras_path = FeatureExtractor(vgg19, layers, pooling, padding, fast_gradient=False)
    targets = keras_path(tf.constant(tiny_image(48, 48, seed=8)))
    picture = tf.constant(tiny_image(48, 48, seed=9))
    # Before the fast gradient: the Keras model and TensorFlow's own matmul gradient for the Grams.
    reference = _style_content_gradient(keras_path, targets, picture, plain_gram=True).numpy()
    return fast, keras_path, targets, picture, reference


def test_fast_gradient_equals_keras_gradient(fast_and_keras):
    fast, keras_path, targets, picture, reference = fast_and_keras
    assert np.linalg.norm(reference) > 0
    assert _relative(_style_content_gradient(fast, targets, picture).numpy(), reference) < 1e-5
    # The convolutions alone (both with the custom Gram), and the Gram alone (both with Keras), agree too.
    keras_custom_gram = _style_content_gradient(keras_path, targets, picture).numpy()
    assert _relative(keras_custom_gram, reference) < 1e-5
    assert _relative(_style_content_gradient(fast, targets, picture).numpy(), keras_custom_gram) < 1e-5


def test_fast_gradient_under_xla_agrees(fast_and_keras):
    fast, _, targets, picture, reference = fast_and_keras
    compiled = tf.function(lambda x: _style_content_gradient(fast, targets, x), jit_compile=True)
    assert _relative(compiled(picture).numpy(), reference) < 1e-5  # 5e-7 measured (XLA sums in its own order)


def test_fast_path_keeps_the_model_dtype_and_falls_back_under_mixed_precision(vgg19):
    float64 = build_tf_extractor(Config(weights="random"), vgg19, float64=True)
    assert float64.fast_gradient
    assert {conv.kernel.dtype for conv in float64._chain} == {tf.float64}
    assert {conv.backward_kernel.dtype for conv in float64._chain[1:]} == {tf.float64}
    features = float64(tf.constant(tiny_image(20, 20), tf.float64))
    assert {value.dtype for value in features.values()} == {tf.float64}
    mixed = BFloat16Extractor(vgg19, ["conv1_2"], fast_gradient=False)  # Keras's mixed_bfloat16 policy
    assert not mixed.fast_gradient and mixed.compute_dtype == "bfloat16"
    picture = tf.constant(tiny_image(20, 20))
    keras_mixed = mixed(picture)["block1_conv2"]
    np.testing.assert_array_equal(
        keras_mixed, tf.cast(mixed.model(mixed.preprocess(picture))["block1_conv2"], tf.float32)
    )
    # The default bfloat16 extractor takes the fast path in bfloat16 on the same float32 variables.
    fast = BFloat16Extractor(vgg19, ["conv1_2"])
    assert fast.fast_gradient and fast.compute_dtype == "bfloat16"
    assert {conv.kernel.dtype for conv in fast._chain} == {tf.bfloat16}
    assert {conv.backward_kernel.dtype for conv in fast._chain[1:]} == {tf.bfloat16}
    assert {v.dtype for v in fast.model.weights} == {"float32"}
    features = fast(picture)["block1_conv2"]
    assert features.dtype == tf.float32
    # Both round the same operands to bfloat16 (u = 2^-8) and sum in float32; they may differ in the rounding
    # of the input, kernel, the conv1_1 output and the result: 4 roundings, each at most u relative.
    assert _relative(features.numpy(), keras_mixed.numpy()) < 4 * 2.0**-8
