"""The `video` command's settings: a frozen dataclass whose fields carry their flags (`nst_tf.config.setting`),
so `video`'s flags, defaults and help come from here, as every family's do. No TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

from nst_tf.config import PRECISIONS, setting
from nst_tf.errors import ConfigError
from nst_tf.perf.tiling import parse_memory
from nst_tf.universal.settings import METHODS, STYLE_SIZE
from nst_tf.video.io import QUALITY
from nst_tf.video.temporal import DEFAULT_WEIGHT

# The optimisation route's temporal cost weight λ. Measured 6 Dec 2026 (Xeon Sapphire Rapids, 2 shared cores)
# on a 128x72 camera pan over images/hubble_deep_field.jpg, starry_night.jpg, 40 L-BFGS steps on the first
# frame; warping error x1e-3 over 6 frames with 10 steps a later frame (input floor 0.33): warped start alone
# 4.2, + the blend alone 1.75, + λ 30: 3.4, 300: 1.70, + λ 300 + blend 1.18, 3000: 1.08 (but the frame's own
# content and style costs up 8% and 47%); over 5 frames with 40 steps a later frame, where the optimisation
# drifts from its start: start alone 16.1, + blend 3.8 (detail, mean |Laplacian|, 0.188 of 0.200), + λ 300:
# 1.62 (detail 0.200), + λ 300 + blend 1.25 (0.199). So λ 300, and the blend kept after it.
TEMPORAL_COST = 300.0

LIMIT = 100_000  # the largest size, frame count or step count a flag accepts


@dataclass(frozen=True)
class VideoSettings:
    """How a clip is stylized (`nst_tf.video.session`).

    Attributes:
        method: with a style picture, universal WCT or AdaIN (AdaIN by default: 5x faster a frame).
        style_size: the style picture's longest side in px.
        image_size: the result's longest side in px; None: the clip's own (the optimisation route: 256).
        frames: stylize only the first N frames; None: all.
        no_temporal: frame by frame, without the flow-warped blend of the previous result.
        temporal_weight: the previous result's share where the flow holds (nst_tf.video.temporal).
        iterations, later_iterations: the optimisation route's L-BFGS steps on the first frame and on each
            later one (None: a quarter of `iterations`; later frames start from the previous result warped).
        temporal_cost: the optimisation route's temporal cost weight λ (`nst_tf.video.routes.OptimisedRoute`).
        quality: the H.264/VP9 encoder's quality on imageio-ffmpeg's 1-10 scale (`nst_tf.video.io.QUALITY`).
        precision: the one-pass routes' convolutions and the optimisation route's VGG: "auto" (bfloat16 where
            nst_tf.perf.precision measures it faster), "float32" or "bfloat16".
        run_dir: a run folder to keep the record, the measure and a preview in (`nst_tf.video.report`).
        max_memory: the memory to plan each frame's work within ("3G"), the stream's frame buffers included;
            None: what the machine has free. Frames that do not fit whole run in tiles with whole-frame
            statistics (one-pass routes); the optimisation route's frames must fit whole
            (`nst_tf.video.memory`).
    """

    method: str = setting("adain", "with --style: the universal method", parse="str", choices=METHODS)
    style_size: int = setting(STYLE_SIZE, "with --style: the style picture's longest side in px", parse="int")
    image_size: int | None = setting(
        None, "longest side of the result (default: the clip's; --optimise 256)", parse="int"
    )
    frames: int | None = setting(None, "stylize only the first N frames", parse="int")
    no_temporal: bool = setting(False, "frame by frame, no temporal consistency", parse="switch")
    temporal_weight: float = setting(
        DEFAULT_WEIGHT, "the previous frame's share where the flow holds, in [0, 1)", parse="float"
    )
    iterations: int = setting(100, "--optimise: L-BFGS steps on the first frame", parse="int")
    later_iterations: int | None = setting(None, "--optimise: steps on each later frame (default 1/4)", parse="int")
    temporal_cost: float = setting(
        TEMPORAL_COST, "--optimise: the temporal cost's weight (Ruder et al.; 0: none)", parse="float"
    )
    quality: float = setting(
        QUALITY,
        "the encoder's quality, 1-10 (8: H.264 CRF 10, near-lossless; 5: CRF 25, files ~5-10x smaller)",
        parse="float",
    )
    precision: str = setting(
        "auto", "the networks' arithmetic (auto: bfloat16 where measured faster)", parse="str", choices=PRECISIONS
    )
    run_dir: str | None = setting(
        None, "keep config.json (settings, input, warping error) and preview.png here", parse="str", metavar="DIR"
    )

    max_memory: str | None = setting(
        None, "memory to fit in, e.g. 3G: whole frames or tiles (default: what is free)", parse="str"
    )

    def validate(self) -> VideoSettings:
        """Raise ConfigError for a size, count or weight out of range; return self."""
        if self.method not in METHODS:
            raise ConfigError(f"unknown method {self.method!r}; choose from {', '.join(METHODS)}")
        for name in ("image_size", "frames", "iterations", "later_iterations", "style_size"):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= LIMIT:
                raise ConfigError(f"--{name.replace('_', '-')} must be a positive number, not {value}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; choose from {', '.join(PRECISIONS)}")
        if not 0.0 <= self.temporal_cost <= LIMIT:
            raise ConfigError(f"--temporal-cost must be in [0, {LIMIT}], not {self.temporal_cost}")
        if not 1.0 <= self.quality <= 10.0:
            raise ConfigError(f"--quality must be in [1, 10], not {self.quality}")
        if not 0.0 <= self.temporal_weight < 1.0:
            raise ConfigError(f"--temporal-weight must be in [0, 1), not {self.temporal_weight}")
        if self.max_memory is not None:
            parse_memory(self.max_memory)
        return self
