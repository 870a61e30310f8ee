"""The stages of a run, framework-free: coarse to fine, colours preserved, one Step stream.

`run_stages` walks `stage_plan(config)`: it sizes the pictures for each stage, starts each from the
previous stage's picture (upsampled) or the run's start, hands a `Stage` to the backend's stage runner
(TensorFlow's `nst_tf.optim.engine.run_stage`, or the PyTorch twin's), recolours snapshot pictures when
colours are preserved, and counts seconds from the first step. NumPy only, so both backends share it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from nst_tf.config import Config
from nst_tf.errors import ConfigError
from nst_tf.optim.pictures import colour_plan, prepare_images, stage_plan, upsampled_start
from nst_tf.optim.records import OptimizerState, PixelTarget, Stage, Step


def needed_layers(config: Config, has_styles: bool) -> set[str]:
    """The layers the costs of a run read (the content layer when α > 0, the style layers when β > 0)."""
    content = {config.content_layer_key} if config.content_weight else set()
    return content | (set(config.style_layer_weights) if config.style_weight and has_styles else set())


def run_stages(
    extractor,
    content: np.ndarray,
    styles: list[np.ndarray],
    config: Config,
    style_blend: Sequence[float] | None,
    every: int,
    resume: OptimizerState | None,
    device,
    run: Callable[[Stage], Iterator[Step]],
    pixel_target: PixelTarget | None = None,
) -> Iterator[Step]:
    """The stages of a run (coarse to fine), colours preserved, seconds counted from the first step.

    Shared by both backends: `run` runs one `Stage` (TensorFlow's `nst_tf.optim.engine.run_stage`, or the
    twin's). A `pixel_target` must have the (single) stage's picture size.
    """
    rng = np.random.default_rng(config.seed)
    seen_content, seen_styles, recolour = colour_plan(content, styles, config)
    began = time.perf_counter()
    previous: np.ndarray | None = None
    first = 0 if resume is None else resume.steps
    for stage_config, last in stage_plan(config):
        stage_content, stage_styles = prepare_images(seen_content, seen_styles, stage_config)
        start = resume if previous is None else upsampled_start(previous, stage_content, config)
        colour_reference = prepare_images(content, [], stage_config)[0] if recolour else None
        if pixel_target is not None and pixel_target.picture.shape != stage_content.shape:
            raise ConfigError(f"the {pixel_target.name} target is {pixel_target.picture.shape[1:3]}, the picture "
                              f"{stage_content.shape[1:3]}: a pixel target needs one scale at its size")  # fmt: skip
        stage = Stage(
            extractor, stage_content, stage_styles, stage_config, style_blend, start, rng, first, last, every, device,
            pixel_target,
        )  # fmt: skip
        for step in run(stage):
            if step.image is not None and colour_reference is not None:
                step = dataclasses.replace(step, image=recolour(step.image, colour_reference))
            yield dataclasses.replace(step, seconds=time.perf_counter() - began)
            if step.iteration == last - 1:
                previous = step.raw_image
        first = last
