"""The PyTorch twin of Ulyanov et al.'s texture network (`nst_tf.feedforward.networks.TextureNet`).

Plain torch, no TensorFlow import: the same multi-scale generator — at each of `scales` resolutions the
photo average-pooled to it (when `photo`) beside uniform noise, a block of 3×3, 3×3, 1×1 convolutions with
reflection padding, instance norm and LeakyReLU(0.01) after each; the blocks joined coarse to fine (nearest
×2 upsampling of the running result, both sides instance-normalised, concatenated, a block); a 1×1
convolution to RGB and a sigmoid. The input is reflection-padded at the bottom/right to a multiple of
2^(scales−1) and the output cropped back, as the Keras model does. It computes on (N, H, W, C) tensors with
`nst_tf.twin.ops`, as the Keras layers do: channels-last convolutions with their bias, and the Keras
`InstanceNorm`'s statistics and formula (`nst_tf.feedforward.networks.moments` / `normalize`).

The noise is an argument, not drawn here: the two frameworks' random generators differ, so a comparison
hands both networks the very same noise (`TextureNet.noise_for` draws TensorFlow's). Weights come from
`nst_tf.feedforward.networks.named_weights(keras_model)` (HWIO kernels, transposed to OIHW here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nst_tf.twin import ops


def _channels(base: int, width: float) -> int:
    return max(1, int(round(base * width)))


class Norm(nn.Module):
    """Instance norm with a learned per-channel scale (`weight`) and offset (`bias`), as the Keras layer."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels), requires_grad=False)
        self.bias = nn.Parameter(torch.zeros(channels), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ops.instance_norm(x, self.weight, self.bias)


class ScaleBlock(nn.Module):
    """Three convolutions (3×3, 3×3, 1×1; reflection pad k//2), each followed by instance norm and LeakyReLU."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.kernels = (3, 3, 1)
        self.convs = nn.ModuleList(nn.Conv2d(cin if i == 0 else cout, cout, k) for i, k in enumerate(self.kernels))
        self.convs.requires_grad_(False)
        self.norms = nn.ModuleList(Norm(cout) for _ in self.kernels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for kernel, conv, norm in zip(self.kernels, self.convs, self.norms, strict=True):
            p = kernel // 2
            x = ops.conv(ops.pad(x, p, p, p, p) if p else x, conv.weight, conv.bias)
            x = F.leaky_relu(norm(x), negative_slope=0.01)
        return x


class TextureNetTorch(nn.Module):
    """`model(images, noise)` for images (B, H, W, 3) in [0, 1] and one noise tensor per scale (finest first,
    (B, H'/2^k, W'/2^k, noise_channels) for the padded size H'×W') -> (B, H, W, 3) in [0, 1].

    Args: as `TextureNet` (scales, width, photo, noise_channels); the seed is not needed (noise is given).
    """

    def __init__(self, scales: int = 5, width: float = 1.0, photo: bool = True, noise_channels: int = 3) -> None:
        super().__init__()
        self.scales, self.photo, self.noise_channels = int(scales), bool(photo), int(noise_channels)
        self.stride = 2 ** (self.scales - 1)
        base = _channels(8, width)
        cin = noise_channels + (3 if photo else 0)
        self.blocks = nn.ModuleList(ScaleBlock(cin, base) for _ in range(self.scales))
        # Join k (1 … scales−1) takes the running result (k·base channels) and scale k's block (base).
        self.join_a = nn.ModuleList(Norm(k * base) for k in range(1, self.scales))
        self.join_b = nn.ModuleList(Norm(base) for _ in range(1, self.scales))
        self.joins = nn.ModuleList(ScaleBlock((k + 1) * base, (k + 1) * base) for k in range(1, self.scales))
        self.to_rgb = nn.Conv2d(self.scales * base, 3, 1)
        self.to_rgb.requires_grad_(False)

    def _scale_input(self, padded: torch.Tensor, level: int, noise: torch.Tensor) -> torch.Tensor:
        small = padded
        for _ in range(level):
            small = F.avg_pool2d(small.permute(0, 3, 1, 2), 2, 2).permute(0, 2, 3, 1)
        return torch.cat([small, noise], dim=-1) if self.photo else noise

    @torch.no_grad()
    def forward(self, images: torch.Tensor, noise: Sequence[torch.Tensor]) -> torch.Tensor:
        height, width = images.shape[1], images.shape[2]
        x = ops.pad(images, 0, (-height) % self.stride, 0, (-width) % self.stride)
        coarsest = self.scales - 1
        running = self.blocks[coarsest](self._scale_input(x, coarsest, noise[coarsest]))
        for level in range(coarsest - 1, -1, -1):
            k = coarsest - level
            here = self.blocks[level](self._scale_input(x, level, noise[level]))
            up = running.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)  # nearest ×2
            running = self.joins[k - 1](torch.cat([self.join_a[k - 1](up), self.join_b[k - 1](here)], dim=-1))
        return torch.sigmoid(ops.conv(running, self.to_rgb.weight, self.to_rgb.bias))[:, :height, :width]

    def load_keras_weights(self, named: Mapping[str, np.ndarray]) -> None:
        """Copy `named_weights(keras_texture_net)` in, strictly: every parameter must come from the Keras model.

        Keras names: scale{k}.conv{i}.conv.kernel / .bias, scale{k}.norm{i}.scale / .offset,
        join{k}_a|_b.scale / .offset, join{k}.conv{i}…, join{k}.norm{i}…, to_rgb.kernel / .bias.
        """
        state = {}
        for key, value in named.items():
            parts, array = key.split("."), np.asarray(value)
            leaf = parts[-1]
            if leaf == "kernel":
                tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(3, 2, 0, 1)))
            else:
                tensor = torch.from_numpy(np.ascontiguousarray(array))
            state[self._our_name(parts[:-1], key) + (".weight" if leaf in ("kernel", "scale") else ".bias")] = tensor
        self.load_state_dict(state, strict=True)

    @staticmethod
    def _our_name(parts: list[str], key: str) -> str:
        head = parts[0]
        if head == "to_rgb":
            return "to_rgb"
        if head.startswith("join") and head.endswith(("_a", "_b")):  # join{k}_a -> join_a.{k-1}
            return f"join{head[-2:]}.{int(head[4:-2]) - 1}"
        if head.startswith("scale"):
            block = f"blocks.{int(head[5:])}"
        elif head.startswith("join"):
            block = f"joins.{int(head[4:]) - 1}"
        else:
            raise KeyError(f"unexpected weight {key!r}")
        kind, index = parts[1][:-1], int(parts[1][-1]) - 1  # conv2 -> convs.1, norm3 -> norms.2
        if kind not in ("conv", "norm"):
            raise KeyError(f"unexpected weight {key!r}")
        return f"{block}.{kind}s.{index}"


def stylize_numpy(model: TextureNetTorch, images: np.ndarray, noise: Sequence[np.ndarray]) -> np.ndarray:
    """(B, H, W, 3) float32 numpy in [0, 1] and per-scale (B, h, w, C) noise through the twin -> (B, H, W, 3)."""

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))

    return model(tensor(images), [tensor(n) for n in noise]).numpy()
