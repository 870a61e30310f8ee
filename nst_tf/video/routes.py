"""The per-frame stylizations `nst_tf.video.stylize_video` drives: `route(frame, start) -> stylized`.

- `NetworkRoute`: a per-style network (`nst_tf.feedforward`; a shipped name or a model folder), one forward
  pass per frame; `start` is not used.
- `UniversalRoute`: WCT or AdaIN (`nst_tf.universal`) with one style picture. The style's statistics (mean
  and covariance of its features at each level) are computed once for the clip instead of once a frame, and
  the content's may be smoothed over time (`content_momentum`: an exponential moving average of each level's
  content mean and covariance), so that the transform itself does not jump between frames.
- `OptimisedRoute`: the optimisation (`nst_tf.optim.engine.stylize`, L-BFGS), after Ruder et al. (2016):
  the first frame runs `config.iterations` from the config's start; every later frame starts from the
  previous result warped by the flow (`start`), runs `later_iterations`, and its total cost has Ruder et al.'s
  temporal term (λ/D)·Σ c·(x − start)² (`nst_tf.optim.records.PixelTarget`, "temporal" in the Steps' costs),
  c the flow's reliable mask as `stylize_video` hands it (the forward–backward check, softened at its edges),
  λ = `temporal_weight`. The costs of each frame's last step are kept in `last_costs`. `stylize_video`'s blend
  still follows each frame (measured: it lowers the warping error a further 0.7-0.77x, detail kept; see
  `nst_tf.video.settings.TEMPORAL_COST`).

Frames are (1, H, W, 3) float32 RGB in [0, 1]; each route returns a picture of the frame's size. The one-pass
routes work on whole frames, or in tiles when `nst_tf.video.memory.plan_frames` sets their `tile` (within
--max-memory): tiles with whole-frame statistics (`nst_tf.feedforward.tiles`, `nst_tf.universal.tiles`), so
the stitched frame is the whole frame's result and the temporal logic after the route sees no difference.
"""

from __future__ import annotations

import functools
import logging

import numpy as np

from nst_tf.config import Config
from nst_tf.errors import ConfigError
from nst_tf.video.settings import TEMPORAL_COST

log = logging.getLogger(__name__)


class NetworkRoute:
    """A shipped or trained per-style network (`model`: a shipped name or a model folder)."""

    def __init__(self, model: str, precision: str = "float32") -> None:
        from nst_tf.feedforward.apply import Stylizer
        from nst_tf.feedforward.model_io import find_model, load_model

        self.folder = find_model(model)
        network, self.meta = load_model(self.folder)
        self.stylizer = Stylizer(network, precision=precision)
        self.stylizer.warm_up()
        self.tile, self.keep = None, True  # whole frames, or tiles as `nst_tf.video.memory.plan_frames` plans

    def check(self, height: int, width: int) -> None:
        """ConfigError if frames of this size are too small for the network."""
        if min(height, width) < self.stylizer.min_size:
            raise ConfigError(f"frames must be at least {self.stylizer.min_size} px on a side for this network")

    def __call__(self, frame: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
        if self.tile is not None:  # whole-frame instance-norm statistics: the whole frame's result, stitched
            return self.stylizer.tiled(frame, self.tile, keep=self.keep)
        return self.stylizer(frame)


class UniversalRoute:
    """WCT or AdaIN with one style picture, (1, h, w, 3) in [0, 1] (read it at the size it should work at).

    Args:
        method: "wct" or "adain".
        style: the style picture.
        alpha: stylization strength in [0, 1].
        content_momentum: the previous frames' share in the content statistics, in [0, 1) (0: each frame's own).
        precision: the encoder's and the decoders' convolutions, "float32" or "bfloat16" (statistics float32).
        model: a loaded `Universal` of `method` to use instead of loading one (the web page keeps one a session;
            `precision` is then the model's own).
    """

    def __init__(
        self,
        method: str,
        style: np.ndarray,
        alpha: float = 1.0,
        content_momentum: float = 0.0,
        precision: str = "float32",
        model=None,
    ) -> None:
        from nst_tf.universal.decoders import load_decoders
        from nst_tf.universal.stylize import Universal
        from nst_tf.universal.transforms import feature_stats
        from nst_tf.vgg.weights import resolve_weights

        if not 0.0 <= alpha <= 1.0 or not 0.0 <= content_momentum < 1.0:
            raise ConfigError("alpha must be in [0, 1] and the content momentum in [0, 1)")
        if model is None:
            model = Universal(resolve_weights("imagenet-vgg16"), load_decoders(method), method, precision=precision)
            model.warm_up()
        elif model.method != method:
            raise ConfigError(f"a {model.method} model given for the {method} route")
        self.model = model
        self.method, self.alpha, self.momentum = method, alpha, content_momentum
        encoded = self.model.encode_all(style)
        full = method == "wct"  # AdaIN: variances only (`_transform`)
        self.style_stats = {level: feature_stats(encoded[level], full=full) for level in self.model.levels}  # once
        self.content_stats: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.tile, self.spare = None, 0.0  # whole frames, or tiles as `nst_tf.video.memory.plan_frames` plans

    def reset(self) -> None:
        """Forget the previous frames' content statistics (`stylize_video` calls this as a clip begins)."""
        self.content_stats.clear()

    def _prepare(self, level: int, stats: tuple[np.ndarray, np.ndarray]):
        """The map that moves this frame's relu{level}_1 features, from the frame's content statistics
        (mean, covariance; smoothed over the frames by the momentum) to the style's (WCT or AdaIN)."""
        from nst_tf.universal.transforms import mover

        mean, cov = stats
        if self.momentum and level in self.content_stats:
            old_mean, old_cov = self.content_stats[level]
            mean = self.momentum * old_mean + (1 - self.momentum) * mean
            cov = self.momentum * old_cov + (1 - self.momentum) * cov
        self.content_stats[level] = (mean, cov)
        # AdaIN's map reads the variances alone (the covariances' diagonals), WCT's the whole covariances
        return mover((mean, cov), [self.style_stats[level]], self.method, self.alpha)

    def _transform(self, features: np.ndarray, level: int) -> np.ndarray:
        """(h, w, C) content features moved to the style's statistics (WCT or AdaIN; see module doc)."""
        from nst_tf.universal.transforms import feature_stats

        # AdaIN reads only the variances: the covariance's diagonal, not the C×C products (the same float64 sums)
        return self._prepare(level, feature_stats(features, full=self.method == "wct"))(features)

    def __call__(self, frame: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
        from nst_tf.universal.networks import crop, pad_to_multiple
        from nst_tf.universal.tiles import tiled_level

        picture, size = pad_to_multiple(frame, 2 ** (max(self.model.levels) - 1))
        if self.tile is not None:  # whole-frame statistics over the tiles (nst_tf.universal.tiles)
            picture = np.asarray(picture, np.float32)
        for level in self.model.levels:  # deepest first, as `Universal.stylize`
            if self.tile is None:
                picture = self.model.decode(self._transform(self.model.encode(picture, level), level), level)
            else:
                prepare = functools.partial(self._prepare, level)
                picture = tiled_level(self.model, picture, level, self.tile, prepare, self.spare)
        return np.asarray(crop(picture, size), np.float32)


class OptimisedRoute:
    """The optimisation route (module doc); `config` as for `nst_tf.optim.engine.stylize` (its size is ignored:
    each frame is optimised at its own size)."""

    needs_start = True  # stylize_video computes the flow before calling it

    def __init__(
        self, style: np.ndarray, config: Config, later_iterations: int, temporal_weight: float = TEMPORAL_COST
    ) -> None:
        from nst_tf.vgg.extractor import build_extractor

        if later_iterations < 1 or not temporal_weight >= 0:
            raise ConfigError("the later frames' iterations must be at least 1 and the temporal cost's weight >= 0")
        self.temporal_weight, self.last_costs = temporal_weight, {}
        self.style = style
        self.config = config.replace(optimizer="lbfgs", snapshot_every=0, scales=1)  # a picture start: L-BFGS
        self.later_iterations = later_iterations
        self.extractor = build_extractor(self.config)
        self.memory_plan = None  # the frames' plan (`nst_tf.video.memory.plan_frames`); None: the engine's own

    def __call__(
        self, frame: np.ndarray, start: np.ndarray | None = None, mask: np.ndarray | None = None
    ) -> np.ndarray:
        """Frame `frame` optimised; from `start` (the warped previous result) with the temporal cost on `mask`."""
        from nst_tf.optim.engine import stylize
        from nst_tf.optim.records import OptimizerState, PixelTarget

        height, width = frame.shape[1:3]
        config = self.config.replace(image_size=max(height, width))
        resume = target = None
        if start is not None:  # a fresh L-BFGS-B from the warped previous result (OptimizerState without Adam's)
            config = config.replace(iterations=self.later_iterations)
            start = np.clip(np.asarray(start, np.float32), 0.0, 1.0)  # a bicubic warp may overshoot [0, 1]
            resume = OptimizerState(0, start * config.pixel_scale, [])
            if mask is not None and self.temporal_weight > 0:
                target = PixelTarget(start, mask, self.temporal_weight, "temporal")
        last = None
        steps = stylize(frame, [self.style], config, extractor=self.extractor, resume=resume, pixel_target=target,
                        memory_plan=self.memory_plan)  # fmt: skip
        for step in steps:
            last = step
        if last is None or last.image is None or last.image.shape != frame.shape:
            raise RuntimeError("the optimisation made no picture of the frame's size")
        self.last_costs = dict(last.costs)
        return last.image.astype(np.float32)
