"""A clip from a file to a file: everything checked first, then the route loaded, then frames streamed.

`plan_video(input, output, settings, overwrite, optimise)` checks the input (a readable video with a frame,
refused at once when it is not), the output (a video suffix, writable, never the input clip, an existing
file only with `overwrite`) and the settings, before TensorFlow is imported; `load_route(plan, settings,
model=…, style=…, optimise=…)` loads the per-style network, the universal model with the style picture, or
the optimisation route, and plans its frames within --max-memory (`nst_tf.video.memory`: whole frames or
tiles), so a bad model, picture or budget is refused before anything is written; `stylize_to_file`
is the Step stream (`nst_tf.video.stylize.stylize_video`) written into the output as it goes
(`nst_tf.video.io.write_clip`: frame rate, size and sound kept; a stop leaves a playable clip); `finish`
makes the command's summary and, with `--run-dir`, the run folder (`nst_tf.video.report`: config.json with the
settings, the input, the precision decision and the measure, and a preview strip).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from nst_tf.errors import ConfigError
from nst_tf.io.rundir import RunFolder
from nst_tf.records import Step
from nst_tf.video.io import VideoInfo, check_output, fit_even, probe
from nst_tf.video.report import Measure, plan_run_folder
from nst_tf.video.settings import VideoSettings

OPTIMISE_SIZE = 256  # the optimisation route's default longest side: a few seconds a frame on a CPU


@dataclass(frozen=True)
class VideoPlan:
    """A checked clip: the input's description, the output path, the result's (height, width) and the
    frame count asked for (None: all); with --run-dir the planned folder (not made yet) and its measure."""

    info: VideoInfo
    output: Path
    height: int
    width: int
    frames: int | None = None
    folder: RunFolder | None = None
    measure: Measure | None = None

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
    folder = plan_run_folder(settings.run_dir, overwrite, target) if settings.run_dir else None
    longest = settings.image_size or (OPTIMISE_SIZE if optimise else None)
    height, width = fit_even(info.height, info.width, longest)
    plan = VideoPlan(info, target, height, width, settings.frames, folder)
    return plan if folder is None else replace(plan, measure=Measure(plan.total))  # the total sizes the preview


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
    from nst_tf.video.memory import plan_frames

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
        route = routes.OptimisedRoute(load_image(optimise), config, later, settings.temporal_cost)
    route.decision = decision
    # whole frames or tiles within --max-memory (or what is free); refused here, before anything is written
    route.frame_plan = plan_frames(route, plan.height, plan.width, (plan.info.height, plan.info.width), settings)
    route.source = {"model": model, "style": style and str(style), "optimise": optimise and str(optimise)}
    return route


def stylize_to_file(plan: VideoPlan, route, settings: VideoSettings) -> Iterator[Step]:
    """Stylize the planned clip into its output: one Step per frame written (close it to finish early)."""
    from nst_tf.video.io import read_frames, write_clip
    from nst_tf.video.stylize import stylize_video

    frames = read_frames(plan.info.path, (plan.height, plan.width), settings.frames)
    if plan.measure is not None:
        frames = _measured(frames, stylize_video, route, settings, plan.measure)
        return write_clip(frames, plan.output, plan.info.fps, plan.info, settings.quality)
    steps = stylize_video(frames, route, not settings.no_temporal, settings.temporal_weight)
    return write_clip(steps, plan.output, plan.info.fps, plan.info, settings.quality)


def _measured(frames, stylize_video, route, settings: VideoSettings, measure: Measure) -> Iterator[Step]:
    """The Step stream, each frame's result handed to `measure` with its input as it passes."""
    seen: list[np.ndarray] = []

    def tee(stream):
        for frame in stream:  # stylize_video reads frame t, then yields its Step: seen[-1] is that frame
            seen[:] = [frame]
            yield frame

    for step in stylize_video(tee(frames), route, not settings.no_temporal, settings.temporal_weight):
        measure.observe(step.iteration, seen[-1], step.image)
        yield step


def finish(plan: VideoPlan, route, settings: VideoSettings, done: int, seconds: float, interrupted: bool) -> dict:
    """The command's summary of a clip written (or stopped), and with --run-dir its run folder."""
    info = plan.info
    summary = {
        "output": str(plan.output), "frames": done, "fps": info.fps, "width": plan.width, "height": plan.height,
        "audio": bool(info.audio_codec), "temporal": not settings.no_temporal, "seconds": round(seconds, 3),
        "seconds_per_frame": round(seconds / max(done, 1), 4), "interrupted": interrupted,
        "precision_decision": route.decision.to_dict(),
    }  # fmt: skip
    if (frame_plan := getattr(route, "frame_plan", None)) is not None:
        summary["memory_plan"] = frame_plan.to_dict()
    if plan.folder is not None and plan.measure is not None:
        from nst_tf.video.report import write_run_folder

        probe_record = {**asdict(info), "path": str(info.path), "frames": info.frames}
        record = {"command": "video", "status": "interrupted" if interrupted else "finished", "input": probe_record,
                  "route": getattr(route, "source", {}), "settings": asdict(settings), "summary": summary}  # fmt: skip
        summary["run_dir"] = str(write_run_folder(plan.folder, plan.measure, record))
        summary["warping_error"] = plan.measure.figures()["warping_error"]
    return summary
