"""SqueezeNet 1.1 weights from torchvision's `squeezenet1_1-*.pth` (the cs231n assignment's network).

Owns reading and verifying the file (`load_squeezenet_pth`: `torch.load(..., weights_only=True)`, never a
full unpickle; every key of torchvision's `features` trunk present with its exact shape, finite values),
telling a SqueezeNet file from a VGG one without loading it (`looks_like_squeezenet`: the key names in the
zip archive's pickle, read as bytes), finding the file in pretrained/ (`find_squeezenet_file`), and the
layer names a run may ask for (`FEATURE_NAMES`, `features.0` … `features.12`, and the cs231n preset's
VGG19 stand-in names, `CS231N_STANDINS`, which map back to the SqueezeNet indices they stand in for).
The classifier (`classifier.1.*`) is not needed and not checked. `random_squeezenet_state` makes a state
dict in the true layout (tests write it with `torch.save`).
"""

from __future__ import annotations

import hashlib
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nst_tf.errors import WeightsError
from nst_tf.vgg.weights.base import TORCHVISION, Preprocessing
from nst_tf.vgg.weights.files import check_regular_file

ARCHITECTURE = "squeezenet1_1"
PUBLISHED_FILE = "squeezenet1_1-b8a52dc0.pth"

# torchvision's SqueezeNet 1.1 `features`: index -> (kind, squeeze, expand1x1, expand3x3) for Fire modules.
FIRES: dict[int, tuple[int, int, int]] = {
    3: (16, 64, 64),
    4: (16, 64, 64),
    6: (32, 128, 128),
    7: (32, 128, 128),
    9: (48, 192, 192),
    10: (48, 192, 192),
    11: (64, 256, 256),
    12: (64, 256, 256),
}
POOLS = (2, 5, 8)  # MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)
FEATURE_NAMES = [f"features.{i}" for i in range(13)]
# The cs231n preset names VGG19 layers (its stand-ins, nst_tf.presets.CS231N); with SqueezeNet weights they
# mean the SqueezeNet modules they stand in for, so the preset runs unchanged on either network.
CS231N_STANDINS = {
    "block3_conv1": "features.3",
    "block2_conv1": "features.1",
    "block3_conv2": "features.4",
    "block4_conv1": "features.6",
    "block4_conv2": "features.7",
}
LAYER_HELP = (
    "SqueezeNet 1.1 layers are features.0 … features.12 (outputs of torchvision's model.features[i]); "
    "the cs231n preset's stand-ins conv2_1, conv3_1, conv3_2, conv4_1, conv4_2 mean features.1, 3, 4, 6, 7"
)


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """Every `features.*` key of torchvision's squeezenet1_1 state dict with its shape."""
    shapes: dict[str, tuple[int, ...]] = {"features.0.weight": (64, 3, 3, 3), "features.0.bias": (64,)}
    channels = 64
    for index, (squeeze, e1, e3) in FIRES.items():
        prefix = f"features.{index}"
        shapes[f"{prefix}.squeeze.weight"] = (squeeze, channels, 1, 1)
        shapes[f"{prefix}.squeeze.bias"] = (squeeze,)
        shapes[f"{prefix}.expand1x1.weight"] = (e1, squeeze, 1, 1)
        shapes[f"{prefix}.expand1x1.bias"] = (e1,)
        shapes[f"{prefix}.expand3x3.weight"] = (e3, squeeze, 3, 3)
        shapes[f"{prefix}.expand3x3.bias"] = (e3,)
        channels = e1 + e3
    return shapes


@dataclass
class SqueezeNetWeights:
    """SqueezeNet 1.1's `features` parameters (NumPy, PyTorch's OIHW layout) keyed by torchvision's names."""

    params: dict[str, np.ndarray]
    path: str | None = None
    sha256: str | None = None
    architecture: str = ARCHITECTURE
    preprocessing: Preprocessing = TORCHVISION  # the assignment's ImageNet mean/std on RGB in [0, 1]
    source: str = "file"
    format: str = "torch-pth"
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


def select_squeezenet_layers(layers) -> list[str]:
    """Requested names (features.N or a cs231n stand-in), de-duplicated in order; ConfigError otherwise."""
    from nst_tf.errors import ConfigError

    chosen: list[str] = []
    for name in layers:
        name = name.strip()
        if name not in FEATURE_NAMES and name not in CS231N_STANDINS:
            raise ConfigError(f"layer {name!r} is not in SqueezeNet 1.1: {LAYER_HELP}")
        if name not in chosen:
            chosen.append(name)
    return chosen


def feature_index(name: str) -> int:
    """The `features` index a selected layer name means."""
    return int(CS231N_STANDINS.get(name, name).split(".")[1])


def looks_like_squeezenet(path: str | Path) -> bool:
    """True when a PyTorch file's key names are SqueezeNet's (read as bytes from the zip's pickle; nothing is
    unpickled). A legacy (non-zip) file counts as SqueezeNet when its name starts with "squeezenet"."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                member = next((n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"), None)
                if member is None or archive.getinfo(member).file_size > 1 << 20:
                    return False
                return b"squeeze.weight" in archive.read(member)
    except (OSError, zipfile.BadZipFile):
        return path.name.startswith("squeezenet")
    return path.name.startswith("squeezenet")


def find_squeezenet_file(folders: list[Path]) -> Path | None:
    """torchvision's `squeezenet1_1-*.pth` in `folders` (pretrained/; the published name first), or None."""
    for folder in folders:
        if (folder / PUBLISHED_FILE).is_file():
            return folder / PUBLISHED_FILE
        found = sorted(p for p in folder.glob("squeezenet1_1-*.pth") if p.is_file())
        if found:
            return found[0]
    return None


def squeezenet_for_config(config, folders: list[Path]) -> SqueezeNetWeights | None:
    """SqueezeNet 1.1 weights when `config` asks for them, else None (VGG's resolution follows).

    A `--weights` file holding SqueezeNet's state dict; or, for the cs231n preset asking for "imagenet" or
    "auto", torchvision's squeezenet1_1-*.pth in `folders`, the pretrained/ ones (without it the preset runs
    on VGG19 stand-ins).
    """
    spec = str(config.weights)
    if spec not in ("auto", "imagenet", "random", "hed-vgg16", "imagenet-vgg16"):
        path = Path(spec).expanduser()
        return load_squeezenet_pth(path) if looks_like_squeezenet(path) else None
    if config.preset == "cs231n" and spec in ("auto", "imagenet"):
        found = find_squeezenet_file(folders)
        return load_squeezenet_pth(found) if found is not None else None
    return None


def load_squeezenet_pth(path: str | Path) -> SqueezeNetWeights:
    """Read and verify torchvision's SqueezeNet 1.1 state dict (`weights_only=True`).

    Raises:
        WeightsError: not a regular file, empty, unreadable or truncated, Python objects besides tensors,
            a missing key, a wrong shape or non-finite values (one line each).
    """
    path = Path(path)
    check_regular_file(path)  # missing, a folder, a FIFO (never blocks), unreadable or empty: one line
    try:
        import torch
    except ImportError:
        raise WeightsError(f"{path}: reading a PyTorch file needs the torch package") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise WeightsError(f"{path}: refused: the file stores Python objects besides tensors") from None
    except Exception as exc:  # RuntimeError, EOFError, ValueError ... on truncated or damaged files
        raise WeightsError(
            f"{path}: cannot read the PyTorch file, truncated or damaged ({type(exc).__name__})"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: not a state dict (a {type(state).__name__})")
    params = _verified(state, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    note = "" if path.name == PUBLISHED_FILE else f"not torchvision's published {PUBLISHED_FILE}"
    return SqueezeNetWeights(params, str(path), digest, note=note)


def _verified(state: dict, path: Path) -> dict[str, np.ndarray]:
    """The `features.*` tensors as float32 NumPy arrays, each key and shape checked."""
    params: dict[str, np.ndarray] = {}
    for key, shape in expected_shapes().items():
        value = state.get(key)
        if value is None or not hasattr(value, "shape"):
            raise WeightsError(f"{path}: not torchvision's SqueezeNet 1.1 state dict (no tensor {key})")
        if tuple(value.shape) != shape:
            raise WeightsError(f"{path}: {key} has shape {tuple(value.shape)}, SqueezeNet 1.1 has {shape}")
        array = value.detach().cpu().numpy().astype(np.float32)
        if not np.isfinite(array).all():
            raise WeightsError(f"{path}: {key} holds NaN or infinity")
        params[key] = array
    return params


def random_squeezenet_state(seed: int = 0) -> dict:
    """A torch state dict in torchvision's exact squeezenet1_1 layout (He-scaled normal weights, small
    biases, and the classifier's conv), for tests and for trying the network without the file."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in expected_shapes().items():
        if key.endswith("weight"):
            fan_in = int(np.prod(shape[1:]))
            state[key] = torch.randn(shape, generator=generator) * (2.0 / fan_in) ** 0.5
        else:
            state[key] = torch.randn(shape, generator=generator) * 0.01
    state["classifier.1.weight"] = torch.randn((1000, 512, 1, 1), generator=generator) * 0.01
    state["classifier.1.bias"] = torch.zeros(1000)
    return state
