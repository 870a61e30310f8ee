"""Photos that count how many of them are alive: a stream test fails if a folder is read whole (issue 26)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


class Counted(np.ndarray):
    """A photo array that counts how many of its kind are alive (decremented when garbage-collected)."""

    alive = 0
    peak = 0

    def __del__(self) -> None:
        if getattr(self, "_counted", False):
            Counted.alive -= 1

    @classmethod
    def reset(cls) -> None:
        cls.alive = cls.peak = 0


def counted_photos(count: int, rng: np.random.Generator, height: int = 24, width: int = 32) -> Iterator[np.ndarray]:
    """A generator of (1, height, width, 3) photos in [0, 1], each counted while it lives."""
    for _ in range(count):
        photo = rng.random((1, height, width, 3), dtype=np.float32).view(Counted)
        photo._counted = True
        Counted.alive += 1
        Counted.peak = max(Counted.peak, Counted.alive)
        yield photo
        del photo


@contextmanager
def only_new_garbage() -> Iterator[None]:
    """Inside, `gc.collect()` looks only at the objects made since it began (those alive before, TensorFlow's
    and the model's, are frozen: `gc.freeze`). A full collection in a process that has imported TensorFlow
    and torch walks half a million objects and more (0.28 s each on 2 cores at load 1.3); the photos and
    anything that holds them in a cycle are made inside, so they are still collected (were one held by an
    older object, it would stay counted, and the peak could only rise)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
