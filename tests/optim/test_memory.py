"""The memory estimate: its shape, the refusal of runs that cannot fit, and where stylize checks it."""

from __future__ import annotations

import re

import pytest

from nst_tf.errors import ConfigError
from nst_tf.optim import engine as optimize
from nst_tf.optim import memory, stages
from nst_tf.presets import DEFAULT
from nst_tf.vgg.weights import random_weights


def test_the_estimate_grows_with_the_square_of_the_size():
    sizes = (256, 512, 1024, 2048)
    estimates = [memory.estimate_peak_bytes(DEFAULT, s * 3 // 4, s) for s in sizes]
    growth = [(c - b) / (b - a) for a, b, c in zip(estimates, estimates[1:], estimates[2:], strict=False)]
    assert all(3.8 < g < 4.2 for g in growth), growth  # doubling the side quadruples the size-dependent part
    assert estimates[0] > memory.RUNTIME_BYTES


def test_the_network_is_cut_at_the_deepest_layer_needed():
    layers = memory.conv_layers(DEFAULT.replace(content_layer="conv2_1", style_layers=(("conv1_1", 1.0),)), 64, 48)
    assert [layer["name"] for layer in layers] == ["block1_conv1", "block1_conv2", "block2_conv1"]
    assert (layers[-1]["height"], layers[-1]["width"], layers[-1]["c_in"]) == (32, 24, 64)
    same = memory.conv_layers(DEFAULT.replace(pool_padding="same"), 75, 75)
    assert same[-1]["height"] == 5  # 75 -> 38 -> 19 -> 10 -> 5 (rounding up), not 75 // 16 = 4


def test_lbfgs_and_bfloat16_change_the_estimate():
    adam = memory.estimate_peak_bytes(DEFAULT.replace(optimizer="adam"), 768, 1024)
    assert memory.estimate_peak_bytes(DEFAULT.replace(optimizer="lbfgs"), 768, 1024) > adam
    assert memory.estimate_peak_bytes(DEFAULT.replace(optimizer="adam", precision="bfloat16"), 768, 1024) < adam


def test_check_memory_passes_what_fits_and_suggests_a_size_for_what_does_not():
    needed = memory.estimate_peak_bytes(DEFAULT, 768, 1024)
    assert memory.check_memory(DEFAULT, 768, 1024, available=2 * needed) == needed
    with pytest.raises(ConfigError, match=r"--image-size (\d+)") as caught:
        memory.check_memory(DEFAULT, 768, 1024, available=int(0.8 * needed))
    side = int(re.search(r"--image-size (\d+)", str(caught.value)).group(1))
    assert 256 < side < 1024
    fits = memory.estimate_peak_bytes(DEFAULT, side * 3 // 4, side)
    assert fits <= memory.HEADROOM * 0.8 * needed
    assert memory.available_bytes() is None or memory.available_bytes() > 0


def test_an_absurd_size_is_refused_before_anything_is_allocated(content_image, style_image, monkeypatch):
    def no_resizing(*args, **kwargs):
        raise AssertionError("the pictures were resized before the memory check")

    monkeypatch.setattr(stages, "prepare_images", no_resizing)
    config = DEFAULT.replace(image_size=100_000, weights="random")
    extractor = optimize.build_extractor(config, random_weights(seed=0))
    with pytest.raises(ConfigError, match="GiB"):
        next(optimize.stylize(content_image, style_image, config, extractor=extractor))
