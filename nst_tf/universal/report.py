"""The run folder of a `universal` run: the result, its inputs, config.json and a one-page report.html.

DIR/result.png, content.png, style_1.png …, mask_1.png … (when masks were given), config.json (the settings,
the decoders used and the seconds) and report.html (the pictures side by side with the settings). The folder
is the project's `nst_tf.io.rundir.RunFolder` (kind "universal", with its marker): `plan_run_folder` checks
the place before any work, so `--overwrite` replaces only an earlier nst_tf run folder, never the user's
folder; the page is built by `nst_tf.io.report.write_page` like every report.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nst_tf.io.report import figure, section, table, write_page
from nst_tf.io.rundir import RunFolder

KIND = "universal"


def plan_run_folder(run_dir: str | os.PathLike, overwrite: bool) -> RunFolder:
    """Check `--run-dir` (new, or an earlier nst_tf run folder with --overwrite); nothing is created.

    Raises:
        ConfigError: the place cannot be written, or is anything but an nst_tf run folder to replace.
    """
    path = Path(os.path.abspath(run_dir))
    return RunFolder.plan_new(path.parent, path.name, path.name, overwrite=overwrite, kind=KIND, what="--run-dir")


def write_run_folder(folder: RunFolder, result: np.ndarray, plan: dict, settings: dict, timing: dict) -> Path:
    """Create the planned folder (replacing an earlier nst_tf run there) and write the run into it."""
    folder.create(snapshots=False)
    pictures = {"result": folder.save_picture("result.png", result).name}
    pictures["content"] = folder.save_picture("content.png", plan["content"]).name
    for index, style in enumerate(plan["styles"], 1):
        pictures[f"style {index}"] = folder.save_picture(f"style_{index}.png", style).name
    for index, mask in enumerate(plan["masks"] or [], 1):
        grey = np.repeat(np.asarray(mask, np.float32)[np.newaxis, ..., np.newaxis], 3, axis=-1)
        pictures[f"mask {index}"] = folder.save_picture(f"mask_{index}.png", grey).name
    config = {"command": "universal", "settings": _jsonable(settings), "timing": timing, "pictures": pictures}
    folder.write_record(config)
    html_report(folder.path, config)
    return folder.path


def html_report(run_dir: Path, config: dict) -> Path:
    """report.html: the pictures side by side, then the settings and the timing."""
    cells = [figure(run_dir, name, label) for label, name in config["pictures"].items()]
    rows = {**config["settings"], **config["timing"]}
    sections = [section(None, *cells), table(rows, as_json=False)]
    return write_page(run_dir, "universal style transfer", "universal style transfer", sections)


def _jsonable(settings: dict) -> dict:
    plain = (str, int, float, bool, list, type(None))
    return {key: value if isinstance(value, plain) else str(value) for key, value in settings.items()}
