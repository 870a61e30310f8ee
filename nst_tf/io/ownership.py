"""The ownership rule, in one place: nst_tf writes into, replaces or deletes only what it made.

- **A folder nst_tf made** carries the marker `.nst_tf-run` (`nst_tf.io.rundir.RunFolder`): it is
  nst_tf's. `--overwrite` may replace it whole (`RunFolder.plan_new`: run, audio, universal --run-dir) or
  replace the files a command writes in it (compare). Folders without the marker are never replaced.
- **A folder nst_tf did not make** (the user's `compare -o DIR`, `apply -o DIR`, `universal-train -o DIR`):
  nst_tf may add its files to it, and it lists each one it wrote in a small ledger, `.nst_tf-files` (file
  name -> SHA-256 of the bytes it wrote). A file already there is replaced only when nst_tf wrote it: the
  ledger names those very bytes, or the command recognises the file as its own artefact from before the
  ledger existed (a decoder's record by its content; a folder holding nothing but an earlier report's or
  earlier outputs' files). Anything else is refused, `--overwrite` or not, and nothing in such a folder is
  ever deleted. Where a command has `--overwrite` (compare, apply), replacing even its own file needs it;
  the trainers, which have none, replace their own files (a retrained decoder, a resumed model).
  `train -o MODEL_DIR` follows the same rule through `nst_tf.training.runlog`: its run/ must be nst_tf's
  (the marker) and an existing model.json must be a model nst_tf saved.
- **A single file whose exact path the user names** (`-o OUT.png` of apply and universal, `weights
  convert DST`): the user chose that path, so `--overwrite` replaces it; without it an existing file is
  refused. A named file a command writes without an `--overwrite` flag (`bench --json FILE`) replaces only a
  file recognised as that command's own output.

`OwnedFiles.plan` does every check before anything is created; a refusal is one `ConfigError` line (exit
status 2 at the command line). `OwnedFiles.write` then writes each file atomically and records it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from nst_tf import __version__
from nst_tf.errors import ConfigError
from nst_tf.io import atomic
from nst_tf.io.places import check_creatable, describe_os_error

LEDGER = ".nst_tf-files"
MARKER = ".nst_tf-run"  # the same name as nst_tf.io.rundir.MARKER (rundir imports it from here)
MAX_LEDGER_BYTES = 2**20


def has_marker(folder: Path) -> bool:
    """True for a real folder (not a symlink) that carries nst_tf's marker as a regular file."""
    marker = Path(folder) / MARKER
    if Path(folder).is_symlink() or not Path(folder).is_dir() or not os.path.lexists(marker):
        return False
    return stat.S_ISREG(os.lstat(marker).st_mode)


def write_marker(folder: Path, kind: str, **extra: object) -> None:
    """The marker file that says nst_tf made `folder` (which must exist)."""
    record = {"nst_tf": __version__, "kind": kind, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}
    atomic.write_json(Path(folder) / MARKER, record)


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_ledger(folder: Path, what: str) -> dict[str, str]:
    """The folder's ledger ({} when there is none).

    Raises:
        ConfigError: something is at the ledger's name that nst_tf did not write (never replaced).
    """
    path = Path(folder) / LEDGER
    if not os.path.lexists(path):
        return {}
    refusal = ConfigError(f"{what} {folder}: {LEDGER} there is not nst_tf's; it is never replaced")
    if not stat.S_ISREG(os.lstat(path).st_mode) or path.stat().st_size > MAX_LEDGER_BYTES:
        raise refusal
    try:
        ledger = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise refusal from None
    files = ledger.get("files") if isinstance(ledger, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise refusal
    return files


class OwnedFiles:
    """Named files nst_tf is about to write into one folder; make one with `plan` (checks only)."""

    def __init__(self, folder: Path, names: Sequence[str], kind: str | None, new: bool, marked: bool) -> None:
        self.folder = folder
        self.given = folder  # the path as the user wrote it, for messages (set by plan)
        self.names = tuple(names)
        self.kind = kind  # a new folder gets the marker of this kind (None: the ledger only)
        self.new = new
        self.marked = marked or (new and kind is not None)
        self.ready = False

    @classmethod
    def plan(
        cls,
        folder: str | os.PathLike,
        names: Sequence[str],
        overwrite: bool,
        what: str,
        kind: str | None = None,
        recognise: Callable[[Path], bool] | None = None,
    ) -> OwnedFiles:
        """Check that `names` may be written into `folder` under the ownership rule; nothing is created.

        Args:
            folder: the folder (made, with its missing parents, at the first write when not there).
            names: the plain file names the command will write there.
            overwrite: the command's --overwrite (pass True for a command that has no such flag and always
                replaces its own output).
            what: the option as the message names it, e.g. "-o".
            kind: make a new folder a marked nst_tf folder of this kind (e.g. "compare").
            recognise: True for an existing file the command knows by its content as its own.

        Raises:
            ConfigError: the folder cannot be used, or a file there may not be replaced.
        """
        given, folder = Path(folder), Path(os.path.abspath(folder))
        planned = cls._check(folder, names, overwrite, what, kind, recognise)
        planned.given = given
        return planned

    @classmethod
    def _check(cls, folder, names, overwrite, what, kind, recognise) -> OwnedFiles:
        if not os.path.lexists(folder):
            check_creatable(folder, what)
            return cls(folder, names, kind, new=True, marked=False)
        if not folder.is_dir():
            raise ConfigError(f"{what} {folder}: exists and is not a folder")
        check_creatable(folder / ".nst_tf-new", what)  # writable (one probe, nothing left behind)
        marked = has_marker(folder)
        ledger = {} if marked else read_ledger(folder, what)
        for name in names:
            path = folder / name
            if not os.path.lexists(path):
                continue
            if not stat.S_ISREG(os.lstat(path).st_mode):
                raise ConfigError(f"{what} {path}: exists and is not a regular file; it is never replaced")
            ours = marked or ledger.get(name) == file_digest(path) or (recognise is not None and recognise(path))
            if not ours:
                raise ConfigError(
                    f"{what} {path}: exists and was not written by nst_tf; it is never replaced "
                    f"(move it away or choose another {what})"
                )
            if not overwrite:
                raise ConfigError(f"{what} {path}: already exists; pass --overwrite to replace it")
        return cls(folder, names, kind, new=False, marked=marked)

    def path(self, name: str) -> Path:
        return self.folder / name

    def write(self, name: str, write: Callable[[Path], object]) -> Path:
        """Write `name` atomically (`write(temporary_path)` makes the content) and record it as nst_tf's."""
        if name not in self.names:
            raise ValueError(f"{name} was not planned for {self.folder}")
        self._prepare()
        path = atomic.atomic_write(self.folder / name, write)
        self.record(name)
        return path

    def record(self, *names: str) -> None:
        """Note files written into the folder by other code (a library call that writes its own) as nst_tf's."""
        self._prepare()
        if self.marked:
            return  # the whole folder is nst_tf's
        ledger = read_ledger(self.folder, "")
        for name in names:
            ledger[name] = file_digest(self.folder / name)
        atomic.write_json(self.folder / LEDGER, {"nst_tf": __version__, "files": ledger})

    def _prepare(self) -> None:
        if self.ready:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if self.new and self.kind is not None:
                write_marker(self.folder, self.kind)
        except OSError as exc:
            raise ConfigError(f"cannot create {self.folder} ({describe_os_error(exc)})") from None
        self.ready = True


def written_by_nst_tf(
    folder: str | os.PathLike, names: Sequence[str], recognise: Callable[[Path], bool] | None = None
) -> list[str]:
    """Those of `names` that exist in `folder` as regular files nst_tf wrote (the marker, the ledger's digest,
    or `recognise`): what a re-run may skip as done. Reads only; an unreadable ledger counts as none."""
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        return []
    marked = has_marker(folder)
    try:
        ledger = {} if marked else read_ledger(folder, "")
    except ConfigError:
        ledger = {}
    done = []
    for name in names:
        path = folder / name
        if not os.path.lexists(path) or not stat.S_ISREG(os.lstat(path).st_mode):
            continue
        if marked or ledger.get(name) == file_digest(path) or (recognise is not None and recognise(path)):
            done.append(name)
    return done


def recognise_json(required: dict[str, object] | Sequence[str]) -> Callable[[Path], bool]:
    """A `recognise` for JSON files nst_tf writes: an object with these keys (and these values, if a dict)."""

    def check(path: Path) -> bool:
        try:
            if path.stat().st_size > MAX_LEDGER_BYTES:
                return False
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return False
        if not isinstance(data, dict):
            return False
        if isinstance(required, dict):
            return all(key in data and (value is None or data[key] == value) for key, value in required.items())
        return all(key in data for key in required)

    return check


def recognise_filled_folder(pattern: str) -> Callable[[Path], bool]:
    """A `recognise` for a folder nst_tf filled before the ledger existed: every entry in it is a regular
    file whose whole name matches `pattern` (one file of anyone else's there, and nothing is recognised)."""
    names = re.compile(pattern)

    def check(path: Path) -> bool:
        entries = list(path.parent.iterdir())
        return all(names.fullmatch(e.name) and stat.S_ISREG(os.lstat(e).st_mode) for e in entries)

    return check
