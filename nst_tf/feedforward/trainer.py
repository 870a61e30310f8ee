"""Training a one-pass style network: settings, and the session that ties network, loss, data and loop.

`TrainSettings` holds everything a training run depends on (it goes into the run's config.json and the
model's JSON). `Training(settings, checkpoint_dir)` builds, under the distribution strategy: the generator
(`nst_tf.feedforward.networks`), the frozen ImageNet VGG16 and the perceptual loss
(`nst_tf.feedforward.loss`), Adam, the photo pipeline (`nst_tf.feedforward.data`) and a resumable
`TrainState`; `training.records(total_steps, should_stop)` is the generator of `StepRecord`s. It writes only
checkpoints (into the folder it is given); the caller writes everything else.

Mixed precision: with `mixed_precision=True` the generator and VGG compute in bfloat16 (Keras policy
"mixed_bfloat16"; variables, losses and Adam stay float32). bfloat16 needs no loss scaling.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from nst_tf.errors import ConfigError
from nst_tf.feedforward.data import photo_dataset, scan_photos
from nst_tf.feedforward.loop import StepRecord, TrainState, make_strategy, make_train_step, train_loop
from nst_tf.feedforward.loss import CONTENT_LAYER, STYLE_LAYERS, LossWeights, PerceptualLoss
from nst_tf.feedforward.networks import GENERATORS, build_generator
from nst_tf.io.images import fit_size, load_image, resize
from nst_tf.vgg.extractor import FeatureExtractor
from nst_tf.vgg.weights import resolve_weights

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    """A training run's settings. Defaults are the shipped models' recipe (see the model JSONs)."""

    style: str
    data: str
    generator: str = "johnson"
    width: float = 0.5
    image_size: int = 128
    photo_size: int = 0  # shorter side of each photo before the random crop (0: image_size)
    style_size: int = 256  # longest side of the style picture when its Grams are taken
    batch: int = 4
    learning_rate: float = 1e-3
    content_weight: float = 1.0
    style_weight: float = 10.0
    tv_weight: float = 100.0
    content_layer: str = CONTENT_LAYER  # relu2_2, as Johnson et al. for style transfer
    weights: str = "imagenet-vgg16"
    mixed_precision: bool = False
    seed: int = 0
    checkpoint_every: int = 200
    strategy: str = "mirrored"

    def check(self) -> None:
        """Raise ConfigError for settings that make no sense (before anything is built or written)."""
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
            if not (value >= 0 and np.isfinite(value)):
                raise ConfigError(f"--{name.replace('_', '-')} must be a finite number ≥ 0, not {value}")
        if self.strategy not in ("mirrored", "multi-worker", "default"):
            raise ConfigError(f"unknown strategy {self.strategy!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def load_style(path: str, longest: int) -> np.ndarray:
    """The style picture, (1, h, w, 3) in [0, 1], with its longest side `longest` px."""
    picture = load_image(path)
    return resize(picture, *fit_size(picture.shape[1], picture.shape[2], longest))


class Training:
    """A ready-to-run training session (see the module docstring). Check settings with `settings.check()`."""

    def __init__(self, settings: TrainSettings, checkpoint_dir: str) -> None:
        self.settings = s = settings
        self.photos = scan_photos(s.data)
        style_image = load_style(s.style, s.style_size)
        keras.utils.set_random_seed(s.seed)
        self.strategy = make_strategy(s.strategy)
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_bfloat16" if s.mixed_precision else "float32")
        try:
            with self.strategy.scope():
                self.model = build_generator(s.generator, s.width, seed=s.seed)
                optimizer = keras.optimizers.Adam(learning_rate=s.learning_rate)
                self.state = TrainState(checkpoint_dir, self.model, optimizer)
                vgg = resolve_weights(s.weights, seed=s.seed)
                layers = sorted(set(STYLE_LAYERS) | {s.content_layer})
                extractor = FeatureExtractor(vgg, layers, pooling="max")
                content = None if s.generator == "texture" else FeatureExtractor(vgg, [s.content_layer], "max")
                weights = LossWeights(s.content_weight, s.style_weight, s.tv_weight)
                self.loss = PerceptualLoss(extractor, style_image, weights, content)
        finally:
            keras.config.set_dtype_policy(previous)
        with self.strategy.scope():  # Adam's slots are made by the restore: mirrored, as the model's variables
            self.start_step = self.state.restore()
        resize_to = s.photo_size or s.image_size
        dataset, _ = photo_dataset(
            self.photos, s.image_size, s.batch, seed=s.seed + self.start_step, resize_to=resize_to
        )
        self._batches = iter(self.strategy.experimental_distribute_dataset(dataset))
        self._step = make_train_step(self.strategy, self.state, self._compute_losses)

    def _compute_losses(self, photos: tf.Tensor) -> dict[str, tf.Tensor]:
        outputs = self.model(photos, training=True)
        return self.loss(photos, outputs)

    def records(self, total_steps: int, should_stop=lambda: False):
        """Train until the step count reaches `total_steps`; yields a `StepRecord` per step."""
        yield from train_loop(
            self._step, self._batches, self.state, total_steps, self.settings.checkpoint_every, should_stop
        )

    def stylize(self, photos: np.ndarray) -> np.ndarray:
        """The network's output for (B, H, W, 3) photos in [0, 1], as float32 numpy."""
        return np.asarray(self.model(tf.convert_to_tensor(photos, tf.float32), training=False), np.float32)


__all__ = ["StepRecord", "TrainSettings", "Training", "load_style"]
