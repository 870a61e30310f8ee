"""The project's own weights file: an `.npz` of plain arrays plus JSON metadata (`weights convert`).

Members `blockB_convC.kernel` (HWIO) and `blockB_convC.bias`, float32 or float16, and `__nst_tf_meta__`,
a uint8 array holding UTF-8 JSON (architecture, preprocessing, the source file's format, name and sha256).
Nothing is ever unpickled: the file is read member by member with `zipfile` and NumPy's `.npy` header
reader, and every member is checked *before* its data is read, from what the archive declares: the
member's uncompressed size in the ZIP directory, and the dtype and shape in its `.npy` header, which must
be the shape the member's name calls for (`nst_tf.vgg.layers.expected_shapes`). So a 2 MB file whose
members would inflate to gigabytes is refused at once, without the memory. `save_npz` writes the file
beside its destination and renames it, so it appears complete or not at all.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np

from nst_tf.errors import WeightsError
from nst_tf.vgg.layers import conv_layer_names, expected_shapes
from nst_tf.vgg.weights.base import Layers, Preprocessing, VGGWeights, short_error

NPZ_FORMAT = "nst_tf-vgg-conv-weights"
NPZ_VERSION = 1
NPZ_META = "__nst_tf_meta__"  # a uint8 array holding UTF-8 JSON: plain data, no pickle
NPZ_SOURCE_KEYS = ("source_format", "source_file", "source_sha256", "source_published_file")
_NPZ_ARRAY = re.compile(r"^(block[1-5]_conv[1-4])\.(kernel|bias)$")
_FLOAT16_MAX = float(np.finfo(np.float16).max)
_MAX_META_BYTES = 1 << 20
_NPY_HEADER_ALLOWANCE = 4096  # magic + header dict + padding of one .npy member
# Every conv's kernel shape by name (VGG16's layers are VGG19's first ones, with the same shapes).
_KERNEL_SHAPES = expected_shapes("vgg19")


def _member_shape(key: str) -> tuple[tuple[int, ...] | None, str]:
    """(the shape a member must have, the dtype kinds it may have); shape None: any 1-D metadata size."""
    if key == NPZ_META:
        return None, "u"
    m = _NPZ_ARRAY.match(key)
    kernel = _KERNEL_SHAPES[m.group(1)]
    return (kernel if m.group(2) == "kernel" else (kernel[3],)), "f"


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """One .npy member, after checking its declared size, dtype and shape against what its name calls for."""
    key = info.filename[: -len(".npy")]
    shape_wanted, kinds = _member_shape(key)
    # float64 at most: 8 bytes an element (our writer stores float32 or float16).
    limit = _MAX_META_BYTES if shape_wanted is None else int(np.prod(shape_wanted)) * 8
    if info.file_size > limit + _NPY_HEADER_ALLOWANCE:
        raise WeightsError(f"{path}: member {key} declares {info.file_size:,} bytes, more than it can hold; refused")
    with archive.open(info) as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise WeightsError(f"{path}: member {key} is .npy version {version}, which this reader does not take")
        if dtype.hasobject or dtype.kind not in kinds:
            raise WeightsError(f"{path}: member {key} has dtype {dtype}, not plain numbers; refused (never unpickled)")
        if dtype.itemsize > 8:
            raise WeightsError(f"{path}: member {key} has dtype {dtype}, wider than float64; refused")
        if shape_wanted is None and not (len(shape) == 1 and shape[0] <= _MAX_META_BYTES):
            raise WeightsError(f"{path}: member {key} has shape {shape}, not metadata of at most 1 MB")
        if shape_wanted is not None and shape != shape_wanted:
            raise WeightsError(f"{path}: member {key} has shape {shape}, expected {shape_wanted}")
        count = int(np.prod(shape)) * dtype.itemsize
        data = handle.read(count)
        if len(data) != count:
            raise WeightsError(f"{path}: member {key} is cut short, truncated or damaged")
    return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")


def _read_members(path: Path, keys: set[str] | None) -> dict[str, np.ndarray]:
    """The members named `keys` (None: every array member and the metadata), each checked before reading.

    Members of other names are listed but never read.
    """
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                key = info.filename.removesuffix(".npy")
                known = key == NPZ_META or _NPZ_ARRAY.match(key)
                if info.filename.endswith(".npy") and known and (keys is None or key in keys):
                    arrays[key] = _read_member(archive, info, path)
    except WeightsError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as exc:
        raise WeightsError(f"{path}: cannot read the .npz, truncated or damaged ({short_error(exc)})") from None
    return arrays


def read_npz_metadata(path: str | os.PathLike) -> dict:
    """The metadata of an nst_tf .npz (reads only that member).

    Raises:
        WeightsError: not an .npz, truncated, or written by something else.
    """
    path = Path(path)
    members = _read_members(path, {NPZ_META})
    if NPZ_META not in members:
        raise WeightsError(f"{path}: a NumPy .npz, but not one nst_tf wrote (no {NPZ_META} entry)")
    try:
        meta = json.loads(members[NPZ_META].tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WeightsError(f"{path}: the .npz metadata is not JSON, truncated or damaged") from None
    if not isinstance(meta, dict) or meta.get("format") != NPZ_FORMAT:
        raise WeightsError(f"{path}: a NumPy .npz, but its metadata is not nst_tf's ({NPZ_FORMAT})")
    if meta.get("version") != NPZ_VERSION:
        raise WeightsError(f"{path}: nst_tf .npz version {meta.get('version')}; this version reads {NPZ_VERSION}")
    return meta


def read_npz(path: Path) -> tuple[Layers, Preprocessing, dict]:
    """The layers, preprocessing and metadata of an nst_tf .npz (float16 members come back float32)."""
    meta = read_npz_metadata(path)
    preprocessing = preprocessing_from_dict(meta.get("preprocessing"), path)
    arrays: dict[str, dict[str, np.ndarray]] = {}
    for key, array in _read_members(path, None).items():
        if m := _NPZ_ARRAY.match(key):
            arrays.setdefault(m.group(1), {})[m.group(2)] = np.asarray(array, np.float32)
    layers = {}
    for name, pair in arrays.items():
        if set(pair) != {"kernel", "bias"}:
            raise WeightsError(f"{path}: {name} lacks its {'bias' if 'kernel' in pair else 'kernel'}")
        layers[name] = (pair["kernel"], pair["bias"])
    return layers, preprocessing, meta


def preprocessing_from_dict(data, path: Path | str) -> Preprocessing:
    """A `Preprocessing` from metadata, checked to make sense."""
    try:
        p = Preprocessing(
            str(data["channel_order"]),
            float(data["scale"]),
            tuple(float(v) for v in data["mean"]),
            tuple(float(v) for v in data.get("std", (1.0, 1.0, 1.0))),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise WeightsError(f"{path}: the preprocessing metadata is incomplete") from None
    if (
        p.channel_order not in ("RGB", "BGR")
        or not p.scale > 0
        or len(p.mean) != 3
        or len(p.std) != 3
        or not all(s > 0 for s in p.std)
        or not all(np.isfinite(v) for v in (p.scale, *p.mean, *p.std))
    ):
        raise WeightsError(f"{path}: the preprocessing metadata makes no sense: {p.to_dict()}")
    return p


def npz_metadata(weights: VGGWeights, *, float16: bool = False) -> dict:
    """The metadata an .npz of `weights` carries: architecture, preprocessing and where they came from."""
    from nst_tf import __version__

    if weights.format == "nst-npz":  # re-converting keeps the original file's identity
        source = dict(weights.extra.get("converted_from") or {})
    else:
        source = {
            "source_format": weights.format,
            "source_file": Path(weights.path).name if weights.path else None,
            "source_sha256": weights.sha256,
            "source_published_file": weights.extra.get("published_file"),
        }
    return {
        "format": NPZ_FORMAT,
        "version": NPZ_VERSION,
        "architecture": weights.architecture,
        "layers": conv_layer_names(weights.architecture),
        "preprocessing": weights.preprocessing.to_dict(),
        **{key: source.get(key) for key in NPZ_SOURCE_KEYS},
        "dtype": "float16" if float16 else "float32",
        "written_by": f"nst_tf {__version__}",
    }


def save_npz(weights: VGGWeights, destination: str | os.PathLike, *, float16: bool = False) -> Path:
    """Write `weights` as the project's .npz: plain arrays `blockB_convC.kernel` (HWIO) and `.bias`, plus
    a JSON metadata entry. float16 halves the file; it is read back as float32.

    The file appears complete or not at all (written beside it, then renamed).

    Raises:
        WeightsError: the name does not end in .npz, or a value does not fit float16.
    """
    destination = Path(destination)
    if destination.suffix != ".npz":
        raise WeightsError(f"{destination}: the converted file's name must end in .npz")
    dtype = np.float16 if float16 else np.float32
    arrays = {}
    for name in conv_layer_names(weights.architecture):
        for part, array in zip(("kernel", "bias"), weights.layers[name], strict=True):
            if float16 and np.abs(array).max() > _FLOAT16_MAX:
                raise WeightsError(f"{name} holds values beyond float16's range; convert without --float16")
            arrays[f"{name}.{part}"] = np.ascontiguousarray(array, dtype=dtype)
    meta = json.dumps(npz_metadata(weights, float16=float16), sort_keys=True).encode("utf-8")
    arrays[NPZ_META] = np.frombuffer(meta, np.uint8)
    partial = destination.with_name(f".{destination.name}.partial")
    try:
        with open(partial, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(partial, destination)
    except OSError as exc:
        raise WeightsError(f"{destination}: cannot write ({short_error(exc)})") from None
    finally:
        partial.unlink(missing_ok=True)
    return destination
