"""Step parity, teacher-forced: at every step both backends start from TensorFlow's picture.

A free-running comparison cannot tell a different algorithm from rounding that the optimiser amplified
(Adam turns the rounding of a near-zero gradient into a ±lr step; L-BFGS's line search accepts another
point). Here nothing is carried over from one backend's step to the next: at each step both backends
evaluate the costs and the gradient at the same pixels x_k (TensorFlow's), and both optimisers update
from the same state, so every figure measures one step's disagreement, never an accumulated one.

- Adam: Keras's Adam (TensorFlow) and the twin's `KerasAdam` (PyTorch) both receive TensorFlow's gradient
  and have received the same gradients before, so their moments agree to rounding; both updates are
  clipped; TensorFlow's becomes x_{k+1}. The gradient's own disagreement is measured separately.
- L-BFGS (SciPy's L-BFGS-B, and the port of torch.optim.LBFGS): the drivers are NumPy code shared by
  both backends (`nst_tf.optim.lbfgs`, `nst_tf.optim.closure_lbfgs`), so their update is the same code; the
  driver runs on TensorFlow's cost and gradient, and at every point it evaluates, the twin evaluates too.

`stage_runner(twin_extractor, dtype, records)` is a `nst_tf.optim.stages.run_stages` runner (so scales,
colour options and blends follow the run's own stages); it appends one `StepParity` per step to `records`.
`summary(records, dtype)` reduces them to the judged figures.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf
import torch

from nst_tf.config import Config
from nst_tf.optim import lbfgs
from nst_tf.optim.adam import make_optimizer, restart
from nst_tf.optim.lbfgs_tf import start_pixels
from nst_tf.optim.records import COST_NAMES, Stage, Step
from nst_tf.optim.targets import compute_targets
from nst_tf.parity import tf_side
from nst_tf.twin import torch_run

# Tolerances of one step, both backends at the same pixels. Where the float32 figures come from
# (ε = 2⁻²³ ≈ 1.19e-7, float32's machine epsilon):
# - a cost is a sum of squares over up to ~10⁵ terms, after ≤ 16 convolutions whose dot products have
#   length K ≤ 9·512 = 4608. oneDNN and ATen sum in different orders (blocked vs. pairwise): the error of
#   a dot product is ~√K·ε relative to Σ|terms| in practice (random-walk rounding), ≈ 68·ε ≈ 8e-6 at the
#   deepest layer, and it does not grow much through the network because ReLU and pooling are exact.
#   Costs: 1e-5 (measured: ≤ 1e-6 with the shipped weights), unless a cost loses digits to cancellation (a sum
#   of near-equal features' differences): then twice its own float32 rounding (`_cost_scale`).
# - the float32 gradient (‖Δg‖₂/‖g‖₂, reported, not judged): the backward pass through the same layers,
#   so ~1e-6 like the costs, except when a ReLU input or a max-pool tie lies within rounding of its kink:
#   it goes one way in one backend and the other way in the other, and a few elements change by their
#   whole size (measured: up to 4e-3 of the 2-norm, 7e-3 of max|g|, after 40 Adam steps, ImageNet weights,
#   48 px). That is rounding deciding a discrete choice, not another formula, so the gradient is judged in
#   float64 instead (both backends, at the same float32 pixels): rounding there is 2²⁹ times finer, no kink
#   is in reach, and any formula that differs shows: ≤ 1e-10 (measured: ~3e-15).
# - Adam's update: both backends apply Keras's formula to the same float32 gradient and moments that
#   agree to a few ulps; the update lr_t·m/(√v + ε̂) is ~8 roundings (≤ 8·ε/2 relative) and x − u rounds
#   once more, at 1 ulp of x. An element passes when |Δx_{k+1}| ≤ 2 ulp(x) + 32·ε·|u|; the figure is the
#   worst element's |Δx| over its allowance (≤ 1 passes).
# In float64 rounding is ~1e-16: anything above 1e-10 is a real difference.
STEP_TOLERANCES = {
    "float32": {"step_cost_max_rel_err": 1e-5, "step_grad64_max_rel_err": 1e-10, "step_update_err": 1.0},
    "float64": {"step_cost_max_rel_err": 1e-10, "step_grad_max_rel_err": 1e-10, "step_update_err": 1.0},
}
# A cost value this far below its term's largest is the rounding noise of a zero (J_content at a content
# start whose pixels went through a pixel scale, e.g. cs231n's 1/0.226): its relative error means nothing.
NOISE_FLOOR = 1e-6
# The triangle inequality's factor: two float32 roundings of one exact result are at most the sum of their
# distances from it. A cost whose own float32 rounding (its float32-vs-float64 distance, on either backend) is
# larger than the flat bound allows is judged against ENVELOPE_FACTOR × that rounding (`_cost_scale`); the free
# runs' envelope (nst_tf.parity.compare) and the one-pass bound (nst_tf.parity.one_pass) use the same factor.
ENVELOPE_FACTOR = 2.0


@dataclass
class StepParity:
    """One evaluation at the same pixels: both backends' costs, the gradient's error, the update's."""

    iteration: int
    tf_costs: dict[str, float]
    twin_costs: dict[str, float]
    grad_rel_err: float  # ‖Δg‖₂ / ‖g‖₂
    update_err: float | None = None  # Adam only (L-BFGS's update is shared code)
    extra: dict = field(default_factory=dict)


def max_rel_err(reference: np.ndarray, other: np.ndarray) -> float:
    """max|reference − other| / max|reference| (0 when both are all zero)."""
    reference, other = np.asarray(reference, np.float64), np.asarray(other, np.float64)
    scale = float(np.abs(reference).max())
    diff = float(np.abs(reference - other).max())
    if scale == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / scale


def norm_rel_err(reference: np.ndarray, other: np.ndarray) -> float:
    """‖reference − other‖₂ / ‖reference‖₂ (0 when both are all zero)."""
    reference, other = np.asarray(reference, np.float64), np.asarray(other, np.float64)
    scale, diff = float(np.linalg.norm(reference)), float(np.linalg.norm(reference - other))
    if scale == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / scale


def _both(tf_evaluate, twin_evaluate, records: list[StepParity], iteration: Callable[[], int], references=None):
    """An Evaluate that returns TensorFlow's cost and gradient and records the twin's disagreement there
    (and, given `references`, the float64 evaluators of both backends, their gradients' disagreement)."""

    def evaluate(pixels: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        tf_costs, tf_gradient = tf_evaluate(pixels)
        twin_costs, twin_gradient = twin_evaluate(pixels)
        step = StepParity(iteration(), tf_costs, twin_costs, norm_rel_err(tf_gradient, twin_gradient))
        step.extra["grad_max_elem_rel_err"] = max_rel_err(tf_gradient, twin_gradient)
        if references is not None:
            x64 = np.asarray(pixels, np.float64)
            (tf64_costs, tf64_gradient), (twin64_costs, twin64_gradient) = (f(x64) for f in references)
            step.extra["grad64_rel_err"] = norm_rel_err(tf64_gradient, twin64_gradient)
            # Each cost's own float32 rounding at this point: the larger of the two backends' float32-vs-float64
            # distances (what `summary` widens a cancelling cost's bound to).
            step.extra["cost_rounding"] = {
                t: max(abs(tf_costs[t] - tf64_costs[t]), abs(twin_costs[t] - twin64_costs[t])) for t in COST_NAMES
            }
        records.append(step)
        return tf_costs, tf_gradient

    return evaluate


def _update_err(x: np.ndarray, tf_next: np.ndarray, twin_next: np.ndarray, float_type) -> float:
    """The worst element's |Δx_{k+1}| over its allowance 2 ulp(x) + 32·ε·|u| (see STEP_TOLERANCES)."""
    eps = float(np.finfo(float_type).eps)
    update = np.abs(tf_next.astype(np.float64) - x.astype(np.float64))
    allowance = 2.0 * np.spacing(np.abs(x).astype(float_type)).astype(np.float64) + 32.0 * eps * update
    diff = np.abs(tf_next.astype(np.float64) - twin_next.astype(np.float64))
    return float((diff / np.maximum(allowance, np.finfo(np.float64).tiny)).max())


def stage_runner(
    twin_extractor, dtype: torch.dtype, records: list[StepParity], float64_extractors: tuple | None = None
) -> Callable[[Stage], Iterator[Step]]:
    """A run_stages runner: TensorFlow's trajectory, each step evaluated by both backends (see the module);
    `float64_extractors` (TensorFlow's, the twin's) also evaluate both gradients in float64 at each point."""
    float64 = dtype == torch.float64
    float_type = np.float64 if float64 else np.float32

    def run(stage: Stage) -> Iterator[Step]:
        config = stage.config
        tf_targets = compute_targets(stage.extractor, stage.content, stage.styles, config, stage.style_blend)
        twin_targets = torch_run.compute_targets(twin_extractor, stage.content, stage.styles, config, stage.style_blend)
        tf_evaluate = tf_side.evaluator(stage.extractor, tf_targets, config, float64)
        twin_evaluate = torch_run.evaluator(twin_extractor, twin_targets, config, dtype, twin_extractor.device)
        references = None
        if float64_extractors is not None:
            tf64, twin64 = float64_extractors
            args = (stage.content, stage.styles, config, stage.style_blend)
            references = (
                tf_side.evaluator(tf64, compute_targets(tf64, *args), config, True),
                torch_run.evaluator(
                    twin64, torch_run.compute_targets(twin64, *args), config, torch.float64, twin64.device
                ),
            )
        current = [stage.first]
        evaluate = _both(tf_evaluate, twin_evaluate, records, lambda: current[0], references)
        start = start_pixels(stage).astype(float_type)
        if config.optimizer == "adam":
            points = _adam_points(evaluate, start, stage, float_type, records)
        else:
            points = lbfgs.accepted_points(evaluate, start, stage)
        began = time.perf_counter()
        for i, (x, costs, _) in enumerate(points, stage.first):
            raw = x.astype(float_type) / config.pixel_scale if i == stage.last - 1 else None
            picture = None if raw is None else np.clip(raw, 0.0, 1.0)
            yield Step(i, costs, time.perf_counter() - began, picture, None, raw)
            current[0] = i + 1

    return run


def _adam_points(evaluate, start: np.ndarray, stage: Stage, float_type, records: list[StepParity]):
    """(x_{k+1}, costs at x_k, k) per Adam step: both Adams fed TensorFlow's gradient at TensorFlow's x_k."""
    config: Config = stage.config
    dtype = tf.float64 if float_type == np.float64 else tf.float32
    scale = float(config.pixel_scale)
    variable = tf.Variable(start, dtype=dtype)
    with tf_side.keras_float64() if float_type == np.float64 else contextlib.nullcontext():
        optimizer = make_optimizer(config)
    optimizer.build([variable])
    twin_dtype = torch.float64 if float_type == np.float64 else torch.float32
    twin_variable = torch.tensor(start, dtype=twin_dtype)
    twin_adam = torch_run.KerasAdam(twin_variable, config.learning_rate, config.adam_epsilon)
    x = start
    for i in range(stage.first, stage.last):
        if i == config.lr_decay_at:
            restart(optimizer, config.decayed_learning_rate)
            twin_adam.restart(config.decayed_learning_rate)
        costs, gradient = evaluate(x)
        variable.assign(x)
        optimizer.apply_gradients([(tf.constant(gradient, dtype), variable)])
        if config.clip_every_step:
            variable.assign(tf.clip_by_value(variable, 0.0, scale))
        with torch.no_grad():
            twin_variable.copy_(torch.from_numpy(np.asarray(x, float_type)))
            twin_adam.apply(torch.from_numpy(np.asarray(gradient, float_type)))
            if config.clip_every_step:
                twin_variable.clamp_(0.0, scale)
        tf_next = variable.numpy()
        records[-1].update_err = _update_err(x, tf_next, twin_variable.numpy(), float_type)
        yield tf_next, costs, 1
        x = tf_next


def _cost_scale(cost: float, rounding: float, tolerance: float) -> float:
    """What a cost's backend difference is divided by: |cost|, or, where the cost's own float32 rounding is
    larger than the flat bound allows, ENVELOPE_FACTOR · rounding / tolerance. So a cost passes when
    |tf − torch| ≤ max(tolerance · |cost|, ENVELOPE_FACTOR · rounding): the triangle inequality, as the free
    runs' envelope. A cost that is a difference of near-equal features (J_content with the picture near the
    content: a course preset's start, the content plus 0.25 of noise through random weights, measured
    2.7e-5 relative apart on both backends' float32 while their float64 gradients agree to 2e-15) loses
    digits to cancellation in float32 on each side; a real difference still shows, as it is far larger than
    float32's own rounding of that cost."""
    return max(abs(cost), ENVELOPE_FACTOR * rounding / tolerance)


def summary(records: list[StepParity], precision: str) -> dict:
    """The judged figures over every evaluation, and the per-step detail for the report and plot."""
    cost_errors: dict[str, float | None] = {}
    widened: set[str] = set()
    tolerance = STEP_TOLERANCES[precision]["step_cost_max_rel_err"]
    for term in COST_NAMES:
        floor = NOISE_FLOOR * max((abs(r.tf_costs[term]) for r in records), default=0.0)
        worst = None
        for r in records:
            x, y = r.tf_costs[term], r.twin_costs[term]
            if (x == 0.0 and y == 0.0) or max(abs(x), abs(y)) < floor:
                continue
            scale = _cost_scale(x, r.extra.get("cost_rounding", {}).get(term, 0.0), tolerance)
            if scale > abs(x):
                widened.add(term)
            err = abs(x - y) / scale if scale != 0.0 else math.inf
            worst = err if worst is None else max(worst, err)
        cost_errors[term] = worst
    updates = [r.update_err for r in records if r.update_err is not None]
    figures = {
        "step_cost_max_rel_err": max((e for e in cost_errors.values() if e is not None), default=0.0),
        "step_grad_max_rel_err": max((r.grad_rel_err for r in records), default=0.0),
        "step_update_err": max(updates, default=0.0),
        "step_grad64_max_rel_err": max((r.extra.get("grad64_rel_err", 0.0) for r in records), default=0.0),
    }
    worst_element = max((r.extra.get("grad_max_elem_rel_err", 0.0) for r in records), default=0.0)
    tolerances = STEP_TOLERANCES[precision]
    rows = [
        {
            "iteration": r.iteration,
            "cost_rel_err": max(  # as judged: a cancelling cost against its own rounding (`_cost_scale`)
                (
                    abs(r.tf_costs[t] - r.twin_costs[t])
                    / _cost_scale(r.tf_costs[t], r.extra.get("cost_rounding", {}).get(t, 0.0), tolerance)
                    for t in COST_NAMES
                    if r.tf_costs[t]
                ),
                default=0.0,
            ),
            "grad_rel_err": r.grad_rel_err,
            "grad_max_elem_rel_err": r.extra.get("grad_max_elem_rel_err"),
            "grad64_rel_err": r.extra.get("grad64_rel_err"),
            "update_err": r.update_err,
        }
        for r in records
    ]
    return {
        **figures,
        "evaluations": len(records),
        "grad_max_elem_rel_err": worst_element,
        "cost_rel_err": cost_errors,
        "cost_bound_widened": sorted(widened),
        "tolerances": tolerances,
        "ok": all(figures[k] <= v for k, v in tolerances.items()),
        "rows": rows,
    }
