"""The optimisation step on tiles (nst_tf.optim.tiled) against the whole-picture step, and the plan's wiring.

Pictures are 48x64 px with random VGG weights, so each test takes seconds. Tolerances: the tiled gradient
sums the same float32 products as the whole picture's in another order (per tile, then over tiles); a
convolution output sums at most 3·3·512 = 4608 products, whose rounding is about √4608·2⁻²⁴ ≈ 4e-6 of
the largest term, and the Gram and cost sums add a few more ε: 1e-4 of the gradient's largest value
bounds it with room for the layers' chain (measured: about 1e-6).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from nst_tf.optim import adam, engine
from nst_tf.optim.memory_plan import MemoryPlan, StagePlan
from nst_tf.optim.records import Stage
from nst_tf.optim.targets import compute_targets, picture_costs
from nst_tf.optim.tiled import TiledObjective, adam_update, random_offset, run_tiled_stage, tile_windows
from nst_tf.presets import DEFAULT
from nst_tf.vgg.extractor import build_extractor
from nst_tf.vgg.weights import random_weights

CONFIG = DEFAULT.replace(
    optimizer="adam", weights="random", seed=0, precision="float32", tv_weight=0.5, init="content", snapshot_every=0
)
HEIGHT, WIDTH = 48, 64
GRADIENT_TOLERANCE = 1e-4  # of the largest |gradient|: float32 rounding, see the module's docstring
EXACT_MARGIN = 80  # ≥ conv5_1's reach of 78 px a side: every core's features are the whole picture's


@pytest.fixture(scope="module")
def extractor():
    return build_extractor(CONFIG, random_weights(seed=0))


@pytest.fixture(scope="module")
def pictures():
    rng = np.random.default_rng(0)
    content = rng.random((1, HEIGHT, WIDTH, 3), dtype=np.float32)
    style = rng.random((1, 64, 64, 3), dtype=np.float32)
    start = np.clip(content + 0.2 * rng.standard_normal(content.shape), 0, 1).astype(np.float32)
    return content, style, start


def _whole(extractor, pictures, config=CONFIG):
    content, style, start = pictures
    targets = compute_targets(extractor, content, [style], config)
    picture = tf.Variable(start)
    with tf.GradientTape() as tape:
        values = picture_costs(extractor, targets, config, picture)
    return {k: float(v) for k, v in values.items()}, tape.gradient(values["total"], picture).numpy()


def _tiled(extractor, pictures, tile, margin, offset=(0, 0), config=CONFIG):
    content, style, start = pictures
    objective = TiledObjective(extractor, config, HEIGHT, WIDTH, tile, margin)
    objective.set_targets(content, [style], None)
    gradient = np.zeros_like(start)
    return objective.step(start, offset, gradient), gradient


def test_tile_windows_cover_the_picture_once_with_cores_on_the_16_px_grid():
    windows = tile_windows(100, 130, 48, 32, offset=(16, 32))
    covered = np.zeros((100, 130), int)
    for w in windows:
        top, bottom, left, right = w.core
        covered[top:bottom, left:right] += 1
        assert all(edge % 16 == 0 or edge in (100, 130) for edge in w.core)
        assert (w.top, w.left) == (max(0, top - 32), max(0, left - 32))
        assert (w.bottom, w.right) == (min(100, bottom + 32), min(130, right + 32))
    assert (covered == 1).all()
    assert sorted({w.core[0] for w in windows}) == [0, 16, 64]  # cut at the offset, then every 48 px


def test_one_tile_over_the_picture_is_the_whole_step(extractor, pictures):
    whole_costs, whole_gradient = _whole(extractor, pictures)
    costs, gradient = _tiled(extractor, pictures, tile=WIDTH, margin=0)
    for name in whole_costs:
        assert costs[name] == pytest.approx(whole_costs[name], rel=1e-5)
    error = np.abs(gradient - whole_gradient).max() / np.abs(whole_gradient).max()
    assert error < GRADIENT_TOLERANCE


def test_tiled_gradient_is_the_whole_gradient_when_margins_cover_the_receptive_field(extractor, pictures):
    whole_costs, whole_gradient = _whole(extractor, pictures)
    costs, gradient = _tiled(extractor, pictures, tile=32, margin=EXACT_MARGIN, offset=(16, 16))
    assert costs["total"] == pytest.approx(whole_costs["total"], rel=1e-5)
    assert np.abs(gradient - whole_gradient).max() / np.abs(whole_gradient).max() < GRADIENT_TOLERANCE
    # The control: margins narrower than the receptive field miss part of it, and the test sees that.
    _, narrow = _tiled(extractor, pictures, tile=32, margin=16, offset=(16, 16))
    assert np.abs(narrow - whole_gradient).max() / np.abs(whole_gradient).max() > 100 * GRADIENT_TOLERANCE


def test_tiled_adam_step_is_keras_adam_step_on_one_tile(extractor, pictures):
    """The row-block Adam equals the whole-picture compiled step (nst_tf.optim.adam) for two updates."""
    content, style, start = pictures
    image = tf.Variable(start.copy())
    optimizer = adam.make_optimizer(CONFIG)
    step = adam.make_step(extractor, compute_targets(extractor, content, [style], CONFIG), CONFIG, image, optimizer)
    objective = TiledObjective(extractor, CONFIG, HEIGHT, WIDTH, WIDTH, 0)
    objective.set_targets(content, [style], None)
    x, gradient, m, v = start.copy(), *(np.zeros_like(start) for _ in range(3))
    for count in (1, 2):
        step()
        objective.step(x, (0, 0), gradient)
        adam_update(x, gradient, m, v, count, CONFIG, CONFIG.learning_rate)
    # Adam's step lr·m/(√v + ε) is ±lr whatever the gradient's size, so where a gradient is near 0 its
    # rounding (1e-6 of the largest) moves the update by a fraction of lr: 1e-4 is 0.5 % of one step of
    # lr 0.02; almost every pixel agrees to float32 rounding (the median).
    difference = np.abs(x - image.numpy())
    assert difference.max() < 1e-4 and np.median(difference) < 1e-6
    assert isinstance(optimizer, keras.optimizers.Adam)


def _stage(extractor, pictures, iterations, config=CONFIG):
    content, style, start = pictures
    return Stage(extractor, content, [style], config, None, start.copy(), np.random.default_rng(0), 0, iterations, 0,
                 "/CPU:0")  # fmt: skip


def test_a_tiled_run_lowers_the_cost_and_moves_its_seams(extractor, pictures):
    plan = StagePlan(HEIGHT, WIDTH, "adam", 32, 16, 4, 0)
    steps = list(run_tiled_stage(_stage(extractor, pictures, 4), plan))
    totals = [s.costs["total"] for s in steps]
    assert totals[-1] < 0.9 * totals[0]
    assert steps[-1].image.shape == (1, HEIGHT, WIDTH, 3) and 0 <= steps[-1].image.min() <= steps[-1].image.max() <= 1
    rng = np.random.default_rng(0)
    offsets = [random_offset(rng, 64) for _ in range(6)]
    assert len(set(offsets)) > 1  # the grid moves from step to step: no seam stays in place
    assert all(v % 16 == 0 and 0 <= v < 64 for offset in offsets for v in offset)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean(np.square(a.astype(np.float64) - b))))


def test_tiled_run_matches_the_whole_run_and_narrow_margins_show_seams(extractor, pictures):
    """Seams measured: 4 Adam steps whole and in 32-px tiles. With margins covering the receptive field the
    tiled run is the whole run to float rounding (measured 90 dB; 40 dB is the bar the other tiled routes
    meet); with 16-px margins the tiles' gradients miss their neighbours (measured 21 dB)."""
    config = CONFIG.replace(learning_rate=0.05)
    whole = list(engine.run_stage(_stage(extractor, pictures, 4, config)))[-1].image
    exact_plan, narrow_plan = (StagePlan(HEIGHT, WIDTH, "adam", 32, margin, 4, 0) for margin in (EXACT_MARGIN, 16))
    exact = list(run_tiled_stage(_stage(extractor, pictures, 4, config), exact_plan))
    narrow = list(run_tiled_stage(_stage(extractor, pictures, 4, config), narrow_plan))
    exact_psnr, narrow_psnr = _psnr(exact[-1].image, whole), _psnr(narrow[-1].image, whole)
    assert exact_psnr >= 40.0, exact_psnr
    assert narrow_psnr < exact_psnr - 3, (narrow_psnr, exact_psnr)


def test_stylize_follows_a_memory_plan_through_the_tiles(extractor, pictures):
    content, style, _ = pictures
    config = CONFIG.replace(image_size=WIDTH, iterations=4, scales=2, snapshot_every=0)
    plan = MemoryPlan(
        config,
        (StagePlan(24, 32, "adam", None, 0, 1, 0), StagePlan(HEIGHT, WIDTH, "adam", 32, 16, 4, 0)),
        budget=2**30,
        given=True,
    )
    steps = list(engine.stylize(content, [style], config, extractor=extractor, memory_plan=plan))
    assert [s.iteration for s in steps] == list(range(6))  # 4 steps at 32x24, then 2 in tiles
    assert steps[-1].image.shape == (1, HEIGHT, WIDTH, 3)
    assert steps[-1].state is None  # a tiled stage saves no resumable state
