"""Config: layer-name spelling, validation, and the presets exactly as DESIGN.md §3."""

from __future__ import annotations

import pytest

from nst_tf.config import Config, keras_layer_name, paper_layer_name, parse_style_layers
from nst_tf.errors import ConfigError
from nst_tf.presets import COURSE, COURSE_TF2, DEFAULT


def test_layer_names_both_spellings():
    assert keras_layer_name("conv4_2") == "block4_conv2"
    assert keras_layer_name("block1_conv1") == "block1_conv1"
    assert paper_layer_name("block5_conv4") == "conv5_4"
    with pytest.raises(ConfigError, match="unknown layer"):
        keras_layer_name("fc7")


def test_parse_style_layers_equal_and_explicit_weights():
    assert parse_style_layers("conv1_1,conv2_1") == (("conv1_1", 0.5), ("conv2_1", 0.5))
    assert parse_style_layers("block1_conv1:0.3, conv3_1:0.7") == (("block1_conv1", 0.3), ("conv3_1", 0.7))
    for bad in ("", "conv9", "conv1_1:x"):
        with pytest.raises(ConfigError):
            parse_style_layers(bad)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"iterations": -1}, "iterations"),
        ({"iterations": 0}, "iterations"),
        ({"image_size": 0}, "image-size"),
        ({"learning_rate": 0.0}, "learning-rate"),
        ({"style_weight": -1.0}, "style-weight"),
        ({"content_layer": "conv9_9"}, "layer"),
        ({"style_layers": (("conv1_1", 0.0),)}, "all be zero"),
        ({"style_layers": (("conv1_1", 0.5), ("block1_conv1", 0.5))}, "twice"),
        ({"pooling": "median"}, "pooling"),
        ({"snapshot_every": -5}, "snapshot"),
    ],
)
def test_nonsense_settings_are_refused(changes, message):
    with pytest.raises(ConfigError, match=message):
        DEFAULT.replace(**changes)


def test_course_preset_is_the_tf1_recipe():
    c = COURSE.validated()
    assert c.exact_size == (300, 400)  # 400 wide x 300 high
    assert c.content_layer_key == "block4_conv2"
    assert c.style_layer_weights == {f"block{b}_conv1": 0.2 for b in range(1, 6)}
    assert (c.content_weight, c.style_weight, c.learning_rate, c.iterations, c.snapshot_every) == (10, 40, 2.0, 200, 20)
    assert (c.pooling, c.init, c.init_noise_ratio, c.pixel_scale) == ("avg", "blend", 0.6, 255.0)
    assert c.init_noise_range * 255 == pytest.approx(20.0)
    assert c.weights == "imagenet" and c.strict_weights
    assert (c.optimizer, c.adam_epsilon, c.clip_every_step) == ("adam", 1e-8, False)


def test_course_tf2_preset_is_the_tf2_recipe():
    c = COURSE_TF2.validated()
    assert c.exact_size == (400, 400)
    assert c.content_layer_key == "block5_conv4"
    assert c.style_layer_weights == {f"block{b}_conv1": 0.2 for b in range(1, 6)}
    assert (c.content_weight, c.style_weight, c.learning_rate, c.iterations, c.snapshot_every) == (
        10,
        40,
        0.01,
        2501,
        250,
    )
    assert (c.pooling, c.init, c.init_noise_range, c.input_preprocessing, c.seed) == (
        "max",
        "content+noise",
        0.25,
        "none",
        272,
    )
    assert c.weights == "imagenet" and c.strict_weights and c.clip_every_step
    assert (c.optimizer, c.adam_epsilon) == ("adam", 1e-7)


def test_config_is_frozen_and_serialisable():
    with pytest.raises(AttributeError):
        DEFAULT.iterations = 3  # type: ignore[misc]
    data = Config().to_dict()
    assert data["style_layers"][0] == ["conv1_1", 0.2]
    assert Config(**{**data, "style_layers": tuple(tuple(p) for p in data["style_layers"])}) == Config()


def test_flags_come_from_the_config_fields():
    import argparse
    import dataclasses

    from nst_tf import config as config_module
    from nst_tf.cli import settings

    parser = argparse.ArgumentParser()
    settings.add_setting_options(parser)
    actions = {a.dest: a for a in parser._actions}
    for field in dataclasses.fields(Config):
        if field.metadata.get("help"):
            assert field.name in actions, field.name
            own = field.metadata["help"]
            if "(default" in own:  # a help that names its default in its own words (--max-memory: what is free)
                assert actions[field.name].help == own.replace("%", "%%")
            else:
                assert f"default: {settings.show(getattr(DEFAULT, field.name))}" in actions[field.name].help
    assert tuple(actions["optimizer"].choices) == config_module.OPTIMIZERS
    assert tuple(actions["mode"].choices) == config_module.MODES
    assert "adam_epsilon" not in actions  # recipe settings only presets change
    assert settings.config_from_args(parser.parse_args([])) == DEFAULT
    config = settings.config_from_args(parser.parse_args(["--preset", "course", "--image-size", "64"]))
    assert config.image_size == 64 and config.exact_size is None  # --image-size replaces the exact size
    config = settings.config_from_args(parser.parse_args(["--image-size", "64", "--size", "50x40", "--no-jit"]))
    assert config.exact_size == (40, 50) and config.jit_compile is False


def test_negative_and_huge_seeds_are_refused():
    for seed in (-1, 2**32):
        with pytest.raises(ConfigError, match="seed"):
            DEFAULT.replace(seed=seed)
