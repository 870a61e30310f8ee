"""Stylizing photos with a trained one-pass network: one forward pass per photo, or per batch of equal sizes.

`Stylizer(model)` wraps a generator in a `tf.function` traced once for any batch and size (an input
signature of (None, None, None, 3)); `warm_up()` traces it on a tiny picture, so that `timed(photos)`
measures the forward pass alone. A float32 JohnsonNet goes through `nst_tf.feedforward.inference`'s
`JohnsonForward` (the same output, about twice as fast on a CPU), in float32 or, with `precision="bfloat16"`
(resolve "auto" with `nst_tf.perf.precision.resolve_precision`), with bfloat16 convolutions; `fast=False`
keeps the Keras call. No `jit_compile`: XLA compiles once per picture size (seconds each), which a folder
of photos would pay.
`preserve_colors` keeps the photo's colours: the stylized luminance is combined with the photo's chroma
(YUV), `nst_tf.losses.color.transfer_luminance`.

`stylize_photos(model, photos, settings)` is the library entry: a stream of photos in, one
`nst_tf.records.Step` per stylized picture out (its `info` names the source and the model seconds).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence

import keras
import numpy as np
import tensorflow as tf

from nst_tf.errors import ConfigError
from nst_tf.feedforward.settings import ApplySettings
from nst_tf.io.images import to_uint8
from nst_tf.records import Step


class Stylizer:
    """A compiled forward pass of a generator: `stylizer(images)` -> numpy images, same sizes, in [0, 1]."""

    def __init__(self, model: keras.Model, fast: bool = True, precision: str = "float32") -> None:
        from nst_tf.feedforward import inference

        self.model = model
        self.min_size = int(getattr(model, "min_size", 1))
        self.fast = fast and inference.supports(model)
        # bfloat16 convolutions need the fast pass; the Keras call computes in the model's own dtype policy
        self.precision = precision if self.fast else model.compute_dtype
        spec = tf.TensorSpec((None, None, None, 3), tf.float32)

        def keras_call(x: tf.Tensor) -> tf.Tensor:
            return model(x, training=False)

        forward = inference.JohnsonForward(model, precision) if self.fast else keras_call
        self._forward = tf.function(forward, input_signature=[spec])
        self._tiled = None  # a TiledStylizer, made at the first picture that needs tiles
        self.warm = False

    def __call__(self, images: np.ndarray) -> np.ndarray:
        if min(images.shape[1:3]) < self.min_size:
            raise ConfigError(f"pictures must be at least {self.min_size} px on each side for this network")
        return self._forward(tf.convert_to_tensor(images, tf.float32)).numpy()

    def plan(self, height: int, width: int, settings: ApplySettings, count: int = 1):
        """The `nst_tf.perf.tiling.Plan` for `count` pictures of this size under settings' memory budget:
        whole, or tiles (a network `JohnsonForward` cannot compute always runs whole)."""
        from nst_tf.feedforward.tiles import memory_model, receptive_halo
        from nst_tf.perf.tiling import Plan, budget_bytes, plan_picture

        budget, model = budget_bytes(settings.max_memory), memory_model(self.model)
        if not self.fast:  # the Keras call (a texture network, a bfloat16 model) runs whole, fitting or not
            return Plan(height, width, None, 0, 1, model.fixed + model.whole * height * width * count, budget)
        halo = receptive_halo(self.model)
        if count > 1 and settings.tile is None:
            batch = plan_picture(height * count, width, model, budget, halo, self.model.stride)
            if batch.tile is None:
                return batch
        return plan_picture(height, width, model, budget, halo, self.model.stride, settings.tile)

    def tiled(self, image: np.ndarray, tile: int, as_bytes: bool = False, keep: bool = True) -> np.ndarray:
        """The network's output for one (1, H, W, 3) picture (float32, or uint8 as `load_pixels` reads it)
        computed in tiles of `tile` px (whole-picture statistics: nst_tf.feedforward.tiles); uint8 with
        `as_bytes`; `keep`: the faster schedule, every layer's map kept (the plan's `keep`)."""
        from nst_tf.feedforward.tiles import TiledStylizer

        if self._tiled is None:
            self._tiled = TiledStylizer(self.model, self.precision)
        return self._tiled(image, tile, as_bytes, keep)

    def warm_up(self) -> None:
        """Trace and run once on a tiny picture (start-up, excluded from the timings)."""
        side = max(32, self.min_size)
        self(np.zeros((1, side, side, 3), np.float32))
        self.warm = True

    def timed(self, images: np.ndarray) -> tuple[np.ndarray, float]:
        """(stylized, seconds of the forward pass alone)."""
        start = time.perf_counter()
        out = self(images)
        return out, time.perf_counter() - start


def preserve_colors(stylized: np.ndarray, photo: np.ndarray) -> np.ndarray:
    """The stylized picture's luminance with the photo's colour (YUV chroma), (B, H, W, 3) in [0, 1]."""
    from nst_tf.losses.color import transfer_luminance

    return transfer_luminance(stylized, photo)


def group_by_size(pictures: Sequence[np.ndarray], batch: int) -> list[list[int]]:
    """Indices of pictures grouped into batches of equal (H, W), at most `batch` each, in input order."""
    groups: dict[tuple[int, int], list[int]] = {}
    for index, picture in enumerate(pictures):
        groups.setdefault(tuple(picture.shape[1:3]), []).append(index)
    batches = []
    for indices in groups.values():
        batches += [indices[i : i + batch] for i in range(0, len(indices), batch)]
    return sorted(batches, key=lambda b: b[0])


def load_network(model: str | os.PathLike | keras.Model) -> keras.Model:
    """A generator: a shipped model's name, a model folder, or a Keras model (returned as it is)."""
    if isinstance(model, keras.Model):
        return model
    from nst_tf.feedforward.model_io import find_model, load_model

    return load_model(find_model(str(model)))[0]


def load_stylizer(model: str | os.PathLike | keras.Model, precision: str = "auto") -> Stylizer:
    """A `Stylizer` for `model` (see `load_network`) computing in `precision` ("auto" resolved once for this
    machine by nst_tf.perf.precision); its `decision` says what was chosen and why."""
    from nst_tf.perf.precision import resolve_precision

    decision = resolve_precision(precision)
    stylizer = Stylizer(load_network(model), precision=decision.precision)
    stylizer.decision = decision
    return stylizer


def stylize_photos(
    model: str | os.PathLike | keras.Model | Stylizer,
    photos: Iterable[str | os.PathLike | np.ndarray],
    settings: ApplySettings | None = None,
    as_bytes: bool = False,
) -> Iterator[Step]:
    """Stylize each photo with a one-pass network: one Step per picture, in the photos' order.

    Args:
        model: a shipped model's name (`python -m nst_tf models`), a model folder, a Keras generator, or a
            ready `Stylizer`.
        photos: photo paths or (1, H, W, 3) arrays in [0, 1]. A list is read whole first (every photo checked
            before the first result; equal sizes batched across it); any other iterable `settings.batch`
            photos at a time, so an endless stream works.
        settings: size, batch, colour preservation (default `ApplySettings()`).
        as_bytes: yield uint8 pictures (0-255, what a file writer needs): a picture made in tiles is then
            never held in float32 whole (`apply` of 27 MP within 2 GiB).

    Yields:
        Step(iteration=the photo's index, costs={}, seconds=since the stream began, image=(1, H, W, 3) in
        [0, 1] (uint8 with `as_bytes`), info={"source": its path or None, "seconds": its share of the batch's
        forward pass, "plan": one line: whole or in tiles, within `settings.max_memory`}).

    Raises:
        ConfigError: a photo smaller than the network accepts; ImageError: an unreadable photo.
    """
    settings = (settings or ApplySettings()).validate()
    stylizer = model if isinstance(model, Stylizer) else load_stylizer(model, settings.precision)
    if not stylizer.warm:
        stylizer.warm_up()
    window = len(photos) if isinstance(photos, Sequence) else settings.batch
    began, index, source, limit = time.perf_counter(), 0, iter(photos), stylizer.min_size
    while chunk := [item for _, item in zip(range(max(window, 1)), source, strict=False)]:
        names = [None if isinstance(p, np.ndarray) else str(p) for p in chunk]
        pictures = [_read_photo(p, settings.image_size) for p in chunk]
        small = [names[i] or f"photo {index + i}" for i, p in enumerate(pictures) if min(p.shape[1:3]) < limit]
        if small:
            raise ConfigError(f"{small[0]}: smaller than {limit} px on a side (see --image-size)")
        results: dict[int, tuple[np.ndarray, float]] = {}
        plans: dict[int, str] = {}
        for indices in group_by_size(pictures, settings.batch):
            height, width = pictures[indices[0]].shape[1:3]
            plan = stylizer.plan(height, width, settings, len(indices))
            groups = [indices] if plan.tile is None else [[i] for i in indices]
            for group in groups:
                # one picture goes in as it is: a copy of a print-size photo would stay beside its result
                batch = pictures[group[0]] if len(group) == 1 else np.concatenate([pictures[i] for i in group], 0)
                start = time.perf_counter()
                if plan.tile is None:
                    out = stylizer(_as_float(batch))
                else:  # photos kept as bytes go in as bytes; a writer gets bytes unless colours are preserved
                    bytes_out = as_bytes and not settings.preserve_colors
                    out = stylizer.tiled(batch, plan.tile, bytes_out, plan.keep)
                seconds = time.perf_counter() - start
                if settings.preserve_colors:
                    out = preserve_colors(out, _as_float(batch))
                for k, i in enumerate(group):
                    results[i], plans[i] = (out[k : k + 1], seconds / len(group)), plan.line("apply")
        for i in range(len(chunk)):
            image, seconds = results[i]
            image = to_uint8(image)[np.newaxis] if as_bytes else _as_float(image)
            info = {"source": names[i], "seconds": seconds, "plan": plans[i]}
            yield Step(index + i, {}, time.perf_counter() - began, image, info=info)
        index += len(chunk)
        del chunk, pictures, results, batch, out, image  # the next window is read with this one gone


def _read_photo(photo: str | os.PathLike | np.ndarray, longest: int | None) -> np.ndarray:
    """A photo as (1, H, W, 3), its longest side `longest` px when given: an 8-bit file at its own size as
    uint8 (`load_pixels`: 3 bytes a pixel until a tile needs it), anything else float32 in [0, 1]."""
    from nst_tf.io.images import fit_size, load_pixels, resize

    picture = photo if isinstance(photo, np.ndarray) else load_pixels(photo)
    if longest:
        picture = resize(_as_float(picture), *fit_size(picture.shape[1], picture.shape[2], longest))
    return picture


def _as_float(picture: np.ndarray) -> np.ndarray:
    """float32 in [0, 1] (a uint8 picture divided by 255, as `load_image` reads it)."""
    return picture.astype(np.float32) / 255.0 if picture.dtype == np.uint8 else picture
