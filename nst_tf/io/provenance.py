"""Where a result came from: the versions of the libraries that decide its numbers.

One helper for every command that records how it ran (a run's config.json, `bench --json`, the parity
report, training runs). Versions are read from the installed distributions' metadata, so asking costs no
import of TensorFlow or torch; a library that is not installed is left out.
"""

from __future__ import annotations

import platform
from importlib import metadata

from nst_tf import __version__

# (key in the record, distribution name). torch only appears where it is installed.
LIBRARIES = (
    ("tensorflow", "tensorflow"),
    ("keras", "keras"),
    ("numpy", "numpy"),
    ("pillow", "pillow"),
    ("h5py", "h5py"),
    ("scipy", "scipy"),
    ("torch", "torch"),
)


def library_versions(*extra: str) -> dict[str, str]:
    """{"nst_tf", "python", "tensorflow", "keras", ...: version} of what is installed.

    Args:
        extra: more distribution names to include (e.g. "soundfile"), when installed.
    """
    versions = {"nst_tf": __version__, "python": platform.python_version()}
    for key, distribution in (*LIBRARIES, *((name, name) for name in extra)):
        try:
            versions[key] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return versions
