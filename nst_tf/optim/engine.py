"""`stylize`: a run from pictures to a stream of Steps, stage by stage, on TensorFlow.

`stylize(content, styles, config)` applies the mode's rules, plans colour preservation and the
coarse-to-fine stages (`nst_tf.optim.pictures`, NumPy), builds (or takes) the feature extractor, and runs
each stage with the optimiser the config names: Adam (`nst_tf.optim.adam`) or L-BFGS
(`nst_tf.optim.lbfgs_tf`). It yields one `Step` record per step (`nst_tf.optim.records`). On CPU the stages
are planned to fit the memory budget first (`nst_tf.optim.memory_plan`): a stage whose step would not fit
runs by Adam, in one piece or on tiles (`nst_tf.optim.tiled`), and a run too big for one stage gets more.

The library never writes files: the caller decides what to keep of the Steps. Pictures are
(1, H, W, 3) float32 RGB in [0, 1] at every boundary.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Iterator, Sequence

import numpy as np
import tensorflow as tf

from nst_tf.config import Config
from nst_tf.errors import ConfigError
from nst_tf.optim.adam import run_adam_stage
from nst_tf.optim.lbfgs_tf import run_lbfgs_stage
from nst_tf.optim.memory_plan import MemoryPlan, plan_memory
from nst_tf.optim.pictures import inputs_for_mode
from nst_tf.optim.records import OptimizerState, PixelTarget, Stage, Step
from nst_tf.optim.stages import needed_layers, run_stages
from nst_tf.optim.tiled import run_tiled_stage
from nst_tf.presets import preset_notes
from nst_tf.vgg.extractor import FeatureExtractor, build_extractor

log = logging.getLogger(__name__)


def resolve_device(choice: str) -> str:
    """ "auto" -> /GPU:0 when TensorFlow sees a GPU, else /CPU:0; "gpu" without one is an error."""
    gpus = tf.config.list_logical_devices("GPU")
    if choice == "gpu" and not gpus:
        raise ConfigError("--device gpu: TensorFlow sees no GPU here")
    if choice in ("gpu", "auto") and gpus:
        return "/GPU:0"
    return "/CPU:0"


def run_stage(stage: Stage) -> Iterator[Step]:
    """One stage by the optimiser the config names."""
    if stage.config.optimizer == "adam":
        return run_adam_stage(stage)
    return run_lbfgs_stage(stage)


def run_planned_stage(plan: MemoryPlan, stage: Stage) -> Iterator[Step]:
    """One stage as the memory plan says: as configured, the whole picture by Adam, or Adam on tiles."""
    planned = plan.stage(*stage.content.shape[1:3])
    if planned is None or (planned.tile is None and planned.optimizer == stage.config.optimizer):
        return run_stage(stage)
    stage = dataclasses.replace(stage, config=dataclasses.replace(stage.config, optimizer=planned.optimizer))
    return run_stage(stage) if planned.tile is None else run_tiled_stage(stage, planned)


def stylize(
    content: np.ndarray | None,
    styles: np.ndarray | Sequence[np.ndarray],
    config: Config | None = None,
    *,
    extractor: FeatureExtractor | None = None,
    style_blend: Sequence[float] | None = None,
    snapshot_every: int | None = None,
    resume: OptimizerState | None = None,
    pixel_target: PixelTarget | None = None,
    memory_plan: MemoryPlan | None = None,
) -> Iterator[Step]:
    """Run style transfer (or texture synthesis, or feature inversion), yielding a `Step` per update.

    Args:
        content: the content picture, (1, H, W, 3) RGB in [0, 1] (any size; resized per `config`); None
            in texture mode.
        styles: one style picture or a list of them, same layout (may be empty in invert mode).
        config: the run's settings (default: the `default` preset); its mode's rules are applied.
        extractor: a ready extractor (else built from `config.weights`).
        style_blend: weights of several styles (normalised); default equal.
        snapshot_every: attach the picture every this many steps (default `config.snapshot_every`);
            the last step (and the last of each scale) always carries it.
        resume: continue from this state (a Step's `state`) up to `config.iterations` steps in all.
        pixel_target: an extra cost toward a picture on weighted pixels (`PixelTarget`; e.g. video's temporal
            cost), added to the total and reported under its name; single-scale runs at its size.
        memory_plan: how the stages fit in memory (`nst_tf.optim.memory_plan.plan_memory`); default: planned
            here on CPU from `config.max_memory` (or what is free), none on a GPU.

    Yields:
        Step records; the generator can be stopped at any time.
    """
    config = (config or Config()).resolved()
    style_list = [styles] if isinstance(styles, np.ndarray) and styles.ndim == 4 else list(styles)
    content, style_list = inputs_for_mode(content, style_list, config)
    if resume is not None and config.scales > 1:
        raise ConfigError("--resume works with single-scale runs only")
    if config.seed is not None:
        tf.random.set_seed(config.seed)
    device = resolve_device(config.device)
    with tf.device(device):
        extractor = extractor or build_extractor(config)  # resolves precision "auto" when it builds
    if config.precision == "auto":  # a run resolved it at its start; a library call: what the extractor does
        bfloat16 = getattr(extractor, "compute_dtype", "float32") == "bfloat16"
        config = config.replace(precision="bfloat16" if bfloat16 else "float32")
    for note in preset_notes(config, extractor.weights, extractor.preprocessing):
        log.warning(note)
    missing = needed_layers(config, bool(style_list)) - set(extractor.layer_names)
    if missing:
        raise ConfigError(f"the extractor given does not compute {', '.join(sorted(missing))}")
    if memory_plan is None and device == "/CPU:0":  # planned to fit before allocating (GPU memory is not)
        memory_plan = plan_memory(config, content.shape[1], content.shape[2], extractor.weights.architecture)
    run = run_stage
    if memory_plan is not None and memory_plan.changes_anything:
        if resume is not None:
            raise ConfigError("--resume cannot continue a run that needs tiles or more scales to fit in memory")
        if pixel_target is not None:  # the tiled step has no pixel cost; a video frame that needs tiles is refused
            raise ConfigError("a frame this large needs tiles to fit in memory; give a smaller --image-size")
        config, run = memory_plan.config, functools.partial(run_planned_stage, memory_plan)
    every = config.snapshot_every if snapshot_every is None else snapshot_every
    yield from run_stages(extractor, content, style_list, config, style_blend, every, resume, device, run, pixel_target)
