"""Pixel I/O: load, resize and save pictures. The only module that touches image files.

Everything it returns is float32 RGB in [0, 1], shape (1, H, W, 3). Loading copes with what people
actually have: greyscale, alpha (composited on white), palette, 16-bit and EXIF-rotated files. Saving is
atomic (write a temporary file, then rename), so an interrupted save never leaves half a PNG. Uses Pillow.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from nst_tf.errors import ImageError

# Pillow's default filter for Image.resize on RGB pictures, which the course notebooks rely on.
RESAMPLE = Image.Resampling.BICUBIC


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read a picture file as float32 RGB in [0, 1], shape (1, H, W, 3), upright per its EXIF tag.

    Raises:
        ImageError: the file is missing, empty, truncated or not a picture.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: the file is empty")
    try:
        with Image.open(path) as img:
            img.load()  # decode now, so a truncated file fails here and not later
            img = ImageOps.exif_transpose(img)
            rgb = _to_rgb_float(img)
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not a picture Pillow can read") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(f"{path}: cannot read the picture ({_one_line(exc)})") from None
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ImageError(f"{path}: the picture has no pixels")
    return rgb[np.newaxis]


def _to_rgb_float(img: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to float32 RGB in [0, 1], (H, W, 3)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16/32-bit greyscale: Pillow's convert("RGB") would clip at 255, so scale by hand.
        grey = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or grey.max() > 255 else 255.0
        grey = np.clip(grey / top, 0.0, 1.0).astype(np.float32)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if img.mode == "F":
        grey = np.asarray(img, dtype=np.float32)
        if grey.max() > 1.0:  # float pictures come as 0-1 or 0-255
            grey = grey / 255.0
        return np.repeat(np.clip(grey, 0.0, 1.0)[:, :, None], 3, axis=2)
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        # Transparent pixels often hold junk colour: composite on white, as a viewer shows them.
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    img = img.convert("RGB")
    return np.asarray(img, dtype=np.float32) / 255.0


def fit_size(height: int, width: int, longest: int) -> tuple[int, int]:
    """(height, width) scaled so the longer side is `longest` px, aspect kept, each side at least 1."""
    scale = longest / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a (1, H, W, 3) [0, 1] picture to (1, height, width, 3) with Pillow's bicubic filter.

    8-bit precision is kept for the usual 8-bit sources: the picture is resized as an 8-bit RGB image
    when it was one, exactly as the notebooks' `Image.open(...).resize(...)` does, and per channel in
    32-bit float otherwise.
    """
    if image.shape[1:3] == (height, width):
        return image
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


def to_uint8(image: np.ndarray) -> np.ndarray:
    """(1, H, W, 3) or (H, W, 3) float in [0, 1] -> (H, W, 3) uint8, clipped and rounded."""
    pixels = np.asarray(image)
    if pixels.ndim == 4:
        pixels = pixels[0]
    return np.round(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)


def save_image(image: np.ndarray, path: str | os.PathLike) -> Path:
    """Write a (1, H, W, 3) [0, 1] picture atomically; the format follows the suffix (PNG, JPEG ...)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(to_uint8(image), "RGB")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            img.save(handle, format=Image.registered_extensions().get(path.suffix.lower(), "PNG"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
