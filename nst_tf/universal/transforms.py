"""Feature transforms of universal style transfer, pure NumPy: WCT (Li et al. 2017) and AdaIN (Huang & Belongie
2017), with style mixing and per-style spatial masks.

Feature maps are (H, W, C) arrays. Statistics (means, covariances, eigendecompositions) are computed in
float64: a relu4_1 covariance of 512 channels is near-singular (dead ReLU channels) and float32 eigenvalues
there are mostly rounding noise. The composed transform is then applied in float32, one (HW, C)·(C, C)
matmul per style for WCT; AdaIN takes only per-channel means and variances (`channel_moments`) and scales
and shifts each channel.

WCT: with centred content features f_c (covariance Σ_c = E_c D_c E_cᵀ) and style statistics (μ_s, Σ_s =
E_s D_s E_sᵀ), whitening is f̂ = E_c D_c^−½ E_cᵀ f_c (identity covariance) and colouring is
f = E_s D_s^½ E_sᵀ f̂ + μ_s (the style's covariance). Regularisation departs slightly from Li et al., who drop
eigenvalues below 1e-5: here every covariance gets `eps` × (its mean eigenvalue) added to the diagonal,
which is scale-free (Caffe-scale VGG features are ~100× larger than their normalised VGG's) and keeps the
whitening of dead channels bounded.

Mixing and masks, one rule for both methods: out(x) = Σ_i w_i m_i(x) T_i(f_c)(x) / Σ_i w_i m_i(x), where
T_i is the transform to style i, with the content statistics taken over style i's masked region (Li et al.'s
spatial control); without masks m_i = 1, so out = Σ_i w_i T_i(f_c) / Σ_i w_i (their linear style
interpolation). Where no mask covers a pixel the content features stay. Then the content blend:
α·out + (1 − α)·f_c.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

DEFAULT_EPS = 1e-5
_BLOCK = 65536  # rows per float64 block in feature_stats


def feature_stats(
    features: np.ndarray, weights: np.ndarray | None = None, full: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Mean (C,) and covariance (C, C), float64, of (H, W, C) features, optionally weighted per pixel (H, W).

    The population covariance, Σ w (x − μ)(x − μ)ᵀ / Σ w (w = 1 without weights), so that a 0/1 mask and the
    region it selects give the same statistics. Everything in float64: the mean, and the centred features'
    products, `_BLOCK` rows at a time (a float64 copy of a block, not of the whole map). Float32 products
    are not enough for WCT: a relu1_1 covariance's smallest eigenvalues sit near float32's rounding of its
    largest entries, and whitening divides by their square roots (two float32 covariances summed in
    different orders gave WCT pictures 2e-5 apart on a 451 × 300 photo; `nst_tf.parity.one_pass`).
    `full=False` (AdaIN, which reads only the variances) returns the covariance's diagonal as a diagonal
    matrix, at O(HW·C) instead of O(HW·C²).
    """
    flat = np.asarray(features, np.float32).reshape(-1, features.shape[-1])
    w = None if weights is None else np.asarray(weights, np.float64).reshape(-1)
    blocks = range(0, flat.shape[0], _BLOCK)
    if w is None:
        total = float(flat.shape[0])
        mean = flat.sum(axis=0, dtype=np.float64) / total
    else:
        total = float(w.sum())
        mean = sum(w[i : i + _BLOCK] @ flat[i : i + _BLOCK].astype(np.float64) for i in blocks) / total
    channels = flat.shape[1]
    second = np.zeros((channels, channels) if full else channels)
    for start in blocks:
        centred = flat[start : start + _BLOCK] - mean  # float64 (mean is): one new block, no float32→64 copy first
        if w is not None:  # √w on both sides: Xᵀ X runs as BLAS's fast symmetric product, Xᵀ Y at ~1/20 its speed
            centred *= np.sqrt(w[start : start + _BLOCK, None])
        if full:
            second += centred.T @ centred
        else:  # squared in place: the same numbers without a second block (measured: a 46 × 80 × 512 map, 7 → 4 ms)
            centred *= centred
            second += centred.sum(axis=0)
    return mean, second / total if full else np.diag(second / total)


def channel_moments(features: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean (C,) and variance (C,), float64, of (H, W, C) features, optionally weighted per pixel (H, W): the
    diagonal of `feature_stats` (the same float64 sums), all AdaIN needs, without the C×C covariance (a
    relu4_1 map of a 512 px picture: 1.6 GFLOP of products for 512 numbers)."""
    mean, diagonal = feature_stats(features, weights, full=False)
    return mean, np.diag(diagonal)


def _power(cov: np.ndarray, power: float, eps: float) -> np.ndarray:
    """cov^power of a symmetric PSD matrix through its eigendecomposition, regularised (see module doc)."""
    values, vectors = np.linalg.eigh(cov)
    ridge = eps * max(float(np.trace(cov)) / cov.shape[0], 1e-12)
    values = np.clip(values, 0.0, None) + ridge
    return (vectors * values**power) @ vectors.T


def _apply(features: np.ndarray, mean: np.ndarray, matrix: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """(features − mean)·matrixᵀ + shift per pixel, in float32; (H, W, C) -> (H, W, C) float32.

    In float64 where the map has no more pixels than channels (a tiny picture's deep level, e.g. relu4_1 of
    a picture under ~180 px): the content's covariance is then rank-deficient, whitening scales its null
    directions by 1/√ridge, and the map's huge entries cancel in the sum, so rounding the map to float32
    moves the result by up to 4e-5 in the picture (two eigendecompositions equal to 1e-16 gave WCT pictures
    4e-5 apart at 24 px, 0 apart applied in float64). A map that small costs nothing in float64.
    """
    flat = np.asarray(features, np.float32).reshape(-1, features.shape[-1])
    if flat.shape[0] <= flat.shape[1]:
        out = ((flat - mean) @ matrix.T + shift).astype(np.float32)
    else:
        out = (flat - mean.astype(np.float32)) @ matrix.T.astype(np.float32) + shift.astype(np.float32)
    return out.reshape(features.shape)


def whiten(content: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Content features with zero mean and (to the regularisation) identity covariance."""
    mean, cov = feature_stats(content)
    return _apply(content, mean, _power(cov, -0.5, eps), np.zeros_like(mean))


def colour(whitened: np.ndarray, style: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Whitened features given the style features' mean and covariance."""
    mean, cov = feature_stats(style)
    return _apply(whitened, np.zeros_like(mean), _power(cov, 0.5, eps), mean)


def wct_matrix(content_stats, style_stats, eps: float = DEFAULT_EPS) -> np.ndarray:
    """The composed WCT map Σ_s^½ Σ_c^−½ (float64, (C, C)) from (mean, cov) pairs."""
    return _power(style_stats[1], 0.5, eps) @ _power(content_stats[1], -0.5, eps)


def wct(content: np.ndarray, style: np.ndarray, alpha: float = 1.0, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Whitening-colouring transform of (H, W, C) content features to one style's (h, w, C) features."""
    return stylize_features(content, [style], method="wct", alpha=alpha, eps=eps)


def adain(content: np.ndarray, style: np.ndarray, alpha: float = 1.0, eps: float = DEFAULT_EPS) -> np.ndarray:
    """AdaIN: each content channel shifted and scaled to the style channel's mean and standard deviation."""
    return stylize_features(content, [style], method="adain", alpha=alpha, eps=eps)


def _adain_apply(features: np.ndarray, content_moments, style_moments, eps: float) -> np.ndarray:
    """(f − μ_c)·σ_s/σ_c + μ_s per channel (σ² + eps as in Huang), from (mean, variance) pairs: what `_apply`
    with the diagonal matrix diag(σ_s/σ_c) gives, bit for bit (a diagonal product adds exact zeros), without
    a (HW, C)·(C, C) product; in float64 on a map with no more pixels than channels, as `_apply`."""
    (content_mean, content_var), (style_mean, style_var) = content_moments, style_moments
    scale = np.sqrt((style_var + eps) / (content_var + eps))
    if features.shape[0] * features.shape[1] <= features.shape[-1]:
        return ((features - content_mean) * scale + style_mean).astype(np.float32)
    f32 = np.float32
    return (features - content_mean.astype(f32)) * scale.astype(f32) + style_mean.astype(f32)


def stylize_features(
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    method: str = "wct",
    alpha: float = 1.0,
    weights: Sequence[float] | None = None,
    masks: Sequence[np.ndarray] | None = None,
    eps: float = DEFAULT_EPS,
) -> np.ndarray:
    """Content features (H, W, C) moved toward one or more styles' features, mixed and masked (module doc).

    Args:
        content: (H, W, C) content features.
        styles: (h_i, w_i, C) style features, one per style.
        method: "wct" or "adain".
        alpha: 0 returns the content features, 1 the full transform.
        weights: one non-negative weight per style (default equal).
        masks: one (H, W) map in [0, 1] per style: where that style goes.
        eps: regularisation (WCT: relative ridge; AdaIN: variance epsilon).

    Returns:
        (H, W, C) float32 features.
    """
    content = np.asarray(content, np.float32)
    if method not in ("wct", "adain"):
        raise ValueError(f"unknown method {method!r}; choose wct or adain")
    if len(styles) == 1 and masks is None:  # Σ w T / Σ w is T itself: no mixing passes over the map
        mixed = _moved(content, styles[0], method, eps)
    else:
        mixed = _mixed(content, styles, method, weights, masks, eps)
    if alpha == 1.0:
        return mixed
    return (alpha * mixed + (1.0 - alpha) * content).astype(np.float32)


def _moved(content: np.ndarray, style: np.ndarray, method: str, eps: float, mask: np.ndarray | None = None):
    """The content features moved to one style's statistics (the content's taken over `mask` if given)."""
    if method == "adain":
        return _adain_apply(content, channel_moments(content, mask), channel_moments(style), eps)
    content_stats, style_stats = feature_stats(content, mask), feature_stats(style)
    return _apply(content, content_stats[0], wct_matrix(content_stats, style_stats, eps), style_stats[0])


def _mixed(content, styles, method, weights, masks, eps) -> np.ndarray:
    """Σ_i w_i m_i T_i(f_c) / Σ_i w_i m_i where some style covers a pixel, the content features elsewhere."""
    weights = np.ones(len(styles)) if weights is None else np.asarray(weights, np.float64)
    total = np.zeros(content.shape, np.float32)
    cover = np.zeros(content.shape[:2], np.float32)
    for index, style in enumerate(styles):
        mask = None if masks is None else np.asarray(masks[index], np.float32)
        weight = np.full(content.shape[:2], weights[index], np.float32) if mask is None else weights[index] * mask
        if weight.sum() <= 1e-6 * weight.size:  # this style covers (next to) nothing at this size
            continue
        total += weight[..., None] * _moved(content, style, method, eps, mask)
        cover += weight
    covered = cover > 1e-12
    total /= np.where(covered, cover, 1.0)[..., None]
    return np.where(covered[..., None], total, content)


def transform_with_stats(
    content: np.ndarray,
    content_stats: tuple[np.ndarray, np.ndarray],
    style_stats: Sequence[tuple[np.ndarray, np.ndarray]],
    method: str = "wct",
    alpha: float = 1.0,
    weights: Sequence[float] | None = None,
    eps: float = DEFAULT_EPS,
) -> np.ndarray:
    """`stylize_features` without masks, with the content's (mean, covariance) given rather than taken from
    `content`: a tile of a large picture moved by the whole picture's statistics (nst_tf.universal.tiles).

    Args:
        content: (h, w, C) features of a part of the picture.
        content_stats: the whole picture's (mean (C,), covariance (C, C)), float64.
        style_stats: one (mean, covariance) per style (`feature_stats` of its features).

    Returns:
        (h, w, C) float32 features: Σ_i w_i T_i(f) / Σ_i w_i, then α·that + (1 − α)·f.
    """
    return mover(content_stats, style_stats, method, alpha, weights, eps)(content)


def mover(
    content_stats: tuple[np.ndarray, np.ndarray],
    style_stats: Sequence[tuple[np.ndarray, np.ndarray]],
    method: str = "wct",
    alpha: float = 1.0,
    weights: Sequence[float] | None = None,
    eps: float = DEFAULT_EPS,
) -> Callable[[np.ndarray], np.ndarray]:
    """`transform_with_stats` without the features: each style's WCT matrix (an eigendecomposition) or AdaIN
    scale is made once here, and the map returned moves any number of (h, w, C) feature arrays by it (the
    tiles of one picture, nst_tf.universal.tiles; a video frame, nst_tf.video.routes)."""
    if method not in ("wct", "adain"):
        raise ValueError(f"unknown method {method!r}; choose wct or adain")
    weights = np.ones(len(style_stats)) if weights is None else np.asarray(weights, np.float64)
    maps = []
    for weight, stats in zip(weights / weights.sum(), style_stats, strict=True):
        if weight <= 0:
            continue
        if method == "wct":
            matrix = wct_matrix(content_stats, stats, eps)
            maps.append((weight, functools.partial(_apply, mean=content_stats[0], matrix=matrix, shift=stats[0])))
        else:  # the covariances' diagonals are the variances
            content_moments, style_moments = [(mean, np.diag(cov)) for mean, cov in (content_stats, stats)]
            maps.append((weight, functools.partial(_adain_apply, content_moments=content_moments,
                                                   style_moments=style_moments, eps=eps)))  # fmt: skip

    def move(content: np.ndarray) -> np.ndarray:
        content = np.asarray(content, np.float32)
        mixed = np.zeros(content.shape, np.float32)
        for weight, moved in maps:
            mixed += np.float32(weight) * moved(content)
        if alpha == 1.0:
            return mixed
        return (alpha * mixed + (1.0 - alpha) * content).astype(np.float32)

    return move
