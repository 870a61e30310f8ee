"""The other sources' recipes as presets: each one's settings and cost conventions, pinned on hand-computed
values; each runs on both backends from the command line (with --weights random); compare reports parity."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
from conftest import IMAGES

from nst_tf.losses import costs
from nst_tf.optim import pictures
from nst_tf.presets import CS231N, MASTERING_PYTORCH, PRESETS, PYTORCH_TUTORIAL, preset

SOURCES = ("pytorch-tutorial", "mastering-pytorch", "cs231n")
COUNTED = ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1")


def test_the_pytorch_tutorial_preset():
    c = PYTORCH_TUTORIAL
    assert preset("pytorch-tutorial") is c
    assert (c.content_layer, [name for name, _ in c.style_layers]) == ("conv2_2", list(COUNTED))  # conv_4; conv_1..5
    assert [w for _, w in c.style_layers] == [1.0] * 5
    assert (c.content_weight, c.style_weight, c.tv_weight) == (1.0, 1e6, 0.0)
    assert (c.optimizer, c.iterations, c.init, c.pooling, c.image_size) == ("torch-lbfgs", 300, "content", "max", 128)
    assert (c.feature_tap, c.content_cost_form, c.style_cost_form, c.gram_normalisation) == (
        "conv",
        "mse",
        "mse",
        "size",
    )
    assert (c.weights, c.strict_weights, c.input_preprocessing) == ("imagenet", True, "weights")


def test_the_mastering_pytorch_preset():
    c = MASTERING_PYTORCH
    assert (c.content_layer, [name for name, _ in c.style_layers]) == ("conv2_2", list(COUNTED))  # {4: 'sc'}
    assert (c.content_weight, c.style_weight) == (1.0, 1e6)
    assert (c.optimizer, c.learning_rate, c.iterations, c.init, c.pooling) == ("adam", 0.1, 180, "gaussian", "avg")
    assert (c.feature_tap, c.content_cost_form, c.style_cost_form, c.gram_normalisation) == (
        "conv",
        "mse",
        "mse",
        "size",
    )
    assert c.clip_every_step and c.input_preprocessing == "none" and c.strict_weights


def test_the_cs231n_preset():
    c = CS231N
    assert [w for _, w in c.style_layers] == [20000.0, 500.0, 12.0, 1.0]
    assert (c.content_weight, c.style_weight, c.tv_weight) == (5e-2, 1.0, 5e-2)
    assert (c.optimizer, c.learning_rate, c.lr_decay_at, c.decayed_learning_rate) == ("adam", 3.0, 180, 0.1)
    assert (c.iterations, c.image_size, round(c.style_scale * c.image_size), c.init) == (200, 192, 512, "content")
    assert (c.content_cost_form, c.style_cost_form, c.gram_normalisation, c.tv_form) == ("sum", "sum", "size", "sum")
    assert c.feature_tap == "relu" and c.strict_weights


def test_each_preset_names_its_weights_and_refuses_to_fall_back():
    for name in SOURCES:
        assert PRESETS[name].weights == "imagenet" and PRESETS[name].strict_weights, name


def _features(seed: int) -> tf.Tensor:
    return tf.constant(np.random.default_rng(seed).normal(size=(1, 2, 3, 2)).astype(np.float32))


@pytest.mark.parametrize("name", SOURCES)
def test_each_preset_costs_on_hand_computed_values(name):
    config = PRESETS[name]
    ones, zeros = tf.ones((1, 2, 3, 4)), tf.zeros((1, 2, 3, 4))  # Σ(1 − 0)² = 24 over 24 values
    content = float(costs.content_cost(ones, zeros, config.content_cost_form)[0])
    assert content == pytest.approx({"mse": 1.0, "sum": 24.0}[config.content_cost_form])
    # Style features with positions (1, 2), (3, 4) and 2 channels: AᵀA = [[10, 14], [14, 20]], / (1·2·2)
    style = tf.constant([[[[1.0, 2.0], [3.0, 4.0]]]])
    gram = costs.gram_matrix(style, config.gram_normalisation)
    np.testing.assert_allclose(gram.numpy(), [[[2.5, 3.5], [3.5, 5.0]]])
    layer = costs.layer_style_cost(
        gram, tf.zeros((1, 1, 2, 2)), form=config.style_cost_form, normalisation=config.gram_normalisation
    )
    squares = 2.5**2 + 2 * 3.5**2 + 5.0**2  # 55.75
    assert float(layer[0]) == pytest.approx({"mse": squares / 4, "sum": squares}[config.style_cost_form])


def test_the_gaussian_start_is_clamped_normal_noise():
    content = np.zeros((1, 40, 50, 3), np.float32)
    start = pictures.initial_image(content, MASTERING_PYTORCH, np.random.default_rng(0))
    expected = np.clip(np.random.default_rng(0).standard_normal(content.shape), 0, 1)
    np.testing.assert_allclose(start, expected, rtol=1e-6)
    assert 0.45 < (start == 0).mean() < 0.55 and 0.12 < (start == 1).mean() < 0.2  # Φ(0) and 1 − Φ(1)


def test_the_learning_rate_schedule_restarts_adam():
    import keras

    from nst_tf.optim.adam import restart

    variable = keras.Variable(np.ones((2, 2), np.float32))
    optimizer = keras.optimizers.Adam(learning_rate=3.0)
    optimizer.apply([keras.ops.ones((2, 2))], [variable])
    restart(optimizer, 0.1)
    assert int(optimizer.iterations) == 0 and float(optimizer.learning_rate) == pytest.approx(0.1)
    assert all(float(np.abs(np.asarray(v)).max()) == 0.0 for v in optimizer.variables[2:])  # fresh moments


CONTENT, STYLE = str(IMAGES / "chelsea.png"), str(IMAGES / "ihc.png")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tf", "torch"])
@pytest.mark.parametrize("name", SOURCES)
def test_each_preset_runs_on_both_backends(tmp_path, capsys, name, backend):
    from nst_tf.cli import main as cli

    args = ["run", CONTENT, STYLE, "--preset", name, "--backend", backend, "--weights", "random", "--seed", "0"]
    args += ["--image-size", "32", "--iterations", "3", "--no-tb", "-q", "-o", str(tmp_path), "--name", "r"]
    code, err = cli.main(args), capsys.readouterr().err
    assert code == 0, err
    assert ("SqueezeNet" in err) == (name == "cs231n")  # the stand-in layers are said, once per run
    record = json.loads((tmp_path / "r" / "config.json").read_text())
    assert record["config"]["preset"] == name and record["backend"] == backend
    assert record["config"]["feature_tap"] == PRESETS[name].feature_tap
    rows = (tmp_path / "r" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 4  # header + 3 steps (the tutorial's: 3 closure calls)
    assert (tmp_path / "r" / "generated.png").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", SOURCES)
def test_compare_reports_each_presets_parity(tmp_path, capsys, name):
    from nst_tf.cli import main as cli

    out = tmp_path / "cmp"
    args = ["compare", CONTENT, STYLE, "--preset", name, "--weights", "random", "--seed", "0", "--image-size", "32"]
    code = cli.main([*args, "--iterations", "3", "-q", "-o", str(out)])
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["preset"] == name
    assert report["feature_max_rel_err"] < 1e-5 and report["step_cost_max_rel_err"] < 1e-5, report
    # compare runs the preset's own optimizer and judges it by teacher-forced step parity (the gradient in
    # float64) and the float32/float64 rounding envelope (nst_tf.parity): rounding alone cannot fail either
    assert report["failed"] == [] and report["within_tolerance"] is True, report["verdict"]
    assert code == 0


def test_a_recipe_on_weights_fed_at_another_scale_says_the_style_weight_that_keeps_its_balance():
    import dataclasses

    from nst_tf.presets import preset_notes
    from nst_tf.vgg.weights.base import CAFFE, MATCONVNET, TORCHVISION, random_weights

    random = random_weights()
    trained = dataclasses.replace(random, source="imagenet-vgg16")  # the notes read the source and the scale
    tutorial = preset("pytorch-tutorial")
    [note] = preset_notes(tutorial, trained, CAFFE)  # imagenet-vgg16: 0-255, about 57x torchvision's
    ratio = 255.0 * 0.226  # CAFFE's input scale over the one the tutorial's beta = 1e6 was set for
    suggested = float(note.rsplit("--style-weight ", 1)[1].split()[0])
    assert suggested == pytest.approx(1e6 / ratio**2, rel=1e-2)  # 1e6 / 3321 = 301; printed to 3 digits
    assert "more than in the recipe" in note and f"{ratio**2:.3g}x" in note
    assert preset_notes(tutorial, trained, TORCHVISION) == []  # its own input scale (1 / 0.226)
    assert preset_notes(tutorial.replace(style_weight=300.0), trained, CAFFE) == []  # the user chose
    assert preset_notes(tutorial, random, CAFFE) == []  # random weights: no input scale was learnt
    assert preset_notes(preset("mastering-pytorch"), trained, CAFFE) == []  # feeds [0, 1] as is
    assert preset_notes(preset("course"), trained, MATCONVNET) == []  # the course's own 0-255
    [course] = preset_notes(preset("course"), trained, TORCHVISION)  # the other way round
    assert "less than in the recipe" in course
    stand_ins, scale = preset_notes(preset("cs231n"), trained, CAFFE)
    assert "SqueezeNet" in stand_ins and "--style-weight 0.000301" in scale
