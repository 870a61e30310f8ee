"""Universal style transfer (AdaIN, WCT) of a large picture in overlapping tiles, with whole-picture statistics.

AdaIN and WCT move the content's features by the content's own statistics (per-channel mean and standard
deviation; mean and covariance), taken over the whole picture. Per level of the method (AdaIN: relu4_1;
WCT: each level of its cascade, deepest first) `stylize_tiled` runs `tiled_level` (which `video` calls with its
own statistics' map):

1. a statistics pass: every tile is encoded and its core's features summed: Σ(x − s) and Σ(x − s)(x − s)ᵀ
   in float64 (float64 products in blocks, as `feature_stats`, centred on the first tile's mean `s` so that
   the covariance does not lose digits to the mean); mean and covariance of the whole picture follow;
2. a transform pass: every tile encoded again, moved with those statistics (the same map for every tile,
   `nst_tf.universal.transforms.mover`, its maps made once a level), decoded, and its core written into the
   next picture.

Each tile carries a margin of the picture's real neighbours as wide as the encoder's reach (statistics pass)
or the encoder's and decoder's together (transform pass), so every core pixel sees what it sees in the whole
picture: VGG's zero padding and the decoders' reflection padding act only on margins, and at the picture's
real edges a tile's edge is the picture's edge. The picture is first reflect-padded as `Universal.stylize`
pads it (to a multiple of 2^(deepest level − 1)), and cores start at multiples of 8 (whole feature pixels).
Cores then agree with the whole-picture result to float rounding (tests/universal/test_tiles.py), so they
are placed side by side without a blend. Masks are not tiled (their statistics are per mask region): a
masked stylization runs whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from nst_tf.errors import ConfigError
from nst_tf.losses.color import match_color_histogram, transfer_luminance
from nst_tf.perf.tiling import MemoryModel
from nst_tf.universal.networks import pad_to_multiple
from nst_tf.universal.transforms import DEFAULT_EPS, feature_stats, mover

VGG16_BLOCKS = (2, 2, 3, 3, 3)  # convolutions per VGG16 block
VGG_CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512}  # relu{level}_1's channels
MULTIPLE = 8  # the picture's padding and the tiles' alignment (relu4_1 is at 1/8 scale)
_BLOCK = 65536  # feature rows per float64 product, as transforms.feature_stats


# Peak RSS of `python -m nst_tf universal` by /usr/bin/time -v (benchmarks/print_size.py). AdaIN whole 1.59 /
# 3.27 / 10.45 GiB at 1 / 3 / 12 MP, --tile 1024 1.98 / 2.80 GiB at 3 / 12 MP; WCT (levels 3, 2, 1) whole
# 2.70 / 6.29 GiB at 1 / 3 MP, --tile 1024 2.51 / 3.49 GiB. Fitted with some room: bytes, bytes per pixel.
FIXED_BYTES = 850 * 2**20  # TensorFlow, VGG16, the decoders, the style's features
WHOLE_PER_PIXEL = {"adain": 900.0, "wct": 2100.0}
HELD_PER_PIXEL = 100.0  # tiled: the content, the padded picture, the next level's picture, the result
TILE_PER_PIXEL = {"adain": 750.0, "wct": 2100.0}  # one tile (with margins) encoded, moved and decoded


def memory_model(method: str) -> MemoryModel:
    """The universal route's `MemoryModel` for "adain" or "wct"."""
    return MemoryModel(FIXED_BYTES, WHOLE_PER_PIXEL[method], HELD_PER_PIXEL, TILE_PER_PIXEL[method])


def encoder_reach(level: int) -> int:
    """Full-resolution pixels the encoder to relu{level}_1 reads beyond a feature pixel's own, rounded up to a
    multiple of 8 with one feature pixel to spare (the decoder, its mirror, reads as far)."""
    reach = sum((VGG16_BLOCKS[b] + 1) * 2**b for b in range(level - 1)) + 2 ** (level - 1)
    return MULTIPLE * math.ceil((reach + 2 ** (level - 1)) / MULTIPLE)


def feature_bytes(size: tuple[int, int], tile: int, halo: int, level: int) -> float:
    """Bytes of every tile's relu{level}_1 features (float32, margins included): what keeping them costs."""
    s, channels = 2 ** (level - 1), VGG_CHANNELS[level]
    return sum(
        4.0 * channels * ((y1 - y0) // s) * ((x1 - x0) // s) for _, (y0, y1, x0, x1) in _tiles(*size, tile, halo)
    )


def _cores(length: int, tile: int) -> list[tuple[int, int]]:
    return [(start, min(start + tile, length)) for start in range(0, length, tile)]


def _tiles(height: int, width: int, tile: int, halo: int):
    """(core box, region box) of every tile: (top, bottom, left, right) in pixels, the region with its margin."""
    for top, bottom in _cores(height, tile):
        for left, right in _cores(width, tile):
            region = (max(0, top - halo), min(height, bottom + halo), max(0, left - halo), min(width, right + halo))
            yield (top, bottom, left, right), region


def _core_features(universal, picture: np.ndarray, core, region, level: int) -> np.ndarray:
    """relu{level}_1 features (h, w, C) of the core, encoded from the region around it."""
    y0, y1, x0, x1 = region
    s = 2 ** (level - 1)
    features = universal.encode(picture[:, y0:y1, x0:x1], level)
    top, bottom, left, right = core
    return features[(top - y0) // s : (bottom - y0) // s, (left - x0) // s : (right - x0) // s]


def whole_stats(
    universal, picture: np.ndarray, level: int, tile: int, keep: list | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(mean (C,), covariance (C, C)) in float64 of the whole picture's relu{level}_1 features, tile by tile.

    With a list `keep`, every tile is encoded with the transform pass's wider margin and its features are
    appended to it (the same core features: the margin only has to cover the encoder's reach), so that the
    transform pass does not encode the picture a second time."""
    halo = encoder_reach(level) * (1 if keep is None else 2)
    shift, count, first, second = None, 0, None, None
    for core, region in _tiles(*picture.shape[1:3], tile, halo):
        if keep is None:
            features = _core_features(universal, picture, core, region, level)
        else:
            y0, y1, x0, x1 = region
            keep.append(universal.encode(picture[:, y0:y1, x0:x1], level))
            s, (top, bottom, left, right) = 2 ** (level - 1), core
            features = keep[-1][(top - y0) // s : (bottom - y0) // s, (left - x0) // s : (right - x0) // s]
        flat = features.reshape(-1, features.shape[-1])
        if shift is None:
            shift = flat.mean(axis=0, dtype=np.float64).astype(np.float32)
            first = np.zeros(flat.shape[1], np.float64)
            second = np.zeros((flat.shape[1], flat.shape[1]), np.float64)
        for start in range(0, flat.shape[0], _BLOCK):
            centred = flat[start : start + _BLOCK].astype(np.float64) - shift
            first += centred.sum(axis=0)
            second += centred.T @ centred
        count += flat.shape[0]
    offset = first / count
    return shift.astype(np.float64) + offset, second / count - np.outer(offset, offset)


def tiled_level(
    universal,
    picture: np.ndarray,
    level: int,
    tile: int,
    prepare: Callable[[tuple[np.ndarray, np.ndarray]], Callable[[np.ndarray], np.ndarray]],
    spare: float = 0.0,
) -> np.ndarray:
    """One level of the cascade over tiles (module doc): the whole picture's relu{level}_1 statistics
    (`whole_stats`), then `prepare(stats)`, called once, gives the map that moves every tile's features; each
    tile is decoded and its core placed. `picture`: (1, H, W, 3) float32, padded as `Universal.stylize` pads
    it, cores of `tile` px (a multiple of 8); `spare` as for `stylize_tiled`. Returns the next picture."""
    halo = 2 * encoder_reach(level)
    kept = [] if feature_bytes(picture.shape[1:3], tile, halo, level) <= spare else None
    move = prepare(whole_stats(universal, picture, level, tile, kept))
    after = np.empty_like(picture)
    for index, (core, region) in enumerate(_tiles(*picture.shape[1:3], tile, halo)):
        y0, y1, x0, x1 = region
        if kept is None:
            features = universal.encode(picture[:, y0:y1, x0:x1], level)
        else:  # the statistics pass's features, let go as they are used
            features, kept[index] = kept[index], None
        moved = move(features)
        decoded = np.asarray(universal.decode(moved, level))
        top, bottom, left, right = core
        after[:, top:bottom, left:right] = decoded[:, top - y0 : bottom - y0, left - x0 : right - x0]
        del features, moved, decoded
    return after


def stylize_tiled(
    universal,
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    tile: int,
    alpha: float = 1.0,
    style_weights: Sequence[float] | None = None,
    preserve_colors: str | None = None,
    eps: float = DEFAULT_EPS,
    spare: float = 0.0,
) -> np.ndarray:
    """`Universal.stylize(content, styles, ...)` computed in tiles of `tile` px (a multiple of 8; module doc).

    `spare`: bytes of memory beyond the tiles' own; a level whose tiles' features fit in it keeps them from
    the statistics pass for the transform pass (the encoder runs once per tile instead of twice).

    Returns:
        (1, H, W, 3) float32 RGB in [0, 1].
    """
    from nst_tf.universal.stylize import check_inputs

    check_inputs(content, styles, alpha, style_weights, None, preserve_colors)
    if max(universal.levels) > 4:
        raise ConfigError("tiles serve levels 1 to 4")
    tile = max(MULTIPLE, MULTIPLE * (int(tile) // MULTIPLE))
    if preserve_colors == "histogram":
        styles = [match_color_histogram(style, content) for style in styles]
    picture, size = pad_to_multiple(content, 2 ** (max(universal.levels) - 1))  # as Universal.stylize pads
    picture = np.asarray(picture, np.float32)
    style_levels = [universal.encode_all(style) for style in styles]
    for level in universal.levels:
        style_stats = [feature_stats(encoded[level]) for encoded in style_levels]

        def prepare(content_stats, style_stats=style_stats):  # each style's map made once, for every tile
            return mover(content_stats, style_stats, universal.method, alpha, style_weights, eps)

        picture = tiled_level(universal, picture, level, tile, prepare, spare)
    result = picture[:, : size[0], : size[1]]
    if preserve_colors == "post":
        result = transfer_luminance(result, content)
    return np.asarray(result, np.float32)
