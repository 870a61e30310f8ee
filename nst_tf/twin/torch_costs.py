"""The PyTorch twin's costs: `nst_tf.losses.costs` term for term, batched, in the same conventions.

Feature maps are (B, n_H, n_W, n_C) (the twin hands them out in Keras's layout), images (B, H, W, 3),
Gram matrices (B, n_C, n_C), costs (B,) vectors, normalised by each tensor's own shape; the formulas and
the conventions ("course", "mse", "sum"; Gram "none" or "size"; TV "mean" or "sum") are documented in
`nst_tf.losses.costs`. The arithmetic follows TensorFlow's operation by operation (the normalisers are
tensors of the features' dtype, as `tf.cast` makes them), so the two agree to rounding.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch


def _positions_and_channels(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(n_H·n_W, n_C) of a (B, n_H, n_W, n_C) tensor as scalars of its dtype (TF casts them the same way)."""
    kw = {"dtype": features.dtype, "device": features.device}
    return torch.tensor(features.shape[1] * features.shape[2], **kw), torch.tensor(features.shape[3], **kw)


def _per_picture_sum(values: torch.Tensor) -> torch.Tensor:
    """Σ over every axis but the first: (B, ...) -> (B,)."""
    return values.reshape(values.shape[0], -1).sum(dim=1)


def content_cost(
    content_features: torch.Tensor, generated_features: torch.Tensor, form: str = "course"
) -> torch.Tensor:
    """J_content per picture; "course": 1/(4·n_H·n_W·n_C) · Σ (a_C − a_G)²."""
    positions, channels = _positions_and_channels(generated_features)
    total = _per_picture_sum(torch.square(content_features - generated_features))
    if form == "sum":
        return total
    if form == "mse":
        return total / (positions * channels)
    return total / (4.0 * positions * channels)


def gram_matrix(features: torch.Tensor, normalisation: str = "none") -> torch.Tensor:
    """G = Aᵀ·A per picture: (B, n_H, n_W, n_C) -> (B, n_C, n_C); "size" divides by n_H·n_W·n_C."""
    unrolled = features.reshape(features.shape[0], -1, features.shape[-1])  # (B, n_H·n_W, n_C)
    gram = unrolled.transpose(1, 2) @ unrolled
    if normalisation == "size":
        positions, channels = _positions_and_channels(features)
        gram = gram / (positions * channels)
    return gram


def layer_style_cost(
    style_gram: torch.Tensor,
    generated_features: torch.Tensor,
    style_positions: float | None = None,
    form: str = "course",
    normalisation: str = "none",
) -> torch.Tensor:
    """J_style[l] per picture; "course": 1/(4·n_C²·(n_H·n_W)²) · Σ (G_S − G_G)², a raw G_S rescaled per
    position when the style picture's n_H·n_W differs (as `nst_tf.losses.costs.layer_style_cost`)."""
    positions, channels = _positions_and_channels(generated_features)
    generated_gram = gram_matrix(generated_features, normalisation)
    if style_positions is not None and normalisation == "none":
        style = torch.tensor(style_positions, dtype=generated_features.dtype, device=generated_features.device)
        style_gram = style_gram * (positions / style)
    total = _per_picture_sum(torch.square(style_gram - generated_gram))
    if form == "sum":
        return total
    if form == "mse":
        return total / torch.square(channels)
    return total / (4.0 * torch.square(channels * positions))


def style_cost(
    style_grams: Mapping[str, torch.Tensor],
    generated_features: Mapping[str, torch.Tensor],
    layer_weights: Mapping[str, float],
    style_positions: Mapping[str, float] | None = None,
    form: str = "course",
    normalisation: str = "none",
) -> torch.Tensor:
    """J_style = Σ_l λ_l · J_style[l] per picture, accumulated in layer order from zero (as TF's add_n)."""
    first = next(iter(generated_features.values()))
    total = torch.zeros((first.shape[0],), dtype=first.dtype, device=first.device)
    for layer, weight in layer_weights.items():
        positions = None if style_positions is None else style_positions[layer]
        cost = layer_style_cost(style_grams[layer], generated_features[layer], positions, form, normalisation)
        total = total + weight * cost
    return total


def total_variation_cost(image: torch.Tensor, form: str = "mean") -> torch.Tensor:
    """J_tv per picture of a (B, H, W, 3) image: "mean" of squared neighbour differences per direction
    (this project's), or their "sum" (cs231n's)."""
    down = torch.square(image[:, 1:, :, :] - image[:, :-1, :, :])
    right = torch.square(image[:, :, 1:, :] - image[:, :, :-1, :])
    if form == "sum":
        return _per_picture_sum(down) + _per_picture_sum(right)
    count = image.shape[0]
    return down.reshape(count, -1).mean(dim=1) + right.reshape(count, -1).mean(dim=1)


def total_cost(
    content: torch.Tensor | float,
    style: torch.Tensor | float,
    tv: torch.Tensor | float = 0.0,
    alpha: float = 10.0,
    beta: float = 40.0,
    gamma: float = 0.0,
) -> torch.Tensor:
    """J = α·J_content + β·J_style + γ·J_tv."""
    return alpha * content + beta * style + gamma * tv
