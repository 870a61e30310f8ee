"""A run's resumable state on disk: named arrays in a TensorFlow checkpoint, and the older state.npz.

`StateStore` keeps a run folder's `state/` through `tf.train.Checkpoint` and `tf.train.CheckpointManager`
(one checkpoint kept, numbered by the step it was taken after). The arrays are whatever the caller's
optimiser needs to continue (for Adam: the picture and its moments); trainers that hold Keras objects use
`checkpoint_manager` with their own trackables instead. `load` reads the newest checkpoint, or a
`state.npz` written by nst_tf before this module existed, and checks before reading: every file is a
regular file (a FIFO would block the reader), names and shapes are what the run expects, and the bytes
to read are bounded, so a corrupt, truncated or inflating file is one clear error, never a hang.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from nst_tf.errors import ConfigError
from nst_tf.io import safe

STATE_DIR = "state"
LEGACY_STATE = "state.npz"
_KEY = "{}/.ATTRIBUTES/VARIABLE_VALUE"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class StateError(ConfigError):
    """A saved state that cannot be read or does not fit the run."""


def require_regular_file(path: Path, what: str) -> None:
    """Refuse anything at `path` but a regular file (FIFOs, devices and folders would block or mislead)."""
    safe.stat_regular(path, StateError, words=lambda refusal: _refusal_words(refusal, what))


def _refusal_words(refusal: safe.Refusal, what: str) -> str:
    name = refusal.path.name
    if refusal.problem in ("missing", "broken link"):
        return f"{what}: {name} is missing"
    if refusal.problem in ("loop", "denied", "error"):  # stat() itself failed
        return f"{what}: {name} cannot be read ({refusal.strerror})"
    return f"{what}: {name} is not a regular file"


class StateStore:
    """The resumable state under `folder/state/` (and the legacy `folder/state.npz`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._variables: dict = {}
        self._manager = None

    @property
    def directory(self) -> Path:
        return self.folder / STATE_DIR

    def exists(self) -> bool:
        return os.path.lexists(self.directory / "checkpoint") or os.path.lexists(self.folder / LEGACY_STATE)

    def checkpoint_manager(self, **trackables):
        """A CheckpointManager over `trackables` (models, optimizers, variables) in state/, one kept."""
        import tensorflow as tf

        checkpoint = tf.train.Checkpoint(**trackables)
        return tf.train.CheckpointManager(checkpoint, str(self.directory), max_to_keep=1)

    def save(self, step: int, arrays: dict[str, np.ndarray]) -> None:
        """Checkpoint `arrays` as the state after `step` updates (the variables are made once, then assigned)."""
        import tensorflow as tf

        if self._manager is None or set(arrays) != set(self._variables):
            for name in arrays:
                if not _NAME.match(name):
                    raise ValueError(f"state array names must be identifiers, got {name!r}")
            self._variables = {name: tf.Variable(value, trainable=False) for name, value in arrays.items()}
            self._manager = self.checkpoint_manager(**self._variables)
        else:
            for name, value in arrays.items():
                self._variables[name].assign(value)
        self._manager.save(checkpoint_number=step)
        legacy = self.folder / LEGACY_STATE
        if legacy.is_file():  # the run has moved to the checkpoint format: the old file would only mislead
            legacy.unlink()

    def load(self, expected: dict[str, tuple[tuple[int, ...] | None, str]], max_bytes: int) -> dict[str, np.ndarray]:
        """The saved arrays, checked against `expected` before reading.

        Args:
            expected: {name: (shape or None for any, "exact" or "prefix")}: "prefix" names a family
                (`optimizer_0`, `optimizer_1`, ...) of any count.
            max_bytes: refuse a state whose arrays would take more than this.

        Raises:
            StateError: missing, not regular files, unreadable, corrupt, wrong names or shapes, too large.
        """
        if os.path.lexists(self.directory / "checkpoint"):
            return self._load_checkpoint(expected, max_bytes)
        if os.path.lexists(self.folder / LEGACY_STATE):
            return _load_legacy(self.folder / LEGACY_STATE, expected, max_bytes)
        raise StateError("no saved state (state/ or state.npz)")

    def _load_checkpoint(self, expected, max_bytes: int) -> dict[str, np.ndarray]:
        import tensorflow as tf

        what = "the saved state"
        require_regular_file(self.directory / "checkpoint", what)
        try:
            prefix = tf.train.latest_checkpoint(str(self.directory))
        except (tf.errors.OpError, ValueError) as exc:
            raise StateError(f"{what}: state/checkpoint is unreadable ({_short(exc)})") from None
        if prefix is None:
            raise StateError(f"{what}: state/checkpoint names no checkpoint")
        files = [Path(prefix + ".index"), *Path(prefix).parent.glob(Path(prefix).name + ".data-*")]
        for path in files:
            require_regular_file(path, what)
        if len(files) < 2:
            raise StateError(f"{what}: {Path(prefix).name}'s data file is missing")
        try:
            reader = tf.train.load_checkpoint(prefix)
            shapes = reader.get_variable_to_shape_map()
            dtypes = reader.get_variable_to_dtype_map()
            suffix = _KEY.format("")
            names = {key[: -len(suffix)]: key for key in shapes if key.endswith(suffix)}
            names.pop("save_counter", None)  # tf.train.Checkpoint's own bookkeeping
            _check_names_and_shapes({n: tuple(shapes[k]) for n, k in names.items()}, expected, what)
            sizes = {n: int(np.prod(shapes[k])) * dtypes[k].size for n, k in names.items()}
            if sum(sizes.values()) > max_bytes:
                raise StateError(f"{what} holds {sum(sizes.values())} bytes, more than this run can need")
            return {name: np.asarray(reader.get_tensor(key)) for name, key in names.items()}
        except StateError:
            raise
        except Exception as exc:  # the C++ reader maps corruption to many types (IndexError, OpError ...)
            raise StateError(f"{what}: the checkpoint is corrupt or truncated ({_short(exc)})") from None


def _load_legacy(path: Path, expected, max_bytes: int) -> dict[str, np.ndarray]:
    """state.npz (nst_tf before checkpoints): member sizes checked from their .npy headers, then read."""
    what = "the saved state (state.npz)"
    require_regular_file(path, what)
    names = safe.npz_members(path, StateError, max_bytes, what="saved state")  # declared sizes, before reading
    try:
        with np.load(path, allow_pickle=False) as saved:
            arrays = {name: saved[name] for name in names}  # every member has a .npy header (npz_members)
    except Exception as exc:  # zipfile and numpy report damage as BadZipFile, ValueError, EOFError, zlib.error ...
        raise StateError(f"{what} is corrupt or truncated ({_short(exc)})") from None
    _check_names_and_shapes({n: a.shape for n, a in arrays.items()}, expected, what)
    return arrays


def _check_names_and_shapes(found: dict[str, tuple], expected, what: str) -> None:
    families = [name for name, (_, kind) in expected.items() if kind == "prefix"]
    for name, shape in found.items():
        family = next((f for f in families if re.fullmatch(rf"{f}_\d+", name)), None)
        if family is None and name not in expected:
            raise StateError(f"{what} holds an unexpected array {name!r}")
        want = expected[name][0] if family is None else None
        if want is not None and tuple(shape) != tuple(want):
            raise StateError(f"{what}: {name} has shape {tuple(shape)}, this run needs {tuple(want)}")
    for name, (_, kind) in expected.items():
        if kind == "exact" and name not in found:
            raise StateError(f"{what} lacks the array {name!r}")


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:100] + "...") if len(text) > 100 else (text or type(exc).__name__)
