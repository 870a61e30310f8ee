"""A one-pass network's whole-picture result computed in overlapping tiles, in bounded memory.

Instance norm makes every output pixel depend on the whole picture: each norm layer subtracts the picture's
per-channel mean and divides by its standard deviation. Tiles that normalise with their own statistics
therefore disagree with each other and with the whole picture (visible seams, a colour shift per tile).
`TiledStylizer` keeps the statistics whole by running the network one convolution at a time over the
whole picture, tile by tile, and storing each convolution's raw output (before its norm):

- a pass of convolution k runs every tile from the stored map before it (normalised with the now exact
  statistics of the norm before it), writes its tile's core into the next map and takes the core's
  moments: per tile a float32 mean and variance (`tf.nn.moments`, as the whole pass takes them), combined
  over the tiles in float64 (Chan et al.'s parallel update), so the next pass has the whole picture's;
- the residual stream lives in one stored 1/4-scale map, updated in place (x += IN(branch)) between passes;
- every convolution thus runs once ("kept" schedule, each layer's map kept: the stored maps peak at a
  full- and a half-resolution float32 map, `KEPT_PER_PIXEL`), or, where the budget cannot hold the
  full-resolution maps, the two convolutions whose output is full resolution (conv1 and up2) run twice:
  once for their statistics alone, once fused with the convolution after them ("lean" schedule,
  `HELD_PER_PIXEL`: the 1/2- and 1/4-scale maps only).

This replaced a scheme that stored only 1/4-scale maps and recomputed the head and tail from the picture for
every norm: the full-resolution 9×9 convolution ran four times, and the statistics were float64 sums of x
and x² over each core; it took 2.4× the whole picture's time (README, "Print-size pictures"). Statistics
from a downscaled copy of the picture were measured too and are not faithful (`benchmarks/print_size.py
--downscaled`).

Every convolution reaches at most 4 full-resolution pixels (9×9 at full scale, 3×3 at 1/2 and 1/4, the
upsampling convolutions at their low resolution), so a tile carries 4 px of its real neighbours per
convolution of its pass (`MARGIN`): each core pixel sees exactly what it sees in the whole picture (the
reflection pads act only on the margin; at the picture's real edges the tile's edge is the picture's edge).
The picture is first reflect-padded to a multiple of the network's stride (as `JohnsonForward` does) and
tile cores start at multiples of it, so strided layers' cores are whole pixels. Cores then agree with the
whole-picture pass to float rounding and are placed side by side (a blend would average equal values).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from nst_tf.feedforward.inference import BLOCK, JohnsonForward, block_conv, convolve, reflect_pad, upsample_conv
from nst_tf.feedforward.networks import JohnsonNet
from nst_tf.perf.tiling import MemoryModel

MARGIN = 4  # full-resolution px of real neighbours a tile needs per convolution (see the module's notes)


def norm_scales(model: JohnsonNet) -> list[int]:
    """The downscaling factor of each instance norm's input, in the order `JohnsonForward.padded` calls them."""
    return [1, 2, 4] + [4] * (2 * len(model.res)) + [2, 1]


def receptive_halo(model: JohnsonNet, convolutions: int = 2) -> int:
    """Full-resolution px of margin a tile of a pass of `convolutions` convolutions needs (a multiple of
    the stride, so that cores stay aligned): the most any pass of either schedule runs is 2."""
    return model.stride * math.ceil(MARGIN * convolutions / model.stride)


# Peak RSS of `python -m nst_tf apply starry_night` (width 0.25, bfloat16 convolutions) by /usr/bin/time -v
# (benchmarks/print_size.py): whole 0.94 / 1.31 / 2.93 GiB at 1 / 3 / 12 MP. Fitted with some room: bytes,
# and bytes per pixel.
MEASURED_WIDTH = 0.25
FIXED_BYTES = 800 * 2**20  # TensorFlow, the network and the interpreter
WHOLE_PER_PIXEL = 190.0  # the picture, the result and every activation of the whole-picture pass
# Tiled, the most held at once besides the photo as bytes (3, and a batch's copy of it, 3): "kept", the full-
# and half-resolution raw maps of convolutions 1 and 2 (32 + 16); "lean", three 1/4-scale maps (the residual
# stream, a block's two branches: 8 + 8 + 8; later, a half-scale map and the result as bytes, 16 + 3).
KEPT_PER_PIXEL = 54.0
HELD_PER_PIXEL = 30.0
TILE_PER_PIXEL = 200.0  # one tile's pass (two convolutions at most) per pixel of the tile with its margins


def memory_model(model: keras.Model) -> MemoryModel:
    """The apply route's `MemoryModel` for this network; activations scale with its channel width."""
    grow = max(1.0, float(getattr(model, "width", MEASURED_WIDTH)) / MEASURED_WIDTH)
    return MemoryModel(
        FIXED_BYTES, WHOLE_PER_PIXEL * grow, HELD_PER_PIXEL * grow, TILE_PER_PIXEL * grow, KEPT_PER_PIXEL * grow
    )


def tile_starts(length: int, core: int) -> list[tuple[int, int]]:
    """[(start, stop)] of cores of `core` px covering 0 … length (the last one shorter)."""
    return [(start, min(start + core, length)) for start in range(0, length, core)]


def schedule(blocks: int, keep: bool) -> list[tuple[int, int, bool]]:
    """The passes, (first convolution, last convolution, store its output): every convolution once when
    `keep`, else the first and last twice (statistics alone, then fused with their neighbour)."""
    last = 5 + 2 * blocks  # the output convolution's index (after conv1-3, the blocks' 2 each, up1, up2)
    if keep:
        return [(k, k, True) for k in range(last + 1)]
    middle = [(k, k, True) for k in range(2, last - 1)]
    return [(0, 0, False), (0, 1, True), *middle, (last - 1, last - 1, False), (last - 1, last, True)]


class TiledStylizer:
    """`TiledStylizer(model)(image, tile)`: the network's output for a (1, H, W, 3) picture, tile by tile.

    Args:
        model: a float32 JohnsonNet (what `nst_tf.feedforward.inference.supports` accepts).
        precision: the convolutions' arithmetic, "float32" or "bfloat16" (as `JohnsonForward`).
    """

    def __init__(self, model: keras.Model, precision: str = "float32") -> None:
        self.model = model
        self.forward = JohnsonForward(model, precision)  # checks the model and the precision
        self.dtype = tf.as_dtype(precision)
        m = model
        norms = [m.conv1.norm, m.conv2.norm, m.conv3.norm]
        norms += [n for block in m.res for n in (block.conv1.norm, block.norm2)]
        self.norms = [*norms, m.up1.conv.norm, m.up2.conv.norm]
        self.channels = [int(n.scale.shape[0]) for n in self.norms] + [3]
        self.scales = [*norm_scales(m), 1]  # of each convolution's output
        self.blocks = len(m.res)
        self._passes: dict[tuple, tf.types.experimental.Function] = {}
        self.tiles = 0  # tiles in the last picture's grid

    def _kind(self, k: int) -> tuple[str, str, int]:
        """Convolution k as (its input: "as is" or "norm" (the previous raw map through its norm and ReLU),
        its operation, its stride): convolutions of one kind and kernel shape share one traced pass."""
        ups = 3 + 2 * self.blocks
        if k == 0:
            return ("as is", "9x9", 1)
        if k < 3:
            return ("norm", "3x3", 2)
        if k < ups:  # a residual block's first convolution reads the stream as stored, its second the branch
            return ("as is" if k % 2 else "norm", "3x3", 1)
        if k < ups + 2:
            return ("as is" if k == ups else "norm", "up", 1)
        return ("norm", "out", 1)

    def _params(self, k: int, stats: np.ndarray) -> list[tf.Tensor]:
        """Convolution k's kernel, its input norm's [mean, factor, offset] and (the output's) bias."""
        m, blocks = self.model, self.blocks
        layers = [m.conv1, m.conv2, m.conv3, *[c for b in m.res for c in (b.conv1, b.conv2)], m.up1.conv, m.up2.conv]
        layer = [*layers, m.out][k].conv
        params = [tf.convert_to_tensor(layer.kernel)]
        if self._kind(k)[0] == "norm":
            params += [tf.convert_to_tensor(v) for v in self._affine(k - 1, tf.constant(stats))]
        if k == 5 + 2 * blocks:
            params.append(tf.convert_to_tensor(layer.bias))
        return params

    def _affine(self, k: int, stats) -> tuple:
        """Norm k as (x − mean)·factor + offset: `InstanceNorm` with the whole picture's mean and variance."""
        at, c, norm = 2 * sum(self.channels[:k]), self.channels[k], self.norms[k]
        mean, variance = stats[at : at + c], stats[at + c : at + 2 * c]
        return mean, norm.scale * tf.math.rsqrt(variance + norm.epsilon), norm.offset

    def _pass(self, first: int, last: int, params: list[tf.Tensor], as_bytes: bool = False):
        """Convolutions first … last on one tile, as `JohnsonForward` computes them, with their `params`
        (`_params`): the core of the last one's output (`box`, in full-resolution px of the tile) and its
        [mean, variance] over the core; the output's core `as_bytes` rounded as `to_uint8` rounds (half to
        even, as np.round). Traced once per kind of pass and kernel shapes (the residual blocks share one)."""
        kinds = tuple(self._kind(k) for k in range(first, last + 1))
        output, s = last == len(self.channels) - 1, self.scales[last]
        key = (kinds, tuple(tuple(p.shape) for p in params), output, s, as_bytes)
        if key in self._passes:
            return self._passes[key]
        dtype = self.dtype

        def run(x: tf.Tensor, given: list[tf.Tensor], box: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            given = list(given)
            for source, operation, stride in kinds:
                kernel = given.pop(0)
                if source == "norm":
                    mean, factor, offset = given.pop(0), given.pop(0), given.pop(0)
                    x = tf.nn.relu((x - mean) * factor + offset)
                if operation == "up":
                    x = upsample_conv(x, kernel, dtype)
                elif operation == "3x3":
                    x = convolve(reflect_pad(x, kernel.shape[0] // 2), kernel, stride, "VALID", dtype)
                else:  # 9x9, on blocks; the output convolution adds its bias (no norm cancels it) and a sigmoid
                    x = block_conv(reflect_pad(x, kernel.shape[0] // 2), kernel, BLOCK, dtype)
                    x = tf.sigmoid(tf.nn.bias_add(x, given.pop(0))) if operation == "out" else x
            core = x[:, box[0] // s : box[1] // s, box[2] // s : box[3] // s, :]
            if output:  # no norm follows
                if as_bytes:
                    core = tf.cast(tf.round(tf.clip_by_value(core, 0.0, 1.0) * 255.0), tf.uint8)
                return core, tf.zeros((0,))
            mean, variance = tf.nn.moments(core, axes=[0, 1, 2])
            return core, tf.concat([mean, variance], 0)

        depth = 3 if first == 0 else self.channels[first - 1]
        signature = [
            tf.TensorSpec((1, None, None, depth), tf.float32),
            [tf.TensorSpec(p.shape, tf.float32) for p in params],
            tf.TensorSpec((4,), tf.int32),
        ]
        self._passes[key] = tf.function(run, input_signature=signature)
        return self._passes[key]

    def __call__(self, image: np.ndarray, tile: int, as_bytes: bool = False, keep: bool = True) -> np.ndarray:
        """The network's output for a (1, H, W, 3) picture, float32 in [0, 1] or uint8 (`load_pixels`), with
        cores of `tile` px: float32 in [0, 1], or with `as_bytes` uint8 as `to_uint8` rounds it, each core
        rounded as it is made. `keep`: every convolution once, its full-resolution maps stored (faster);
        False: the full-resolution convolutions twice, only smaller maps stored (see `memory_model`)."""
        stride = self.model.stride
        height, width = image.shape[1:3]
        pad = ((0, 0), (0, (-height) % stride), (0, (-width) % stride), (0, 0))
        source = np.pad(image, pad, mode="reflect") if any(p[1] for p in pad) else image
        core = max(stride, stride * (int(tile) // stride))
        full = source.shape[1:3]
        stats = np.zeros(2 * sum(self.channels[:-1]), np.float32)
        stream = None  # the residual stream (1/4 scale), once the head's last norm is known
        last = len(self.channels) - 1
        for first, k, store in schedule(self.blocks, keep):
            o = self.scales[k]
            out = None
            if store:
                kind = np.uint8 if k == last and as_bytes else np.float32
                out = np.empty((1, full[0] // o, full[1] // o, self.channels[k]), kind)
            moments = self._sweep(source, first, k, stats, core, full, out)
            if k == last:
                return out[:, :height, :width]
            stats = self._fill(stats, k, moments)
            if store:
                source, stream = self._advance(k, out, stats, stream)
        raise AssertionError("the schedule ends with the output convolution")

    def _advance(self, k: int, out: np.ndarray, stats: np.ndarray, stream):
        """(the next pass's source, the residual stream) after convolution k's map is stored: the head's
        output becomes the stream (ReLU(IN(x)), in place); a block's branch is added into it (x += IN(y));
        after up1 the stream is let go."""
        ups = 3 + 2 * self.blocks
        if k != 2 and not (k >= 4 and k % 2 == 0 and k < ups):
            return out, (None if k >= ups else stream)
        mean, factor, offset = (np.asarray(v, np.float32) for v in self._affine(k, tf.constant(stats)))
        np.subtract(out, mean, out=out)  # in place: no 1/4-scale temporaries
        np.multiply(out, factor, out=out)
        np.add(out, offset, out=out)
        if k == 2:
            return np.maximum(out, 0.0, out=out), out
        np.add(stream, out, out=stream)
        return stream, stream

    def _fill(self, stats: np.ndarray, k: int, moments: list[tuple[int, np.ndarray]]) -> np.ndarray:
        """`stats` with norm k's whole-picture mean and variance from the tiles' (count, [mean, variance])."""
        c, at = self.channels[k], 2 * sum(self.channels[:k])
        counts = np.array([n for n, _ in moments], np.float64)[:, None]
        means = np.array([m[:c] for _, m in moments], np.float64)
        variances = np.array([m[c:] for _, m in moments], np.float64)
        total = counts.sum()
        mean = (counts * means).sum(0) / total
        # Σ n_t (v_t + (m_t − m)²) / N: each tile's spread about its own mean plus its mean's about the whole's
        variance = (counts * (variances + (means - mean) ** 2)).sum(0) / total
        stats = stats.copy()
        stats[at : at + c], stats[at + c : at + 2 * c] = mean, variance
        return stats

    def _sweep(self, source, first, last, stats, core, full, out) -> list[tuple[int, np.ndarray]]:
        """Every tile once through convolutions first … last: each core written into `out` (when given) and
        its (pixel count, [mean, variance]) listed. `source` is at the scale of convolution first's input."""
        halo = receptive_halo(self.model, last - first + 1)
        as_bytes = out is not None and out.dtype == np.uint8
        given = [p for k in range(first, last + 1) for p in self._params(k, stats)]
        compiled = self._pass(first, last, given, as_bytes)
        s_in = self.scales[first - 1] if first else 1
        o = self.scales[last]
        moments, self.tiles = [], 0
        for top, bottom in tile_starts(full[0], core):
            for left, right in tile_starts(full[1], core):
                y0, y1 = max(0, top - halo), min(full[0], bottom + halo)
                x0, x1 = max(0, left - halo), min(full[1], right + halo)
                box = tf.constant([top - y0, bottom - y0, left - x0, right - x0], tf.int32)
                piece = source[:, y0 // s_in : y1 // s_in, x0 // s_in : x1 // s_in]
                if piece.dtype == np.uint8:  # the picture kept as bytes: this tile as load_image reads it
                    piece = piece.astype(np.float32) / 255.0
                result, found = compiled(tf.constant(piece), given, box)
                self.tiles += 1
                moments.append(((bottom - top) * (right - left) // (o * o), found.numpy()))
                if out is not None:
                    target = out[:, top // o : bottom // o, left // o : right // o]
                    target[...] = result
        return moments
