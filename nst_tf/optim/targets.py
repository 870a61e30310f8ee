"""What the generated picture is pulled towards, and the costs of a picture: the forward half of a step.

`compute_targets` computes the content features and the style Gram targets once per run; `picture_costs`
turns a picture into {"total", "content", "style", "tv"} with the costs of `nst_tf.losses.costs`, in the
conventions the config names. Both the Adam step (`nst_tf.optim.adam`) and the L-BFGS cost function
(`nst_tf.optim.lbfgs_tf`) call `picture_costs`, so the two optimisers minimise the very same function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from nst_tf.config import Config
from nst_tf.losses import costs
from nst_tf.optim.pictures import normalised_blend
from nst_tf.vgg.extractor import FeatureExtractor


@dataclass
class Targets:
    """Computed once per run, never per step."""

    content: tf.Tensor | None  # a_C at the content layer, (1, n_H, n_W, n_C); None when α = 0
    style_grams: dict[str, tf.Tensor]  # {layer: G_S (1, n_C, n_C)}
    style_positions: dict[str, float]  # {layer: n_H·n_W the Grams were taken over}


def compute_targets(
    extractor: FeatureExtractor,
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    config: Config,
    style_blend: Sequence[float] | None = None,
) -> Targets:
    """Content features and style Gram targets, computed once.

    Several styles are blended as Σ_i w_i·G_i/(n_H·n_W)_i (weights normalised to sum 1); one style keeps
    its raw Gram, so the course formula holds to the last bit.
    """
    content_features = extractor(tf.constant(content))[config.content_layer_key] if config.content_weight else None
    if not (config.style_weight and styles):  # feature inversion: no style term
        return Targets(content_features, {}, {})
    blend = normalised_blend(style_blend, len(styles))
    per_style = [extractor(tf.constant(s)) for s in styles]
    grams: dict[str, tf.Tensor] = {}
    positions: dict[str, float] = {}
    for layer in config.style_layer_weights:
        if len(styles) == 1:
            features = per_style[0][layer]
            grams[layer] = costs.gram_matrix(features, config.gram_normalisation)
            positions[layer] = float(features.shape[1] * features.shape[2])
        else:
            grams[layer] = tf.add_n(
                [
                    w * costs.gram_matrix(f[layer], config.gram_normalisation) / _positions(f[layer])
                    for w, f in zip(blend, per_style, strict=True)
                ]
            )
            positions[layer] = 1.0
    return Targets(content_features, grams, positions)


def _positions(features: tf.Tensor) -> float:
    return float(features.shape[1] * features.shape[2])


def picture_costs(
    extractor: FeatureExtractor, targets: Targets, config: Config, picture: tf.Tensor
) -> dict[str, tf.Tensor]:
    """The forward half of a step: {"total", "content", "style", "tv"} of a (1, H, W, 3) [0, 1] picture,
    in the picture's dtype. A term whose weight is zero is not computed at all (texture, inversion)."""
    alpha, beta, gamma = config.content_weight, config.style_weight, config.tv_weight
    features = extractor(picture)
    zero = tf.zeros([], picture.dtype)
    j_content = zero
    if alpha:
        generated = features[config.content_layer_key]
        j_content = costs.content_cost(targets.content, generated, config.content_cost_form)[0]
    j_style = zero
    if beta and targets.style_grams:
        j_style = costs.style_cost(
            targets.style_grams,
            features,
            config.style_layer_weights,
            targets.style_positions,
            form=config.style_cost_form,
            normalisation=config.gram_normalisation,
        )[0]
    # The TV term sees the picture in the variable's own units (cs231n's "sum" form is on its variable).
    j_tv = costs.total_variation_cost(picture * _tv_scale(config), config.tv_form)[0] if gamma else zero
    j_total = costs.total_cost(j_content, j_style, j_tv, alpha, beta, gamma)
    return {"total": j_total, "content": j_content, "style": j_style, "tv": j_tv}


def _tv_scale(config: Config) -> float:
    """1 for the mean form (γ means the same at every size and scale); the pixel scale for the sum form."""
    return 1.0 if config.tv_form == "mean" else float(config.pixel_scale)
