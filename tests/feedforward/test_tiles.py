"""`TiledStylizer`: a one-pass network in tiles with whole-picture instance-norm statistics gives the
whole-picture result (issue 26)."""

from __future__ import annotations

import numpy as np
import pytest
from random_networks import random_johnson


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(np.mean((a - b) ** 2), 1e-20)))


@pytest.mark.parametrize(("shape", "tile"), [((150, 197), 48), ((97, 130), 32), ((64, 64), 1000)])
def test_tiles_equal_the_whole_picture(shape, tile):
    import tensorflow as tf

    from nst_tf.feedforward.inference import JohnsonForward
    from nst_tf.feedforward.tiles import TiledStylizer

    model = random_johnson()
    # A smooth picture with structure at several scales, as a photo has (noise alone would hide a seam).
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    picture = np.stack([np.sin(x / 9) * np.cos(y / 13), np.sin((x + y) / 21), np.cos(x / 5 - y / 7)], -1)
    picture = (0.5 + 0.4 * picture)[np.newaxis].astype(np.float32)
    whole = tf.function(JohnsonForward(model))(tf.constant(picture)).numpy()
    tiled = TiledStylizer(model)
    got = tiled(picture, tile)
    assert got.shape == whole.shape
    assert whole.std() > 1e-2  # not a flat picture that any tiling would match
    # The bar is 40 dB; the cores see exactly the whole picture's neighbours and statistics, so only
    # float32 summation order differs (the fast pass itself matches Keras to 1e-5).
    assert _psnr(got, whole) >= 40
    assert np.abs(got - whole).max() <= 1e-4
    if tile < min(shape):
        assert tiled.tiles > 1


def test_tiles_with_their_own_statistics_would_show():
    """The control: tiles normalised with their own statistics differ visibly (what the test above rules out)."""
    import tensorflow as tf

    from nst_tf.feedforward.inference import JohnsonForward

    model = random_johnson()
    rng = np.random.default_rng(0)
    picture = np.clip(rng.random((1, 128, 128, 3)) * np.linspace(0, 1, 128)[None, :, None, None], 0, 1)
    picture = picture.astype(np.float32)
    forward = tf.function(JohnsonForward(model))
    whole = forward(tf.constant(picture)).numpy()
    halves = np.concatenate([forward(tf.constant(picture[:, :, :64])), forward(tf.constant(picture[:, :, 64:]))], 2)
    assert _psnr(halves, whole) < 40


def test_halo_covers_the_receptive_field():
    from nst_tf.feedforward.tiles import receptive_halo, tile_starts

    model = random_johnson()
    # 9×9 + 3×3 + 3×3 at 1/2 + ten 3×3 at 1/4 + 3×3 at 1/2 + 3×3 + 9×9 reach 54 px: the halo is at least that
    assert receptive_halo(model) >= 54
    assert all(receptive_halo(model, part) % model.stride == 0 for part in ("head", "block", "ups", "all"))
    assert tile_starts(10, 4) == [(0, 4), (4, 8), (8, 10)]


def test_a_picture_kept_as_bytes_gives_the_bytes_of_the_float_result():
    """uint8 in (`load_pixels`) and out (`as_bytes`): every core rounded as `to_uint8` rounds the float result."""
    from nst_tf.feedforward.tiles import TiledStylizer
    from nst_tf.io.images import to_uint8

    model = random_johnson()
    pixels = np.random.default_rng(5).integers(0, 256, (1, 72, 90, 3), dtype=np.uint8)
    tiled = TiledStylizer(model)
    floats = tiled(pixels.astype(np.float32) / 255.0, 32)
    got = tiled(pixels, 32, as_bytes=True)
    assert got.dtype == np.uint8 and got.shape == (1, 72, 90, 3)
    assert np.array_equal(got[0], to_uint8(floats))  # the same tiles compute the same values: not one byte off
