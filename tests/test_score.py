"""`score`: the content and style distances under the fixed ImageNet VGG16 evaluator, library and command.

The library tests use the real evaluator network (imagenet-vgg16) at 64 px on the longer side instead of
256, to stay quick; the distances are defined the same way at any evaluation size.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import IMAGES, ROOT

from nst_tf import score as score_module
from nst_tf.cli import main as cli
from nst_tf.errors import ImageError
from nst_tf.io.images import load_image, resize
from nst_tf.score import EVALUATION_SIZE, Evaluator, check_pictures

CONTENT = IMAGES / "chelsea.png"  # 451 x 300
STYLE = IMAGES / "ihc.png"


@pytest.fixture(scope="module")
def evaluator() -> Evaluator:
    return Evaluator(size=64)


@pytest.fixture(scope="module")
def pictures() -> dict[str, np.ndarray]:
    content, style = load_image(CONTENT), load_image(STYLE)
    rng = np.random.default_rng(0)
    return {
        "content": content,
        "style": style,
        "noise": rng.uniform(0.0, 1.0, content.shape).astype(np.float32),
        "grey": np.full_like(content, 0.5),
        # the content softened: what a stylized result keeps of it, roughly
        "soft": resize(resize(content, 75, 113), *content.shape[1:3]),
    }


def test_the_evaluator_is_imagenet_vgg16_at_256_px():
    assert EVALUATION_SIZE == 256
    assert score_module.CONTENT_LAYER == "block4_conv2" and len(score_module.STYLE_LAYERS) == 5


def test_a_picture_is_closer_to_its_own_content_than_noise(evaluator, pictures):
    scores = {name: evaluator.score(pictures[name], pictures["content"], pictures["style"]) for name in pictures}
    assert scores["content"]["content_distance"] == 0.0
    assert 0.0 < scores["soft"]["content_distance"] < 0.5 * scores["noise"]["content_distance"]
    assert 0.5 < scores["noise"]["content_distance"] < 1.5  # shows nothing of the content: about 1
    assert 0.5 < scores["grey"]["content_distance"] < 1.5
    assert scores["style"]["style_distance"] < 1e-9  # the style picture has the style's statistics exactly
    for name in ("content", "noise", "grey", "soft"):
        assert scores[name]["style_distance"] > 0.05, name
    report = scores["soft"]
    assert set(report["style_layers"]) == set(score_module.STYLE_LAYERS)
    assert report["style_distance"] == pytest.approx(np.mean(list(report["style_layers"].values())))
    assert report["evaluation_size"] == {
        "content": [43, 64],
        "result": [43, 64],
        "style": [64, 64],  # ihc.png is 512 x 512: square at the evaluator's 64 px
    }
    assert report["evaluator"]["weights_sha256"].startswith("3be917fb")


def test_the_numbers_do_not_depend_on_the_picture_size(evaluator, pictures):
    """The same pictures at twice the size score (almost) the same: only resampling differs."""
    small = evaluator.score(pictures["soft"], pictures["content"], pictures["style"])
    big = [
        resize(p, 2 * p.shape[1], 2 * p.shape[2]) for p in (pictures["soft"], pictures["content"], pictures["style"])
    ]
    large = evaluator.score(*big)
    assert large["content_distance"] == pytest.approx(small["content_distance"], rel=0.15)
    assert large["style_distance"] == pytest.approx(small["style_distance"], rel=0.15)
    style_itself = evaluator.score(big[2], pictures["content"], pictures["style"])  # another size, another aspect
    assert style_itself["style_distance"] < 0.02


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p[:, :3, :, :], "too thin to score"),
        (lambda p: np.where(p > 0.5, np.nan, p), "NaN or infinite"),
        (lambda p: p[..., :2], r"not \(H, W, 3\) RGB"),
    ],
)
def test_bad_pictures_are_refused_before_anything_is_built(pictures, make, message):
    with pytest.raises(ImageError, match=message) as info:
        check_pictures(make(pictures["content"]), pictures["content"], pictures["style"])
    assert "\n" not in str(info.value)


def test_the_command_prints_text_and_json(capsys, monkeypatch, evaluator):
    monkeypatch.setattr(score_module, "default_evaluator", lambda: evaluator)  # the 64 px one, for speed
    assert cli.main(["score", str(CONTENT), "--content", str(CONTENT), "--style", str(STYLE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("content distance  0.0000") and "style distance" in out and "conv5_1" in out
    assert cli.main(["score", str(STYLE), "--content", str(CONTENT), "--style", str(STYLE), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["style_distance"] < 1e-9 and report["content_distance"] > 0.5
    assert report["pictures"]["result"] == str(STYLE)


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nst_tf", "score", *argv], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["{missing}", "--content", "{content}", "--style", "{style}"], "result picture:"),
        (["{content}", "--content", "{folder}", "--style", "{style}"], "content picture:"),
        (["{content}", "--content", "{content}", "--style", "{text}"], "style picture:"),
        (["{strip}", "--content", "{content}", "--style", "{style}"], "times as long as it is wide"),
        (["{content}", "--content", "{content}"], "--style"),
    ],
)
def test_bad_input_is_one_line_and_status_2(tmp_path, argv, message):
    from PIL import Image

    Image.fromarray(np.zeros((3, 400, 3), np.uint8)).save(tmp_path / "strip.png")
    (tmp_path / "notes.png").write_text("not a picture")
    names = {
        "missing": tmp_path / "absent.png",
        "content": CONTENT,
        "style": STYLE,
        "folder": tmp_path,
        "text": tmp_path / "notes.png",
        "strip": tmp_path / "strip.png",
    }
    result = _run(*(arg.format(**names) for arg in argv))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("nst_tf: error: ") and message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_the_command_end_to_end_at_256_px():
    result = _run(str(STYLE), "--content", str(CONTENT), "--style", str(STYLE), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["style_distance"] < 1e-9 and report["evaluation_size"]["content"] == [170, 256]
