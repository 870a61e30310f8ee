"""Planning a picture's work to fit in memory: the whole picture at once, or tiles of a planned size (issue 26).

Pure arithmetic, no TensorFlow: a route gives a `MemoryModel` (bytes measured with `/usr/bin/time -v` at a few
sizes, see benchmarks/print_size.py) and the halo its tiles need; `plan_picture` answers with a `Plan`
whose `line()` the command prints. `parse_memory` reads `--max-memory` ("3G", "512M", "1.5G", bytes);
`available_bytes` is what the machine has free (also what `nst_tf.optim.memory` checks a run against).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from nst_tf.errors import ConfigError

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
# Leave this share of the budget unplanned: the models are measured on one machine, allocators differ.
HEADROOM = 0.85
MIN_TILE = 64  # px of a tile's core below which the halos cost more than the cores


@dataclass(frozen=True)
class MemoryModel:
    """Peak memory of a route, in bytes: `fixed` + `whole`·pixels for the whole picture at once;
    `fixed` + `held`·pixels (the picture, its result and what tiling keeps of the whole) + `tile`·pixels of
    one tile (core and halo) when tiled; `kept`: the held bytes of a faster tiled schedule that keeps more
    of the whole (None: the route has none), chosen whenever its tiles fit."""

    fixed: float
    whole: float
    held: float
    tile: float
    kept: float | None = None


@dataclass(frozen=True)
class Plan:
    """What a route will do: `tile` None (the whole picture) or the side of a tile's core in px; `keep`:
    tiles by the route's faster schedule (`MemoryModel.kept`)."""

    height: int
    width: int
    tile: int | None
    halo: int
    tiles: int
    estimate: float
    budget: float
    keep: bool = False

    def line(self, what: str) -> str:
        """One line for stderr: what was planned and why."""
        size = f"{self.width}x{self.height} ({self.height * self.width / 1e6:.1f} MP)"
        budget = f"a budget of {_gib(self.budget)}"
        if self.tile is None:
            return f"{what}: {size} in one piece, about {_gib(self.estimate)} of {budget}"
        kept = ", every layer's map kept" if self.keep else ""
        return (
            f"{what}: {size} in {self.tiles} tiles of {self.tile} px (+{self.halo} px margins{kept}), "
            f"about {_gib(self.estimate)} of {budget}"
        )


def parse_memory(text: str) -> int:
    """Bytes from "3G", "512M", "1.5g", "2000000000" (binary units); ConfigError for anything else."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", str(text), re.IGNORECASE)
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"--max-memory must be a size such as 3G or 512M, not {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def available_bytes() -> int | None:
    """Memory this process can still take: MemAvailable, capped by a cgroup (v2) limit; None if unknown."""
    candidates: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                candidates.append(int(line.split()[1]) * 1024)
                break
    except (OSError, ValueError, IndexError):
        pass
    if not candidates:
        try:
            candidates.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (OSError, ValueError, AttributeError):
            pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
            candidates.append(int(limit) - used)
    except (OSError, ValueError):
        pass
    return min(candidates) if candidates else None


def budget_bytes(max_memory: str | None) -> float:
    """The budget to plan within: `--max-memory` when given, else what is free (8 GiB when unknown)."""
    if max_memory:
        return float(parse_memory(max_memory))
    return float(available_bytes() or 8 * 2**30)


def plan_picture(
    height: int,
    width: int,
    model: MemoryModel,
    budget: float,
    halo: int,
    stride: int = 8,
    tile: int | None = None,
    noun: str = "picture",
) -> Plan:
    """The whole picture when it fits in HEADROOM·budget (and no `tile` is forced), else the largest tiles
    that do, by the faster schedule (`model.kept`) when its tiles of at least `MIN_TILE` px (or the forced
    `tile`) fit; cores are multiples of `stride`. ConfigError, naming the least budget that would do, when
    not even `MIN_TILE` px tiles fit (the line calls what is planned a `noun`: "picture", video's "frame")."""
    pixels = height * width
    room = HEADROOM * budget
    whole = model.fixed + model.whole * pixels
    if tile is None and whole <= room:
        return Plan(height, width, None, 0, 1, whole, budget)
    longest = stride * math.ceil(max(height, width) / stride)
    least = min(MIN_TILE, longest)  # a picture smaller than MIN_TILE is one tile
    forced = None if tile is None else max(stride, stride * (int(tile) // stride))
    schedules = [(True, model.kept)] if model.kept is not None else []
    for keep, per_pixel in [*schedules, (False, model.held)]:
        held = model.fixed + per_pixel * pixels
        side = math.isqrt(max(0, int((room - held) / model.tile))) - 2 * halo
        side = stride * (min(side, longest) // stride)
        if forced is not None:  # a forced tile is kept: by the faster schedule when it fits, else by the
            if held + model.tile * (forced + 2 * halo) ** 2 > room and (keep or side < least):  # lean one
                continue  # unless the budget holds no tiles at all
            side = forced
        if forced is not None or side >= least:
            tiles = math.ceil(height / side) * math.ceil(width / side)
            estimate = held + model.tile * (min(side, longest) + 2 * halo) ** 2
            return Plan(height, width, side, halo, tiles, estimate, budget, keep)
    need = min(whole, model.fixed + model.held * pixels + model.tile * (least + 2 * halo) ** 2) / HEADROOM
    raise ConfigError(least_budget_message(f"a {width}x{height} {noun}", need, budget))


def least_budget_message(what: str, need: float, budget: float) -> str:
    """The one line that refuses a budget: what needs how much at least (`need`, bytes) against the budget."""
    return (
        f"{what} needs a memory budget of at least {_gib(need)} even in tiles (--max-memory "
        f"{math.ceil(need / 2**20)}M or more, or a smaller --image-size); the budget is {_size(budget)} "
        "(--max-memory, or what is free)"
    )


def _size(n: float) -> str:
    """Bytes as a person writes them: 10 KiB, 512 MiB, 2.50 GiB."""
    if n >= 2**30:
        return _gib(n)
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB" if n >= 2**10 else f"{n:.0f} bytes"


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"
