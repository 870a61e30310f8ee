"""Stylize a picture with any style picture(s): coarse-to-fine WCT (Li et al. 2017) or AdaIN (Huang & Belongie
2017), with style mixing, per-style masks and colour preservation.

`Universal` holds the encoders and decoders; `Universal.stylize` takes (1, H, W, 3) RGB pictures in [0, 1]
and returns one. WCT runs Li et al.'s multi-level pipeline: encode to relu4_1, transform, decode; encode
that picture to relu3_1, transform, decode; … down to relu1_1 (coarse to fine). AdaIN runs one
encode–transform–decode at relu4_1. The transform itself (and the mixing/masking rule) is
`nst_tf.universal.transforms.stylize_features`. Pictures of any size work: the content is reflect-padded
to a multiple of 8 and the result cropped back. Decoded pictures are clipped to [0, 1] between levels, as
the next encoder expects a picture (Li et al. feed theirs on unclipped).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from nst_tf.config import UNIVERSAL_COLOR_MODES
from nst_tf.errors import ConfigError
from nst_tf.losses.color import match_color_histogram, transfer_luminance
from nst_tf.universal.compiled import InferenceDecoder, InferenceEncoder
from nst_tf.universal.networks import crop, pad_to_multiple
from nst_tf.universal.transforms import DEFAULT_EPS, stylize_features
from nst_tf.vgg.weights import VGGWeights

log = logging.getLogger(__name__)

METHODS = ("wct", "adain")


class Universal:
    """Encoders and decoders for one method.

    Args:
        weights: the encoder's ImageNet VGG16 weights (`resolve_weights("imagenet-vgg16")`).
        decoders: {level: decoder}; WCT uses every level given (deepest first), AdaIN only level 4.
        method: "wct" or "adain".
        precision: the convolutions' arithmetic in the encoder and the decoders, "float32" or "bfloat16"
            (resolve "auto" first with `nst_tf.perf.precision.resolve_precision`); the features handed to
            the transforms, the transforms and the pictures stay float32.
    """

    def __init__(self, weights: VGGWeights, decoders: dict, method: str = "wct", precision: str = "float32") -> None:
        if method not in METHODS:
            raise ConfigError(f"unknown method {method!r}; choose wct or adain")
        levels = sorted(decoders, reverse=True) if method == "wct" else [4]
        missing = [level for level in levels if level not in decoders]
        if missing or not levels:
            raise ConfigError(f"{method} needs decoders for levels {levels}; missing {missing}")
        self.method = method
        self.levels: list[int] = levels
        self.decoders = {level: decoders[level] for level in levels}
        self.precision = precision
        self._decoders = {level: InferenceDecoder(decoders[level], precision) for level in levels}
        # One compiled encoder per level (each computes only what its level needs); the deepest also gives a
        # style picture's features at every level in one pass.
        self.plan_line = ""  # what the last stylization planned (whole or tiles), set by nst_tf.universal.stream
        deepest = InferenceEncoder(weights, max(levels), precision)  # one VGG; shallower levels share it
        self.encoders = {level: deepest if level == max(levels) else deepest.up_to(level) for level in levels}

    def warm_up(self) -> None:
        """Trace and optimise every graph on a tiny picture, so that no stylization's clock holds that."""
        tiny = np.zeros((1, 16, 16, 3), np.float32)
        self.encode_all(tiny)  # the style pictures' graph (every level); `encode` has its own
        for level in self.levels:
            self.decode(self.encode(tiny, level), level)

    def encode(self, images: np.ndarray | tf.Tensor, level: int) -> np.ndarray:
        """(1, H, W, 3) picture -> (h, w, C) relu{level}_1 features."""
        return self.encoders[level].last(images)[0].numpy()

    def encode_all(self, images: np.ndarray | tf.Tensor) -> dict[int, np.ndarray]:
        """(1, H, W, 3) picture -> {level: (h, w, C) features} for every level this method uses, one pass."""
        features = self.encoders[max(self.levels)](images)
        return {level: features[level][0].numpy() for level in self.levels}

    def decode(self, features: np.ndarray, level: int) -> tf.Tensor:
        """(h, w, C) features -> (1, h·2^(level−1), w·2^(level−1), 3) picture clipped to [0, 1]."""
        return self._decoders[level](features[np.newaxis])

    def stylize(
        self,
        content: np.ndarray,
        styles: Sequence[np.ndarray],
        alpha: float = 1.0,
        style_weights: Sequence[float] | None = None,
        masks: Sequence[np.ndarray] | None = None,
        preserve_colors: str | None = None,
        eps: float = DEFAULT_EPS,
    ) -> np.ndarray:
        """One stylized picture.

        Args:
            content: (1, H, W, 3) RGB in [0, 1].
            styles: one or more (1, h_i, w_i, 3) style pictures.
            alpha: 0 keeps the content, 1 the full transform (applied at every level).
            style_weights: one weight per style (default equal); normalised where styles overlap.
            masks: one (H, W) map in [0, 1] per style, at the content's size: where each style goes.
            preserve_colors: None, "post" (the result's luminance, the content's chroma) or "histogram"
                (each style picture first given the content's colour mean and covariance).
            eps: the transform's regularisation.

        Returns:
            (1, H, W, 3) float32 RGB in [0, 1].
        """
        check_inputs(content, styles, alpha, style_weights, masks, preserve_colors)
        if preserve_colors == "histogram":
            styles = [match_color_histogram(style, content) for style in styles]
        padded, size = pad_to_multiple(content, 2 ** (max(self.levels) - 1))
        padded_masks = None
        if masks is not None:
            stacked = np.stack([np.asarray(m, np.float32) for m in masks], axis=-1)[np.newaxis]
            padded_masks = pad_to_multiple(stacked, 2 ** (max(self.levels) - 1))[0]
        picture = padded
        style_levels = [self.encode_all(style) for style in styles]
        for level in self.levels:
            features = self.encode(picture, level)
            style_features = [encoded[level] for encoded in style_levels]
            level_masks = _masks_at(padded_masks, features.shape[:2])
            moved = stylize_features(features, style_features, self.method, alpha, style_weights, level_masks, eps=eps)
            picture = self.decode(moved, level)  # (1, H', W', 3): the padded size, a multiple of 8
        result = crop(picture, size).numpy()
        if preserve_colors == "post":
            result = transfer_luminance(result, content)
        return result.astype(np.float32)


def _masks_at(masks: tf.Tensor | None, size: tuple[int, int]) -> list[np.ndarray] | None:
    """(1, H, W, S) masks -> S maps of `size`, each feature pixel the mean of the mask pixels it covers."""
    if masks is None:
        return None
    small = tf.image.resize(masks, size, method="area")[0].numpy()
    return [small[..., index] for index in range(small.shape[-1])]


def check_inputs(content, styles, alpha, style_weights, masks, preserve_colors) -> None:
    """ConfigError for any argument `Universal.stylize` cannot use (checked before any work)."""
    if not styles:
        raise ConfigError("at least one style picture is needed")
    if not np.isfinite(alpha) or not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"alpha must be in [0, 1], not {alpha}")
    if style_weights is not None:
        weights = np.asarray(style_weights, np.float64)
        if weights.shape != (len(styles),):
            raise ConfigError(f"{weights.size} style weights for {len(styles)} style pictures")
        if not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
            raise ConfigError("style weights must be finite, >= 0 and not all zero")
    if masks is not None:
        if len(masks) != len(styles):
            raise ConfigError(f"{len(masks)} masks for {len(styles)} style pictures")
        for mask in masks:
            if np.shape(mask) != tuple(content.shape[1:3]):
                raise ConfigError(f"a mask of size {np.shape(mask)} for a content of {tuple(content.shape[1:3])}")
    if preserve_colors not in (None, *UNIVERSAL_COLOR_MODES):
        raise ConfigError(f"preserve_colors must be one of {UNIVERSAL_COLOR_MODES}, not {preserve_colors!r}")
