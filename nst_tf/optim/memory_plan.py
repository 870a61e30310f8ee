"""A run's work planned to fit a memory budget: coarse-to-fine stages, and the step on tiles where it must.

`plan_memory(config, height, width, architecture)` reads the budget (`Config.max_memory`, else what the
machine has free) and answers with a `MemoryPlan`: for every coarse-to-fine stage, the whole picture with
the run's optimiser when its estimate fits (`nst_tf.optim.memory.estimate_peak_bytes`), else the whole
picture with Adam (whose arrays are 6 float32 pictures against L-BFGS's 40 float64 ones), else Adam on tiles
(`nst_tf.optim.tiled`) of the largest core that fits. When the last stage needs tiles and the run has one
stage, stages are added (up to 6) until the coarsest fits in one piece, so the tiled steps only refine.
`MemoryPlan.line()` is the one line the command prints. Arithmetic on shapes only: no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from nst_tf.config import Config, keras_layer_name
from nst_tf.errors import ConfigError
from nst_tf.io.images import fit_size
from nst_tf.optim import memory
from nst_tf.optim.pictures import MIN_SIDE, stage_plan
from nst_tf.perf.tiling import budget_bytes, least_budget_message

# Tile cores and margins are multiples of VGG19's deepest pooling stride (conv5_1 sees 1/16 of the picture),
# so a tile's feature maps line up with the whole picture's at every style layer.
STRIDE = 16
# A tile's margin: the part of the receptive field that matters. conv5_1's theoretical field is 156 px
# (78 px a side) but its weight falls off fast: at 64 px the core's gradient is the whole picture's to
# the accuracy tests/optim/test_tiled.py measures; a random offset each step moves what is left.
MARGIN = 64
MIN_CORE = 64
# What a tiled stage holds besides one tile's maps, in bytes a pixel of the whole picture: the picture,
# its gradient and Adam's two moments (4 x 12), the content and style pictures at the stage's size, twice
# (the run's checked inputs and the stage's: 4 x 12), the content layer's stored features (conv4_2: 512
# channels at 1/64 of the pixels, 32), the upsampled start and a snapshot (2 x 12), and the allocator's
# slack. Fitted to peak RSS measured with /usr/bin/time -v and /proc's VmHWM (README, "Print-size
# pictures"): 140 was 0.1 GiB short at 2048x1536 and about 0.6 GiB at 3840x2880; 200 still 0.73 GiB short
# at 3840x2880 (4.32 GiB peak, 3.59 planned); 280 planned 4.50 GiB there and peaked at 4.44.
HELD_BYTES_PER_PIXEL = 280
# A tile's step holds the tapped layers' maps (float32) twice more than a whole-picture step: the core's
# slice of each and the slice's gradient, padded to the window (fitted as above: a 1072-px window at
# 1920x1440 peaked 0.6 GiB above the estimate without them).
TILE_TAPPED_COPIES = 2


@dataclass(frozen=True)
class StagePlan:
    """One stage: its size, its optimiser, and the side of its tiles' cores (None: the whole picture)."""

    height: int
    width: int
    optimizer: str
    tile: int | None
    margin: int
    tiles: int
    estimate: int


@dataclass(frozen=True)
class MemoryPlan:
    """The stages of a run as planned; `config` holds the stage count the plan settled on."""

    config: Config
    stages: tuple[StagePlan, ...]
    budget: float
    given: bool  # --max-memory was given (the line is said even when nothing had to change)
    added_scales: bool = False

    def stage(self, height: int, width: int) -> StagePlan | None:
        """The plan of the stage of this size (None: a size the plan does not know, run as configured)."""
        return next((s for s in self.stages if (s.height, s.width) == (height, width)), None)

    @property
    def changes_anything(self) -> bool:
        """Does the run differ from what its settings alone would do (stages added, Adam, tiles)?"""
        return self.added_scales or any(s.optimizer != self.config.optimizer or s.tile for s in self.stages)

    def line(self) -> str:
        """One line for stderr: every stage's size and how it runs, the peak estimate and the budget."""
        parts = []
        for s in self.stages:
            how = "" if s.optimizer == self.config.optimizer else f" by {s.optimizer}"
            if s.tile:
                how = f" by {s.optimizer} in {s.tiles} tiles of {s.tile} px (+{s.margin} px margins)"
            parts.append(f"{s.width}x{s.height}{how}")
        peak = max(s.estimate for s in self.stages)
        scales = f"{len(self.stages)} scale{'s' * (len(self.stages) > 1)}"
        return (
            f"nst_tf: run: {scales}: {', '.join(parts)}; about {peak / 2**30:.2f} GiB of a budget of "
            f"{self.budget / 2**30:.2f} GiB"
        )


def stage_size(config: Config, height: int, width: int) -> tuple[int, int]:
    """The (height, width) a stage of `config` works at, for a reference picture of `height` x `width`."""
    if config.exact_size is not None:
        return config.exact_size
    return fit_size(height, width, config.image_size)


def plan_memory(
    config: Config, height: int, width: int, architecture: str = "vgg19", budget: float | None = None
) -> MemoryPlan:
    """Plan `config`'s stages for a reference picture (the content) of `height` x `width` px.

    Args:
        config: the run's settings (resolved; precision "auto" counts as float32).
        height, width: the content picture's size (texture: the style's) before any resizing.
        architecture: the weights' network; only VGG is modelled (others run as configured, unplanned).
        budget: bytes to plan within (default: `config.max_memory`, else what the machine has free).

    Raises:
        ConfigError: not even the smallest tiles fit; one line naming the run's size and the least budget
            that would do (found by planning again, arithmetic only).
    """
    given = config.max_memory is not None
    budget = budget_bytes(config.max_memory) if budget is None else float(budget)
    try:
        return _plan(config, height, width, architecture, budget, given)
    except _TooSmall:
        pass
    low, high = budget, max(2 * budget, 2.0**30)
    while _fails(config, height, width, architecture, high):
        low, high = high, 2 * high
    while high - low > 2**20:  # to a MiB: the plan's arithmetic is monotone in the budget
        middle = (low + high) / 2
        low, high = (middle, high) if _fails(config, height, width, architecture, middle) else (low, middle)
    h, w = stage_size(config, height, width)
    raise ConfigError(least_budget_message(f"a {w}x{h} run", high, budget))


class _TooSmall(Exception):
    """A stage whose smallest tiles do not fit (caught by `plan_memory`, which names the least budget)."""


def _fails(config: Config, height: int, width: int, architecture: str, budget: float) -> bool:
    try:
        _plan(config, height, width, architecture, budget, True)
    except _TooSmall:
        return True
    return False


def _plan(config: Config, height: int, width: int, architecture: str, budget: float, given: bool) -> MemoryPlan:
    if architecture not in ("vgg19", "vgg16"):
        stages = tuple(_whole(c, height, width, architecture) for c, _ in stage_plan(config))
        return MemoryPlan(config, stages, budget, given)
    room = memory.HEADROOM * budget
    final = _whole(config, height, width, architecture)
    added = False
    if final.estimate > room and config.scales == 1:
        config, added = _with_scales(config, height, width, architecture, room), True
    stages = tuple(_stage(c, height, width, architecture, room) for c, _ in stage_plan(config))
    return MemoryPlan(config, stages, budget, given, added and len(stages) > 1)


def _whole(config: Config, height: int, width: int, architecture: str) -> StagePlan:
    h, w = stage_size(config, height, width)
    estimate = memory.estimate_peak_bytes(config, h, w, architecture) if architecture in ("vgg19", "vgg16") else 0
    return StagePlan(h, w, config.optimizer, None, 0, 1, estimate)


def _stage(config: Config, height: int, width: int, architecture: str, room: float) -> StagePlan:
    """The whole picture by the run's optimiser, else by Adam, else Adam on the largest tiles that fit."""
    plan = _whole(config, height, width, architecture)
    if plan.estimate <= room:
        return plan
    adam = dataclasses.replace(config, optimizer="adam")
    plan = _whole(adam, height, width, architecture)
    if plan.estimate <= room:
        return plan
    h, w = plan.height, plan.width
    held = HELD_BYTES_PER_PIXEL * h * w
    core = STRIDE * (min(max(h, w), _largest_window(adam, architecture, room - held) - 2 * MARGIN) // STRIDE)
    if core < MIN_CORE:
        raise _TooSmall
    window = (min(h, core + 2 * MARGIN), min(w, core + 2 * MARGIN))
    estimate = held + tile_bytes(adam, *window, architecture)
    tiles = math.ceil(h / core) * math.ceil(w / core)
    return StagePlan(h, w, "adam", core, MARGIN, tiles, int(estimate))


def tile_bytes(config: Config, height: int, width: int, architecture: str) -> int:
    """Peak bytes of one tile's step (a `height` x `width` window): a whole step's estimate, plus the
    tapped maps' extra copies (TILE_TAPPED_COPIES)."""
    tapped = {config.content_layer_key} if config.content_weight else set()
    tapped |= set(config.style_layer_weights) if config.style_weight else set()
    values = sum(x["height"] * x["width"] * x["c_out"] for x in memory.conv_layers(config, height, width, architecture)
                 if x["name"] in tapped)  # fmt: skip
    return memory.estimate_peak_bytes(config, height, width, architecture) + TILE_TAPPED_COPIES * 4 * values


def _largest_window(config: Config, architecture: str, room: float) -> int:
    """The largest square tile side (px) whose step's estimate is within `room` (0 when none is)."""
    low, high = 0, 1 << 15
    while high - low > 1:
        middle = (low + high) // 2
        fits = tile_bytes(config, middle, middle, architecture) <= room
        low, high = (middle, high) if fits else (low, middle)
    return low


def _with_scales(config: Config, height: int, width: int, architecture: str, room: float) -> Config:
    """The fewest coarse-to-fine stages (2 to 6) whose coarsest fits in one piece (as many as allowed if none)."""
    best = config
    for scales in range(2, 7):
        if config.image_size / 2 ** (scales - 1) < MIN_SIDE or (
            config.exact_size and min(config.exact_size) / 2 ** (scales - 1) < MIN_SIDE
        ):
            break
        best = config.replace(scales=scales)
        coarsest = stage_plan(best)[0][0]
        if _whole(coarsest, height, width, architecture).estimate <= room:
            break
    return best


def content_stride(config: Config) -> int:
    """The content layer's stride over the picture (conv4_2: 8), for the features a tiled stage stores."""
    return layer_stride(config.content_layer_key)


def layer_stride(layer: str) -> int:
    """A VGG layer's stride over the picture: blockN_convM sees 1/2^(N-1) of each side."""
    return 2 ** (int(keras_layer_name(layer)[5]) - 1)
