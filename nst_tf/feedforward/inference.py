"""A faster TensorFlow forward pass of `JohnsonNet`: the same function of the same weights, computed differently.

The Keras network (`nst_tf.feedforward.networks`) is written for clarity and any Keras backend; on a CPU its
forward pass spends most of its time in a few places that oneDNN serves badly (timed layer by layer at
768×1024 px, width 0.25: the 9×9 convolutions took 42% of it): the two 9×9 convolutions with 3 input or
3 output channels, `MirrorPad` and nearest upsampling at full resolution, and instance norm as a chain of
separate passes.
`JohnsonForward(model)` computes the same picture another way:

- a 9×9 convolution runs on `space_to_depth(4)` blocks as a 3×3 convolution with 16× the channels (a kernel
  rearranged from the original, zeros where a block offset falls outside the 9×9 window), then
  `depth_to_space(4)`: 48 → 128 channels instead of 3 → 8, which oneDNN runs several times faster;
- nearest ×2 upsampling + reflection pad 1 + 3×3 convolution is one 3×3 convolution at the low resolution
  with 4× the output channels (one per output phase, taps summed where upsampled rows coincide), after an
  edge-replicating pad of 1, then `depth_to_space(2)`: no full-resolution upsampled or padded copy;
- reflection pads are slices and concatenations (cheaper than `MirrorPad` here);
- instance norm is one statistics pass (`networks.moments`, as the Keras layer) and one multiply-add, and
  the bias of a convolution that instance norm follows is skipped (the mean subtraction cancels it exactly).

Transformed kernels are made from the model's variables on every call (tiny tensors), so the pass follows the
weights if they change. Outputs equal the Keras model's to about 1e-6 (summation order); tests assert 1e-5.
Only float32 networks are served (`supports`); anything else goes through the Keras model.

`compute_dtype="bfloat16"` (what `--precision auto` picks on a CPU with AMX, nst_tf.perf.precision) runs
every convolution in bfloat16 (inputs and the transformed kernels rounded once; oneDNN sums in float32) and
hands its output back as float32: instance norm's statistics, the residual sums, the activations between
layers and the final sigmoid stay float32, so rounding enters only at each convolution's operands.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from nst_tf.feedforward.networks import ConvLayer, InstanceNorm, JohnsonNet, ResidualBlock, moments, normalize

BLOCK = 4  # space-to-depth block of the 9×9 convolutions: 9×9 becomes 3×3 on 16× the channels


def supports(model: keras.Model) -> bool:
    """True when `JohnsonForward` computes this model: a JohnsonNet computing in float32."""
    return isinstance(model, JohnsonNet) and model.compute_dtype == "float32"


def reflect_pad(x: tf.Tensor, pad: int) -> tf.Tensor:
    """Reflection pad of H and W by `pad` (no edge repeated), as slices and concatenations."""
    if pad == 0:
        return x
    for axis in (1, 2):
        size = tf.shape(x)[axis]
        before = tf.reverse(_slice(x, axis, 1, pad + 1), [axis])
        after = tf.reverse(_slice(x, axis, size - pad - 1, size - 1), [axis])
        x = tf.concat([before, x, after], axis=axis)
    return x


def _slice(x: tf.Tensor, axis: int, start, stop) -> tf.Tensor:
    return x[:, start:stop] if axis == 1 else x[:, :, start:stop]


def _block_taps(kernel_size: int, block: int) -> np.ndarray:
    """Index of the original tap (row-major, kernel_size² = "no tap") feeding each entry of the block kernel.

    Shape (kk, kk, block, block, block, block) over (A, B, r_in, q_in, r_out, q_out): output pixel
    (block·I + r_out, block·J + q_out) reads input block (I + A, J + B) at offset (r_in, q_in), i.e. the
    original tap (block·A + r_in − r_out, block·B + q_in − q_out) when it lies inside the window.
    """
    kk = (kernel_size + 2 * (block - 1)) // block
    a = block * np.arange(kk)[:, None, None] + np.arange(block)[None, :, None] - np.arange(block)[None, None, :]
    valid = (a >= 0) & (a < kernel_size)  # (kk, r_in, r_out)
    rows = np.where(valid, a, 0)
    index = rows[:, None, :, None, :, None] * kernel_size + rows[None, :, None, :, None, :]
    inside = valid[:, None, :, None, :, None] & valid[None, :, None, :, None, :]
    return np.where(inside, index, kernel_size * kernel_size).astype(np.int32)


def block_kernel(kernel: tf.Tensor, block: int) -> tf.Tensor:
    """(k, k, ci, co) stride-1 kernel -> (kk, kk, block²·ci, block²·co) kernel on space_to_depth(block) input."""
    k, _, ci, co = kernel.shape
    taps = tf.concat([tf.reshape(kernel, (k * k, ci, co)), tf.zeros((1, ci, co), kernel.dtype)], axis=0)
    index = _block_taps(k, block)
    kk = index.shape[0]
    big = tf.gather(taps, index)  # (kk, kk, r_in, q_in, r_out, q_out, ci, co)
    big = tf.transpose(big, (0, 1, 2, 3, 6, 4, 5, 7))  # channels in depth_to_space order: (r, q, c)
    return tf.reshape(big, (kk, kk, block * block * ci, block * block * co))


def convolve(x: tf.Tensor, kernel: tf.Tensor, stride: int, padding: str, dtype: tf.DType = tf.float32) -> tf.Tensor:
    """conv2d in `dtype` (operands rounded to it), the result as float32; a no-op cast for float32."""
    y = tf.nn.conv2d(tf.cast(x, dtype), tf.cast(kernel, dtype), stride, padding)
    return tf.cast(y, tf.float32)


def block_conv(x: tf.Tensor, kernel: tf.Tensor, block: int = BLOCK, dtype: tf.DType = tf.float32) -> tf.Tensor:
    """VALID stride-1 convolution of x (H and W such that H − k + 1 is a multiple of `block`) on blocks."""
    k = kernel.shape[0]
    kk = (k + 2 * (block - 1)) // block
    # Pad (zeros, never read by a non-zero tap) so that the blocks cover the output and every tap's block.
    height, width = tf.shape(x)[1], tf.shape(x)[2]
    need_h = (height - k + 1) + block * (kk - 1)
    need_w = (width - k + 1) + block * (kk - 1)
    x = tf.pad(x, [[0, 0], [0, need_h - height], [0, need_w - width], [0, 0]])
    y = convolve(tf.nn.space_to_depth(x, block), block_kernel(kernel, block), 1, "VALID", dtype)
    return tf.nn.depth_to_space(y, block)


# Rows of the original 3×3 taps that land on low-resolution offsets −1, 0, +1 for output phase 0 and 1 of a
# nearest ×2 upsampling: phase 0 reads x[i−1] (tap 0) and x[i] (taps 1, 2); phase 1 x[i] (0, 1), x[i+1] (2).
_PHASE_TAPS = np.array(
    [[[1, 0, 0], [0, 1, 1], [0, 0, 0]], [[0, 0, 0], [1, 1, 0], [0, 0, 1]]],
    np.float32,
)


def upsample_kernel(kernel: tf.Tensor) -> tf.Tensor:
    """3×3 kernel after nearest ×2 upsampling -> (3, 3, ci, 4·co) kernel at the low resolution (phases a, b)."""
    phase = tf.constant(_PHASE_TAPS, tf.float64)
    ci, co = kernel.shape[2], kernel.shape[3]
    # Summed in float64 (up to four taps: exact) and rounded once, so the kernel does not depend on the order
    # einsum adds them in: the PyTorch twin builds the same one (nst_tf.twin.johnson_torch).
    big = tf.einsum("aud,bve,deio->uviabo", phase, phase, tf.cast(kernel, tf.float64))
    return tf.cast(tf.reshape(big, (3, 3, ci, 4 * co)), kernel.dtype)


def upsample_conv(x: tf.Tensor, kernel: tf.Tensor, dtype: tf.DType = tf.float32) -> tf.Tensor:
    """reflect_pad(upsample×2(x), 1) convolved with a 3×3 kernel, without making the upsampled picture.

    The reflected row beside an upsampled border is the border row itself, hence the edge-replicating pad.
    """
    x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
    return tf.nn.depth_to_space(convolve(x, upsample_kernel(kernel), 1, "VALID", dtype), 2)


def instance_norm(x: tf.Tensor, norm: InstanceNorm, relu: bool) -> tf.Tensor:
    """InstanceNorm as the Keras layer computes it (`moments`, `normalize`), then ReLU when asked."""
    _, centred, variance = moments(x)
    # (x − mean)·s + offset rather than x·s + (offset − mean·s): the folded form loses digits when |mean| ≫ std.
    x = normalize(centred, variance, norm.scale, norm.offset, norm.epsilon)
    return tf.nn.relu(x) if relu else x


def _conv(layer: ConvLayer, x: tf.Tensor, dtype: tf.DType, normalize=instance_norm) -> tf.Tensor:
    """A ConvLayer (3×3, stride 1 or 2) followed by its instance norm and ReLU; its bias is cancelled by the norm."""
    conv = layer.conv
    x = convolve(reflect_pad(x, layer.pad.pad), conv.kernel, conv.strides[0], "VALID", dtype)
    return normalize(x, layer.norm, True)


def _residual(block: ResidualBlock, x: tf.Tensor, dtype: tf.DType, normalize=instance_norm) -> tf.Tensor:
    """The residual branch IN(conv(ReLU(IN(conv(x))))); the second conv's bias is cancelled by `norm2`."""
    y = _conv(block.conv1, x, dtype, normalize)
    y = convolve(reflect_pad(y, block.conv2.pad.pad), block.conv2.conv.kernel, 1, "VALID", dtype)
    return normalize(y, block.norm2, False)


class JohnsonForward:
    """`JohnsonForward(model)(images)`: the JohnsonNet's output for (B, H, W, 3) float32 images, computed fast.

    Args:
        model: a float32 JohnsonNet (see `supports`).
        compute_dtype: the convolutions' arithmetic, "float32" or "bfloat16" (see the module's notes).
    """

    def __init__(self, model: JohnsonNet, compute_dtype: str = "float32") -> None:
        if not supports(model):
            raise ValueError("JohnsonForward computes float32 JohnsonNet models only")
        if compute_dtype not in ("float32", "bfloat16"):
            raise ValueError(f"compute_dtype must be float32 or bfloat16, not {compute_dtype!r}")
        self.model = model
        self.compute_dtype = compute_dtype

    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        height, width = tf.shape(images)[1], tf.shape(images)[2]
        pad_h, pad_w = (-height) % self.model.stride, (-width) % self.model.stride
        x = tf.pad(images, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], mode="REFLECT")
        return self.padded(x)[:, :height, :width, :]

    def padded(self, x: tf.Tensor, normalize=instance_norm) -> tf.Tensor:
        """The network on a picture whose sides are multiples of its stride (no padding, no cropping).

        `normalize(x, norm, relu)` does every instance norm, in the network's order (15 of them for five
        residual blocks, at scales 1, 2, 4, 4 … 4, 2, 1): `nst_tf.feedforward.tiles` passes one with
        whole-picture statistics. `head`, each `block`, then `ups` is the same
        pass in parts (`tail` = the blocks and `ups`).
        """
        return self.tail(self.head(x, normalize), normalize)

    def head(self, x: tf.Tensor, normalize=instance_norm) -> tf.Tensor:
        """The first three convolutions with their norms: the picture -> features at 1/stride scale."""
        m, dtype = self.model, tf.as_dtype(self.compute_dtype)
        x = block_conv(reflect_pad(x, m.conv1.pad.pad), m.conv1.conv.kernel, dtype=dtype)
        x = normalize(x, m.conv1.norm, True)
        return _conv(m.conv3, _conv(m.conv2, x, dtype, normalize), dtype, normalize)

    def tail(self, x: tf.Tensor, normalize=instance_norm) -> tf.Tensor:
        """The residual blocks, upsamplings and output convolution: 1/stride-scale features -> the picture."""
        for index in range(len(self.model.res)):
            x = self.block(index, x, normalize)
        return self.ups(x, normalize)

    def block(self, index: int, x: tf.Tensor, normalize=instance_norm) -> tf.Tensor:
        """Residual block `index` (its two norms)."""
        return x + _residual(self.model.res[index], x, tf.as_dtype(self.compute_dtype), normalize)

    def ups(self, x: tf.Tensor, normalize=instance_norm) -> tf.Tensor:
        """The two upsampling stages and the output convolution: 1/stride-scale features -> the picture."""
        m, dtype = self.model, tf.as_dtype(self.compute_dtype)
        for up in (m.up1, m.up2):
            x = normalize(upsample_conv(x, up.conv.conv.kernel, dtype), up.conv.norm, True)
        out = m.out.conv
        x = tf.nn.bias_add(block_conv(reflect_pad(x, m.out.pad.pad), out.kernel, dtype=dtype), out.bias)
        return tf.sigmoid(x)
