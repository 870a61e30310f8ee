"""The web app's own temporary folder: uploads and job results, each reached by an opaque id only.

A `Workspace` makes one folder (`tempfile.mkdtemp`) and removes it at `close()`; everything the app writes
goes below it, under names it chose (random hex ids), so no name or path from the client ever reaches the
file system. An upload is streamed to disk in chunks and refused as soon as it passes the size limit (the
client's Content-Length is checked first, so an 80 MB body is refused before a byte of it is read); then
it is decoded by `nst_tf.io.images.load_image`, which checks the picture by its content, not its name (a
clip: ffmpeg must decode a frame of it and a still picture is refused, `check_clip` with
`nst_tf.video.io.still_picture`, as the `video` command refuses one; clips and pictures are kept apart).
The sample pictures and shipped networks are offered by name from fixed listings, never by path.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np

from nst_tf.errors import ConfigError, ImageError
from nst_tf.io import package_data

log = logging.getLogger(__name__)

UPLOAD_LIMIT = 50 * 1024 * 1024  # bytes: a 50 MB photo is already far beyond what the page can stylize
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
CLIP_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm")  # the samples folder's clips (images/bunny.mp4)
_ID = re.compile(r"[0-9a-f]{32}")
CLIP_SUFFIX = ".mp4"  # a stored clip's suffix: imageio's ffmpeg reader wants one; ffmpeg reads by content


class TooLarge(Exception):
    """An upload past the size limit (the app answers 413 with one line)."""


def new_id() -> str:
    """An opaque id: 32 random hex digits (128 bits), the only name a client ever uses."""
    return secrets.token_hex(16)


def is_id(text: str) -> bool:
    """Whether `text` has the form of an id (checked before any dictionary look-up)."""
    return bool(_ID.fullmatch(text))


def samples(suffixes: tuple[str, ...] = PICTURE_SUFFIXES) -> dict[str, Path]:
    """The package's sample pictures by file name (`chelsea.png`, ...), those present as files."""
    folder = package_data.package_path(package_data.SAMPLES)
    if not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.iterdir()) if p.suffix.lower() in suffixes and p.is_file()}


def sample_clips() -> dict[str, Path]:
    """The package's sample clips by file name (`bunny.mp4`): a clip to try the video route without one."""
    return samples(CLIP_SUFFIXES)


def shipped_networks() -> dict[str, dict]:
    """The shipped one-pass networks by name: {"folder": Path, "style": the painting it learnt, "licence"}."""
    import json

    found = {}
    for folder in sorted(package_data.models_dir().iterdir()):
        meta = folder / "model.json"
        if meta.is_file():
            style = json.loads(meta.read_text()).get("style", {})
            found[folder.name] = {"folder": folder, "style": style.get("file", ""), "licence": style.get("licence")}
    return found


def check_clip(path: Path) -> dict:
    """{"width", "height", "fps", "frames" (None: unknown), "audio"} of the clip at `path`, or ConfigError
    (one line, "the upload" in place of the server's path)."""
    from nst_tf.video.io import probe, still_picture

    if still_picture(path):  # before probe: the page's own hint
        raise ConfigError("the upload: a still picture, not a clip (pick it as the photo instead)")
    try:
        info = probe(path)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace(str(path), "the upload")) from None
    return {"width": info.width, "height": info.height, "fps": info.fps, "frames": info.frames,
            "audio": bool(info.audio_codec)}  # fmt: skip


class Workspace:
    """The app's temporary folder: `uploads/ID` (checked pictures) and `jobs/ID/` (a job's pictures)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="nst_tf-serve-"))
        (self.root / "uploads").mkdir()
        (self.root / "jobs").mkdir()
        (self.root / "thumbs").mkdir()
        self._uploads: dict[str, Path] = {}
        self._clips: dict[str, Path] = {}
        self._lock = threading.Lock()

    async def save_upload(
        self, chunks: AsyncIterator[bytes], declared: int | None, limit: int = UPLOAD_LIMIT, clip: bool = False
    ) -> dict:
        """Stream an upload to disk and check it is a picture (or with `clip`, a video); returns {"id", "width",
        "height"} (a clip's with "fps", "frames", "audio").

        Raises:
            TooLarge: `declared` (Content-Length) or the bytes received pass `limit`.
            ImageError, ConfigError: not a picture (a clip) nst_tf reads (one line, naming "the upload", not the
                server's path).
        """
        if declared is not None and declared > limit:
            raise TooLarge(f"the upload is {declared / 1e6:.0f} MB; the limit is {limit / 1e6:.0f} MB")
        upload_id = new_id()
        path = self.root / "uploads" / (upload_id + (CLIP_SUFFIX if clip else ""))
        received = 0
        try:
            with open(path, "xb") as handle:
                async for chunk in chunks:
                    received += len(chunk)
                    if received > limit:
                        raise TooLarge(f"the upload is over the limit of {limit / 1e6:.0f} MB")
                    handle.write(chunk)
            if clip:
                described = await asyncio.to_thread(check_clip, path)  # ffmpeg's probe: the server goes on
            else:
                picture = self.check_picture(path)
                described = {"width": int(picture.shape[2]), "height": int(picture.shape[1])}
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        with self._lock:
            (self._clips if clip else self._uploads)[upload_id] = path
        return {"id": upload_id, **described}

    @staticmethod
    def check_picture(path: Path) -> np.ndarray:
        """The picture at `path` (1, H, W, 3), or ImageError with the server's path replaced by "the upload"."""
        from nst_tf.io.images import load_image

        try:
            return load_image(path)
        except ImageError as exc:
            raise ImageError(str(exc).replace(str(path), "the upload")) from None

    def upload(self, upload_id: str) -> Path | None:
        """The stored upload of this id, or None."""
        with self._lock:
            return self._uploads.get(upload_id) if is_id(upload_id) else None

    def clip(self, upload_id: str) -> Path | None:
        """The stored clip of this id, or None."""
        with self._lock:
            return self._clips.get(upload_id) if is_id(upload_id) else None

    def job_folder(self, job_id: str) -> Path:
        """A new folder for a job's pictures (the id is the app's own)."""
        folder = self.root / "jobs" / job_id
        folder.mkdir()
        return folder

    def close(self) -> None:
        """Remove the folder and everything in it (only the app wrote there)."""
        shutil.rmtree(self.root, ignore_errors=True)
