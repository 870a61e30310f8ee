"""The page's three ways of making a picture, as calls to the library entries, and the checks before them.

`plan_job(request, workspace)` checks a job request (JSON from the page) completely — the route, the
pictures it names (an upload id or a sample's name, never a path), the numbers — and returns the route and
a `work(job)` generator for `nst_tf.serve.jobs`; bad input is a `ConfigError` (one line, 400) before
anything runs. The routes:

- "network": a shipped one-pass network (`nst_tf.feedforward.apply.load_stylizer` + `stylize_photos`);
- "painting": any style picture in one pass (`nst_tf.universal.stream.load_universal` +
  `stylize_universal`; AdaIN or WCT, strength = alpha);
- "optimise": optimising the picture (`nst_tf.optim.engine.stylize` with a preset's `Config`), streaming
  each step's costs and every snapshot;
- "video": a short clip through a network or a painting, frame by frame (`nst_tf.serve.clips`).

Each work generator yields plain event dicts ({"type": "step" | "snapshot" | "result" | "score", ...}) that
the page reads from the server-sent stream; the result is `result.png` (a clip's `result.mp4`) in the job's
folder. Loaded networks are kept in `Models` for the session (loading and tracing costs seconds; stylizing,
less).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from nst_tf.errors import ConfigError
from nst_tf.presets import PRESETS
from nst_tf.serve.checks import METHODS, number, picture_ref
from nst_tf.serve.clips import plan_video_job
from nst_tf.serve.workspace import Workspace, samples, shipped_networks

ROUTES = ("network", "painting", "optimise", "video")
SIZE_RANGE = (32, 1024)  # px, longest side: below 32 VGG's pooling leaves nothing; above, minutes per picture
ITERATION_RANGE = (1, 1000)
SNAPSHOTS = 10  # snapshots streamed per optimisation run (about), so the picture visibly forms


class Models:
    """Networks loaded once per session (only the worker thread touches them)."""

    def __init__(self) -> None:
        self._stylizers: dict[str, object] = {}
        self._universal: dict[str, object] = {}
        self._network_routes: dict[str, object] = {}

    def stylizer(self, name: str):
        if name not in self._stylizers:
            from nst_tf.feedforward.apply import load_stylizer

            self._stylizers[name] = load_stylizer(shipped_networks()[name]["folder"])
        return self._stylizers[name]

    def network_route(self, name: str):
        """A shipped network as a video route (`nst_tf.video.routes.NetworkRoute`), loaded once."""
        if name not in self._network_routes:
            from nst_tf.perf.precision import resolve_precision
            from nst_tf.video.routes import NetworkRoute

            route = NetworkRoute(str(shipped_networks()[name]["folder"]), resolve_precision("auto").precision)
            self._network_routes[name] = route
        return self._network_routes[name]

    def universal(self, settings):
        if settings.method not in self._universal:
            from nst_tf.universal.stream import load_universal

            self._universal[settings.method] = load_universal(settings)
        return self._universal[settings.method]


def plan_job(request: object, workspace: Workspace, models: Models) -> tuple[str, Callable]:
    """(route, work) for a job request, every part checked; ConfigError (one line) for bad input."""
    if not isinstance(request, dict) or request.get("route") not in ROUTES:
        raise ConfigError(f"route must be one of {', '.join(ROUTES)}")
    route = request["route"]
    if route == "video":
        return route, plan_video_job(request, workspace, models)
    content = picture_ref(request.get("content"), workspace, "content")
    size = number(request, "size", int, SIZE_RANGE, 256)
    if route == "network":
        if request.get("model") not in shipped_networks():
            raise ConfigError(f"model must be one of {', '.join(shipped_networks())}")
        return route, network_work(models, request["model"], content, size)
    style = picture_ref(request.get("style"), workspace, "style")
    if route == "painting":
        if request.get("method") not in METHODS:
            raise ConfigError(f"method must be one of {', '.join(METHODS)}")
        alpha = number(request, "alpha", float, (0.0, 1.0), 1.0)
        return route, painting_work(models, request["method"], alpha, content, style, size)
    if request.get("preset", "default") not in PRESETS:
        raise ConfigError(f"preset must be one of {', '.join(PRESETS)}")
    iterations = number(request, "iterations", int, ITERATION_RANGE, 50)
    return route, optimise_work(request.get("preset", "default"), iterations, content, style, size)


def _result(job, image, seconds: float) -> dict:
    from nst_tf.io.images import save_image

    job.result = save_image(image, job.folder / "result.png")
    height, width = image.shape[1:3]
    url = f"/api/jobs/{job.id}/result.png"
    return {"type": "result", "url": url, "width": int(width), "height": int(height), "seconds": round(seconds, 3)}


def _score(image, content: Path, style: Path) -> dict:
    from nst_tf.io.images import load_image
    from nst_tf.score import score_pictures

    report = score_pictures(image, load_image(content), load_image(style))
    return {"type": "score", "content_distance": report["content_distance"], "style_distance": report["style_distance"]}


def network_work(models: Models, name: str, content: Path, size: int) -> Callable:
    def work(job) -> Iterator[dict]:
        from nst_tf.feedforward.apply import stylize_photos
        from nst_tf.feedforward.settings import ApplySettings

        yield {"type": "status", "message": f"loading the {name} network"}
        stylizer = models.stylizer(name)
        step = next(stylize_photos(stylizer, [content], ApplySettings(image_size=size)))
        yield _result(job, step.image, step.info["seconds"])
        # the painting a shipped network learnt is not shipped, so there is no style picture to score against
        yield {"type": "score", "message": "no score: the network's style picture is not shipped with it"}

    return work


def painting_work(models: Models, method: str, alpha: float, content: Path, style: Path, size: int) -> Callable:
    def work(job) -> Iterator[dict]:
        from nst_tf.universal.settings import UniversalSettings
        from nst_tf.universal.stream import stylize_universal

        settings = UniversalSettings(method=method, alpha=alpha, image_size=size)
        yield {"type": "status", "message": f"loading the {method.upper()} decoders"}
        model = models.universal(settings)
        step = next(stylize_universal([content], [style], settings, model=model))
        yield _result(job, step.image, step.info["seconds"])
        yield _score(step.image, content, style)

    return work


def optimise_work(preset_name: str, iterations: int, content: Path, style: Path, size: int) -> Callable:
    def work(job) -> Iterator[dict]:
        from nst_tf.io.images import load_image, save_image
        from nst_tf.optim.engine import stylize
        from nst_tf.presets import preset

        every = max(1, iterations // SNAPSHOTS)
        config = preset(preset_name).replace(iterations=iterations, image_size=size, snapshot_every=every)
        yield {"type": "status", "message": "building the feature extractor"}
        last = None
        for step in stylize(load_image(content), load_image(style), config):
            event = {"type": "step", "iteration": step.iteration, "seconds": round(step.seconds, 3)}
            event["costs"] = {name: float(value) for name, value in step.costs.items()}
            if step.image is not None:
                last = step
                save_image(step.image, job.folder / "snapshot.png")
                event["snapshot"] = f"/api/jobs/{job.id}/snapshot.png?step={step.iteration}"
            yield event
        if last is not None:
            yield _result(job, last.image, last.seconds)
            yield _score(last.image, content, style)

    return work


THUMB_SAMPLE, THUMB_SIZE = "chelsea.png", 96


def thumbnail(models: Models, name: str, folder: Path) -> Path:
    """A shipped network's thumbnail: its output on a sample picture (its painting is not shipped), cached
    in `folder` for the session. Call with the queue's compute lock held."""
    from nst_tf.feedforward.apply import stylize_photos
    from nst_tf.feedforward.settings import ApplySettings
    from nst_tf.io.images import save_image

    path = folder / f"{name}.png"
    if not path.is_file():
        step = next(stylize_photos(models.stylizer(name), [samples()[THUMB_SAMPLE]], ApplySettings(THUMB_SIZE)))
        save_image(step.image, path)
    return path
