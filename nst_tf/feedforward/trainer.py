"""Training a one-pass style network: the session that ties network, loss, data and loop.

`TrainSettings` (`nst_tf.feedforward.settings`) holds everything a training run depends on (it goes into the
run's config.json and the model's JSON). `Training(settings, checkpoint_dir)` builds, under the distribution
strategy: the generator
(`nst_tf.feedforward.networks`), the frozen ImageNet VGG16 and the perceptual loss
(`nst_tf.feedforward.loss`), Adam, the photo pipeline (`nst_tf.training.data`) and a resumable
`TrainState`; `training.records(total_steps, should_stop)` is the generator of `nst_tf.records.Step`s. It writes only
checkpoints (into the folder it is given); the caller writes everything else.

Mixed precision: with `mixed_precision=True` the generator and VGG compute in bfloat16 (Keras policy
"mixed_bfloat16"; variables, losses and Adam stay float32). bfloat16 needs no loss scaling.
"""

from __future__ import annotations

import logging

import keras
import numpy as np
import tensorflow as tf

from nst_tf.feedforward.loss import STYLE_LAYERS, LossWeights, PerceptualLoss
from nst_tf.feedforward.networks import build_generator
from nst_tf.feedforward.settings import TrainSettings
from nst_tf.io.images import fit_size, load_image, resize
from nst_tf.training.data import photo_dataset, scan_photos
from nst_tf.training.loop import TrainState, make_strategy, make_train_step, train_loop
from nst_tf.vgg.extractor import FeatureExtractor
from nst_tf.vgg.weights import resolve_weights

log = logging.getLogger(__name__)


def load_style(path: str, longest: int) -> np.ndarray:
    """The style picture, (1, h, w, 3) in [0, 1], with its longest side `longest` px."""
    picture = load_image(path)
    return resize(picture, *fit_size(picture.shape[1], picture.shape[2], longest))


class Training:
    """A ready-to-run training session (see the module docstring). Check settings with `settings.validate()`."""

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
        """Train until the step count reaches `total_steps`; yields a `Step` per step."""
        yield from train_loop(
            self._step, self._batches, self.state, total_steps, self.settings.checkpoint_every, should_stop
        )

    def stylize(self, photos: np.ndarray) -> np.ndarray:
        """The network's output for (B, H, W, 3) photos in [0, 1], as float32 numpy."""
        return np.asarray(self.model(tf.convert_to_tensor(photos, tf.float32), training=False), np.float32)


__all__ = ["TrainSettings", "Training", "load_style"]
