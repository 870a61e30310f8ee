"""The costs of neural style transfer as pure functions on tensors (Gatys, Ecker, Bethge 2015).

No globals and no Python-side shapes: every normalisation comes from `tf.shape` of the tensors given, so
the functions work inside a `tf.function` whose height and width are unknown at trace time. Feature maps
are (1, n_H, n_W, n_C); images are (1, H, W, 3) RGB in [0, 1].

The course notebooks' graded functions, with their own argument conventions, live in `nst_tf.losses.course`;
these are the engine's versions, which take precomputed Gram targets (computed once per run).
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf


def _positions_and_channels(features: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(n_H·n_W, n_C) of a (1, n_H, n_W, n_C) tensor, as float scalars of its dtype."""
    shape = tf.shape(features)
    return tf.cast(shape[1] * shape[2], features.dtype), tf.cast(shape[3], features.dtype)


def content_cost(content_features: tf.Tensor, generated_features: tf.Tensor) -> tf.Tensor:
    """J_content = 1/(4·n_H·n_W·n_C) · Σ (a_C − a_G)².

    Args:
        content_features: a_C, (1, n_H, n_W, n_C) activations of the content picture.
        generated_features: a_G, the same layer's activations of the generated picture.

    Returns:
        A scalar tensor.
    """
    positions, channels = _positions_and_channels(generated_features)
    return tf.reduce_sum(tf.square(content_features - generated_features)) / (4.0 * positions * channels)


@tf.custom_gradient
def _symmetric_gram(unrolled: tf.Tensor):
    """AᵀA of an (n, C) matrix, with its gradient as one matmul: dJ/dA = A·(dG + dGᵀ).

    TensorFlow's own gradient of matmul(A, A, transpose_a=True) spends two matmuls, A·dGᵀ and A·dG, one per
    operand; G is symmetric in A, so their sum is one matmul of A with the symmetrised upstream gradient.
    The forward value is the same matmul as before.
    """

    def gradient(upstream: tf.Tensor) -> tf.Tensor:
        return tf.matmul(unrolled, upstream + tf.transpose(upstream))

    return tf.matmul(unrolled, unrolled, transpose_a=True), gradient


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """G = Aᵀ·A, with A the (n_H·n_W, n_C) unrolled activations: (1, n_H, n_W, n_C) -> (n_C, n_C).

    Its gradient is dJ/dA = A·(dG + dGᵀ), one matmul (see `_symmetric_gram`), in any float dtype, inside a
    `tf.function` with unknown height and width, and under XLA.
    """
    channels = tf.shape(features)[-1]
    unrolled = tf.reshape(features, [-1, channels])  # (n_H·n_W, n_C)
    return _symmetric_gram(unrolled)


def layer_style_cost(
    style_gram: tf.Tensor, generated_features: tf.Tensor, style_positions: tf.Tensor | float | None = None
) -> tf.Tensor:
    """J_style[l] = 1/(4·n_C²·(n_H·n_W)²) · Σ (G_S − G_G)².

    Args:
        style_gram: G_S, the (n_C, n_C) Gram matrix of the style picture at this layer.
        generated_features: a_G, (1, n_H, n_W, n_C) activations of the generated picture.
        style_positions: n_H·n_W of the style picture at this layer, when it differs from the generated
            picture's. Departure from the paper, which assumes equal sizes: G_S is then rescaled by
            (n_H·n_W)_G / (n_H·n_W)_S, i.e. the two Grams are compared per position. With equal sizes
            (or None) this is exactly the formula above.

    Returns:
        A scalar tensor.
    """
    positions, channels = _positions_and_channels(generated_features)
    generated_gram = gram_matrix(generated_features)
    if style_positions is not None:
        style_gram = style_gram * (positions / tf.cast(style_positions, generated_features.dtype))
    return tf.reduce_sum(tf.square(style_gram - generated_gram)) / (4.0 * tf.square(channels * positions))


def style_cost(
    style_grams: Mapping[str, tf.Tensor],
    generated_features: Mapping[str, tf.Tensor],
    layer_weights: Mapping[str, float],
    style_positions: Mapping[str, tf.Tensor | float] | None = None,
) -> tf.Tensor:
    """J_style = Σ_l λ_l · J_style[l] over the layers in `layer_weights`.

    Args:
        style_grams: {layer: G_S}.
        generated_features: {layer: a_G}.
        layer_weights: {layer: λ_l}.
        style_positions: {layer: n_H·n_W of the style picture}, see `layer_style_cost`.
    """
    terms = []
    for layer, weight in layer_weights.items():
        positions = None if style_positions is None else style_positions[layer]
        terms.append(weight * layer_style_cost(style_grams[layer], generated_features[layer], positions))
    return tf.add_n(terms)  # in the features' own dtype (float32, float64 ...)


def total_variation_cost(image: tf.Tensor) -> tf.Tensor:
    """J_tv = mean((x[i+1, j] − x[i, j])²) + mean((x[i, j+1] − x[i, j])²) over a (1, H, W, 3) image.

    Squared neighbour differences, averaged (not summed) so that γ means the same at every picture size.
    Not part of the course recipes; it smooths high-frequency noise (Mahendran & Vedaldi 2015).
    """
    down = image[:, 1:, :, :] - image[:, :-1, :, :]
    right = image[:, :, 1:, :] - image[:, :, :-1, :]
    return tf.reduce_mean(tf.square(down)) + tf.reduce_mean(tf.square(right))


def total_cost(
    content: tf.Tensor | float,
    style: tf.Tensor | float,
    tv: tf.Tensor | float = 0.0,
    alpha: float = 10.0,
    beta: float = 40.0,
    gamma: float = 0.0,
) -> tf.Tensor:
    """J = α·J_content + β·J_style + γ·J_tv."""
    return alpha * content + beta * style + gamma * tv
