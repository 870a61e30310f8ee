"""The run folder: one object that owns everything a command writes about one run.

`RunFolder` owns `config.json` (the record: settings, inputs, status, versions), `metrics.csv`, the
snapshots, TensorBoard's event files (`tb/`), the resumable state (`state/`, see nst_tf.io.runstate) and
the report. Any command can use it: the picture optimiser, trainers, universal style transfer, audio;
what a command saves beyond that goes through `write_file(name, writer)` (atomic, any format: WAVs,
spectrograms, loss plots, sample pictures) and `snapshot_path(iteration, suffix)`.

Safety follows the one ownership rule (`nst_tf.io.ownership`, which also covers files nst_tf writes into
folders it did not make): every folder RunFolder makes carries a marker file (`.nst_tf-run`); `plan_new`
only checks (nothing is created until `create`); `--overwrite` replaces only a folder that carries the
marker (or an old nst_tf run folder that holds nothing but run files), never a symlink, a plain file or
anyone's folder. Commands that keep a folder use it: run, audio, train (MODEL_DIR/run/), universal-train
(CHECKPOINT_DIR/run/), universal --run-dir; compare's folder gets the same marker (`OwnedFiles`).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from nst_tf import __version__
from nst_tf.config import COST_NAMES
from nst_tf.errors import ConfigError
from nst_tf.io import atomic
from nst_tf.io.ownership import MARKER, has_marker, write_marker
from nst_tf.io.places import check_creatable, describe_os_error
from nst_tf.io.runstate import StateStore, require_regular_file

RECORD = "config.json"
METRICS = "metrics.csv"
METRIC_FIELDS = ("iteration", *COST_NAMES, "seconds")
SNAPSHOTS = "snapshots"
_SNAPSHOT = re.compile(r"^iter_(\d{5,})(\.[A-Za-z0-9]+)$")
# What an nst_tf run folder held before the marker existed: such a folder may still be replaced.
LEGACY_FILES = {
    "generated.png", "content.png", "style.png", "config.json", "metrics.csv", "state.npz", "state.tmp.npz",
    "loss.png", "snapshots.png", "evolution.gif", "report.html", "config.json.tmp",
}  # fmt: skip
LEGACY_FOLDERS = {"snapshots", "tb"}
# What a `universal --run-dir` folder held before it became a RunFolder (config.json says "universal").
_LEGACY_UNIVERSAL = re.compile(r"^(result\.png|content\.png|style_\d+\.png|mask_\d+\.png|config\.json|report\.html)$")
MAX_RECORD_BYTES = 4 * 2**20


def check_name(name: str) -> str:
    """A run folder name: one plain path component, printable.

    Raises:
        ConfigError: a slash, ".", "..", an empty name or control characters.
    """
    if not name or name in (".", "..") or "/" in name or os.sep in name or "\0" in name:
        raise ConfigError(f"--name must be a plain folder name, got {name!r}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise ConfigError(f"--name must not contain control characters, got {name!r}")
    return name


def is_ours(path: Path) -> bool:
    """True for a real folder (not a symlink) made by nst_tf: it carries the marker, or it is an old
    nst_tf run folder holding only run files."""
    if not path.is_dir() or path.is_symlink():
        return False
    if os.path.lexists(path / MARKER):
        return has_marker(path)
    entries = list(path.iterdir())
    if _is_legacy_universal(path, entries):
        return True
    if not any(e.name == RECORD for e in entries):
        return False
    for entry in entries:
        if entry.is_symlink():
            return False
        if entry.is_dir() and entry.name not in LEGACY_FOLDERS:
            return False
        if not entry.is_dir() and entry.name not in LEGACY_FILES:
            return False
    return _looks_like_record(path / RECORD)


def _is_legacy_universal(path: Path, entries: list[Path]) -> bool:
    if not entries or any(e.is_symlink() or e.is_dir() or not _LEGACY_UNIVERSAL.match(e.name) for e in entries):
        return False
    try:
        record = json.loads((path / RECORD).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(record, dict) and record.get("command") == "universal" and "pictures" in record


def _looks_like_record(path: Path) -> bool:
    try:
        require_regular_file(path, "config.json")
        if path.stat().st_size > MAX_RECORD_BYTES:
            return False
        record = json.loads(path.read_text(encoding="utf-8"))
    except (ConfigError, OSError, ValueError):
        return False
    return isinstance(record, dict) and isinstance(record.get("config"), dict) and "status" in record


class RunFolder:
    """A run's folder. Make one with `plan_new` (checks only) then `create`, or `open` an existing one."""

    def __init__(self, path: Path, kind: str = "run", replaces: bool = False) -> None:
        # Absolute, so that a path built from it (snapshot_path) and joined to it again stays inside.
        self.path = Path(os.path.abspath(path))
        self.kind = kind
        self.replaces = replaces  # create() removes the old run of this name first
        self.created = False  # this process has written into the folder
        self.state = StateStore(self.path)

    # --- making and opening -------------------------------------------------------------------------

    @classmethod
    def plan_new(
        cls,
        root: str | os.PathLike,
        name: str | None,
        stem: str,
        overwrite: bool = False,
        kind: str = "run",
        what: str = "--name",
    ) -> RunFolder:
        """Choose and check ROOT/NAME (or ROOT/STEM, numbered when taken); nothing is created.

        Raises:
            ConfigError: the place cannot be written, the name is taken without --overwrite, or what
                is there is not an nst_tf run folder (which --overwrite never deletes).
        """
        root = Path(root)
        check_name(stem if name is None else name)
        if name is None:
            path, n = root / stem, 2
            while os.path.lexists(path) and not (overwrite and is_ours(path)):
                path, n = root / f"{stem}_{n}", n + 1
        else:
            path = root / name
        replaces = os.path.lexists(path)
        if replaces:
            _check_replaceable(path, overwrite, what)
        check_creatable(path if not replaces else root / ".nst_tf-new", "-o" if what == "--name" else what)
        return cls(path, kind, replaces)

    def create(self, snapshots: bool = True) -> None:
        """Remove the old run of this name (when replacing one: checked again now), make the folder (with an
        empty snapshots/ unless `snapshots` is False: a one-pass run has none)."""
        try:
            if self.replaces:
                _check_replaceable(self.path, True)
                shutil.rmtree(self.path)
            (self.path / SNAPSHOTS if snapshots else self.path).mkdir(parents=True)
            self.created = True
            write_marker(self.path, self.kind)
        except OSError as exc:
            raise ConfigError(f"cannot create the run folder {self.path} ({describe_os_error(exc)})") from None

    @classmethod
    def open(cls, path: str | os.PathLike, kind: str = "run") -> RunFolder:
        """An existing run folder, for --resume; refuses anything nst_tf did not write."""
        path = Path(path)
        if not path.is_dir():
            raise ConfigError(f"--resume {path}: not a folder")
        if not is_ours(path) and not _looks_like_record(path / RECORD):
            raise ConfigError(f"--resume {path}: not an nst_tf run folder (no {MARKER} marker, no run record)")
        return cls(path, kind)

    def adopt(self) -> None:
        """Mark an old run folder (made before markers existed) as ours, now that it is being resumed."""
        if not os.path.lexists(self.path / MARKER):
            atomic.write_json(self.path / MARKER, {"nst_tf": __version__, "kind": self.kind, "adopted": True})
        self.created = True

    # --- the record ---------------------------------------------------------------------------------

    def read_record(self, required: Sequence[str] = ()) -> dict:
        """config.json as a dict, with `required` keys present.

        Raises:
            ConfigError: missing, not a regular file, too large, not JSON, or keys missing.
        """
        path = self.path / RECORD
        require_regular_file(path, f"{self.path}")
        try:
            if path.stat().st_size > MAX_RECORD_BYTES:
                raise ConfigError(f"{path}: too large for a run record")
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigError(f"{path}: unreadable run record ({' '.join(str(exc).split())[:80]})") from None
        if not isinstance(record, dict):
            raise ConfigError(f"{path}: the run record is not a JSON object")
        missing = [key for key in required if key not in record]
        if missing:
            raise ConfigError(f"{path}: the run record lacks {', '.join(missing)}")
        return record

    def write_record(self, record: dict) -> None:
        """config.json, atomically (NaN and infinity written as null: config.json stays strict JSON)."""
        atomic.write_json(self.path / RECORD, _finite(record))

    # --- files of any kind --------------------------------------------------------------------------

    def write_file(self, name: str, write: Callable[[Path], object]) -> Path:
        """Write `name` (relative to the folder) atomically: `write(temporary_path)` makes the content."""
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return atomic.atomic_write(target, write)

    def save_picture(self, name: str, image: np.ndarray) -> Path:
        """A (1, H, W, 3) [0, 1] picture as `name` (PNG unless the suffix says otherwise)."""
        from nst_tf.io import images as image_io

        return self.write_file(name, lambda tmp: image_io.save_image(image, tmp))

    def snapshot_path(self, iteration: int, suffix: str = ".png") -> Path:
        return self.path / SNAPSHOTS / f"iter_{iteration:05d}{suffix}"

    def snapshots(self, suffix: str | None = ".png") -> list[tuple[int, Path]]:
        """(iteration, path) of the snapshots, in order; files that are not ours (copies) are ignored."""
        found = []
        folder = self.path / SNAPSHOTS
        if not folder.is_dir():
            return []
        for path in folder.iterdir():
            match = _SNAPSHOT.match(path.name)
            if match and (suffix is None or match.group(2) == suffix) and path.is_file() and not path.is_symlink():
                found.append((int(match.group(1)), path))
        return sorted(found)

    # --- metrics ------------------------------------------------------------------------------------

    def read_metrics(self, fields: Sequence[str] = METRIC_FIELDS) -> list[dict[str, float]]:
        """metrics.csv's rows as floats; blank lines are skipped, anything else malformed is an error."""
        path = self.path / METRICS
        require_regular_file(path, f"{self.path}")
        try:
            with open(path, newline="", encoding="utf-8") as handle:
                rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise ConfigError(f"{path}: unreadable ({' '.join(str(exc).split())[:80]})") from None
        if not rows or tuple(rows[0]) != tuple(fields):
            raise ConfigError(f"{path}: the header is not {','.join(fields)}")
        try:
            return [dict(zip(fields, map(float, row), strict=True)) for row in rows[1:]]
        except ValueError:
            raise ConfigError(f"{path}: a row is not {len(fields)} numbers") from None

    def metrics_log(self, append: bool, fields: Sequence[str] = METRIC_FIELDS) -> MetricsLog:
        return MetricsLog(self.path / METRICS, fields, append)

    def forget_after(self, steps: int, fields: Sequence[str] = METRIC_FIELDS) -> None:
        """Drop metrics rows and snapshots from step `steps` on (a resumed run makes them again)."""
        rows = [row for row in self.read_metrics(fields) if row[fields[0]] < steps]  # the step column comes first
        lines = [",".join(fields)] + [",".join(_cell(row[f]) for f in fields) for row in rows]
        atomic.write_text(self.path / METRICS, "\n".join(lines) + "\n")
        for iteration, path in self.snapshots(suffix=None):
            if iteration >= steps:
                path.unlink()

    # --- TensorBoard and the report -----------------------------------------------------------------

    def tensorboard(self) -> TensorBoardLog:
        return TensorBoardLog(self.path / "tb")

    def make_report(self, makers: Sequence[Callable[[Path], object]] | None = None) -> None:
        """The plots and report.html from what the folder holds (default: nst_tf.io.report.make_all)."""
        if makers is None:
            from nst_tf.io import report

            makers = [report.make_all]
        for make in makers:
            make(self.path)


class MetricsLog:
    """metrics.csv, one row per step, flushed as it goes (a Ctrl-C keeps every row written)."""

    def __init__(self, path: Path, fields: Sequence[str], append: bool) -> None:
        self.fields = tuple(fields)
        self.handle = open(path, "a" if append else "w", newline="", encoding="utf-8")  # noqa: SIM115
        self.writer = csv.writer(self.handle)
        if not append:
            self.writer.writerow(self.fields)
            self.handle.flush()

    def write(self, values: dict[str, float]) -> None:
        self.writer.writerow([_cell(values[f]) for f in self.fields])
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()

    def __enter__(self) -> MetricsLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class TensorBoardLog:
    """Scalars and pictures as TensorBoard event files (TensorFlow imported when the first is made)."""

    def __init__(self, folder: Path) -> None:
        import tensorflow as tf

        self._tf = tf
        self.writer = tf.summary.create_file_writer(str(folder))

    def scalars(self, step: int, values: dict[str, float], prefix: str = "cost") -> None:
        """One scalar a value, tagged PREFIX/NAME (NAME alone when `prefix` is empty)."""
        with self.writer.as_default(step=step):
            for name, value in values.items():
                self._tf.summary.scalar(f"{prefix}/{name}" if prefix else name, value)

    def image(self, step: int, image: np.ndarray, name: str = "generated") -> None:
        with self.writer.as_default(step=step):
            self._tf.summary.image(name, image)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


def _check_replaceable(path: Path, overwrite: bool, what: str = "--name") -> None:
    if path.is_symlink():
        raise ConfigError(f"{path} is a symbolic link; it is never replaced (choose another {what})")
    if not path.is_dir():
        raise ConfigError(f"{path} exists and is not a folder; it is never replaced (choose another {what})")
    if not overwrite:
        raise ConfigError(f"{path} already exists; pass --overwrite to replace it or choose another {what}")
    if not is_ours(path):
        raise ConfigError(f"{path} is not an nst_tf run folder; --overwrite only replaces runs (choose another {what})")


def _cell(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else f"{value:.9g}"


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
