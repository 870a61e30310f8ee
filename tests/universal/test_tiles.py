"""AdaIN and WCT in tiles with whole-picture content statistics give the whole-picture result (issue 26)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT

pytestmark = pytest.mark.skipif(not (ROOT / "nst_tf" / "models" / "universal").is_dir(), reason="no shipped decoders")


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(np.mean((a - b) ** 2), 1e-20)))


@pytest.mark.parametrize(
    ("method", "shape", "tile", "spare"),
    [("adain", (150, 203), 64, 0.0), ("adain", (150, 203), 64, 1e9), ("wct", (118, 150), 48, 0.0)],
    ids=["adain", "adain-features-kept", "wct"],
)
def test_tiles_equal_the_whole_picture(method, shape, tile, spare, shipped_universal):
    from nst_tf.io.images import load_image, resize
    from nst_tf.universal.tiles import stylize_tiled

    model = shipped_universal(method)
    content = resize(load_image(ROOT / "images" / "chelsea.png"), *shape)
    style = resize(load_image(ROOT / "images" / "ihc.png"), 96, 96)
    whole = model.stylize(content, [style], alpha=0.8)
    encodes = []
    encode = model.encode
    model.encode = lambda picture, level: encodes.append(level) or encode(picture, level)
    try:
        tiled = stylize_tiled(model, content, [style], tile, alpha=0.8, spare=spare)
    finally:
        del model.encode  # the shared model's own method again
    tiles = int(np.ceil(shape[0] / tile) * np.ceil(shape[1] / tile))
    # the encoder runs once per tile and level with the statistics pass's features kept, else twice
    assert len(encodes) == len(model.levels) * tiles * (1 if spare else 2)
    assert tiled.shape == whole.shape == (1, *shape, 3)
    assert np.abs(whole - content).mean() > 0.02  # stylized: not a copy that any tiling would match
    # The bar is 40 dB; each core sees its real neighbours and the whole picture's statistics, so
    # only float32 summation order differs (measured above 100 dB).
    assert _psnr(tiled, whole) >= 40
    assert np.abs(tiled - whole).max() <= 1e-3


def test_per_tile_statistics_would_show(shipped_universal):
    """The control: each half moved by its own statistics differs from the whole picture visibly."""
    from nst_tf.io.images import load_image, resize

    model = shipped_universal("adain")
    content = resize(load_image(ROOT / "images" / "chelsea.png"), 128, 192)
    style = resize(load_image(ROOT / "images" / "ihc.png"), 96, 96)
    whole = model.stylize(content, [style])
    halves = np.concatenate([model.stylize(content[:, :, :96], [style]), model.stylize(content[:, :, 96:], [style])], 2)
    assert _psnr(halves, whole) < 40
