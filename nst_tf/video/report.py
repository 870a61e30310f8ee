"""The run folder of a `video` run (`--run-dir DIR`): config.json with the settings, the input's probe, the
precision decision and the measure, and preview.png, a strip of a few frames (the input above, the result
below).

The measure is what is cheap to take while the frames stream by: the result's warping error against the
input (`nst_tf.video.temporal`, Lai et al.'s definition, pair by pair as the frames come) and the input clip's
own figure on the same pairs (the floor flow errors and lighting leave). It costs two flows a frame, so it is
taken only with --run-dir.

The folder is the project's `nst_tf.io.rundir.RunFolder` (kind "video", with its marker): `plan_run_folder`
checks the place before any work (a new folder, or with --overwrite an earlier nst_tf run folder, never the
user's), and the folder is made only when the clip is finished (or stopped), its files written atomically,
so nothing is half-written.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nst_tf.errors import ConfigError
from nst_tf.io.rundir import RunFolder

KIND = "video"
PREVIEW = "preview.png"
PREVIEW_FRAMES = 4
_TILE_WIDTH = 192  # px of one frame in the preview strip


def plan_run_folder(run_dir: str | os.PathLike, overwrite: bool, output: Path) -> RunFolder:
    """Check `--run-dir` (new, or an earlier nst_tf run folder with --overwrite) and that the clip is not to be
    written inside it (replacing the folder would remove the clip); nothing is created.

    Raises:
        ConfigError: one line, on the first problem.
    """
    path = Path(os.path.abspath(run_dir))
    if path == Path(os.path.abspath(output)) or path in Path(os.path.abspath(output)).parents:
        raise ConfigError(f"--run-dir {run_dir}: holds the output clip; write the clip elsewhere")
    return RunFolder.plan_new(path.parent, path.name, path.name, overwrite=overwrite, kind=KIND, what="--run-dir")


def preview_indices(total: int | None, count: int = PREVIEW_FRAMES) -> set[int]:
    """The frames the preview shows: `count` spread evenly over a clip of `total` frames (unknown: the first)."""
    if not total:
        return set(range(count))
    return {int(round(i)) for i in np.linspace(0, total - 1, min(count, total))}


class Measure:
    """The warping error of the result and of the input, pair by pair, and the preview's frames (module doc)."""

    def __init__(self, total: int | None) -> None:
        self.wanted = preview_indices(total)
        self.kept: list[tuple[np.ndarray, np.ndarray]] = []
        self.errors: list[float] = []
        self.floor: list[float] = []
        self._previous: tuple[np.ndarray, np.ndarray] | None = None

    def observe(self, index: int, frame: np.ndarray, result: np.ndarray) -> None:
        """Frame `index` of the input (1, H, W, 3) and its result, in order."""
        from nst_tf.video.temporal import frame_pair, pair_warping_error

        if self._previous is not None:
            before_in, before_out = self._previous
            backward, mask = frame_pair(frame, before_in)
            self.errors.append(pair_warping_error(result, before_out, backward, mask))
            self.floor.append(pair_warping_error(frame, before_in, backward, mask))
        self._previous = (frame, result)
        if index in self.wanted:  # kept at the strip's size: four full frames would be 96 bytes a pixel held
            self.kept.append((_thumbnail(frame), _thumbnail(result)))

    def figures(self) -> dict:
        """{"warping_error", "input_warping_error", "pairs"} (None without a pair)."""

        def mean(values: list[float]) -> float | None:
            return round(float(np.mean(values)), 6) if values else None

        return {"warping_error": mean(self.errors), "input_warping_error": mean(self.floor), "pairs": len(self.errors)}

    def strip(self) -> np.ndarray | None:
        """The kept frames side by side, the inputs above the results, each `_TILE_WIDTH` px wide."""
        if not self.kept:
            return None
        rows = [np.concatenate([pair[i] for pair in self.kept], 1) for i in (0, 1)]
        return np.clip(np.concatenate(rows, 0), 0.0, 1.0)[np.newaxis]


def _thumbnail(frame: np.ndarray) -> np.ndarray:
    """A (1, H, W, 3) frame as the preview shows it: (h, `_TILE_WIDTH`, 3), averaged by area."""
    import cv2

    height, width = frame.shape[1:3]
    size = (_TILE_WIDTH, max(2, round(height * _TILE_WIDTH / width)))
    return cv2.resize(frame[0], size, interpolation=cv2.INTER_AREA)


def write_run_folder(folder: RunFolder, measure: Measure, record: dict) -> Path:
    """Create the planned folder (replacing an earlier nst_tf run there) and write config.json (`record` with
    the measure) and the preview."""
    folder.create(snapshots=False)
    strip = measure.strip()
    if strip is not None:
        folder.save_picture(PREVIEW, strip)
    folder.write_record({**record, "measure": measure.figures(), "preview": PREVIEW if strip is not None else None})
    return folder.path
