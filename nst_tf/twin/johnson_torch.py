"""The PyTorch twin of Johnson et al.'s transformation network (`nst_tf.feedforward.networks.JohnsonNet`).

Plain `torch.nn`, no TensorFlow import: the same layers in the same order (reflection pad + conv, instance
norm with biased variance and ε = 1e-5, ReLU, five residual blocks, nearest ×2 upsampling + conv, 9×9 conv,
sigmoid), the same bottom/right reflection padding to a multiple of 4 and the same crop. It loads the
Keras model's weights from `named_weights(model)` ({"conv1.conv.kernel": HWIO array, …}), so both give the
same picture from the same weights (tests/twin/test_johnson_torch.py checks it to 1e-5).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _channels(base: int, width: float) -> int:
    return max(1, int(round(base * width)))


class ConvLayer(nn.Module):
    """ReflectionPad2d(k//2) + Conv2d(stride), optionally InstanceNorm2d(affine) + ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, norm_relu: bool = True) -> None:
        super().__init__()
        self.pad = nn.ReflectionPad2d(kernel // 2)
        self.conv = nn.Conv2d(cin, cout, kernel, stride)
        self.norm = nn.InstanceNorm2d(cout, affine=True, eps=1e-5) if norm_relu else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.pad(x))
        return F.relu(self.norm(x)) if self.norm is not None else x


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3)
        self.conv2 = ConvLayer(channels, channels, 3, norm_relu=False)
        self.norm2 = nn.InstanceNorm2d(channels, affine=True, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.norm2(self.conv2(self.conv1(x)))


class UpsampleConv(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = ConvLayer(cin, cout, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class JohnsonNetTorch(nn.Module):
    """`model(x)` for x (B, 3, H, W) in [0, 1] -> (B, 3, H, W) in [0, 1]."""

    def __init__(self, width: float = 1.0, residual_blocks: int = 5) -> None:
        super().__init__()
        c32, c64, c128 = _channels(32, width), _channels(64, width), _channels(128, width)
        self.conv1 = ConvLayer(3, c32, 9)
        self.conv2 = ConvLayer(c32, c64, 3, stride=2)
        self.conv3 = ConvLayer(c64, c128, 3, stride=2)
        self.res = nn.ModuleList(ResidualBlock(c128) for _ in range(residual_blocks))
        self.up1 = UpsampleConv(c128, c64)
        self.up2 = UpsampleConv(c64, c32)
        self.out = ConvLayer(c32, 3, 9, norm_relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[2], x.shape[3]
        x = F.pad(x, (0, (-width) % 4, 0, (-height) % 4), mode="reflect")  # as the Keras model: bottom/right
        x = self.conv3(self.conv2(self.conv1(x)))
        for block in self.res:
            x = block(x)
        return torch.sigmoid(self.out(self.up2(self.up1(x))))[:, :, :height, :width]

    def load_keras_weights(self, named: Mapping[str, np.ndarray]) -> None:
        """Copy `nst_tf.feedforward.networks.named_weights(keras_model)` in (HWIO kernels -> OIHW)."""
        state = {}
        for key, value in named.items():
            parts = key.split(".")
            if parts[0].startswith("res"):  # "res1" (Keras, 1-based) -> "res.0" (ModuleList, 0-based)
                parts = ["res", str(int(parts[0][3:]) - 1)] + parts[1:]
            leaf = parts[-1]
            name = ".".join(parts[:-1])
            if leaf == "kernel":
                state[f"{name}.weight"] = torch.from_numpy(np.ascontiguousarray(value.transpose(3, 2, 0, 1)))
            elif leaf in ("bias", "offset"):
                state[f"{name}.bias"] = torch.from_numpy(np.asarray(value))
            elif leaf == "scale":
                state[f"{name}.weight"] = torch.from_numpy(np.asarray(value))
            else:
                raise KeyError(f"unexpected weight {key!r}")
        # Keras's UpsampleConv holds its ConvLayer as "up1.conv"; ours too. The load is strict: every
        # parameter must come from the Keras model.
        self.load_state_dict(state, strict=True)


def stylize_numpy(model: JohnsonNetTorch, images: np.ndarray) -> np.ndarray:
    """(B, H, W, 3) float32 numpy in [0, 1] through the twin -> (B, H, W, 3) numpy."""
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32))
        return model(x).numpy().transpose(0, 2, 3, 1)
