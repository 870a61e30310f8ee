"""Texture synthesis, feature inversion, several styles, style scale, colour control and coarse-to-fine."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import IMAGES
from PIL import Image

from nst_tf.cli import main as cli
from nst_tf.errors import ConfigError
from nst_tf.io import images as image_io
from nst_tf.losses import color
from nst_tf.optim import engine as optimize
from nst_tf.optim import pictures
from nst_tf.presets import DEFAULT
from nst_tf.vgg.extractor import build_extractor
from nst_tf.vgg.weights import random_weights

BASE = DEFAULT.replace(image_size=48, iterations=12, snapshot_every=0, weights="random", seed=0)


@pytest.fixture(scope="module")
def extractor():
    return build_extractor(BASE, random_weights(seed=0))


def _steps(content, styles, config, extractor, **kwargs):
    return list(optimize.stylize(content, styles, config, extractor=extractor, **kwargs))


def test_texture_synthesis_lowers_style_cost_without_content(style_image, extractor):
    config = BASE.replace(mode="texture", exact_size=(24, 40))
    steps = _steps(None, style_image, config, extractor)
    assert all(s.costs["content"] == 0.0 for s in steps)
    assert steps[-1].costs["style"] < 0.5 * steps[0].costs["style"]
    assert steps[-1].image.shape == (1, 24, 40, 3)
    assert config.resolved().init == "noise" and config.resolved().content_weight == 0.0


def test_feature_inversion_lowers_content_cost_without_style(content_image, extractor):
    config = BASE.replace(mode="invert", content_layer="conv3_1")
    steps = _steps(content_image, [], config, extractor)
    assert all(s.costs["style"] == 0.0 for s in steps)
    assert steps[-1].costs["content"] < 0.7 * steps[0].costs["content"]
    with pytest.raises(ConfigError):
        _steps(None, [], config, extractor)


def test_blend_one_zero_equals_the_single_style_run(content_image, style_image, extractor):
    other = np.ascontiguousarray(style_image[:, ::-1, :, ::-1])
    # 1·G1 + 0·G2 is G1 exactly (x·1 and y·0 round to nothing), so the two runs differ only by the order in
    # which float32 sums the per-position blend. Compared over the first 3 Adam steps, where rounding cannot
    # decide: Adam moves every pixel by ≈ lr·sign(g) while g keeps its sign, so a relative rounding δ of the
    # gradient (≤ 1e-5: sums of ~1e4 float32 products) moves a pixel by ≤ lr·δ per step, plus one float32
    # ulp of a [0, 1] pixel (2^-24 ≈ 6e-8): after 3 steps ≤ 3·(0.02·1e-5 + 6e-8) ≈ 8e-7, asserted as 1e-6
    # (measured 1.8e-7 on Sapphire Rapids/AMX). Later steps are not compared: once v̂ has averaged several
    # gradients, pixels whose gradient crosses zero take a rounding-decided direction (measured: 6e-3 after
    # 12 steps on an Intel Xeon with AMX, < 1e-4 on an AMD EPYC) — a float32 coin toss, not a blend property.
    adam = BASE.replace(
        optimizer="adam",
        iterations=3,
        content_cost_form="course",
        style_cost_form="course",
        content_weight=1e3,
        style_weight=40.0,
        init="content",  # the recoloured start is the same for both; the content one keeps the rounding smallest
    )
    single = _steps(content_image, [style_image], adam, extractor)
    blended = _steps(content_image, [style_image, other], adam, extractor, style_blend=[1.0, 0.0])
    assert len(single) == len(blended) == 3
    for a, b in zip(single, blended, strict=True):
        # The style term (~3e5, 97% of the total) is a smooth function of the pixels: a 1e-6 pixel change
        # moves it by ≤ 1e-6 relative; 1e-5 leaves 10x for its own float32 summation order.
        for term in ("total", "style"):
            assert a.costs[term] == pytest.approx(b.costs[term], rel=1e-5), (a.iteration, term)
    np.testing.assert_allclose(single[-1].image, blended[-1].image, rtol=0, atol=1e-6)
    half = _steps(content_image, [style_image, other], BASE, extractor, style_blend=[0.5, 0.5])
    assert half[0].costs["style"] != pytest.approx(single[0].costs["style"], rel=1e-3)


def test_style_scale_resizes_the_style_relative_to_the_result(content_image, style_image):
    _, (full,) = pictures.prepare_images(content_image, [style_image], BASE)
    _, (half,) = pictures.prepare_images(content_image, [style_image], BASE.replace(style_scale=0.5))
    assert max(full.shape[1:3]) == 48 and max(half.shape[1:3]) == 24


def _mean_chroma(image):
    return color.rgb_to_yuv(image)[..., 1:].reshape(-1, 2).mean(axis=0)


def test_colour_modes_keep_the_content_colours(extractor):
    content = image_io.load_image(IMAGES / "chelsea.png")  # warm browns
    style = image_io.load_image(IMAGES / "hubble_deep_field.jpg")  # dark blue and orange dots
    config = BASE.replace(iterations=15, learning_rate=0.05)
    reference = pictures.prepare_images(content, [], config)[0]
    plain = _steps(content, style, config, extractor)[-1].image
    distance = {"plain": np.linalg.norm(_mean_chroma(plain) - _mean_chroma(reference))}
    for mode in ("post", "luminance", "histogram"):
        result = _steps(content, style, config.replace(preserve_colors=mode), extractor)[-1].image
        distance[mode] = np.linalg.norm(_mean_chroma(result) - _mean_chroma(reference))
    # post clips where the content's chroma meets the result's luminance; luminance keeps it exactly
    assert distance["post"] < 0.5 * distance["plain"] and distance["luminance"] < 0.01, distance
    assert distance["histogram"] < distance["plain"], distance


def test_histogram_matching_gives_the_style_the_content_statistics(content_image, style_image):
    matched = color.match_color_histogram(style_image, content_image)
    c = content_image.reshape(-1, 3).astype(np.float64)
    m = matched.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(m.mean(axis=0), c.mean(axis=0), atol=0.02)
    np.testing.assert_allclose(np.cov(m, rowvar=False), np.cov(c, rowvar=False), atol=0.01)


def test_coarse_to_fine_plan_and_run(content_image, style_image, extractor):
    config = BASE.replace(image_size=96, iterations=8, scales=3, snapshot_every=100)
    plan = pictures.stage_plan(config)
    assert [(c.image_size, end) for c, end in plan] == [(24, 8), (48, 12), (96, 14)]
    steps = _steps(content_image, style_image, config, extractor)
    assert [s.iteration for s in steps] == list(range(14))
    assert [s.iteration for s in steps if s.image is not None] == [0, 7, 11, 13]  # step 0 and each scale's end
    assert [steps[i].image.shape[2] for i in (7, 11, 13)] == [24, 48, 96]
    assert all(s.state is None for s in steps)  # resume is for single-scale runs


def test_cli_modes_and_their_pictures(tmp_path, capsys):
    style, content = str(IMAGES / "ihc.png"), str(IMAGES / "chelsea.png")
    common = ["-o", str(tmp_path), "--iterations", "3", "--weights", "random", "-q", "--image-size", "32"]
    assert cli.main(["run", "--mode", "texture", style, "--size", "40x24", *common]) == 0
    assert Image.open(tmp_path / "texture_ihc" / "generated.png").size == (40, 24)
    assert not (tmp_path / "texture_ihc" / "content.png").exists()
    assert cli.main(["run", "--mode", "invert", content, *common]) == 0
    record = json.loads((tmp_path / "chelsea_invert" / "config.json").read_text())
    assert record["config"]["style_weight"] == 0.0 and record["config"]["init"] == "noise"
    assert cli.main(["run", content, style, "--scales", "3", "--preserve-colors", "post", *common]) == 2
    assert not (tmp_path / "chelsea_ihc").exists()  # 8 px first scale: refused before anything is written
    assert cli.main(["run", content, style, "--scales", "2", "--preserve-colors", "post", *common[:-1], "64"]) == 0
    assert Image.open(tmp_path / "chelsea_ihc" / "evolution.gif").size == (64, 43)
    capsys.readouterr()
    for bad in (["--mode", "texture"], ["--mode", "invert", content, style], ["--size", "40by24", content, style]):
        assert cli.main(["run", *bad, *common]) == 2
        assert capsys.readouterr().err.count("\n") == 1
