"""The random feature layer and the costs: a wide, untrained 1-D convolution + ReLU over a spectrogram.

Ulyanov & Lebedev (2016) treat the log-magnitude spectrogram (frames, bins) as a picture one pixel high with
the frequency bins as channels, so one convolution along time with `filters` output channels and a kernel
`width` frames wide sees every frequency at once. Its weights are random normal with the source's scale,
std = sqrt(2) · sqrt(2 / ((bins + filters) · width)), drawn from `seed` and never trained.

With F the ReLU features (frames', filters) of the generated spectrogram, F_C the content's and
G = Fᵀ·F / frames' the Gram matrix (divided by the frame count, as in the source, so sounds of different
lengths compare):

- content cost  J_content = Σ (F − F_C)² / (frames' · filters)
- style cost    J_style   = Σ (G − G_S)² / filters²
- total         J = α · J_content + β · J_style

Departure from the source: it sums both squares (content ALPHA·Σ(F − F_C)², style Σ(G − G_S)²); here both
are means, so the weights need no retuning when the filter count or the duration changes. The source's
ALPHA = 1e-2 is α/β = 1e-2 · frames' · filters / filters² = 1e-2 · frames' / filters here (about 1e-3 for
its 430 frames and 4096 filters).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

COST_NAMES = ("total", "content", "style")


def random_kernel(bins: int, filters: int, width: int, seed: int) -> np.ndarray:
    """The untrained filter bank, (width, bins, filters) float32, with the source's initial scale."""
    std = np.sqrt(2.0) * np.sqrt(2.0 / ((bins + filters) * width))
    return (np.random.default_rng(seed).standard_normal((width, bins, filters)) * std).astype(np.float32)


def features(spectrogram: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """ReLU(conv1d(spectrogram, kernel)): (frames, bins) -> (frames - width + 1, filters) float32, 'valid'
    padding, computed in the kernel's dtype: a bfloat16 kernel convolves a bfloat16 copy of the spectrogram
    (float32 accumulation inside oneDNN) and the features come back as float32, so Grams and costs (and the
    gradient reaching the spectrogram) stay float32. For a float32 kernel both casts are no-ops."""
    x = tf.cast(spectrogram, kernel.dtype)[None]
    return tf.cast(tf.nn.relu(tf.nn.conv1d(x, kernel, stride=1, padding="VALID"))[0], tf.float32)


def gram(feature_map: tf.Tensor) -> tf.Tensor:
    """G = Fᵀ·F / frames: (frames, filters) -> (filters, filters)."""
    frames = tf.cast(tf.shape(feature_map)[0], feature_map.dtype)
    return tf.matmul(feature_map, feature_map, transpose_a=True) / frames


def content_cost(generated: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """J_content = mean over frames and filters of (F − F_C)²."""
    return tf.reduce_mean(tf.square(generated - target))


def style_cost(generated_gram: tf.Tensor, target_gram: tf.Tensor) -> tf.Tensor:
    """J_style = mean over the filters² entries of (G − G_S)²."""
    return tf.reduce_mean(tf.square(generated_gram - target_gram))


CostAndGradient = Callable[[tf.Tensor], tuple[dict[str, tf.Tensor], tf.Tensor]]


def make_cost_and_gradient(
    kernel: np.ndarray | tf.Tensor,
    content_features: np.ndarray | None,
    style_gram: np.ndarray,
    content_weight: float,
    style_weight: float,
    shape: tuple[int, int],
) -> CostAndGradient:
    """The compiled spectrogram (frames, bins) -> ({total, content, style}, d total / d spectrogram).

    Its input signature is fixed, so it is traced once per run. `content_features` None (texture mode)
    leaves the content cost at zero. A bfloat16 `kernel` makes the convolution bfloat16 (see `features`).
    """
    kernel_t = tf.convert_to_tensor(kernel)
    style_t = tf.constant(style_gram)
    content_t = None if content_features is None else tf.constant(content_features)
    alpha, beta = float(content_weight), float(style_weight)

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)])
    def cost_and_gradient(spectrogram: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(spectrogram)
            feature_map = features(spectrogram, kernel_t)
            j_style = style_cost(gram(feature_map), style_t)
            j_content = tf.zeros([]) if content_t is None else content_cost(feature_map, content_t)
            total = alpha * j_content + beta * j_style
        return {"total": total, "content": j_content, "style": j_style}, tape.gradient(total, spectrogram)

    return cost_and_gradient
