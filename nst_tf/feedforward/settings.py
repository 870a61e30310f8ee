"""The one-pass networks' settings: training one (`TrainSettings`) and stylizing photos with one
(`ApplySettings`). Frozen dataclasses whose fields carry their flags (`nst_tf.config.setting`), so the
`train` and `apply` commands' flags, defaults and help come from here: one place per default. No TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from nst_tf.config import PRECISIONS, setting
from nst_tf.errors import ConfigError

GENERATORS = ("johnson", "texture-net", "texture")  # nst_tf.feedforward.networks builds each
STRATEGIES = ("mirrored", "multi-worker", "default")
CONTENT_LAYER = "block2_conv2"  # relu2_2, as Johnson et al. for style transfer (nst_tf.feedforward.loss)


@dataclass(frozen=True)
class TrainSettings:
    """A training run's settings. Defaults are the shipped models' recipe (see the model JSONs).

    Attributes:
        style: the style picture's path; data: the folder of training photos.
        photo_size: each photo's shorter side before the random crop (0: image_size).
        style_size: the style picture's longest side when its Grams are taken.
        content_layer: the loss network's content layer (relu2_2, as Johnson et al.).
        mixed_precision: the generator and VGG compute in bfloat16 (variables, losses and Adam float32); the
            older spelling of precision "bfloat16".
        precision: "auto" (bfloat16 where nst_tf.perf.precision measures it faster on this machine, else
            float32), "float32" or "bfloat16"; `NetworkTraining` resolves it once and records what it chose.
    """

    style: str
    data: str
    generator: str = setting("johnson", "network", parse="str", choices=GENERATORS)
    width: float = setting(0.5, "channel multiplier", parse="float")
    image_size: int = setting(128, "training crop side in px", parse="int")
    photo_size: int = setting(0, "photos' shorter side before cropping (0: --image-size)", parse="int")
    style_size: int = setting(256, "style picture's longest side in px", parse="int")
    batch: int = setting(4, "photos per step", parse="int")
    learning_rate: float = setting(1e-3, "Adam's learning rate", parse="float")
    content_weight: float = setting(1.0, "alpha", parse="float")
    style_weight: float = setting(10.0, "beta", parse="float")
    tv_weight: float = setting(100.0, "gamma, total variation", parse="float")
    content_layer: str = setting(CONTENT_LAYER)
    weights: str = setting("imagenet-vgg16", "VGG16 loss network weights (random for tests)", parse="str")
    mixed_precision: bool = setting(
        False, "compute in bfloat16 (float32 variables): --precision bfloat16", parse="switch"
    )
    precision: str = setting(
        "auto", "the networks' arithmetic (auto: bfloat16 where measured faster)", parse="str", choices=PRECISIONS
    )
    seed: int = setting(0, "seed of the initial weights, crops and noise", parse="int")
    checkpoint_every: int = setting(200, "checkpoint every N steps", parse="int")
    strategy: str = setting("mirrored", "tf.distribute strategy", parse="str", choices=STRATEGIES)

    def validate(self) -> TrainSettings:
        """Raise ConfigError for settings that make no sense (before anything is built or written); self."""
        if self.generator not in GENERATORS:
            raise ConfigError(f"unknown generator {self.generator!r}; choose one of {', '.join(GENERATORS)}")
        if not 0 < self.width <= 4:
            raise ConfigError(f"--width must be in (0, 4], not {self.width}")
        if self.image_size < 16 or self.style_size < 16:
            raise ConfigError("--image-size and --style-size must be at least 16 px")
        if self.photo_size and self.photo_size < self.image_size:
            raise ConfigError("--photo-size must be at least --image-size (or 0)")
        if self.batch < 1 or self.learning_rate <= 0 or self.checkpoint_every < 0:
            raise ConfigError("--batch and --learning-rate must be positive, --checkpoint-every not negative")
        for name in ("content_weight", "style_weight", "tv_weight"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ConfigError(f"--{name.replace('_', '-')} must be a finite number ≥ 0, not {value}")
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"unknown strategy {self.strategy!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; choose from {', '.join(PRECISIONS)}")
        if self.mixed_precision and self.precision == "float32":
            raise ConfigError("--mixed-precision computes in bfloat16; it cannot go with --precision float32")
        return self

    def resolved(self):
        """(these settings with `precision` decided and `mixed_precision` following it, the decision)."""
        from nst_tf.perf.precision import resolve_precision

        decision = resolve_precision("bfloat16" if self.mixed_precision else self.precision)
        bfloat16 = decision.precision == "bfloat16"
        return dataclasses.replace(self, precision=decision.precision, mixed_precision=bfloat16), decision

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class ApplySettings:
    """How photos go through a network (`nst_tf.feedforward.apply.stylize_photos`).

    Attributes:
        image_size: longest side of each result in px; None: each photo's own size.
        batch: photos of equal size per forward pass.
        preserve_colors: keep each photo's colours (the result's luminance, the photo's chroma).
        precision: the convolutions' arithmetic: "auto" (bfloat16 where nst_tf.perf.precision measures it
            faster on this machine), "float32" or "bfloat16"; instance norm and residual sums stay float32.
        max_memory: the memory to plan within ("3G"); None: what the machine has free. A picture that
            does not fit whole runs in tiles with whole-picture statistics (nst_tf.feedforward.tiles).
        tile: the side of a tile's core in px, forcing tiles; None: planned from max_memory.
    """

    image_size: int | None = setting(None, "longest side of each result in px (default: the photo's own)", parse="int")
    batch: int = setting(4, "photos of equal size per forward pass", parse="int")
    preserve_colors: bool = setting(False, "keep the photo's colours (luminance transfer)", parse="switch")

    precision: str = setting(
        "auto", "the network's arithmetic (auto: bfloat16 where measured faster)", parse="str", choices=PRECISIONS
    )

    max_memory: str | None = setting(None, "memory to fit in, e.g. 3G (default: what is free)", parse="str")
    tile: int | None = setting(None, "tile side in px, forcing tiles (default: planned)", parse="int")

    def validate(self) -> ApplySettings:
        """Raise ConfigError for a batch, size or tile below 1 or an unreadable --max-memory; return self."""
        from nst_tf.perf.tiling import parse_memory

        if self.batch < 1 or (self.image_size is not None and self.image_size < 1):
            raise ConfigError("--batch and --image-size must be positive")
        if self.tile is not None and self.tile < 8:
            raise ConfigError("--tile must be at least 8 px")
        if self.max_memory is not None:
            parse_memory(self.max_memory)
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; choose from {', '.join(PRECISIONS)}")
        return self
