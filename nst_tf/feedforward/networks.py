"""The one-pass generators, in plain `keras.layers` / `keras.ops` (any Keras backend: TensorFlow, JAX, torch).

- `JohnsonNet`: the image transformation network of Johnson, Alahi & Fei-Fei (2016), in the shape of
  pytorch/examples' `transformer_net.py`: 9×9 conv 32, stride-2 convs 64 and 128, five residual blocks of
  128, two nearest-upsample + conv stages (no transposed convolutions, hence no checkerboards; Odena et al.
  2016), a 9×9 conv to RGB. Instance normalisation (Ulyanov, Vedaldi & Lempitsky 2016) everywhere but the
  last conv, reflection padding in every conv. `width` scales every channel count (0.5 -> 16 … 64).
- `TextureNet`: Ulyanov et al.'s (2016) multi-scale generator: at each of `scales` resolutions (full, 1/2,
  1/4 …) uniform noise, optionally concatenated with the photo downsampled to that scale, goes through a
  conv block; blocks are joined coarse to fine (upsample the coarser result, normalise both, concatenate,
  conv block); a 1×1 conv makes RGB. With `photo=False` it synthesises a texture of any size from noise
  alone (the input is then only read for its shape).

Both take (B, H, W, 3) RGB in [0, 1] of any size from `model.min_size` up: the input is reflection-padded
to a multiple of the network's total stride and the output cropped back. Both end in a sigmoid, so the
output is in [0, 1].
Departure from Johnson et al.: their output layer is a scaled tanh on mean-subtracted pixels; a sigmoid on
[0, 1] pixels is the same map up to an affine change of units.

`named_weights(model)` lists the weights under stable, framework-free names (`conv1.conv.kernel`, …),
which the PyTorch twin (`nst_tf.twin.johnson_torch`) loads.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from nst_tf.feedforward.settings import GENERATORS  # the names live with the settings


def channels(base: int, width: float) -> int:
    """A layer's channel count under the width multiplier: at least 1."""
    return max(1, int(round(base * width)))


class ReflectionPad(layers.Layer):
    """Pad H and W by `pad` pixels on each side, mirroring the border (no edge repeated)."""

    def __init__(self, pad: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pad = int(pad)

    def call(self, x):
        p = self.pad
        return ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect") if p else x


def moments(x):
    """Each picture's per-channel mean and variance of float32 maps (B, H, W, C), and the centred maps.

    Every row is summed in float32 (at most W terms, vectorised across the channels), the row sums in
    float64. A plain float32 mean over a whole map is far less exact: TensorFlow's `reduce_mean` of a
    768 × 1024 channel is off by 8e-6 of the mean and the variance by 4e-5 (measured), this by 4e-8 and 1e-8,
    and it runs no slower. The variance is taken about the mean rounded to float32, i.e. of the centred maps
    the norm then scales (the PyTorch twin, `nst_tf.twin.norms`, computes the very same sums).

    Returns:
        mean (B, 1, 1, C) float64, centred maps x − mean (float32, x's shape), variance (B, 1, 1, C) float64.
    """
    shape = ops.shape(x)
    count = ops.cast(shape[1] * shape[2], "float64")
    mean = ops.sum(ops.cast(ops.sum(x, axis=2, keepdims=True), "float64"), axis=1, keepdims=True) / count
    centred = x - ops.cast(mean, "float32")
    squares = ops.cast(ops.sum(ops.square(centred), axis=2, keepdims=True), "float64")
    return mean, centred, ops.sum(squares, axis=1, keepdims=True) / count


def normalize(centred, variance, scale, offset, epsilon: float):
    """centred · scale/√(variance + ε) + offset, the per-channel factor computed in float64 and rounded once."""
    factor = ops.cast(ops.cast(scale, "float64") / ops.sqrt(variance + epsilon), "float32")
    return centred * factor + ops.cast(offset, "float32")


class InstanceNorm(layers.Layer):
    """Instance normalisation: each picture's channels to zero mean and unit variance over H, W; then a
    learned per-channel scale and offset. Statistics in float32 and float64 (`moments`) even under a
    bfloat16 policy."""

    def __init__(self, epsilon: float = 1e-5, **kwargs) -> None:
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape) -> None:
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")
        self.offset = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="offset")

    def call(self, x):
        _, centred, variance = moments(ops.cast(x, "float32"))
        out = normalize(centred, variance, self.scale, self.offset, self.epsilon)
        return ops.cast(out, self.compute_dtype)


class ConvLayer(layers.Layer):
    """Reflection pad k//2, then a k×k convolution with the given stride; optionally instance norm + ReLU."""

    def __init__(self, filters: int, kernel: int, stride: int = 1, norm_relu: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pad = ReflectionPad(kernel // 2, name="pad")
        self.conv = layers.Conv2D(filters, kernel, strides=stride, padding="valid", name="conv")
        self.norm = InstanceNorm(name="norm") if norm_relu else None

    def call(self, x):
        x = self.conv(self.pad(x))
        return ops.relu(self.norm(x)) if self.norm is not None else x


class ResidualBlock(layers.Layer):
    """x + IN(conv(ReLU(IN(conv(x))))): two 3×3 convs, no ReLU after the sum (Gross & Wilber 2016)."""

    def __init__(self, filters: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.conv1 = ConvLayer(filters, 3, name="conv1")
        self.conv2 = ConvLayer(filters, 3, norm_relu=False, name="conv2")
        self.norm2 = InstanceNorm(name="norm2")

    def call(self, x):
        return x + self.norm2(self.conv2(self.conv1(x)))


class UpsampleConv(layers.Layer):
    """Nearest-neighbour ×2 upsampling, then ConvLayer (instead of a transposed convolution)."""

    def __init__(self, filters: int, kernel: int = 3, **kwargs) -> None:
        super().__init__(**kwargs)
        self.up = layers.UpSampling2D(2, interpolation="nearest", name="up")
        self.conv = ConvLayer(filters, kernel, name="conv")

    def call(self, x):
        return self.conv(self.up(x))


def _pad_to_multiple(x, multiple: int):
    """Reflection-pad H and W at the bottom/right up to a multiple; returns the padded tensor and (H, W)."""
    shape = ops.shape(x)
    height, width = shape[1], shape[2]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    return ops.pad(x, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], mode="reflect"), (height, width)


class JohnsonNet(keras.Model):
    """Johnson et al.'s transformation network; `model(images)` -> stylized images, same size, in [0, 1]."""

    stride = 4  # two stride-2 convolutions
    min_size = 8  # the 3×3 reflection pads need ≥ 2 px at 1/4 scale

    def __init__(self, width: float = 1.0, residual_blocks: int = 5, **kwargs) -> None:
        super().__init__(**kwargs)
        self.width = float(width)
        self.residual_blocks = int(residual_blocks)
        c32, c64, c128 = channels(32, width), channels(64, width), channels(128, width)
        self.conv1 = ConvLayer(c32, 9, name="conv1")
        self.conv2 = ConvLayer(c64, 3, stride=2, name="conv2")
        self.conv3 = ConvLayer(c128, 3, stride=2, name="conv3")
        self.res = [ResidualBlock(c128, name=f"res{i + 1}") for i in range(self.residual_blocks)]
        self.up1 = UpsampleConv(c64, name="up1")
        self.up2 = UpsampleConv(c32, name="up2")
        self.out = ConvLayer(3, 9, norm_relu=False, name="out")

    def call(self, images):
        x, (height, width) = _pad_to_multiple(images, self.stride)
        x = self.conv3(self.conv2(self.conv1(x)))
        for block in self.res:
            x = block(x)
        x = self.out(self.up2(self.up1(x)))
        x = ops.sigmoid(ops.cast(x, "float32"))
        return x[:, :height, :width, :]

    def get_config(self) -> dict:
        return {"width": self.width, "residual_blocks": self.residual_blocks, "name": self.name}


class _ScaleBlock(layers.Layer):
    """Ulyanov's conv block: 3×3, 3×3, 1×1 convs, each followed by instance norm and LeakyReLU(0.01)."""

    def __init__(self, filters: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.convs = [ConvLayer(filters, k, norm_relu=False, name=f"conv{i + 1}") for i, k in enumerate((3, 3, 1))]
        self.norms = [InstanceNorm(name=f"norm{i + 1}") for i in range(3)]

    def call(self, x):
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = ops.leaky_relu(norm(conv(x)), negative_slope=0.01)
        return x


class TextureNet(keras.Model):
    """Ulyanov et al.'s multi-scale generator: noise (and the photo) at `scales` resolutions, coarse to fine.

    Args:
        scales: number of resolutions (5 or 6 in the paper); the input is padded to a multiple of 2**(scales-1).
        width: channel multiplier; each scale's block has 8·width channels (the paper's 8).
        photo: concatenate the photo to each scale's noise (stylization); False: noise alone (texture).
        noise_channels: channels of uniform noise per scale.
        seed: seed of the noise generator (a fresh draw on every call).
    """

    def __init__(
        self, scales: int = 5, width: float = 1.0, photo: bool = True, noise_channels: int = 3, seed: int = 0, **kw
    ) -> None:
        super().__init__(**kw)
        self.scales, self.width, self.photo = int(scales), float(width), bool(photo)
        self.noise_channels, self.seed = int(noise_channels), int(seed)
        self.stride = 2 ** (self.scales - 1)
        self.min_size = 2 * self.stride  # the coarsest scale needs ≥ 2 px for its 3×3 reflection pads
        base = channels(8, width)
        self.noise = keras.random.SeedGenerator(self.seed, name="noise")
        self.blocks = [_ScaleBlock(base, name=f"scale{k}") for k in range(self.scales)]
        # Join k merges the running (coarser) result, upsampled, with scale k's block output.
        self.join_norms = [
            (InstanceNorm(name=f"join{k}_a"), InstanceNorm(name=f"join{k}_b")) for k in range(1, self.scales)
        ]
        self.join_blocks = [_ScaleBlock(base * (k + 1), name=f"join{k}") for k in range(1, self.scales)]
        self.to_rgb = layers.Conv2D(3, 1, name="to_rgb")
        self.up = layers.UpSampling2D(2, interpolation="nearest", name="up")

    def noise_for(self, padded) -> list:
        """A fresh draw of the noise for a padded (B, H, W, ·) input: one (B, H/2**level, W/2**level,
        noise_channels) tensor per level, finest first, drawn coarsest first (the order `call` draws in)."""
        shape = ops.shape(padded)
        drawn = {}
        for level in range(self.scales - 1, -1, -1):
            size = (shape[0], shape[1] // 2**level, shape[2] // 2**level, self.noise_channels)
            drawn[level] = keras.random.uniform(size, seed=self.noise, dtype=self.compute_dtype)
        return [drawn[level] for level in range(self.scales)]

    def _scale_input(self, photo, level: int, noise):
        """The level's noise, with the photo average-pooled to 1/2**level of the padded size when `photo`."""
        small = photo
        for _ in range(level):
            small = ops.average_pool(small, 2, strides=2, padding="valid")
        return ops.concatenate([ops.cast(small, self.compute_dtype), noise], axis=-1) if self.photo else noise

    def call(self, images, noise=None):
        """Stylized (or synthesised) pictures; `noise`: `noise_for(padded input)`'s list, else a fresh draw
        (a comparison hands another implementation the same noise: nst_tf.parity.one_pass)."""
        x, (height, width) = _pad_to_multiple(images, self.stride)
        noise = self.noise_for(x) if noise is None else noise
        coarsest = self.scales - 1
        running = self.blocks[coarsest](self._scale_input(x, coarsest, noise[coarsest]))
        for level in range(coarsest - 1, -1, -1):
            k = coarsest - level  # join index 1 … scales-1, coarse to fine
            norm_a, norm_b = self.join_norms[k - 1]
            here = self.blocks[level](self._scale_input(x, level, noise[level]))
            running = self.join_blocks[k - 1](ops.concatenate([norm_a(self.up(running)), norm_b(here)], axis=-1))
        out = ops.sigmoid(ops.cast(self.to_rgb(running), "float32"))
        return out[:, :height, :width, :]

    def get_config(self) -> dict:
        return {
            "scales": self.scales,
            "width": self.width,
            "photo": self.photo,
            "noise_channels": self.noise_channels,
            "seed": self.seed,
            "name": self.name,
        }


def build_generator(kind: str, width: float = 1.0, seed: int = 0, build_size: int = 64) -> keras.Model:
    """A built generator ("johnson", "texture-net" = noise + photo, "texture" = noise alone)."""
    if kind == "johnson":
        model = JohnsonNet(width=width, name="johnson")
    elif kind in ("texture-net", "texture"):
        model = TextureNet(width=width, photo=kind == "texture-net", seed=seed, name=kind.replace("-", "_"))
    else:
        raise ValueError(f"unknown generator {kind!r}; choose one of {', '.join(GENERATORS)}")
    model(ops.zeros((1, build_size, build_size, 3)))  # creates the variables
    return model


def named_weights(model: keras.Model) -> dict:
    """{stable name: numpy array}, names from the layer paths without the model's own name.

    Example: "res1/conv1/conv/kernel" -> "res1.conv1.conv.kernel". Framework-free (numpy), for the twin.
    """
    prefix = model.name + "/"
    out = {}
    for variable in model.weights:
        path = variable.path
        path = path[len(prefix) :] if path.startswith(prefix) else path
        out[path.replace("/", ".")] = keras.ops.convert_to_numpy(variable)
    return out
