"""The PyTorch twin of Johnson et al.'s transformation network (`nst_tf.feedforward.networks.JohnsonNet`).

Plain torch, no TensorFlow import. The parameters are the Keras network's, loaded from `named_weights(model)`
({"conv1.conv.kernel": HWIO array, …}) into modules shaped as pytorch/examples' `transformer_net.py`
(reflection pad + conv, instance norm, ReLU; five residual blocks; two nearest ×2 upsampling stages; a 9×9
conv to RGB and a sigmoid; the input reflection-padded at the bottom/right to a multiple of 4, the output
cropped back).

The forward pass computes that function the way `apply` computes it, `nst_tf.feedforward.inference.
JohnsonForward`, written again here on (N, H, W, C) tensors with `nst_tf.twin.ops` (channels-last
convolutions, the product's instance-norm statistics):

- a 9×9 convolution runs on space_to_depth(4) blocks as a 3×3 convolution whose kernel is the original's
  taps rearranged (zeros where a block offset falls outside the window), then depth_to_space(4);
- nearest ×2 upsampling + reflection pad 1 + 3×3 conv is one 3×3 conv at the low resolution, after an edge
  pad of 1, with one output group per output phase (the taps that land on one input pixel summed in float64
  and rounded once), then depth_to_space(2);
- a convolution's bias is left out where instance norm follows (the norm's mean cancels it exactly).

The rearrangements are exact, so this is the textbook network's function (tests/twin/test_johnson_torch.py
checks it against the Keras model, layer by layer, to 1e-5); computed the same way, its float32 picture is
TensorFlow's up to the instance norms' row sums and the sigmoid (`nst_tf.parity.one_pass` measures it).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from nst_tf.twin import ops

BLOCK = 4  # space_to_depth block of the 9×9 convolutions, as JohnsonForward


def _channels(base: int, width: float) -> int:
    return max(1, int(round(base * width)))


class Norm(nn.Module):
    """An instance norm's learned per-channel scale (`weight`) and offset (`bias`)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels), requires_grad=False)
        self.bias = nn.Parameter(torch.zeros(channels), requires_grad=False)

    def forward(self, x: torch.Tensor, relu: bool) -> torch.Tensor:
        x = ops.instance_norm(x, self.weight, self.bias)
        return torch.relu(x) if relu else x


class ConvLayer(nn.Module):
    """Reflection pad k//2 + k×k conv (stride), optionally followed by instance norm + ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, norm_relu: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride)
        self.conv.requires_grad_(False)
        self.norm = Norm(cout) if norm_relu else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """A 3×3 layer followed by its norm and ReLU (the 9×9 ones go through `block_conv`)."""
        p = self.conv.kernel_size[0] // 2
        return self.norm(ops.conv(ops.pad(x, p, p, p, p), self.conv.weight, stride=self.conv.stride[0]), True)


class ResidualBlock(nn.Module):
    """x + IN(conv(ReLU(IN(conv(x))))), the second conv's bias cancelled by `norm2`."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3)
        self.conv2 = ConvLayer(channels, channels, 3, norm_relu=False)
        self.norm2 = Norm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = ops.conv(ops.pad(self.conv1(x), 1, 1, 1, 1), self.conv2.conv.weight)
        return x + self.norm2(y, False)


class UpsampleConv(nn.Module):
    """Nearest ×2 upsampling, then ConvLayer: computed at the low resolution (`upsample_conv`)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = ConvLayer(cin, cout, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv.norm(upsample_conv(x, self.conv.conv.weight), True)


class JohnsonNetTorch(nn.Module):
    """`model(x)` for x (B, H, W, 3) in [0, 1] -> (B, H, W, 3) in [0, 1], float32 or (after `.double()`) float64."""

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

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[1], x.shape[2]
        x = ops.pad(x, 0, (-height) % 4, 0, (-width) % 4)  # as the Keras model: bottom/right, reflected
        x = self.conv1.norm(block_conv(ops.pad(x, 4, 4, 4, 4), self.conv1.conv.weight), True)
        x = self.conv3(self.conv2(x))
        for block in self.res:
            x = block(x)
        x = self.up2(self.up1(x))
        x = block_conv(ops.pad(x, 4, 4, 4, 4), self.out.conv.weight) + self.out.conv.bias
        return torch.sigmoid(x)[:, :height, :width]

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


def _block_taps(kernel_size: int, block: int) -> np.ndarray:
    """For each entry (A, B, r_in, q_in, r_out, q_out) of the block kernel, the original tap it holds (row-major
    index), or kernel_size² for none: output pixel (block·I + r_out, block·J + q_out) reads input block
    (I + A, J + B) at offset (r_in, q_in), the original tap (block·A + r_in − r_out, block·B + q_in − q_out)."""
    span = (kernel_size + 2 * (block - 1)) // block
    rows = block * np.arange(span)[:, None, None] + np.arange(block)[None, :, None] - np.arange(block)[None, None, :]
    valid = (rows >= 0) & (rows < kernel_size)  # (A, r_in, r_out)
    rows = np.where(valid, rows, 0)
    index = rows[:, None, :, None, :, None] * kernel_size + rows[None, :, None, :, None, :]
    inside = valid[:, None, :, None, :, None] & valid[None, :, None, :, None, :]
    return np.where(inside, index, kernel_size * kernel_size)


def block_conv(x: torch.Tensor, weight: torch.Tensor, block: int = BLOCK) -> torch.Tensor:
    """VALID stride-1 k×k convolution of (N, H, W, C) x with an OIHW weight, on space_to_depth(block) blocks."""
    cout, cin, k, _ = weight.shape
    span = (k + 2 * (block - 1)) // block
    height, width = x.shape[1], x.shape[2]
    # zeros at the bottom/right (never read by a non-zero tap) so that the blocks cover every output's taps
    x = ops.pad(x, 0, (height - k + 1) + block * (span - 1) - height, 0, (width - k + 1) + block * (span - 1) - width,
                "constant")  # fmt: skip
    taps = torch.cat([weight.permute(2, 3, 1, 0).reshape(k * k, cin, cout), weight.new_zeros(1, cin, cout)])
    big = taps[torch.from_numpy(_block_taps(k, block))]  # (A, B, r_in, q_in, r_out, q_out, cin, cout)
    big = big.permute(0, 1, 2, 3, 6, 4, 5, 7).reshape(span, span, block * block * cin, block * block * cout)
    y = ops.conv(ops.space_to_depth(x, block), big.permute(3, 2, 0, 1))
    return ops.depth_to_space(y, block)


# Which of a 3×3 kernel's rows land on low-resolution offsets −1, 0, +1 for output phase 0 and 1 of a nearest ×2
# upsampling: phase 0 reads x[i−1] (tap 0) and x[i] (taps 1, 2); phase 1 reads x[i] (taps 0, 1) and x[i+1] (2).
_PHASES = ((0, 1, 1), (1, 1, 2))  # low-resolution offset + 1 of taps 0, 1, 2 for phase 0 and phase 1


def upsample_conv(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """reflect_pad(upsample×2(x), 1) convolved with a 3×3 OIHW weight, at the low resolution; the reflected row
    beside an upsampled border is the border row itself, hence the edge pad."""
    cout, cin = weight.shape[:2]
    big = torch.zeros(3, 3, cin, 2, 2, cout, dtype=torch.float64)  # (u, v, cin, a, b, cout)
    hwio = weight.permute(2, 3, 1, 0).double()
    for a, rows in enumerate(_PHASES):
        for b, cols in enumerate(_PHASES):
            for d in range(3):
                for e in range(3):
                    big[rows[d], cols[e], :, a, b, :] += hwio[d, e]  # ≤ 4 taps meet: exact in float64
    kernel = big.reshape(3, 3, cin, 4 * cout).to(weight.dtype).permute(3, 2, 0, 1)
    return ops.depth_to_space(ops.conv(ops.pad(x, 1, 1, 1, 1, "replicate"), kernel), 2)


def stylize_numpy(model: JohnsonNetTorch, images: np.ndarray) -> np.ndarray:
    """(B, H, W, 3) float32 numpy in [0, 1] through the twin -> (B, H, W, 3) numpy."""
    return model(torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))).numpy()
