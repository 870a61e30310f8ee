"""SqueezeNet 1.1's `features` on TensorFlow (NHWC, `tf.nn` ops): the cs231n assignment's extractor.

`SqueezeNetExtractor(weights, layers)` has the interface of `nst_tf.vgg.extractor.FeatureExtractor`
(`layer_names`, `weights`, `preprocess`, `__call__(images) -> {name: (N, h, w, C)}`), so the engine, the
targets and the costs use it unchanged. It computes torchvision's network module by module and hands out
the output of `features[i]` for each requested `features.i` (or cs231n stand-in name, see
`nst_tf.vgg.weights.squeezenet_pth`):

    0 Conv2d(3, 64, 3, stride 2, no padding)  1 ReLU  2 MaxPool(3, 2, ceil_mode)  3, 4 Fire(16; 64+64)
    5 MaxPool  6, 7 Fire(32; 128+128)  8 MaxPool  9, 10 Fire(48; 192+192)  11, 12 Fire(64; 256+256)

Fire = ReLU(squeeze 1x1), then concat(ReLU(expand 1x1), ReLU(expand 3x3, padding 1)) on channels.
PyTorch's ceil-mode pooling is reproduced exactly: the bottom and right edges are padded with -inf so the
output has PyTorch's size, ceil((n - 3) / 2) + 1 (every window still starts inside the picture, so a
padded cell never wins). Preprocessing is torchvision's: RGB in [0, 1], ImageNet mean/std.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import tensorflow as tf

from nst_tf.errors import ConfigError
from nst_tf.vgg.weights import Preprocessing
from nst_tf.vgg.weights.squeezenet_pth import FIRES, POOLS, SqueezeNetWeights, feature_index, select_squeezenet_layers


def ceil_pool_size(n: int) -> int:
    """PyTorch's MaxPool2d(3, 2, ceil_mode=True) output size for an input side n (no padding)."""
    out = math.ceil((n - 3) / 2) + 1
    if (out - 1) * 2 >= n:  # PyTorch drops a last window that would start outside the input
        out -= 1
    return out


def _hwio(oihw: np.ndarray) -> tf.Tensor:
    return tf.constant(np.ascontiguousarray(np.transpose(oihw, (2, 3, 1, 0))))


class SqueezeNetExtractor:
    """Frozen SqueezeNet 1.1 up to the deepest requested module; `extractor(images)` -> {name: (N, h, w, C)}.

    Args:
        weights: verified SqueezeNet 1.1 parameters (`load_squeezenet_pth`).
        layers: `features.i` names (or the cs231n preset's VGG stand-in names).
        preprocessing: override the weights' own (torchvision's ImageNet mean/std).
        dtype: tf.float32 (the product) or tf.float64 (`compare --float64`).
    """

    def __init__(
        self,
        weights: SqueezeNetWeights,
        layers: Iterable[str],
        preprocessing: Preprocessing | None = None,
        dtype: tf.DType = tf.float32,
    ) -> None:
        self.layer_names: list[str] = select_squeezenet_layers(layers)
        if not self.layer_names:
            raise ConfigError("no SqueezeNet layer requested")
        self.weights = weights
        self.preprocessing = preprocessing or weights.preprocessing
        self.depth = max(feature_index(name) for name in self.layer_names)
        p = self.preprocessing
        if p.channel_order != "RGB":
            raise ConfigError("SqueezeNet 1.1 takes RGB input")
        self.dtype = tf.as_dtype(dtype)
        self._scale = tf.constant(p.scale, self.dtype)
        self._mean = tf.constant(p.mean, self.dtype)
        self._std = tf.constant(p.std, self.dtype)
        self._params = {
            key: tf.cast(_hwio(value) if value.ndim == 4 else tf.constant(value), self.dtype)
            for key, value in weights.params.items()
        }

    def preprocess(self, images: tf.Tensor) -> tf.Tensor:
        """(N, H, W, 3) RGB in [0, 1] -> (x·scale − mean) / std."""
        x = tf.cast(images, self.dtype) * self._scale
        return (x - self._mean) / self._std

    def _conv(self, x: tf.Tensor, key: str, stride: int = 1, padding: str = "SAME") -> tf.Tensor:
        p = self._params
        return tf.nn.bias_add(tf.nn.conv2d(x, p[f"{key}.weight"], stride, padding), p[f"{key}.bias"])

    def _fire(self, x: tf.Tensor, index: int) -> tf.Tensor:
        squeezed = tf.nn.relu(self._conv(x, f"features.{index}.squeeze"))
        left = tf.nn.relu(self._conv(squeezed, f"features.{index}.expand1x1"))
        right = tf.nn.relu(self._conv(squeezed, f"features.{index}.expand3x3"))  # 3x3 "SAME" = padding 1
        return tf.concat([left, right], axis=-1)

    def features(self, images: tf.Tensor) -> list[tf.Tensor]:
        """The outputs of features[0] … features[depth] for (N, H, W, 3) RGB images in [0, 1]."""
        x = self.preprocess(images)
        outputs = []
        for index in range(self.depth + 1):
            if index == 0:
                x = self._conv(x, "features.0", 2, "VALID")
            elif index == 1:
                x = tf.nn.relu(x)
            elif index in POOLS:
                x = ceil_max_pool(x)
            else:
                assert index in FIRES
                x = self._fire(x, index)
            outputs.append(x)
        return outputs

    def __call__(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        """Feature maps keyed by the requested names, in request order."""
        outputs = self.features(images)
        return {name: outputs[feature_index(name)] for name in self.layer_names}


def ceil_max_pool(x: tf.Tensor) -> tf.Tensor:
    """MaxPool2d(kernel 3, stride 2, ceil_mode=True) on NHWC: -inf padding on the bottom/right edges."""
    height, width = int(x.shape[1]), int(x.shape[2])
    pad_h = (ceil_pool_size(height) - 1) * 2 + 3 - height
    pad_w = (ceil_pool_size(width) - 1) * 2 + 3 - width
    if pad_h or pad_w:
        x = tf.pad(x, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], constant_values=-np.inf)
    return tf.nn.max_pool2d(x, 3, 2, "VALID")
