"""L-BFGS over the pixels: SciPy's L-BFGS-B as a generator of accepted points, framework-free (NumPy + SciPy).

`steps(evaluate, start, iterations, upper)` is the driver both backends share: `evaluate` maps pixels to
({cost name: value}, d total / d pixels) and may be TensorFlow's (`nst_tf.optim.lbfgs_tf`) or the PyTorch
twin's, so both run the very same L-BFGS-B. `accepted_points` picks the driver a config names (this one, or
`nst_tf.optim.closure_lbfgs` for the PyTorch tutorial's recipe) and `steps_from_points` turns the points into
Step records. Nothing here imports TensorFlow or torch. float64 appears only
here, because L-BFGS-B works in float64; the evaluators compute in their own precision.

What one step is: one L-BFGS-B iteration, i.e. one accepted point after a line search that may spend
several cost evaluations (usually one; more early on); the running count of evaluations comes with each
point, so time and work per step can be compared with Adam's one evaluation per step. Unlike Adam's Step,
whose costs are those of the picture the step started from, an L-BFGS point comes with the costs of the
picture it accepted (the line search has already evaluated it, so no extra work is spent).

Stopping rules: ftol = gtol = 0, so L-BFGS-B never quits early because the cost got small; it runs
`iterations` iterations (maxiter) with a generous evaluation budget. Should its line search make no more
progress (float32 noise near a minimum) it is restarted from its last point with a fresh history; if even
that makes no progress the picture is final and the remaining points repeat it. The driver therefore
always yields exactly the requested number of points.

SciPy's minimize is callback-driven, so it runs in a worker thread that hands each iteration to the
generator and waits: nothing is computed ahead of the consumer, and closing the generator stops the
optimisation (the callback raises StopIteration, SciPy's own way to halt).

Resuming: a snapshot's state holds the accepted picture (and no optimizer arrays). SciPy keeps its
curvature pairs inside one `minimize` call and offers no way to hand them back in, so a resumed run starts
L-BFGS-B afresh from that picture: it continues downhill from exactly where the run stopped, but its first
few iterations rebuild the history, so it is not bit for bit the uninterrupted run (Adam's resume is).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator

import numpy as np

# SciPy's L-BFGS-B works through SciPy's own OpenBLAS (a vector operation over the picture's pixels at a
# time, a few dozen an iteration). With its default of one thread per core on a busy 2-core machine each of
# those calls waits for the other thread to be scheduled: L-BFGS-B alone took 2.2-5.5 s for 25 iterations
# at 96x128 with two threads and 0.35-0.5 s with one (Intel Xeon, 2 cores, load average 12; at 192x256
# 5.3-7.8 s against 1.8-2.7 s), the same iterates either way; at 128 px that was as much time as the
# bfloat16 evaluations themselves. That library reads OPENBLAS_NUM_THREADS once, when scipy.optimize first
# loads it, so it is set to 1 for that import only (unless the user set it; numpy's own BLAS is not this one).
_BLAS_THREADS = "OPENBLAS_NUM_THREADS"
_USER_SET = _BLAS_THREADS in os.environ
os.environ.setdefault(_BLAS_THREADS, "1")
try:
    import scipy.optimize
finally:
    if not _USER_SET:
        del os.environ[_BLAS_THREADS]

from nst_tf.optim import closure_lbfgs  # noqa: E402
from nst_tf.optim.closure_lbfgs import Evaluate  # noqa: E402  pixels -> (costs, d total / d pixels)
from nst_tf.optim.records import OptimizerState, Stage, Step  # noqa: E402

log = logging.getLogger(__name__)

# Curvature pairs kept by L-BFGS-B (SciPy's default); memory: 2·HISTORY·n float64 values.
HISTORY = 10
# Cost evaluations allowed per iteration before SciPy stops (it rarely needs more than 2 or 3).
EVALUATIONS_PER_ITERATION = 20


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
    evaluate: Evaluate, start: np.ndarray, iterations: int, upper: float
) -> Iterator[tuple[np.ndarray, dict[str, float], int]]:
    """(accepted pixels, their costs, cost evaluations so far), exactly `iterations` times.

    `evaluate` may be TensorFlow's (`nst_tf.optim.lbfgs_tf.tf_evaluator`) or the PyTorch twin's, so both
    backends run the very same L-BFGS-B. `start` is clipped to [0, upper] (the bounds).
    """
    shape = tuple(start.shape)
    x0 = np.clip(np.asarray(start, np.float64), 0.0, upper).ravel()
    objective = _Objective(evaluate, shape)
    for x, step_costs in _iterate(objective, x0, iterations, upper):
        yield x.reshape(shape), step_costs, objective.evaluations


class _Stop(Exception):
    """The consumer closed the generator."""


def _iterate(
    objective: _Objective, x0: np.ndarray, iterations: int, upper: float
) -> Iterator[tuple[np.ndarray, dict[str, float]]]:
    """(accepted x, its costs), exactly `iterations` times, one per L-BFGS-B iteration.

    SciPy runs in a worker thread in lockstep with this generator: the callback hands over its iteration
    and waits for the next request; closing the generator makes the waiting callback stop SciPy.
    """
    handed: queue.Queue = queue.Queue(maxsize=1)  # worker -> generator: ("step" | "done" | "error", payload)
    requests: queue.Queue = queue.Queue(maxsize=1)  # generator -> worker: True = go on, False = stop
    worker = threading.Thread(target=_work, args=(objective, x0, iterations, upper, handed, requests), daemon=True)
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


class _Worker:
    """The worker thread's side: L-BFGS-B (restarted if its line search stalls), then fill-in points if stuck."""

    def __init__(self, objective: _Objective, iterations: int, handed: queue.Queue, requests: queue.Queue) -> None:
        self.objective = objective
        self.iterations = iterations
        self.handed, self.requests = handed, requests
        self.done = 0
        self.halted = False  # the generator was closed
        self.latest: tuple[np.ndarray, dict[str, float]] | None = None

    def hand_over(self, x_now: np.ndarray, step_costs: dict[str, float]) -> None:
        """Give one point to the generator and wait for its next request (raises _Stop when closed)."""
        self.latest = (x_now, step_costs)
        self.handed.put(("step", (x_now, step_costs)))
        self.done += 1
        if not self.requests.get():
            self.halted = True
            raise _Stop

    def callback(self, intermediate_result: scipy.optimize.OptimizeResult) -> None:
        x_now = np.array(intermediate_result.x)  # SciPy overwrites its array in place: keep a copy
        try:
            self.hand_over(x_now, self.objective.costs_at(x_now))
        except _Stop:
            raise StopIteration from None  # SciPy's way to halt from a callback
        if self.done >= self.iterations:
            raise StopIteration

    def minimise(self, x: np.ndarray, upper: float) -> np.ndarray:
        """L-BFGS-B until `iterations` points were handed over, restarted from the last one on a stall."""
        bounds = scipy.optimize.Bounds(np.zeros_like(x), np.full_like(x, upper))
        while self.done < self.iterations and not self.halted:
            before, left = self.done, self.iterations - self.done
            options = {
                "maxiter": left,
                "maxfun": EVALUATIONS_PER_ITERATION * left + 20,
                "maxcor": HISTORY,
                "ftol": 0.0,  # never stop because the cost is small or changes little
                "gtol": 0.0,
            }
            scipy.optimize.minimize(
                self.objective, x, jac=True, method="L-BFGS-B", bounds=bounds, callback=self.callback, options=options
            )
            if self.halted or self.done >= self.iterations or self.done == before:
                break  # closed, finished, or a fresh start made no progress: the picture is final
            log.info("L-BFGS line search stalled after %d iterations; restarting from there", self.done)
            x = self.latest[0]
        return x

    def run(self, x: np.ndarray, upper: float) -> None:
        try:
            x = self.minimise(x, upper)
            if not self.halted and self.done < self.iterations:
                log.info("L-BFGS can lower the cost no further after %d iterations; repeating the picture", self.done)
                latest = self.latest or (x, self.objective.costs_at(x))
                while self.done < self.iterations:
                    self.hand_over(*latest)
        except _Stop:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, who re-raises it
            self.handed.put(("error", exc))
            return
        self.handed.put(("done", None))


def _work(
    objective: _Objective, x: np.ndarray, iterations: int, upper: float, handed: queue.Queue, requests: queue.Queue
) -> None:
    """The worker thread's body."""
    _Worker(objective, iterations, handed, requests).run(x, upper)


def accepted_points(
    evaluate: Evaluate, start: np.ndarray, stage: Stage
) -> Iterator[tuple[np.ndarray, dict[str, float], int]]:
    """The driver the config names: SciPy's L-BFGS-B, or torch.optim.LBFGS's algorithm (one point per
    closure call, the picture clamped to the valid range inside each call: the PyTorch tutorial)."""
    config, count = stage.config, stage.last - stage.first
    if config.optimizer == "torch-lbfgs":
        return closure_lbfgs.closure_calls(evaluate, start, count, config.pixel_scale)
    return steps(evaluate, start, count, config.pixel_scale)


def steps_from_points(
    points: Iterator[tuple[np.ndarray, dict[str, float], int]], stage: Stage, dtype: type = np.float32
) -> Iterator[Step]:
    """Steps from (pixels, costs, evaluations) points: the picture on snapshot steps, and a state to resume
    from in single-scale runs. Shared by TensorFlow and the twin."""
    config = stage.config
    began = time.perf_counter()
    for i, (x, step_costs, evaluations) in enumerate(points, stage.first):
        picture = raw = state = None
        if stage.is_snapshot(i):
            pixels = x.astype(dtype)
            raw = pixels / config.pixel_scale
            picture = np.clip(raw, 0.0, 1.0)
            if config.scales == 1:  # as Adam: only single-scale runs can be resumed
                state = OptimizerState(i + 1, pixels.astype(np.float32), [])
        yield Step(i, step_costs, time.perf_counter() - began, picture, state, raw, evaluations)
