"""Adam over the pixels: the compiled step and the loop of one stage.

`make_step` builds the step as one `tf.function` from explicit arguments, traced once per run:
tape -> features -> costs (`nst_tf.optim.targets.picture_costs`) -> gradient -> Adam -> clip.
`run_adam_stage` runs the steps of one `Stage` and yields a `Step` per update. A learning-rate schedule
(`Config.lr_decay_at`, cs231n's) restarts Adam with the decayed rate at that step, as the assignment
does by making a new `torch.optim.Adam`: fresh moments, a fresh step count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import keras
import numpy as np
import tensorflow as tf

from nst_tf.config import Config
from nst_tf.errors import ConfigError
from nst_tf.optim.pictures import check_resume, initial_image
from nst_tf.optim.records import COST_NAMES, OptimizerState, Stage, Step
from nst_tf.optim.targets import Targets, compute_targets, picture_costs
from nst_tf.vgg.extractor import FeatureExtractor

log = logging.getLogger(__name__)


def make_optimizer(config: Config) -> keras.optimizers.Optimizer:
    """Adam with the config's learning rate and ε (β₁ = 0.9, β₂ = 0.999 as in both notebooks)."""
    return keras.optimizers.Adam(learning_rate=config.learning_rate, epsilon=config.adam_epsilon)


def make_step(
    extractor: FeatureExtractor,
    targets: Targets,
    config: Config,
    image: tf.Variable,
    optimizer: keras.optimizers.Optimizer,
) -> Callable[[], dict[str, tf.Tensor]]:
    """Build the compiled optimizer step. Everything it closes over is frozen at trace time.

    Returns:
        A `tf.function` taking no arguments that applies one update to `image` and returns the costs of
        the picture it started from.
    """
    scale = float(config.pixel_scale)
    clip = config.clip_every_step
    # Build Adam's slots now: creating variables inside the first trace would make TensorFlow trace twice.
    optimizer.build([image])

    @tf.function(jit_compile=config.jit_compile)
    def step() -> dict[str, tf.Tensor]:
        with tf.GradientTape() as tape:
            values = picture_costs(extractor, targets, config, image / scale)  # picture in [0, 1]
        gradient = tape.gradient(values["total"], image)
        optimizer.apply_gradients([(gradient, image)])
        if clip:
            image.assign(tf.clip_by_value(image, 0.0, scale))
        return values

    return step


def restart(optimizer: keras.optimizers.Optimizer, learning_rate: float) -> None:
    """A fresh Adam in place (step count and moments zero) with a new learning rate; the compiled step
    keeps working, since it reads the optimizer's variables."""
    for variable in optimizer.variables:
        variable.assign(tf.zeros_like(variable))
    optimizer.learning_rate.assign(learning_rate)


def _start_value(stage: Stage) -> np.ndarray:
    """The variable's first value, in the config's pixel units."""
    start, config = stage.start, stage.config
    if start is None:
        return initial_image(stage.content, config, stage.rng, stage.styles, stage.style_blend) * config.pixel_scale
    if isinstance(start, OptimizerState):
        check_resume(start, stage.content.shape)
        if not start.optimizer:
            raise ConfigError("the saved state is an L-BFGS run's; it cannot be continued with Adam")
        return start.image
    return start


def run_adam_stage(stage: Stage) -> Iterator[Step]:
    """Steps `stage.first` .. `stage.last` - 1 by Adam, one Step per update."""
    config, device = stage.config, stage.device
    with tf.device(device):
        targets = compute_targets(
            stage.extractor, stage.content, stage.styles, config, stage.style_blend, stage.pixel_target
        )
        image = tf.Variable(_start_value(stage), dtype=tf.float32, name="generated_image")
        optimizer = make_optimizer(config)
        step = make_step(stage.extractor, targets, config, image, optimizer)
        if isinstance(stage.start, OptimizerState):
            for variable, saved in zip(optimizer.variables, stage.start.optimizer, strict=True):
                variable.assign(saved)
    log.info("Adam %dx%d on %s, steps %d to %d", stage.content.shape[2], stage.content.shape[1], device,
             stage.first, stage.last)  # fmt: skip
    began, names = time.perf_counter(), COST_NAMES + ((targets.pixel_name,) if targets.pixel is not None else ())
    for i in range(stage.first, stage.last):
        with tf.device(device):
            if i == config.lr_decay_at:
                restart(optimizer, config.decayed_learning_rate)
            values = step()
        step_costs = {name: float(values[name]) for name in names}
        picture = state = raw = None
        if stage.is_snapshot(i):
            raw = image.numpy() / config.pixel_scale
            picture = np.clip(raw, 0.0, 1.0)
            if config.scales == 1:
                state = OptimizerState(i + 1, image.numpy(), [v.numpy() for v in optimizer.variables])
        yield Step(i, step_costs, time.perf_counter() - began, picture, state, raw)
    # Tracing more than once would mean the step is rebuilt per call: slow, and a bug.
    if step.experimental_get_tracing_count() != 1:
        log.warning("the optimizer step was traced %d times", step.experimental_get_tracing_count())
