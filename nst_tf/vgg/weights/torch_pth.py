"""PyTorch VGG state dicts (`.pth`): torchvision's files and Caffe ports.

A `torch.save` file is a pickle, so it is read only with `torch.load(weights_only=True)`: PyTorch's
restricted unpickler, which admits tensors and plain containers and refuses anything callable. The state
dict must be torchvision's VGG layout: `features.N.weight` (O, I, H, W) and `features.N.bias` at the
indices of VGG16's or VGG19's `features` Sequential; kernels become HWIO. Which input the weights expect
(torchvision's RGB mean/std, or a Caffe port's BGR 0–255) cannot be read from the arrays, so
`torch_preprocessing_rule` decides it from an explicit choice, a known hash or a published file name.
torch is imported only when such a file is read.
"""

from __future__ import annotations

import logging
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np

from nst_tf.errors import WeightsError
from nst_tf.vgg.layers import VGG_BLOCKS, conv_layer_names
from nst_tf.vgg.weights.base import TORCH_PREPROCESSINGS, Layers, short_error
from nst_tf.vgg.weights.known import KNOWN_FILES, digest_matches

log = logging.getLogger(__name__)

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
            if known.name in TORCH_FILE_PREPROCESSING and digest_matches(known, {"sha256": sha256}):
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


def _load_state(path: Path):
    """What torch.load returns for `path`, through the restricted unpickler only.

    A ZIP-format file (torch >= 1.6) is memory-mapped, so only the conv tensors copied out are ever read
    (not the 400 MB classifier); its members must not declare more than the file holds (torch.save stores
    them uncompressed, so an archive that inflates is not one of its files).
    """
    try:
        import torch
    except ImportError:
        raise WeightsError(
            f"{path}: reading a PyTorch file needs the torch package (pip install torch==2.13.0), "
            "or convert it to .npz where torch is installed"
        ) from None
    is_zip = zipfile.is_zipfile(path)
    if is_zip:
        _check_declared_sizes(path)
    try:
        # weights_only: a restricted unpickler that admits tensors and plain containers, nothing callable.
        return torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError:
        raise WeightsError(
            f"{path}: refused: the file stores Python objects besides tensors, and only plain tensors are "
            "ever loaded (torch.load weights_only)"
        ) from None
    except Exception as exc:  # torch raises RuntimeError, EOFError, ValueError ... on truncated files
        raise WeightsError(f"{path}: cannot read the PyTorch file, truncated or damaged ({short_error(exc)})") from None


def _check_declared_sizes(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            declared = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise WeightsError(f"{path}: a truncated or damaged ZIP archive ({short_error(exc)})") from None
    if declared > path.stat().st_size + (1 << 20):
        raise WeightsError(
            f"{path}: its members declare {declared:,} bytes, more than the file holds; torch.save never "
            "compresses, so this is no PyTorch file; refused"
        )


def read_torch(path: Path) -> Layers:
    """features.N.weight (O, I, H, W) and features.N.bias of a VGG state dict -> HWIO kernels by Keras name."""
    state = _load_state(path)
    import torch  # importable: _load_state said so otherwise

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
