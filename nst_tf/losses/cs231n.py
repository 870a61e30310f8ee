"""The cs231n style-transfer assignment's functions, with its signatures and conventions, on TensorFlow.

A student of the assignment (its TensorFlow notebook, `StyleTransfer-TensorFlow.ipynb`) can call these
as the notebook does and compare against their own. Feature maps are (1, H, W, C); pictures (1, H, W, 3).

- `content_loss(content_weight, content_current, content_original)` = content_weight · Σ(F − P)²
- `gram_matrix(features, normalize=True)` = FᵀF (C, C), divided by H·W·C when `normalize`
- `style_loss(feats, style_layers, style_targets, style_weights)` = Σ_l w_l · Σ(G_l − A_l)²
- `tv_loss(img, tv_weight)` = tv_weight · (Σ(x[i+1, j] − x[i, j])² + Σ(x[i, j+1] − x[i, j])²)

They are the engine's costs (`nst_tf.losses.costs`) in the conventions the `cs231n` preset names
("sum" content and style forms, "size" Gram normalisation, "sum" total variation), so the preset's runs
minimise exactly these (tests/losses/test_cs231n.py checks both on hand-computed values).
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from nst_tf.losses import costs


def content_loss(content_weight: float, content_current: tf.Tensor, content_original: tf.Tensor) -> tf.Tensor:
    """content_weight · Σ (content_current − content_original)², a scalar.

    Args:
        content_weight: scalar weight of the content loss.
        content_current: features of the current picture, (1, H, W, C).
        content_original: features of the content picture, (1, H, W, C).
    """
    return content_weight * costs.content_cost(content_original, content_current, form="sum")[0]


def gram_matrix(features: tf.Tensor, normalize: bool = True) -> tf.Tensor:
    """The Gram matrix of one picture's features, (1, H, W, C) -> (C, C), divided by H·W·C when `normalize`."""
    return costs.gram_matrix(features, "size" if normalize else "none")[0]


def style_loss(
    feats: Sequence[tf.Tensor],
    style_layers: Sequence[int],
    style_targets: Sequence[tf.Tensor],
    style_weights: Sequence[float],
) -> tf.Tensor:
    """Σ_i style_weights[i] · Σ (G_i − A_i)², G_i the normalised Gram of feats[style_layers[i]], a scalar.

    Args:
        feats: the current picture's features at every layer (a list, as `extract_features` returns).
        style_layers: indices into `feats` of the style layers.
        style_targets: the style picture's normalised Gram matrices (C_i, C_i), one per style layer.
        style_weights: one weight per style layer.
    """
    total = tf.constant(0.0, feats[style_layers[0]].dtype)
    for layer, target, weight in zip(style_layers, style_targets, style_weights, strict=True):
        gram = gram_matrix(feats[layer])
        total += weight * tf.reduce_sum(tf.square(gram - target))
    return total


def tv_loss(img: tf.Tensor, tv_weight: float) -> tf.Tensor:
    """tv_weight · (Σ of squared vertical + squared horizontal neighbour differences) of a (1, H, W, 3) picture."""
    return tv_weight * costs.total_variation_cost(img, form="sum")[0]
