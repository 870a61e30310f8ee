"""nst_tf.io.steplog: one Step stream into a run folder, the same code for every family's columns."""

from __future__ import annotations

import numpy as np
import pytest

from nst_tf.io.rundir import METRIC_FIELDS, RunFolder
from nst_tf.io.steplog import NonFinite, StepColumns, StepLog
from nst_tf.records import Step


def _folder(tmp_path) -> RunFolder:
    folder = RunFolder.plan_new(tmp_path, "r", "r")
    folder.create()
    return folder


def test_picture_steps_write_rows_snapshots_and_stop_on_nan(tmp_path):
    folder = _folder(tmp_path)
    columns = StepColumns(fields=METRIC_FIELDS, check_finite=True)
    log = StepLog(folder, columns, append=False, tensorboard=False, seconds_offset=10.0)
    picture = np.full((1, 4, 6, 3), 0.5, np.float32)
    costs = {"total": 3.0, "content": 1.0, "style": 2.0, "tv": 0.0}
    assert log.write(Step(0, costs, 0.12345)) == 10.1235  # rounded to 4 places, after the resumed seconds
    log.write(Step(1, costs, 0.5, image=picture))
    with pytest.raises(NonFinite, match="total nan"):
        log.write(Step(2, {**costs, "total": float("nan")}, 0.7, image=picture))
    log.close()
    rows = folder.read_metrics()
    assert [r["iteration"] for r in rows] == [0, 1] and rows[1]["seconds"] == 10.5  # the NaN step left no row
    assert [i for i, _ in folder.snapshots()] == [1] and log.done == 2 and log.last_picture.iteration == 1


def test_training_columns_count_steps_after_them_with_per_step_seconds(tmp_path):
    folder = _folder(tmp_path)
    columns = StepColumns(
        fields=("step", "loss", "pixel", "seconds"), step_offset=1, per_step_seconds=True, round_seconds=None
    )
    log = StepLog(folder, columns, append=False, tensorboard=False)
    log.write(Step(0, {"loss": 2.0}, 1.5))  # seconds since the start: 1.5, then 4.0
    log.write(Step(1, {"loss": 1.0, "pixel": 0.5}, 4.0))
    log.close()
    assert (folder.path / "metrics.csv").read_text() == "step,loss,pixel,seconds\n1,2,0,1.5\n2,1,0.5,2.5\n"
    assert log.done == 2
