"""The decoders' picture pipeline: tf.data from a list of picture paths to endless batches of random crops.

paths -> read + decode (JPEG/PNG, any channel count -> RGB) -> shorter side scaled to `crop`·1.25 -> cache
-> repeat -> shuffle -> random crop `crop`×`crop` -> random left/right flip -> batch -> prefetch. Pictures
are decoded once (the cache), which matters on a 2-core machine. Files TensorFlow cannot decode are
dropped (`ignore_errors`) rather than stopping a training run. The feed-forward networks' trainer owns the
general pipeline (nst_tf/feedforward/data.py); this small one predates it and only feeds the decoders.
"""

from __future__ import annotations

import tensorflow as tf


def _load(path: tf.Tensor, short_side: int) -> tf.Tensor:
    raw = tf.io.read_file(path)
    image = tf.io.decode_image(raw, channels=3, expand_animations=False)
    image = tf.image.convert_image_dtype(image, tf.float32)  # [0, 1]
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.cast(short_side, tf.float32) / tf.reduce_min(shape)
    size = tf.cast(tf.math.ceil(shape * scale), tf.int32)
    return tf.clip_by_value(tf.image.resize(image, size, antialias=True), 0.0, 1.0)


def picture_batches(paths: list[str], crop: int, batch: int, seed: int = 0) -> tf.data.Dataset:
    """An endless dataset of (batch, crop, crop, 3) float32 RGB crops in [0, 1] from `paths`.

    Raises:
        ValueError: `paths` is empty.
    """
    if not paths:
        raise ValueError("picture_batches needs at least one picture")
    short_side = int(round(crop * 1.25))
    data = tf.data.Dataset.from_tensor_slices([str(p) for p in paths])
    data = data.map(lambda p: _load(p, short_side), num_parallel_calls=2).ignore_errors().cache()
    data = data.repeat().shuffle(min(len(paths), 256), seed=seed)
    data = data.map(
        lambda img: tf.image.random_flip_left_right(tf.image.random_crop(img, (crop, crop, 3), seed=seed), seed=seed),
        num_parallel_calls=2,
    )
    return data.batch(batch, drop_remainder=True).prefetch(2)
