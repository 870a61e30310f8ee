"""The training run folder `MODEL_DIR/run/`, written through the shared `nst_tf.io.rundir.RunFolder`.

This module owns only what is the trainer's own: which files (config.json with the settings, versions and
command; metrics.csv with `step,total,content,style,tv,seconds`, appended on resume with the rows past the
resumed step dropped; tb/ with the `loss/*` and `seconds_per_step` scalars and the samples;
samples/step_NNNNNN.png, held-out photos through the network side by side; loss.png) and the loss plot.
The atomic writes, the CSV, the TensorBoard writer and the record are RunFolder's.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nst_tf.io.rundir import METRICS, RunFolder

FIELDS = ("step", "total", "content", "style", "tv", "seconds")


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
        self.fields = tuple(fields)
        self.run = RunFolder(folder, kind="train")
        self.folder = self.run.path
        self.folder.mkdir(parents=True, exist_ok=True)
        self.run.write_record(config)
        resuming = os.path.lexists(self.folder / METRICS)
        if resuming:  # the rows past the checkpoint's step will be trained again
            self.run.forget_after(start_step + 1, self.fields)
        self._metrics = self.run.metrics_log(append=resuming, fields=self.fields)
        self._board = self.run.tensorboard() if tensorboard else None

    def step(self, step: int, losses: dict[str, float], seconds: float) -> None:
        self._metrics.write({"step": step, **{k: losses.get(k, 0.0) for k in self.fields[1:-1]}, "seconds": seconds})
        if self._board is not None:
            self._board.scalars(step, losses, prefix="loss")
            self._board.scalars(step, {"seconds_per_step": seconds}, prefix="")

    def samples(self, step: int, pictures: list[np.ndarray]) -> Path:
        """Save (1, H, W, 3) pictures side by side (same height) as samples/step_NNNNNN.png."""
        strip = np.concatenate([p[0] for p in pictures], axis=1)[np.newaxis]
        path = self.run.save_picture(f"samples/step_{step:06d}.png", strip)
        if self._board is not None:
            self._board.image(step, strip, name="samples")
        return path

    def plot(self) -> Path | None:
        """loss.png: the loss columns over the steps (log scale)."""
        rows = self.run.read_metrics(self.fields)
        if not rows:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        steps = [r["step"] for r in rows]
        fig, ax = plt.subplots(figsize=(7, 4))
        for name in self.fields[1:-1]:
            values = [r[name] for r in rows]
            if any(v > 0 for v in values):
                ax.plot(steps, values, label=name, linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("loss (unweighted terms; total weighted)")
        ax.legend()
        fig.tight_layout()
        path = self.run.write_file("loss.png", lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
        plt.close(fig)
        return path

    def close(self) -> None:
        self._metrics.close()
        if self._board is not None:
            self._board.close()
