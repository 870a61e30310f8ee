"""The PyTorch twin of universal style transfer's decoders and feature transforms (nst_tf.universal).

Plain `torch.nn`, no TensorFlow import. `DecoderTorch(steps, feature_scale)` is `build_decoder`'s network
(features ÷ the level's scale, then reflection pad + 3×3 conv + ReLU, nearest ×2 upsampling between blocks,
the last conv linear), built from NumPy weights the caller copies out of the Keras model (HWIO kernels).
`adain` and `wct` mirror `nst_tf.universal.transforms` for one style without masks: statistics and the
eigendecomposition in float64, the composed map applied in float32, then the content blend α.
tests/twin/test_universal_torch.py checks both against the Keras decoder and the NumPy transforms.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

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
        x = features.permute(0, 3, 1, 2) / self.feature_scale
        convs = list(self.convs)
        done = 0
        for kind in self.kinds:
            if kind == "up":
                x = F.interpolate(x, scale_factor=2, mode="nearest")
                continue
            x = convs[done](F.pad(x, (1, 1, 1, 1), mode="reflect"))
            done += 1
            if done < len(convs):  # the last conv is linear (RGB out)
                x = F.relu(x)
        return x.permute(0, 2, 3, 1)


def _stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (C,) and population covariance (C, C) of (H, W, C) features, in float64."""
    flat = features.reshape(-1, features.shape[-1]).to(torch.float64)
    mean = flat.mean(0)
    centred = flat - mean
    return mean, centred.T @ centred / flat.shape[0]


def _power(cov: torch.Tensor, power: float, eps: float) -> torch.Tensor:
    """cov^power through its float64 eigendecomposition, with the same ridge as the NumPy transform."""
    values, vectors = torch.linalg.eigh(cov)
    ridge = eps * max(float(torch.trace(cov)) / cov.shape[0], 1e-12)
    values = torch.clamp(values, min=0.0) + ridge
    return (vectors * values**power) @ vectors.T


def _apply(features, mean, matrix, shift, alpha: float) -> torch.Tensor:
    """α·((f − μ)·Mᵀ + shift) + (1 − α)·f in float32, (H, W, C)."""
    flat = features.reshape(-1, features.shape[-1]).to(torch.float32)
    out = (flat - mean.to(torch.float32)) @ matrix.T.to(torch.float32) + shift.to(torch.float32)
    out = out.reshape(features.shape)
    return out if alpha == 1.0 else alpha * out + (1.0 - alpha) * features.to(torch.float32)


@torch.no_grad()
def adain(content: torch.Tensor, style: torch.Tensor, alpha: float = 1.0, eps: float = DEFAULT_EPS) -> torch.Tensor:
    """Each content channel moved to the style channel's mean and standard deviation (σ² + eps, as Huang)."""
    (mean_c, cov_c), (mean_s, cov_s) = _stats(content), _stats(style)
    matrix = torch.diag(torch.sqrt((torch.diagonal(cov_s) + eps) / (torch.diagonal(cov_c) + eps)))
    return _apply(content, mean_c, matrix, mean_s, alpha)


@torch.no_grad()
def wct(content: torch.Tensor, style: torch.Tensor, alpha: float = 1.0, eps: float = DEFAULT_EPS) -> torch.Tensor:
    """Whitening-colouring: Σ_s^½ Σ_c^−½ (f − μ_c) + μ_s, the eigendecompositions in float64."""
    (mean_c, cov_c), (mean_s, cov_s) = _stats(content), _stats(style)
    matrix = _power(cov_s, 0.5, eps) @ _power(cov_c, -0.5, eps)
    return _apply(content, mean_c, matrix, mean_s, alpha)
