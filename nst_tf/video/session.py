"""A clip from a file to a file: everything checked first, then the route loaded, then frames streamed.

`plan_video(input, output, settings, overwrite, optimise)` checks the input (a readable video with a frame,
refused at once when it is not), the output (a video suffix, writable, never the input clip, an existing
file only with `overwrite`) and the settings, before TensorFlow is imported; `load_route(plan, settings,
model=…, style=…, optimise=…)` loads the per-style network, the universal model with the style picture, or
the optimisation route, so a bad model or picture is refused before anything is written; `stylize_to_file`
is the Step stream (`nst_tf.video.stylize.stylize_video`) written into the output as it goes
(`nst_tf.video.io.write_clip`: frame rate, size and sound kept; a stop leaves a playable clip).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nst_tf.errors import ConfigError
from nst_tf.records import Step
from nst_tf.video.io import VideoInfo, check_output, fit_even, probe
from nst_tf.video.settings import VideoSettings

OPTIMISE_SIZE = 256  # the optimisation route's default longest side: a few seconds a frame on a CPU


@dataclass(frozen=True)
class VideoPlan:
    """A checked clip: the input's description, the output path, the result's (height, width) and the
    frame count asked for (None: all)."""

    info: VideoInfo
    output: Path
    height: int
    width: int
    frames: int | None = None

    @property
    def total(self) -> int | None:
        """How many frames the stream will make, as far as the input says (None: unknown)."""
        known = [n for n in (self.info.frames, self.frames) if n]
        return min(known) if known else None


def plan_video(
    source: str | os.PathLike, output: str | os.PathLike, settings: VideoSettings, overwrite: bool, optimise: bool
) -> VideoPlan:
    """Check everything a clip needs before any work (ConfigError, one line, on the first problem)."""
    settings.validate()
    target = check_output(output, overwrite)
    info = probe(source)
    if target.exists() and os.path.samefile(target, info.path):  # --overwrite is no consent to lose the input
        raise ConfigError(f"-o {target}: is the input clip; write the result elsewhere")
    longest = settings.image_size or (OPTIMISE_SIZE if optimise else None)
    height, width = fit_even(info.height, info.width, longest)
    return VideoPlan(info, target, height, width, settings.frames)


def load_route(
    plan: VideoPlan,
    settings: VideoSettings,
    model: str | None = None,
    style: str | os.PathLike | None = None,
    optimise: str | os.PathLike | None = None,
):
    """The route of exactly one of `model` (a per-style network), `style` (universal) or `optimise`, computing
    in `settings.precision` resolved once for this machine (the route's `decision` says what and why)."""
    from nst_tf.io.images import fit_size, load_image, resize
    from nst_tf.perf.precision import resolve_precision
    from nst_tf.video import routes

    if sum(x is not None for x in (model, style, optimise)) != 1:
        raise ConfigError("give exactly one of --model, --style or --optimise")
    decision = resolve_precision(settings.precision)
    if model is not None:
        route = routes.NetworkRoute(model, precision=decision.precision)
        route.check(plan.height, plan.width)
    elif style is not None:
        picture = load_image(style)
        picture = resize(picture, *fit_size(picture.shape[1], picture.shape[2], settings.style_size))
        route = routes.UniversalRoute(settings.method, picture, precision=decision.precision)
    else:
        from nst_tf.config import Config

        later = settings.later_iterations or max(1, settings.iterations // 4)
        config = Config(iterations=settings.iterations, precision=decision.precision).validated()
        route = routes.OptimisedRoute(load_image(optimise), config, later)
    route.decision = decision
    return route


def stylize_to_file(plan: VideoPlan, route, settings: VideoSettings) -> Iterator[Step]:
    """Stylize the planned clip into its output: one Step per frame written (close it to finish early)."""
    from nst_tf.video.io import read_frames, write_clip
    from nst_tf.video.stylize import stylize_video

    frames = read_frames(plan.info.path, (plan.height, plan.width), settings.frames)
    steps = stylize_video(frames, route, not settings.no_temporal, settings.temporal_weight)
    return write_clip(steps, plan.output, plan.info.fps, plan.info)
