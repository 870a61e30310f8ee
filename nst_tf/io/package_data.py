"""What the package ships besides code, found wherever it is installed: the trained networks and decoders
(`nst_tf/models/`, their provenance in `models/README.md`) and the sample pictures (`nst_tf/samples/`).

They are package data (pyproject's `package-data`), reached through `importlib.resources`, so a wheel
installed anywhere serves them as a checkout does; nothing here knows where the repository is. In the
repository `nst_tf/samples` is a link to the project's `images/` (the pictures the README's commands
name), so each picture is stored once; the wheel holds copies.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from nst_tf.errors import ConfigError

MODELS = "models"
DECODERS = "models/universal"
SAMPLES = "samples"


def package_path(relative: str) -> Path:
    """A file or folder inside the installed nst_tf package, as a file-system path.

    Args:
        relative: the path below the package, with "/" between the parts (e.g. "models/universal").

    Raises:
        ConfigError: the package is not on the file system (imported from a zip), so Keras and Pillow,
            which open files by name, could not read its data.
    """
    found = resources.files("nst_tf").joinpath(*relative.split("/"))
    if not isinstance(found, Path):
        raise ConfigError(f"nst_tf's {relative} is inside {found} (a zip?); install the package unpacked")
    return found


def models_dir() -> Path:
    """The shipped per-style networks, one folder each (`starry_night/model.weights.h5` + `model.json`)."""
    return package_path(MODELS)


def decoders_dir() -> Path:
    """The shipped universal decoders (`NAME.weights.h5` beside `NAME.json`)."""
    return package_path(DECODERS)


def sample_picture(name: str) -> Path:
    """One of the sample pictures (`chelsea.png`, `coffee.png`, `ihc.png`, ...); it may be absent when a
    wheel was built where the samples link could not be followed, so callers check `is_file()`."""
    return package_path(SAMPLES) / name
