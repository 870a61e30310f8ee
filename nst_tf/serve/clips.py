"""The page's video route: a short uploaded clip through a shipped network or a painting, frame by frame.

The upload is checked by content in `nst_tf.serve.workspace.check_clip`; a request may name the package's sample
clip instead ({"clip": {"sample": "bunny.mp4"}}, `workspace.sample_clips`). `plan_video_job(request,
workspace, models)` checks a {"route": "video", ...} job request completely (the clip, "via" a network or a
painting, the size and frame bounds below) and returns the job's `work(job)` generator: it plans the clip with
`nst_tf.video.session.plan_video`, builds the route (`nst_tf.video.routes`: a per-style network, or AdaIN/WCT
reusing the session's loaded model) and streams the library's entry (`session.stylize_to_file`: frames read,
`stylize_video`, written into `result.mp4` in the job's folder), yielding {"type": "frame", "done", "total",
"fps"} per frame and one {"type": "result", "kind": "video", ...} at the end. Temporal consistency is on unless
the request says {"temporal": false}, as `video`'s default. A cancelled job's partial clip is removed (the page
shows nothing for it); a failed one leaves none (`nst_tf.video.io.VideoWriter`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from nst_tf.errors import ConfigError
from nst_tf.serve.checks import METHODS, number, picture_ref
from nst_tf.serve.workspace import Workspace, sample_clips, shipped_networks

if TYPE_CHECKING:  # both import at run time inside the functions (routes imports this module)
    from nst_tf.serve.routes import Models
    from nst_tf.video.settings import VideoSettings

log = logging.getLogger(__name__)

VIAS = ("network", "painting")
# Bounds that keep a clip a job of seconds to a minute on a few cores (measured on the page: the_scream made
# 17-21 frames a second at 256x192, flow and blend included, Xeon Sapphire Rapids, 2 shared cores, load 4);
# the CLI (`video`) has no such bounds.
VIDEO_SIZE_RANGE = (32, 512)  # px, the frames' longest side
FRAME_RANGE = (1, 240)  # frames stylized at most (10 s at 24 fps)
DEFAULT_FRAMES, DEFAULT_SIZE = 48, 256


def plan_video_job(request: dict, workspace: Workspace, models: Models) -> Callable:
    """The work of a checked video job request (module doc); ConfigError (one line) for bad input."""
    from nst_tf.video.settings import VideoSettings

    path = _clip_path(request.get("clip"), workspace)
    if request.get("via") not in VIAS:
        raise ConfigError(f"via must be one of {', '.join(VIAS)}")
    temporal = request.get("temporal", True)
    if not isinstance(temporal, bool):
        raise ConfigError(f"temporal must be true or false, not {temporal!r}")
    size = number(request, "size", int, VIDEO_SIZE_RANGE, DEFAULT_SIZE)
    frames = number(request, "frames", int, FRAME_RANGE, DEFAULT_FRAMES)
    if request["via"] == "network":
        if request.get("model") not in shipped_networks():
            raise ConfigError(f"model must be one of {', '.join(shipped_networks())}")
        settings = VideoSettings(image_size=size, frames=frames, no_temporal=not temporal)
        return video_work(models, path, settings, model=request["model"])
    style = picture_ref(request.get("style"), workspace, "style")
    if request.get("method") not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}")
    alpha = number(request, "alpha", float, (0.0, 1.0), 1.0)
    settings = VideoSettings(method=request["method"], image_size=size, frames=frames, no_temporal=not temporal)
    return video_work(models, path, settings, style=style, alpha=alpha)


def _clip_path(clip: object, workspace: Workspace) -> Path:
    """The clip a request names: {"upload": id} (checked when it came) or {"sample": name} (package data)."""
    if isinstance(clip, dict) and isinstance(clip.get("sample"), str):
        found = sample_clips().get(clip["sample"])
        if found is None:
            raise ConfigError(f"no sample clip {clip['sample'][:40]!r}; choose from {', '.join(sample_clips())}")
        return found
    path = workspace.clip(clip["upload"]) if isinstance(clip, dict) and isinstance(clip.get("upload"), str) else None
    if path is None:
        raise ConfigError("no such upload for the clip (uploads last one session)")
    return path


def _route(models: Models, settings: VideoSettings, model: str | None, style: Path | None, alpha: float):
    """The per-frame route: the session's network of that name, or AdaIN/WCT on the session's loaded model."""
    if model is not None:
        return models.network_route(model)
    from nst_tf.io.images import fit_size, load_image, resize
    from nst_tf.universal.settings import UniversalSettings
    from nst_tf.video.routes import UniversalRoute

    picture = load_image(style)
    picture = resize(picture, *fit_size(picture.shape[1], picture.shape[2], settings.style_size))
    universal = models.universal(UniversalSettings(method=settings.method))
    return UniversalRoute(settings.method, picture, alpha, model=universal)


def video_work(
    models: Models,
    clip: Path,
    settings: VideoSettings,
    model: str | None = None,
    style: Path | None = None,
    alpha: float = 1.0,
) -> Callable:
    """The job's work: the clip through the network `model` or the painting `style` (module doc)."""

    def work(job) -> Iterator[dict]:
        from nst_tf.video import session

        plan = session.plan_video(clip, job.folder / "result.mp4", settings, overwrite=False, optimise=False)
        what = f"the {model} network" if model else f"the {settings.method.upper()} model and the painting"
        yield {"type": "status", "message": f"loading {what}"}
        route = _route(models, settings, model, style, alpha)
        if model is not None:
            route.check(plan.height, plan.width)
        total = plan.total or settings.frames
        yield {"type": "frame", "done": 0, "total": total, "fps": 0.0}
        steps = session.stylize_to_file(plan, route, settings)
        done, seconds = 0, 0.0
        try:
            for step in steps:
                done, seconds = step.iteration + 1, step.seconds
                fps = round(done / seconds, 2) if seconds > 0 else 0.0
                yield {"type": "frame", "done": done, "total": max(total, done), "fps": fps}
        except GeneratorExit:  # cancelled: the writer finishes the frames so far; the page wants none of it
            try:
                steps.close()
            except Exception:  # a failing ffmpeg must not escape into the worker's close of this job
                log.exception("finishing a cancelled clip failed")
            finally:
                plan.output.unlink(missing_ok=True)
            raise
        job.result = plan.output
        yield {"type": "result", "kind": "video", "url": f"/api/jobs/{job.id}/result.mp4", "width": plan.width,
               "height": plan.height, "frames": done, "fps": plan.info.fps, "temporal": not settings.no_temporal,
               "seconds": round(seconds, 3)}  # fmt: skip

    return work
