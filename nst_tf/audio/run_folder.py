"""What an audio run writes, on top of the project's run folder (`nst_tf.io.rundir.RunFolder`).

`plan` only checks the place (`-o DIR`: creatable, or an earlier nst_tf run with --overwrite; never anyone
else's folder); `AudioRunFolder` then creates it. Files: content.wav and style.wav (the inputs as the run
used them: mono, at the run's rate, cropped), result.wav (16-bit PCM), metrics.csv (iteration, total,
content, style, tv, seconds, evaluations — the picture runs' columns first, so
`nst_tf.io.report.plot_losses` draws loss.png), config.json (the record, rewritten atomically whenever the
status changes), spectrograms.png, loss.png, report.html, and TensorBoard event files under tb/ (cost
scalars every iteration, `tf.summary.audio` of the three sounds). Every file is written atomically through
`RunFolder.write_file`; the metrics rows and cost scalars by the shared record-stream listener
(`nst_tf.io.steplog.StepLog`), as for every family. The library (`nst_tf.audio.transfer`) writes nothing itself.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from nst_tf.io.rundir import RunFolder
from nst_tf.io.sound import write_wav
from nst_tf.io.steplog import StepColumns, StepLog
from nst_tf.records import Step
from nst_tf.runtime import native_stderr_silenced

METRIC_FIELDS = ("iteration", "total", "content", "style", "tv", "seconds", "evaluations")
KIND = "audio"


def plan(output: Path, overwrite: bool) -> RunFolder:
    """Check `output` as the run's folder; nothing is created (ConfigError if it cannot be used)."""
    output = Path(output)
    return RunFolder.plan_new(output.parent, output.name, output.name, overwrite=overwrite, kind=KIND)


class AudioRunFolder:
    """An audio run's folder; creating this object creates the folder (do it once every input is checked)."""

    def __init__(self, folder: RunFolder, rate: int, hop: int, tensorboard: bool = True) -> None:
        self.folder = folder
        self.path = folder.path
        self.rate, self.hop = rate, hop
        folder.create()
        self.log = StepLog(folder, StepColumns(fields=METRIC_FIELDS), append=False, tensorboard=tensorboard)
        self._board = self.log.board

    def write_config(self, record: dict) -> None:
        """config.json, atomically."""
        self.folder.write_record(record)

    def sound(self, name: str, samples: np.ndarray, step: int = 0) -> Path:
        """NAME.wav (16-bit PCM) and its TensorBoard audio summary."""
        path = self.folder.write_file(f"{name}.wav", lambda tmp: write_wav(tmp, samples, self.rate))
        if self._board is not None:
            import tensorflow as tf

            with self._board.writer.as_default(step=step):
                clip = tf.constant(np.clip(samples, -1, 1)[None, :, None], tf.float32)  # (1, samples, 1)
                # TensorFlow's first string op says on fd 2 that oneDNN has no DT_STRING kernel (even on AVX-512):
                # a native line the one-line stderr promise does not allow, and nothing the user can act on
                with native_stderr_silenced():
                    tf.summary.audio(name, clip, self.rate, max_outputs=1)
        return path

    def step(self, iteration: int, costs: dict[str, float], seconds: float, evaluations: int) -> None:
        """One metrics.csv row (flushed, so an interrupted run keeps it) and the cost scalars."""
        self.write(Step(iteration, dict(costs), seconds, evaluations=evaluations))

    def write(self, step: Step) -> None:
        """One Step of the sound's stream (its spectrogram, if any, is drawn by `pictures`, not snapshotted)."""
        self.log.write(replace(step, image=None))

    def pictures(self, spectrograms: dict[str, np.ndarray], optimised: np.ndarray | None) -> Path:
        """spectrograms.png: content, style, the optimised spectrogram and the result's, on one colour scale.

        One figure rather than one per sound: the shared scale and time axis are what make them comparable
        (and each matplotlib figure costs seconds on a busy 2-core machine).
        """
        from nst_tf.audio.report import comparison_picture

        panels = [(f"{name}.wav", s) for name, s in spectrograms.items() if name != "result"]
        if optimised is not None:
            panels.append(("optimised spectrogram (before Griffin–Lim)", optimised))
        if "result" in spectrograms:
            panels.append(("result.wav (after Griffin–Lim)", spectrograms["result"]))
        write = lambda tmp: comparison_picture(tmp, panels, self.rate, self.hop)  # noqa: E731
        return self.folder.write_file("spectrograms.png", write)

    def finish(self, record: dict, weights: dict[str, float]) -> None:
        """config.json's final word, loss.png (if any step was made) and report.html."""
        from nst_tf.audio.report import html_report
        from nst_tf.io.report import plot_losses

        self.close()
        self.write_config(record)
        makers = [lambda path: plot_losses(path, weights)] if record.get("iterations_done", 0) > 0 else []
        self.folder.make_report([*makers, html_report])

    def close(self) -> None:
        self.log.close()
        self._board = None
