"""What the generated picture is pulled towards, and the costs of a picture: the forward half of a step.

`compute_targets` computes the content features and the style Gram targets once per run; `picture_costs`
turns a picture into {"total", "content", "style", "tv"} with the costs of `nst_tf.losses.costs`, in the
conventions the config names, plus an optional pixel-space term (`nst_tf.optim.records.PixelTarget`, e.g.
video's temporal cost) under its own name. Both the Adam step (`nst_tf.optim.adam`) and the L-BFGS cost function
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
from nst_tf.optim.records import PixelTarget
from nst_tf.vgg.extractor import FeatureExtractor


@dataclass
class Targets:
    """Computed once per run, never per step."""

    content: tf.Tensor | None  # a_C at the content layer, (1, n_H, n_W, n_C); None when α = 0
    style_grams: dict[str, tf.Tensor]  # {layer: G_S (1, n_C, n_C)}
    style_positions: dict[str, float]  # {layer: n_H·n_W the Grams were taken over}
    pixel: dict[str, tf.Tensor] | None = None  # a PixelTarget's {"picture", "mask" (1, H, W, 1), "weight"}
    pixel_name: str = ""  # its name in the costs


def compute_targets(
    extractor: FeatureExtractor,
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    config: Config,
    style_blend: Sequence[float] | None = None,
    pixel_target: PixelTarget | None = None,
) -> Targets:
    """Content features and style Gram targets, computed once (and a pixel target's tensors).

    Several styles are blended as Σ_i w_i·G_i/(n_H·n_W)_i (weights normalised to sum 1); one style keeps
    its raw Gram, so the course formula holds to the last bit.
    """
    targets = _content_and_style(extractor, content, styles, config, style_blend)
    if pixel_target is not None:
        targets.pixel, targets.pixel_name = pixel_tensors(pixel_target), pixel_target.name
    return targets


def pixel_tensors(target: PixelTarget) -> dict[str, tf.Tensor]:
    """A PixelTarget as float32 tensors: {"picture" (1, H, W, 3), "mask" (1, H, W, 1), "weight" ()}."""
    mask = np.asarray(target.mask, np.float32)[np.newaxis, ..., np.newaxis]
    return {"picture": tf.constant(target.picture, tf.float32), "mask": tf.constant(mask),
            "weight": tf.constant(target.weight, tf.float32)}  # fmt: skip


def _content_and_style(
    extractor: FeatureExtractor,
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    config: Config,
    style_blend: Sequence[float] | None,
) -> Targets:
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
    in the picture's dtype, and the pixel target's term under its name when the targets have one (added to
    the total). A term whose weight is zero is not computed at all (texture, inversion)."""
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
    values = {"total": j_total, "content": j_content, "style": j_style, "tv": j_tv}
    if targets.pixel is not None:  # absent, nothing above changes by a bit
        values[targets.pixel_name] = j_pixel = pixel_cost(picture, targets.pixel)
        values["total"] = j_total + j_pixel
    return values


def pixel_cost(picture: tf.Tensor, pixel: dict[str, tf.Tensor]) -> tf.Tensor:
    """weight / D · Σ mask · (picture − target)², D = H·W·3 (`nst_tf.optim.records.PixelTarget`)."""
    target, mask = tf.cast(pixel["picture"], picture.dtype), tf.cast(pixel["mask"], picture.dtype)
    size = tf.cast(tf.size(picture), picture.dtype)
    return tf.cast(pixel["weight"], picture.dtype) * tf.reduce_sum(mask * tf.square(picture - target)) / size


def _tv_scale(config: Config) -> float:
    """1 for the mean form (γ means the same at every size and scale); the pixel scale for the sum form."""
    return 1.0 if config.tv_form == "mean" else float(config.pixel_scale)
