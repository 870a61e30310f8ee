"""--precision on the one-pass commands (issue 25): `apply` and `universal` take it, compute in what it
resolves to, and say so in --json; "auto" goes through the probe's decision (forced here by NST_TF_PRECISION)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import ROOT

from nst_tf.cli.main import main
from nst_tf.io.images import load_image

PHOTO = ROOT / "images" / "chelsea.png"


def _apply(tmp_path, capsys, precision: str) -> tuple[dict, np.ndarray]:
    out = tmp_path / f"cat_{precision}.png"
    argv = ["apply", "starry_night", str(PHOTO), "--image-size", "64", "-o", str(out), "--json"]
    assert main([*argv, "--precision", precision]) == 0
    return json.loads(capsys.readouterr().out), load_image(out)


def test_apply_computes_in_the_precision_asked_for(tmp_path, capsys, monkeypatch):
    f32, picture32 = _apply(tmp_path, capsys, "float32")
    bf16, picture16 = _apply(tmp_path, capsys, "bfloat16")
    assert f32["precision_decision"]["precision"] == "float32"
    assert bf16["precision_decision"]["precision"] == "bfloat16"
    assert f32["precision_decision"]["source"] == bf16["precision_decision"]["source"] == "explicit"
    difference = np.abs(picture32 - picture16)
    # bfloat16 keeps 8 significant bits (relative rounding 2^-8 = 0.4 %); through ~20 convolutions with
    # float32 instance norm the pictures differ visibly nowhere: mean under 2 % of the range, yet not zero
    # (a --precision that changed nothing would give identical pixels).
    assert 0 < difference.mean() < 0.02
    monkeypatch.setenv("NST_TF_PRECISION", "bfloat16")
    auto, _ = _apply(tmp_path, capsys, "auto")
    assert auto["precision_decision"] == {**auto["precision_decision"], "precision": "bfloat16", "requested": "auto"}
    assert auto["precision_decision"]["source"] == "environment"


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_universal_records_its_precision(tmp_path, capsys, precision):
    style = ROOT / "images" / "ihc.png"
    out = tmp_path / "u.png"
    argv = ["universal", str(PHOTO), str(style), "--method", "adain", "--image-size", "64", "--style-size", "64"]
    assert main([*argv, "-o", str(out), "--json", "--precision", precision]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["precision_decision"]["precision"] == precision
    assert load_image(out).shape[1:3] == (43, 64) or max(load_image(out).shape[1:3]) == 64


def test_an_unknown_precision_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["apply", "starry_night", str(PHOTO), "--precision", "float8"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["apply", "starry_night", str(PHOTO), "--max-memory", "1K", "-o", "{tmp}/a.png"],
        ["apply", "starry_night", str(PHOTO), "-o", "/proc/nst_tf_test.png"],
        ["universal", str(PHOTO), str(ROOT / "images" / "ihc.png"), "--max-memory", "1K", "-o", "{tmp}/u.png"],
        ["universal-train", "--data", "{tmp}/none", "--checkpoint-dir", "{tmp}/ck", "-o", "{tmp}/o", "--name", "d"],
        ["audio", "{tmp}/missing.wav", "-o", "{tmp}/a", "--mode", "texture"],
    ],
)
def test_a_refusal_is_the_only_line_even_when_the_probe_decided(argv, tmp_path, capsys, monkeypatch):
    # "auto" measured on this machine (a real probe into a throwaway cache): its one informative line must not
    # precede a refusal, which is the only line a bad input gets, with nothing written.
    monkeypatch.delenv("NST_TF_PRECISION", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert main([arg.format(tmp=tmp_path) for arg in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nst_tf: error: "), err
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["cache"])
