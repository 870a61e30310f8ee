"""Stylizing photos with a trained one-pass network: one forward pass per photo, or per batch of equal sizes.

`Stylizer(model)` wraps a generator in a `tf.function` traced once for any batch and size (an input
signature of (None, None, None, 3)); `warm_up()` traces it on a tiny picture, so that `timed(photos)`
measures the forward pass alone. A float32 JohnsonNet goes through `nst_tf.feedforward.inference`'s
`JohnsonForward` (the same output, about twice as fast on a CPU), in float32 or, with `precision="bfloat16"`
(resolve "auto" with `nst_tf.perf.precision.resolve_precision`), with bfloat16 convolutions; `fast=False`
keeps the Keras call. No `jit_compile`: XLA compiles once per picture size (seconds each), which a folder
of photos would pay.
`preserve_colors` keeps the photo's colours: the stylized luminance is combined with the photo's chroma
(YUV), `nst_tf.losses.color.transfer_luminance`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from nst_tf.errors import ConfigError


class Stylizer:
    """A compiled forward pass of a generator: `stylizer(images)` -> numpy images, same sizes, in [0, 1]."""

    def __init__(self, model: keras.Model, fast: bool = True, precision: str = "float32") -> None:
        from nst_tf.feedforward import inference

        self.model = model
        self.min_size = int(getattr(model, "min_size", 1))
        self.fast = fast and inference.supports(model)
        # bfloat16 convolutions need the fast pass; the Keras call computes in the model's own dtype policy
        self.precision = precision if self.fast else model.compute_dtype
        spec = tf.TensorSpec((None, None, None, 3), tf.float32)

        def keras_call(x: tf.Tensor) -> tf.Tensor:
            return model(x, training=False)

        forward = inference.JohnsonForward(model, precision) if self.fast else keras_call
        self._forward = tf.function(forward, input_signature=[spec])

    def __call__(self, images: np.ndarray) -> np.ndarray:
        if min(images.shape[1:3]) < self.min_size:
            raise ConfigError(f"pictures must be at least {self.min_size} px on each side for this network")
        return self._forward(tf.convert_to_tensor(images, tf.float32)).numpy()

    def warm_up(self) -> None:
        """Trace and run once on a tiny picture (start-up, excluded from the timings)."""
        side = max(32, self.min_size)
        self(np.zeros((1, side, side, 3), np.float32))

    def timed(self, images: np.ndarray) -> tuple[np.ndarray, float]:
        """(stylized, seconds of the forward pass alone)."""
        start = time.perf_counter()
        out = self(images)
        return out, time.perf_counter() - start


def preserve_colors(stylized: np.ndarray, photo: np.ndarray) -> np.ndarray:
    """The stylized picture's luminance with the photo's colour (YUV chroma), (B, H, W, 3) in [0, 1]."""
    from nst_tf.losses.color import transfer_luminance

    return transfer_luminance(stylized, photo)


def group_by_size(pictures: Sequence[np.ndarray], batch: int) -> list[list[int]]:
    """Indices of pictures grouped into batches of equal (H, W), at most `batch` each, in input order."""
    groups: dict[tuple[int, int], list[int]] = {}
    for index, picture in enumerate(pictures):
        groups.setdefault(tuple(picture.shape[1:3]), []).append(index)
    batches = []
    for indices in groups.values():
        batches += [indices[i : i + batch] for i in range(0, len(indices), batch)]
    return sorted(batches, key=lambda b: b[0])
