"""Pixel I/O: load, resize and save pictures. The only module that decodes or encodes image files.

Everything it returns is float32 RGB in [0, 1], shape (1, H, W, 3). Loading copes with what people
actually have: greyscale, alpha (composited on white), palette, 16-bit, float and EXIF-rotated files. It
also refuses, in one line (`ImageError`), what would hang, crash or lie later: anything that is not a
regular file (a FIFO never blocks: see `nst_tf.io.safe`), formats nobody means as a picture (an EPS named
`.png` never reaches Ghostscript: Pillow is told which decoders it may use), pictures too large for
memory (from the header, before decoding), strips too thin for VGG, and non-finite pixels (a float TIFF
holding NaN or inf is refused rather than cleaned: silently replacing numbers would change the picture).
A malformed EXIF block is ignored with one warning; the picture loads as stored. Saving is atomic (a
temporary file in the same folder, then a rename) and gives the file the mode the user's umask asks for.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from nst_tf.errors import ImageError
from nst_tf.io import atomic, safe

log = logging.getLogger(__name__)

# Pillow's default filter for Image.resize on RGB pictures, which the course notebooks rely on.
RESAMPLE = Image.Resampling.BICUBIC

# The decoders a user means by "a picture". Pillow otherwise picks one of ~40 from the file's first bytes,
# EPS (Ghostscript, a PostScript interpreter) and PSD among them. JPEG covers camera MPO files too.
PICTURE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF", "PPM", "AVIF")
# The file names taken for pictures where a folder is listed or an output name is checked: the common
# suffixes of those formats (the one list; the training pipeline keeps the ones tf.data decodes).
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")

# Largest picture decoded, in megapixels. 64 MP is an 8000x8000 picture: 768 MB as 8-bit RGB and 3 GB as
# the float32 array the rest of the code uses. NST_TF_MAX_MEGAPIXELS raises or lowers it.
MAX_MEGAPIXELS = 64.0

# Longest side / shortest side. VGG needs 16 px on the shorter side at the working size; a 3x10000 strip
# would need a 53000 px long side for that, so such strips are refused rather than blown up.
MAX_ASPECT = 50.0

# EXIF orientation -> the transpose that shows the picture upright (as ImageOps.exif_transpose does).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def max_megapixels() -> float:
    """The decoding limit in megapixels: NST_TF_MAX_MEGAPIXELS when set to a positive number, else 64."""
    text = os.environ.get("NST_TF_MAX_MEGAPIXELS", "")
    try:
        value = float(text)
    except ValueError:
        return MAX_MEGAPIXELS
    return value if np.isfinite(value) and value > 0 else MAX_MEGAPIXELS


def load_image(path: str | os.PathLike, max_aspect: float | None = MAX_ASPECT) -> np.ndarray:
    """Read a picture file as float32 RGB in [0, 1], shape (1, H, W, 3), upright per its EXIF tag.

    Args:
        path: a PNG, JPEG, WebP, BMP, GIF, TIFF, PPM or AVIF file.
        max_aspect: refuse pictures whose long side is more than this many times the short one (None: any).

    Raises:
        ImageError: the file is missing, not a regular file, empty, truncated, not a picture of an allowed
            format, too large to decode, too thin, or holds non-finite values. One line, path first.
    """
    pixels = load_pixels(path, max_aspect)
    return pixels.astype(np.float32) / 255.0 if pixels.dtype == np.uint8 else pixels


def load_pixels(path: str | os.PathLike, max_aspect: float | None = MAX_ASPECT) -> np.ndarray:
    """`load_image`'s picture as it is stored: (1, H, W, 3) uint8 for an 8-bit picture (3 bytes a pixel, not
    12: what a print-size picture in tiles keeps; `x.astype(np.float32) / 255` is `load_image`'s value),
    float32 in [0, 1] for a 16-bit or float one. Raises as `load_image`."""
    path = Path(path)
    with _opened(path, max_aspect) as img:
        img.load()  # decode now, so a truncated file fails here and not later
        img = _upright(path, img)
        rgb = _to_rgb(img)
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ImageError(f"{path}: the picture has no pixels")
    return rgb[np.newaxis]


def picture_size(path: str | os.PathLike) -> tuple[int, int]:
    """(height, width) of a picture file from its header, upright, with `load_image`'s checks on the size
    (nothing decoded: a folder's photos are checked this way before the first is stylized).

    Raises:
        ImageError: as `load_image` for a missing, empty, unidentified or oversized file.
    """
    path = Path(path)
    with _opened(path, MAX_ASPECT) as img:
        width, height = img.size
        turned = img.getexif().get(0x0112) in (5, 6, 7, 8)  # EXIF orientations that swap the sides
    return (width, height) if turned else (height, width)


@contextlib.contextmanager
def _opened(path: Path, max_aspect: float | None) -> Iterator[Image.Image]:
    """The picture file opened by Pillow (regular files only, allowed formats only), its size checked from
    the header; whatever goes wrong reading it inside the block is one ImageError line, path first."""
    with safe.open_regular(path, ImageError) as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            raise ImageError(f"{path}: the file is empty")
        try:
            with warnings.catch_warnings():
                # Pillow warns (on stderr) about odd EXIF and big pictures; the checks here speak instead.
                warnings.simplefilter("ignore")
                with Image.open(handle, formats=_allowed_formats()) as img:
                    _check_size(path, img.size, max_aspect)
                    yield img
        except UnidentifiedImageError:
            raise ImageError(f"{path}: not a picture ({', '.join(PICTURE_FORMATS)} are read)") from None
        except Image.DecompressionBombError as exc:
            raise ImageError(f"{path}: too large to decode ({_one_line(exc)}); shrink it first") from None
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
            raise ImageError(f"{path}: cannot read the picture ({_one_line(exc)})") from None


def _allowed_formats() -> list[str]:
    Image.init()
    return [name for name in PICTURE_FORMATS if name in Image.OPEN]


def _check_size(path: Path, size: tuple[int, int], max_aspect: float | None) -> None:
    """Refuse from the header what would not fit in memory or through VGG, before any pixel is decoded."""
    width, height = size
    if width < 1 or height < 1:
        raise ImageError(f"{path}: the picture has no pixels ({width}x{height})")
    megapixels, limit = width * height / 1e6, max_megapixels()
    if megapixels > limit:
        raise ImageError(
            f"{path}: the picture is {width}x{height} px ({megapixels:.0f} megapixels, about "
            f"{width * height * 12 / 2**30:.1f} GB as float32), more than the {limit:g} megapixels decoded; "
            f"shrink it first or set NST_TF_MAX_MEGAPIXELS"
        )
    if max_aspect is not None and max(width, height) > max_aspect * min(width, height):
        raise ImageError(
            f"{path}: the picture is {width}x{height} px, more than {max_aspect:g} times as long as it is wide; "
            f"VGG needs at least 16 px a side at the working size, so crop it"
        )


def _upright(path: Path, img: Image.Image) -> Image.Image:
    """The picture turned as its EXIF orientation says; a malformed EXIF block is ignored, with a warning.

    Departs from ImageOps.exif_transpose on purpose: that re-serialises the whole EXIF block, which raises
    (struct.error ...) on a malformed unrelated tag; only the orientation is needed here.
    """
    try:
        orientation = img.getexif().get(0x0112, 1)
        method = _ORIENTATION.get(int(orientation)) if orientation is not None else None
    except Exception as exc:  # noqa: BLE001 - any malformed EXIF: Pillow raises struct.error, TypeError ...
        log.warning("%s: unreadable EXIF data (%s); loaded as stored, unrotated", path, _one_line(exc))
        return img
    return img.transpose(method) if method is not None else img


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to RGB (H, W, 3): uint8 for 8-bit modes, float32 in [0, 1] for wider ones."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        grey = np.asarray(img, dtype=np.float64)
        if not np.isfinite(grey).all():
            bad = int(grey.size - np.isfinite(grey).sum())
            raise ValueError(f"{bad} of its values are NaN or infinite; refused rather than guessed")
        if img.mode == "F":  # float pictures come as 0-1 or 0-255
            top = 255.0 if grey.max() > 1.0 else 1.0
        else:  # 16/32-bit greyscale: Pillow's convert("RGB") would clip at 255, so scale by hand
            top = 65535.0 if img.mode.startswith("I;16") or grey.max() > 255 else 255.0
        grey = np.clip(grey / top, 0.0, 1.0).astype(np.float32)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        # Transparent pixels often hold junk colour: composite on white, as a viewer shows them.
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def fit_size(height: int, width: int, longest: int, min_side: int = 1) -> tuple[int, int]:
    """(height, width) scaled so the longer side is `longest` px, aspect kept, each side at least 1.

    With `min_side` > 1 the picture is enlarged instead where its shorter side would come out below
    `min_side` (a thin style strip still gives VGG `min_side` px): the scale then comes from the shorter
    side itself, rounded up, so the rounding of a 1-px side cannot leave it short.
    """
    short, long_ = min(height, width), max(height, width)
    scale = longest / long_
    if min_side > 1 and round(short * scale) < min_side:
        scale = math.ceil(min_side * long_ / short) / long_
    h, w = max(1, round(height * scale)), max(1, round(width * scale))
    if min(h, w) < min_side:  # float rounding at the edge: one more pixel on the short side
        h, w = (max(h, min_side), w) if height <= width else (h, max(w, min_side))
    return h, w


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a (1, H, W, 3) [0, 1] picture to (1, height, width, 3) with Pillow's bicubic filter.

    8-bit precision is kept for the usual 8-bit sources: the picture is resized as an 8-bit RGB image
    when it was one, exactly as the notebooks' `Image.open(...).resize(...)` does, and per channel in
    32-bit float otherwise. Raises ImageError (one line) for a size over the megapixel limit, before
    allocating it.
    """
    if image.shape[1:3] == (height, width):
        return image
    _check_target_size(height, width)
    pixels = image[0]
    as_bytes = np.round(pixels * 255.0)
    if np.allclose(as_bytes / 255.0, pixels, rtol=0.0, atol=1e-6):
        img = Image.fromarray(as_bytes.astype(np.uint8), "RGB").resize((width, height), RESAMPLE)
        return (np.asarray(img, dtype=np.float32) / 255.0)[np.newaxis]
    channels = [
        np.asarray(Image.fromarray(pixels[:, :, c].astype(np.float32), "F").resize((width, height), RESAMPLE))
        for c in range(3)
    ]
    return np.clip(np.stack(channels, axis=2), 0.0, 1.0)[np.newaxis].astype(np.float32)


def _check_target_size(height: int, width: int) -> None:
    """Refuse, before Pillow allocates it, a size no later step could hold (the same limit as decoding)."""
    if height < 1 or width < 1:
        raise ImageError(f"cannot resize a picture to {width}x{height} px")
    megapixels, limit = height * width / 1e6, max_megapixels()
    if megapixels > limit:
        raise ImageError(
            f"a {width}x{height} px picture ({megapixels:.0f} megapixels) is more than the {limit:g} megapixels "
            f"nst_tf works with; choose a smaller --image-size or --size (or set NST_TF_MAX_MEGAPIXELS)"
        )


def to_uint8(image: np.ndarray) -> np.ndarray:
    """(1, H, W, 3) or (H, W, 3) float in [0, 1] -> (H, W, 3) uint8, clipped and rounded (uint8 as it is)."""
    pixels = np.asarray(image)
    if pixels.ndim == 4:
        pixels = pixels[0]
    if pixels.dtype == np.uint8:  # already bytes (a picture made in tiles, `load_pixels`)
        return pixels
    return np.round(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)


def save_image(image: np.ndarray, path: str | os.PathLike) -> Path:
    """Write a (1, H, W, 3) [0, 1] picture (or uint8 0-255) atomically; the format follows the suffix (PNG, JPEG ...).

    The file appears whole or not at all, with the mode the user's umask gives (`nst_tf.io.atomic`).

    Raises:
        ImageError: the picture cannot be written there (one line: the path and why).
    """
    path = Path(path)
    img = Image.fromarray(to_uint8(image), "RGB")
    picture_format = Image.registered_extensions().get(path.suffix.lower(), "PNG")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic.atomic_path(path) as tmp:
            img.save(tmp, format=picture_format)
    except OSError as exc:
        raise ImageError(f"cannot write {path}: {safe.reason(exc)}") from None
    return path


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
