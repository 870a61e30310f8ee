"""The PyTorch twin's network: VGG in plain torch.nn, the mirror of `nst_tf.vgg.extractor.FeatureExtractor`.

The twin is a second implementation of the whole pipeline so the two can be tested against each other
(DESIGN.md §1, "people who compare frameworks"). This module owns its network: `TorchVGG` (VGG19 or
VGG16 as the weights say, built from `torch.nn.functional` without torchvision, with the Keras layer
names, the very same `Preprocessing` object and the same choice of tap, after or before each ReLU) and
`build_extractor(config)`. Its costs are in `nst_tf.twin.torch_costs`, its optimisation (`stylize`) in
`nst_tf.twin.torch_run`. Features are returned as (N, h, w, C), like Keras's, so the two can be compared
element-wise. It runs in float32 (the product's precision) or float64 (to separate algorithmic
disagreement from rounding).

PyTorch is an optional dependency: only the twin imports it, and nothing in `nst_tf` imports the twin at
import time. The twin imports no TensorFlow (tests/twin/test_torch_vgg.py checks it in a fresh interpreter).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F

from nst_tf.config import Config
from nst_tf.errors import ConfigError
from nst_tf.twin.ops import onednn_conv2d
from nst_tf.vgg.weights import (
    IDENTITY,
    Preprocessing,
    VGGWeights,
    conv_layer_names,
    resolve_weights_for_config,
    select_layers,
)

log = logging.getLogger(__name__)


def resolve_device(choice: str) -> torch.device:
    """ "auto" -> cuda when PyTorch sees a GPU, else cpu; "gpu" without one is an error (as TF's side)."""
    has_gpu = torch.cuda.is_available()
    if choice == "gpu" and not has_gpu:
        raise ConfigError("--device gpu: PyTorch sees no GPU here")
    return torch.device("cuda" if choice in ("gpu", "auto") and has_gpu else "cpu")


# --- the network ---------------------------------------------------------------------------------------


def pool2d(x: torch.Tensor, pooling: str, padding: str) -> torch.Tensor:
    """2x2, stride-2 pooling of (N, C, H, W) with TensorFlow's padding semantics.

    "valid" drops an odd last row/column (floor), as PyTorch does by default. "same" keeps it
    (ceil(H/2) rows): TF pads one row/column at the bottom/right only, and the padded cells never take
    part: a max ignores them, and an average divides by the number of real cells in its window (2 or 1
    at the edge, not 4). PyTorch has no such padding mode, so it is spelled out here.
    """
    if pooling not in ("max", "avg"):
        raise ConfigError(f"unknown pooling {pooling!r}; choose max or avg")
    pad_h, pad_w = (x.shape[2] % 2, x.shape[3] % 2) if padding == "same" else (0, 0)
    if pooling == "max":
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), value=-math.inf)  # -inf never wins a max
        return F.max_pool2d(x, 2, 2)
    if not (pad_h or pad_w):
        return F.avg_pool2d(x, 2, 2)
    sums = F.avg_pool2d(F.pad(x, (0, pad_w, 0, pad_h)), 2, 2, divisor_override=1)  # window sums
    ones = torch.ones((1, 1, x.shape[2], x.shape[3]), dtype=x.dtype, device=x.device)
    counts = F.avg_pool2d(F.pad(ones, (0, pad_w, 0, pad_h)), 2, 2, divisor_override=1)  # real cells: 4, 2 or 1
    return sums / counts


class TorchVGG(torch.nn.Module):
    """Frozen VGG up to the deepest requested layer; `vgg(images)` -> {keras_layer_name: (N, h, w, C)}.

    The mirror of `nst_tf.vgg.extractor.FeatureExtractor`, with the same arguments and checks.

    Args:
        weights: the very `VGGWeights` the TF extractor loads (kernels HWIO, copied to OIHW here).
        layers: layer names to return, paper or Keras spelling.
        pooling: "max" or "avg".
        pool_padding: "valid" (Keras VGG) or "same" (the TF1 course's VGG).
        preprocessing: override the weights' own preprocessing (the TF2 notebook feeds [0, 1] as is).
        dtype: torch.float32 or torch.float64.
        device: where the parameters live (default cpu).
        tap: "relu" (each conv's ReLU output) or "conv" (before the ReLU, as the PyTorch tutorial).
        channels_last: run the convolutions in oneDNN's channels-last layout, TensorFlow's: the float32 features
            then equal TensorFlow's to the last bit on this project's CPUs (the one-pass comparison,
            `nst_tf.twin.universal_torch`); False keeps PyTorch's default layout, which sums in another order.
    """

    def __init__(
        self,
        weights: VGGWeights,
        layers: Iterable[str],
        pooling: str = "max",
        pool_padding: str = "valid",
        preprocessing: Preprocessing | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
        tap: str = "relu",
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.layer_names: list[str] = select_layers(weights, layers)
        if tap not in ("relu", "conv"):
            raise ConfigError(f"unknown feature tap {tap!r}; choose relu or conv")
        self.tap = tap
        self.channels_last = channels_last
        if pooling not in ("max", "avg"):
            raise ConfigError(f"unknown pooling {pooling!r}; choose max or avg")
        if pool_padding not in ("valid", "same"):
            raise ConfigError(f"unknown pool padding {pool_padding!r}")
        self.weights = weights
        self.pooling = pooling
        self.pool_padding = pool_padding
        self.preprocessing = preprocessing or weights.preprocessing
        self.dtype = dtype
        device = torch.device(device or "cpu")
        order = conv_layer_names(weights.architecture)
        deepest = max(order.index(name) for name in self.layer_names)
        self.conv_names = order[: deepest + 1]  # nothing deeper is needed, as in the Keras model
        self.kernels = torch.nn.ParameterDict()
        self.biases = torch.nn.ParameterDict()
        for name in self.conv_names:
            kernel, bias = weights.layers[name]  # (3, 3, C_in, C_out) HWIO, (C_out,)
            oihw = np.ascontiguousarray(np.transpose(kernel, (3, 2, 0, 1)))  # -> (C_out, C_in, 3, 3)
            self.kernels[name] = torch.nn.Parameter(torch.tensor(oihw, dtype=dtype, device=device), False)
            self.biases[name] = torch.nn.Parameter(torch.tensor(bias, dtype=dtype, device=device), False)
        p = self.preprocessing
        self._bgr = p.channel_order == "BGR"
        self.register_buffer("_scale", torch.tensor(p.scale, dtype=dtype, device=device), persistent=False)
        self.register_buffer("_mean", torch.tensor(p.mean, dtype=dtype, device=device), persistent=False)
        # A per-channel std is not part of Preprocessing today; honour one if it is added, and skip the
        # division when it is all ones so the arithmetic stays exactly the TF extractor's.
        std = tuple(float(s) for s in getattr(p, "std", (1.0, 1.0, 1.0)))
        self._std = None if std == (1.0, 1.0, 1.0) else torch.tensor(std, dtype=dtype, device=device)

    @property
    def device(self) -> torch.device:
        return self._mean.device

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """(N, H, W, 3) RGB in [0, 1] -> what the weights were trained on, still (N, H, W, 3)."""
        x = images.to(self.dtype) * self._scale
        if self._bgr:
            x = torch.flip(x, dims=(-1,))
        x = x - self._mean
        if self._std is not None:
            x = x / self._std
        return x

    def forward(self, images: torch.Tensor | np.ndarray) -> dict[str, torch.Tensor]:
        """Feature maps of (N, H, W, 3) RGB images in [0, 1], keyed by Keras layer name, (N, h, w, C)."""
        images = torch.as_tensor(images, device=self.device)
        x = self.preprocess(images).permute(0, 3, 1, 2)  # (N, 3, H, W)
        taps: dict[str, torch.Tensor] = {}
        for name in self.conv_names:
            if name.endswith("_conv1") and not name.startswith("block1"):
                x = pool2d(x, self.pooling, self.pool_padding)
            # Keras's 3x3 "same" convolution with stride 1 pads one cell on every side.
            if self.channels_last:  # TensorFlow's layout (see Args)
                before_relu = onednn_conv2d(x, self.kernels[name], self.biases[name], padding=1)
            else:
                before_relu = F.conv2d(x, self.kernels[name], self.biases[name], padding=1)
            x = F.relu(before_relu)
            if name in self.layer_names:
                tapped = before_relu if self.tap == "conv" else x
                taps[name] = tapped.permute(0, 2, 3, 1)  # (N, h, w, C), as Keras returns it
        return {name: taps[name] for name in self.layer_names}

    @property
    def feeds_raw_unit_rgb(self) -> bool:
        """True when the input goes to VGG untouched (the TF2 notebook's quirk)."""
        return self.preprocessing == IDENTITY


def build_extractor(
    config: Config,
    weights: VGGWeights | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> TorchVGG:
    """The twin of `nst_tf.optim.engine.build_extractor`: the layers, pooling and preprocessing a run needs."""
    if weights is None:
        weights = resolve_weights_for_config(config)
    layers = [config.content_layer_key, *config.style_layer_weights]
    preprocessing = IDENTITY if config.input_preprocessing == "none" else None
    if weights.architecture == "squeezenet1_1":  # the cs231n assignment's network
        from nst_tf.twin.torch_squeezenet import TorchSqueezeNet

        return TorchSqueezeNet(weights, layers, preprocessing, dtype, device)
    return TorchVGG(
        weights, layers, config.pooling, config.pool_padding, preprocessing, dtype, device, tap=config.feature_tap
    )
