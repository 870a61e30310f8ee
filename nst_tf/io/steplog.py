"""The run folder's listener on the record stream: one `nst_tf.records.Step` in, its traces in the folder out.

`StepLog.write(step)` is what every command that keeps a folder does with each step of its method —
`run` (picture optimisation), `audio`, `train` and `universal-train` — so they write their folders the same
way: one metrics.csv row (flushed, so an interrupted run keeps it), TensorBoard scalars, and on steps that
carry a picture a snapshot file (and its TensorBoard image) plus the resumable state when the step has one.
What differs between the families is data, not code: the columns (`fields`), how the step column counts,
whether seconds are since the start or per step, the snapshot's file name and the TensorBoard tags. The
folder layouts and file names stay each family's own (see README "What a run writes").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from nst_tf.io.rundir import RunFolder
from nst_tf.records import Step


class NonFinite(Exception):
    """A step whose cost or picture is NaN or infinite (nothing of it was written)."""


@dataclass(frozen=True)
class StepColumns:
    """How a family's Steps become metrics rows and TensorBoard tags.

    Attributes:
        fields: metrics.csv's columns: the step column first, then cost names, then "seconds" and any of
            "evaluations"; a cost a step lacks is written as 0.
        step_offset: added to `Step.iteration` for the step column (training counts steps after them: 1).
        per_step_seconds: the seconds column holds each step's own seconds (training) instead of the time
            since the run began (`Step.info["step_seconds"]` when given, else the difference of two steps).
        round_seconds: decimals kept in the seconds column (None: as measured).
        scalar_prefix: TensorBoard tag prefix of the costs ("cost/total", "loss/total").
        per_step_scalar: also write the step's seconds as the untagged scalar "seconds_per_step".
        snapshot: the snapshot file name of a step number, relative to the folder.
        image_tag: the TensorBoard image's name.
        check_finite: stop on a NaN or infinite cost or picture (raises NonFinite before writing anything).
    """

    fields: Sequence[str]
    step_offset: int = 0
    per_step_seconds: bool = False
    round_seconds: int | None = 4
    scalar_prefix: str = "cost"
    per_step_scalar: bool = False
    snapshot: Callable[[int], str] = lambda n: f"snapshots/iter_{n:05d}.png"
    image_tag: str = "generated"
    check_finite: bool = False


class StepLog:
    """Writes a Step stream into a RunFolder; `close()` flushes. Make it once the folder exists."""

    def __init__(
        self, folder: RunFolder, columns: StepColumns, append: bool, tensorboard: bool, seconds_offset: float = 0.0
    ) -> None:
        self.folder = folder
        self.columns = columns
        self.seconds_offset = seconds_offset  # seconds spent before a resume
        self.metrics = folder.metrics_log(append=append, fields=columns.fields)
        self.board = folder.tensorboard() if tensorboard else None
        self.done = 0  # steps written (the step column's value of the last one)
        self.last_picture: Step | None = None  # the last step that carried a picture
        self._previous_seconds = 0.0

    def write(self, step: Step) -> float:
        """One step: the metrics row, the scalars, and the snapshot (and state) when it carries a picture.

        Returns:
            the seconds written in the seconds column.

        Raises:
            NonFinite: (with `check_finite`) a cost or the picture is NaN or infinite; nothing was written.
        """
        cols = self.columns
        costs = {name: float(value) for name, value in step.costs.items()}
        if cols.check_finite:
            _check_finite(step, costs)
        number = step.iteration + cols.step_offset
        seconds = self._seconds(step)
        row: dict[str, float] = {cols.fields[0]: number, "evaluations": step.evaluations or 0, "seconds": seconds}
        row.update({name: costs.get(name, 0.0) for name in cols.fields[1:] if name not in ("seconds", "evaluations")})
        self.metrics.write(row)
        if self.board is not None:
            self.board.scalars(number, costs, prefix=cols.scalar_prefix)
            if cols.per_step_scalar:
                self.board.scalars(number, {"seconds_per_step": seconds}, prefix="")
        if step.image is not None:
            self.snapshot(number, step.image)
            if step.state is not None:  # single-scale TensorFlow picture runs; the torch twin keeps none
                self.folder.state.save(step.state.steps, step.state.to_arrays())
            self.last_picture = step
        self.done = number + (1 - cols.step_offset)
        return seconds

    def snapshot(self, number: int, picture: np.ndarray) -> str:
        """The snapshot file of step `number` (a (1, H, W, 3) picture) and its TensorBoard image."""
        name = self.columns.snapshot(number)
        self.folder.save_picture(name, picture)
        if self.board is not None:
            self.board.image(number, picture, name=self.columns.image_tag)
        return name

    def close(self) -> None:
        if not self.metrics.handle.closed:
            self.metrics.close()
        if self.board is not None:
            self.board.close()
            self.board = None

    def _seconds(self, step: Step) -> float:
        if self.columns.per_step_seconds:
            seconds = step.info.get("step_seconds", step.seconds - self._previous_seconds)
            self._previous_seconds = step.seconds
        else:
            seconds = self.seconds_offset + step.seconds
        digits = self.columns.round_seconds
        return float(seconds) if digits is None else round(float(seconds), digits)


def _check_finite(step: Step, costs: dict[str, float]) -> None:
    bad = next((f"{name} {v}" for name, v in costs.items() if not math.isfinite(v)), None)
    if bad is not None:
        raise NonFinite(f"the cost became {bad} at step {step.iteration}")
    if step.image is not None and not np.isfinite(step.image).all():
        raise NonFinite(f"the picture became NaN or infinite at step {step.iteration}")
