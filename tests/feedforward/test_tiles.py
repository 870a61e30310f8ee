"""`TiledStylizer`: a one-pass network in tiles with whole-picture instance-norm statistics gives the
whole-picture result (issue 26), by either schedule; the planner picks the faster one when it fits."""

from __future__ import annotations

import numpy as np
import pytest
from random_networks import random_johnson


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(np.mean((a - b) ** 2), 1e-20)))


@pytest.fixture(scope="module")
def network():
    """(model, its TiledStylizer, the whole-picture pass): one model, its passes traced once for the module."""
    import tensorflow as tf

    from nst_tf.feedforward.inference import JohnsonForward
    from nst_tf.feedforward.tiles import TiledStylizer

    model = random_johnson()
    return model, TiledStylizer(model), tf.function(JohnsonForward(model))


@pytest.mark.parametrize(
    ("shape", "tile", "keep"),
    [((150, 197), 48, True), ((150, 197), 48, False), ((97, 130), 32, True), ((64, 64), 1000, True)],
)
def test_tiles_equal_the_whole_picture(network, shape, tile, keep):
    import tensorflow as tf

    _, tiled, forward = network
    # A smooth picture with structure at several scales, as a photo has (noise alone would hide a seam).
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    picture = np.stack([np.sin(x / 9) * np.cos(y / 13), np.sin((x + y) / 21), np.cos(x / 5 - y / 7)], -1)
    picture = (0.5 + 0.4 * picture)[np.newaxis].astype(np.float32)
    whole = forward(tf.constant(picture)).numpy()
    got = tiled(picture, tile, keep=keep)
    assert got.shape == whole.shape
    assert whole.std() > 1e-2  # not a flat picture that any tiling would match
    # The bar is 40 dB; the cores see exactly the whole picture's neighbours and statistics, so only
    # float32 summation order differs (the fast pass itself matches Keras to 1e-5).
    assert _psnr(got, whole) >= 40
    assert np.abs(got - whole).max() <= 1e-4
    if tile < min(shape):
        assert tiled.tiles > 1
    # tiles of every shape (edge tiles are smaller) share one trace a pass: no retracing per shape
    assert all(f.experimental_get_tracing_count() == 1 for f in tiled._passes.values())
    # and the five residual blocks share two (the later blocks' first convolutions, which add the previous
    # branch to the stream as they read it; the second ones, with the first block's first): 10 passes, 2 traces
    blocks = [key for key in tiled._passes if key[0] in ((("as is", "3x3", 1),), (("norm", "3x3", 1),))]
    assert len(blocks) == 2


def test_tiles_with_their_own_statistics_would_show(network):
    """The control: tiles normalised with their own statistics differ visibly (what the test above rules out)."""
    import tensorflow as tf

    _, _, forward = network
    rng = np.random.default_rng(0)
    picture = np.clip(rng.random((1, 128, 128, 3)) * np.linspace(0, 1, 128)[None, :, None, None], 0, 1)
    picture = picture.astype(np.float32)
    whole = forward(tf.constant(picture)).numpy()
    halves = np.concatenate([forward(tf.constant(picture[:, :, :64])), forward(tf.constant(picture[:, :, 64:]))], 2)
    assert _psnr(halves, whole) < 40


def test_the_schedules_run_each_convolution_once_or_the_full_resolution_ones_twice():
    from nst_tf.feedforward.tiles import receptive_halo, schedule, tile_starts

    kept, lean = schedule(5, keep=True), schedule(5, keep=False)
    ran = [k for first, last, _ in kept for k in range(first, last + 1)]
    assert ran == list(range(16)) and all(store for _, _, store in kept)  # 3 head + 10 block + up1, up2, out
    ran = [k for first, last, _ in lean for k in range(first, last + 1)]
    assert sorted(ran) == sorted([*range(16), 0, 14])  # conv1 and up2 (full resolution out) twice
    assert [(f, last) for f, last, store in lean if not store] == [(0, 0), (14, 14)]  # their statistics alone
    model = random_johnson()
    # each convolution reaches 4 full-resolution px (9x9 at full scale; 3x3 at 1/2, 1/4), a pass at most 2
    assert receptive_halo(model, 1) == 4 and receptive_halo(model) == 8
    assert tile_starts(10, 4) == [(0, 4), (4, 8), (8, 10)]


def test_a_picture_kept_as_bytes_gives_the_bytes_of_the_float_result(network):
    """uint8 in (`load_pixels`) and out (`as_bytes`): every core rounded as `to_uint8` rounds the float result."""
    from nst_tf.io.images import to_uint8

    _, tiled, _ = network
    pixels = np.random.default_rng(5).integers(0, 256, (1, 72, 90, 3), dtype=np.uint8)
    floats = tiled(pixels.astype(np.float32) / 255.0, 32)
    for keep in (True, False):
        got = tiled(pixels, 32, as_bytes=True, keep=keep)
        assert got.dtype == np.uint8 and got.shape == (1, 72, 90, 3)
        # the same convolutions on the same tiles, by either schedule, give the same values: not one byte off
        assert np.array_equal(got[0], to_uint8(floats))


def test_an_edge_core_keeps_the_rows_its_reflection_and_neighbours_need():
    """The last core is never thinner than `least` (it reflects its own rows: two at 1/4 scale): the one
    before lends it rows when it has them to spare, else takes it in; and a tile's margins come from its
    neighbours inside the picture, from its own rows reflected (or repeated, or none) past the edge."""
    from nst_tf.feedforward.tiles import _margins, tile_starts

    assert tile_starts(1028, 1024, 8) == [(0, 1020), (1020, 1028)]  # 4 px would be one row at 1/4 scale
    assert tile_starts(12, 8, 8) == [(0, 12)]  # 8 px cannot lend 4 and keep 8
    assert tile_starts(16, 8, 8) == [(0, 8), (8, 16)]
    starts = [(0, 8), (8, 20)]  # two tiles down, at 1/4 scale 2 and 3 rows
    # (tile lending the rows before, their rows in its core, the tile lending those after, theirs)
    assert _margins(starts, 0, 4, 1, "reflect") == (0, [1], 1, [0])  # row -1 is row 1; then tile 1's first
    assert _margins(starts, 1, 4, 1, "reflect") == (0, [1], 1, [1])  # tile 0's last; row 3 is row 1
    assert _margins(starts, 1, 4, 1, "symmetric") == (0, [1], 1, [2])  # the edge row repeated
    assert _margins(starts, 0, 1, 4, "reflect") == (0, [4, 3, 2, 1], 1, [0, 1, 2, 3])
    assert _margins(starts, 1, 1, 4, "clip") == (0, [4, 5, 6, 7], 1, [])  # nothing past the edge
