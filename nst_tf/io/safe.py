"""Shared guards for every file nst_tf reads: open only regular files, say what anything else is, and check
declared sizes before decoding.

Why this module exists: a named pipe (FIFO) given where a file is expected makes a plain `open()` wait
forever; a directory, a device or a symlink loop used to be reported as "no such file"; an `.npz` can
declare arrays of gigabytes that `np.load` allocates before any shape is checked. Each guard raises the
`NSTError` subclass its caller names, with a one-line message that starts with the path and says what the
thing is, so the command line can print it and exit with status 2. Writing (atomic files with the user's
umask, output places) lives in `nst_tf.io.atomic` and `nst_tf.io.places`. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from nst_tf.errors import NSTError

_ERRNO_WORDS = {
    errno.ENOENT: "no such file",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ELOOP: "is a symlink loop",
    errno.ENAMETOOLONG: "the name is too long for the file system",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "is a directory",
    errno.ENXIO: "is a device or socket with nothing behind it",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
}


def reason(exc: OSError) -> str:
    """A few words for an OSError, without the path (the caller puts the path first)."""
    if exc.errno in _ERRNO_WORDS:
        return _ERRNO_WORDS[exc.errno]
    return " ".join((exc.strerror or type(exc).__name__).split())


def describe_kind(mode: int) -> str:
    """What a non-regular file is, in words: "is a directory", "is a named pipe (FIFO)" ..."""
    if stat.S_ISDIR(mode):
        return "is a directory"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a file"
    return "is not a regular file"


def _missing_reason(path: Path) -> str:
    """Why stat() said ENOENT: really missing, or a symlink whose target is gone."""
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            return f"is a broken symlink (to {os.readlink(path)})"
    except OSError:
        pass
    return "no such file"


def stat_regular(path: str | os.PathLike, error: type[NSTError] = NSTError, what: str = "") -> os.stat_result:
    """stat() a path that must be a regular file (symlinks followed); raise `error` in one line otherwise.

    Args:
        path: the file.
        error: the NSTError subclass to raise (ImageError, WeightsError, ConfigError ...).
        what: an optional word put before the path ("picture", "weights file").
    """
    path = Path(path)
    label = f"{what} {path}" if what else str(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        words = _missing_reason(path) if exc.errno == errno.ENOENT else reason(exc)
        raise error(f"{label}: {words}") from None
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{label}: {describe_kind(info.st_mode)}")
    return info


@contextlib.contextmanager
def open_regular(path: str | os.PathLike, error: type[NSTError] = NSTError, what: str = "") -> Iterator[BinaryIO]:
    """Open a regular file for binary reading, never blocking on a FIFO.

    The path is stat()-ed first (a clear message for directories, FIFOs, devices, loops), then opened with
    O_NONBLOCK — so a FIFO swapped in between cannot block the open — and fstat()-ed again on the open
    descriptor, which is what is actually read.
    """
    stat_regular(path, error, what)
    label = f"{what} {path}" if what else str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise error(f"{label}: {reason(exc)}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise error(f"{label}: {describe_kind(info.st_mode)}")
    with os.fdopen(fd, "rb") as handle:
        yield handle


def npz_members(
    path: str | os.PathLike, error: type[NSTError] = NSTError, max_bytes: int = 2**31, what: str = ""
) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """The arrays an `.npz` declares, {name: (shape, dtype)}, read from the headers only.

    Refuses, before any array is read: a file that is not a regular file or not a zip archive, an object
    (pickle) array, an array whose declared shape × itemsize disagrees with its zip entry, and a total
    declared size over `max_bytes`. `np.load` allocates whatever the header says, so this is the check
    that keeps a 2 MB file from taking 2 GB of memory.
    """
    label = f"{what} {path}" if what else str(path)
    members: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    total = 0
    with open_regular(path, error, what) as handle:
        try:
            with zipfile.ZipFile(handle) as archive:
                for entry in archive.infolist():
                    shape, dtype = _npy_header(archive, entry)
                    if dtype.hasobject:
                        raise error(f"{label}: {entry.filename} holds Python objects (pickle); refused")
                    nbytes = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
                    if nbytes > entry.file_size:  # the header promises more data than the entry holds
                        raise error(f"{label}: {entry.filename} declares {shape} but its entry is shorter")
                    total += nbytes
                    if total > max_bytes:
                        raise error(
                            f"{label}: its arrays declare {total / 2**20:.0f} MB, more than the "
                            f"{max_bytes / 2**20:.0f} MB allowed; refused before reading"
                        )
                    members[entry.filename.removesuffix(".npy")] = (shape, dtype)
        except (zipfile.BadZipFile, ValueError, EOFError, OSError, NotImplementedError) as exc:
            raise error(f"{label}: not a readable .npz archive ({' '.join(str(exc).split())[:100]})") from None
    return members


def _npy_header(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from the first bytes of one .npy member, without reading its data."""
    with archive.open(entry) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(member)
    return tuple(int(n) for n in shape), np.dtype(dtype)
