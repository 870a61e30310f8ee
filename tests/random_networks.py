"""A JohnsonNet with random weights that exercise every part (the feedforward tests' shared model)."""

from __future__ import annotations

import numpy as np


def random_johnson(width: float = 0.25, seed: int = 3):
    """A JohnsonNet with random convolutions and non-trivial norm scales, offsets and biases (a trained
    network's norms are far from the identity; ones and zeros would hide a wrong scale or offset)."""
    import keras

    from nst_tf.feedforward.networks import build_generator

    keras.utils.set_random_seed(seed)
    model = build_generator("johnson", width=width)
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        if variable.path.endswith(("scale", "offset", "bias")):
            shift = 1.0 if variable.path.endswith("scale") else 0.0
            variable.assign(rng.normal(0.0, 0.5, variable.shape).astype(np.float32) + shift)
    return model
