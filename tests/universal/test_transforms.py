"""Universal style transfer: the feature transforms (WCT, AdaIN, mixing, masks), the decoders' shapes, and
stylizing with the encoder and (untrained or shipped) decoders."""

from __future__ import annotations

import numpy as np
import pytest

from nst_tf.errors import ConfigError
from nst_tf.universal import transforms as T


def _features(height: int, width: int, channels: int, seed: int, shift: float = 0.0) -> np.ndarray:
    """Correlated (H, W, C) features with a known non-trivial covariance."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(channels, channels))
    return (rng.normal(size=(height, width, channels)) @ mixing + shift).astype(np.float32)


def _stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = features.reshape(-1, features.shape[-1]).astype(np.float64)
    return flat.mean(axis=0), np.cov(flat, rowvar=False, bias=True)


def test_whitened_features_have_identity_covariance():
    content = _features(30, 40, 16, seed=0, shift=3.0)
    mean, cov = _stats(T.whiten(content, eps=1e-9))
    np.testing.assert_allclose(mean, 0.0, atol=1e-4)
    np.testing.assert_allclose(cov, np.eye(16), atol=1e-3)


def test_coloured_features_have_the_style_covariance():
    content, style = _features(30, 40, 16, seed=0, shift=3.0), _features(20, 25, 16, seed=1, shift=-2.0)
    style_mean, style_cov = _stats(style)
    for result in (T.colour(T.whiten(content, eps=1e-9), style, eps=1e-9), T.wct(content, style, eps=1e-9)):
        mean, cov = _stats(result)
        np.testing.assert_allclose(mean, style_mean, atol=1e-3)
        np.testing.assert_allclose(cov, style_cov, atol=1e-3 * np.abs(style_cov).max())


def test_feature_stats_matches_numpy_with_and_without_weights():
    features = _features(9, 11, 5, seed=2, shift=1.0)
    mean, cov = T.feature_stats(features)
    np.testing.assert_allclose(mean, _stats(features)[0], rtol=1e-5)
    np.testing.assert_allclose(cov, _stats(features)[1], rtol=1e-4, atol=1e-4)
    weights = np.random.default_rng(3).random((9, 11))
    flat = features.reshape(-1, 5).astype(np.float64)
    w_mean, w_cov = T.feature_stats(features, weights)
    np.testing.assert_allclose(w_mean, np.average(flat, axis=0, weights=weights.ravel()), rtol=1e-5)
    np.testing.assert_allclose(w_cov, np.cov(flat, rowvar=False, aweights=weights.ravel(), bias=True), atol=1e-4)


def test_channel_moments_are_the_diagonal_of_feature_stats_with_and_without_weights():
    features = _features(9, 11, 5, seed=2, shift=1.0)
    weights = np.random.default_rng(3).random((9, 11))
    for given in (None, weights):
        mean, cov = T.feature_stats(features, given)
        moments = T.channel_moments(features, given)
        np.testing.assert_allclose(moments[0], mean, rtol=1e-6)
        # feature_stats sums float32 products, channel_moments float64 squares: float32 rounding apart
        np.testing.assert_allclose(moments[1], np.diag(cov), rtol=1e-5)


def test_adain_output_has_the_style_channel_means_and_stds():
    content, style = _features(24, 24, 8, seed=4, shift=5.0), _features(16, 20, 8, seed=5, shift=-1.0)
    result = T.adain(content, style).reshape(-1, 8)
    flat_style = style.reshape(-1, 8)
    np.testing.assert_allclose(result.mean(axis=0), flat_style.mean(axis=0), atol=1e-3)
    np.testing.assert_allclose(result.std(axis=0, ddof=1), flat_style.std(axis=0, ddof=1), rtol=1e-3)


@pytest.mark.parametrize("method", ["wct", "adain"])
def test_alpha_zero_returns_the_content_and_alpha_blends_linearly(method):
    content, style = _features(12, 14, 6, seed=6), _features(10, 10, 6, seed=7, shift=2.0)
    np.testing.assert_allclose(T.stylize_features(content, [style], method, alpha=0.0), content, atol=1e-6)
    full = T.stylize_features(content, [style], method, alpha=1.0)
    half = T.stylize_features(content, [style], method, alpha=0.5)
    np.testing.assert_allclose(half, 0.5 * full + 0.5 * content, atol=1e-4)
    assert np.abs(full - content).max() > 0.5


@pytest.mark.parametrize("method", ["wct", "adain"])
def test_masks_put_each_style_where_its_mask_says(method):
    content = _features(16, 20, 6, seed=8)
    styles = [_features(10, 10, 6, seed=9, shift=10.0), _features(10, 10, 6, seed=10, shift=-10.0)]
    left = np.zeros((16, 20), np.float32)
    left[:, :10] = 1.0
    result = T.stylize_features(content, styles, method, masks=[left, 1.0 - left])
    # Each half carries the mean of its own style (the shifts are +10 and -10) ...
    np.testing.assert_allclose(result[:, :10].mean(axis=(0, 1)), styles[0].mean(axis=(0, 1)), atol=1e-3)
    np.testing.assert_allclose(result[:, 10:].mean(axis=(0, 1)), styles[1].mean(axis=(0, 1)), atol=1e-3)
    # ... and equals the one-style transform of that region alone.
    alone = T.stylize_features(content[:, :10], [styles[0]], method)
    np.testing.assert_allclose(result[:, :10], alone, atol=1e-3)
    # Where no mask covers a pixel, the content stays.
    uncovered = T.stylize_features(content, styles[:1], method, masks=[left])
    np.testing.assert_array_equal(uncovered[:, 10:], content[:, 10:])


def test_mixing_weights_interpolate_between_styles():
    content = _features(12, 12, 4, seed=11)
    styles = [_features(8, 8, 4, seed=12, shift=4.0), _features(8, 8, 4, seed=13, shift=-4.0)]
    one = T.stylize_features(content, styles[:1])
    two = T.stylize_features(content, styles[1:])
    mixed = T.stylize_features(content, styles, weights=[3.0, 1.0])
    np.testing.assert_allclose(mixed, 0.75 * one + 0.25 * two, atol=1e-4)
    np.testing.assert_allclose(T.stylize_features(content, styles, weights=[1.0, 0.0]), one, atol=1e-5)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError):
        T.stylize_features(_features(4, 4, 2, seed=0), [_features(4, 4, 2, seed=1)], method="gram")


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_decoder_restores_the_picture_size_for_odd_sizes(level):
    import keras

    from nst_tf.universal.networks import build_decoder, crop, pad_to_multiple

    decoder = build_decoder(level, width=0.25)
    image = np.random.default_rng(level).random((1, 37, 53, 3)).astype(np.float32)
    padded, size = pad_to_multiple(image, 2 ** (level - 1))
    assert padded.shape[1] % 2 ** (level - 1) == 0 and padded.shape[2] % 2 ** (level - 1) == 0
    channels = {1: 64, 2: 128, 3: 256, 4: 512}[level]
    factor = 2 ** (level - 1)
    features = keras.ops.zeros((1, padded.shape[1] // factor, padded.shape[2] // factor, channels))
    decoded = decoder(features)
    assert tuple(decoded.shape) == (1, padded.shape[1], padded.shape[2], 3)
    assert tuple(crop(decoded, size).shape) == (1, 37, 53, 3)


def test_pad_to_multiple_handles_pictures_smaller_than_the_padding():
    from nst_tf.universal.networks import pad_to_multiple

    padded, size = pad_to_multiple(np.ones((1, 3, 5, 3), np.float32), 8)
    assert tuple(padded.shape) == (1, 8, 8, 3) and size == (3, 5)


def test_decoder_refuses_bad_level_and_width():
    from nst_tf.universal.networks import build_decoder

    with pytest.raises(ConfigError):
        build_decoder(5)
    with pytest.raises(ConfigError):
        build_decoder(2, width=0.0)


def test_compiled_encoder_and_decoder_give_the_training_path_numbers():
    """The inference graphs (`nst_tf.universal.compiled`) compute what the extractor and Keras decoder do."""
    from nst_tf.universal.compiled import InferenceDecoder, InferenceEncoder
    from nst_tf.universal.networks import LEVEL_LAYERS, build_decoder
    from nst_tf.vgg.extractor import FeatureExtractor
    from nst_tf.vgg.weights import resolve_weights

    weights = resolve_weights("imagenet-vgg16")
    image = np.random.default_rng(7).random((1, 40, 24, 3)).astype(np.float32)
    deepest = InferenceEncoder(weights, 4)
    every = deepest(image)
    assert sorted(every) == [1, 2, 3, 4]
    reference = FeatureExtractor(weights, [LEVEL_LAYERS[level] for level in (1, 2, 3, 4)], pooling="max")(image)
    for level in (1, 2, 3, 4):
        expected = reference[LEVEL_LAYERS[level]].numpy()
        np.testing.assert_allclose(every[level].numpy(), expected, atol=1e-4 * np.abs(expected).max())
    shallower = InferenceEncoder(weights, 2)
    only = shallower(image)
    assert sorted(only) == [1, 2]
    np.testing.assert_allclose(only[2].numpy(), every[2].numpy(), atol=1e-5 * np.abs(every[2].numpy()).max())
    # the deepest level alone (a content picture's graph): the same ops, so the same numbers to the bit
    np.testing.assert_array_equal(deepest.last(image).numpy(), every[4].numpy())
    np.testing.assert_array_equal(deepest.up_to(2).last(image).numpy(), only[2].numpy())
    np.testing.assert_array_equal(shallower.last(image).numpy(), only[2].numpy())
    decoder = build_decoder(2, width=0.25)
    features = every[2]
    decoded = InferenceDecoder(decoder)(features).numpy()
    np.testing.assert_allclose(decoded, np.clip(decoder(features).numpy(), 0.0, 1.0), atol=1e-5)
    assert decoded.shape == (1, 40, 24, 3)


def test_a_bfloat16_encoder_stays_within_its_rounding_bound():
    """bfloat16 (u = 2^-8) rounds the preprocessed picture once, and per conv layer its kernel, bias, the
    convolution's and the bias_add's output (oneDNN sums in float32: one more u), and each max pooling is
    exact; ReLU is exact and 1-Lipschitz. So relu{k}_1 after L convs is within (1 + 5·L)·u of float32's,
    normwise, to first order (tests/vgg/test_mixed_precision.py has the longer derivation). VGG16 relu1_1 .. relu4_1
    sit after 1, 3, 5 and 8 convs."""
    import tensorflow as tf

    from nst_tf.universal.compiled import InferenceEncoder
    from nst_tf.vgg.weights import resolve_weights

    weights = resolve_weights("imagenet-vgg16")
    image = np.random.default_rng(7).random((1, 40, 24, 3)).astype(np.float32)
    full = InferenceEncoder(weights, 4)(image)
    encoder = InferenceEncoder(weights, 4, "bfloat16")
    half = encoder(image)
    assert encoder.up_to(2).compute_dtype == "bfloat16"
    for level, convs in zip((1, 2, 3, 4), (1, 3, 5, 8), strict=True):
        assert half[level].dtype == tf.float32  # the WCT/AdaIN statistics are taken in float32
        error = np.linalg.norm(half[level].numpy() - full[level].numpy()) / np.linalg.norm(full[level].numpy())
        assert 2.0**-8 / 10 < error <= (1 + 5 * convs) * 2.0**-8, (level, error)


def test_a_bfloat16_decoder_stays_within_its_rounding_bound():
    """The bfloat16 decoder rounds the scaled features once and, per conv, its kernel, bias, the convolution's
    and the bias_add's output (u = 2^-8 each; pads, upsampling and ReLU are exact, clipping 1-Lipschitz):
    within (1 + 5·L)·u of float32's normwise, L = 3 convs for a relu2_1 decoder (as the encoder's bound
    above). At least u/10 off: a path that computed nothing in bfloat16 would match to ~1e-7."""
    import keras

    from nst_tf.universal.compiled import InferenceDecoder
    from nst_tf.universal.networks import build_decoder

    keras.utils.set_random_seed(0)
    decoder = build_decoder(2, width=0.25)
    features = np.abs(np.random.default_rng(3).normal(size=(1, 10, 6, 128))).astype(np.float32) * 300.0
    full = InferenceDecoder(decoder)(features).numpy()
    half = InferenceDecoder(decoder, "bfloat16")(features)
    assert half.dtype.name == "float32" and half.shape == (1, 20, 12, 3)
    error = np.linalg.norm(half.numpy() - full) / np.linalg.norm(full)
    assert 2.0**-8 / 10 < error <= (1 + 5 * 3) * 2.0**-8, error
    assert 0.0 <= half.numpy().min() and half.numpy().max() <= 1.0
    with pytest.raises(ValueError):
        InferenceDecoder(decoder, "float16")
    # an upsampling and the pad after it run as gathers ("up_pad"): the copies tile + reshape + pad make, to the bit
    fused, plain = InferenceDecoder(decoder, "bfloat16"), InferenceDecoder(decoder, "bfloat16")
    assert ("up_pad",) in fused._steps
    # and every reflect pad as gathers ("reflect"): tf.pad's copies
    assert ("reflect", 1) in fused._steps and ("pad", 1) not in fused._steps
    tf_ops = {"up_pad": [("up",), ("pad", 1)], "reflect": [("pad", 1)]}
    split = [tf_ops.get(step[0], [step]) for step in plain._steps]
    plain._steps = [part for parts in split for part in parts]
    odd = features[:, :5, :3]  # odd sides: the reflection at the far edge
    np.testing.assert_array_equal(fused(odd).numpy(), plain(odd).numpy())


def test_universal_runs_its_decoders_in_its_precision():
    from nst_tf.universal.networks import build_decoder
    from nst_tf.universal.stylize import Universal
    from nst_tf.vgg.weights import resolve_weights

    weights = resolve_weights("imagenet-vgg16")
    for precision in ("float32", "bfloat16"):
        model = Universal(weights, {2: build_decoder(2, width=0.125)}, "wct", precision)
        assert model._decoders[2].compute_dtype == model.encoders[2].compute_dtype == precision


def test_wct_uses_relu3_1_down_by_default_and_the_levels_asked_for(tmp_path):
    from nst_tf.universal.decoders import WCT_LEVELS, decoder_names

    assert list(decoder_names("wct")) == sorted(WCT_LEVELS, reverse=True) == [3, 2, 1]
    assert decoder_names("wct", levels=(1, 4, 2, 3)) == {
        4: "wct_relu4_1",
        3: "wct_relu3_1",
        2: "wct_relu2_1",
        1: "wct_relu1_1",
    }
    assert decoder_names("adain", folder=tmp_path) == {4: "wct_relu4_1"}  # no AdaIN decoder in this folder
    for levels in ((), (5,), (2, 2)):
        with pytest.raises(ConfigError):
            decoder_names("wct", levels=levels)
