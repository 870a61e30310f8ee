"""Encoder and decoders of universal style transfer (Li et al. 2017; Huang & Belongie 2017).

The encoder is ImageNet VGG16 cut at relu1_1, relu2_1, relu3_1 or relu4_1 ("levels" 1–4), run through
`nst_tf.vgg.extractor.FeatureExtractor`, which owns the Caffe preprocessing: pictures in, RGB in [0, 1].
A decoder mirrors the encoder from its level back to RGB: each VGG conv becomes a 3×3 conv with reflection
padding and ReLU, each max-pooling a 2× nearest-neighbour upsampling, the last conv gives RGB with no
activation. Departures from Li et al.: the encoder is VGG16 (the offline ImageNet trunk this project has),
not VGG19, so level 4 mirrors three block-3 convs, not four; the encoder keeps VGG's zero padding (what its
weights were trained with; Li et al.'s Torch port pads by reflection); and decoders take a width multiplier
(`width=0.5` halves every inner channel count), which makes the expensive relu4_1 decoder ~4× cheaper to
train and run on a 2-core CPU.

Pictures of any size work: `pad_to_multiple` reflects the picture up to a multiple of 2^(level−1) before
encoding and `crop` cuts the decoded picture back, so decoded pictures always have the input's size.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from nst_tf.errors import ConfigError
from nst_tf.vgg.extractor import BFloat16Extractor, FeatureExtractor
from nst_tf.vgg.weights import VGGWeights

LEVELS = (1, 2, 3, 4)
# Keras name of each level's encoder layer (relu{k}_1 is the ReLU output of block{k}_conv1).
LEVEL_LAYERS = {1: "block1_conv1", 2: "block2_conv1", 3: "block3_conv1", 4: "block4_conv1"}
# Output channels of the VGG16 convs, in network order, up to block4_conv1.
_VGG16_CONVS = (
    ("block1_conv1", 64),
    ("block1_conv2", 64),
    ("block2_conv1", 128),
    ("block2_conv2", 128),
    ("block3_conv1", 256),
    ("block3_conv2", 256),
    ("block3_conv3", 256),
    ("block4_conv1", 512),
)
# Root-mean-square of each level's features on COCO photos (Caffe-scale VGG16, measured on 16 crops of 128 px:
# 51, 357, 600, 436). Each decoder divides its input by this fixed number first, so its convolutions start
# from unit-scale inputs; without it the untrained decoder's output is in the thousands and training crawls.
FEATURE_SCALE = {1: 50.0, 2: 350.0, 3: 600.0, 4: 450.0}


def check_level(level: int) -> int:
    """`level` as an int in 1–4, or ConfigError."""
    if level not in LEVELS:
        raise ConfigError(f"level must be one of {LEVELS}, not {level!r}")
    return int(level)


def build_encoder(weights: VGGWeights, level: int, precision: str = "float32") -> FeatureExtractor:
    """Frozen VGG up to relu{level}_1; `encoder(images)[LEVEL_LAYERS[level]]` is (N, H/2^(level−1), …, C).

    `precision` "bfloat16" computes the convolutions in bfloat16 (`BFloat16Extractor`: float32 weights,
    features handed out as float32)."""
    if weights.architecture != "vgg16":
        # The shipped decoders invert VGG16 features; a VGG19 trunk has other features at the same names.
        raise ConfigError(f"the universal decoders were trained on VGG16 features, not {weights.architecture}")
    kind = BFloat16Extractor if precision == "bfloat16" else FeatureExtractor
    return kind(weights, [LEVEL_LAYERS[check_level(level)]], pooling="max")


def _decoder_plan(level: int, width: float) -> list[tuple[str, int]]:
    """The decoder as ("conv", channels) / ("up", 0) steps: the encoder's convs in reverse order.

    Mirroring conv i (C_in -> C_out) gives a conv C_out -> C_in; a change of block in between gives an
    upsampling. The last conv's output is RGB (3 channels, never scaled by the width multiplier).
    """
    names = [name for name, _ in _VGG16_CONVS]
    convs = _VGG16_CONVS[: names.index(LEVEL_LAYERS[level]) + 1]
    plan: list[tuple[str, int]] = []
    for i in range(len(convs) - 1, -1, -1):
        name = convs[i][0]
        channels_in = convs[i - 1][1] if i > 0 else 3
        if channels_in != 3:
            channels_in = max(8, int(round(channels_in * width)))
        plan.append(("conv", channels_in))
        if i > 0 and convs[i - 1][0][:6] != name[:6]:  # block boundary: the encoder pooled here
            plan.append(("up", 0))
    return plan


class ReflectionPad(keras.layers.Layer):
    """Pads height and width by `pad` pixels on each side by reflection (no edge seams from zero padding)."""

    def __init__(self, pad: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pad = int(pad)

    def call(self, x):
        p = self.pad
        return keras.ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def get_config(self) -> dict:
        return {**super().get_config(), "pad": self.pad}


def build_decoder(level: int, width: float = 1.0, name: str | None = None, precision: str = "float32") -> keras.Model:
    """A decoder from relu{level}_1 features (N, h, w, C) to RGB (N, h·2^(level−1), w·2^(level−1), 3).

    Args:
        level: 1–4.
        width: multiplier of every inner channel count (1.0: the exact mirror of VGG16).
        name: the Keras model name (default decoder{level}).
        precision: "bfloat16" builds it under Keras's "mixed_bfloat16" policy (float32 variables, bfloat16
            convolutions and a bfloat16 output; a trainer casts the output to float32 for its losses). The
            weights file is the same either way.
    """
    level = check_level(level)
    if not 0.0 < width <= 1.0:
        raise ConfigError(f"width must be in (0, 1], not {width}")
    if precision != "bfloat16":
        return _decoder(level, width, name)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:  # layers take the policy in force when they are made
        return _decoder(level, width, name)
    finally:
        keras.config.set_dtype_policy(previous)


def _decoder(level: int, width: float, name: str | None) -> keras.Model:
    channels = dict(_VGG16_CONVS)[LEVEL_LAYERS[level]]
    inputs = keras.Input(shape=(None, None, channels), name="features")
    x = keras.layers.Rescaling(1.0 / FEATURE_SCALE[level], name="scale")(inputs)
    plan = _decoder_plan(level, width)
    for index, (kind, out) in enumerate(plan):
        if kind == "up":
            x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"up{index}")(x)
            continue
        last = index == len(plan) - 1
        x = ReflectionPad(1, name=f"pad{index}")(x)
        x = keras.layers.Conv2D(out, 3, activation=None if last else "relu", name=f"conv{index}")(x)
    return keras.Model(inputs, x, name=name or f"decoder{level}")


def pad_to_multiple(images: np.ndarray | tf.Tensor, multiple: int) -> tuple[tf.Tensor, tuple[int, int]]:
    """Reflect-pad (N, H, W, 3) on the bottom/right so H and W divide by `multiple`; returns (padded, (H, W)).

    A side shorter than the padding it needs is edge-padded instead (reflection needs pad < side).
    """
    images = tf.convert_to_tensor(images, tf.float32)
    height, width = int(images.shape[1]), int(images.shape[2])
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if pad_h or pad_w:
        if pad_h >= height or pad_w >= width:
            # Tiny pictures: repeat the edge row/column until the size fits.
            images = _edge_pad(images, pad_h, pad_w)
        else:
            images = tf.pad(images, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], mode="REFLECT")
    return images, (height, width)


def _edge_pad(images: tf.Tensor, pad_h: int, pad_w: int) -> tf.Tensor:
    bottom = tf.repeat(images[:, -1:], pad_h, axis=1)
    images = tf.concat([images, bottom], axis=1)
    right = tf.repeat(images[:, :, -1:], pad_w, axis=2)
    return tf.concat([images, right], axis=2)


def crop(images: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """(N, H', W', 3) -> (N, H, W, 3): the top-left H×W (undoes `pad_to_multiple`)."""
    return images[:, : size[0], : size[1]]
