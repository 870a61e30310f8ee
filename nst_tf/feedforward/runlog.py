"""The training run folder: metrics.csv, config.json, TensorBoard events, sample pictures, a loss plot.

Kept in one small module so that it can be switched to the shared run-folder object of `nst_tf.io` when that
lands. Layout of `MODEL_DIR/run/`: config.json (settings, versions, command), metrics.csv (step, losses,
seconds; appended on resume, rows past the resumed step dropped), tb/ (TensorBoard scalars and samples),
samples/step_NNNNNN.png (held-out photos through the network, side by side), loss.png.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from nst_tf.io.images import save_image

FIELDS = ("step", "total", "content", "style", "tv", "seconds")


def write_json(path: Path, data: dict) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class RunLog:
    """Writes a training run's folder; `close()` flushes it. Create it only after all inputs are checked."""

    def __init__(self, folder: Path, config: dict, start_step: int = 0, tensorboard: bool = True) -> None:
        self.folder = Path(folder)
        (self.folder / "samples").mkdir(parents=True, exist_ok=True)
        write_json(self.folder / "config.json", config)
        self._metrics_path = self.folder / "metrics.csv"
        self._keep_rows_upto(start_step)
        new = not self._metrics_path.exists()
        self._metrics = open(self._metrics_path, "a", newline="", buffering=1)  # line-buffered: tail -f works
        self._writer = csv.writer(self._metrics)
        if new:
            self._writer.writerow(FIELDS)
        self._board = None
        if tensorboard:
            import tensorflow as tf

            self._board = tf.summary.create_file_writer(str(self.folder / "tb"))

    def _keep_rows_upto(self, step: int) -> None:
        """On resume: drop metric rows after the checkpoint's step (they will be trained again)."""
        if not self._metrics_path.exists():
            return
        with open(self._metrics_path, newline="") as handle:
            rows = list(csv.reader(handle))
        kept = rows[:1] + [row for row in rows[1:] if row and int(row[0]) <= step]
        with open(self._metrics_path, "w", newline="") as handle:
            csv.writer(handle).writerows(kept)

    def step(self, step: int, losses: dict[str, float], seconds: float) -> None:
        self._writer.writerow([step] + [f"{losses.get(k, 0.0):.6g}" for k in FIELDS[1:-1]] + [f"{seconds:.4f}"])
        if self._board is not None:
            import tensorflow as tf

            with self._board.as_default(step=step):
                for name, value in losses.items():
                    tf.summary.scalar(f"loss/{name}", value)
                tf.summary.scalar("seconds_per_step", seconds)

    def samples(self, step: int, pictures: list[np.ndarray]) -> Path:
        """Save (1, H, W, 3) pictures side by side (same height) as samples/step_NNNNNN.png."""
        strip = np.concatenate([p[0] for p in pictures], axis=1)[np.newaxis]
        path = save_image(strip, self.folder / "samples" / f"step_{step:06d}.png")
        if self._board is not None:
            import tensorflow as tf

            with self._board.as_default(step=step):
                tf.summary.image("samples", strip, max_outputs=1)
        self._metrics.flush()
        return path

    def plot(self) -> Path | None:
        """loss.png: the total, content and style losses over the steps (log scale)."""
        self._metrics.flush()
        with open(self._metrics_path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        if not rows:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        steps = [int(r["step"]) for r in rows]
        fig, ax = plt.subplots(figsize=(7, 4))
        for name in ("total", "content", "style", "tv"):
            values = [float(r[name]) for r in rows]
            if any(v > 0 for v in values):
                ax.plot(steps, values, label=name, linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("loss (unweighted terms; total weighted)")
        ax.legend()
        fig.tight_layout()
        path = self.folder / "loss.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path

    def close(self) -> None:
        self._metrics.close()
        if self._board is not None:
            self._board.close()
