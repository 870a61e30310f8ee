"""`apply` on many photos (issue 26): a stream never holds them all, a folder is written as it goes and a
re-run skips what is there, and --max-memory / --tile make tiles equal to the whole picture."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT
from counted import Counted, counted_photos, only_new_garbage
from PIL import Image

pytestmark = pytest.mark.skipif(not (ROOT / "nst_tf" / "models" / "starry_night").is_dir(), reason="no shipped model")


def test_a_stream_of_photos_never_holds_them_all():
    import gc

    from nst_tf.feedforward.apply import load_stylizer, stylize_photos
    from nst_tf.feedforward.settings import ApplySettings

    stylizer = load_stylizer("starry_night", "float32")
    Counted.reset()
    with only_new_garbage():
        seen = 0
        for step in stylize_photos(stylizer, counted_photos(24, np.random.default_rng(0)), ApplySettings(batch=2)):
            assert step.image.shape == (1, 24, 32, 3)
            seen += 1
            gc.collect()
    assert seen == 24
    # a window of `batch` (2) photos, and the next one the generator hands over: never the 24
    assert 1 <= Counted.peak <= 2 + 1


def _folder(tmp_path, count: int):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    return folder


def test_a_folder_rerun_skips_what_was_written_and_overwrite_redoes_it(tmp_path, capsys):
    from nst_tf.cli.main import main

    photos, out = _folder(tmp_path, 3), tmp_path / "out"
    argv = ["apply", "starry_night", str(photos), "-o", str(out), "--precision", "float32"]
    assert main(argv) == 0
    written = sorted(p.name for p in out.glob("*.png"))
    assert written == ["p0_starry_night.png", "p1_starry_night.png", "p2_starry_night.png"]
    (out / "p1_starry_night.png").unlink()  # as if Ctrl-C had stopped the first run before p1
    before = {name: (out / name).stat().st_mtime_ns for name in ("p0_starry_night.png", "p2_starry_night.png")}
    capsys.readouterr()
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "2 of 3 pictures already written; skipped" in captured.err
    assert captured.out.count("starry_night.png") == 1 and "p1_starry_night.png" in captured.out
    assert {name: (out / name).stat().st_mtime_ns for name in before} == before  # untouched
    assert main([*argv, "--overwrite"]) == 0
    assert capsys.readouterr().out.count("starry_night.png") == 3


def test_a_bad_photo_in_a_folder_is_refused_before_anything_is_written(tmp_path, capsys):
    from nst_tf.cli.main import main

    photos, out = _folder(tmp_path, 3), tmp_path / "out"
    (photos / "p9.png").write_bytes(b"not a picture")
    assert main(["apply", "starry_night", str(photos), "-o", str(out)]) == 2
    assert "p9.png" in capsys.readouterr().err
    assert not out.exists()


def test_a_small_budget_plans_tiles_equal_to_the_whole_picture(tmp_path, capsys):
    from nst_tf.cli.main import main
    from nst_tf.io.images import load_image

    photo = tmp_path / "photo.png"
    y, x = np.mgrid[0:150, 0:210]
    wave = np.stack([np.sin(x / 7.0), np.cos(y / 11.0), np.sin((x + y) / 17.0)], -1)
    Image.fromarray((127.5 + 120 * wave).astype(np.uint8)).save(photo)
    common = ["apply", "starry_night", str(photo), "--precision", "float32", "--overwrite"]
    assert main([*common, "-o", str(tmp_path / "whole.png")]) == 0
    assert "in one piece" in capsys.readouterr().err
    assert main([*common, "-o", str(tmp_path / "tiled.png"), "--tile", "64"]) == 0
    err = capsys.readouterr().err
    assert "tiles of 64 px" in err and len([line for line in err.splitlines() if "apply:" in line]) == 1
    whole, tiled = load_image(tmp_path / "whole.png"), load_image(tmp_path / "tiled.png")
    psnr = 10 * np.log10(1 / max(float(np.mean((whole - tiled) ** 2)), 1e-20))
    assert psnr >= 40  # the bar; both are 8-bit files, so rounding of a few values at most
    from nst_tf.feedforward.tiles import FIXED_BYTES, WHOLE_PER_PIXEL
    from nst_tf.perf.tiling import HEADROOM

    # a budget just below what the whole picture is planned to need: the planner must choose tiles
    budget = int((FIXED_BYTES + WHOLE_PER_PIXEL * 150 * 210) / HEADROOM) - 200_000
    assert main([*common, "-o", str(tmp_path / "planned.png"), "--max-memory", str(budget)]) == 0
    assert "tiles of" in capsys.readouterr().err
    planned = load_image(tmp_path / "planned.png")
    assert 10 * np.log10(1 / max(float(np.mean((whole - planned) ** 2)), 1e-20)) >= 40
