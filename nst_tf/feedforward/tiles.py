"""A one-pass network's whole-picture result computed in overlapping tiles, in bounded memory.

Instance norm makes every output pixel depend on the whole picture: each norm layer subtracts the picture's
per-channel mean and divides by its standard deviation. Tiles that normalise with their own statistics
therefore disagree with each other and with the whole picture (visible seams, a colour shift per tile).
`TiledStylizer` keeps the statistics whole, measuring them layer by layer over the tiles:

1. norm layer k's statistics: every tile runs up to layer k's input with the (already exact) statistics of
   the layers before it, and the sums of x and x² over the tile's *core* (the part of the picture it owns)
   are added up in float64; mean = Σx/n and variance = Σx²/n − mean². A first attempt that estimated every
   layer from a downscaled copy and refined them all together diverged (23 dB, then worse: a network is
   not scale-invariant, and an error in an early layer's statistics is amplified by the later ones);
2. to keep that cheap, the network runs in parts (`JohnsonForward.head`, `.block(i)`, `.ups`): once the
   head's three norms are exact, its 1/4-scale output is stored for the whole picture (2 values a pixel at
   width 0.25); each residual block's two norms are then measured on it and the block applied, into a
   second stored map; the upsampling stages' norms last, then the output pass writes each tile's core.
   The full-resolution first convolution runs four times in all (its own norm, conv2's, conv3's, the head's
   output), everything else two or three times: about twice the whole picture's time, the price of holding
   only the picture and its result (as bytes) and two 1/4-scale maps. (A variant that ran every convolution
   once, one layer at a time over the whole picture with each layer's map kept, measured no quicker on a
   CPU: 1.97× against these passes' 2.14× at 1 MP, the copies between layers costing what recomputing did.)

Every tile carries a margin (`halo`) of the picture's real neighbours at least as wide as the network's
receptive field, so the core's pixels see exactly what they see in the whole picture: the convolutions'
reflection pads act only on the margin, and at the picture's real edges the tile's edge is the picture's
edge, reflected as the whole picture is. The picture is first reflect-padded to a multiple of the network's
stride (as `JohnsonForward` does) and tile cores start at multiples of it, so the cores of the strided layers
are whole rows. With exact margins and the same statistics the cores agree with the whole-picture pass to
float rounding, so they are placed side by side: a blend across the overlap would average two equal values.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from nst_tf.feedforward.inference import JohnsonForward
from nst_tf.feedforward.networks import JohnsonNet, normalize
from nst_tf.io.images import to_uint8
from nst_tf.perf.tiling import MemoryModel


def norm_scales(model: JohnsonNet) -> list[int]:
    """The downscaling factor of each instance norm's input, in the order `JohnsonForward.padded` calls them."""
    return [1, 2, 4] + [4] * (2 * len(model.res)) + [2, 1]


def receptive_halo(model: JohnsonNet, part: str = "all") -> int:
    """Pixels of real neighbours a tile of `part` needs on each side so that its core is the whole picture's.

    Each k×k convolution at 1/s scale reaches (k // 2)·s full-resolution pixels: the head (conv1 9×9, conv2,
    conv3) 4 + 1 + 2, a residual block 2·4, the upsampling stages and output conv 2 + 1 + 4. The strided
    convolutions and nearest upsamplings move that by at most a low-resolution pixel each (2 strides are
    added), and the sum is rounded up to a multiple of the stride so that cores stay aligned.
    """
    reach = {"head": 7, "block": 8, "ups": 7}
    total = sum(reach.values()) + 8 * (len(model.res) - 1) if part == "all" else reach[part]
    return model.stride * math.ceil((total + 2 * model.stride) / model.stride)


# Peak RSS of `python -m nst_tf apply starry_night` (width 0.25, bfloat16 convolutions) by /usr/bin/time -v
# (benchmarks/print_size.py): whole 0.94 / 1.31 / 2.93 GiB at 1 / 3 / 12 MP; --tile 1024: 1.05 / 1.23 / 1.68
# GiB (the picture in float32 then); 27 MP at --max-memory 2G, picture and result as bytes: 1.42 GiB in 35
# tiles of 908 px. Fitted with some room: bytes, and bytes per pixel.
MEASURED_WIDTH = 0.25
FIXED_BYTES = 800 * 2**20  # TensorFlow, the network and the interpreter
WHOLE_PER_PIXEL = 190.0  # the picture, the result and every activation of the whole-picture pass
HELD_PER_PIXEL = 26.0  # tiled: the picture and its result as bytes (3 + 3), two 1/4-scale float32 feature maps (16)
TILE_PER_PIXEL = 320.0  # one tile's activations per pixel of the tile with its margins


def memory_model(model: keras.Model) -> MemoryModel:
    """The apply route's `MemoryModel` for this network; activations scale with its channel width."""
    grow = max(1.0, float(getattr(model, "width", MEASURED_WIDTH)) / MEASURED_WIDTH)
    return MemoryModel(FIXED_BYTES, WHOLE_PER_PIXEL * grow, HELD_PER_PIXEL * grow, TILE_PER_PIXEL * grow)


def tile_starts(length: int, core: int) -> list[tuple[int, int]]:
    """[(start, stop)] of cores of `core` px covering 0 … length (the last one shorter)."""
    return [(start, min(start + core, length)) for start in range(0, length, core)]


class _Stop(Exception):
    """Raised inside a traced pass once the layer whose statistics it measures is reached."""


class TiledStylizer:
    """`TiledStylizer(model)(image, tile)`: the network's output for a (1, H, W, 3) picture, tile by tile.

    Args:
        model: a float32 JohnsonNet (what `nst_tf.feedforward.inference.supports` accepts).
        precision: the convolutions' arithmetic, "float32" or "bfloat16" (as `JohnsonForward`).
    """

    def __init__(self, model: keras.Model, precision: str = "float32") -> None:
        self.model = model
        self.forward = JohnsonForward(model, precision)
        self.halo = receptive_halo(model)
        self.scales = norm_scales(model)
        norms = [model.conv1.norm, model.conv2.norm, model.conv3.norm]
        norms += [n for block in model.res for n in (block.conv1.norm, block.norm2)]
        norms += [model.up1.conv.norm, model.up2.conv.norm]
        self.norms = norms
        self.channels = [int(n.scale.shape[0]) for n in norms]
        self.offsets = list(np.cumsum([0] + [2 * c for c in self.channels[:-1]]))
        self._passes: dict[tuple[str, int | None], tf.types.experimental.Function] = {}
        self.tiles = 0  # tiles in the last picture's grid

    def _pass(self, part: str, stop: int | None):
        """The compiled `part` ("head", "block<i>" or "ups") of the network with given statistics: its output, or with
        `stop`, [Σx, Σx²] of norm layer `stop`'s input over the core box (the pass ends there)."""
        if (part, stop) in self._passes:
            return self._passes[part, stop]
        blocks = len(self.model.res)
        starts = {"head": 0, "ups": 3 + 2 * blocks} | {f"block{i}": 3 + 2 * i for i in range(blocks)}
        first = starts[part]
        depth = 3 if part == "head" else self.channels[2]

        def run(x: tf.Tensor, stats: tf.Tensor, box: tf.Tensor) -> tf.Tensor:
            state, found = {"k": first}, []

            def whole_norm(y: tf.Tensor, norm, relu: bool) -> tf.Tensor:
                k = state["k"]
                state["k"] = k + 1
                if k == stop:
                    s = self.scales[k]
                    core = tf.cast(y[:, box[0] // s : box[1] // s, box[2] // s : box[3] // s, :], tf.float64)
                    found.append(tf.concat([tf.reduce_sum(core, [0, 1, 2]), tf.reduce_sum(core * core, [0, 1, 2])], 0))
                    raise _Stop
                at, c = int(self.offsets[k]), self.channels[k]
                mean, variance = stats[at : at + c], stats[at + c : at + 2 * c]
                y = normalize(y - mean, tf.cast(variance, tf.float64), norm.scale, norm.offset, norm.epsilon)
                return tf.nn.relu(y) if relu else y

            try:
                if part.startswith("block"):
                    return self.forward.block(first // 2 - 1, x, whole_norm)
                return getattr(self.forward, part)(x, whole_norm)
            except _Stop:
                return found[0]

        signature = [
            tf.TensorSpec((1, None, None, depth), tf.float32),
            tf.TensorSpec((None,), tf.float32),
            tf.TensorSpec((4,), tf.int32),
        ]
        self._passes[part, stop] = tf.function(run, input_signature=signature)
        return self._passes[part, stop]

    def __call__(self, image: np.ndarray, tile: int, as_bytes: bool = False) -> np.ndarray:
        """The network's output for a (1, H, W, 3) picture, float32 in [0, 1] or uint8 (`load_pixels`), with
        cores of `tile` px: float32 in [0, 1], or with `as_bytes` uint8 as `to_uint8` rounds it, each core
        rounded as it is made (3 bytes a pixel held instead of 12, and no whole-picture float copy to round)."""
        stride = self.model.stride
        height, width = image.shape[1:3]
        pad = ((0, 0), (0, (-height) % stride), (0, (-width) % stride), (0, 0))
        padded = np.pad(image, pad, mode="reflect") if any(p[1] for p in pad) else image
        core = max(stride, stride * (int(tile) // stride))
        stats = np.zeros(2 * sum(self.channels), np.float32)
        full = padded.shape[1:3]
        for k in range(3):  # the head's norms, each measured with the ones before it exact
            stats = self._measure(padded, 1, "head", k, stats, core, full)
        low = np.empty((1, full[0] // stride, full[1] // stride, self.channels[2]), np.float32)
        self._sweep(padded, 1, "head", None, stats, core, full, low, stride)
        del padded
        for index in range(len(self.model.res)):  # each block's norms measured, then the block applied
            part = f"block{index}"
            for k in (3 + 2 * index, 4 + 2 * index):
                stats = self._measure(low, stride, part, k, stats, core, full)
            after = np.empty_like(low)
            self._sweep(low, stride, part, None, stats, core, full, after, stride)
            low = after
        for k in (len(self.channels) - 2, len(self.channels) - 1):
            stats = self._measure(low, stride, "ups", k, stats, core, full)
        out = np.empty((1, *full, 3), np.uint8 if as_bytes else np.float32)
        self._sweep(low, stride, "ups", None, stats, core, full, out, 1)
        return out[:, :height, :width]

    def _measure(self, source, scale, part, k, stats, core, full) -> np.ndarray:
        """`stats` with norm layer k's whole-picture mean and variance filled in (float64 sums over tiles)."""
        total = self._sweep(source, scale, part, k, stats, core, full, None, 1)
        s, c, at = self.scales[k], self.channels[k], int(self.offsets[k])
        n = full[0] * full[1] / (s * s)
        mean = total[:c] / n
        stats = stats.copy()
        stats[at : at + c] = mean
        stats[at + c : at + 2 * c] = np.maximum(total[c:] / n - mean * mean, 0.0)
        return stats

    def _sweep(self, source, scale, part, stop, stats, core, full, out, out_scale) -> np.ndarray | None:
        """Every tile once through `part`: the summed layer-`stop` sums, or each core written into `out`.

        Tiles are laid out in full-resolution pixels; `source` and `out` are at 1/`scale` and 1/`out_scale`.
        """
        halo = receptive_halo(self.model, "block" if part.startswith("block") else part)
        compiled, given = self._pass(part, stop), tf.constant(stats)
        total, self.tiles = None, 0
        for top, bottom in tile_starts(full[0], core):
            for left, right in tile_starts(full[1], core):
                y0, y1 = max(0, top - halo), min(full[0], bottom + halo)
                x0, x1 = max(0, left - halo), min(full[1], right + halo)
                box = tf.constant([top - y0, bottom - y0, left - x0, right - x0], tf.int32)
                piece = source[:, y0 // scale : y1 // scale, x0 // scale : x1 // scale]
                if piece.dtype == np.uint8:  # the picture kept as bytes: this tile as load_image reads it
                    piece = piece.astype(np.float32) / 255.0
                result = compiled(tf.constant(piece), given, box).numpy()
                self.tiles += 1
                if out is None:
                    total = result.astype(np.float64) if total is None else total + result
                else:
                    o = out_scale
                    rows, cols = slice((top - y0) // o, (bottom - y0) // o), slice((left - x0) // o, (right - x0) // o)
                    kept = result[:, rows, cols]
                    out[:, top // o : bottom // o, left // o : right // o] = (
                        to_uint8(kept) if out.dtype == np.uint8 else kept
                    )
        return total
