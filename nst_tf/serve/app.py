"""The Starlette application behind `python -m nst_tf serve`: the page, a small JSON API, progress as SSE.

Why this stack: Starlette is a small, well-kept ASGI toolkit (no template engine, no front-end build) and
uvicorn its usual server; the page is one hand-written HTML file with a plain script and style sheet that
the app serves itself, so it works offline (no CDN, no fonts fetched) and a headless browser can drive it.
Progress flows one way, server to page, so server-sent events (`EventSource`, reconnection built in) fit
better than a WebSocket; Starlette's `TestClient` and a live uvicorn test the API without a browser.

Safety: every file the app reads or writes is below its `Workspace` or one of the package's fixed
listings (samples, shipped networks, the page's three files), always looked up by an opaque id or a listed
name, never joined from a client's string; uploads (pictures; clips at /api/clips) are limited to 50 MB
(refused by Content-Length before the body is read, or as soon as the streamed bytes pass it) and checked by
content; every error is one JSON line ({"error": ...}) and never a traceback; jobs run one at a time
(`nst_tf.serve.jobs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from nst_tf.errors import NSTError
from nst_tf.presets import PRESETS
from nst_tf.serve import clips, routes
from nst_tf.serve.jobs import FINAL, Job, JobQueue
from nst_tf.serve.workspace import (
    UPLOAD_LIMIT,
    TooLarge,
    Workspace,
    is_id,
    new_id,
    sample_clips,
    samples,
    shipped_networks,
)

log = logging.getLogger(__name__)

PAGE_FILES = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}
JSON_LIMIT = 64 * 1024  # bytes: a job request is a few hundred
NO_STORE = {"Cache-Control": "no-store"}
JOB_FILES = {"result.png": "image/png", "snapshot.png": "image/png", "result.mp4": "video/mp4"}  # all it serves


def error(message: str, status: int) -> JSONResponse:
    """The one shape of every refusal and failure: {"error": one line}."""
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


def _page_file(name: str) -> Response:
    text = resources.files("nst_tf.serve").joinpath("page", name).read_text(encoding="utf-8")
    return Response(text, media_type=PAGE_FILES[name])


def _job(request: Request) -> Job:
    job_id = request.path_params["job_id"]
    job = request.app.state.queue.jobs.get(job_id) if is_id(job_id) else None
    if job is None:
        raise HTTPException(404, "no such job")
    return job


async def index(request: Request) -> Response:
    return _page_file("index.html")


async def page_file(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in PAGE_FILES or name == "index.html":
        raise HTTPException(404, "no such file")
    return _page_file(name)


async def options(request: Request) -> JSONResponse:
    networks = [
        {"name": name, "style": info["style"], "thumb": f"/api/networks/{name}/thumb.png"}
        for name, info in shipped_networks().items()
    ]
    return JSONResponse(
        {
            "samples": list(samples()),
            "clips": list(sample_clips()),
            "networks": networks,
            "methods": list(routes.METHODS),
            "presets": list(PRESETS),
            "upload_limit": UPLOAD_LIMIT,
            "size_range": list(routes.SIZE_RANGE),
            "iteration_range": list(routes.ITERATION_RANGE),
            "video": {
                "size_range": list(clips.VIDEO_SIZE_RANGE),
                "frame_range": list(clips.FRAME_RANGE),
                "frames": clips.DEFAULT_FRAMES,
            },  # fmt: skip
        }
    )


async def sample(request: Request) -> Response:
    name = request.path_params["name"]
    found = samples().get(name) or sample_clips().get(name)
    if found is None:
        raise HTTPException(404, "no such sample")
    return FileResponse(found)


async def network_thumb(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in shipped_networks():
        raise HTTPException(404, "no such network")
    state = request.app.state

    def make():
        with state.queue.compute:  # never beside a running job: one thing computes at a time
            return routes.thumbnail(state.models, name, state.workspace.root / "thumbs")

    return FileResponse(await run_in_threadpool(make))


def _declared_length(request: Request) -> int | None:
    text = request.headers.get("content-length")
    if text is None:
        return None
    if not text.isdigit():
        raise HTTPException(400, "bad Content-Length")
    return int(text)


async def upload(request: Request) -> JSONResponse:
    """The picture (at /api/clips: the clip) is the raw request body (the page sends the File as it is; no
    multipart to parse)."""
    clip = request.url.path == "/api/clips"
    try:
        saved = await request.app.state.workspace.save_upload(request.stream(), _declared_length(request), clip=clip)
    except TooLarge as exc:
        # Connection: close, because the rest of the body is never read
        return JSONResponse({"error": str(exc)}, status_code=413, headers={"Connection": "close"})
    return JSONResponse(saved, status_code=201)


async def create_job(request: Request) -> JSONResponse:
    length = _declared_length(request)
    if length is None or length > JSON_LIMIT:
        return error(f"a job request is JSON of at most {JSON_LIMIT} bytes, with its Content-Length", 413)
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error("the job request is not JSON", 400)
    state = request.app.state
    route, work = routes.plan_job(body, state.workspace, state.models)
    job_id = new_id()
    job = state.queue.submit(Job(job_id, route, state.workspace.job_folder(job_id), work))
    return JSONResponse({"id": job.id, "events": f"/api/jobs/{job.id}/events"}, status_code=202)


async def job_status(request: Request) -> JSONResponse:
    job = _job(request)
    return JSONResponse({"id": job.id, "route": job.route, "state": job.state, "events": job.events})


async def job_events(request: Request) -> StreamingResponse:
    """Server-sent events: every event of the job so far, then each new one, ending after the final one."""
    job = _job(request)

    async def stream():
        sent = 0
        while True:
            while sent < len(job.events):
                event = job.events[sent]
                sent += 1
                yield f"data: {json.dumps(event)}\n\n"
                if event["type"] in FINAL:
                    return
            await asyncio.sleep(0.1)  # polling a list is simpler than a thread-to-loop signal, and cheap

    return StreamingResponse(stream(), media_type="text/event-stream", headers=NO_STORE)


async def cancel_job(request: Request) -> JSONResponse:
    job = _job(request)
    request.app.state.queue.cancel(job)
    return JSONResponse({"id": job.id, "state": job.state})


async def job_file(request: Request) -> Response:
    job = _job(request)
    which = request.path_params["which"]
    if which not in JOB_FILES:  # three fixed names; nothing else of the folder is served
        raise HTTPException(404, "no such picture")
    path = job.folder / which
    if not path.is_file():
        raise HTTPException(404, "no picture yet")
    headers = dict(NO_STORE)
    if request.query_params.get("download"):
        suffix = Path(which).suffix
        headers["Content-Disposition"] = f'attachment; filename="nst_tf-{job.route}-{job.id[:8]}{suffix}"'
    return FileResponse(path, media_type=JOB_FILES[which], headers=headers)


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return error(exc.detail, exc.status_code)


async def bad_input(request: Request, exc: NSTError) -> JSONResponse:
    return error(str(exc), 400)


class OneLineErrors:
    """ASGI middleware: an unexpected exception becomes {"error": "internal error: TYPE"} (500), its traceback
    goes to the server's log, and the connection stays usable (Starlette's own last-resort handler answers
    too, but then re-raises, and uvicorn drops the connection)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracking_send(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.exception("request %s failed", scope.get("path"))
            if started:  # half an answer is out: nothing clean can follow it
                raise
            await error(f"internal error: {type(exc).__name__}", 500)(scope, receive, send)


def create_app() -> Starlette:
    """A new application with its own workspace and job queue (removed when the app shuts down)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        try:
            yield
        finally:
            close(app)

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/page/{name}", page_file),
            Route("/api/options", options),
            Route("/api/samples/{name}", sample),
            Route("/api/networks/{name}/thumb.png", network_thumb),
            Route("/api/uploads", upload, methods=["POST"]),
            Route("/api/clips", upload, methods=["POST"]),
            Route("/api/jobs", create_job, methods=["POST"]),
            Route("/api/jobs/{job_id}", job_status),
            Route("/api/jobs/{job_id}/events", job_events),
            Route("/api/jobs/{job_id}/cancel", cancel_job, methods=["POST"]),
            Route("/api/jobs/{job_id}/{which:str}", job_file),
        ],
        middleware=[Middleware(OneLineErrors)],
        exception_handlers={HTTPException: http_error, NSTError: bad_input},
        lifespan=lifespan,
    )
    app.state.workspace = Workspace()
    app.state.queue = JobQueue()
    app.state.models = routes.Models()
    return app


def close(app: Starlette) -> None:
    """Stop the worker and remove the workspace (idempotent)."""
    app.state.queue.close()
    app.state.workspace.close()
