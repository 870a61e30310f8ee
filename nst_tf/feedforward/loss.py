"""The perceptual loss of Johnson, Alahi & Fei-Fei (2016), batched: one style, a batch of photos.

For photos x (B, H, W, 3), outputs y = f(x) and a style picture s, with φ_l the frozen VGG16 features
(Caffe units: 0–255 BGR minus the ImageNet means, as the weights expect) of shape (n_H, n_W, n_C):

- content   J_c = mean over (B, n_H, n_W, n_C) of (φ_c(y) − φ_c(x))²
- style     J_s = Σ_l λ_l · mean over (B, n_C, n_C) of (G_l(y) − G_l(s))², G = AᵀA / (n_H·n_W·n_C) per picture
- tv        J_tv = mean squared neighbour difference of y (pixels in [0, 1])
- total     J = α·J_c + β·J_s + γ·J_tv

These are Johnson et al.'s own normalisations (their Torch code: MSE criteria on the features and on the
Grams divided by C·H·W), not the optimisation route's (DESIGN.md §2): with the project's 1/(4·n_C²·(n_H·n_W)²)
the style layers' weights would scale with n_C², so that relu4_3 outweighs relu1_2 by 64²; Johnson's
per-layer weights (equal) and their α : β balance carry over only in their normalisation. Departure from
Johnson: the style picture's Grams are per position (size-independent), taken once at its own size.

`batched_gram` is written here because `nst_tf.losses.costs.gram_matrix` is per picture (1, H, W, C); when
the core helper's batched Gram lands in costs.py this one can be replaced by it (same numbers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import tensorflow as tf

from nst_tf.vgg.extractor import FeatureExtractor

# Johnson et al.'s layers for style transfer, in VGG16's Keras names (relu2_2 = block2_conv2 after its ReLU …).
CONTENT_LAYER = "block2_conv2"
STYLE_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3")


def batched_gram(features: tf.Tensor) -> tf.Tensor:
    """G = Aᵀ·A per picture: (B, n_H, n_W, n_C) -> (B, n_C, n_C), in float32."""
    features = tf.cast(features, tf.float32)
    shape = tf.shape(features)
    unrolled = tf.reshape(features, [shape[0], shape[1] * shape[2], shape[3]])  # (B, n_H·n_W, n_C)
    return tf.matmul(unrolled, unrolled, transpose_a=True)


def normalised_gram(features: tf.Tensor) -> tf.Tensor:
    """G / (n_H·n_W·n_C) per picture: (B, n_H, n_W, n_C) -> (B, n_C, n_C)."""
    shape = tf.shape(features)
    return batched_gram(features) / tf.cast(shape[1] * shape[2] * shape[3], tf.float32)


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
        content_extractor: VGG cut at the content layer (one output); None for texture synthesis.
        style_layers: {layer: λ} (default: Johnson's four, λ = 1 each).
    """

    def __init__(
        self,
        extractor: FeatureExtractor,
        style_image: tf.Tensor,
        weights: LossWeights,
        content_extractor: FeatureExtractor | None = None,
        style_layers: Mapping[str, float] | None = None,
    ) -> None:
        self.extractor = extractor
        self.content_extractor = content_extractor
        self.weights = weights
        self.style_layers = dict(style_layers or {name: 1.0 for name in STYLE_LAYERS})
        features = extractor(tf.convert_to_tensor(style_image, tf.float32))
        self.style_grams = {name: normalised_gram(features[name]) for name in self.style_layers}  # (1, C, C)

    def __call__(self, photos: tf.Tensor, outputs: tf.Tensor) -> dict[str, tf.Tensor]:
        generated = self.extractor(outputs)
        style = tf.add_n(
            [
                lam * tf.reduce_mean(tf.square(normalised_gram(generated[name]) - self.style_grams[name]))
                for name, lam in self.style_layers.items()
            ]
        )
        content = tf.constant(0.0)
        if self.content_extractor is not None:
            # The photos' features come from an extractor cut at the content layer (no deeper blocks run).
            ((layer, target),) = self.content_extractor(photos).items()
            diff = tf.cast(generated[layer], tf.float32) - tf.cast(tf.stop_gradient(target), tf.float32)
            content = tf.reduce_mean(tf.square(diff))
        tv = total_variation(outputs)
        w = self.weights
        total = w.content * content + w.style * style + w.tv * tv
        return {"total": total, "content": content, "style": style, "tv": tv}


def total_variation(images: tf.Tensor) -> tf.Tensor:
    """mean((x[i+1, j] − x[i, j])²) + mean((x[i, j+1] − x[i, j])²) over a batch (B, H, W, 3)."""
    images = tf.cast(images, tf.float32)
    down = images[:, 1:, :, :] - images[:, :-1, :, :]
    right = images[:, :, 1:, :] - images[:, :, :-1, :]
    return tf.reduce_mean(tf.square(down)) + tf.reduce_mean(tf.square(right))
