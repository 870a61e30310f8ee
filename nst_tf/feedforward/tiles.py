"""A one-pass network's whole-picture result computed in overlapping tiles, in bounded memory.

Instance norm makes every output pixel depend on the whole picture: each norm layer subtracts the picture's
per-channel mean and divides by its standard deviation. Tiles that normalise with their own statistics
therefore disagree with each other and with the whole picture (visible seams, a colour shift per tile).
`TiledStylizer` keeps the statistics whole by running the network one convolution at a time over the
whole picture, tile by tile, and storing each convolution's raw output (before its norm):

- every map is kept as its tiles' cores, one TensorFlow tensor a tile (nothing is assembled but the
  output, each tile's bytes put in place as made); a pass of convolution k reads each tile with exactly
  the margins its convolution needs from the neighbouring tiles' cores (its own rows reflected past the
  picture's edge, as the whole pass pads: `_margins`, `_region`), normalises them with the now exact
  statistics of the norm before it, and makes exactly the tile's core of the next map and the core's
  moments, summed as `networks.moments` sums them (float32 rows, float64 over the rows), combined over
  the tiles in float64 (Chan et al.'s parallel update), so the next pass has the whole picture's;
- the residual stream (1/4 scale) is the first block's input as its pass normalised it, then each later
  block's first convolution adds the previous block's branch as it reads the stream (x + IN(y)), keeping
  the sum as the next stream: no pass of its own;
- a map read for the last time is let go a tile at a time, once its neighbours have read it;
- every convolution thus runs once ("kept" schedule: the stored maps peak at a full- and a half-resolution
  float32 map, `KEPT_PER_PIXEL`), or, where the budget cannot hold the full-resolution maps, the two
  convolutions whose output is full resolution (conv1 and up2) run twice: once for their statistics
  alone, once fused with the convolution after them, on tiles with `receptive_halo` px of neighbours
  ("lean" schedule, `HELD_PER_PIXEL`: the 1/2- and 1/4-scale maps only).

Each tile's pass is one traced function (shared by every tile shape and, for passes of one kind, every
layer) called as its concrete function, with a core's norm as one fused batch-norm op: on a 2-core CPU the
fixed cost of each call and of each op a tile runs is what tiles add to the whole pass's time (README,
"Print-size pictures"). This replaced (7 Dec 2026) maps stored in NumPy, each copied into a tile's input,
its core sliced out and copied back, with the residual sums in place in NumPy (1.4–1.6× the whole
picture's time at 1–3 MP), and before that a scheme that recomputed the head and tail for every norm
(2.4×). Statistics from a downscaled copy of the picture were measured too and are not faithful
(`benchmarks/print_size.py --downscaled`).

Every convolution reaches at most 4 full-resolution pixels (9×9 at full scale, 3×3 at 1/2 and 1/4, the
upsampling convolutions at their low resolution; `MARGIN`), so each core pixel sees exactly what it sees
in the whole picture. The picture is first reflect-padded to a multiple of the network's stride (as
`JohnsonForward` does) and tile cores start at multiples of it, so strided layers' cores are whole
pixels; no core is thinner than two strides (`tile_starts`), so an edge tile reflects its own rows and a
neighbour lends whole margins. Cores then agree with the whole-picture pass to float rounding and are
placed side by side (a blend would average equal values).
"""

from __future__ import annotations

import functools
import math

import keras
import numpy as np
import tensorflow as tf

from nst_tf.feedforward.inference import BLOCK, JohnsonForward, block_conv, convolve, reflect_pad, upsample_kernel
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


# Peak RSS of `python -m nst_tf apply starry_night` (width 0.25) by /usr/bin/time -v, float32 and bfloat16
# convolutions, whole at 0.05-12 MP, tiled by both schedules at 1-27 MP, and of `video` through it at 360-1080p
# (7 Dec 2026; `benchmarks/print_size.py`, whose --fit prints the least squares and each row's estimate / peak;
# README, "Print-size pictures"). Least squares: whole 647-668 MiB + 139-153 bytes a pixel; beside that fixed
# share, kept 62-66 and lean 33-35 bytes a pixel with 97-252 a tile's pixel. The terms are those rounded up,
# with room: the estimate is 1.5-34 % above every peak of apply's measured, whole or in tiles of 260 px or more
# (video's whole frames 3-11 %, its 720p tiles 1.2 %), and every run with a budget peaked 10-29 % under it.
# Tiles under ~260 px cost a little more than the model says (about 0.3-0.6 MiB a tile, not modelled): 108
# tiles of 140 px peaked 1.7 % over the estimate, a 1080p video frame's 112 tiles 5 % (1.3 % in 40 tiles of
# 260 px, where the frame stream's share, nst_tf/video/memory.py, is the larger). Bytes, bytes per pixel.
MEASURED_WIDTH = 0.25
FIXED_BYTES = 690 * 2**20  # TensorFlow, the network, the interpreter: the process peaked 662 MiB at 0.05 MP
WHOLE_PER_PIXEL = 190.0  # the picture, the result and every activation of the whole-picture pass
# Tiled, the most held at once besides the photo as bytes (3, and a batch's copy of it, 3): "kept", the full-
# and half-resolution raw maps of convolutions 1 and 2 (32 + 16); "lean", three 1/4-scale maps (the residual
# stream, a block's two branches: 8 + 8 + 8; later, a half-scale map and the result as bytes, 16 + 3); then
# the allocator's slack, which the fit puts at a few bytes a pixel more (62-66 and 33-35 measured, 54 and 30
# counted). The maps live in TensorFlow's allocator, which keeps its peak resident after the picture (the
# result is then written beside it); one picture is not copied into a batch (`stylize_photos`).
KEPT_PER_PIXEL = 70.0
HELD_PER_PIXEL = 38.0
TILE_PER_PIXEL = 200.0  # one tile's pass (two convolutions at most) per pixel of the tile with its margins


def memory_model(model: keras.Model) -> MemoryModel:
    """The apply route's `MemoryModel` for this network; activations scale with its channel width."""
    grow = max(1.0, float(getattr(model, "width", MEASURED_WIDTH)) / MEASURED_WIDTH)
    return MemoryModel(
        FIXED_BYTES, WHOLE_PER_PIXEL * grow, HELD_PER_PIXEL * grow, TILE_PER_PIXEL * grow, KEPT_PER_PIXEL * grow
    )


def tile_starts(length: int, core: int, least: int = 1) -> list[tuple[int, int]]:
    """[(start, stop)] of cores of `core` px covering 0 … length (the last one shorter, but not under `least`
    px: the one before it gives it rows, or takes it in when it has none to spare; no core grows past
    `core` but by that one's px under `least`)."""
    starts = [(start, min(start + core, length)) for start in range(0, length, core)]
    if len(starts) > 1 and starts[-1][1] - starts[-1][0] < least:
        start, cut = starts[-2][0], length - least
        starts[-2:] = [(start, cut), (cut, length)] if cut - start >= least else [(start, length)]
    return starts


def schedule(blocks: int, keep: bool) -> list[tuple[int, int, bool]]:
    """The passes, (first convolution, last convolution, store its output): every convolution once when
    `keep`, else the first and last twice (statistics alone, then fused with their neighbour)."""
    last = 5 + 2 * blocks  # the output convolution's index (after conv1-3, the blocks' 2 each, up1, up2)
    if keep:
        return [(k, k, True) for k in range(last + 1)]
    middle = [(k, k, True) for k in range(2, last - 1)]
    return [(0, 0, False), (0, 1, True), *middle, (last - 1, last - 1, False), (last - 1, last, True)]


# Each convolution's own padding at its input's scale: (px each side, how the picture's edge is padded).
# A tile of a single convolution's pass is read with exactly these margins (`_margins`), so the convolution
# needs no padding of its own and its output is the tile's core.
PADDING = {"9x9": (4, "reflect"), "3x3": (1, "reflect"), "up": (1, "symmetric"), "out": (4, "reflect")}


def _margins(starts: list[tuple[int, int]], index: int, scale: int, margin: int, mode: str) -> tuple:
    """Along one axis, the rows tile `index`'s pass reads beyond its core at `scale`: (tile lending the rows
    before, their indices in its core, tile lending the rows after, theirs). Inside the picture they are the
    neighbours' (their last or first `margin`); past its edge the tile's own reflected ("reflect": the edge
    row not repeated, as `reflect_pad`; "symmetric": repeated, as `upsample_conv`) or none ("clip")."""
    length = (starts[index][1] - starts[index][0]) // scale
    if index > 0:
        span = (starts[index - 1][1] - starts[index - 1][0]) // scale
        before = (index - 1, list(range(span - margin, span)))
    else:
        first = {"reflect": 1, "symmetric": 0, "clip": margin}[mode]
        before = (index, list(range(first + margin - 1, first - 1, -1)) if mode != "clip" else [])
    if index + 1 < len(starts):
        after = (index + 1, list(range(margin)))
    else:
        last = {"reflect": length - 2, "symmetric": length - 1}.get(mode)
        after = (index, list(range(last, last - margin, -1)) if mode != "clip" else [])
    return (*before, *after)


def _region(sources: list[list[tf.Tensor]], rows: tuple, columns: tuple, prepare) -> tuple[tf.Tensor, tf.Tensor]:
    """A tile with its margins from the 3×3 parts around it (each source's, row-major, the tile's core in the
    middle; two sources: the residual stream and the branch added to it): the rows before and after
    (`rows`, index vectors) and the columns (`columns`), through `prepare(*pieces, core)` -> (float32,
    the convolution's input: rounded to its arithmetic, so that the copies after it move bfloat16 when it
    computes in bfloat16) in five pieces: the band above, the left margin, the core, the right margin, the
    band below; the core is then copied once into its band and once into the tile, as `reflect_pad` copies a
    whole picture. Returns (the tile, the core prepared in float32)."""
    (before, after), (left, right) = rows, columns

    def pick(k: int, pick_rows, pick_columns) -> list[tf.Tensor]:
        picked = []
        for parts in sources:
            x = parts[k] if pick_rows is None else tf.gather(parts[k], pick_rows, axis=1)
            picked.append(x if pick_columns is None else tf.gather(x, pick_columns, axis=2))
        return picked

    def band(k: int, pick_rows) -> tf.Tensor:
        three = [pick(k, pick_rows, left), pick(k + 1, pick_rows, None), pick(k + 2, pick_rows, right)]
        return prepare(*[tf.concat(list(pieces), axis=2) for pieces in zip(*three, strict=True)], core=False)[1]

    full, core = prepare(*pick(4, None, None), core=True)
    middle = [prepare(*pick(3, None, left), core=False)[1], core, prepare(*pick(5, None, right), core=False)[1]]
    return tf.concat([band(0, before), tf.concat(middle, axis=2), band(6, after)], axis=1), full


def normalize(x: tf.Tensor, mean: tf.Tensor, factor: tf.Tensor, offset: tf.Tensor) -> tf.Tensor:
    """(x − mean)·factor + offset per channel of float32 maps, as one fused batch-norm op (variance 1, ε 0):
    the same per-channel affine map as `networks.normalize` (to float rounding), 5–7× faster on a CPU than
    its three elementwise ops, which broadcast a vector of 8 or 16 channels slowly."""
    y, *_ = tf.raw_ops.FusedBatchNormV3(
        x=x, scale=factor, offset=offset, mean=mean, variance=tf.ones_like(mean), epsilon=0.0, is_training=False
    )
    return y


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
        self._concrete: dict[tuple, tf.types.experimental.ConcreteFunction] = {}
        self._steps: dict[bool, tf.types.experimental.Function] = {}
        self._constants: dict[int, list[tf.Tensor]] = {}  # ones and zeros of C channels (`_moments`)
        self._layouts: dict[tuple, object] = {}
        self._read = None  # reads every weight in one call (`_weights`)
        self._unit = tf.constant(255.0)
        self.tiles = 0  # tiles in the last picture's grid

    def _kind(self, k: int) -> tuple[str, str, int]:
        """Convolution k as (its input: "as is" (the picture, or the residual stream as the previous block
        left it: its branch y added as it is read, stream + IN(y)) or "norm" (the previous raw map through
        its norm and ReLU: the first block reads the head's so, and keeps it as the stream), its operation,
        its stride): convolutions of one kind and kernel shape share one traced pass."""
        ups = 3 + 2 * self.blocks
        if k == 0:
            return ("as is", "9x9", 1)
        if k < 3:
            return ("norm", "3x3", 2)
        if k < ups:  # a block's first convolution reads the stream (the first block's: the head's output)
            return ("as is" if k % 2 and k > 3 else "norm", "3x3", 1)
        if k < ups + 2:
            return ("as is" if k == ups else "norm", "up", 1)
        return ("norm", "out", 1)

    def _reads_stream(self, k: int) -> bool:
        """Whether convolution k is a residual block's first: it reads the stream (the first block: the
        head's output, ReLU(IN(x)); the others: stream + IN(branch)), which its pass keeps."""
        return 3 <= k < 3 + 2 * self.blocks and k % 2 == 1

    def _weights(self) -> dict[str, list]:
        """The network's weights as they are now, read in one call (eager reads cost a tenth of a millisecond
        each on a busy CPU, and a picture needs fifty): each convolution's kernel, the output's bias, each
        norm's scale (float64, NumPy) and offset."""
        if self._read is None:
            m = self.model
            layers = [m.conv1, m.conv2, m.conv3, *[c for b in m.res for c in (b.conv1, b.conv2)], m.up1.conv]
            layers = [*layers, m.up2.conv, m.out]
            variables = [layer.conv.kernel for layer in layers] + [m.out.conv.bias]
            variables += [norm.scale for norm in self.norms] + [norm.offset for norm in self.norms]
            self._read = tf.function(lambda: [tf.convert_to_tensor(v) for v in variables])
        values, n = self._read(), len(self.norms)
        kernels, bias, scales, offsets = values[: n + 1], values[n + 1], values[n + 2 : 2 * n + 2], values[2 * n + 2 :]
        return {"kernels": kernels, "bias": bias, "scales": [np.float64(s.numpy()) for s in scales], "offsets": offsets}

    def _params(self, k: int, stats: np.ndarray, weights: dict) -> list[tf.Tensor]:
        """Convolution k's kernel, its input norm's [[mean, factor], offset] and (the output's) bias."""
        params = [weights["kernels"][k]]
        if k > 0:  # its input's norm (for the stream: the branch's added to it)
            params += self._affine(k - 1, stats, weights)
        if k == 5 + 2 * self.blocks:
            params.append(weights["bias"])
        return params

    def _affine(self, k: int, stats: np.ndarray, weights: dict) -> list[tf.Tensor]:
        """Norm k as (x − mean)·factor + offset with the whole picture's float64 mean and variance, rounded
        as `networks.normalize` rounds them: the mean to float32, the factor scale/√(variance + ε) once."""
        at, c = 2 * sum(self.channels[:k]), self.channels[k]
        mean, variance = stats[at : at + c], stats[at + c : at + 2 * c]
        factor = weights["scales"][k] / np.sqrt(variance + self.norms[k].epsilon)
        # made float32 here: a float64 array converted by tf.constant runs an eager op (slow on a busy CPU)
        return [tf.constant(np.stack([mean, factor]).astype(np.float32)), weights["offsets"][k]]

    def _pass(self, first: int, last: int, params: list[tf.Tensor], source: tf.DType, as_bytes: bool = False):
        """Convolutions first … last on one tile, as `JohnsonForward` computes them, with their `params`
        (`_params`), read from the tiles around it (`_region`): the core of the last one's output and its
        float64 [mean, variance] (`networks.moments`, as the whole pass takes them); the output's core
        `as_bytes` rounded as `to_uint8` rounds (half to even, as np.round). A single convolution reads its
        tile with its own padding's margins and makes exactly the core; two (`schedule`'s lean passes) read
        `receptive_halo` px of neighbours (none past the picture's edge), pad as the whole pass pads, and
        cut the core (`box`, in full-resolution px of the tile). Traced once per kind of pass and kernel
        shapes (the residual blocks share one)."""
        kinds = tuple(self._kind(k) for k in range(first, last + 1))
        output, s = last == len(self.channels) - 1, self.scales[last]
        key = (kinds, tuple(tuple(p.shape) for p in params), output, s, as_bytes, source.name)
        if key in self._concrete:
            return self._concrete[key]
        dtype, whole = self.dtype, first == last

        def run(sources, rows, columns, given, box, unit, identity):
            given, x, kept = list(given), None, None
            for source, operation, stride in kinds:
                kernel = given.pop(0)
                if first == 0 and x is None:  # the picture; as bytes, as load_image reads it (x / 255, an
                    bytes_in = sources[0][4].dtype == tf.uint8  # argument: a constant would be x · (1/255))
                    prepare = functools.partial(_picture, unit=unit if bytes_in else None, dtype=dtype)
                else:
                    mean_factor, offset = given.pop(0), given.pop(0)
                    norm = mean_factor[0], mean_factor[1], offset
                    prepare = _relu_norm if source == "norm" else _residual
                    prepare = functools.partial(prepare, norm=norm, dtype=dtype)
                if x is None:  # the tile with the margins its pass needs (a single convolution's: its padding)
                    (x, kept), padded = _region(sources, rows, columns, prepare), whole
                else:  # the second of two, on the first's output
                    x, padded = prepare(x, core=True)[1], False
                if not padded:  # as the whole pass pads (a tile's margins beyond its core are then cut)
                    edge = [[0, 0], [1, 1], [1, 1], [0, 0]]
                    x = tf.pad(x, edge, "SYMMETRIC") if operation == "up" else reflect_pad(x, kernel.shape[0] // 2)
                if operation == "up":  # `upsample_conv` after its edge-replicating pad
                    x = tf.nn.depth_to_space(convolve(x, upsample_kernel(kernel), 1, "VALID", dtype), 2)
                elif operation == "3x3":
                    x = convolve(x, kernel, stride, "VALID", dtype)
                else:  # 9x9, on blocks; the output convolution adds its bias (no norm cancels it) and a sigmoid
                    x = block_conv(x, kernel, BLOCK, dtype)
                    x = tf.sigmoid(tf.nn.bias_add(x, given.pop(0))) if operation == "out" else x
            core = x if whole else x[:, box[0] // s : box[1] // s, box[2] // s : box[3] // s, :]
            if output:  # no norm follows
                if as_bytes:
                    core = tf.cast(tf.round(tf.clip_by_value(core, 0.0, 1.0) * 255.0), tf.uint8)
                return core, tf.zeros((0,), tf.float64), kept
            return core, _moments(core, *identity), kept

        depth = 3 if first == 0 else self.channels[first - 1]
        piece, index = tf.TensorSpec((1, None, None, depth), source), tf.TensorSpec((None,), tf.int32)
        residual = kinds[0][0] == "as is" and first > 0
        signature = [
            [[piece] * 9] * (2 if residual else 1),
            (index, index),
            (index, index),
            [tf.TensorSpec(p.shape, tf.float32) for p in params],
            tf.TensorSpec((4,), tf.int32),
            tf.TensorSpec((), tf.float32),
            [tf.TensorSpec((self.channels[last],), tf.float32)] * 2,
        ]
        self._passes[key] = tf.function(run, input_signature=signature)
        # called as its one concrete function: a tile's call then skips matching its arguments to the
        # signature again (about a millisecond a call, which tens of tiles in 16 passes would pay)
        self._concrete[key] = self._passes[key].get_concrete_function()
        return self._concrete[key]

    def __call__(self, image: np.ndarray, tile: int, as_bytes: bool = False, keep: bool = True) -> np.ndarray:
        """The network's output for a (1, H, W, 3) picture, float32 in [0, 1] or uint8 (`load_pixels`), with
        cores of `tile` px: float32 in [0, 1], or with `as_bytes` uint8 as `to_uint8` rounds it, each core
        rounded as it is made. `keep`: every convolution once, its full-resolution maps stored (faster);
        False: the full-resolution convolutions twice, only smaller maps stored (see `memory_model`)."""
        stride = self.model.stride
        height, width = image.shape[1:3]
        pad = ((0, 0), (0, (-height) % stride), (0, (-width) % stride), (0, 0))
        source = np.pad(image, pad, mode="reflect") if any(p[1] for p in pad) else image
        # Cores of at least two strides: an edge tile reflects its own rows (two at 1/4 scale, five at full),
        # a neighbour lends `receptive_halo` px at most.
        core = max(2 * stride, stride * (int(tile) // stride))
        grid = [tile_starts(side, core, 2 * stride) for side in source.shape[1:3]]
        self.tiles = len(grid[0]) * len(grid[1])
        # Every map is kept as its tiles' cores (TensorFlow tensors, one a tile): a pass reads a tile's margins
        # from its neighbours' cores, and nothing is assembled until the output.
        pieces = [[tf.constant(source[:, t:b, x0:x1]) for x0, x1 in grid[1]] for t, b in grid[0]]
        stats = np.zeros(2 * sum(self.channels[:-1]), np.float64)
        key = tuple(map(tuple, grid))
        if key not in self._layouts:  # the last picture's grid (a folder's photos often share one)
            self._layouts = {key: _layout(grid)}
        layout = self._layouts[key]
        stream = None  # the residual stream (1/4 scale), from the first block on
        weights = self._weights()
        last, ups = len(self.channels) - 1, 3 + 2 * self.blocks
        for first, k, store in schedule(self.blocks, keep):
            residual = self._kind(first)[0] == "as is" and first > 0
            sources = [stream, pieces] if residual else [pieces]
            # a map read for the last time is let go a tile at a time, once its neighbours have read it
            out = None
            if k == last:  # the only map assembled: each tile's bytes (or floats) put in place as made
                out = np.empty((1, *source.shape[1:3], 3), np.uint8 if as_bytes else np.float32)
            made, kept, tallies = self._sweep(sources, first, k, stats, layout, store, out, weights)
            if k == last:
                return out[:, :height, :width]
            stats = self._fill(stats, k, tallies)
            if store:  # a block's first convolution read the stream (the first block: the head's output)
                stream = kept if self._reads_stream(first) else None if first >= ups else stream
                pieces = made
        raise AssertionError("the schedule ends with the output convolution")

    def _fill(self, stats: np.ndarray, k: int, tallies: list[tuple[int, np.ndarray]]) -> np.ndarray:
        """`stats` with norm k's whole-picture mean and variance from the tiles' (count, [mean, variance])."""
        c, at = self.channels[k], 2 * sum(self.channels[:k])
        counts = np.array([n for n, _ in tallies], np.float64)[:, None]
        means = np.array([m[:c] for _, m in tallies], np.float64)
        variances = np.array([m[c:] for _, m in tallies], np.float64)
        total = counts.sum()
        mean = (counts * means).sum(0) / total
        # Σ n_t (v_t + (m_t − m)²) / N: each tile's spread about its own mean plus its mean's about the whole's
        variance = (counts * (variances + (means - mean) ** 2)).sum(0) / total
        stats = stats.copy()
        stats[at : at + c], stats[at + c : at + 2 * c] = mean, variance
        return stats

    def _sweep(self, sources, first, last, stats, layout, store, out, weights) -> tuple[list, list, list]:
        """Every tile once through convolutions first … last, from `sources` (the maps convolution first
        reads, as grids of tiles: [its input] or [the stream, the branch added to it]): the cores made (when
        `store`), their inputs' cores as prepared in float32 (the stream, when it is read), and each one's
        (pixel count, [mean, variance]). The sources are let go a tile at a time, once every tile that reads
        it is done, unless a later pass reads them again (the lean schedule's statistics passes)."""
        given = [p for k in range(first, last + 1) for p in self._params(k, stats, weights)]
        as_bytes = out is not None and out.dtype == np.uint8
        compiled = self._pass(first, last, given, sources[-1][0][0].dtype, as_bytes)
        s_in = self.scales[first - 1] if first else 1
        if first == last:
            margin, mode = PADDING[self._kind(first)[1]]
        else:
            margin, mode = receptive_halo(self.model, last - first + 1) // s_in, "clip"
        depth = self.channels[last]
        if depth not in self._constants:
            self._constants[depth] = [tf.ones(depth), tf.zeros(depth)]
        identity = self._constants[depth]
        shape = [len(row) for row in sources[0]]
        made, kept, tallies = [[None] * n for n in shape], [[None] * n for n in shape], []
        for (i, j), origin, around, rows, columns, box, count, done in layout(s_in, margin, mode, self.scales[last]):
            parts = [[grid[r][c] for r, c in around] for grid in sources]
            result, found, prepared = compiled(parts, rows, columns, given, box, self._unit, identity)
            tallies.append((count, found.numpy()))
            if out is not None:  # the output's tile, in place
                out[:, origin[0] : origin[0] + result.shape[1], origin[1] : origin[1] + result.shape[2]] = result
            elif store:
                made[i][j] = result
                if self._reads_stream(first):
                    kept[i][j] = prepared
                for r, c in done:  # read by no tile after this one
                    for grid in sources:
                        grid[r][c] = None
        return made, kept, tallies


def _layout(grid: list[list[tuple[int, int]]]):
    """`layout(scale, margin, mode, out_scale)`: for every tile of the `grid` (its cores' [(start, stop)] down
    and across, full-resolution px), what a pass reads and makes: ((i, j), its core's top left corner (full-
    resolution px), the 3×3 tiles around it, the rows' and the columns' margins (`_margins`, as index
    vectors), the core's box in the tile read (full-resolution px), the core's pixels at `out_scale`, the
    tiles read by no tile after it); tensors made once a picture for each kind of read."""
    cache: dict[tuple, list] = {}

    def layout(scale: int, margin: int, mode: str, out_scale: int) -> list:
        key = (scale, margin, mode, out_scale)
        if key not in cache:
            lent = [[_margins(starts, i, scale, margin, mode) for i in range(len(starts))] for starts in grid]
            index = [[(tf.constant(m[1], tf.int32), tf.constant(m[3], tf.int32)) for m in axis] for axis in lent]
            tiles, rows, columns = [], len(grid[0]), len(grid[1])
            # the tile after which each tile is read no more: its last neighbour in raster order
            last = {
                (r, c): min(r + 1, rows - 1) * columns + min(c + 1, columns - 1)
                for r in range(rows)
                for c in range(columns)
            }
            for i, (top, bottom) in enumerate(grid[0]):
                above, before_rows, below, _ = lent[0][i]
                y0 = top - len(before_rows) * scale
                for j, (left, right) in enumerate(grid[1]):
                    before, before_columns, after, _ = lent[1][j]
                    x0 = left - len(before_columns) * scale
                    around = [(r, c) for r in (above, i, below) for c in (before, j, after)]
                    box = tf.constant([top - y0, bottom - y0, left - x0, right - x0], tf.int32)
                    count = (bottom - top) * (right - left) // out_scale**2
                    done = [tile for tile, n in last.items() if n == i * columns + j]
                    tiles.append(((i, j), (top, left), around, index[0][i], index[1][j], box, count, done))
            cache[key] = tiles
        return cache[key]

    return layout


def _affine(x: tf.Tensor, core: bool, norm: tuple) -> tf.Tensor:
    """(x − mean)·factor + offset: a tile's core by `normalize` (one op, where three elementwise ones, each
    starting its threads, broadcast a vector of 8 channels 5–7× slower), its thin margins by the elementwise
    ops (a batch-norm op costs a quarter of a millisecond to start)."""
    return normalize(x, *norm) if core else (x - norm[0]) * norm[1] + norm[2]


def _relu_norm(x: tf.Tensor, core: bool, norm: tuple, dtype: tf.DType) -> tuple[tf.Tensor, tf.Tensor]:
    """ReLU(IN(x)) (`_affine`), and rounded to the convolution's arithmetic."""
    y = tf.nn.relu(_affine(x, core, norm))
    return y, tf.cast(y, dtype)


def _residual(stream: tf.Tensor, x: tf.Tensor, core: bool, norm: tuple, dtype: tf.DType) -> tuple:
    """A residual block's sum stream + IN(branch), and rounded to the convolution's arithmetic."""
    y = stream + _affine(x, core, norm)
    return y, tf.cast(y, dtype)


def _picture(x: tf.Tensor, core: bool, unit: tf.Tensor | None, dtype: tf.DType) -> tuple[tf.Tensor, tf.Tensor]:
    """The picture's pixels as float32 (bytes divided by `unit`, 255), and rounded to the arithmetic."""
    x = x if unit is None else tf.cast(x, tf.float32) / unit
    return x, tf.cast(x, dtype)


def _moments(x: tf.Tensor, ones: tf.Tensor, zeros: tf.Tensor) -> tf.Tensor:
    """[mean, variance] (float64) of each channel of a (1, H, W, C) tile, summed as `networks.moments` sums
    them (rows in float32, the rows' sums in float64, the variance of the maps centred on the float32 mean).
    Fewer than 16 channels are centred by one `normalize` by `ones`, offset by `zeros` (arguments: grappler
    turns a batch norm of constant scale and offset into elementwise ops): subtracting a vector of 8
    broadcast over a map takes 1.5× as long; of 32, half as long."""
    count = tf.cast(tf.shape(x)[1] * tf.shape(x)[2], tf.float64)
    mean = tf.reduce_sum(tf.cast(tf.reduce_sum(x, axis=2), tf.float64), axis=[0, 1]) / count
    mean32 = tf.cast(mean, tf.float32)
    centred = normalize(x, mean32, ones, zeros) if x.shape[-1] < 16 else x - mean32
    variance = tf.reduce_sum(tf.cast(tf.reduce_sum(tf.square(centred), axis=2), tf.float64), axis=[0, 1]) / count
    return tf.concat([mean, variance], 0)
