"""Video files in and out: `probe` (checks and describes an input), `read_frames`, `VideoWriter`.

A still picture is no clip, though ffmpeg reads a PNG or a JPEG as one frame: `still_picture` tells it by its
content (what Pillow opens as one frame), and `probe` refuses it; the command and the web page share this
check. A one-frame clip in a video container is a clip (as `--frames 1` of a longer one is).

Everything goes through `imageio` with `imageio-ffmpeg` (its wheel carries an ffmpeg binary), so any
format that ffmpeg reads is an input. Frames are (1, H, W, 3) float32 RGB in [0, 1], the project's picture
layout. `VideoWriter` writes to a temporary file beside the output and moves it into place when closed, so
the output's name holds either nothing or a whole, playable video; the input's audio track is muxed in by the
same ffmpeg process (`-shortest`: a clip stopped early by Ctrl-C keeps the sound of the frames it has).
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nst_tf.errors import ConfigError
from nst_tf.io.places import probe_writable

log = logging.getLogger(__name__)

# imageio-ffmpeg's quality scale (1-10): 8 is H.264 CRF 10, near-lossless, so the flicker measured on a decoded
# clip is the stylization's, not the encoder's; 5 (CRF 25) makes files about 5-10x smaller.
QUALITY = 8.0

# Containers the writer makes, and the video codec each gets (H.264 plays everywhere; WebM needs VP9).
VIDEO_SUFFIXES = {".mp4": "libx264", ".m4v": "libx264", ".mov": "libx264", ".mkv": "libx264", ".webm": "libvpx-vp9"}
# Audio codecs that go into our containers unchanged; others are re-encoded with the container's default.
_COPYABLE_AUDIO = {"aac", "mp3", "ac3", "alac", "opus", "vorbis", "flac"}
_COPY_CONTAINERS = {".mp4", ".m4v", ".mov", ".mkv"}


@dataclass(frozen=True)
class VideoInfo:
    """What the writer needs to know of an input clip.

    Attributes:
        path: the file.
        fps: frames per second.
        width, height: the frames' size in px.
        duration: seconds, as ffmpeg reports it (0.0 when unknown).
        audio_codec: the first audio track's codec, or None without sound.
    """

    path: Path
    fps: float
    width: int
    height: int
    duration: float
    audio_codec: str | None

    @property
    def frames(self) -> int | None:
        """The frame count that fps × duration gives (an estimate: containers may not say exactly); None when
        the file does not say its duration."""
        return max(1, round(self.fps * self.duration)) if self.duration > 0 else None


def _reader(path: Path):
    import imageio.v2 as imageio

    try:
        return imageio.get_reader(str(path), format="ffmpeg")
    except Exception as exc:  # imageio raises OSError, RuntimeError or its own; all mean "not a video"
        raise ConfigError(f"{path}: not a video ffmpeg can read ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


def check_input(path: str | os.PathLike) -> Path:
    """The input path if it is a regular, readable file (a FIFO or a device would block ffmpeg)."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{path}: not a regular file (a video file is needed)")
    if not os.access(path, os.R_OK):
        raise ConfigError(f"{path}: cannot read (permission denied)")
    return path


# Formats Pillow identifies but that hold video: an MPEG-1/2 elementary stream (.m1v, .m2v) opens as "MPEG" (its
# sequence header read for the size alone), one frame as far as Pillow knows, though ffmpeg reads every frame.
_MOVING_FORMATS = {"MPEG"}


def still_picture(path: str | os.PathLike) -> bool:
    """Whether `path` is a picture of one frame, by its content (an animated GIF or WebP is a clip)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as picture:
            return getattr(picture, "n_frames", 1) == 1 and picture.format not in _MOVING_FORMATS
    except (UnidentifiedImageError, OSError, ValueError):
        return False


def probe(path: str | os.PathLike) -> VideoInfo:
    """Check that `path` is a video with at least one frame, not a still picture, and describe it; ConfigError
    otherwise."""
    path = check_input(path)
    if still_picture(path):
        raise ConfigError(f"{path}: a still picture, not a clip (pictures go to apply, universal or run)")
    reader = _reader(path)
    try:
        meta = reader.get_meta_data()
        try:
            first = reader.get_next_data()
        except (StopIteration, IndexError):
            raise ConfigError(f"{path}: the video has no frames") from None
        except Exception as exc:
            raise ConfigError(f"{path}: cannot decode a frame ({_first_line(exc)})") from None
    finally:
        reader.close()
    fps = float(meta.get("fps") or 0.0)
    if not np.isfinite(fps) or fps <= 0:
        raise ConfigError(f"{path}: the video does not say its frame rate")
    height, width = first.shape[:2]
    duration = float(meta.get("duration") or 0.0)
    return VideoInfo(path, fps, int(width), int(height), duration if np.isfinite(duration) else 0.0,
                     meta.get("audio_codec"))  # fmt: skip


def fit_even(height: int, width: int, longest: int | None) -> tuple[int, int]:
    """(height, width) with the longest side `longest` (aspect kept; None: unchanged), both even (4:2:0 video)."""
    if longest is not None:
        scale = longest / max(height, width)
        height, width = max(2, round(height * scale)), max(2, round(width * scale))
    return height - height % 2, width - width % 2


def read_frames(
    path: str | os.PathLike, size: tuple[int, int] | None = None, limit: int | None = None
) -> Iterator[np.ndarray]:
    """The clip's frames, (1, H, W, 3) float32 in [0, 1], resized to `size` (height, width) if given.

    Args:
        path: a video file (check it with `probe` first).
        size: (height, width) to resize each frame to (area averaging), or None for the file's own.
        limit: stop after this many frames (None: all).
    """
    import cv2

    reader = _reader(Path(path))
    try:
        for index, frame in enumerate(reader):
            if limit is not None and index >= limit:
                break
            frame = np.asarray(frame)[..., :3]
            if size is not None and frame.shape[:2] != tuple(size):
                frame = cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_AREA)
            yield (frame.astype(np.float32) / 255.0)[np.newaxis]
    finally:
        reader.close()


def check_output(path: str | os.PathLike, overwrite: bool) -> Path:
    """The output path if nst_tf may write it: a known video suffix, a writable folder, and no existing file
    unless `overwrite` (the user's consent to replace that one regular file). ConfigError otherwise."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ConfigError(f"-o {path}: give a video file name ({', '.join(VIDEO_SUFFIXES)})")
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise ConfigError(f"-o {path}: exists (use --overwrite to replace it)")
        if not path.is_file() or path.is_symlink():
            raise ConfigError(f"-o {path}: exists and is not a regular file")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"-o {path}: no folder {folder}")
    # a real probe (a folder made and removed), not os.access: root passes access() on /proc and read-only mounts
    probe_writable(folder, "-o", path)
    return path


class VideoWriter:
    """Frames into a video file at `fps`, with `audio_from`'s sound track; atomic (see module doc).

    Use as a context manager: leaving it normally, by Ctrl-C (KeyboardInterrupt) or by a generator's close
    (GeneratorExit) finishes the file with the frames written so far and moves it into place; any other
    exception removes the temporary file and leaves the output's name untouched.
    """

    def __init__(
        self, path: str | os.PathLike, fps: float, audio_from: VideoInfo | None = None, quality: float = QUALITY
    ) -> None:
        self.path = Path(path)
        self.fps = fps
        self.quality = quality
        self.audio_from = audio_from
        self.frames = 0
        self._writer = None
        suffix = self.path.suffix
        try:
            fd, name = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=f".part{suffix}", dir=self.path.parent)
        except OSError as exc:  # a read-only file system, a full disk: what os.access cannot tell beforehand
            raise ConfigError(f"-o {self.path}: cannot write ({exc.strerror})") from None
        os.close(fd)
        self.temporary = Path(name)

    def _open(self, height: int, width: int):
        import imageio.v2 as imageio

        suffix = self.path.suffix.lower()
        kwargs: dict = {}
        source = self.audio_from
        if source is not None and source.audio_codec:
            copy = source.audio_codec in _COPYABLE_AUDIO and suffix in _COPY_CONTAINERS
            kwargs = {"audio_path": str(source.path), "audio_codec": "copy" if copy else None}
        # macro_block_size=1: keep the size (imageio would otherwise resize to a multiple of 16).
        return imageio.get_writer(
            str(self.temporary), format="ffmpeg", fps=self.fps, codec=VIDEO_SUFFIXES[suffix], quality=self.quality,
            macro_block_size=1, ffmpeg_log_level="error", output_params=["-shortest"], **kwargs,
        )  # fmt: skip

    def write(self, frame: np.ndarray) -> None:
        """Append one frame, (1, H, W, 3) or (H, W, 3) float in [0, 1]; every frame the first one's size."""
        frame = np.asarray(frame)
        frame = frame[0] if frame.ndim == 4 else frame
        if self._writer is None:
            self._writer = self._open(*frame.shape[:2])
            self._size = frame.shape[:2]
        elif frame.shape[:2] != self._size:
            raise ValueError(f"a {frame.shape[:2]} frame in a {self._size} video")
        self._writer.append_data(np.clip(np.rint(frame * 255.0), 0, 255).astype(np.uint8))
        self.frames += 1

    def finish(self) -> Path:
        """Close the video and move it to its name; without a frame, remove it and raise ConfigError."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self.frames == 0:
            self.abort()
            raise ConfigError(f"-o {self.path}: no frame was made; nothing written")
        from nst_tf.io.atomic import file_mode

        os.chmod(self.temporary, file_mode())
        os.replace(self.temporary, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the temporary file; the output's name is left as it was."""
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # the file is being dropped; a failing close changes nothing
                log.debug("closing an aborted video writer failed", exc_info=True)
            self._writer = None
        self.temporary.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind, exc, traceback) -> None:
        # Ctrl-C, and a generator closed by its consumer (GeneratorExit), keep the frames made so far.
        if kind is None or issubclass(kind, (KeyboardInterrupt, GeneratorExit)):
            if kind is not None and self.frames == 0:
                self.abort()
                return
            self.finish()
        else:
            self.abort()


def write_clip(
    steps, output: str | os.PathLike, fps: float, audio_from: VideoInfo | None = None, quality: float = QUALITY
):
    """Write each Step's `image` to `output` as it comes, and pass the Step on (a generator).

    The output appears only when the stream ends, is interrupted (Ctrl-C) or is closed by the consumer: then it
    holds every frame written so far, with the sound up to that point. Any other error leaves no file.
    """
    with VideoWriter(output, fps, audio_from, quality) as writer:
        for step in steps:
            writer.write(step.image)
            yield step
