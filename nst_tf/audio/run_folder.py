"""Everything an audio run writes, in one place: the run folder.

Files: content.wav and style.wav (the inputs as the run used them: mono, at the run's rate, cropped),
result.wav (16-bit PCM), metrics.csv (iteration, total, content, style, tv, seconds, evaluations — the
picture runs' columns, so `nst_tf.io.report.plot_losses` draws loss.png), config.json (rewritten
atomically whenever the status changes), spectrograms.png, loss.png, report.html and TensorBoard event
files under tb/ (cost scalars every iteration, `tf.summary.audio` of the three sounds).

Kept apart from the command so that it can move onto the project's shared run-folder object once that
exists; the library (`nst_tf.audio.transfer`) writes nothing itself.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np

from nst_tf.io.sound import write_wav

METRIC_FIELDS = ("iteration", "total", "content", "style", "tv", "seconds", "evaluations")


class AudioRunFolder:
    """An audio run's folder. Create it only once every input has been checked."""

    def __init__(self, path: Path, rate: int, hop: int, n_fft: int, tensorboard: bool = True) -> None:
        self.path = Path(path)
        self.rate, self.hop, self.n_fft = rate, hop, n_fft
        self.path.mkdir(parents=True, exist_ok=True)
        self._metrics = open(self.path / "metrics.csv", "w", newline="")  # noqa: SIM115 - closed in close()
        self._writer = csv.writer(self._metrics)
        self._writer.writerow(METRIC_FIELDS)
        self._metrics.flush()
        self._board = None
        if tensorboard:
            import tensorflow as tf

            self._tf = tf
            self._board = tf.summary.create_file_writer(str(self.path / "tb"))

    def write_config(self, record: dict) -> None:
        """config.json, atomically (a temporary file, then a rename)."""
        tmp = self.path / ".config.json.tmp"
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        os.replace(tmp, self.path / "config.json")

    def sound(self, name: str, samples: np.ndarray, step: int = 0) -> Path:
        """NAME.wav (16-bit PCM) and its TensorBoard audio summary."""
        path = write_wav(self.path / f"{name}.wav", samples, self.rate)
        if self._board is not None:
            with self._board.as_default(step=step):
                clip = self._tf.constant(np.clip(samples, -1, 1)[None, :, None], self._tf.float32)
                self._tf.summary.audio(name, clip, self.rate, max_outputs=1)
        return path

    def step(self, iteration: int, costs: dict[str, float], seconds: float, evaluations: int) -> None:
        """One metrics.csv row (flushed, so an interrupted run keeps it) and the cost scalars."""
        row = [iteration, *(f"{costs.get(k, 0.0):.9g}" for k in ("total", "content", "style", "tv"))]
        self._writer.writerow([*row, f"{seconds:.4f}", evaluations])
        self._metrics.flush()
        if self._board is not None:
            with self._board.as_default(step=iteration):
                for name, value in costs.items():
                    self._tf.summary.scalar(f"cost/{name}", value)

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
        return comparison_picture(self.path / "spectrograms.png", panels, self.rate, self.hop)

    def finish(self, record: dict, weights: dict[str, float]) -> Path:
        """config.json's final word, loss.png (if any step was made) and report.html."""
        from nst_tf.audio.report import html_report
        from nst_tf.io.report import plot_losses

        self.close()
        self.write_config(record)
        if record.get("iterations_done", 0) > 0:
            plot_losses(self.path, weights)
        return html_report(self.path)

    def close(self) -> None:
        if not self._metrics.closed:
            self._metrics.close()
        if self._board is not None:
            self._board.flush()
            self._board.close()
            self._board = None
