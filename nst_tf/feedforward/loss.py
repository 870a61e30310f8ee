"""The perceptual loss of Johnson, Alahi & Fei-Fei (2016), batched: one style, a batch of photos.

For photos x (B, H, W, 3), outputs y = f(x) and a style picture s, with φ_l the frozen VGG16 features:

- content   J_c = 1/(4·n_H·n_W·n_C) · Σ (φ_c(y) − φ_c(x))², per picture, averaged over the batch
- style     J_s = Σ_l λ_l · 1/(4·n_C²·(n_H·n_W)²) · Σ (G_l(y) − Ĝ_l(s))², per picture, averaged over the batch
- tv        J_tv = mean squared neighbour difference of y
- total     J = α·J_c + β·J_s + γ·J_tv

The normalisations are the project's (DESIGN.md §2, `nst_tf.losses.costs`), per picture, so α, β, γ mean
what they mean for the optimisation route. Departure from Gatys: Ĝ_l(s) is the style picture's Gram
*per position*, rescaled to the training crop's n_H·n_W (the style picture has its own size), as in
`nst_tf.losses.costs.layer_style_cost(style_positions=...)`.

`batched_gram` is written here because `nst_tf.losses.costs.gram_matrix` is per picture (1, H, W, C); when
the core helper's batched Gram lands in costs.py this one can be replaced by it (same numbers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import tensorflow as tf

from nst_tf.vgg.extractor import FeatureExtractor

# Johnson et al.'s layers, in VGG16's Keras names (relu3_3 = block3_conv3 after its ReLU, and so on).
CONTENT_LAYER = "block3_conv3"
STYLE_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3")


def batched_gram(features: tf.Tensor) -> tf.Tensor:
    """G = Aᵀ·A per picture: (B, n_H, n_W, n_C) -> (B, n_C, n_C), in float32."""
    features = tf.cast(features, tf.float32)
    shape = tf.shape(features)
    unrolled = tf.reshape(features, [shape[0], shape[1] * shape[2], shape[3]])  # (B, n_H·n_W, n_C)
    return tf.matmul(unrolled, unrolled, transpose_a=True)


def _positions_channels(features: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    shape = tf.shape(features)
    return tf.cast(shape[1] * shape[2], tf.float32), tf.cast(shape[3], tf.float32)


@dataclass(frozen=True)
class LossWeights:
    """α (content), β (style), γ (total variation) and the style layers' λ (equal by default)."""

    content: float
    style: float
    tv: float


class PerceptualLoss:
    """Callable `loss(photos, outputs) -> {"total", "content", "style", "tv"}` (scalars, float32).

    Args:
        extractor: frozen VGG returning at least `content_layer` and `style_layers`.
        style_image: (1, h, w, 3) RGB in [0, 1]; its Grams are computed once, here.
        weights: α, β, γ.
        content_layer: None for texture synthesis (no content term).
        style_layers: {layer: λ}.
    """

    def __init__(
        self,
        extractor: FeatureExtractor,
        style_image: tf.Tensor,
        weights: LossWeights,
        content_layer: str | None = CONTENT_LAYER,
        style_layers: Mapping[str, float] | None = None,
    ) -> None:
        self.extractor = extractor
        self.weights = weights
        self.content_layer = content_layer
        self.style_layers = dict(style_layers or {name: 1.0 / len(STYLE_LAYERS) for name in STYLE_LAYERS})
        features = extractor(tf.convert_to_tensor(style_image, tf.float32))
        # Per-position Grams of the style picture, (1, C, C) each: Ĝ = G / (n_H·n_W).
        self.style_grams = {
            name: batched_gram(features[name]) / _positions_channels(features[name])[0] for name in self.style_layers
        }

    def __call__(self, photos: tf.Tensor, outputs: tf.Tensor) -> dict[str, tf.Tensor]:
        generated = self.extractor(outputs)
        style = tf.add_n([lam * self._layer_style(name, generated[name]) for name, lam in self.style_layers.items()])
        content = tf.constant(0.0)
        if self.content_layer is not None:
            target = tf.stop_gradient(self.extractor(photos)[self.content_layer])
            content = self._content(target, generated[self.content_layer])
        tv = total_variation(outputs)
        w = self.weights
        total = w.content * content + w.style * style + w.tv * tv
        return {"total": total, "content": content, "style": style, "tv": tv}

    def _layer_style(self, name: str, features: tf.Tensor) -> tf.Tensor:
        positions, channels = _positions_channels(features)
        gram = batched_gram(features)  # (B, C, C)
        diff = gram - self.style_grams[name] * positions
        per_picture = tf.reduce_sum(tf.square(diff), axis=[1, 2]) / (4.0 * tf.square(channels * positions))
        return tf.reduce_mean(per_picture)

    @staticmethod
    def _content(target: tf.Tensor, features: tf.Tensor) -> tf.Tensor:
        positions, channels = _positions_channels(features)
        diff = tf.cast(features, tf.float32) - tf.cast(target, tf.float32)
        return tf.reduce_mean(tf.reduce_sum(tf.square(diff), axis=[1, 2, 3])) / (4.0 * positions * channels)


def total_variation(images: tf.Tensor) -> tf.Tensor:
    """mean((x[i+1, j] − x[i, j])²) + mean((x[i, j+1] − x[i, j])²) over a batch (B, H, W, 3)."""
    images = tf.cast(images, tf.float32)
    down = images[:, 1:, :, :] - images[:, :-1, :, :]
    right = images[:, :, 1:, :] - images[:, :, :-1, :]
    return tf.reduce_mean(tf.square(down)) + tf.reduce_mean(tf.square(right))
