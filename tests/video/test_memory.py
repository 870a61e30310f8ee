"""`nst_tf.video.memory`: each route's frames planned within --max-memory. A budget just below what whole frames
need tiles them, and the stitched tiles feed the temporal logic the whole frames' result (network, AdaIN, WCT);
the optimisation route's frames must fit whole, else one line names the budget and the --image-size that do."""

from __future__ import annotations

import re

import numpy as np
import pytest
from test_video import textured

from nst_tf.config import Config
from nst_tf.errors import ConfigError
from nst_tf.video.memory import SOURCE_PER_PIXEL, plan_frames, stream_bytes
from nst_tf.video.settings import VideoSettings
from nst_tf.video.stylize import stylize_video
from nst_tf.video.synthetic import pan_zoom_clip

SIZE = (120, 160)  # (height, width): room for 2 x 2 tiles of the smallest planned side (64 px)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(np.mean((a - b) ** 2), 1e-20)))


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """Three frames of a camera pan (texture for the flow, so the blend acts on most pixels)."""
    return pan_zoom_clip(textured(cell=12), 3, SIZE, pan=(2.0, 1.0))


def _budget_below_whole(route, settings_whole: VideoSettings) -> str:
    """A --max-memory 1 MiB below what whole frames of SIZE need (as the planner's own estimate says)."""
    from nst_tf.perf.tiling import HEADROOM

    whole = plan_frames(route, *SIZE, None, settings_whole)
    assert whole.tile is None
    return f"{int(whole.estimate / HEADROOM) - 2**20}"


def _clip(route, frames) -> list[np.ndarray]:
    return [step.image for step in stylize_video(frames, route)]  # temporal on: flow, warp and blend


def test_a_budget_below_whole_frames_tiles_them_and_the_clip_is_the_whole_frames_clip(frames):
    from nst_tf.video.routes import NetworkRoute

    route = NetworkRoute("starry_night", precision="float32")
    roomy = VideoSettings(max_memory="100G")
    whole_plan = plan_frames(route, *SIZE, None, roomy)
    assert (whole_plan.tile, whole_plan.said) == (None, True)  # --max-memory given: the line is said
    assert plan_frames(route, *SIZE, None, VideoSettings()).said is False  # no flag, whole frames: silent
    whole = _clip(route, frames)
    plan = plan_frames(route, *SIZE, None, VideoSettings(max_memory=_budget_below_whole(route, roomy)))
    assert plan.tile is not None and plan.tiles >= 4 and route.tile == plan.tile
    assert plan.estimate <= 0.85 * plan.budget < whole_plan.estimate
    assert f"in {plan.tiles} tiles of {plan.tile} px" in plan.line() and plan.said
    tiled = _clip(route, frames)
    assert np.abs(whole[0] - frames[0]).mean() > 0.05  # stylized
    for got, expected in zip(tiled, whole, strict=True):
        # The tiles' own bar (tests/feedforward/test_tiles.py: 40 dB, 1e-4 a frame: float32 summation order
        # only; measured 2e-6 here); the blend is a convex mix with the previous result warped bicubically
        # (kernel gain < 1.3), so three frames carry at most a few times one frame's difference.
        assert _psnr(got, expected) >= 40
        assert np.abs(got - expected).max() <= 4e-4


@pytest.mark.parametrize("method", ["adain", "wct"])
def test_universal_tiles_keep_the_clip_statistics_and_momentum(method):
    from nst_tf.video.routes import UniversalRoute

    # 64 x 96: two tiles of the smallest planned side (64 px), few tile shapes to trace
    frames = pan_zoom_clip(textured(cell=12), 3, (64, 96), pan=(2.0, 1.0))
    route = UniversalRoute(method, textured(40, 40, seed=2, cell=8), content_momentum=0.5)  # carried over frames
    whole = _clip(route, frames)
    route.tile = 64
    tiled = _clip(route, frames)
    assert np.abs(whole[0] - frames[0]).mean() > 0.02  # stylized
    for got, expected in zip(tiled, whole, strict=True):
        # Only the order of the float64 statistics' sums differs (per tile, not per frame); measured 1e-6.
        # Tiles that skipped the momentum would differ by 0.018 (AdaIN) to 0.1 (WCT) from the second frame.
        assert _psnr(got, expected) >= 40
        assert np.abs(got - expected).max() < 1e-4


def test_universal_plan_of_a_roomy_budget_is_whole_frames():
    from nst_tf.video.routes import UniversalRoute

    route = UniversalRoute("adain", textured(40, 40, seed=2, cell=8))
    plan = plan_frames(route, *SIZE, None, VideoSettings(max_memory="100G"))
    assert plan.tile is None and route.tile is None and "in one piece" in plan.line()
    with pytest.raises(ConfigError, match="needs a memory budget of at least"):
        plan_frames(route, *SIZE, None, VideoSettings(max_memory="10K"))


def test_the_optimisation_route_fits_whole_frames_or_names_the_budget_and_size_that_do():
    from nst_tf.optim.memory import HEADROOM
    from nst_tf.video.io import fit_even
    from nst_tf.video.routes import OptimisedRoute

    config = Config(weights="random", iterations=2, seed=1).validated()
    route = OptimisedRoute(textured(40, 40, seed=2), config, later_iterations=1)
    height, width = 288, 512
    roomy = plan_frames(route, height, width, None, VideoSettings(max_memory="100G"))
    assert route.memory_plan.stages[0].tile is None and route.memory_plan.stages[0].optimizer == "lbfgs"
    assert "frames whole by L-BFGS" in roomy.line()
    budget = roomy.estimate * 0.8 / HEADROOM  # 80 % of what a frame needs
    with pytest.raises(ConfigError) as refused:
        plan_frames(route, height, width, None, VideoSettings(max_memory=str(int(budget))))
    message = str(refused.value)
    least = int(re.search(r"--max-memory (\d+)M or more", message).group(1))
    side = int(re.search(r"--image-size (\d+) or less", message).group(1))
    assert 16 <= side < width
    # the sizes named are the limits: the least budget plans, a MiB less does not; the side fits, 2 px more not
    plan_frames(route, height, width, None, VideoSettings(max_memory=f"{least}M"))
    with pytest.raises(ConfigError):
        plan_frames(route, height, width, None, VideoSettings(max_memory=f"{least - 1}M"))
    plan_frames(route, *fit_even(height, width, side), None, VideoSettings(max_memory=str(int(budget))))
    with pytest.raises(ConfigError):
        plan_frames(route, *fit_even(height, width, side + 2), None, VideoSettings(max_memory=str(int(budget))))


def test_the_stream_counts_the_decoded_frame_only_when_resized():
    same = stream_bytes(360, 640)
    assert stream_bytes(360, 640, (360, 640)) == same
    assert stream_bytes(360, 640, (720, 1280)) - same == SOURCE_PER_PIXEL * 720 * 1280
    assert stream_bytes(720, 1280) > same  # more pixels, more buffers


def test_bad_budgets_are_refused_by_the_settings():
    for value in ("0", "abc", "-1G", ""):
        with pytest.raises(ConfigError, match="--max-memory"):
            VideoSettings(max_memory=value).validate()
    assert VideoSettings(max_memory="1.5G").validate().max_memory == "1.5G"
