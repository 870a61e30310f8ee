"""`compare --network` and `compare --universal` (nst_tf.parity.one_pass): a shipped Johnson network, a texture
network's model folder, universal AdaIN and WCT agree with their PyTorch twins; a deliberate 0.1 % difference on
the PyTorch side makes each say DISAGREE (exit 1, report written); bad input is one line, exit 2, nothing written.

Tiny pictures: one forward pass each way (WCT at 96 px). With the same convolutions on both sides (a probe says
so) the bound is the flat 1e-5, and the agreement reached is pinned tighter, each pin with its reason."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import IMAGES

from nst_tf.cli.main import main
from nst_tf.io import images as image_io

torch = pytest.importorskip("torch")

REPORT_FILES = {"report.json", "report.md", "tf.png", "torch.png", "diff.png", "parity.png"}
CHELSEA, IHC = str(IMAGES / "chelsea.png"), str(IMAGES / "ihc.png")


@pytest.fixture(scope="module")
def texture_folder(tmp_path_factory):
    """A texture network with random weights, saved as `train` saves a model folder."""
    import keras

    from nst_tf.feedforward.model_io import save_model_folder
    from nst_tf.feedforward.networks import build_generator

    keras.utils.set_random_seed(1)
    model = build_generator("texture-net", width=0.25, seed=1)
    folder = tmp_path_factory.mktemp("texture_model") / "random_texture"
    return save_model_folder(folder, model, {"architecture": {"generator": "texture-net", "width": 0.25, "seed": 1}})


CASES = {  # id: the arguments after `compare` (the texture folder filled in by the test)
    "johnson": ["--network", "starry_night", CHELSEA, "--image-size", "48"],
    "texture": ["--network", "TEXTURE", CHELSEA, "--image-size", "48"],
    "adain": ["--universal", "adain", CHELSEA, IHC, "--image-size", "48"],
    "wct": ["--universal", "wct", CHELSEA, IHC, "--image-size", "96"],
}


# What is left of |tf − torch| on these pictures once the convolutions give the same bits (measured on an Intel
# Xeon, Sapphire Rapids), with the bound pinned and why; the arithmetic before issue 24's second pass gave 1.9e-6,
# 4.8e-6, 1.6e-6 and 9.9e-6 here, so each pin fails if a twin goes back to another summation order.
PINNED = {"johnson": 5e-7, "texture": 3e-6, "adain": 1.2e-7, "wct": 1.2e-7}
PINNED_WHY = {
    "johnson": "15 instance norms' row sums added in another order (a few ulp of a sum) and the sigmoid's last bit: "
    "measured 1.2e-7",
    "texture": "27 instance norms' row sums in another order, through random weights that amplify more: measured "
    "1.4e-6",
    "adain": "the same bits but for a float64 statistic rounding to float32 the other way at a tie (2 ulp at 1): "
    "measured 0",
    "wct": "the same, float64 eigendecompositions (LAPACK against LAPACK) aside, applied through the same float32 "
    "or float64 matmul: measured 0",
}


def _compare(case: str, texture_folder, out, capsys) -> tuple[int, dict, str]:
    argv = ["compare", *(str(texture_folder) if a == "TEXTURE" else a for a in CASES[case]), "-o", str(out)]
    status = main(argv)
    printed = capsys.readouterr().out
    assert {p.name for p in out.iterdir()} >= REPORT_FILES  # the report is written whatever the verdict
    return status, json.loads((out / "report.json").read_text()), printed


@pytest.mark.parametrize("case", list(CASES))
def test_one_pass_compare_agrees(case, texture_folder, tmp_path, capsys):
    status, report, printed = _compare(case, texture_folder, tmp_path / "cmp", capsys)
    assert status == 0, printed
    assert report["within_tolerance"] is True and report["verdict"] == "the backends agree"
    tolerance = report["tolerances"]["image_max_abs_diff"]
    assert 0 <= report["image_max_abs_diff"] <= tolerance
    # The issue's flat 1e-5 where both frameworks' convolutions give the same bits (a probe on this machine), else
    # twice float32's own distance from float64 on this input when that is larger (nst_tf.parity.one_pass).
    if report["same_convolutions"]:
        assert report["tolerance_rule"] == "flat" and tolerance == 1e-5
        # The agreement reached: the twin computes what TensorFlow computes, so what is left is far below 1e-5.
        assert report["image_max_abs_diff"] <= PINNED[case], PINNED_WHY[case]
    else:
        assert tolerance == max(1e-5, 2 * report["rounding_max_abs_diff"])
    assert report["image_size"] == ([64, 96] if case == "wct" else [32, 48])
    assert "agree" in printed and "image_max_abs_diff" in printed
    assert "agree" in (tmp_path / "cmp" / "report.md").read_text()
    if case == "texture":
        assert any("noise" in note for note in report["notes"])
    # diff.png is |tf − torch| lifted by the power of ten the report names into (0.1, 1]
    diff = image_io.load_image(tmp_path / "cmp" / "diff.png")
    if report["image_max_abs_diff"] > 0:  # (AdaIN's pictures are equal to the bit here: diff.png is black)
        assert 0.1 < report["image_max_abs_diff"] * report["diff_amplification"] <= 1.0
    assert np.isclose(diff.max(), report["image_max_abs_diff"] * report["diff_amplification"], atol=1 / 255)


def _instance_norm_off(monkeypatch) -> None:
    """Every PyTorch instance norm's output × 1.001 (both twins' norms are nst_tf.twin.ops.instance_norm)."""
    from nst_tf.twin import ops

    instance_norm = ops.instance_norm
    monkeypatch.setattr(ops, "instance_norm", lambda *a, **k: instance_norm(*a, **k) * 1.001)


def _style_statistics_off(monkeypatch, method: str) -> None:
    """The PyTorch side's style features × √1.001: the style's covariance (its Gram) × 1.001."""
    from nst_tf.twin import universal_torch

    transform = getattr(universal_torch, method)
    monkeypatch.setattr(universal_torch, method, lambda c, s, *a, **k: transform(c, s * 1.001**0.5, *a, **k))


@pytest.mark.parametrize("case", list(CASES))
def test_a_deliberate_difference_says_disagree(case, texture_folder, tmp_path, capsys, monkeypatch):
    if case in ("johnson", "texture"):
        _instance_norm_off(monkeypatch)
    else:
        _style_statistics_off(monkeypatch, case)
    status, report, printed = _compare(case, texture_folder, tmp_path / "cmp", capsys)
    assert status == 1
    assert report["within_tolerance"] is False and report["failed"] == ["pictures"]
    assert report["image_max_abs_diff"] > report["tolerances"]["image_max_abs_diff"]
    assert "DISAGREE" in printed and "DISAGREE" in (tmp_path / "cmp" / "report.md").read_text()


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--network", "no_such_network", CHELSEA], "no such model"),
        (["--network", "starry_night", str(IMAGES / "README.md")], "not a picture"),
        (["--network", "starry_night", CHELSEA, IHC], "takes PHOTO"),
        (["--universal", "wct", CHELSEA], "takes CONTENT STYLE"),
        (["--universal", "adain", CHELSEA, str(IMAGES / "README.md")], "not a picture"),
        (["--universal", "whiten", CHELSEA, IHC], "--universal"),
        (["--network", "starry_night", "--universal", "wct", CHELSEA, IHC], "not allowed with"),
        (["--network", "starry_night", CHELSEA, "--float64"], "--float64"),
    ],
)
def test_bad_input_is_one_line_and_nothing_written(argv, words, tmp_path, capsys):
    out = tmp_path / "cmp"
    try:
        status = main(["compare", *argv, "-o", str(out)])
    except SystemExit as exc:  # argparse's own refusals (OneLineParser)
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "Traceback" not in err and words in err, err
    assert not out.exists()


def test_a_report_folder_of_the_users_is_refused_before_any_work(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "report.md").write_text("my notes\n")
    assert main(["compare", "--network", "starry_night", CHELSEA, "-o", str(out)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert sorted(p.name for p in out.iterdir()) == ["report.md"] and (out / "report.md").read_text() == "my notes\n"
