"""nst_tf.twin.universal_torch: the universal decoders and AdaIN/WCT in PyTorch give TensorFlow's/NumPy's numbers."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nst_tf.parity.one_pass import decoder_steps  # noqa: E402  (the twin's recipe, as compare builds it)


@pytest.mark.parametrize("level", [1, 2, 3])
def test_decoder_twin_gives_the_keras_decoders_picture(level):
    import keras

    from nst_tf.twin.universal_torch import DecoderTorch
    from nst_tf.universal.networks import FEATURE_SCALE, build_decoder

    keras.utils.set_random_seed(level)
    model = build_decoder(level, width=0.25)
    channels = int(model.input_shape[-1])
    features = np.random.default_rng(0).random((1, 6, 5, channels), dtype=np.float32) * FEATURE_SCALE[level]
    expected = np.asarray(model(features))
    got = DecoderTorch(decoder_steps(model), FEATURE_SCALE[level])(torch.from_numpy(features)).numpy()
    assert got.shape == expected.shape == (1, 6 * 2 ** (level - 1), 5 * 2 ** (level - 1), 3)
    assert expected.std() > 1e-3  # not a constant picture that would match trivially
    assert np.abs(got - expected).max() <= 1e-5 * max(1.0, np.abs(expected).max())  # float32 rounding


@pytest.mark.parametrize("method", ["adain", "wct"])
@pytest.mark.parametrize("alpha", [1.0, 0.6])
def test_transforms_agree_with_the_numpy_ones(method, alpha):
    from nst_tf.twin import universal_torch
    from nst_tf.universal import transforms

    rng = np.random.default_rng(1)
    # ReLU-like features with correlated channels, at Caffe-VGG scale
    content = np.maximum(rng.normal(size=(12, 10, 16)) @ rng.normal(size=(16, 16)), 0).astype(np.float32) * 30
    style = np.maximum(rng.normal(size=(9, 11, 16)) @ rng.normal(size=(16, 16)), 0).astype(np.float32) * 50
    expected = getattr(transforms, method)(content, style, alpha=alpha)
    got = getattr(universal_torch, method)(torch.from_numpy(content), torch.from_numpy(style), alpha=alpha).numpy()
    # float32 application of a float64 map: ~1e-6 of the features' size; 1e-5 leaves 10x
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()
    assert np.abs(expected - content).max() > 1.0  # the transform moved the features


def test_a_wrong_adain_std_on_the_torch_side_disagrees(monkeypatch):
    from nst_tf.twin import universal_torch
    from nst_tf.universal import transforms

    rng = np.random.default_rng(2)
    content, style = rng.random((8, 8, 4), dtype=np.float32) * 10, rng.random((8, 8, 4), dtype=np.float32) * 20
    stats, calls = universal_torch._stats, []

    def style_std_off(features, full=True):  # the second call is the style's: its variance × 1.001 (std × √1.001)
        calls.append(1)
        mean, cov = stats(features, full)
        return mean, cov * (1.001 if len(calls) == 2 else 1.0)

    monkeypatch.setattr(universal_torch, "_stats", style_std_off)
    got = universal_torch.adain(torch.from_numpy(content), torch.from_numpy(style)).numpy()
    expected = transforms.adain(content, style)
    assert np.abs(got - expected).max() > 1e-5 * np.abs(expected).max()
