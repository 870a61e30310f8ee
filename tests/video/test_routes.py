"""nst_tf.video.routes against the library they drive: the universal route's per-frame transform (style
statistics computed once) equals `Universal.stylize`; the optimisation route starts later frames from `start`."""

from __future__ import annotations

import numpy as np
import pytest
from test_video import textured

from nst_tf.config import Config
from nst_tf.video.routes import OptimisedRoute, UniversalRoute


@pytest.mark.parametrize("method", ["adain", "wct"])
def test_universal_route_matches_universal_stylize(method):
    frame = textured(48, 64, seed=1)
    style = textured(40, 40, seed=2, cell=8)
    route = UniversalRoute(method, style)
    expected = route.model.stylize(frame, [style])
    got = route(frame, None)
    assert got.shape == frame.shape
    # float32 features through the same graphs; only the order of a few float64/float32 sums differs
    assert np.abs(got - expected).max() < 2e-3
    assert np.abs(got - frame).mean() > 0.02  # and it did stylize


def test_universal_route_content_momentum_holds_the_statistics_back():
    frames = [textured(48, 64, seed=1), np.clip(textured(48, 64, seed=1) * 0.5, 0, 1)]  # the light halves
    style = textured(40, 40, seed=2, cell=8)
    plain, held = UniversalRoute("adain", style), UniversalRoute("adain", style, content_momentum=0.9)
    for frame in frames:
        plain_out, held_out = plain(frame, None), held(frame, None)
    # AdaIN normalises the content's statistics away: without momentum the darker frame looks like the first;
    # with 0.9 of the first frame's statistics the darker frame stays darker
    assert held_out.mean() < plain_out.mean() - 0.02


def test_optimised_route_starts_later_frames_from_the_warped_previous_result():
    config = Config(weights="random", iterations=2, seed=1).validated()
    frame = textured(40, 48, seed=3)
    route = OptimisedRoute(textured(40, 40, seed=4, cell=8), config, later_iterations=1)
    first = route(frame, None)
    assert first.shape == frame.shape
    grey = np.full_like(frame, 0.5)
    later = route(frame, grey)  # one L-BFGS step from a grey start stays near grey
    assert np.abs(later - grey).mean() < 0.5 * np.abs(later - first).mean()
    assert "temporal" not in route.last_costs  # no mask: no temporal cost


def test_optimised_route_temporal_cost_holds_the_reliable_pixels_to_the_warped_result():
    config = Config(weights="random", iterations=2, seed=1).validated()
    frame, style = textured(40, 48, seed=3), textured(40, 40, seed=4, cell=8)
    grey, mask = np.full_like(frame, 0.5), np.zeros(frame.shape[1:3], np.float32)
    mask[:, :24] = 1.0  # the left half reliable
    free = OptimisedRoute(style, config, later_iterations=6, temporal_weight=0.0)(frame, grey, mask)
    route = OptimisedRoute(style, config, later_iterations=6, temporal_weight=1e4)
    held = route(frame, grey, mask)
    assert route.last_costs["temporal"] > 0 and route.last_costs["total"] > route.last_costs["temporal"]
    drift = np.abs(free - grey)[:, :, :24].mean()
    assert np.abs(held - grey)[:, :, :24].mean() < 0.5 * drift  # held near the warped result where reliable
    np.testing.assert_allclose(np.abs(held - grey)[:, :, 24:].mean(), np.abs(free - grey)[:, :, 24:].mean(), rtol=0.5)


def test_stylize_video_resets_a_route_between_clips():
    from nst_tf.video.stylize import stylize_video

    frame, style = textured(48, 64, seed=1), textured(40, 40, seed=2, cell=8)
    route = UniversalRoute("adain", style, content_momentum=0.9)
    first = next(stylize_video([frame], route)).image
    list(stylize_video([np.clip(frame * 0.5, 0, 1)], route))  # another clip: darker statistics held
    assert np.array_equal(next(stylize_video([frame], route)).image, first)
