"""The run folder of a `universal` run: the result, its inputs, config.json and a one-page report.html.

DIR/result.png, content.png, style_1.png …, mask_1.png … (when masks were given), config.json (the settings,
the decoders used and the seconds) and report.html (the pictures side by side with the settings). Written
into a temporary sibling folder first and renamed into place, so an interrupted run leaves no half folder.
The project's shared run-folder object (nst_tf/io/, the `cli` helper's) is to replace this small module.
"""

from __future__ import annotations

import html
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from nst_tf.io.images import save_image


def write_run_folder(folder: Path, result: np.ndarray, plan: dict, settings: dict, timing: dict) -> Path:
    """Write the run folder (replacing an earlier one at `folder` only after the new one is complete)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        pictures = {"result": save_image(result, staging / "result.png").name}
        pictures["content"] = save_image(plan["content"], staging / "content.png").name
        for index, style in enumerate(plan["styles"], 1):
            pictures[f"style {index}"] = save_image(style, staging / f"style_{index}.png").name
        for index, mask in enumerate(plan["masks"] or [], 1):
            grey = np.repeat(np.asarray(mask, np.float32)[np.newaxis, ..., np.newaxis], 3, axis=-1)
            pictures[f"mask {index}"] = save_image(grey, staging / f"mask_{index}.png").name
        config = {"command": "universal", "settings": _jsonable(settings), "timing": timing, "pictures": pictures}
        (staging / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        (staging / "report.html").write_text(_page(config))
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def _jsonable(settings: dict) -> dict:
    plain = (str, int, float, bool, list, type(None))
    return {key: value if isinstance(value, plain) else str(value) for key, value in settings.items()}


def _page(config: dict) -> str:
    cells = "".join(
        f'<figure><img src="{html.escape(name)}" style="max-width:320px"><figcaption>{html.escape(label)}'
        "</figcaption></figure>"
        for label, name in config["pictures"].items()
    )
    rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in {**config["settings"], **config["timing"]}.items()
    )
    return (
        "<!doctype html><meta charset='utf-8'><title>universal style transfer</title>"
        "<style>figure{display:inline-block;margin:4px}</style>"
        f"<h1>universal style transfer</h1><div>{cells}</div><table>{rows}</table>\n"
    )
