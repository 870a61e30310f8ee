"""`run --backend torch`: every `run` option works on the PyTorch twin, or is refused up front in one line.

Works: texture synthesis, colour preservation, coarse-to-fine scales (and the modes' rules, as on
TensorFlow). Refused with exit status 2, one line, no traceback and no run folder: bfloat16, --jit, and
--resume (nothing of the resumed folder is touched).
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch  # noqa: E402, F401  (a hard requirement: requirements.txt)
from conftest import IMAGES, tiny_image  # noqa: E402

from nst_tf.cli import main as cli  # noqa: E402
from nst_tf.errors import ConfigError  # noqa: E402
from nst_tf.io import images as image_io  # noqa: E402
from nst_tf.losses import color  # noqa: E402
from nst_tf.optim import pictures  # noqa: E402
from nst_tf.presets import DEFAULT  # noqa: E402
from nst_tf.twin import torch_run  # noqa: E402
from nst_tf.vgg.weights import random_weights  # noqa: E402

CONTENT, STYLE = str(IMAGES / "chelsea.png"), str(IMAGES / "ihc.png")
FAST = ["--image-size", "32", "--iterations", "2", "--weights", "random", "--seed", "0", "--no-tb", "-q"]


def run(tmp_path, capsys, *args: str) -> tuple[int, str]:
    code = cli.main(["run", *FAST, "-o", str(tmp_path), "--name", "t", "--backend", "torch", *args])  # args win
    return code, capsys.readouterr().err


def test_texture_mode_on_torch(tmp_path, capsys):
    code, err = run(tmp_path, capsys, STYLE, "--mode", "texture")
    assert code == 0, err
    picture = image_io.load_image(tmp_path / "t" / "generated.png")
    style = image_io.load_image(STYLE)
    assert max(picture.shape[1:3]) == 32 and picture.shape[1:3] == pictures.prepare_images(style, [], DEFAULT.replace(
        image_size=32))[0].shape[1:3]  # fmt: skip


def test_scales_on_torch(tmp_path, capsys):
    code, err = run(tmp_path, capsys, CONTENT, STYLE, "--scales", "2", "--image-size", "48", "--iterations", "4")
    assert code == 0, err
    with open(tmp_path / "t" / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["iteration"]) for r in rows] == list(range(6))  # 4 steps at 24 px, then 2 at 48 px
    assert max(image_io.load_image(tmp_path / "t" / "generated.png").shape[1:3]) == 48


def _mean_chroma(image: np.ndarray) -> np.ndarray:
    return color.rgb_to_yuv(image)[..., 1:].reshape(-1, 2).mean(axis=0)


def test_preserve_colors_on_torch_keeps_the_content_colours():
    content = image_io.load_image(IMAGES / "chelsea.png")
    style = image_io.load_image(IMAGES / "hubble_deep_field.jpg")
    config = DEFAULT.replace(
        image_size=40, iterations=6, weights="random", seed=0, optimizer="adam", learning_rate=0.05, style_weight=100.0
    )
    weights = random_weights(0)
    reference = pictures.prepare_images(content, [], config)[0]
    plain = list(torch_run.stylize(content, style, config, weights=weights))[-1].image
    kept = list(torch_run.stylize(content, style, config.replace(preserve_colors="luminance"), weights=weights))
    distance_plain = np.linalg.norm(_mean_chroma(plain) - _mean_chroma(reference))
    distance_kept = np.linalg.norm(_mean_chroma(kept[-1].image) - _mean_chroma(reference))
    assert distance_kept < 0.01 < distance_plain


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--precision", "bfloat16"], "TensorFlow backend only"), (["--jit"], "--jit")],
)
def test_what_the_twin_cannot_do_is_refused_up_front(tmp_path, capsys, flags, message):
    code, err = run(tmp_path, capsys, CONTENT, STYLE, *flags)
    assert code == 2
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "t").exists()


def test_resume_on_torch_is_refused_and_touches_nothing(tmp_path, capsys):
    assert cli.main(["run", CONTENT, STYLE, "-o", str(tmp_path), "--name", "t", *FAST]) == 0  # a TF run
    before = {p.name: p.read_bytes() for p in (tmp_path / "t").rglob("*") if p.is_file()}
    capsys.readouterr()
    code = cli.main(["run", "--resume", str(tmp_path / "t"), "--iterations", "4", "--backend", "torch"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--resume" in err
    after = {p.name: p.read_bytes() for p in (tmp_path / "t").rglob("*") if p.is_file()}
    assert after == before


def test_check_supported_names_the_setting():
    torch_run.check_supported(DEFAULT)  # float32, no XLA: fine
    with pytest.raises(ConfigError, match="bfloat16"):
        torch_run.check_supported(DEFAULT.replace(precision="bfloat16"))
    with pytest.raises(ConfigError, match="--resume"):
        torch_run.check_supported(DEFAULT, resume=True)


def test_twin_texture_run_lowers_the_style_cost():
    config = DEFAULT.replace(image_size=32, iterations=5, weights="random", seed=0, mode="texture")
    steps = list(torch_run.stylize(None, [tiny_image(40, 40, seed=2)], config, weights=random_weights(0)))
    assert steps[0].costs["content"] == 0.0 and steps[-1].costs["style"] < steps[0].costs["style"]
