"""MatConvNet's `.mat` networks (the TF1 course's `imagenet-vgg-verydeep-19.mat`).

A MATLAB 5 MAT file read with `scipy.io.loadmat` (plain arrays and structs; nothing is executed). The
SimpleNN layout: `layers` is a 1×N cell of structs (name, type, weights = {kernel, bias}); conv1_1 …
conv5_4 are read and relu, pool and the fc6–fc8 top skipped. Kernels are used as stored, (H, W, C_in,
C_out), exactly as the course's `nst_utils.load_vgg_model` feeds them to `tf.nn.conv2d`. The weights
expect RGB, 0–255, minus the means in RGB order (`MATCONVNET`); the file's own averageImage is reported
and, like the course, not used.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from nst_tf.errors import WeightsError
from nst_tf.vgg.weights.base import MATCONVNET, Layers, short_error

log = logging.getLogger(__name__)

_PAPER_CONV = re.compile(r"^conv([1-5])_([1-4])$")


def read_mat(path: Path) -> tuple[Layers, dict]:
    """MatConvNet's SimpleNN layout: `layers` is a 1×N cell of structs (name, type, weights = {kernel, bias}).

    Kernels are taken as stored, (H, W, C_in, C_out), as the TF1 course's nst_utils.load_vgg_model feeds
    them to tf.nn.conv2d. (anishathalye/neural-style swaps H and W; the course does not, and this package
    reproduces the course.) Only conv1_1 … conv5_4 are read; relu, pool and the fc6-fc8 top are skipped.
    """
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path), variable_names=("layers", "meta", "normalization"))
    except Exception as exc:  # scipy raises ValueError, TypeError, zlib.error, MatReadError ... on bad files
        raise WeightsError(f"{path}: cannot read the MAT file, truncated or damaged ({short_error(exc)})") from None
    if "layers" not in mat:
        raise WeightsError(f"{path}: a MAT file, but not a MatConvNet network (no 'layers' variable)")
    layers: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for record in _mat_records(mat["layers"], path):
        name = _mat_text(_mat_field(record, "name"))
        m = _PAPER_CONV.match(name)
        if not m:
            continue
        key = f"block{m.group(1)}_conv{m.group(2)}"
        if key in layers:
            raise WeightsError(f"{path}: the network has two layers named {name}")
        layers[key] = _mat_conv(record, name, path)
    extra = {}
    mean = _mat_average_rgb(mat)
    if mean is not None:
        extra["file_mean_rgb"] = [round(float(v), 3) for v in mean]
        if np.abs(mean - np.asarray(MATCONVNET.mean)).max() > 1.0:
            # The course subtracts its fixed means whatever the file says; so do we, and say so.
            log.warning("%s: its averageImage %s differs from the course's means %s", path.name, mean, MATCONVNET.mean)
    return layers, extra


def _mat_records(cells: np.ndarray, path: Path) -> Iterator[np.void]:
    """The structs of a MatConvNet `layers` value: a cell array of 1×1 structs, or a struct array."""
    if cells.dtype.names:
        yield from cells.flat
        return
    if cells.dtype != object:
        raise WeightsError(f"{path}: 'layers' is not a cell array of structs, so not a MatConvNet network")
    for item in cells.flat:
        if not isinstance(item, np.ndarray) or not item.dtype.names or item.size != 1:
            raise WeightsError(f"{path}: a 'layers' entry is not a struct, so not a MatConvNet network")
        yield item.flat[0]


def _mat_field(record: np.void, name: str):
    return record[name] if name in (record.dtype.names or ()) else None


def _mat_text(value) -> str:
    """A MATLAB char array as a str ('' when absent or not text)."""
    if value is None:
        return ""
    array = np.asarray(value)
    if array.dtype.kind in "US" and array.size:
        return str(array.flat[0]).strip()
    return ""


def _mat_conv(record: np.void, name: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    weights = _mat_field(record, "weights")
    if weights is not None:
        cells = list(weights.flat) if weights.dtype == object else [weights]
    else:  # early MatConvNet releases: separate filters and biases fields
        cells = [v for v in (_mat_field(record, "filters"), _mat_field(record, "biases")) if v is not None]
    if len(cells) != 2:
        raise WeightsError(f"{path}: {name} has {len(cells)} weight arrays instead of kernel and bias")
    try:
        kernel = np.asarray(cells[0], np.float32)  # (H, W, C_in, C_out), used as stored (see _read_mat)
        bias = np.asarray(cells[1], np.float32).reshape(-1)  # stored (C_out, 1) or (1, C_out)
    except (TypeError, ValueError):
        raise WeightsError(f"{path}: {name}'s weights are not numeric arrays") from None
    if kernel.ndim != 4:
        raise WeightsError(f"{path}: {name}'s kernel has shape {kernel.shape}, not (3, 3, C_in, C_out)")
    return kernel, bias


def _mat_average_rgb(mat: dict) -> np.ndarray | None:
    """The mean colour in the file's normalization.averageImage (newer files keep it in meta), or None."""
    try:
        holder = mat["meta"][0, 0]["normalization"] if "meta" in mat else mat["normalization"]
        image = np.asarray(holder[0, 0]["averageImage"], np.float64)
    except (KeyError, IndexError, ValueError, TypeError):
        return None
    if image.size == 3:
        return image.reshape(3)
    if image.shape[-1] == 3:
        return image.reshape(-1, 3).mean(axis=0)
    return None
