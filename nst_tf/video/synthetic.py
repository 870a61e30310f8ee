"""A synthetic clip whose true flow is known: a camera panning and zooming over one large picture.

Frame t shows the picture through a window whose top-left corner is o_t (px in the picture) and whose scale
is s_t (picture px per frame px): frame_t(x) = picture(o_t + s_t·x), sampled bilinearly. So frame t's pixel x
was at y = (o_t − o_t−1 + s_t·x) / s_t−1 in frame t−1, and the true backward flow is b_t(x) = y − x, an affine
field (`true_backward_flow`). The tests check the optical flow and the warp against it; the benchmark runs
every method on such a clip made from the project's own photos.
"""

from __future__ import annotations

import numpy as np


def _windows(frames: int, pan: tuple[float, float], zoom: float) -> list[tuple[np.ndarray, float]]:
    """[(o_t as (x, y), s_t)]: the corner moves by `pan` px a frame, the scale multiplies by `zoom` a frame."""
    return [(np.array(pan, np.float64) * t, float(zoom**t)) for t in range(frames)]


def pan_zoom_clip(
    picture: np.ndarray, frames: int, size: tuple[int, int], pan: tuple[float, float] = (2.0, 1.0), zoom: float = 1.0
) -> list[np.ndarray]:
    """`frames` frames of (height, width) = `size` over `picture` (module doc), each (1, H, W, 3) float32.

    Args:
        picture: (1, H, W, 3) or (H, W, 3) RGB in [0, 1]; large enough for every window (checked).
        frames: how many frames.
        size: (height, width) of a frame.
        pan: (dx, dy) px in the picture the window's corner moves per frame.
        zoom: the window's scale factor per frame (< 1 zooms in).
    """
    import cv2

    plane = np.asarray(picture, np.float32)
    plane = plane[0] if plane.ndim == 4 else plane
    height, width = size
    out = []
    for corner, scale in _windows(frames, pan, zoom):
        far = corner + scale * np.array([width - 1, height - 1])
        if corner.min() < 0 or far[0] > plane.shape[1] - 1 or far[1] > plane.shape[0] - 1:
            raise ValueError("the camera leaves the picture: fewer frames, a smaller pan or a larger picture")
        affine = np.array([[scale, 0.0, corner[0]], [0.0, scale, corner[1]]], np.float64)
        frame = cv2.warpAffine(plane, affine, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        out.append(np.clip(frame, 0.0, 1.0)[np.newaxis])
    return out


def true_backward_flow(t: int, size: tuple[int, int], pan: tuple[float, float], zoom: float = 1.0) -> np.ndarray:
    """The exact flow from frame t to frame t−1 of `pan_zoom_clip` (t ≥ 1), (H, W, 2) float32 (dx, dy)."""
    (corner, scale), (before, scale_before) = _windows(t + 1, pan, zoom)[t], _windows(t + 1, pan, zoom)[t - 1]
    height, width = size
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    dx = (corner[0] - before[0] + scale * xs) / scale_before - xs
    dy = (corner[1] - before[1] + scale * ys) / scale_before - ys
    return np.stack([dx, dy], axis=-1).astype(np.float32)
