"""The training photos as a `tf.data` pipeline: a folder of pictures -> endless batches of random crops.

`photo_dataset` is the one function (reused by the universal decoders' training): list the folder's
picture files (regular files only, by suffix), check each one's header with Pillow once and skip the ones
that do not open (counted in `PhotoFolder.skipped`), then `from_tensor_slices(paths)` -> read -> decode ->
resize so the shorter side is `resize_to` (default `size`; aspect kept) -> cache -> shuffle -> random
`size`×`size` crop and left-right flip -> batch -> prefetch. Pictures are float32 RGB in [0, 1], (batch, size, size, 3).
A file that passes the header check but still fails to decode is dropped by `ignore_errors`.

`Augment` (the AdaIN decoder's style pictures, issue 25) replaces the crop step with a crop at a random scale,
flips both ways and a colour jitter (hue, saturation, brightness), all from the same seeded generator; without
it the pipeline is the plain crop-and-flip one, byte for byte.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf
from PIL import Image, UnidentifiedImageError

from nst_tf.errors import ConfigError
from nst_tf.io.images import PICTURE_SUFFIXES

log = logging.getLogger(__name__)

# The picture suffixes whose formats tf.io.decode_image reads (JPEG, PNG, GIF first frame, BMP; not WebP or
# TIFF, which Pillow would pass and the pipeline then drop).
PHOTO_SUFFIXES = tuple(s for s in PICTURE_SUFFIXES if s not in (".webp", ".tif", ".tiff"))


@dataclass(frozen=True)
class Augment:
    """Random crops at random scales, flips and colour jitter of a few pictures (the decoder's style pictures).

    Attributes:
        zoom: each crop's side is drawn log-uniformly between the output side and `zoom` × it (no more than the
            picture's shorter side) and resized to the output side: strokes come out at 1/`zoom` to 1 times
            their size in the resized picture (the caller's `resize_to` sets that picture's scale).
        flip_up_down: flip top-bottom too (left-right always), half the time each.
        hue: the largest hue shift as a fraction of the colour wheel (0.5: any hue): a few pictures' palettes
            become more. 0.1 (36°), because any hue (0.5, with saturation 0.6-1.4 and brightness 0.1) cast the
            AdaIN decoder's pictures magenta and moved its style distance away after 541 steps of fine-tuning
            (nst_tf/models/README.md).
        saturation: the saturation factor's range; brightness: the largest brightness shift (pictures in [0, 1]).
    """

    zoom: float = 2.0
    flip_up_down: bool = True
    hue: float = 0.1
    saturation: tuple[float, float] = (0.7, 1.3)
    brightness: float = 0.05

    def __post_init__(self) -> None:
        low, high = self.saturation
        if self.zoom < 1 or not 0 <= self.hue <= 0.5 or not 0 <= low <= high or not 0 <= self.brightness < 1:
            raise ConfigError(f"augmentation out of range: {self}")

    def apply(self, image: tf.Tensor, size: int, seeds: tf.Tensor) -> tf.Tensor:
        """One (size, size, 3) picture in [0, 1] from `image` (H, W, 3), H and W ≥ size; `seeds` (2, ≥ 7) int64."""
        shorter = tf.cast(tf.reduce_min(tf.shape(image)[:2]), tf.float32)
        top = tf.math.log(tf.minimum(shorter, size * self.zoom))
        log_side = tf.random.stateless_uniform([], seeds[:, 0], math.log(size), tf.maximum(top, math.log(size)))
        side = tf.clip_by_value(tf.cast(tf.round(tf.exp(log_side)), tf.int32), size, tf.cast(shorter, tf.int32))
        image = tf.image.stateless_random_crop(image, tf.stack([side, side, 3]), seed=seeds[:, 1])
        image = tf.image.resize(image, (size, size), method="bilinear", antialias=True)
        image = tf.image.stateless_random_flip_left_right(image, seed=seeds[:, 2])
        if self.flip_up_down:
            image = tf.image.stateless_random_flip_up_down(image, seed=seeds[:, 3])
        if self.hue:
            image = tf.image.stateless_random_hue(image, self.hue, seed=seeds[:, 4])
        if self.saturation != (1.0, 1.0):
            low, high = self.saturation
            image = tf.image.stateless_random_saturation(image, low, high, seed=seeds[:, 5])
        if self.brightness:
            image = tf.image.stateless_random_brightness(image, self.brightness, seed=seeds[:, 6])
        return tf.clip_by_value(tf.ensure_shape(image, (size, size, 3)), 0.0, 1.0)


@dataclass(frozen=True)
class PhotoFolder:
    """The usable picture files of a folder and the ones skipped, with why."""

    paths: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def scan_photos(folder: str | os.PathLike, min_side: int = 1) -> PhotoFolder:
    """Find the picture files in `folder` (not recursive) whose header Pillow can read.

    Raises:
        ConfigError: the folder is missing or holds no usable picture.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such folder of training photos")
    good, skipped = [], []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in PHOTO_SUFFIXES:
            continue
        if not path.is_file():  # a FIFO, socket or folder with a picture's name: never opened
            skipped.append((str(path), "not a regular file"))
            continue
        reason = _header_problem(path, min_side)
        if reason:
            skipped.append((str(path), reason))
        else:
            good.append(str(path))
    if not good:
        raise ConfigError(f"{folder}: no readable pictures ({', '.join(PHOTO_SUFFIXES)}) in the folder")
    for path, reason in skipped:
        log.info("skipping %s: %s", path, reason)
    return PhotoFolder(tuple(good), tuple(skipped))


def _header_problem(path: Path, min_side: int) -> str:
    """Why a picture file is unusable ('' when it is fine): empty, unreadable, or too small."""
    if path.stat().st_size == 0:
        return "empty file"
    try:
        with Image.open(path) as img:
            img.verify()
            width, height = img.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        return f"cannot read ({' '.join(str(exc).split()) or type(exc).__name__})"
    if min(width, height) < min_side:
        return f"smaller than {min_side} px"
    return ""


def _decode_resized(path: tf.Tensor, size: int) -> tf.Tensor:
    """Read and decode one picture, resized (area-aware bilinear) so its shorter side is `size`."""
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image = tf.image.convert_image_dtype(image, tf.float32)  # (H, W, 3) in [0, 1]
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.cast(size, tf.float32) / tf.reduce_min(shape)
    new_shape = tf.maximum(tf.cast(tf.math.ceil(shape * scale), tf.int32), size)
    image = tf.image.resize(image, new_shape, method="bilinear", antialias=True)
    return tf.clip_by_value(image, 0.0, 1.0)


def photo_dataset(
    folder: str | os.PathLike | PhotoFolder,
    size: int,
    batch: int,
    seed: int = 0,
    *,
    repeat: bool = True,
    cache: bool = True,
    flip: bool = True,
    resize_to: int | None = None,
    augment: Augment | None = None,
) -> tuple[tf.data.Dataset, PhotoFolder]:
    """Endless (or one-epoch) batches of random `size`×`size` crops of the photos in a folder.

    Args:
        folder: a folder of pictures, or a `PhotoFolder` from `scan_photos`.
        size: crop side in px.
        resize_to: each picture is first resized so its shorter side is this (default `size`: the crop is
            most of the picture; larger: the crop is a part of it, at a finer scale).
        batch: pictures per batch (the last partial batch is dropped, so shapes are static).
        seed: seeds the shuffle, crops and flips (the same seed gives the same batches).
        repeat: loop over the photos forever (training) or once.
        cache: keep the resized pictures in memory after the first epoch (fine for thousands of photos at
            small sizes; turn off for large folders).
        flip: random left-right flips.
        augment: crops at random scales, flips and colour jitter instead of the plain crop and flip (`Augment`;
            `flip` is then ignored).

    Returns:
        The dataset of (batch, size, size, 3) float32 tensors, and the scanned folder (usable and skipped files).
    """
    resize_to = size if resize_to is None else resize_to
    if size < 1 or batch < 1 or resize_to < size:
        raise ConfigError(
            f"image size and batch must be positive and resize_to ≥ size, not {size}, {batch}, {resize_to}"
        )
    photos = folder if isinstance(folder, PhotoFolder) else scan_photos(folder)
    if len(photos.paths) < batch:
        raise ConfigError(f"{len(photos.paths)} usable photo(s) is fewer than a batch of {batch}")
    ds = tf.data.Dataset.from_tensor_slices(list(photos.paths))
    ds = ds.map(lambda p: _decode_resized(p, resize_to), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.ignore_errors()  # a file that passed the header check but does not decode: dropped
    if cache:
        ds = ds.cache()
    if repeat:
        ds = ds.repeat()
    ds = ds.shuffle(min(len(photos.paths), 1024), seed=seed, reshuffle_each_iteration=True)
    rng = tf.random.Generator.from_seed(seed)

    def crop(image: tf.Tensor) -> tf.Tensor:
        if augment is not None:
            return augment.apply(image, size, rng.make_seeds(7))
        crop_seed = rng.make_seeds(2)
        image = tf.image.stateless_random_crop(image, (size, size, 3), seed=crop_seed[:, 0])
        if flip:
            image = tf.image.stateless_random_flip_left_right(image, seed=crop_seed[:, 1])
        return image

    ds = ds.map(crop, num_parallel_calls=1)  # one stateful generator: sequential keeps it reproducible
    ds = ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    return ds, photos
