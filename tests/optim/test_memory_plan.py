"""The memory planner (nst_tf.optim.memory_plan): stages, Adam and tiles chosen to fit a budget.

Arithmetic on shapes only (no TensorFlow, no pictures), so print sizes cost nothing to test.
"""

from __future__ import annotations

import pytest

from nst_tf.errors import ConfigError
from nst_tf.optim import memory
from nst_tf.optim.memory_plan import MARGIN, MIN_CORE, STRIDE, plan_memory
from nst_tf.presets import DEFAULT

GIB = 2**30


def test_a_budget_that_forces_tiles_adds_stages_and_tiles_the_fine_ones():
    config = DEFAULT.replace(image_size=2048, max_memory="3G", precision="float32")
    plan = plan_memory(config, 768, 1024)  # tubingen's size: the run upscales it to 2048x1536
    assert plan.budget == 3 * GIB and plan.given and plan.changes_anything
    assert plan.config.scales > 1 and len(plan.stages) == plan.config.scales
    coarsest, finest = plan.stages[0], plan.stages[-1]
    assert coarsest.tile is None and coarsest.optimizer == "lbfgs"  # the stages were added until this fits
    assert (finest.height, finest.width) == (1536, 2048) and finest.optimizer == "adam"
    assert finest.tile is not None and finest.tile % STRIDE == 0 and finest.tile >= MIN_CORE
    assert finest.margin == MARGIN and finest.tiles == -(-1536 // finest.tile) * -(-2048 // finest.tile)
    assert all(s.estimate <= memory.HEADROOM * plan.budget for s in plan.stages)
    line = plan.line()
    assert line.startswith(f"nst_tf: run: {len(plan.stages)} scales: ") and "\n" not in line
    assert f"2048x1536 by adam in {finest.tiles} tiles of {finest.tile} px (+{MARGIN} px margins)" in line


def test_what_fits_is_left_alone():
    config = DEFAULT.replace(image_size=256, precision="float32")
    plan = plan_memory(config, 300, 451, budget=8 * GIB)
    assert not plan.changes_anything and not plan.given and plan.config == config
    assert [(s.height, s.width, s.optimizer, s.tile) for s in plan.stages] == [(170, 256, "lbfgs", None)]


def test_adam_in_one_piece_before_tiles_and_explicit_stages_are_kept():
    config = DEFAULT.replace(image_size=1024, scales=2, precision="float32")
    lbfgs = memory.estimate_peak_bytes(config, 768, 1024)
    adam = memory.estimate_peak_bytes(config.replace(optimizer="adam"), 768, 1024)
    budget = (lbfgs + adam) / 2 / memory.HEADROOM  # between the two estimates
    plan = plan_memory(config, 768, 1024, budget=budget)
    assert plan.config.scales == 2  # the user's stages, not more
    assert [(s.optimizer, s.tile) for s in plan.stages] == [("lbfgs", None), ("adam", None)]


def test_a_budget_too_small_even_for_tiles_is_refused_with_advice():
    with pytest.raises(ConfigError, match="even in tiles.*--image-size"):
        plan_memory(DEFAULT.replace(image_size=3840, max_memory="2G"), 2880, 3840)


def test_a_tiny_budget_names_the_run_and_the_least_budget_that_works():
    """--max-memory 10K was refused naming the coarsest of 6 added stages (16x11), not the run, nor what would do."""
    config = DEFAULT.replace(image_size=512, max_memory="10K", precision="float32")
    with pytest.raises(ConfigError) as refused:
        plan_memory(config, 300, 451)
    message = str(refused.value)
    assert message.startswith("a 512x341 run needs a memory budget of at least ") and "10 KiB" in message
    least = int(message.split("--max-memory ")[1].split("M")[0]) * 2**20
    plan = plan_memory(config, 300, 451, budget=least)  # what it names works ...
    assert all(s.estimate <= memory.HEADROOM * least for s in plan.stages)
    with pytest.raises(ConfigError):  # ... and two MiB less does not (it is the least, to a MiB)
        plan_memory(config, 300, 451, budget=least - 2 * 2**20)


def test_max_memory_must_be_a_size():
    with pytest.raises(ConfigError, match="--max-memory"):
        DEFAULT.replace(max_memory="lots")
    assert DEFAULT.replace(max_memory="512M").max_memory == "512M"
