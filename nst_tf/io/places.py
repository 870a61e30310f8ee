"""Output places, checked before anything is written: a folder or file a command is about to create.

Every command that writes (run folders, `bench --json`, reports, trained models, sounds) asks here first,
so a place that cannot work is refused with one line before any work or any write: a path under a plain
file, a name longer than the file system allows, a folder nobody may write to (or a virtual one such as
/proc). Nothing is created by the checks; the writability probe makes and removes one empty temporary
folder in the nearest existing parent, the only way to learn the truth for every file system and user.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from nst_tf.errors import ConfigError

# Virtual file systems: writing a run there is never meant, and some accept mkdir of odd names.
VIRTUAL_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))


def nearest_existing(path: Path) -> tuple[Path, list[str]]:
    """(the deepest existing ancestor of `path`, the names below it still to be made, top first)."""
    missing: list[str] = []
    current = path
    while not os.path.lexists(current):
        if current.parent == current:
            break
        missing.insert(0, current.name)
        current = current.parent
    return current, missing


def check_creatable(path: str | os.PathLike, what: str) -> Path:
    """Check that `path` (a file or folder not yet there) can be created with its missing parents.

    Args:
        path: the place to create.
        what: how the message names it (e.g. "-o", "--json").

    Returns:
        `path` made absolute.

    Raises:
        ConfigError: a parent is a file, a name is too long, the place is virtual or not writable.
    """
    path = Path(os.path.abspath(path))
    if any(path == root or root in path.parents for root in VIRTUAL_ROOTS):
        raise ConfigError(f"{what} {path}: cannot write under /{path.parts[1]}")
    base, missing = nearest_existing(path)
    _check_folder(base, what, path)
    name_max = _pathconf(base, "PC_NAME_MAX", 255)
    for name in missing:
        if len(os.fsencode(name)) > name_max:
            raise ConfigError(f"{what}: the name {name[:40]!r}... is longer than the {name_max} bytes allowed here")
    if len(os.fsencode(str(path))) + 64 > _pathconf(base, "PC_PATH_MAX", 4096):  # room for files inside
        raise ConfigError(f"{what} {str(path)[:60]}...: the path is longer than the file system allows")
    probe_writable(base, what, path)
    return path


def check_replaceable_file(path: str | os.PathLike, what: str) -> Path:
    """Check that a file may be written at `path`: new and creatable, or an existing regular file.

    Raises:
        ConfigError: the place is a folder or something other than a regular file, or not writable.
    """
    path = Path(os.path.abspath(path))
    if os.path.lexists(path):
        mode = os.lstat(path).st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError(f"{what} {path}: is a folder, not a file")
        if not stat.S_ISREG(mode):
            raise ConfigError(f"{what} {path}: exists and is not a regular file; not replaced")
        probe_writable(path.parent, what, path)
        return path
    return check_creatable(path, what)


def make_parents(path: Path, what: str) -> None:
    """Create `path`'s missing parent folders (after the checks), as one line on failure."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot create its folder ({describe_os_error(exc)})") from None


def describe_os_error(exc: OSError) -> str:
    """An OSError as a few words, without the repeated path."""
    return exc.strerror or errno.errorcode.get(exc.errno or 0, type(exc).__name__)


def _check_folder(base: Path, what: str, path: Path) -> None:
    try:
        mode = os.stat(base).st_mode  # a symlink to a folder is a folder here (the user's own link)
    except OSError as exc:
        raise ConfigError(f"{what} {path}: {base} cannot be used ({describe_os_error(exc)})") from None
    if not stat.S_ISDIR(mode):
        raise ConfigError(f"{what} {path}: {base} is a file, not a folder")


def probe_writable(base: Path, what: str, path: Path) -> None:
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".nst_tf-probe-", dir=base))
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot write in {base} ({describe_os_error(exc)})") from None


def _pathconf(path: Path, name: str, fallback: int) -> int:
    try:
        return os.pathconf(path, name)
    except (OSError, ValueError):
        return fallback
