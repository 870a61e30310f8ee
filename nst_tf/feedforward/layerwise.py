"""A one-pass network in tiles, one layer at a time: every convolution runs once (issue 26, tiling overhead).

`nst_tf.feedforward.tiles.TiledStylizer` bounds memory by keeping only the picture and two 1/4-scale maps,
so it recomputes the full-resolution layers for every norm it measures (the first convolution four times:
about 2× the whole picture's time). Where memory allows the network's activations to be kept one layer at a
time (about 50 bytes a pixel at width 0.25 instead of the whole pass's 190), `LayerwiseTiles` runs instead:
each convolution is tiled on its own with the margin its kernel needs (4 px for a 9×9, 1 for a 3×3), its
pre-norm output stored whole and its norm's Σx, Σx² summed over the tiles' cores in float64 as the tiles are
made; the next layer normalises its input with those whole-picture statistics and convolves it. The
residual sums are folded into the next layer's input (r ← r + norm(y)), so every stored map is read and
written once. Tiles at the picture's edges are padded as the whole picture is (reflection, or the edge
repeated before an upsampling convolution), so the result equals the whole pass to float rounding.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf

from nst_tf.feedforward.inference import block_conv, convolve, upsample_kernel
from nst_tf.feedforward.tiles import MEASURED_WIDTH
from nst_tf.io.images import to_uint8
from nst_tf.perf.tiling import HEADROOM, MemoryModel, Plan

# Bytes a pixel held by the layer-by-layer pass at width 0.25: two neighbouring float32 maps at most (the
# 9×9 convolution's 8 channels at full size and the next one's 16 at half size, or the same upwards: 48),
# the picture and its result as bytes (6).
HELD_PER_PIXEL = 56.0
MARGIN = 4  # the widest margin a layer's tile needs (the 9×9 convolutions)
MIN_LAYER_TILE = 256  # px: below this the bounded-memory passes with their larger tiles are as quick
PADS = {"conv9": 4, "out": 4, "conv3": 1, "down": 1, "up": 1}  # margin in input pixels on each side


def layer_plan(plan: Plan, memory: MemoryModel, model, forced: bool = False) -> Plan:
    """`plan` (tiles) made layer by layer where that fits its budget: the same tiles, or smaller ones (not
    below MIN_LAYER_TILE px, never for a `forced` --tile) whose working set fits beside the kept maps."""
    grow = max(1.0, float(getattr(model, "width", MEASURED_WIDTH)) / MEASURED_WIDTH)  # as `memory_model`
    held = memory.fixed + HELD_PER_PIXEL * grow * plan.height * plan.width
    room = HEADROOM * plan.budget - held
    side = math.isqrt(max(0, int(room / memory.tile))) - 2 * MARGIN
    tile = min(plan.tile, model.stride * (side // model.stride))
    if tile < (plan.tile if forced else min(plan.tile, MIN_LAYER_TILE)):
        return plan
    tiles = math.ceil(plan.height / tile) * math.ceil(plan.width / tile)
    estimate = held + memory.tile * (tile + 2 * MARGIN) ** 2
    return dataclasses.replace(plan, tile=tile, halo=MARGIN, tiles=tiles, estimate=estimate, layers=True)


def _rows(kind: str, a: int, b: int) -> tuple[int, int]:
    """Input rows [start, stop) that output rows [a, b) of a `kind` layer read (outside the map: padding)."""
    if kind == "down":  # stride 2, reflection pad 1: output o reads input 2o−1 … 2o+1
        return 2 * a - 1, 2 * b
    pad = PADS[kind]
    return a - pad, b + pad


class LayerwiseTiles:
    """`LayerwiseTiles(model, precision)(image, tile, as_bytes)`: the JohnsonNet's output layer by layer.

    Args:
        model: a float32 JohnsonNet (what `nst_tf.feedforward.inference.supports` accepts).
        precision: the convolutions' arithmetic, "float32" or "bfloat16".
    """

    def __init__(self, model, precision: str = "float32") -> None:
        self.model = model
        self.dtype = tf.as_dtype(precision)
        m = model
        # (kind, kernel, the norm of its input (None: the picture), relu on it, residual: r ← r + norm(x))
        layers = [("conv9", m.conv1.conv.kernel, None, False, False)]
        layers += [("down", m.conv2.conv.kernel, m.conv1.norm, True, False)]
        layers += [("down", m.conv3.conv.kernel, m.conv2.norm, True, False)]
        before, relu = m.conv3.norm, True
        for index, block in enumerate(m.res):
            layers += [("conv3", block.conv1.conv.kernel, before, relu, index > 0)]
            layers += [("conv3", block.conv2.conv.kernel, block.conv1.norm, True, False)]
            before, relu = block.norm2, False
        layers += [("up", m.up1.conv.conv.kernel, before, False, True)]
        layers += [("up", m.up2.conv.conv.kernel, m.up1.conv.norm, True, False)]
        layers += [("out", m.out.conv.kernel, m.up2.conv.norm, True, False)]
        self.layers = layers
        self._compiled: dict[int, tf.types.experimental.Function] = {}
        self.tiles = 0

    def __call__(self, image: np.ndarray, tile: int, as_bytes: bool = False) -> np.ndarray:
        """The network's output for a (1, H, W, 3) picture (float32 in [0, 1] or uint8), cores of `tile` px:
        float32 in [0, 1], or uint8 with `as_bytes` (each core rounded as `to_uint8` does)."""
        stride = self.model.stride
        height, width = image.shape[1:3]
        pad = ((0, 0), (0, (-height) % stride), (0, (-width) % stride), (0, 0))
        x = np.pad(image, pad, mode="reflect") if any(p[1] for p in pad) else image
        full, core = x.shape[1:3], max(stride, stride * (int(tile) // stride))
        scale, stats, residual = 1, (np.zeros(3, np.float32), np.ones(3, np.float32)), None
        for index, (kind, _, _, _, adds) in enumerate(self.layers):
            out_scale = {"down": 2 * scale, "up": scale // 2}.get(kind, scale)
            keep = kind == "conv3" and (index == 3 or adds)  # its normalised input is the next residual's r
            x, kept, sums = self._sweep(
                index, x, residual if adds else None, stats, (scale, out_scale), full, core, as_bytes, keep
            )
            residual = kept if keep else residual
            scale = out_scale
            if sums is not None:  # the whole picture's statistics of this output, for the next layer's norm
                count = full[0] * full[1] / (scale * scale)
                mean = sums[0] / count
                stats = (mean.astype(np.float32), np.maximum(sums[1] / count - mean * mean, 0.0).astype(np.float32))
        return x[:, :height, :width]

    def _sweep(self, index, x, residual, stats, scales, full, core, as_bytes, keep):
        """Every tile once through layer `index`: (its output map, its normalised input's cores, [Σy, Σy²] in
        float64 or None for the output layer). Tiles are laid out in full-resolution pixels."""
        kind, kernel = self.layers[index][:2]
        (scale, out_scale), last = scales, kind == "out"
        channels = 3 if last else int(kernel.shape[-1])
        dtype = np.uint8 if last and as_bytes else np.float32
        out = np.empty((1, full[0] // out_scale, full[1] // out_scale, channels), dtype)
        kept = np.empty((1, full[0] // scale, full[1] // scale, x.shape[-1]), np.float32) if keep else None
        unit = scale if kind == "up" else out_scale  # the rows `_rows` counts in
        compiled, total, none = (
            self._layer(index),
            np.zeros((2, channels), np.float64),
            np.zeros((1, 1, 1, 1), np.float32),
        )
        mean, variance = (tf.constant(v) for v in stats)
        self.tiles = 0
        for top, bottom in _cores(full[0], core):
            for left, right in _cores(full[1], core):
                r0, r1, before, after = _region(kind, top // unit, bottom // unit, x.shape[1])
                c0, c1, start, end = _region(kind, left // unit, right // unit, x.shape[2])
                piece = x[:, r0:r1, c0:c1]
                if piece.dtype == np.uint8:  # the picture kept as bytes: this tile as load_image reads it
                    piece = piece.astype(np.float32) / 255.0
                extra = residual[:, r0:r1, c0:c1] if residual is not None else none
                pads = tf.constant([before, after, start, end], tf.int32)
                y, normalised, sums = (
                    t.numpy() for t in compiled(tf.constant(piece), tf.constant(extra), mean, variance, pads)
                )
                self.tiles += 1
                o, s = out_scale, scale
                out[:, top // o : bottom // o, left // o : right // o] = to_uint8(y) if dtype == np.uint8 else y
                if keep:
                    kept[:, top // s : bottom // s, left // s : right // s] = normalised[
                        :, top // s - r0 : bottom // s - r0, left // s - c0 : right // s - c0
                    ]
                total += sums.reshape(2, channels)
        return out, kept, (None if last else total)

    def _layer(self, index: int):
        """Layer `index` compiled: (input region, residual region, mean, variance, pads) -> (output core, the
        normalised input region, [Σy, Σy²] over the core in float64)."""
        if index in self._compiled:
            return self._compiled[index]
        kind, kernel, norm, relu, adds = self.layers[index]
        dtype, model = self.dtype, self.model

        def run(x, extra, mean, variance, pads):
            if norm is not None:
                x = (x - mean) * (norm.scale * tf.math.rsqrt(variance + norm.epsilon)) + norm.offset
                x = tf.nn.relu(x) if relu else x
            if adds:
                x = extra + x
            mode = "SYMMETRIC" if kind == "up" else "REFLECT"
            padded = tf.pad(x, [[0, 0], [pads[0], pads[1]], [pads[2], pads[3]], [0, 0]], mode=mode)
            if kind in ("conv9", "out"):
                y = block_conv(padded, kernel, dtype=dtype)
            elif kind == "up":
                y = tf.nn.depth_to_space(convolve(padded, upsample_kernel(kernel), 1, "VALID", dtype), 2)
            else:
                y = convolve(padded, kernel, 2 if kind == "down" else 1, "VALID", dtype)
            if kind == "out":
                y = tf.sigmoid(tf.nn.bias_add(y, model.out.conv.bias))
            wide = tf.cast(y, tf.float64)
            sums = tf.concat([tf.reduce_sum(wide, [0, 1, 2]), tf.reduce_sum(wide * wide, [0, 1, 2])], 0)
            return y, x, sums

        depth = 3 if index == 0 else int(self.layers[index - 1][1].shape[-1])
        signature = [
            tf.TensorSpec((1, None, None, depth), tf.float32),
            tf.TensorSpec((1, None, None, None), tf.float32),
            tf.TensorSpec((depth,), tf.float32),
            tf.TensorSpec((depth,), tf.float32),
            tf.TensorSpec((4,), tf.int32),
        ]
        self._compiled[index] = tf.function(run, input_signature=signature)
        return self._compiled[index]


def _region(kind: str, a: int, b: int, size: int) -> tuple[int, int, int, int]:
    """(start, stop) of the input rows inside the map that output rows [a, b) read, and the padding
    (before, after) that completes them where they pass the map's edge."""
    start, stop = _rows(kind, a, b)
    return max(0, start), min(size, stop), max(0, -start), max(0, stop - size)


def _cores(length: int, core: int) -> list[tuple[int, int]]:
    return [(start, min(start + core, length)) for start in range(0, length, core)]
