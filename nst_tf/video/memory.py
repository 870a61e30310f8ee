"""A clip's per-frame work planned within a memory budget (`video --max-memory`, issue 26).

`plan_frames(route, height, width, source, settings)` reads the budget (`settings.max_memory`, else what the
machine has free, as apply, universal and run read it: `nst_tf.perf.tiling.budget_bytes`), adds to the
route's own memory model what the frame stream holds besides it (`stream_bytes`), and plans the frames with
the planner of the route's family:

- a per-style network: `nst_tf.feedforward.tiles.memory_model` through `nst_tf.perf.tiling.plan_picture`,
  whole frames or tiles with whole-frame instance-norm statistics (`Stylizer.tiled`);
- universal AdaIN/WCT: `nst_tf.universal.tiles.memory_model`, whole frames or tiles with whole-frame
  statistics (`nst_tf.universal.tiles.tiled_level`), the clip's style statistics and the content momentum
  as they are for whole frames;
- the optimisation: `nst_tf.optim.memory.estimate_peak_bytes` of a whole frame by L-BFGS, the route's
  optimiser. Every later frame carries Ruder et al.'s temporal cost, which the tiled step of
  `nst_tf.optim.tiled` does not have, and a few Adam steps from the warped start would not do what L-BFGS's
  do, so a frame that does not fit whole is refused, naming the budget it needs and the largest
  --image-size that fits.

Tiled frames are stitched inside the route, so `nst_tf.video.stylize.stylize_video` still sees whole frames:
the flow, the warp, the blend, the temporal cost and the warping error act on them exactly as before. The
plan sets the route's `tile` (`keep`, `spare`; the optimisation route's `memory_plan`, so that the engine does
not plan each frame again against what happens to be free) and returns a `FramePlan`, whose `line()` the
command says and the run's record keeps. A budget too small for even the smallest tiles: ConfigError, one
line. Arithmetic on sizes only; the families' planners are imported when a route is planned.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from nst_tf.errors import ConfigError
from nst_tf.perf.tiling import MemoryModel, Plan, budget_bytes, plan_picture
from nst_tf.video.io import fit_even

# What the stream holds besides the route's own work, per pixel of a frame: the frame and the two previous
# ones kept for the flow and the blend (input and result, float32 RGB: 3 x 12), and, while the route works on
# the frame, the flow thread's arrays (two grey frames, two flows and their round trip, sampling grids, the
# mask, the warped result: about 80). Measured with the bunny, starry_night, whole frames, bfloat16, peak RSS by
# /usr/bin/time -v (7 Dec 2026, Xeon Sapphire Rapids, 2 shared cores): `video` minus `apply` of the same frame
# 108 MiB at 1280x720 (117 bytes a pixel), 282 MiB at 2560x1440 (78), nothing measurable at 640x360.
STREAM_PER_PIXEL = 120.0
# Per pixel of the file's own frames when --image-size resizes them: the decoded frame and the pipe's buffer it
# is read from (uint8 RGB, 2 x 3 bytes; the frame is resized as bytes, before its float32 copy).
SOURCE_PER_PIXEL = 6.0
# OpenCV and imageio imported, and their buffers: a small fixed share (within the measurements above).
STREAM_FIXED_BYTES = 32 * 2**20


@dataclass(frozen=True)
class FramePlan:
    """What a clip's frames will do within the budget: whole (`tile` None) or tiles of `tile` px (one-pass
    routes); `estimate` bytes at the peak, the stream's `stream` bytes included; `given`: --max-memory was."""

    what: str
    height: int
    width: int
    tile: int | None
    tiles: int
    estimate: float
    stream: float
    budget: float
    given: bool
    detail: str

    @property
    def said(self) -> bool:
        """Whether the command says the line: --max-memory given, or the plan changed the work (tiles)."""
        return self.given or self.tile is not None

    def line(self) -> str:
        """One line for stderr and the run's record: whole frames or tiles, the estimate and the budget."""
        return f"{self.detail}; {_gib(self.stream)} of it the stream's frame buffers"

    def to_dict(self) -> dict:
        """The plan as the run folder's config.json and `--json` keep it."""
        return {"line": self.line(), "tile": self.tile, "tiles": self.tiles, "estimate_bytes": round(self.estimate),
                "stream_bytes": round(self.stream), "budget_bytes": round(self.budget)}  # fmt: skip


def stream_bytes(height: int, width: int, source: tuple[int, int] | None = None) -> float:
    """Bytes the frame stream holds besides the route, for frames of `height` x `width` px read from a file
    whose frames are `source` (height, width) px (None: the same size)."""
    resized = 0.0 if source is None or tuple(source) == (height, width) else SOURCE_PER_PIXEL * source[0] * source[1]
    return STREAM_FIXED_BYTES + STREAM_PER_PIXEL * height * width + resized


def plan_frames(route, height: int, width: int, source: tuple[int, int] | None, settings) -> FramePlan:
    """Plan `route`'s frames of `height` x `width` (module doc) within `settings.max_memory` and set the route
    to work that way; ConfigError (one line) when the budget cannot hold a frame's work."""
    from nst_tf.video import routes

    budget, given = budget_bytes(settings.max_memory), settings.max_memory is not None
    stream = stream_bytes(height, width, source)
    if isinstance(route, routes.OptimisedRoute):
        return _plan_optimised(route, height, width, source, budget, given)
    if isinstance(route, routes.NetworkRoute):
        from nst_tf.feedforward.tiles import memory_model, receptive_halo

        network, what = route.stylizer.model, "video frames"
        model = _with_stream(memory_model(network), stream)
        if not route.stylizer.fast:  # the Keras call (a texture network) runs whole, as in apply
            plan = Plan(height, width, None, 0, 1, model.fixed + model.whole * height * width, budget)
        else:
            plan = plan_picture(height, width, model, budget, receptive_halo(network), network.stride, noun="frame")
        route.tile, route.keep = plan.tile, plan.keep
    else:
        from nst_tf.perf.tiling import HEADROOM
        from nst_tf.universal.tiles import encoder_reach, memory_model

        what = f"video frames, universal {route.method}"
        model = _with_stream(memory_model(route.method), stream)
        halo = 2 * encoder_reach(max(route.model.levels))
        plan = plan_picture(height, width, model, budget, halo, 8, noun="frame")
        route.tile, route.spare = plan.tile, HEADROOM * budget - plan.estimate  # spare keeps the features
    return FramePlan(what, height, width, plan.tile, plan.tiles, plan.estimate, stream, budget, given, plan.line(what))


def _with_stream(model: MemoryModel, stream: float) -> MemoryModel:
    """The route's model with the stream's bytes held beside it, whole or tiled."""
    return dataclasses.replace(model, fixed=model.fixed + stream)


def _plan_optimised(route, height: int, width: int, source, budget: float, given: bool) -> FramePlan:
    """A whole frame by L-BFGS within HEADROOM of the budget (run's planner's share), else refused."""
    from nst_tf.optim import memory
    from nst_tf.optim.memory_plan import MemoryPlan, StagePlan

    architecture = route.extractor.weights.architecture
    config = route.config.replace(image_size=max(height, width))

    def need(h: int, w: int) -> float:  # a whole frame's step and the stream, at the peak
        frame = config.replace(image_size=max(h, w))
        return memory.estimate_peak_bytes(frame, h, w, architecture) + stream_bytes(h, w, source)

    what = "video --optimise"
    if architecture not in ("vgg19", "vgg16"):  # the estimate models VGG only (as run's planner)
        detail = f"{what}: {width}x{height} frames whole by L-BFGS (not planned: {architecture} is not modelled)"
        return FramePlan(what, height, width, None, 1, 0.0, stream_bytes(height, width, source), budget, given, detail)
    estimate, room = need(height, width), memory.HEADROOM * budget
    if estimate > room:
        raise ConfigError(_refusal(what, height, width, estimate, budget, need))
    stage = StagePlan(height, width, config.optimizer, None, 0, 1, int(estimate))
    route.memory_plan = MemoryPlan(config, (stage,), budget, given)
    detail = (
        f"{what}: {width}x{height} frames whole by L-BFGS ({config.iterations} steps, then "
        f"{route.later_iterations} a frame), about {_gib(estimate)} of a budget of {_gib(budget)}"
    )
    return FramePlan(what, height, width, None, 1, estimate, stream_bytes(height, width, source), budget, given, detail)


def _refusal(what: str, height: int, width: int, estimate: float, budget: float, need) -> str:
    """The one line refusing the optimisation route's frames: what a frame needs, the least budget, and the
    largest --image-size that fits this budget (none when not even 16 px does)."""
    from nst_tf.optim.memory import HEADROOM

    longest, room = max(height, width), HEADROOM * budget
    low, high = 16, longest  # the estimate grows with the side: bisect for the largest that fits
    if need(*fit_even(height, width, low)) > room:
        low = None
    else:
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if need(*fit_even(height, width, middle)) <= room else (low, middle)
    smaller = f", or --image-size {low} or less" if low else ""
    return (
        f"{what}: {width}x{height} frames need about {_gib(estimate)} each, whole (the temporal cost has no "
        f"tiled step); the budget is {_gib(budget)} (--max-memory, or what is free): --max-memory "
        f"{math.ceil(estimate / HEADROOM / 2**20)}M or more{smaller}"
    )


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"
