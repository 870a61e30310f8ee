"""L-BFGS over the pixels: it lowers the cost, respects the bounds, yields Steps and stops when closed."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from nst_tf.errors import ConfigError
from nst_tf.optim import engine as optimize
from nst_tf.optim import records
from nst_tf.presets import COURSE, DEFAULT
from nst_tf.vgg.extractor import BFloat16Extractor, build_extractor
from nst_tf.vgg.weights import random_weights

SMALL = DEFAULT.replace(
    image_size=48, iterations=6, snapshot_every=2, weights="random", seed=0, optimizer="lbfgs", init="content+noise"
)


@pytest.fixture(scope="module")
def extractor():
    return build_extractor(SMALL, random_weights(seed=0))


def test_lbfgs_lowers_the_cost_and_yields_steps_with_snapshots(content_image, style_image, extractor):
    steps = list(optimize.stylize(content_image, style_image, SMALL, extractor=extractor))
    assert [s.iteration for s in steps] == list(range(6))
    assert [s.image is not None for s in steps] == [True, False, True, False, True, True]
    assert steps[-1].image.shape == (1, 32, 48, 3)
    # Snapshot steps carry a state to resume from: the accepted picture, no optimizer arrays.
    assert [s.state is not None for s in steps] == [s.image is not None for s in steps]
    assert steps[2].state.steps == 3 and steps[2].state.optimizer == []
    np.testing.assert_allclose(steps[2].state.image, steps[2].raw_image * SMALL.pixel_scale, rtol=1e-6)
    totals = [s.costs["total"] for s in steps]
    assert totals[-1] < 0.7 * totals[0]
    assert all(later <= earlier for earlier, later in zip(totals, totals[1:], strict=False))  # a descent method
    evaluations = [s.evaluations for s in steps]
    assert evaluations[0] >= 2 and all(b > a for a, b in zip(evaluations, evaluations[1:], strict=False))


def test_lbfgs_respects_the_pixel_bounds(content_image, style_image, extractor):
    # A huge style weight pushes hard: without bounds the pixels would leave [0, 255].
    config = SMALL.replace(pixel_scale=255.0, style_weight=1e6, iterations=4, snapshot_every=1)
    steps = list(optimize.stylize(content_image, style_image, config, extractor=extractor))
    for step in steps:
        assert step.raw_image.min() >= 0.0 and step.raw_image.max() <= 1.0
    assert np.abs(steps[-1].raw_image - content_image).max() > 0.05  # it did move
    assert (steps[-1].raw_image == 0.0).any() and (steps[-1].raw_image == 1.0).any()  # pressed against both bounds


def test_closing_the_generator_stops_the_optimisation(content_image, style_image, extractor):
    before = threading.active_count()
    steps = optimize.stylize(content_image, style_image, SMALL.replace(iterations=1000), extractor=extractor)
    first = next(steps)
    second = next(steps)
    steps.close()
    assert (first.iteration, second.iteration) == (0, 1)
    assert threading.active_count() == before  # the SciPy worker thread has ended


def test_a_stalled_run_still_yields_every_step(content_image, style_image, extractor):
    # Content only, starting from the content picture: the cost is 0 and its gradient 0, so L-BFGS-B can
    # make no progress at all; the run still yields every requested step, the last with the picture.
    config = SMALL.replace(style_weight=0.0, init="content", iterations=3)
    steps = list(optimize.stylize(content_image, style_image, config, extractor=extractor))
    assert [s.iteration for s in steps] == [0, 1, 2]
    assert steps[-1].image is not None
    assert all(s.costs["total"] == steps[0].costs["total"] for s in steps)


def test_a_resumed_lbfgs_run_continues_downhill_from_the_saved_picture(content_image, style_image, extractor):
    straight = list(optimize.stylize(content_image, style_image, SMALL, extractor=extractor))
    saved = straight[2].state  # after 3 iterations
    resumed = list(optimize.stylize(content_image, style_image, SMALL, extractor=extractor, resume=saved))
    assert [s.iteration for s in resumed] == [3, 4, 5]
    totals = [s.costs["total"] for s in resumed]
    # A fresh L-BFGS-B from the saved picture: every accepted point is below the cost it started from.
    assert totals[0] < straight[2].costs["total"]
    assert all(later <= earlier for earlier, later in zip(totals, totals[1:], strict=False))
    assert totals[-1] < 0.9 * straight[2].costs["total"]


def test_a_saved_state_continues_only_with_its_own_optimizer(content_image, style_image, extractor):
    lbfgs_state = records.OptimizerState(1, content_image.copy(), [])
    adam_state = records.OptimizerState(1, content_image.copy(), [np.zeros(1), np.zeros(1)])
    with pytest.raises(ConfigError, match="Adam run's"):
        list(optimize.stylize(content_image, style_image, SMALL, extractor=extractor, resume=adam_state))
    with pytest.raises(ConfigError, match="L-BFGS run's"):
        adam = SMALL.replace(optimizer="adam")
        list(optimize.stylize(content_image, style_image, adam, extractor=extractor, resume=lbfgs_state))
    wrong_size = records.OptimizerState(1, np.zeros((1, 8, 8, 3), np.float32), [])
    with pytest.raises(ConfigError, match="picture"):
        list(optimize.stylize(content_image, style_image, SMALL, extractor=extractor, resume=wrong_size))


def test_the_default_preset_is_lbfgs():
    # Chosen by measurement (benchmarks/README.md, time_to_quality.py --cost default).
    assert (DEFAULT.optimizer, DEFAULT.iterations) == ("lbfgs", 100)


def test_an_unknown_optimizer_is_refused_by_name():
    with pytest.raises(ConfigError, match="'sgd'.*lbfgs"):
        COURSE.replace(optimizer="sgd")


def test_xla_and_bfloat16_runs_lower_the_cost(content_image, style_image):
    # Shallow layers keep XLA's compile time short.
    config = SMALL.replace(
        iterations=3, jit_compile=True, precision="bfloat16", content_layer="conv2_1", style_layers=(("conv1_1", 1.0),)
    )
    extractor = build_extractor(config, random_weights(seed=0))
    assert isinstance(extractor, BFloat16Extractor)
    for optimizer in ("lbfgs", "adam"):
        steps = list(
            optimize.stylize(content_image, style_image, config.replace(optimizer=optimizer), extractor=extractor)
        )
        assert steps[-1].costs["total"] < steps[0].costs["total"], optimizer
        assert steps[-1].image.dtype == np.float32


# What the child prints: SciPy's bundled OpenBLAS's thread count after nst_tf.optim.lbfgs loaded it, and
# OPENBLAS_NUM_THREADS as the process sees it afterwards ("-" when unset).
_BLAS_PROBE = """
import ctypes, os
import nst_tf.optim.lbfgs
paths = [line.split()[-1] for line in open("/proc/self/maps") if "scipy.libs/libscipy_openblas" in line]
threads = ctypes.CDLL(paths[0]).scipy_openblas_get_num_threads() if paths else -1
print(threads, os.environ.get("OPENBLAS_NUM_THREADS", "-"))
"""


@pytest.mark.parametrize(("given", "expected"), [(None, "1 -"), ("2", "2 2")])
def test_scipy_blas_runs_one_thread_unless_the_user_says_otherwise(given, expected):
    """L-BFGS-B through SciPy's OpenBLAS with one thread (nst_tf.optim.lbfgs says why); the variable is not
    left behind for child processes, and a user's own setting wins."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"} | {"PYTHONPATH": str(ROOT)}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    out = subprocess.run([sys.executable, "-c", _BLAS_PROBE], env=env, capture_output=True, text=True, check=True)
    threads, variable = out.stdout.split()
    if threads == "-1":
        pytest.skip("SciPy here does not bundle scipy_openblas (another BLAS: its own thread settings apply)")
    assert f"{threads} {variable}" == expected
