"""The video run folder's measure (the warping error taken frame by frame as the clip streams) and preview."""

from __future__ import annotations

import cv2
import numpy as np
from test_video import SIZE, flickering_route, textured

from nst_tf.video.report import Measure, preview_indices
from nst_tf.video.synthetic import pan_zoom_clip
from nst_tf.video.temporal import warping_error


def test_the_streamed_measure_is_the_clip_warping_error_and_the_preview_stacks_input_over_result():
    frames = pan_zoom_clip(textured(), 5, SIZE)
    route = flickering_route()
    results = [route(frame, None) for frame in frames]
    measure = Measure(total=5)
    for index, (frame, result) in enumerate(zip(frames, results, strict=True)):
        measure.observe(index, frame, result)
    figures = measure.figures()
    assert figures["pairs"] == 4
    # the same pairs, flows and masks as the whole-clip function: equal to float32 rounding of the mean
    np.testing.assert_allclose(figures["warping_error"], warping_error(results, frames), rtol=1e-4)
    np.testing.assert_allclose(figures["input_warping_error"], warping_error(frames, frames), rtol=1e-3, atol=1e-6)
    assert figures["input_warping_error"] < figures["warping_error"]  # the flickering route is above the floor
    strip = measure.strip()
    assert strip.shape == (1, 2 * 144, 4 * 192, 3)  # 4 frames of 64x48 at 192 px wide: 144 high; 2 rows
    for row, clip in ((0, frames), (1, results)):  # the first frame's input above, its result below
        tile = cv2.resize(clip[0][0], (192, 144), interpolation=cv2.INTER_AREA)
        np.testing.assert_allclose(strip[0, row * 144 : (row + 1) * 144, :192], tile, atol=1e-6)


def test_preview_indices_spread_over_the_clip():
    assert preview_indices(100) == {0, 33, 66, 99}
    assert preview_indices(2) == {0, 1}
    assert preview_indices(None) == {0, 1, 2, 3}
    assert Measure(None).figures() == {"warping_error": None, "input_warping_error": None, "pairs": 0}
