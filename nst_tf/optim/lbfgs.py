"""L-BFGS over the pixels: SciPy's L-BFGS-B driven by one compiled cost-and-gradient function.

`run_stage` is the L-BFGS counterpart of the Adam loop in `nst_tf.optim.engine` (which dispatches to it when
`config.optimizer == "lbfgs"`, so modes, coarse-to-fine scales and colour preservation work unchanged);
`stylize_lbfgs` is `optimize.stylize` with L-BFGS forced on. The costs and their gradient come from one
`tf.function` (`make_cost_and_gradient`), traced once per run, in float32; float64 appears only at the
SciPy boundary, because L-BFGS-B works in float64.

What one step is: one L-BFGS-B iteration, i.e. one accepted point after a line search that may spend
several cost evaluations (usually one; more early on). Each Step carries `evaluations`, the running count,
so time and work per step can be compared with Adam's one evaluation per step. Unlike Adam's Step, whose
costs are those of the picture the step started from, an L-BFGS Step reports the costs of the picture it
accepted (the line search has already evaluated it, so no extra work is spent).

Stopping rules: ftol = gtol = 0, so L-BFGS-B never quits early because the cost got small; it runs
`iterations` iterations (maxiter) with a generous evaluation budget. Should its line search make no more
progress (float32 noise near a minimum) it is restarted from its last point with a fresh history; if even
that makes no progress the picture is final and the remaining Steps repeat it. A run therefore always
yields exactly its requested number of Steps, the last one with the picture.

SciPy's minimize is callback-driven, so it runs in a worker thread that hands each iteration to the
generator and waits: nothing is computed ahead of the consumer, and closing the generator stops the
optimisation (the callback raises StopIteration, SciPy's own way to halt).

Resuming: a snapshot Step's `state` holds the accepted picture (and no optimizer arrays). SciPy keeps its
curvature pairs inside one `minimize` call and offers no way to hand them back in, so a resumed run starts
L-BFGS-B afresh from that picture: it continues downhill from exactly where the run stopped, but its first
few iterations rebuild the history, so it is not bit for bit the uninterrupted run (Adam's resume is).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import scipy.optimize
import tensorflow as tf

from nst_tf.config import Config
from nst_tf.errors import ConfigError
from nst_tf.optim import engine as optimize
from nst_tf.vgg.extractor import FeatureExtractor

log = logging.getLogger(__name__)

# Curvature pairs kept by L-BFGS-B (SciPy's default); memory: 2·HISTORY·n float64 values.
HISTORY = 10
# Cost evaluations allowed per iteration before SciPy stops (it rarely needs more than 2 or 3).
EVALUATIONS_PER_ITERATION = 20

CostAndGradient = Callable[[tf.Tensor], tuple[dict[str, tf.Tensor], tf.Tensor]]


def make_cost_and_gradient(
    extractor: FeatureExtractor, targets: optimize.Targets, config: Config, shape: tuple[int, ...]
) -> CostAndGradient:
    """The compiled function L-BFGS calls: pixels (config units, `shape`) -> (costs, d total / d pixels).

    Its input signature is fixed, so it is traced once per run; `config.jit_compile` compiles it with XLA.
    """
    scale = float(config.pixel_scale)

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)], jit_compile=config.jit_compile)
    def cost_and_gradient(pixels: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(pixels)
            values = optimize.picture_costs(extractor, targets, config, pixels / scale)  # picture in [0, 1]
        return values, tape.gradient(values["total"], pixels)

    return cost_and_gradient


# pixels (float64, the picture's shape, config units) -> ({cost name: value}, d total / d pixels as an array)
Evaluate = Callable[[np.ndarray], tuple[dict[str, float], np.ndarray]]


def tf_evaluator(function: CostAndGradient) -> Evaluate:
    """`function` (see `make_cost_and_gradient`) as an `Evaluate`: float32 from here to the gradient."""

    def evaluate(pixels: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        values, gradient = function(tf.constant(pixels.astype(np.float32)))
        return {name: float(values[name]) for name in optimize.COST_NAMES}, gradient.numpy()

    return evaluate


class _Objective:
    """fun(x) -> (J, dJ/dx) for SciPy on flat float64 pixels; remembers recent costs for the callback."""

    def __init__(self, evaluate: Evaluate, shape: tuple[int, ...]) -> None:
        self.evaluate = evaluate
        self.shape = shape
        self.evaluations = 0
        self._recent: list[tuple[np.ndarray, dict[str, float]]] = []

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        step_costs, gradient = self.evaluate(x.reshape(self.shape))
        self.evaluations += 1
        # The callback asks for the costs of the accepted point, nearly always the last one evaluated.
        self._recent = [(x.copy(), step_costs), *self._recent[:2]]
        return step_costs["total"], np.asarray(gradient, np.float64).ravel()

    def costs_at(self, x: np.ndarray) -> dict[str, float]:
        for seen, step_costs in self._recent:
            if np.array_equal(seen, x):
                return step_costs
        self(x)  # not seen lately (never in practice): one extra evaluation
        return self._recent[0][1]


def steps(
    evaluate: Evaluate, start: np.ndarray, iterations: int, upper: float, device: str = "/CPU:0"
) -> Iterator[tuple[np.ndarray, dict[str, float], int]]:
    """(accepted pixels, their costs, cost evaluations so far), exactly `iterations` times.

    The framework-free driver: `evaluate` may be TensorFlow's (`tf_evaluator`) or the PyTorch twin's,
    so both backends run the very same L-BFGS-B. `start` is clipped to [0, upper] (the bounds).
    """
    shape = tuple(start.shape)
    x0 = np.clip(np.asarray(start, np.float64), 0.0, upper).ravel()
    objective = _Objective(evaluate, shape)
    for x, step_costs in _iterate(objective, x0, iterations, upper, device):
        yield x.reshape(shape), step_costs, objective.evaluations


class _Stop(Exception):
    """The consumer closed the generator."""


def run_stage(
    extractor: FeatureExtractor,
    content: np.ndarray,
    styles: list[np.ndarray],
    config: Config,
    style_blend: Sequence[float] | None,
    start: np.ndarray | optimize.OptimizerState | None,
    rng: np.random.Generator,
    first: int,
    last: int,
    every: int,
    device: str,
) -> Iterator[optimize.Step]:
    """Steps `first` .. `last` - 1 at one size by L-BFGS-B (the arguments are `optimize._run_stage`'s).

    Yields:
        One Step per L-BFGS iteration: costs of the accepted picture, `evaluations` so far, and on
        snapshot steps and the last the picture and (single-scale runs) a `state` to resume from.
    """
    if isinstance(start, optimize.OptimizerState):
        optimize.check_resume(start, content.shape)
        if start.optimizer:
            raise ConfigError("the saved state is an Adam run's; it cannot be continued with L-BFGS")
        start = start.image  # a fresh L-BFGS-B from the saved picture (see the module's notes)
    with tf.device(device):
        targets = optimize.compute_targets(extractor, content, styles, config, style_blend)
        value = optimize.initial_image(content, config, rng) * config.pixel_scale if start is None else start
        function = make_cost_and_gradient(extractor, targets, config, tuple(content.shape))
    log.info("L-BFGS %dx%d on %s, steps %d to %d", content.shape[2], content.shape[1], device, first, last)
    began = time.perf_counter()
    evaluations = 0
    accepted = steps(tf_evaluator(function), np.asarray(value), last - first, config.pixel_scale, device)
    for i, (x, step_costs, evaluations) in enumerate(accepted, first):
        picture = raw = state = None
        if i == last - 1 or (every and i % every == 0):
            pixels = x.astype(np.float32)
            raw = pixels / config.pixel_scale
            picture = np.clip(raw, 0.0, 1.0)
            if config.scales == 1:  # as Adam: only single-scale runs can be resumed
                state = optimize.OptimizerState(i + 1, pixels, [])
        yield optimize.Step(i, step_costs, time.perf_counter() - began, picture, state, raw, evaluations)
    log.info("L-BFGS: %d iterations, %d cost evaluations", last - first, evaluations)
    if function.experimental_get_tracing_count() != 1:
        log.warning("the cost function was traced %d times", function.experimental_get_tracing_count())


def _iterate(
    objective: _Objective, x0: np.ndarray, iterations: int, upper: float, device: str
) -> Iterator[tuple[np.ndarray, dict[str, float]]]:
    """(accepted x, its costs), exactly `iterations` times, one per L-BFGS-B iteration.

    SciPy runs in a worker thread in lockstep with this generator: the callback hands over its iteration
    and waits for the next request; closing the generator makes the waiting callback stop SciPy.
    """
    handed: queue.Queue = queue.Queue(maxsize=1)  # worker -> generator: ("step" | "done" | "error", payload)
    requests: queue.Queue = queue.Queue(maxsize=1)  # generator -> worker: True = go on, False = stop
    worker = threading.Thread(
        target=_work, args=(objective, x0, iterations, upper, device, handed, requests), daemon=True
    )
    worker.start()
    try:
        while True:
            kind, payload = handed.get()
            if kind == "error":
                raise payload
            if kind == "done":
                return
            yield payload
            requests.put(True)
    finally:
        # Closed early or failed: tell the worker to stop, and keep taking whatever it hands over until it
        # has (it ends after the evaluation under way at the latest).
        while worker.is_alive():
            with contextlib.suppress(queue.Full):
                requests.put_nowait(False)
            with contextlib.suppress(queue.Empty):
                handed.get(timeout=0.05)
        worker.join()


def _work(
    objective: _Objective,
    x: np.ndarray,
    iterations: int,
    upper: float,
    device: str,
    handed: queue.Queue,
    requests: queue.Queue,
) -> None:
    """The worker thread: L-BFGS-B (restarted if its line search stalls), then fill-in steps if stuck."""
    done = 0
    halted = False  # the generator was closed
    latest: tuple[np.ndarray, dict[str, float]] | None = None

    def hand_over(x_now: np.ndarray, step_costs: dict[str, float]) -> None:
        nonlocal done, halted, latest
        latest = (x_now, step_costs)
        handed.put(("step", (x_now, step_costs)))
        done += 1
        if not requests.get():
            halted = True
            raise _Stop

    def callback(intermediate_result: scipy.optimize.OptimizeResult) -> None:
        x_now = np.array(intermediate_result.x)  # SciPy overwrites its array in place: keep a copy
        try:
            hand_over(x_now, objective.costs_at(x_now))
        except _Stop:
            raise StopIteration from None  # SciPy's way to halt from a callback
        if done >= iterations:
            raise StopIteration

    try:
        with tf.device(device):  # device scopes are per thread
            bounds = scipy.optimize.Bounds(np.zeros_like(x), np.full_like(x, upper))
            while done < iterations and not halted:
                before = done
                scipy.optimize.minimize(
                    objective,
                    x,
                    jac=True,
                    method="L-BFGS-B",
                    bounds=bounds,
                    callback=callback,
                    options={
                        "maxiter": iterations - done,
                        "maxfun": EVALUATIONS_PER_ITERATION * (iterations - done) + 20,
                        "maxcor": HISTORY,
                        "ftol": 0.0,  # never stop because the cost is small or changes little
                        "gtol": 0.0,
                    },
                )
                if halted or done >= iterations or done == before:
                    break  # closed, finished, or a fresh start made no progress: the picture is final
                log.info("L-BFGS line search stalled after %d iterations; restarting from there", done)
                x = latest[0]
            if not halted and done < iterations:
                log.info("L-BFGS can lower the cost no further after %d iterations; repeating the picture", done)
                latest = latest or (x, objective.costs_at(x))
                while done < iterations:
                    hand_over(*latest)
    except _Stop:
        pass
    except BaseException as exc:  # noqa: BLE001 - handed to the consumer, who re-raises it
        handed.put(("error", exc))
        return
    handed.put(("done", None))


def stylize_lbfgs(
    content: np.ndarray | None,
    styles: np.ndarray | Sequence[np.ndarray],
    config: Config | None = None,
    *,
    extractor: FeatureExtractor | None = None,
    style_blend: Sequence[float] | None = None,
    snapshot_every: int | None = None,
    resume: optimize.OptimizerState | None = None,
) -> Iterator[optimize.Step]:
    """`optimize.stylize` with L-BFGS forced on: same arguments, same Steps (see this module's notes).

    `optimize.stylize` itself takes this route whenever `config.optimizer == "lbfgs"`: it dispatches per
    scale (in `_run_stage`), so modes, coarse-to-fine scales and colour preservation work with L-BFGS too.
    """
    config = (config or Config()).replace(optimizer="lbfgs")
    yield from optimize.stylize(
        content,
        styles,
        config,
        extractor=extractor,
        style_blend=style_blend,
        snapshot_every=snapshot_every,
        resume=resume,
    )
