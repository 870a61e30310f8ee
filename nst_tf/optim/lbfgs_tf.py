"""TensorFlow's side of L-BFGS: the compiled cost-and-gradient function and the loop of one stage.

`make_cost_and_gradient` builds one `tf.function` (traced once per stage, float32) that returns the costs
of a picture (`nst_tf.optim.targets.picture_costs`) and d total / d pixels. The targets are its arguments,
not constants it closes over, so `run_lbfgs_stage` traces it in this thread while a worker thread computes
the targets (tracing is Python, the targets' forward passes are TensorFlow's C++ kernels: the two overlap,
which takes most of the targets' time off the start of a run). `tf_evaluator` turns it into the
framework-free `Evaluate` the NumPy/SciPy drivers call (`nst_tf.optim.lbfgs`, SciPy's L-BFGS-B;
`nst_tf.optim.closure_lbfgs`, torch.optim.LBFGS's algorithm for the PyTorch tutorial's recipe).
`run_lbfgs_stage` runs one `Stage` and yields a `Step` per iteration (per closure call for the tutorial's).
"""

from __future__ import annotations

import concurrent.futures
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


def target_signature(config: Config, has_styles: bool, pixel: bool = False) -> dict:
    """The structure of the targets `make_cost_and_gradient`'s function takes, as `tf.TensorSpec`s (sizes
    left open): the content features when α > 0, a style Gram and its n_H·n_W per style layer when β > 0,
    a pixel target's picture, mask and weight when there is one."""
    spec: dict = {}
    if pixel:
        spec["pixel"] = {
            "picture": tf.TensorSpec([None] * 4, tf.float32),
            "mask": tf.TensorSpec([None] * 4, tf.float32),
            "weight": tf.TensorSpec([], tf.float32),
        }
    if config.content_weight:
        spec["content"] = tf.TensorSpec([None] * 4, tf.float32)
    if config.style_weight and has_styles:
        spec["grams"] = {layer: tf.TensorSpec([None] * 3, tf.float32) for layer in config.style_layer_weights}
        spec["positions"] = {layer: tf.TensorSpec([], tf.float32) for layer in config.style_layer_weights}
    return spec


def target_arguments(targets: Targets, config: Config, has_styles: bool) -> dict:
    """`targets` in the structure of `target_signature`. The style positions become float32 scalars: the
    costs cast them to float32 anyway (`nst_tf.losses.costs.layer_style_cost`), so nothing changes."""
    arguments: dict = {} if targets.pixel is None else {"pixel": dict(targets.pixel)}
    if config.content_weight:
        arguments["content"] = targets.content
    if config.style_weight and has_styles:
        arguments["grams"] = dict(targets.style_grams)
        arguments["positions"] = {k: tf.constant(v, tf.float32) for k, v in targets.style_positions.items()}
    return arguments


def make_cost_and_gradient(
    extractor: FeatureExtractor,
    config: Config,
    shape: tuple[int, ...],
    has_styles: bool = True,
    pixel_name: str = "",
) -> Callable[[tf.Tensor, dict], tuple[dict[str, tf.Tensor], tf.Tensor]]:
    """The compiled function L-BFGS calls: (pixels (config units, `shape`), targets as `target_arguments`)
    -> (costs, d total / d pixels); with a `pixel_name`, the targets include a pixel target of that name.

    Its input signature is fixed, so it is traced once per stage; `config.jit_compile` compiles it with XLA.
    Autograph is off: the costs branch on Python values only, and converting them would slow the trace.
    """
    scale = float(config.pixel_scale)
    signature = [tf.TensorSpec(shape, tf.float32), target_signature(config, has_styles, bool(pixel_name))]

    @tf.function(input_signature=signature, jit_compile=config.jit_compile, autograph=False)
    def cost_and_gradient(pixels: tf.Tensor, given: dict) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        targets = Targets(given.get("content"), given.get("grams", {}), given.get("positions", {}),
                          given.get("pixel"), pixel_name)  # fmt: skip
        with tf.GradientTape() as tape:
            tape.watch(pixels)
            values = picture_costs(extractor, targets, config, pixels / scale)  # picture in [0, 1]
        return values, tape.gradient(values["total"], pixels)

    return cost_and_gradient


def bound(function: Callable, arguments: dict) -> CostAndGradient:
    """`function` with its targets given: pixels -> (costs, gradient)."""
    return lambda pixels: function(pixels, arguments)


def tf_evaluator(
    function: CostAndGradient, device: str = "/CPU:0", names: tuple[str, ...] = COST_NAMES
) -> lbfgs.Evaluate:
    """`function` as an `Evaluate` on `device` (float32 from here to the gradient), reporting the costs
    `names`. The device scope is entered per call: SciPy calls from its own thread, and device scopes are per
    thread."""

    def evaluate(pixels: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        with tf.device(device):
            values, gradient = function(tf.constant(pixels.astype(np.float32)))
        return {name: float(values[name]) for name in names}, gradient.numpy()

    return evaluate


def cost_names(stage: Stage) -> tuple[str, ...]:
    """The costs a stage's Steps report: the engine's own, and the pixel target's name when it has one."""
    return COST_NAMES + ((stage.pixel_target.name,) if stage.pixel_target is not None else ())


def start_pixels(stage: Stage) -> np.ndarray:
    """Where an L-BFGS stage starts, in the config's pixel units (a saved state: its picture, afresh)."""
    start, config = stage.start, stage.config
    if isinstance(start, OptimizerState):
        check_resume(start, stage.content.shape)
        if start.optimizer:
            raise ConfigError("the saved state is an Adam run's; it cannot be continued with L-BFGS")
        return start.image  # a fresh L-BFGS-B from the saved picture (see nst_tf.optim.lbfgs)
    if start is None:
        return initial_image(stage.content, config, stage.rng, stage.styles, stage.style_blend) * config.pixel_scale
    return np.asarray(start)


def traced_with_targets(stage: Stage) -> tuple[Callable, Targets]:
    """(the traced cost-and-gradient function, the stage's targets): the targets are computed in a worker
    thread while this one traces (device scopes are per thread, so the worker enters its own)."""
    config, has_styles = stage.config, bool(stage.styles)

    def targets() -> Targets:
        with tf.device(stage.device):
            return compute_targets(
                stage.extractor, stage.content, stage.styles, config, stage.style_blend, stage.pixel_target
            )

    pixel_name = stage.pixel_target.name if stage.pixel_target is not None else ""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="nst-targets") as pool:
        pending = pool.submit(targets)
        with tf.device(stage.device):
            shape = tuple(stage.content.shape)
            function = make_cost_and_gradient(stage.extractor, config, shape, has_styles, pixel_name)
            function.get_concrete_function()  # the trace, while the targets compute
        return function, pending.result()


def run_lbfgs_stage(stage: Stage) -> Iterator[Step]:
    """Steps `stage.first` .. `stage.last` - 1 by L-BFGS: costs of the accepted picture, `evaluations` so far,
    and on snapshot steps and the last the picture and (single-scale runs) a `state` to resume from."""
    config, content = stage.config, stage.content
    start = start_pixels(stage)
    function, targets = traced_with_targets(stage)
    arguments = target_arguments(targets, config, bool(stage.styles))
    evaluate = tf_evaluator(bound(function, arguments), stage.device, cost_names(stage))
    log.info("%s %dx%d on %s, steps %d to %d", config.optimizer, content.shape[2], content.shape[1], stage.device,
             stage.first, stage.last)  # fmt: skip
    points = lbfgs.accepted_points(evaluate, start, stage)
    yield from lbfgs.steps_from_points(points, stage)
    if function.experimental_get_tracing_count() != 1:
        log.warning("the cost function was traced %d times", function.experimental_get_tracing_count())
