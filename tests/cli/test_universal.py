"""`python -m nst_tf universal`: bad inputs (one line on stderr, exit 2, nothing written) and a real run on
the shipped decoders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst_tf.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "nst_tf" / "models" / "universal"


def _picture(path: Path, width: int = 48, height: int = 32, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def pictures(tmp_path: Path) -> dict[str, Path]:
    return {
        "content": _picture(tmp_path / "content.png"),
        "style": _picture(tmp_path / "style.png", 40, 40, seed=1),
        "style2": _picture(tmp_path / "style2.png", 30, 50, seed=2),
        "mask": _picture(tmp_path / "mask.png", 96, 64, seed=3),
        "wide_mask": _picture(tmp_path / "wide.png", 64, 16, seed=4),
    }


def _fails(capsys, argv: list[str]) -> str:
    """Run; assert exit 2 with one stderr line and no traceback; return the line."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--alpha", "1.5"], "--alpha"),
        (["--alpha", "nan"], "--alpha"),
        (["--weights-mix", "1,2"], "2 weights for 1"),
        (["--weights-mix", "-1"], ">= 0"),
        (["--weights-mix", "a"], "numbers"),
        (["--image-size", "5"], "--image-size"),
        (["--style-size", "99999"], "--style-size"),
        (["--levels", "5,1"], "--levels"),
        (["--levels", "x"], "--levels"),
        (["--levels", "2,2"], "--levels"),
        (["--method", "adain", "--levels", "4"], "--levels"),
        (["--mask", "MASK", "MASK"], "2 masks for 1"),
        (["--mask", "WIDE"], "does not fit"),
    ],
)
def test_nonsense_settings_exit_2_and_write_nothing(capsys, tmp_path, pictures, extra, words):
    extra = [str(pictures["mask"]) if e == "MASK" else str(pictures["wide_mask"]) if e == "WIDE" else e for e in extra]
    out = tmp_path / "out.png"
    err = _fails(capsys, ["universal", str(pictures["content"]), str(pictures["style"]), "-o", str(out), *extra])
    assert words in err
    assert not out.exists()


def test_missing_and_odd_pictures_exit_2(capsys, tmp_path, pictures):
    out = tmp_path / "out.png"
    _fails(capsys, ["universal", str(tmp_path / "nope.png"), str(pictures["style"]), "-o", str(out)])
    odd = tmp_path / "odd.png"
    odd.write_text("not a picture")
    _fails(capsys, ["universal", str(pictures["content"]), str(odd), "-o", str(out)])
    assert not out.exists()


@pytest.mark.timeout(60)  # a FIFO or device must be refused, not opened: a hang fails here instead of blocking CI
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_blocking(capsys, tmp_path, pictures):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    _fails(capsys, ["universal", str(fifo), str(pictures["style"]), "-o", str(tmp_path / "out.png")])


def test_unwritable_or_existing_output_is_refused_and_left_alone(capsys, tmp_path, pictures):
    args = ["universal", str(pictures["content"]), str(pictures["style"])]
    blocker = tmp_path / "file.txt"
    blocker.write_text("mine")
    _fails(capsys, [*args, "-o", str(blocker / "out.png")])
    _fails(capsys, [*args, "-o", str(tmp_path / "out.txt")])
    existing = tmp_path / "existing.png"
    existing.write_bytes(b"user's file")
    _fails(capsys, [*args, "-o", str(existing)])
    assert existing.read_bytes() == b"user's file"
    _fails(capsys, args)  # neither -o nor --run-dir
    _fails(capsys, [*args, "--run-dir", str(tmp_path)])  # an existing folder that is not a universal run
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["content.png", "style.png", "style2.png", "mask.png", "wide.png", "file.txt", "existing.png"]
    )


@pytest.mark.slow
@pytest.mark.skipif(not (SHIPPED / "wct_relu4_1.weights.h5").is_file(), reason="no shipped decoders")
@pytest.mark.parametrize("method", ["wct", "adain"])
def test_shipped_decoders_stylize_to_the_content_size(capsys, tmp_path, pictures, method):
    out = tmp_path / "out.png"
    argv = ["universal", str(pictures["content"]), str(pictures["style"]), str(pictures["style2"])]
    argv += ["--method", method, "--image-size", "48", "--weights-mix", "2,1", "-o", str(out), "--json"]
    argv += ["--mask", str(pictures["mask"]), str(pictures["mask"]), "--run-dir", str(tmp_path / "run")]
    assert main(argv) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["seconds"] > 0 and record["size"] == [32, 48]
    expected = {"wct": "wct_relu3_1,wct_relu2_1,wct_relu1_1", "adain": "adain_relu4_1"}[method]
    assert record["decoders"] == expected
    result = np.asarray(Image.open(out), np.float32)
    content = np.asarray(Image.open(pictures["content"]), np.float32)
    assert result.shape == (32, 48, 3)
    assert np.abs(result - content).mean() > 5.0
    assert (tmp_path / "run" / "report.html").is_file() and (tmp_path / "run" / "result.png").is_file()
    style_side = max(Image.open(tmp_path / "run" / "style_1.png").size)
    assert style_side == 256  # --style-size's default, whatever the result's size


@pytest.mark.parametrize("mode", ["post", "histogram"])
def test_preserve_colors_keeps_the_contents_chroma(capsys, tmp_path, mode):
    # README: `universal --preserve-colors` keeps the content's colours. The project's cat (browns) with the
    # Hubble field (dark blue, orange) as the style, on the shipped AdaIN decoder.
    from nst_tf.losses.color import rgb_to_yuv

    content, style = ROOT / "images" / "chelsea.png", ROOT / "images" / "hubble_deep_field.jpg"
    distance = {}
    for flag in ([], ["--preserve-colors", mode]):
        out = tmp_path / f"out{len(flag)}.png"
        argv = ["universal", str(content), str(style), "--method", "adain", "--image-size", "64", "-o", str(out)]
        assert main([*argv, *flag]) == 0, capsys.readouterr().err
        with Image.open(out) as img, Image.open(content) as original:
            source = np.asarray(original.convert("RGB").resize(img.size, Image.BICUBIC), np.float64) / 255
            result = np.asarray(img, np.float64) / 255
        # post: per pixel (the content's own chroma); histogram: the colour mean (the styles recoloured).
        if mode == "post":
            distance[bool(flag)] = np.abs(rgb_to_yuv(result)[..., 1:] - rgb_to_yuv(source)[..., 1:]).mean()
        else:
            mean = rgb_to_yuv(result).reshape(-1, 3).mean(axis=0) - rgb_to_yuv(source).reshape(-1, 3).mean(axis=0)
            distance[bool(flag)] = np.abs(mean[1:]).sum()
    assert distance[True] < distance[False] / 3, distance


def _photo_folder(tmp_path: Path, count: int) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(count):
        _picture(folder / f"p{index}.png", 40, 32, seed=10 + index)
    return folder


@pytest.mark.skipif(not (SHIPPED / "adain_relu4_1.weights.h5").is_file(), reason="no shipped decoders")
def test_a_folder_streams_into_outdir_and_a_rerun_skips_what_was_written(capsys, tmp_path, pictures):
    photos, out = _photo_folder(tmp_path, 3), tmp_path / "out"
    argv = ["universal", str(photos), str(pictures["style"]), "--method", "adain", "-o", str(out)]
    argv += ["--precision", "float32"]
    assert main(argv) == 0, capsys.readouterr().err
    names = ["p0_adain_style.png", "p1_adain_style.png", "p2_adain_style.png"]
    assert sorted(p.name for p in out.glob("*.png")) == names
    assert (out / ".nst_tf-files").is_file()  # the ledger: these files are nst_tf's
    with Image.open(out / "p1_adain_style.png") as img:
        assert img.size == (40, 32)  # the photo's own size
    one = tmp_path / "one.png"  # the folder's picture equals the same photo stylized alone
    assert main(["universal", str(photos / "p1.png"), *argv[2:5], "-o", str(one), "--precision", "float32"]) == 0
    assert np.array_equal(np.asarray(Image.open(one)), np.asarray(Image.open(out / "p1_adain_style.png")))
    (out / "p1_adain_style.png").unlink()  # as if Ctrl-C had stopped the first run before p1
    kept = {name: (out / name).stat().st_mtime_ns for name in (names[0], names[2])}
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    captured = capsys.readouterr()
    assert "2 of 3 pictures already written; skipped" in captured.err
    record = json.loads(captured.out)
    assert [Path(p["output"]).name for p in record["pictures"]] == ["p1_adain_style.png"]
    assert {name: (out / name).stat().st_mtime_ns for name in kept} == kept  # untouched


def test_a_folder_with_a_bad_photo_or_a_run_dir_is_refused_before_anything_is_written(capsys, tmp_path, pictures):
    photos, out = _photo_folder(tmp_path, 2), tmp_path / "out"
    argv = ["universal", str(photos), str(pictures["style"]), "--method", "adain", "-o", str(out)]
    assert "--run-dir" in _fails(capsys, [*argv, "--run-dir", str(tmp_path / "run")])
    (photos / "p9.png").write_bytes(b"not a picture")
    assert "p9.png" in _fails(capsys, argv)
    assert not out.exists() and not (tmp_path / "run").exists()
    (photos / "p9.png").unlink()
    out.mkdir()
    (out / "p0_adain_style.png").write_bytes(b"the user's")  # a file nst_tf did not write: refused
    assert "p0_adain_style.png" in _fails(capsys, argv)
    assert (out / "p0_adain_style.png").read_bytes() == b"the user's"
