"""The training run folder `MODEL_DIR/run/` (and universal-train's `CHECKPOINT_DIR/run/`): a `RunFolder`.

This module owns only what is the trainer's own: which files (config.json with the settings, versions and
command; metrics.csv with `step,total,content,style,tv,seconds`, appended on resume with the rows past the
resumed step dropped; tb/ with the `loss/*` and `seconds_per_step` scalars and the samples;
samples/step_NNNNNN.png, held-out photos through the network side by side; loss.png). The record stream is
written by the shared `nst_tf.io.steplog.StepLog`, the plot by `nst_tf.io.report.plot_losses`.

Ownership (`nst_tf.io.ownership`): `check_run_folder` refuses, before anything is made, a `run/` that nst_tf
did not make; a new one carries the marker; a resumed one (ours, or an older training run folder holding
only these files) is written into. `check_model_files` refuses a MODEL_DIR whose model.json or
model.weights.h5 is not nst_tf's.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from nst_tf.errors import ConfigError
from nst_tf.io.ownership import has_marker
from nst_tf.io.rundir import METRICS, RunFolder
from nst_tf.io.steplog import StepColumns, StepLog
from nst_tf.records import Step

FIELDS = ("step", "total", "content", "style", "tv", "seconds")
KIND = "train"
# What a training run folder held before it carried the marker: such a folder is still nst_tf's.
_LEGACY_ENTRIES = re.compile(r"^(config\.json|metrics\.csv|loss\.png|tb|samples|.*\.tmp|\..*\.part.*)$")


def check_run_folder(folder: str | os.PathLike) -> None:
    """Check a training run folder before anything is made: absent, or nst_tf's (marker, or an old one).

    Raises:
        ConfigError: `folder` is a symlink, a file, or a folder nst_tf did not make.
    """
    path = Path(folder)
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        raise ConfigError(f"{path} exists and is not a folder; it is never replaced")
    if not (has_marker(path) or _is_legacy_run(path)):
        raise ConfigError(f"{path} is not an nst_tf training run folder; nst_tf never writes into it (move it away)")


def _is_legacy_run(path: Path) -> bool:
    entries = list(path.iterdir())
    if not any(e.name == "config.json" for e in entries):
        return False
    return all(_LEGACY_ENTRIES.match(e.name) and not e.is_symlink() for e in entries)


class RunLog:
    """Writes a training run's folder; `close()` flushes it. Create it only after all inputs are checked."""

    def __init__(
        self,
        folder: Path,
        config: dict,
        start_step: int = 0,
        tensorboard: bool = True,
        fields: tuple[str, ...] = FIELDS,
    ) -> None:
        # `fields`: "step", the loss columns, "seconds" (the universal decoders' trainer has its own losses).
        check_run_folder(folder)
        self.fields = tuple(fields)
        self.run = RunFolder(folder, kind=KIND)
        self.folder = self.run.path
        if os.path.lexists(self.folder):
            self.run.adopt()  # an older run folder without the marker gets it now
        else:
            self.run.create(snapshots=False)
        self.run.write_record(config)
        resuming = os.path.lexists(self.folder / METRICS)
        if resuming:  # the rows past the checkpoint's step will be trained again
            self.run.forget_after(start_step + 1, self.fields)
        columns = StepColumns(
            fields=self.fields,
            step_offset=1,  # a training step is counted after it: Step.iteration 0 is step 1
            per_step_seconds=True,
            round_seconds=None,
            scalar_prefix="loss",
            per_step_scalar=True,
            snapshot=lambda n: f"samples/step_{n:06d}.png",
            image_tag="samples",
        )
        self.log = StepLog(self.run, columns, append=resuming, tensorboard=tensorboard)

    def write(self, step: Step) -> None:
        """One Step of the training stream (its image, when there, is the sample strip)."""
        self.log.write(step)

    def step(self, step: int, losses: dict[str, float], seconds: float) -> None:
        """One training step as the trainers report it: the count after it, its losses, its own seconds."""
        costs = {k: float(v) for k, v in losses.items() if k not in ("step", "seconds")}
        self.log.write(Step(step - 1, costs, seconds, info={"step_seconds": seconds}))

    def samples(self, step: int, pictures: list[np.ndarray]) -> Path:
        """Save (1, H, W, 3) pictures side by side (same height) as samples/step_NNNNNN.png."""
        strip = np.concatenate([p[0] for p in pictures], axis=1)[np.newaxis]
        return self.folder / self.log.snapshot(step, strip)

    def plot(self) -> Path | None:
        """loss.png: the loss columns over the steps (log scale)."""
        from nst_tf.io.report import plot_losses

        return plot_losses(self.folder, None, self.fields)

    def close(self) -> None:
        self.log.close()
