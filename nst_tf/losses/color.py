"""Colour control (Gatys, Bethge, Hertzmann, Shechtman 2017, "Controlling Perceptual Factors in Neural
Style Transfer"): keep the content picture's colours while taking the painting's strokes.

Three ways, all on (1, H, W, 3) RGB pictures in [0, 1], pure NumPy:
- `transfer_luminance(result, content)` ("post"): the result's luminance with the content's chroma (YUV).
- `luminance_only(picture)` + `match_luminance(style, content)` ("luminance"): the run sees only
  luminance; colour is re-attached afterwards with `transfer_luminance`.
- `match_color_histogram(style, content)` ("histogram"): before the run, give the style picture the
  content's colour mean and covariance (a linear map, the paper's "colour histogram matching").

`colour_moments` and `recolour` are that linear map's two halves; the "recoloured" start of a run
(`nst_tf.optim.pictures.initial_image`) uses them the other way round: the content in the style's colours.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# BT.601 RGB -> YUV, as in the paper's luminance-only transfer.
_RGB_TO_YUV = np.array(
    [[0.299, 0.587, 0.114], [-0.14713, -0.28886, 0.436], [0.615, -0.51499, -0.10001]], dtype=np.float64
)
_YUV_TO_RGB = np.linalg.inv(_RGB_TO_YUV)


def rgb_to_yuv(image: np.ndarray) -> np.ndarray:
    """(…, 3) RGB -> (…, 3) YUV (Y in [0, 1], U and V around 0)."""
    return np.asarray(image, np.float64) @ _RGB_TO_YUV.T


def yuv_to_rgb(image: np.ndarray) -> np.ndarray:
    """(…, 3) YUV -> (…, 3) RGB, float32 clipped to [0, 1]."""
    return np.clip(np.asarray(image, np.float64) @ _YUV_TO_RGB.T, 0.0, 1.0).astype(np.float32)


def transfer_luminance(result: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The result's luminance Y with the content's chroma U, V (same size pictures)."""
    yuv = rgb_to_yuv(content)
    yuv[..., 0] = rgb_to_yuv(result)[..., 0]
    return yuv_to_rgb(yuv)


def luminance_only(image: np.ndarray) -> np.ndarray:
    """The picture's luminance copied into all three channels (what the network sees in "luminance")."""
    y = rgb_to_yuv(image)[..., :1]
    return np.clip(np.repeat(y, 3, axis=-1), 0.0, 1.0).astype(np.float32)


def match_luminance(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Style luminance shifted and scaled to the content's mean and standard deviation (paper eq. 1),
    as a grey three-channel picture."""
    ys = rgb_to_yuv(style)[..., 0]
    yc = rgb_to_yuv(content)[..., 0]
    matched = (ys - ys.mean()) * (yc.std() / max(ys.std(), 1e-8)) + yc.mean()
    return np.clip(np.repeat(matched[..., None], 3, axis=-1), 0.0, 1.0).astype(np.float32)


def _sqrt_psd(matrix: np.ndarray, inverse: bool = False) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    values = np.clip(values, 1e-8, None)
    power = -0.5 if inverse else 0.5
    return (vectors * values**power) @ vectors.T


def match_color_histogram(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Style pixels mapped by x' = A(x − μ_S) + μ_C with A = Σ_C^½ Σ_S^−½, so the style picture has the
    content's colour mean and covariance (the paper's Cholesky/eigen variant; eigen here, symmetric)."""
    return recolour(style, *colour_moments([content]))


def colour_moments(pictures: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> tuple:
    """(μ, Σ): the RGB mean and covariance of the pictures' pixels, a mixture weighted by `weights`
    (normalised; default equal per picture), in float64."""
    weights = np.ones(len(pictures)) if weights is None else np.asarray(weights, np.float64)
    weights = weights / weights.sum()
    means, seconds = [], []
    for picture in pictures:
        pixels = np.asarray(picture, np.float64).reshape(-1, 3)
        mean = pixels.mean(axis=0)
        means.append(mean)
        seconds.append(np.cov(pixels, rowvar=False) + np.outer(mean, mean))
    mean = np.einsum("i,ij->j", weights, np.array(means))
    return mean, np.einsum("i,ijk->jk", weights, np.array(seconds)) - np.outer(mean, mean)


def recolour(picture: np.ndarray, mean: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """The picture's pixels mapped linearly, x' = Σ^½ Σ_x^−½ (x − μ_x) + μ, to the colour mean `mean` and
    covariance `covariance`; clipped to [0, 1], float32, the picture's shape."""
    x = np.asarray(picture, np.float64).reshape(-1, 3)
    mu_x = x.mean(axis=0)
    transform = _sqrt_psd(covariance) @ _sqrt_psd(np.cov(x, rowvar=False), inverse=True)
    matched = (x - mu_x) @ transform.T + mean
    return np.clip(matched, 0.0, 1.0).reshape(np.shape(picture)).astype(np.float32)
