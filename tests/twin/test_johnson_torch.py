"""The PyTorch twin of Johnson's network gives the Keras network's picture from the same weights."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("size", [(1, 29, 35), (2, 32, 32)])
def test_twin_matches_keras(size):
    import keras

    from nst_tf.feedforward.networks import build_generator, named_weights
    from nst_tf.twin.johnson_torch import JohnsonNetTorch, stylize_numpy

    keras.utils.set_random_seed(3)
    model = build_generator("johnson", width=0.25)
    rng = np.random.default_rng(0)
    # Non-trivial instance-norm scales and offsets, so those weights are checked too.
    for variable in model.weights:
        if variable.path.endswith(("scale", "offset")):
            variable.assign(rng.normal(0.0, 0.5, variable.shape).astype(np.float32) + (variable.path.endswith("scale")))
    images = rng.random((*size, 3), dtype=np.float32)
    expected = np.asarray(model(images))
    twin = JohnsonNetTorch(width=0.25)
    twin.load_keras_weights(named_weights(model))
    got = stylize_numpy(twin, images)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-5
    assert expected.std() > 1e-3  # not a constant picture that would match trivially


def test_twin_refuses_missing_weights():
    from nst_tf.twin.johnson_torch import JohnsonNetTorch

    with pytest.raises(RuntimeError):
        JohnsonNetTorch(width=0.25).load_keras_weights({})
