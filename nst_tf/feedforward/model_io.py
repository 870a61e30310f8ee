"""Model folders: a trained network as Keras 3 `model.weights.h5` plus `model.json` that says how it was made.

`model.json` holds `format` ("nst_tf-feedforward/1"), `architecture` ({"generator", "width", …}), the style
picture (name, licence), training settings, steps, losses, command, time and machine. `save_model_folder`
writes both files atomically (temporary names, then rename; the JSON last, so a folder with a JSON is
complete). `load_model` checks the JSON before building the network and loading the weights (h5py, no
pickle), and turns every problem into `ModelError` (a `ConfigError`, exit 2 on the command line).

Shipped models are package data, `nst_tf/models/NAME/` (`nst_tf.io.package_data`); `find_model` takes a
shipped name or a folder path.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import keras

from nst_tf.errors import ConfigError
from nst_tf.feedforward.networks import GENERATORS, build_generator
from nst_tf.io import atomic, package_data

FORMAT = "nst_tf-feedforward/1"
WEIGHTS_FILE = "model.weights.h5"
META_FILE = "model.json"
MAX_META_BYTES = 1 << 20


class ModelError(ConfigError):
    """A model folder or name that cannot be used (missing, not a model, damaged weights)."""


def shipped_dir() -> Path:
    """The folder of shipped models (`nst_tf/models/`, package data); $NST_TF_MODELS overrides."""
    if env := os.environ.get("NST_TF_MODELS"):
        return Path(env)
    return package_data.models_dir()


def shipped_models() -> list[tuple[str, dict]]:
    """[(name, model.json contents)] of the shipped models, sorted by name; damaged ones are left out."""
    folder = shipped_dir()
    found = []
    if folder.is_dir():
        for sub in sorted(folder.iterdir()):
            try:
                found.append((sub.name, read_meta(sub)))
            except ModelError:
                continue
    return found


def find_model(spec: str) -> Path:
    """A model folder from a shipped name (`starry_night`) or a path to a folder."""
    path = Path(spec)
    if path.is_dir():
        return path
    shipped = shipped_dir() / spec
    if "/" not in spec and os.sep not in spec and shipped.is_dir():
        return shipped
    names = ", ".join(name for name, _ in shipped_models()) or "none"
    raise ModelError(f"{spec}: no such model folder or shipped model (shipped: {names})")


def read_meta(folder: Path) -> dict:
    """model.json of a model folder, checked (format, architecture, weights file present)."""
    meta_path, weights_path = folder / META_FILE, folder / WEIGHTS_FILE
    for path in (meta_path, weights_path):
        if not path.is_file():
            raise ModelError(f"{folder}: not a model folder (no regular file {path.name})")
    if meta_path.stat().st_size > MAX_META_BYTES:
        raise ModelError(f"{meta_path}: too large for a model description")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{meta_path}: not valid JSON ({exc.__class__.__name__})") from None
    arch = meta.get("architecture") if isinstance(meta, dict) else None
    if meta.get("format") != FORMAT if isinstance(meta, dict) else True:
        raise ModelError(f"{meta_path}: not an nst_tf model description (format must be {FORMAT})")
    if not isinstance(arch, dict) or arch.get("generator") not in GENERATORS:
        raise ModelError(f"{meta_path}: unknown architecture {arch!r}")
    width = arch.get("width")
    if not isinstance(width, (int, float)) or not 0 < width <= 4:
        raise ModelError(f"{meta_path}: bad width {width!r}")
    return meta


def load_model(folder: Path) -> tuple[keras.Model, dict]:
    """Build the network a model folder describes and load its weights; returns (model, meta)."""
    meta = read_meta(folder)
    arch = meta["architecture"]
    model = build_generator(arch["generator"], float(arch["width"]), seed=int(arch.get("seed", 0)))
    try:
        model.load_weights(str(folder / WEIGHTS_FILE))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise ModelError(f"{folder / WEIGHTS_FILE}: cannot load the weights ({reason})") from None
    return model, meta


def save_model_folder(folder: Path, model: keras.Model, meta: dict) -> Path:
    """Write model.weights.h5 and model.json into `folder` (made if needed), each atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".model.", suffix=".weights.h5", dir=folder)
    os.close(fd)
    try:
        model.save_weights(tmp, overwrite=True)
        os.chmod(tmp, atomic.file_mode())  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, folder / WEIGHTS_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    atomic.write_json(folder / META_FILE, {"format": FORMAT, **meta})
    return folder


def check_model_files(model_dir: str | os.PathLike) -> None:
    """model.json / model.weights.h5 in MODEL_DIR, when there, must be a model nst_tf saved.

    Raises:
        ConfigError: one of them is not a regular file, or model.json is not nst_tf's model record.
    """
    model_dir = Path(model_dir)
    meta = model_dir / META_FILE
    for path in (meta, model_dir / "model.weights.h5"):
        if os.path.lexists(path) and (path.is_symlink() or not path.is_file()):
            raise ConfigError(f"-o {path}: exists and is not a regular file; it is never replaced")
    if not os.path.lexists(meta):
        if os.path.lexists(model_dir / "model.weights.h5"):
            raise ConfigError(
                f"-o {model_dir / 'model.weights.h5'}: not written by nst_tf (no model.json); never replaced"
            )
        return
    try:
        record = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        record = None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ConfigError(f"-o {meta}: not a model nst_tf saved; it is never replaced (choose another -o)")
