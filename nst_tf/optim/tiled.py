"""The optimisation step on tiles, for pictures whose whole step does not fit in memory (issue 26).

Each step cuts the picture into cores of `tile` px (multiples of 16, so every layer's features line up with
the whole picture's) at a random offset, and runs VGG on each core with `margin` px of its real neighbours
around it (clipped at the picture's edges, where the whole picture's padding is the same). A tile's cost
counts only the feature positions of its core, so the tiles' costs add up to the whole picture's cost and
the sum of the tiles' gradients (over the whole window, margins included) is the whole picture's gradient,
exactly once the margin covers VGG's receptive field (conv5_1: 78 px a side; see memory_plan.MARGIN):

- content: Σ over the core of (a_G − a_C)², a_C sliced from the content features computed once per stage
  (tiled the same way), divided by the whole picture's normaliser (ΣP² for the relative form);
- style: the Gram is not local, so each step first sums the generated picture's Gram G_G over the tiles'
  cores (a forward pass, in float64), then gives each tile the linear term Σ_ij (∂J/∂G_G)_ij ·
  (A_coreᵀA_core)_ij, whose gradient is the whole cost's gradient through its core. Departure from
  crowsonkb/style_transfer's tiling (#10), which compares each tile's own Gram with the style's (Gatys et
  al. have no tiles): that pulls every tile to the whole style separately, a different objective with seams
  at tile edges; here the objective stays the whole picture's, Gatys's, for a third more time per step
  (the forward pass). Reusing the previous step's G_G instead saves it but changes the path: measured 19
  dB PSNR against the whole run after 8 steps of lr 0.05 at 80x96 px, 90 dB fresh (tests/optim/test_tiled.py).
  The reported costs are the whole picture's (means and sums over the whole, as
  `nst_tf.optim.targets.picture_costs`).
- total variation: the squared differences that start in the core, over the whole picture's counts.

The style targets come from the whole style picture at the stage's size, its Grams summed over tiles.

Adam, not L-BFGS: with margins narrower than the receptive field the gradient changes a little with the
random offsets (the objective is then stochastic, and
move what narrow margins miss), which breaks L-BFGS's line search and its curvature pairs, and L-BFGS's
history (40 float64 pictures) alone would not fit where tiles are needed (10 GB at 3840x2880). Adam's four
float32 arrays are updated in row blocks, the same formula as keras.optimizers.Adam.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from nst_tf.config import Config
from nst_tf.losses import costs
from nst_tf.optim.memory_plan import STRIDE, StagePlan, layer_stride
from nst_tf.optim.pictures import initial_image, normalised_blend
from nst_tf.optim.records import COST_NAMES, Stage, Step

log = logging.getLogger(__name__)

BETA_1, BETA_2 = 0.9, 0.999  # Adam's, as nst_tf.optim.adam.make_optimizer (Keras's defaults)
ROWS = 256  # Adam's update runs on blocks of this many rows: no whole-picture temporaries


@dataclass(frozen=True)
class Window:
    """A tile: its core and its window (the core plus margins, clipped to the picture), in px."""

    top: int
    bottom: int
    left: int
    right: int
    core: tuple[int, int, int, int]  # top, bottom, left, right


def _cuts(length: int, tile: int, offset: int) -> list[tuple[int, int]]:
    edges = [0, *[e for e in range(offset, length, tile) if e > 0], length]
    return list(zip(edges[:-1], edges[1:], strict=True))


def tile_windows(height: int, width: int, tile: int, margin: int, offset: tuple[int, int] = (0, 0)) -> list[Window]:
    """The tiles covering a picture: cores cut at offset + k·tile (each axis), windows `margin` px wider."""
    windows = []
    for top, bottom in _cuts(height, tile, offset[0]):
        for left, right in _cuts(width, tile, offset[1]):
            windows.append(
                Window(
                    max(0, top - margin),
                    min(height, bottom + margin),
                    max(0, left - margin),
                    min(width, right + margin),
                    (top, bottom, left, right),
                )
            )
    return windows


def _pooled(length: int, stride: int, padding: str) -> int:
    """Features along a side of `length` px at `stride` (each 2x2 pooling floors, or ceils for "same")."""
    return -(-length // stride) if padding == "same" else length // stride


class TiledObjective:
    """The whole picture's costs and gradient of `config`, computed tile by tile (see the module's notes)."""

    def __init__(self, extractor, config: Config, height: int, width: int, tile: int, margin: int) -> None:
        self.extractor, self.config = extractor, config
        self.height, self.width, self.tile, self.margin = height, width, tile, margin
        self.style_layers = list(config.style_layer_weights) if config.style_weight else []
        self.content_layer = config.content_layer_key if config.content_weight else None
        self.layers = [*self.style_layers, *([self.content_layer] if self.content_layer else [])]
        self.content = None  # (1, n_H, n_W, n_C) of the whole content picture at the content layer
        self.content_norm = 1.0
        self.style_grams: dict[str, tf.Tensor] = {}
        self.style_positions: dict[str, float] = {}
        self._forward = tf.function(self._features_of, reduce_retracing=True)
        self._backward = tf.function(self._gradient_of, reduce_retracing=True)

    # -- geometry ------------------------------------------------------------------------------------
    def _bounds(self, window: Window, height: int, width: int) -> np.ndarray:
        """Per layer (and last, the pixels): the core's [top, bottom, left, right] in the window's features."""
        rows = []
        top, bottom, left, right = window.core
        padding = self.config.pool_padding
        # A core's far edge is a multiple of 16 px from the window's start, or the picture's edge (where the
        # window ends too): either way the pooled count is the whole picture's.
        for stride in [*(layer_stride(layer) for layer in self.layers), 1]:
            rows.append(
                [
                    (top - window.top) // stride,
                    _pooled(bottom - window.top, stride, padding),
                    (left - window.left) // stride,
                    _pooled(right - window.left, stride, padding),
                ]
            )
        return np.asarray(rows, np.int32)

    # -- the compiled halves -------------------------------------------------------------------------
    def _features_of(self, window: tf.Tensor, bounds: tf.Tensor):
        """The core's Gram sums (style layers) and features (content layer) of a window in [0, 1]."""
        features = self.extractor(window)
        grams = []
        for i, layer in enumerate(self.style_layers):
            core = features[layer][:, bounds[i, 0] : bounds[i, 1], bounds[i, 2] : bounds[i, 3], :]
            unrolled = tf.reshape(core, [-1, tf.shape(core)[3]])
            grams.append(tf.matmul(unrolled, unrolled, transpose_a=True))
        content = tf.zeros([1, 0, 0, 0])
        if self.content_layer:
            i = len(self.style_layers)
            content = features[self.content_layer][:, bounds[i, 0] : bounds[i, 1], bounds[i, 2] : bounds[i, 3], :]
        return grams, content

    def _gradient_of(self, window: tf.Tensor, bounds: tf.Tensor, content_core: tf.Tensor, weights):
        """The gradient of the window's share of the cost, and the core's content and TV sums."""
        config, scale = self.config, float(self.config.pixel_scale)
        with tf.GradientTape() as tape:
            tape.watch(window)
            picture = window / scale
            features = self.extractor(picture)
            total = tf.zeros([])
            for i, layer in enumerate(self.style_layers):
                core = features[layer][:, bounds[i, 0] : bounds[i, 1], bounds[i, 2] : bounds[i, 3], :]
                unrolled = tf.reshape(core, [-1, tf.shape(core)[3]])
                # weights: β·∂J_style/∂(ΣAᵀA) of the whole picture, so this term's gradient is the whole's
                total += tf.reduce_sum(weights[i] * tf.matmul(unrolled, unrolled, transpose_a=True))
            content_sum = tf.zeros([])
            if self.content_layer:
                i = len(self.style_layers)
                core = features[self.content_layer][:, bounds[i, 0] : bounds[i, 1], bounds[i, 2] : bounds[i, 3], :]
                content_sum = tf.reduce_sum(tf.square(core - content_core))
                total += config.content_weight * content_sum / self.content_norm
            tv = tf.zeros([2])
            if config.tv_weight:
                tv = self._tv_sums(picture * (1.0 if config.tv_form == "mean" else scale), bounds[-1])
                total += config.tv_weight * tf.reduce_sum(tv / self._tv_counts())
        return tape.gradient(total, window), content_sum, tv

    def _tv_sums(self, picture: tf.Tensor, core: tf.Tensor) -> tf.Tensor:
        """Σ of the squared down and right differences that start in the core (within the picture)."""
        down = tf.square(picture[:, 1:, :, :] - picture[:, :-1, :, :])
        right = tf.square(picture[:, :, 1:, :] - picture[:, :, :-1, :])
        down = down[:, core[0] : tf.minimum(core[1], tf.shape(down)[1]), core[2] : core[3], :]
        right = right[:, core[0] : core[1], core[2] : tf.minimum(core[3], tf.shape(right)[2]), :]
        return tf.stack([tf.reduce_sum(down), tf.reduce_sum(right)])

    def _tv_counts(self) -> tf.Tensor:
        if self.config.tv_form == "sum":
            return tf.ones([2])
        h, w = self.height, self.width
        return tf.constant([3.0 * (h - 1) * w, 3.0 * h * (w - 1)])

    # -- passes over the tiles -----------------------------------------------------------------------
    def gram_pass(
        self, picture: np.ndarray, offset: tuple[int, int] = (0, 0), content_features: bool = False, scale: float = 1
    ) -> tuple[dict, np.ndarray | None]:
        """Whole-picture Gram sums {layer: (n_C, n_C) float64} (and with `content_features`, the content
        layer's features) of a picture of any size in [0, scale], tile by tile (the same tiles and margins)."""
        height, width = picture.shape[1:3]
        grams = {layer: 0.0 for layer in self.style_layers}
        content = None
        if self.content_layer and content_features:
            stride, padding = layer_stride(self.content_layer), self.config.pool_padding
            channels = int(self.extractor(tf.zeros([1, 16, 16, 3]))[self.content_layer].shape[-1])
            shape = (1, _pooled(height, stride, padding), _pooled(width, stride, padding), channels)
            content = np.zeros(shape, np.float32)
        for window in tile_windows(height, width, self.tile, self.margin, offset):
            bounds = self._bounds(window, height, width)
            crop = picture[:, window.top : window.bottom, window.left : window.right] / np.float32(scale)
            tile_grams, core = self._forward(tf.constant(crop, tf.float32), tf.constant(bounds))
            for layer, gram in zip(self.style_layers, tile_grams, strict=True):
                grams[layer] = grams[layer] + gram.numpy().astype(np.float64)
            if content is not None:
                top, left = (edge // stride for edge in window.core[::2])
                content[:, top : top + core.shape[1], left : left + core.shape[2]] = core.numpy()
        return grams, content

    def set_targets(self, content: np.ndarray, styles: Sequence[np.ndarray], style_blend) -> None:
        """The content layer's features of the content picture, and the style Gram targets, by tiles."""
        config = self.config
        if not styles:  # decided before the first pass traces the compiled halves, which read the layers
            self.style_layers, self.layers = [], [self.content_layer] if self.content_layer else []
        if self.content_layer:
            self.content = self.gram_pass(content, content_features=True)[1]
            if config.content_cost_form == "relative":
                self.content_norm = max(float(np.sum(np.square(self.content, dtype=np.float64))), 1e-30)
            else:
                self.content_norm = {"sum": 1.0, "mse": 1.0, "course": 4.0}[config.content_cost_form]
                if config.content_cost_form != "sum":
                    self.content_norm *= float(np.prod(self.content.shape[1:]))
        if not self.style_layers:
            return
        blend = normalised_blend(style_blend, len(styles))
        per_style = [(self.gram_pass(style)[0], style.shape[1:3]) for style in styles]
        for layer in self.style_layers:
            stride = layer_stride(layer)
            parts = []
            for grams, (h, w) in per_style:
                positions = _pooled(h, stride, config.pool_padding) * _pooled(w, stride, config.pool_padding)
                parts.append((self._normalised(grams[layer], positions), positions))
            if len(parts) == 1:  # one style keeps its raw Gram, as nst_tf.optim.targets.compute_targets
                self.style_grams[layer] = tf.constant(parts[0][0][None], tf.float32)
                self.style_positions[layer] = float(parts[0][1])
            else:
                mixed = sum(w * g / n for w, (g, n) in zip(blend, parts, strict=True))
                self.style_grams[layer] = tf.constant(mixed[None], tf.float32)
                self.style_positions[layer] = 1.0

    def _normalised(self, gram_sum: np.ndarray, positions: int) -> np.ndarray:
        if self.config.gram_normalisation == "size":
            return gram_sum / (positions * gram_sum.shape[0])
        return gram_sum

    def style_cost(self, grams: dict) -> tuple[float, list[tf.Tensor]]:
        """J_style of the whole picture whose Gram sums are `grams`, and β·∂J_style/∂(each Gram sum)."""
        config = self.config
        if not self.style_layers:
            return 0.0, []
        sums = [tf.constant(grams[layer], tf.float32) for layer in self.style_layers]
        with tf.GradientTape() as tape:
            for gram in sums:
                tape.watch(gram)
            terms = []
            for layer, gram in zip(self.style_layers, sums, strict=True):
                stride, channels = layer_stride(layer), float(gram.shape[0])
                padding = config.pool_padding
                positions = float(_pooled(self.height, stride, padding) * _pooled(self.width, stride, padding))
                generated = self._normalised(gram, positions)[None]
                cost = costs.gram_style_cost(
                    self.style_grams[layer], generated, tf.constant(positions), tf.constant(channels),
                    self.style_positions[layer], config.style_cost_form, config.gram_normalisation,
                )  # fmt: skip
                terms.append(config.style_layer_weights[layer] * cost[0])
            j_style = tf.add_n(terms)
            weighted = config.style_weight * j_style
        weights = tape.gradient(weighted, sums)
        return float(j_style), weights

    def step(self, picture: np.ndarray, offset: tuple[int, int], gradient: np.ndarray) -> dict[str, float]:
        """The whole picture's gradient of `picture` (pixel units) into `gradient`, and its costs: a forward
        pass over the tiles for its Gram, then a forward and backward pass per tile."""
        grams = self.gram_pass(picture, offset, scale=self.config.pixel_scale)[0]
        j_style, weights = self.style_cost(grams)
        gradient.fill(0.0)
        content_sum, tv = 0.0, np.zeros(2)
        dummy = tf.zeros([1, 1, 1, 1])
        for window in tile_windows(self.height, self.width, self.tile, self.margin, offset):
            bounds = self._bounds(window, self.height, self.width)
            crop = tf.constant(picture[:, window.top : window.bottom, window.left : window.right])
            target = dummy
            if self.content_layer:
                i = len(self.style_layers)
                t, left = (edge // layer_stride(self.content_layer) for edge in window.core[::2])
                rows, cols = bounds[i, 1] - bounds[i, 0], bounds[i, 3] - bounds[i, 2]
                target = tf.constant(self.content[:, t : t + rows, left : left + cols])
            tile_gradient, tile_content, tile_tv = self._backward(crop, tf.constant(bounds), target, weights)
            gradient[:, window.top : window.bottom, window.left : window.right] += tile_gradient.numpy()
            content_sum += float(tile_content)
            tv += tile_tv.numpy()
        j_content = content_sum / self.content_norm if self.content_layer else 0.0
        j_tv = float(np.sum(tv / self._tv_counts().numpy())) if self.config.tv_weight else 0.0
        config = self.config
        total = config.content_weight * j_content + config.style_weight * j_style + config.tv_weight * j_tv
        return {"total": total, "content": j_content, "style": j_style, "tv": j_tv}


def adam_update(
    x: np.ndarray, gradient: np.ndarray, m: np.ndarray, v: np.ndarray, step: int, config: Config, learning_rate: float
) -> None:
    """keras.optimizers.Adam's update of `x` in place (step counts from 1), then the clip, in row blocks."""
    alpha = learning_rate * np.sqrt(1.0 - BETA_2**step) / (1.0 - BETA_1**step)
    for r in range(0, x.shape[1], ROWS):
        rows = slice(r, r + ROWS)
        g, mm, vv = gradient[:, rows], m[:, rows], v[:, rows]
        mm += (g - mm) * (1.0 - BETA_1)
        vv += (np.square(g) - vv) * (1.0 - BETA_2)
        x[:, rows] -= (mm * np.float32(alpha)) / (np.sqrt(vv) + np.float32(config.adam_epsilon))
        if config.clip_every_step:
            np.clip(x[:, rows], 0.0, config.pixel_scale, out=x[:, rows])


def random_offset(rng: np.random.Generator, tile: int) -> tuple[int, int]:
    """A tile grid's offset, a multiple of 16 px below the tile's side, per axis."""
    return tuple(int(v) * STRIDE for v in rng.integers(0, max(1, tile // STRIDE), size=2))


def run_tiled_stage(stage: Stage, plan: StagePlan) -> Iterator[Step]:
    """Steps `stage.first` .. `stage.last` - 1 by Adam on tiles, one Step per update."""
    config = stage.config
    height, width = stage.content.shape[1:3]
    with tf.device(stage.device):
        objective = TiledObjective(stage.extractor, config, height, width, plan.tile, plan.margin)
        objective.set_targets(stage.content, stage.styles, stage.style_blend)
    if stage.start is None:
        start = initial_image(stage.content, config, stage.rng, stage.styles, stage.style_blend)
        x = np.ascontiguousarray(start * config.pixel_scale, np.float32)
    else:
        x = np.array(stage.start, np.float32)
    gradient, m, v = np.zeros_like(x), np.zeros_like(x), np.zeros_like(x)
    learning_rate, count = config.learning_rate, 0
    log.info("Adam in tiles %dx%d, %d px cores, steps %d to %d", width, height, plan.tile, stage.first, stage.last)
    began = time.perf_counter()
    for i in range(stage.first, stage.last):
        if i == config.lr_decay_at:  # cs231n's schedule: a fresh Adam with the decayed rate
            m.fill(0.0), v.fill(0.0)
            learning_rate, count = config.decayed_learning_rate, 0
        with tf.device(stage.device):
            values = objective.step(x, random_offset(stage.rng, plan.tile), gradient)
        count += 1
        adam_update(x, gradient, m, v, count, config, learning_rate)
        picture = raw = None
        if stage.is_snapshot(i):
            raw = x / np.float32(config.pixel_scale)
            picture = raw if config.clip_every_step else np.clip(raw, 0.0, 1.0)
        step_costs = {name: float(values[name]) for name in COST_NAMES}
        yield Step(i, step_costs, time.perf_counter() - began, picture, None, raw)
