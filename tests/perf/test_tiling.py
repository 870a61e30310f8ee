"""The memory planner of issue 26 (`nst_tf.perf.tiling`): whole when it fits, tiles sized to the budget."""

from __future__ import annotations

import pytest

from nst_tf.errors import ConfigError
from nst_tf.perf.tiling import HEADROOM, MemoryModel, parse_memory, plan_picture

MODEL = MemoryModel(fixed=800 * 2**20, whole=190.0, held=55.0, tile=320.0)  # an older apply's, per pixel
# apply's now (nst_tf.feedforward.tiles): a faster schedule holding 54 bytes a pixel, a lean one 30
TWO = MemoryModel(fixed=800 * 2**20, whole=190.0, held=30.0, tile=200.0, kept=54.0)


def test_parse_memory_reads_binary_units_and_refuses_the_rest():
    assert parse_memory("3G") == 3 * 2**30
    assert parse_memory("512m") == 512 * 2**20
    assert parse_memory("1.5GiB") == int(1.5 * 2**30)
    assert parse_memory("123456") == 123456
    for bad in ("", "-1G", "0", "three", "3X"):
        with pytest.raises(ConfigError, match="--max-memory"):
            parse_memory(bad)


def test_a_picture_that_fits_runs_whole():
    plan = plan_picture(3000, 4000, MODEL, budget=8 * 2**30, halo=16, stride=4)
    assert plan.tile is None and plan.tiles == 1
    assert plan.estimate == pytest.approx(MODEL.fixed + MODEL.whole * 12e6)
    assert "in one piece" in plan.line("apply")


def test_a_budget_below_the_whole_picture_forces_tiles_that_fit():
    budget = 2 * 2**30  # 12 MP whole needs 0.8 GiB + 190 B x 12e6 = 2.9 GiB
    plan = plan_picture(3000, 4000, MODEL, budget=budget, halo=16, stride=4)
    assert plan.tile is not None and plan.tile % 4 == 0 and plan.tiles > 1
    assert plan.estimate <= HEADROOM * budget
    # the largest such tile: one stride more would not fit
    bigger = MODEL.fixed + MODEL.held * 12e6 + MODEL.tile * (plan.tile + 4 + 32) ** 2
    assert bigger > HEADROOM * budget
    assert f"tiles of {plan.tile} px" in plan.line("apply")


def test_a_forced_tile_is_kept_and_a_hopeless_budget_refused():
    plan = plan_picture(300, 400, MODEL, budget=64 * 2**30, halo=16, stride=4, tile=130)
    assert plan.tile == 128 and plan.tiles == 3 * 4
    with pytest.raises(ConfigError, match="even in tiles"):
        plan_picture(4500, 6000, MODEL, budget=2**30, halo=16, stride=4)


def test_the_faster_schedule_when_its_tiles_fit_else_the_lean_one():
    budget = 2 * 2**30
    fast = plan_picture(3000, 4000, TWO, budget=budget, halo=8, stride=4)  # 12 MP: 0.78 + 0.60 GiB held
    assert fast.keep and fast.tile is not None and fast.estimate <= HEADROOM * budget
    assert TWO.fixed + TWO.kept * 12e6 + TWO.tile * (fast.tile + 4 + 16) ** 2 > HEADROOM * budget  # the largest
    assert "every layer's map kept" in fast.line("apply")
    lean = plan_picture(4500, 6000, TWO, budget=budget, halo=8, stride=4)  # 27 MP: kept would hold 1.36 GiB
    assert not lean.keep and lean.tile >= 64 and lean.estimate <= HEADROOM * budget
    assert TWO.fixed + TWO.kept * 27e6 + TWO.tile * (64 + 16) ** 2 > HEADROOM * budget  # so not kept
    # the largest tiles that fit: one stride more would not (never smaller tiles than the budget needs)
    assert TWO.fixed + TWO.held * 27e6 + TWO.tile * (lean.tile + 4 + 16) ** 2 > HEADROOM * budget
    # a forced tile is kept, by the faster schedule where it fits, even one below MIN_TILE
    assert plan_picture(900, 1200, TWO, budget=8 * 2**30, halo=8, stride=4, tile=1024).keep
    assert plan_picture(900, 1200, TWO, budget=8 * 2**30, halo=8, stride=4, tile=32).tile == 32


@pytest.mark.parametrize(("height", "width"), [(300, 451), (4500, 6000)])
def test_a_hopeless_budget_names_the_least_that_works(height, width):
    with pytest.raises(ConfigError) as refused:
        plan_picture(height, width, TWO, budget=10 * 2**10, halo=8, stride=4)
    message = str(refused.value)
    assert "\n" not in message and f"a {width}x{height} picture" in message and "10 KiB" in message
    least = int(message.split("--max-memory ")[1].split("M")[0]) * 2**20
    plan_picture(height, width, TWO, budget=least, halo=8, stride=4)  # the budget it names works ...
    with pytest.raises(ConfigError):  # ... and a MiB and a half less does not
        plan_picture(height, width, TWO, budget=least - 1.5 * 2**20, halo=8, stride=4)
    with pytest.raises(ConfigError, match="at least"):  # a forced tile is no way round a hopeless budget
        plan_picture(height, width, TWO, budget=10 * 2**10, halo=8, stride=4, tile=64)
