"""The optimisation's Step stream into a run folder, with progress, interruptions and non-finite costs.

`execute` writes one metrics row per step, snapshots and the resumable state on snapshot steps,
TensorBoard scalars and pictures, then the final picture, the record's last word and the report. Ctrl-C
and SIGTERM stop it with everything written so far kept and config.json saying "interrupted" (exit 130 or
143); a second interruption while the plots are written stops those, and the message says what exists.
A cost or picture that is NaN or infinite stops the run with one line (exit 2): that step is not written,
so the snapshots and state on disk are the last good ones.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable

from nst_tf.config import COST_NAMES
from nst_tf.io import steplog
from nst_tf.io.rundir import METRIC_FIELDS, RunFolder
from nst_tf.optim.pictures import stage_plan
from nst_tf.optim.run_plan import RunPlan
from nst_tf.runtime import EXIT_BAD_INPUT, interrupted_status

NonFinite = steplog.NonFinite  # a step whose cost or picture is NaN or infinite


class Progress:
    """A tqdm bar on a terminal; plain lines (about 20 per run) when stderr is a log file or pipe."""

    def __init__(self, total: int, quiet: bool, first: int = 0) -> None:
        self.total = total
        self.quiet = quiet
        self.every = max(1, total // 20)
        self.bar = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=first, unit="step", dynamic_ncols=True)

    def update(self, step, seconds: float) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.set_postfix(total=f"{step.costs['total']:.4g}", refresh=False)
            self.bar.update(1)
        elif step.iteration % self.every == 0 or step.iteration == self.total - 1:
            c = step.costs
            print(
                f"step {step.iteration + 1:>5}/{self.total}  total {c['total']:.5g}  content {c['content']:.5g}  "
                f"style {c['style']:.5g}  tv {c['tv']:.3g}  {seconds:.1f}s",
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Writer(steplog.StepLog):
    """What one step leaves in the run folder: `nst_tf.io.steplog.StepLog` with the picture run's columns."""

    def __init__(self, plan: RunPlan, tensorboard: bool) -> None:
        offset = 0.0  # seconds already spent before a resume
        if plan.resume is not None:
            rows = plan.folder.read_metrics()
            offset = rows[-1]["seconds"] if rows else 0.0
        columns = steplog.StepColumns(fields=METRIC_FIELDS, check_finite=True)
        super().__init__(plan.folder, columns, plan.resume is not None, tensorboard, seconds_offset=offset)
        self.offset = offset
        self.done = plan.resume_steps

    @property
    def last(self):
        return self.last_picture

    def last_path(self) -> str:
        return str(self.folder.snapshot_path(self.last.iteration)) if self.last else ""


def execute(plan: RunPlan, steps: Iterable, tensorboard: bool, quiet: bool) -> int:
    """Consume the Step stream into the run folder; returns the exit status."""
    folder, record = plan.folder, plan.record
    folder.write_record(record)
    writer = _Writer(plan, tensorboard)
    memory_plan = plan.prepared.get("memory_plan")  # its config holds any scales the plan added
    staged = plan.config if memory_plan is None else memory_plan.config
    total = stage_plan(staged)[-1][1]  # coarse to fine runs iterations/2^k more steps at each finer scale
    progress = Progress(total, quiet=quiet, first=plan.resume_steps)
    try:
        for step in steps:
            progress.update(step, writer.write(step))
    except KeyboardInterrupt as exc:
        progress.close()
        writer.close()
        record.update(status="interrupted", iterations_done=writer.done)
        return _finish(folder, record, interrupted_status(exc), f"interrupted after {writer.done} steps")
    except NonFinite as exc:
        progress.close()
        writer.close()
        record.update(status="failed", iterations_done=writer.done, error=str(exc))
        kept = f"the last good picture is {writer.last_path()}" if writer.last else "no picture was kept"
        return _finish(folder, record, EXIT_BAD_INPUT, f"error: {exc}; stopped, {kept}", with_folder=False)
    except OSError as exc:  # the disk filled up, the folder went away ...: say so in one line
        progress.close()
        return _write_failed(writer, exc)
    progress.close()
    writer.close()
    return _complete(plan, writer, quiet)


def _complete(plan: RunPlan, writer: _Writer, quiet: bool) -> int:
    folder, record, last = plan.folder, plan.record, writer.last
    assert last is not None and last.image is not None
    try:
        folder.save_picture("generated.png", last.image)
        total_seconds = writer.offset + last.seconds
        final = {name: float(last.costs[name]) for name in COST_NAMES}
        record.update(
            status="complete", iterations_done=writer.done, seconds=round(total_seconds, 3), final_costs=final
        )
        folder.write_record(record)
        folder.make_report()
    except KeyboardInterrupt as exc:
        with contextlib.suppress(OSError, KeyboardInterrupt):  # the record must not keep saying "running"
            record.update(status="interrupted", iterations_done=writer.done)
            folder.write_record(record)
        sys.stderr.write(
            f"nst_tf: interrupted while writing the report; the picture, snapshots and metrics are in {folder.path}\n"
        )
        return interrupted_status(exc)
    if not quiet:
        size = record["image_size"]
        print(
            f"wrote {folder.path / 'generated.png'} ({size['width']}x{size['height']}, {writer.done} steps, "
            f"{total_seconds:.1f} s)"
        )
        print(f"report: {folder.path / 'report.html'}")
    return 0


def _write_failed(writer: _Writer, exc: OSError) -> int:
    with contextlib.suppress(OSError):
        writer.close()
    reason = exc.strerror or type(exc).__name__
    where = f" ({exc.filename})" if exc.filename else ""
    sys.stderr.write(f"nst_tf: error: writing the run failed after {writer.done} steps: {reason}{where}\n")
    return EXIT_BAD_INPUT


def _finish(folder: RunFolder, record: dict, status: int, message: str, with_folder: bool = True) -> int:
    """config.json's final word and the plots, for a run that stopped early; one line on stderr."""
    try:
        folder.write_record(record)
        if folder.read_metrics():
            folder.make_report()
    except KeyboardInterrupt as exc:  # a second Ctrl-C: stop the plots, but say what is there
        sys.stderr.write(
            f"nst_tf: interrupted twice; the snapshots, metrics and state so far are in {folder.path} (plots skipped)\n"
        )
        return interrupted_status(exc)
    where = f"; snapshots and metrics so far are in {folder.path}" if with_folder else ""
    sys.stderr.write(f"nst_tf: {message}{where}\n")
    return status
