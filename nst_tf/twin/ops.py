"""The one-pass twins' shared arithmetic, on (N, H, W, C) torch tensors laid out as TensorFlow lays them out.

Plain torch, no TensorFlow import. A convolution here runs in oneDNN's channels-last layout
(`onednn_conv2d`, `conv`), the layout TensorFlow's convolutions use on a CPU: both frameworks then call
oneDNN with the same shapes and the same memory order, and its float32 sums come out bit for bit as
TensorFlow's (measured on an Intel Xeon, Sapphire Rapids: TensorFlow 2.21's oneDNN and PyTorch 2.13's 3.12).
PyTorch's default NCHW layout sums in another order: 1e-5 apart at a 48-channel 3×3 convolution, which
Johnson's network amplifies to 2e-5 in the picture (`nst_tf.parity.one_pass`).

Instance norm (`moments`, `instance_norm`) is `nst_tf.feedforward.networks.moments` / `normalize` written
again: every row summed in float32, the row sums in float64, the variance about the mean rounded to float32,
the per-channel factor scale/√(variance + ε) in float64 rounded once, then centred · factor + offset.
Only the row sums' order can differ from TensorFlow's (a few ulp of a row sum).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def onednn_conv2d(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, stride: int = 1, padding: int = 0
) -> torch.Tensor:
    """`F.conv2d` of an (N, C, H, W)-shaped tensor, computed by oneDNN in the channels-last layout at any size.

    PyTorch's own dispatch sends a small float32 convolution (3×3, one picture, under ~20,000 input values) to
    another kernel, which sums in another order (up to 1.6e-4 apart at relu4_1 of a 48 px picture), so the
    oneDNN operator is called directly. Float64 (the reference runs) and builds without oneDNN use `F.conv2d`.
    """
    if x.dtype == torch.float32 and x.device.type == "cpu" and torch.backends.mkldnn.is_available():
        x = x.contiguous(memory_format=torch.channels_last)
        weight = weight.contiguous(memory_format=torch.channels_last)
        return torch.ops.aten.mkldnn_convolution(x, weight, bias, [padding] * 2, [stride] * 2, [1, 1], 1)
    return F.conv2d(x, weight, bias, stride, padding)


def conv(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor | None = None, stride: int = 1) -> torch.Tensor:
    """VALID convolution of (N, H, W, C) `x` with an (O, I, kh, kw) kernel (`onednn_conv2d`) -> (N, H', W', O)."""
    return onednn_conv2d(x.permute(0, 3, 1, 2), kernel, bias, stride).permute(0, 2, 3, 1)


def pad(x: torch.Tensor, top: int, bottom: int, left: int, right: int, mode: str = "reflect") -> torch.Tensor:
    """(N, H, W, C) padded on H and W ("reflect": no edge repeated; "replicate"; "constant": zeros)."""
    return F.pad(x.permute(0, 3, 1, 2), (left, right, top, bottom), mode=mode).permute(0, 2, 3, 1)


def space_to_depth(x: torch.Tensor, block: int) -> torch.Tensor:
    """TensorFlow's `space_to_depth`: (N, H, W, C) -> (N, H/b, W/b, b·b·C), channels in (row, column, c) order."""
    n, height, width, c = x.shape
    x = x.reshape(n, height // block, block, width // block, block, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(n, height // block, width // block, block * block * c)


def depth_to_space(x: torch.Tensor, block: int) -> torch.Tensor:
    """TensorFlow's `depth_to_space`, the inverse of `space_to_depth`."""
    n, height, width, c = x.shape
    x = x.reshape(n, height, width, block, block, c // (block * block)).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(n, height * block, width * block, c // (block * block))


def moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean, centred, variance) of (N, H, W, C) maps per picture and channel, as the product (module doc):
    mean and variance (N, 1, 1, C) in float64, the centred maps in x's dtype."""
    count = x.shape[1] * x.shape[2]
    mean = x.sum(dim=2, keepdim=True).double().sum(dim=1, keepdim=True) / count
    centred = x - mean.to(x.dtype)
    variance = (centred * centred).sum(dim=2, keepdim=True).double().sum(dim=1, keepdim=True) / count
    return mean, centred, variance


def instance_norm(x: torch.Tensor, scale: torch.Tensor, offset: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Instance norm of (N, H, W, C) maps with a per-channel scale and offset (module doc)."""
    _, centred, variance = moments(x)
    factor = (scale.double() / torch.sqrt(variance + eps)).to(x.dtype)
    return centred * factor + offset.to(x.dtype)
