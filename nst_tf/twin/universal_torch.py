"""The PyTorch twin of universal style transfer's decoders and feature transforms (nst_tf.universal).

Plain `torch.nn`, no TensorFlow import. `DecoderTorch(steps, feature_scale)` is `build_decoder`'s network
(features ÷ the level's scale, then reflection pad + 3×3 conv + ReLU, nearest ×2 upsampling between blocks,
the last conv linear), built from NumPy weights the caller copies out of the Keras model (HWIO kernels).
`adain` and `wct` mirror `nst_tf.universal.transforms` for one style without masks: statistics (the
covariance's products too) and the eigendecomposition in float64, the composed map applied in float32, then
the content blend α. The decoders' convolutions run channels-last (`nst_tf.twin.ops`), as TensorFlow's.
tests/twin/test_universal_torch.py checks both against the Keras decoder and the NumPy transforms.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nst_tf.twin import ops

DEFAULT_EPS = 1e-5  # as nst_tf.universal.transforms


class DecoderTorch(nn.Module):
    """Features (N, h, w, C) -> RGB (N, H, W, 3), as the Keras decoder (not clipped).

    Args:
        steps: ("conv", HWIO kernel, bias) or ("up", None, None), in the Keras model's order.
        feature_scale: the Rescaling layer's divisor (`nst_tf.universal.networks.FEATURE_SCALE`).
    """

    def __init__(self, steps: Sequence[tuple[str, np.ndarray | None, np.ndarray | None]], feature_scale: float) -> None:
        super().__init__()
        self.feature_scale = float(feature_scale)
        self.kinds = [kind for kind, _, _ in steps]
        self.convs = nn.ModuleList()
        for kind, kernel, bias in steps:
            if kind == "conv":
                conv = nn.Conv2d(kernel.shape[2], kernel.shape[3], kernel.shape[0])
                with torch.no_grad():
                    conv.weight.copy_(torch.from_numpy(np.transpose(kernel, (3, 2, 0, 1)).copy()))
                    conv.bias.copy_(torch.from_numpy(np.asarray(bias).copy()))
                self.convs.append(conv)
            elif kind != "up":
                raise ValueError(f"unknown decoder step {kind!r}")

    @torch.no_grad()
    def forward(self, features: torch.Tensor) -> torch.Tensor:
        # Keras's Rescaling multiplies by the reciprocal, rounded to the features' dtype (not a division)
        x = features * torch.tensor(1.0 / self.feature_scale, dtype=features.dtype)
        convs = list(self.convs)
        done = 0
        for kind in self.kinds:
            if kind == "up":
                x = x.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)  # nearest ×2
                continue
            conv = convs[done]
            x = ops.conv(ops.pad(x, 1, 1, 1, 1), conv.weight, conv.bias)
            done += 1
            if done < len(convs):  # the last conv is linear (RGB out)
                x = F.relu(x)
        return x


def _stats(features: torch.Tensor, full: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (C,) and population covariance (C, C) of (H, W, C) features, in float64 throughout, as the product
    computes them (`nst_tf.universal.transforms.feature_stats`); `full=False`: only the variances, on the
    diagonal."""
    flat = features.reshape(-1, features.shape[-1]).to(torch.float64)
    mean = flat.sum(0) / flat.shape[0]
    centred = flat - mean
    if not full:
        return mean, torch.diag((centred * centred).sum(0) / flat.shape[0])
    return mean, (centred.T @ centred) / flat.shape[0]


def _power(cov: torch.Tensor, power: float, eps: float) -> torch.Tensor:
    """cov^power through its float64 eigendecomposition, with the same ridge as the NumPy transform."""
    values, vectors = torch.linalg.eigh(cov)
    ridge = eps * max(float(torch.trace(cov)) / cov.shape[0], 1e-12)
    values = torch.clamp(values, min=0.0) + ridge
    return (vectors * values**power) @ vectors.T


def _apply(features, mean, matrix, shift, alpha: float, dtype=torch.float32) -> torch.Tensor:
    """α·((f − μ)·Mᵀ + shift) + (1 − α)·f in `dtype` (float32 as the product; float64 for a reference), (H, W, C);
    the map applied in float64 where there are no more pixels than channels, as the product does."""
    flat = features.reshape(-1, features.shape[-1])
    if flat.shape[0] <= flat.shape[1]:
        out = ((flat.to(torch.float64) - mean) @ matrix.T + shift).to(dtype)
    else:
        flat = flat.to(dtype)
        out = (flat - mean.to(dtype)) @ matrix.T.to(dtype) + shift.to(dtype)
    out = out.reshape(features.shape)
    return out if alpha == 1.0 else alpha * out + (1.0 - alpha) * features.to(dtype)


@torch.no_grad()
def adain(
    content: torch.Tensor, style: torch.Tensor, alpha: float = 1.0, eps: float = DEFAULT_EPS, dtype=torch.float32
) -> torch.Tensor:
    """Each content channel moved to the style channel's mean and standard deviation (σ² + eps, as Huang)."""
    (mean_c, cov_c), (mean_s, cov_s) = _stats(content, full=False), _stats(style, full=False)
    matrix = torch.diag(torch.sqrt((torch.diagonal(cov_s) + eps) / (torch.diagonal(cov_c) + eps)))
    return _apply(content, mean_c, matrix, mean_s, alpha, dtype)


@torch.no_grad()
def wct(
    content: torch.Tensor, style: torch.Tensor, alpha: float = 1.0, eps: float = DEFAULT_EPS, dtype=torch.float32
) -> torch.Tensor:
    """Whitening-colouring: Σ_s^½ Σ_c^−½ (f − μ_c) + μ_s, the eigendecompositions in float64."""
    (mean_c, cov_c), (mean_s, cov_s) = _stats(content), _stats(style)
    matrix = _power(cov_s, 0.5, eps) @ _power(cov_c, -0.5, eps)
    return _apply(content, mean_c, matrix, mean_s, alpha, dtype)


# The encoder's layer at each level, as nst_tf.universal.networks.LEVEL_LAYERS (relu{k}_1 of VGG16).
ENCODER_LAYERS = {1: "block1_conv1", 2: "block2_conv1", 3: "block3_conv1", 4: "block4_conv1"}


class UniversalTorch:
    """The twin of `nst_tf.universal.stylize.Universal.stylize` for one style picture, no masks, no colour
    option: pad the content to a multiple of 2^(deepest level − 1) (reflection, or repeating the edge when the
    picture is too small to reflect), then per level, deepest first, encode (`TorchVGG`, max pooling, the
    weights' own preprocessing), move the features (`adain` / `wct`), decode and clip to [0, 1]; crop back.

    Args:
        encoder: a `nst_tf.twin.torch_vgg.TorchVGG` tapping `ENCODER_LAYERS` of every level used.
        decoders: {level: DecoderTorch}; WCT runs every level given, deepest first; AdaIN level 4 only.
        method: "wct" or "adain".
        dtype: the pictures', features' and transforms' arithmetic: the encoder's and decoders' parameters
            must be of it (float64: how far float32's own rounding moves the picture, nst_tf.parity.one_pass).
    """

    def __init__(self, encoder: nn.Module, decoders: dict[int, DecoderTorch], method: str, dtype=torch.float32) -> None:
        if method not in ("wct", "adain"):
            raise ValueError(f"unknown method {method!r}; choose wct or adain")
        self.encoder, self.method, self.dtype = encoder, method, dtype
        self.levels = sorted(decoders, reverse=True) if method == "wct" else [4]
        self.decoders = {level: decoders[level] for level in self.levels}

    def encode(self, picture: torch.Tensor, level: int) -> torch.Tensor:
        """(1, H, W, 3) -> (h, w, C) relu{level}_1 features."""
        return self.encoder(picture)[ENCODER_LAYERS[level]][0]

    @torch.no_grad()
    def stylize(self, content: np.ndarray, style: np.ndarray, alpha: float = 1.0) -> np.ndarray:
        """(1, H, W, 3) content and (1, h, w, 3) style, RGB in [0, 1] -> (1, H, W, 3) in the twin's dtype."""
        transform = wct if self.method == "wct" else adain
        picture = torch.from_numpy(np.asarray(content)).to(self.dtype)
        height, width = picture.shape[1:3]
        picture = pad_to_multiple(picture, 2 ** (max(self.levels) - 1))
        style_picture = torch.from_numpy(np.asarray(style)).to(self.dtype)
        for level in self.levels:
            content_features, style_features = self.encode(picture, level), self.encode(style_picture, level)
            moved = transform(content_features, style_features, alpha, dtype=self.dtype)
            picture = torch.clamp(self.decoders[level](moved[None]), 0.0, 1.0)
        return picture[:, :height, :width].numpy()


def pad_to_multiple(images: torch.Tensor, multiple: int) -> torch.Tensor:
    """(N, H, W, 3) padded at the bottom/right to multiples of `multiple`: reflection, or the edge repeated
    when a side is too short to reflect (as `nst_tf.universal.networks.pad_to_multiple`)."""
    height, width = images.shape[1:3]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if not (pad_h or pad_w):
        return images
    mode = "replicate" if pad_h >= height or pad_w >= width else "reflect"
    return F.pad(images.permute(0, 3, 1, 2), (0, pad_w, 0, pad_h), mode=mode).permute(0, 2, 3, 1)
