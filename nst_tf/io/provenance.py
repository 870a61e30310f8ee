"""Where a result came from: the versions of the libraries that decide its numbers, and the machine.

The one recorder for everything that says how it ran (a run's config.json, `bench --json`, the parity
report, a trained network's model.json, a decoder's JSON). Versions are read from the installed
distributions' metadata, so asking costs no import of TensorFlow or torch; a library that is not installed
is left out. The machine is what this process sees (the CPU's model name, the CPUs it may use, the GPUs
TensorFlow found), never a description written by hand.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

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


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo's "model name" on Linux), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def usable_cpus() -> int:
    """The logical CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def machine() -> dict[str, object]:
    """{"platform", "processor", "cpus", "gpus"} of this machine, as this process sees it.

    "gpus" (how many GPUs TensorFlow sees) is there only when TensorFlow is already imported: asking would
    import it, which a record must not cost.
    """
    found: dict[str, object] = {"platform": platform.platform(), "processor": cpu_model(), "cpus": usable_cpus()}
    if "tensorflow" in sys.modules:
        found["gpus"] = len(sys.modules["tensorflow"].config.list_physical_devices("GPU"))
    return found
