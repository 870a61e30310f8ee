"""Atomic file writes: a temporary file in the destination's folder, then `os.replace`.

Every file nst_tf writes goes through `atomic_write` (or one of its wrappers), so an interrupted write
never leaves half a file under the real name, and a reader sees either the old file or the new one.
`tempfile.mkstemp` creates its file with mode 600; the finished file gets the mode a plain `open()` would
have given it (0o666 minus the user's umask), so results are as readable as the user's other files.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

_UMASK: int | None = None


def user_umask() -> int:
    """The process's umask (read once: os.umask can only be read by setting it)."""
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0o022)
        os.umask(_UMASK)
    return _UMASK


def file_mode() -> int:
    """The mode `open(path, "w")` would give a new file: 0o666 minus the umask."""
    return 0o666 & ~user_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it becomes `path` (mode per the umask).

    The temporary file keeps `path`'s suffix, so writers that choose a format by suffix (Pillow,
    matplotlib, soundfile) still do. On any exception, Ctrl-C included, the temporary file is removed and
    `path` is left as it was.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f"{path.suffix}.part{path.suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call `write(temporary_path)`, then move the result to `path` atomically; returns `path`."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: str | os.PathLike, data: object) -> Path:
    """Write `data` as indented JSON (and a final newline) to `path` atomically."""
    return write_text(path, json.dumps(data, indent=2) + "\n")
