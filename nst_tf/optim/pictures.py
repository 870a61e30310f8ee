"""What happens to the pictures around the optimisation, in NumPy only, so both backends share it.

Sizing (`prepare_images`), the starting picture (`initial_image`), the inputs each mode needs
(`inputs_for_mode`), the coarse-to-fine plan (`stage_plan`), the style blend weights (`normalised_blend`)
and colour preservation (`colour_plan`). TensorFlow's `nst_tf.optim.engine` and the PyTorch twin
(`nst_tf.twin.torch_run`) both call these, so the two backends size, start and recolour identically; nothing
here imports TensorFlow or torch. Pictures are (1, H, W, 3) float32 RGB in [0, 1].
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from nst_tf.config import IMAGENET_MEAN_RGB, INIT_MODES, Config
from nst_tf.errors import ConfigError
from nst_tf.io import images as image_io
from nst_tf.losses import color
from nst_tf.optim.records import OptimizerState

# Four 2x2 poolings lie before conv5_1: a side shorter than 16 px leaves no feature map there.
MIN_SIDE = 16

Recolour = Callable[[np.ndarray, np.ndarray], np.ndarray]


def prepare_images(
    content: np.ndarray, styles: Sequence[np.ndarray], config: Config
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Resize content and styles as `config` says.

    With `exact_size` the content is squashed to exactly that (height, width), and so are the styles at
    style_scale 1, as the notebooks do. Otherwise the content's longest side becomes `image_size` (aspect
    kept), and each style's longest side becomes style_scale times the result's.
    """
    if config.exact_size is not None:
        h, w = config.exact_size
        sized = image_io.resize(content, h, w)
        if config.style_scale == 1.0:
            return sized, [image_io.resize(s, h, w) for s in styles]
    else:
        h, w = image_io.fit_size(content.shape[1], content.shape[2], config.image_size)
        if min(h, w) < MIN_SIDE:
            raise ConfigError(
                f"at {config.image_size} px the picture would be {w}x{h}: VGG needs at least {MIN_SIDE} px a side"
            )
        sized = image_io.resize(content, h, w)
    longest = round(config.style_scale * max(sized.shape[1:3]))
    return sized, [image_io.resize(s, *_fit_at_least(s.shape[1], s.shape[2], longest)) for s in styles]


def _fit_at_least(height: int, width: int, longest: int) -> tuple[int, int]:
    """fit_size, enlarged where needed so that the shorter side keeps MIN_SIDE px."""
    return image_io.fit_size(height, width, longest, min_side=MIN_SIDE)


def check_resume(resume: OptimizerState, shape: tuple[int, ...]) -> None:
    """Refuse a saved state made for a picture of another size."""
    if tuple(resume.image.shape) != tuple(shape):
        raise ConfigError(f"the saved state is for a {resume.image.shape} picture, this run makes {tuple(shape)}")


def normalised_blend(style_blend: Sequence[float] | None, count: int) -> list[float]:
    """Weights of `count` style pictures, summing to 1 (equal when `style_blend` is None)."""
    if count < 1:
        raise ConfigError("at least one style picture is needed")
    if style_blend is None:
        return [1.0 / count] * count
    if len(style_blend) != count:
        raise ConfigError(f"style blend has {len(style_blend)} weights for {count} style pictures")
    if any(w < 0 or not np.isfinite(w) for w in style_blend) or sum(style_blend) <= 0:
        raise ConfigError("style blend weights must be >= 0 and not all zero")
    total = float(sum(style_blend))
    return [float(w) / total for w in style_blend]


def initial_image(
    content: np.ndarray,
    config: Config,
    rng: np.random.Generator,
    styles: Sequence[np.ndarray] = (),
    style_blend: Sequence[float] | None = None,
) -> np.ndarray:
    """The starting picture, (1, H, W, 3) in [0, 1] units (float32).

    - "content": the content picture.
    - "recoloured": the content picture in the style pictures' colours: its pixels mapped linearly to the
      styles' RGB mean and covariance (blended by `style_blend`; `nst_tf.losses.color.recolour`). The
      low layers' Grams start close to the style's, so fewer steps reach a given cost.
    - "noise": the ImageNet mean colour plus U(−r, r) noise.
    - "gaussian": N(0, 1) noise clipped to [0, 1]: Mastering PyTorch's `torch.randn` start, which its loop
      clamps to [0, 1] before the first forward pass (half the pixels black, a sixth white).
    - "blend": ratio·noise + (1 − ratio)·content, the TF1 notebook's generate_noise_image (which mixes in
      mean-subtracted space; adding the mean back gives exactly this).
    - "content+noise": clip(content + U(−r, r), 0, 1), the TF2 notebook's start.
    - a path: that picture, resized to the content's size.
    """
    r = config.init_noise_range
    mode = config.init
    if mode == "content":
        return content.astype(np.float32)
    if mode == "recoloured":
        if not styles:
            raise ConfigError("the recoloured start needs a style picture")
        return color.recolour(content, *color.colour_moments(styles, normalised_blend(style_blend, len(styles))))
    if mode not in INIT_MODES:
        picture = image_io.load_image(mode)
        return image_io.resize(picture, content.shape[1], content.shape[2])
    if mode == "gaussian":
        return np.clip(rng.standard_normal(size=content.shape), 0.0, 1.0).astype(np.float32)
    noise = rng.uniform(-r, r, size=content.shape).astype(np.float32)
    if mode == "content+noise":
        return np.clip(content + noise, 0.0, 1.0).astype(np.float32)
    noise_image = np.asarray(IMAGENET_MEAN_RGB, np.float32) / 255.0 + noise
    if mode == "noise":
        return np.clip(noise_image, 0.0, 1.0).astype(np.float32)
    ratio = config.init_noise_ratio
    return (ratio * noise_image + (1.0 - ratio) * content).astype(np.float32)


def stage_plan(config: Config) -> list[tuple[Config, int]]:
    """[(the stage's config, the global step count at its end)] for `config.scales` stages.

    Stage k of N works at 1/2^(N-1-k) of the size and runs iterations/2^k steps: most steps where they
    are cheap. One stage is simply the run itself.
    """
    if config.scales == 1:
        return [(config, config.iterations)]
    plan, end = [], 0
    for k in range(config.scales):
        factor = 2 ** (config.scales - 1 - k)
        changes: dict = {"image_size": max(MIN_SIDE, round(config.image_size / factor))}
        if config.exact_size is not None:
            changes["exact_size"] = tuple(max(MIN_SIDE, round(v / factor)) for v in config.exact_size)
        end += max(1, config.iterations // 2**k)
        plan.append((dataclasses.replace(config, **changes), end))
    return plan


def upsampled_start(previous: np.ndarray, content: np.ndarray, config: Config) -> np.ndarray:
    """Coarse to fine: the previous scale's picture (unclipped, [0, 1] units), resized to `content`'s size,
    in the config's pixel units: the start of the next stage."""
    return image_io.resize(np.clip(previous, 0.0, 1.0), *content.shape[1:3]) * config.pixel_scale


def inputs_for_mode(
    content: np.ndarray | None, styles: list[np.ndarray], config: Config
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Check the pictures a mode needs; texture synthesis gets a stand-in content of the output's shape."""
    if config.mode == "invert":
        if content is None:
            raise ConfigError("feature inversion (mode invert) needs a content picture")
        return content, []
    if not styles:
        raise ConfigError("at least one style picture is needed")
    if config.mode == "texture":
        style = styles[0]
        if config.exact_size is not None:
            h, w = config.exact_size
        else:
            h, w = image_io.fit_size(style.shape[1], style.shape[2], config.image_size)
        # Only its shape (and mean colour for the noise start) matter: α = 0.
        return np.full((1, h, w, 3), np.asarray(IMAGENET_MEAN_RGB, np.float32) / 255.0), styles
    if content is None:
        raise ConfigError("style transfer needs a content picture (use mode texture for none)")
    return content, styles


def colour_plan(
    content: np.ndarray, styles: list[np.ndarray], config: Config
) -> tuple[np.ndarray, list[np.ndarray], Recolour | None]:
    """(content the network sees, styles it sees, recolour function or None) for --preserve-colors."""
    mode = config.preserve_colors
    if mode is None or config.mode == "texture":
        return content, styles, None
    if mode == "histogram":
        return content, [color.match_color_histogram(s, content) for s in styles], None
    if mode == "luminance":
        grey_styles = [color.match_luminance(s, content) for s in styles]
        return color.luminance_only(content), grey_styles, color.transfer_luminance
    return content, styles, color.transfer_luminance  # "post"
