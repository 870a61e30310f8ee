"""Universal stylization as a library entry: pictures read and sized, masks fitted, a stream of Steps.

`stylize_universal(contents, styles, settings)` is the entry every caller uses (the `universal` command
with one content picture, a notebook with a folder of them): one `nst_tf.records.Step` per content picture,
its `image` the stylized picture and its `info` the source, the seconds the stylization alone took and the
decoders used. Pictures given as paths are read and sized here — the content to `settings.image_size` on its
longest side (None: as it is), each style to `settings.style_size` (`load_universal_inputs`); arrays are used as given.
`load_universal(settings)` loads the shipped decoders and traces the graphs once, so a stream's clock holds
only stylization. `check_places` checks an output picture and a run folder before anything is written.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nst_tf.errors import ConfigError
from nst_tf.io import images as image_io
from nst_tf.io.images import PICTURE_SUFFIXES
from nst_tf.records import Step
from nst_tf.universal.settings import UniversalSettings

if TYPE_CHECKING:
    from nst_tf.io.rundir import RunFolder

Picture = str | os.PathLike | np.ndarray


@dataclass(frozen=True)
class UniversalInputs:
    """One content picture at the result's size (1, H, W, 3), the style pictures, the masks ((H, W) maps,
    one per style, or None) and the style weights (or None: equal)."""

    content: np.ndarray
    styles: list[np.ndarray]
    masks: list[np.ndarray] | None
    weights: list[float] | None


def load_content(path: Picture, longest: int | None) -> np.ndarray:
    """A content picture with its longest side `longest` px, or its own size for None (an array is returned
    as given)."""
    if isinstance(path, np.ndarray):
        return path
    raw = image_io.load_image(path)
    if longest is None:
        return raw
    return image_io.resize(raw, *image_io.fit_size(raw.shape[1], raw.shape[2], longest))


def load_style(path: Picture, longest: int) -> np.ndarray:
    """A style picture read at `longest` px on its longest side (an array is returned as given)."""
    return load_content(path, longest)


def load_mask(path: Picture, original: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """A mask picture as an (H, W) map in [0, 1] at the result's `size`; its aspect must match the content
    picture's `original` (height, width) within 2 %. An array is returned as given."""
    if isinstance(path, np.ndarray):
        return path
    mask = image_io.load_image(path)
    height, width = mask.shape[1:3]
    if abs(height / width - original[0] / original[1]) > 0.02 * original[0] / original[1]:
        raise ConfigError(
            f"{path}: a {width}x{height} mask does not fit the {original[1]}x{original[0]} content picture "
            "(give it the content's size or aspect ratio)"
        )
    return image_io.resize(mask, *size)[0].mean(axis=-1)


def load_universal_inputs(
    content: Picture, styles: Sequence[Picture], settings: UniversalSettings, style_pictures=None
) -> UniversalInputs:
    """Every picture of one stylization read, sized and checked (ConfigError/ImageError on the first bad one).

    `style_pictures`: the styles already loaded (a stream reads them once for all its content pictures).
    """
    settings.validate(styles=len(styles))
    if style_pictures is None:
        style_pictures = [load_style(path, settings.style_size) for path in styles]
    if isinstance(content, np.ndarray):
        picture, original = content, tuple(content.shape[1:3])
    else:
        picture = raw = image_io.load_image(content)
        if settings.image_size is not None:
            picture = image_io.resize(raw, *image_io.fit_size(raw.shape[1], raw.shape[2], settings.image_size))
        original = tuple(raw.shape[1:3])
    masks = None
    if settings.mask is not None:
        masks = [load_mask(m, original, tuple(picture.shape[1:3])) for m in settings.mask]
    weights = None if settings.weights_mix is None else list(settings.weights_mix)
    return UniversalInputs(picture, list(style_pictures), masks, weights)


def load_universal(settings: UniversalSettings):
    """The `Universal` model of `settings.method` with the shipped decoders, its graphs traced; its
    `decision` says which arithmetic `settings.precision` resolved to (nst_tf.perf.precision)."""
    from nst_tf.perf.precision import resolve_precision
    from nst_tf.universal.decoders import load_decoders
    from nst_tf.universal.stylize import Universal
    from nst_tf.vgg.weights import resolve_weights

    decoders = load_decoders(settings.method, levels=settings.levels)
    decision = resolve_precision(settings.precision)
    model = Universal(resolve_weights("imagenet-vgg16"), decoders, settings.method, precision=decision.precision)
    model.decision = decision
    model.warm_up()  # the graphs traced now, as part of loading: a Step's seconds are the stylization alone
    return model


def plan_inputs(model, inputs: UniversalInputs, settings: UniversalSettings):
    """The `nst_tf.perf.tiling.Plan` for this content under `settings.max_memory`: whole, or tiles (a masked
    stylization always runs whole: its statistics are per mask region)."""
    from nst_tf.perf.tiling import Plan, budget_bytes, plan_picture
    from nst_tf.universal.tiles import encoder_reach, memory_model

    height, width = inputs.content.shape[1:3]
    memory, budget = memory_model(model.method), budget_bytes(settings.max_memory)
    if inputs.masks is not None:
        return Plan(height, width, None, 0, 1, memory.fixed + memory.whole * height * width, budget)
    halo = 2 * encoder_reach(max(model.levels))
    return plan_picture(height, width, memory, budget, halo, 8, settings.tile)


def stylize_inputs(model, inputs: UniversalInputs, settings: UniversalSettings) -> tuple[np.ndarray, float]:
    """(the stylized picture (1, H, W, 3), the seconds it took) for one set of loaded inputs, whole or in
    the tiles `plan_inputs` plans (the plan's line is `model.plan_line` afterwards)."""
    plan = plan_inputs(model, inputs, settings)
    model.plan_line = plan.line(f"universal {model.method}")
    began = time.perf_counter()
    if plan.tile is not None:
        from nst_tf.perf.tiling import HEADROOM
        from nst_tf.universal.tiles import stylize_tiled

        spare = HEADROOM * plan.budget - plan.estimate  # what is left keeps the statistics pass's features
        args = (plan.tile, settings.alpha, inputs.weights, settings.preserve_colors)
        result = stylize_tiled(model, inputs.content, inputs.styles, *args, spare=spare)
        return result, time.perf_counter() - began
    result = model.stylize(
        inputs.content,
        inputs.styles,
        alpha=settings.alpha,
        style_weights=inputs.weights,
        masks=inputs.masks,
        preserve_colors=settings.preserve_colors,
    )
    return result, time.perf_counter() - began


def stylize_universal(
    contents: Iterable[Picture],
    styles: Sequence[Picture],
    settings: UniversalSettings | None = None,
    model=None,
    masks: Sequence[np.ndarray] | None = None,
) -> Iterator[Step]:
    """Stylize each content picture with the style picture(s), in one pass each (WCT or AdaIN).

    Args:
        contents: content pictures (paths, or (1, H, W, 3) arrays in [0, 1] used at their own size).
        styles: style pictures (paths read at `settings.style_size`, or arrays used as given).
        settings: method, strength, levels, sizes, masks, colours (default `UniversalSettings()`).
        model: a `Universal` from `load_universal(settings)` (made here when None).
        masks: (H, W) maps in [0, 1], one per style, for contents of that size (default: `settings.mask`'s
            pictures, fitted to each content picture).

    Yields:
        One Step per content picture: `image` the result, `seconds` since the stream began, `info`
        {"source", "seconds" (this picture's stylization alone), "decoders", "plan" (one line: whole or tiles
        within `settings.max_memory`)}.
    """
    settings = (settings or UniversalSettings()).validate(styles=len(styles))
    if masks is not None:
        settings = dataclasses.replace(settings, mask=tuple(masks))
    style_pictures = [load_style(path, settings.style_size) for path in styles]
    model = model or load_universal(settings)
    used = ",".join(decoder.name for decoder in model.decoders.values())  # which shipped decoders are used
    began = time.perf_counter()
    for index, content in enumerate(contents):
        inputs = load_universal_inputs(content, styles, settings, style_pictures)
        result, seconds = stylize_inputs(model, inputs, settings)
        source = None if isinstance(content, np.ndarray) else str(content)
        info = {"source": source, "seconds": seconds, "decoders": used, "plan": model.plan_line}
        yield Step(index, {}, time.perf_counter() - began, result, info=info)


def check_places(output: str | None, run_dir: str | None, overwrite: bool) -> RunFolder | None:
    """Refuse, before anything is written, an output picture or run folder that cannot be made or would
    replace what it may not (ConfigError, one line); returns the planned run folder (nothing created yet).

    The run folder follows the ownership rule (`nst_tf.universal.report.plan_run_folder`): `--overwrite`
    replaces only an earlier nst_tf run folder, never a folder of the user's.
    """
    if output:
        _check_output(output, overwrite)
    if not run_dir:
        return None
    from nst_tf.universal.report import plan_run_folder

    return plan_run_folder(run_dir, overwrite)


def _check_output(output: str, overwrite: bool) -> None:
    path = Path(output)
    if path.suffix.lower() not in PICTURE_SUFFIXES:
        raise ConfigError(f"-o {output}: give a picture file name ({', '.join(PICTURE_SUFFIXES)})")
    if path.is_dir():
        raise ConfigError(f"-o {output}: is a folder")
    if path.exists() and not overwrite:
        raise ConfigError(f"-o {output}: exists (use --overwrite to replace it)")
    if path.exists() and not path.is_file():
        raise ConfigError(f"-o {output}: not a regular file")
    _check_writable_parent(path, "-o")


def _check_writable_parent(path: Path, flag: str) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    existing = parent
    while not existing.exists():  # folders that will be made: the first existing ancestor must be writable
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {path}: cannot write in {existing}")
