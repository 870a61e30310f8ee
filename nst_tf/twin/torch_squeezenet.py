"""The PyTorch twin's SqueezeNet 1.1 `features`: plain `torch.nn.functional`, no torchvision, no TensorFlow.

`TorchSqueezeNet` mirrors `nst_tf.vgg.squeezenet.SqueezeNetExtractor` (and has `TorchVGG`'s interface:
`layer_names`, `weights`, `dtype`, `device`, `preprocess`, `forward(images) -> {name: (N, h, w, C)}`).
Pooling is torchvision's own `max_pool2d(3, 2, ceil_mode=True)`; everything else as the TF module says.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F

from nst_tf.errors import ConfigError
from nst_tf.vgg.weights import Preprocessing
from nst_tf.vgg.weights.squeezenet_pth import FIRES, POOLS, SqueezeNetWeights, feature_index, select_squeezenet_layers


class TorchSqueezeNet(torch.nn.Module):
    """Frozen SqueezeNet 1.1 up to the deepest requested module, in `dtype` on `device`."""

    def __init__(
        self,
        weights: SqueezeNetWeights,
        layers: Iterable[str],
        preprocessing: Preprocessing | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.layer_names: list[str] = select_squeezenet_layers(layers)
        if not self.layer_names:
            raise ConfigError("no SqueezeNet layer requested")
        self.weights = weights
        self.preprocessing = preprocessing or weights.preprocessing
        self.dtype = dtype
        self.depth = max(feature_index(name) for name in self.layer_names)
        device = torch.device(device or "cpu")
        self.params = torch.nn.ParameterDict(
            {
                key.replace(".", "_"): torch.nn.Parameter(torch.tensor(value, dtype=dtype, device=device), False)
                for key, value in weights.params.items()
            }
        )
        p = self.preprocessing
        self.register_buffer("_scale", torch.tensor(p.scale, dtype=dtype, device=device), persistent=False)
        self.register_buffer("_mean", torch.tensor(p.mean, dtype=dtype, device=device), persistent=False)
        self.register_buffer("_std", torch.tensor(p.std, dtype=dtype, device=device), persistent=False)

    @property
    def device(self) -> torch.device:
        return self._mean.device

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """(N, H, W, 3) RGB in [0, 1] -> (x·scale − mean) / std, still (N, H, W, 3)."""
        return (images.to(self.dtype) * self._scale - self._mean) / self._std

    def _conv(self, x: torch.Tensor, key: str, stride: int = 1, padding: int = 0) -> torch.Tensor:
        name = key.replace(".", "_")
        return F.conv2d(x, self.params[f"{name}_weight"], self.params[f"{name}_bias"], stride, padding)

    def _fire(self, x: torch.Tensor, index: int) -> torch.Tensor:
        squeezed = F.relu(self._conv(x, f"features.{index}.squeeze"))
        left = F.relu(self._conv(squeezed, f"features.{index}.expand1x1"))
        right = F.relu(self._conv(squeezed, f"features.{index}.expand3x3", padding=1))
        return torch.cat([left, right], dim=1)

    def features(self, images: torch.Tensor | np.ndarray) -> list[torch.Tensor]:
        """Outputs of features[0] … features[depth], NCHW."""
        images = torch.as_tensor(images, device=self.device)
        x = self.preprocess(images).permute(0, 3, 1, 2)
        outputs = []
        for index in range(self.depth + 1):
            if index == 0:
                x = self._conv(x, "features.0", stride=2)
            elif index == 1:
                x = F.relu(x)
            elif index in POOLS:
                x = F.max_pool2d(x, 3, 2, ceil_mode=True)
            else:
                assert index in FIRES
                x = self._fire(x, index)
            outputs.append(x)
        return outputs

    def forward(self, images: torch.Tensor | np.ndarray) -> dict[str, torch.Tensor]:
        """Feature maps keyed by the requested names, (N, h, w, C) like Keras's."""
        outputs = self.features(images)
        return {name: outputs[feature_index(name)].permute(0, 2, 3, 1) for name in self.layer_names}
