"""nst_tf.twin.texture_torch: the PyTorch texture network gives the Keras TextureNet's picture from the same
weights and the same noise; TextureNet draws the noise `noise_for` draws."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def _texture_net(kind: str, seed: int = 3):
    import keras

    from nst_tf.feedforward.networks import build_generator

    keras.utils.set_random_seed(seed)
    model = build_generator(kind, width=0.5, seed=seed)
    rng = np.random.default_rng(seed)
    for variable in model.weights:  # non-trivial norm scales and offsets, so those weights are checked too
        if variable.path.endswith(("scale", "offset")):
            variable.assign(rng.normal(0.0, 0.2, variable.shape).astype(np.float32) + variable.path.endswith("scale"))
    return model


@pytest.mark.parametrize("kind", ["texture-net", "texture"])
def test_twin_matches_keras_given_the_same_noise(kind):
    from nst_tf.feedforward.networks import _pad_to_multiple, named_weights
    from nst_tf.parity.one_pass import _float64_run
    from nst_tf.twin.texture_torch import TextureNetTorch, stylize_numpy

    model = _texture_net(kind)
    images = np.random.default_rng(0).random((1, 40, 56, 3), dtype=np.float32)  # padded to 48×64 (stride 16)
    noise = model.noise_for(_pad_to_multiple(images, model.stride)[0])
    assert [tuple(n.shape) for n in noise] == [(1, 48 // 2**k, 64 // 2**k, 3) for k in range(5)]
    expected = np.asarray(model(images, noise=noise))
    twin = TextureNetTorch(model.scales, model.width, model.photo, model.noise_channels)
    twin.load_keras_weights(named_weights(model))
    got = stylize_numpy(twin, images, [np.asarray(n) for n in noise])
    assert got.shape == expected.shape == (1, 40, 56, 3)
    assert expected.std() > 1e-2  # not a constant picture that would match trivially
    # One float32 pass through 27 instance-normalised convolutions, some on 3×4 pixels at the coarsest scale, with
    # random weights: float32's own rounding moves this picture by ~1e-5 (the twin against its float64 copy), so
    # the bound is nst_tf.parity.one_pass's: max(1e-5, twice that distance; the triangle inequality).
    own = np.abs(got - _float64_run(twin, images, [np.asarray(n) for n in noise])).max()
    assert np.abs(got - expected).max() <= max(1e-5, 2 * own)
    assert own < 1e-4  # the envelope stays a rounding-sized one


def test_call_draws_the_noise_noise_for_draws():
    from nst_tf.feedforward.networks import _pad_to_multiple

    first, second = _texture_net("texture-net"), _texture_net("texture-net")  # same seed: same noise stream
    images = np.random.default_rng(1).random((1, 32, 48, 3), dtype=np.float32)
    drawn = np.asarray(first(images))
    given = np.asarray(second(images, noise=second.noise_for(_pad_to_multiple(images, second.stride)[0])))
    assert np.array_equal(drawn, given)
    assert not np.array_equal(drawn, np.asarray(first(images)))  # a fresh draw on every call


def test_twin_refuses_missing_or_unknown_weights():
    from nst_tf.twin.texture_torch import TextureNetTorch

    with pytest.raises(RuntimeError):
        TextureNetTorch(width=0.5).load_keras_weights({})
    with pytest.raises(KeyError, match="unexpected"):
        TextureNetTorch(width=0.5).load_keras_weights({"head.conv1.conv.kernel": np.zeros((3, 3, 6, 4), np.float32)})
