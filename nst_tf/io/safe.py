"""Shared guards for every file nst_tf reads: open only regular files, say what anything else is, and check
declared sizes before decoding.

Why this module exists: a named pipe (FIFO) given where a file is expected makes a plain `open()` wait
forever; a directory, a device or a symlink loop used to be reported as "no such file"; an `.npz` can
declare arrays of gigabytes that `np.load` allocates before any shape is checked. This is the one place
that decides whether a path is a regular file (`stat_regular`, `open_regular`): the picture, weights,
run-state and sound readers all come here. Each guard raises the `NSTError` subclass its caller names,
with a one-line message that starts with the path and says what the thing is (or the caller's own words
for the `Refusal`), so the command line can print it and exit with status 2. Writing (atomic files with the user's
umask, output places) lives in `nst_tf.io.atomic` and `nst_tf.io.places`. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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


# What a path can be instead of a regular file this process can read (`Refusal.problem`), in safe's words.
_PROBLEM_WORDS = {
    "missing": "no such file",
    "broken link": "is a broken symlink (to {target})",
    "loop": "is a symlink loop",
    "denied": "permission denied",
    "directory": "is a directory",
    "pipe": "is a named pipe (FIFO), not a file",
    "socket": "is a socket, not a file",
    "char device": "is a device, not a file",
    "block device": "is a device, not a file",
    "other": "is not a regular file",
}
_ERRNO_PROBLEMS = {errno.ELOOP: "loop", errno.EACCES: "denied", errno.EPERM: "denied", errno.EISDIR: "directory"}


@dataclass(frozen=True)
class Refusal:
    """Why a path is not a regular file this process can read, for a caller that words it its own way.

    `problem` is one of "missing", "broken link" (`target` says where it points), "loop", "denied",
    "directory", "pipe", "socket", "char device", "block device", "other" (not a regular file) and
    "error" (any other OSError); `strerror` and `errno` are the OSError's ("" and 0 when none was raised).
    """

    path: Path
    problem: str
    strerror: str = ""
    target: str = ""
    errno: int = 0

    @property
    def words(self) -> str:
        """nst_tf's standard few words for it, without the path ("is a named pipe (FIFO), not a file")."""
        if self.problem == "error":
            return _ERRNO_WORDS.get(self.errno, self.strerror)
        return _PROBLEM_WORDS[self.problem].format(target=self.target)


def _kind(mode: int) -> str:
    """The `Refusal.problem` for a stat mode that is not a regular file's."""
    for test, problem in (
        (stat.S_ISDIR, "directory"),
        (stat.S_ISFIFO, "pipe"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "char device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return problem
    return "other"


def _refusal(path: Path, exc: OSError) -> Refusal:
    """The Refusal for an OSError from stat() or open() of `path`."""
    strerror = " ".join((exc.strerror or type(exc).__name__).split())
    if exc.errno == errno.ENOENT:
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                return Refusal(path, "broken link", strerror, os.readlink(path), errno.ENOENT)
        except OSError:
            pass
        return Refusal(path, "missing", strerror, errno=errno.ENOENT)
    return Refusal(path, _ERRNO_PROBLEMS.get(exc.errno, "error"), strerror, errno=exc.errno or 0)


class _Refused(Exception):
    """Carries a Refusal from the checks below to the public functions, which word it."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.problem)
        self.refusal = refusal


def _stat(path: Path) -> os.stat_result:
    """stat() (symlinks followed) of a path that must be a regular file; raises _Refused otherwise."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise _Refused(_refusal(path, exc)) from None
    if not stat.S_ISREG(info.st_mode):
        raise _Refused(Refusal(path, _kind(info.st_mode)))
    return info


def _open(path: Path) -> int:
    """A read-only descriptor of a regular file, opened without blocking; raises _Refused otherwise.

    The path is stat()-ed first, so a FIFO, device or folder is named without being opened; then opened
    with O_NONBLOCK (a FIFO swapped in between cannot block the open) and fstat()-ed again on the
    descriptor, which is what is actually read.
    """
    _stat(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _Refused(_refusal(path, exc)) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _Refused(Refusal(path, _kind(info.st_mode)))
    return fd


Words = Callable[[Refusal], str]


def _standard_words(what: str) -> Words:
    return lambda r: f"{what} {r.path}: {r.words}" if what else f"{r.path}: {r.words}"


def stat_regular(
    path: str | os.PathLike, error: type[NSTError] = NSTError, what: str = "", words: Words | None = None
) -> os.stat_result:
    """stat() a path that must be a regular file (symlinks followed, nothing opened); raise `error` otherwise.

    Args:
        path: the file.
        error: the NSTError subclass to raise (ImageError, WeightsError, ConfigError ...).
        what: an optional word put before the path ("picture", "weights file").
        words: the caller's own message for a `Refusal` (default: "[what] PATH: " and `Refusal.words`).
    """
    try:
        return _stat(Path(path))
    except _Refused as refused:
        raise error((words or _standard_words(what))(refused.refusal)) from None


@contextlib.contextmanager
def open_regular(
    path: str | os.PathLike, error: type[NSTError] = NSTError, what: str = "", words: Words | None = None
) -> Iterator[BinaryIO]:
    """Open a regular file for binary reading, never blocking on a FIFO (arguments as `stat_regular`).

    The path is stat()-ed first (a clear message for directories, FIFOs, devices, loops), then opened with
    O_NONBLOCK and fstat()-ed again on the open descriptor; `os.fstat(handle.fileno())` gives its size.
    """
    try:
        fd = _open(Path(path))
    except _Refused as refused:
        raise error((words or _standard_words(what))(refused.refusal)) from None
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
                            f"{label}: its arrays would inflate to {total / 2**20:.0f} MB, more than the "
                            f"{max_bytes / 2**20:.0f} MB allowed; refused before reading"
                        )
                    members[entry.filename.removesuffix(".npy")] = (shape, dtype)
        except NSTError:  # ours, already worded (ConfigError is also a ValueError)
            raise
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
