"""TensorFlow's side of L-BFGS: the compiled cost-and-gradient function and the loop of one stage.

`make_cost_and_gradient` builds one `tf.function` (traced once per run, float32) that returns the costs
of a picture (`nst_tf.optim.targets.picture_costs`) and d total / d pixels; `tf_evaluator` turns it into
the framework-free `Evaluate` the NumPy/SciPy drivers call (`nst_tf.optim.lbfgs`, SciPy's L-BFGS-B;
`nst_tf.optim.closure_lbfgs`, torch.optim.LBFGS's algorithm for the PyTorch tutorial's recipe).
`run_lbfgs_stage` runs one `Stage` and yields a `Step` per iteration (per closure call for the tutorial's).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import numpy as np
import tensorflow as tf

from nst_tf.config import Config
from nst_tf.errors import ConfigError
from nst_tf.optim import lbfgs
from nst_tf.optim.pictures import check_resume, initial_image
from nst_tf.optim.records import COST_NAMES, OptimizerState, Stage, Step
from nst_tf.optim.targets import Targets, compute_targets, picture_costs
from nst_tf.vgg.extractor import FeatureExtractor

log = logging.getLogger(__name__)

CostAndGradient = Callable[[tf.Tensor], tuple[dict[str, tf.Tensor], tf.Tensor]]


def make_cost_and_gradient(
    extractor: FeatureExtractor, targets: Targets, config: Config, shape: tuple[int, ...]
) -> CostAndGradient:
    """The compiled function L-BFGS calls: pixels (config units, `shape`) -> (costs, d total / d pixels).

    Its input signature is fixed, so it is traced once per run; `config.jit_compile` compiles it with XLA.
    """
    scale = float(config.pixel_scale)

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)], jit_compile=config.jit_compile)
    def cost_and_gradient(pixels: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(pixels)
            values = picture_costs(extractor, targets, config, pixels / scale)  # picture in [0, 1]
        return values, tape.gradient(values["total"], pixels)

    return cost_and_gradient


def tf_evaluator(function: CostAndGradient, device: str = "/CPU:0") -> lbfgs.Evaluate:
    """`function` as an `Evaluate` on `device` (float32 from here to the gradient). The device scope is
    entered per call: SciPy calls from its own thread, and device scopes are per thread."""

    def evaluate(pixels: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        with tf.device(device):
            values, gradient = function(tf.constant(pixels.astype(np.float32)))
        return {name: float(values[name]) for name in COST_NAMES}, gradient.numpy()

    return evaluate


def start_pixels(stage: Stage) -> np.ndarray:
    """Where an L-BFGS stage starts, in the config's pixel units (a saved state: its picture, afresh)."""
    start, config = stage.start, stage.config
    if isinstance(start, OptimizerState):
        check_resume(start, stage.content.shape)
        if start.optimizer:
            raise ConfigError("the saved state is an Adam run's; it cannot be continued with L-BFGS")
        return start.image  # a fresh L-BFGS-B from the saved picture (see nst_tf.optim.lbfgs)
    if start is None:
        return initial_image(stage.content, config, stage.rng) * config.pixel_scale
    return np.asarray(start)


def run_lbfgs_stage(stage: Stage) -> Iterator[Step]:
    """Steps `stage.first` .. `stage.last` - 1 by L-BFGS: costs of the accepted picture, `evaluations` so far,
    and on snapshot steps and the last the picture and (single-scale runs) a `state` to resume from."""
    config, content = stage.config, stage.content
    start = start_pixels(stage)
    with tf.device(stage.device):
        targets = compute_targets(stage.extractor, content, stage.styles, config, stage.style_blend)
        function = make_cost_and_gradient(stage.extractor, targets, config, tuple(content.shape))
    log.info("%s %dx%d on %s, steps %d to %d", config.optimizer, content.shape[2], content.shape[1], stage.device,
             stage.first, stage.last)  # fmt: skip
    points = lbfgs.accepted_points(tf_evaluator(function, stage.device), start, stage)
    yield from lbfgs.steps_from_points(points, stage)
    if function.experimental_get_tracing_count() != 1:
        log.warning("the cost function was traced %d times", function.experimental_get_tracing_count())
