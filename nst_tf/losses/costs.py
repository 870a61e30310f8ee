"""The costs of neural style transfer as pure functions on batched tensors (Gatys, Ecker, Bethge 2015).

Every function works per picture: feature maps are (B, n_H, n_W, n_C), images (B, H, W, 3) RGB in [0, 1],
Gram matrices (B, n_C, n_C), and every cost is a (B,) vector, one value per picture, normalised by each
tensor's own shape (`tf.shape`, so they work inside a `tf.function` whose sizes are unknown at trace time).
A batch of two gives exactly the two single-picture values (tests/losses/test_costs.py). A target with batch 1
(one style's Gram, one content picture) is broadcast against a batch of generated pictures.

Each source's recipe normalises differently; `form` / `normalisation` name the convention (see `Config`):

| form | "course" (Gatys; the deep-learning course) | "mse" (PyTorch tutorial, Mastering PyTorch) | "sum" (cs231n) |
|---|---|---|---|
| content | Σ(a_C − a_G)² / (4·n_H·n_W·n_C) | mean((a_C − a_G)²) | Σ(a_C − a_G)² |
| layer style | Σ(G_S − G_G)² / (4·n_C²·(n_H·n_W)²) | mean((G_S − G_G)²) over the n_C² entries | Σ(G_S − G_G)² |

and "relative" (the default preset's): content Σ(a_C − a_G)² / Σa_C², layer style Σ(G_S − G_G)² / ΣG_S² —
each term's squared error relative to its target's own size, a departure from every source: the term is 1
for a picture whose features are all zero and 0 at the target, whatever the layer, the weights file or the
picture size, so α, β and the layer weights mean the same for any of them (the course form's style terms
span six orders of magnitude across conv1_1 … conv5_1 on ImageNet VGG16).

Gram normalisation: "none" (G = AᵀA, the course) or "size" (AᵀA / (n_H·n_W·n_C): the tutorial's
`G.div(a*b*c*d)` with a = 1 picture, Mastering PyTorch's, cs231n's `normalize=True`). Total variation:
"mean" (mean squared neighbour difference per direction, this project's) or "sum" (cs231n's Σdx² + Σdy²).

The course notebooks' graded functions, with their own argument conventions, live in
`nst_tf.losses.course`, the cs231n assignment's in `nst_tf.losses.cs231n`; these are the engine's
versions, which take precomputed Gram targets (computed once per run).
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf

# The names of the forms (CONTENT_FORMS, STYLE_FORMS, GRAM_NORMALISATIONS, TV_FORMS) live in nst_tf.config,
# which checks a run's choice before any TensorFlow is imported.
# Keeps a relative term finite when its target is all zeros (a blank picture through random weights).
_TINY = 1e-12


def _positions_and_channels(features: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(n_H·n_W, n_C) of a (B, n_H, n_W, n_C) tensor, as float scalars of its dtype."""
    shape = tf.shape(features)
    return tf.cast(shape[1] * shape[2], features.dtype), tf.cast(shape[3], features.dtype)


def _per_picture_sum(values: tf.Tensor) -> tf.Tensor:
    """Σ over every axis but the first: (B, ...) -> (B,), as one contiguous row per picture."""
    return tf.reduce_sum(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


def content_cost(content_features: tf.Tensor, generated_features: tf.Tensor, form: str = "course") -> tf.Tensor:
    """J_content per picture; "course": 1/(4·n_H·n_W·n_C) · Σ (a_C − a_G)² (see the module's table).

    Args:
        content_features: a_C, (1 or B, n_H, n_W, n_C) activations of the content picture(s).
        generated_features: a_G, (B, n_H, n_W, n_C), the same layer's activations of the generated pictures.
        form: "course", "mse", "sum" or "relative".

    Returns:
        A (B,) tensor.
    """
    positions, channels = _positions_and_channels(generated_features)
    total = _per_picture_sum(tf.square(content_features - generated_features))
    if form == "sum":
        return total
    if form == "relative":
        return total / tf.maximum(_per_picture_sum(tf.square(content_features)), _TINY)
    if form == "mse":
        return total / (positions * channels)
    return total / (4.0 * positions * channels)


@tf.custom_gradient
def _symmetric_gram(unrolled: tf.Tensor):
    """AᵀA per picture of a (B, n, C) tensor, with its gradient as one matmul: dJ/dA = A·(dG + dGᵀ).

    TensorFlow's own gradient of matmul(A, A, transpose_a=True) spends two matmuls, A·dGᵀ and A·dG, one per
    operand; G is symmetric in A, so their sum is one matmul of A with the symmetrised upstream gradient.
    """

    def gradient(upstream: tf.Tensor) -> tf.Tensor:
        return tf.matmul(unrolled, upstream + tf.linalg.matrix_transpose(upstream))

    return tf.matmul(unrolled, unrolled, transpose_a=True), gradient


def gram_matrix(features: tf.Tensor, normalisation: str = "none") -> tf.Tensor:
    """G = Aᵀ·A per picture, A the (n_H·n_W, n_C) unrolled activations: (B, n_H, n_W, n_C) -> (B, n_C, n_C).

    Args:
        features: the activations.
        normalisation: "none" (AᵀA, the course) or "size" (AᵀA / (n_H·n_W·n_C), the PyTorch recipes').

    Its gradient is one matmul (see `_symmetric_gram`), in any float dtype, inside a `tf.function` with
    unknown height and width, and under XLA.
    """
    shape = tf.shape(features)
    unrolled = tf.reshape(features, [shape[0], -1, shape[3]])  # (B, n_H·n_W, n_C)
    gram = _symmetric_gram(unrolled)
    if normalisation == "size":
        positions, channels = _positions_and_channels(features)
        gram = gram / (positions * channels)
    return gram


def layer_style_cost(
    style_gram: tf.Tensor,
    generated_features: tf.Tensor,
    style_positions: tf.Tensor | float | None = None,
    form: str = "course",
    normalisation: str = "none",
) -> tf.Tensor:
    """J_style[l] per picture; "course": 1/(4·n_C²·(n_H·n_W)²) · Σ (G_S − G_G)² (see the module's table).

    Args:
        style_gram: G_S, (1 or B, n_C, n_C), the style picture's Gram at this layer (same normalisation).
        generated_features: a_G, (B, n_H, n_W, n_C) activations of the generated pictures.
        style_positions: n_H·n_W of the style picture at this layer, when it differs from the generated
            picture's. Departure from the paper, which assumes equal sizes: a raw G_S (normalisation "none")
            is then rescaled by (n_H·n_W)_G / (n_H·n_W)_S, i.e. the two Grams are compared per position. With
            equal sizes (or None), or Grams already divided by their size, this changes nothing.
        form: "course", "mse", "sum" or "relative".
        normalisation: the Grams' normalisation, "none" or "size".

    Returns:
        A (B,) tensor.
    """
    positions, channels = _positions_and_channels(generated_features)
    generated_gram = gram_matrix(generated_features, normalisation)
    return gram_style_cost(style_gram, generated_gram, positions, channels, style_positions, form, normalisation)


def gram_style_cost(
    style_gram: tf.Tensor,
    generated_gram: tf.Tensor,
    positions: tf.Tensor,
    channels: tf.Tensor,
    style_positions: tf.Tensor | float | None = None,
    form: str = "course",
    normalisation: str = "none",
) -> tf.Tensor:
    """`layer_style_cost` from the generated picture's Gram G_G (taken over `positions` = n_H·n_W, `channels`
    = n_C) rather than its features: the tiled step (nst_tf.optim.tiled) sums G_G over tiles first."""
    if style_positions is not None and normalisation == "none":
        style_gram = style_gram * (positions / tf.cast(style_positions, generated_gram.dtype))
    total = _per_picture_sum(tf.square(style_gram - generated_gram))
    if form == "sum":
        return total
    if form == "relative":
        return total / tf.maximum(_per_picture_sum(tf.square(style_gram)), _TINY)
    if form == "mse":
        return total / tf.square(channels)
    return total / (4.0 * tf.square(channels * positions))


def style_cost(
    style_grams: Mapping[str, tf.Tensor],
    generated_features: Mapping[str, tf.Tensor],
    layer_weights: Mapping[str, float],
    style_positions: Mapping[str, tf.Tensor | float] | None = None,
    form: str = "course",
    normalisation: str = "none",
) -> tf.Tensor:
    """J_style = Σ_l λ_l · J_style[l] over the layers in `layer_weights`, per picture: (B,).

    Args:
        style_grams: {layer: G_S}.
        generated_features: {layer: a_G}.
        layer_weights: {layer: λ_l}.
        style_positions: {layer: n_H·n_W of the style picture}, see `layer_style_cost`.
        form, normalisation: the conventions, see `layer_style_cost`.
    """
    terms = []
    for layer, weight in layer_weights.items():
        positions = None if style_positions is None else style_positions[layer]
        cost = layer_style_cost(style_grams[layer], generated_features[layer], positions, form, normalisation)
        terms.append(weight * cost)
    return tf.add_n(terms)  # in the features' own dtype (float32, float64 ...)


def total_variation_cost(image: tf.Tensor, form: str = "mean") -> tf.Tensor:
    """J_tv per picture of a (B, H, W, 3) image: (B,).

    "mean": mean((x[i+1, j] − x[i, j])²) + mean((x[i, j+1] − x[i, j])²), averaged (not summed) so that γ
    means the same at every picture size; not part of the course recipes, it smooths high-frequency
    noise (Mahendran & Vedaldi 2015). "sum": Σ of the same squares, cs231n's `tv_loss` without its weight.
    """
    down = tf.square(image[:, 1:, :, :] - image[:, :-1, :, :])
    right = tf.square(image[:, :, 1:, :] - image[:, :, :-1, :])
    if form == "sum":
        return _per_picture_sum(down) + _per_picture_sum(right)
    count = tf.shape(image)[0]
    down_mean = tf.reduce_mean(tf.reshape(down, [count, -1]), axis=1)
    return down_mean + tf.reduce_mean(tf.reshape(right, [count, -1]), axis=1)


def total_cost(
    content: tf.Tensor | float,
    style: tf.Tensor | float,
    tv: tf.Tensor | float = 0.0,
    alpha: float = 10.0,
    beta: float = 40.0,
    gamma: float = 0.0,
) -> tf.Tensor:
    """J = α·J_content + β·J_style + γ·J_tv (per picture when the terms are (B,) vectors)."""
    return alpha * content + beta * style + gamma * tv
