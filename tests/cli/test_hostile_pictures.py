"""Hostile pictures, end to end: every bad picture given to `run` (as content, style or --init) and to
`compare` is one line on stderr, exit status 2, no traceback, no run folder, nothing of the user's changed,
and never a hang. Library-level checks of the same cases are in tests/io/test_images.py."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hostile import FAST, assert_one_line, assert_unchanged, cli, cli_subprocess, picture, snapshot, user_folder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image


def _png_header_only(path: Path, width: int, height: int) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)))
    return path


def _make_bad(user: Path, kind: str) -> tuple[Path, str]:
    """A bad picture of the given kind in the user's folder, and a word its refusal must contain."""
    path = user / f"bad_{kind}.png"
    if kind == "missing":
        return path, "no such file"
    if kind == "directory":
        path.mkdir()
        return path, "directory"
    if kind == "symlink_loop":
        path.symlink_to(path)
        return path, "symlink loop"
    if kind == "broken_symlink":
        path.symlink_to(user / "gone.png")
        return path, "broken symlink"
    if kind == "device":
        return Path("/dev/zero"), "device"
    if kind == "empty":
        path.write_bytes(b"")
        return path, "empty"
    if kind == "text":
        path.write_text("not a picture\n")
        return path, "not a picture"
    if kind == "truncated":
        data = picture(user / "whole.png", 64, 64).read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return path, "cannot read"
    if kind == "eps_named_png":
        path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\nshowpage\n%%EOF\n")
        return path, "not a picture"
    if kind == "huge":
        return _png_header_only(path, 12000, 12000), "12000x12000"
    if kind == "bomb":
        return _png_header_only(path, 60000, 60000), "too large"
    if kind == "nan_tiff":
        path = user / "nan.tif"
        pixels = np.full((32, 32), 0.5, np.float32)
        pixels[3, 4] = np.nan
        Image.fromarray(pixels, "F").save(path)
        return path, "NaN"
    if kind == "inf_tiff":
        path = user / "inf.tif"
        Image.fromarray(np.full((32, 32), np.inf, np.float32), "F").save(path)
        return path, "infinite"
    if kind == "thin_strip":
        path = user / "strip.png"
        Image.fromarray(np.full((3, 10000, 3), 128, np.uint8)).save(path)
        return path, "10000x3"
    raise AssertionError(kind)


KINDS = [
    "missing", "directory", "symlink_loop", "broken_symlink", "device", "empty", "text", "truncated",
    "eps_named_png", "huge", "bomb", "nan_tiff", "inf_tiff", "thin_strip",
]  # fmt: skip


@pytest.mark.timeout(60)  # a FIFO or device must be refused, not opened: a hang fails here instead of blocking CI
@pytest.mark.parametrize("role", ["content", "style", "second_style", "init"])
@pytest.mark.parametrize("kind", KINDS)
def test_bad_picture_on_run(tmp_path, kind, role):
    user = user_folder(tmp_path)
    bad, word = _make_bad(user, kind)
    content, style = user / "content.png", user / "style.png"
    pictures = {
        "content": [bad, style],
        "style": [content, bad],
        "second_style": [content, style, bad],
        "init": [content, style, "--init", bad],
    }[role]
    before = snapshot(tmp_path)
    result = cli("run", *pictures, "-o", tmp_path / "out", *FAST)
    assert_one_line(result, 2, word, bad.name)  # README: the refusal names the culprit and says what it is
    assert_unchanged(before, tmp_path)


@pytest.mark.timeout(60)  # a FIFO or device must be refused, not opened: a hang fails here instead of blocking CI
@pytest.mark.parametrize("role", ["content", "style", "init"])
def test_fifo_picture_never_blocks(tmp_path, role):
    user = user_folder(tmp_path)
    os.mkfifo(user / "pipe.png")
    pictures = {
        "content": [user / "pipe.png", user / "style.png"],
        "style": [user / "content.png", user / "pipe.png"],
        "init": [user / "content.png", user / "style.png", "--init", user / "pipe.png"],
    }[role]
    before = snapshot(tmp_path)
    result = cli_subprocess("run", *pictures, "-o", tmp_path / "out", *FAST, timeout=240)
    assert_one_line(result, 2, "named pipe")
    assert_unchanged(before, tmp_path)


@pytest.mark.timeout(60)  # a FIFO or device must be refused, not opened: a hang fails here instead of blocking CI
def test_texture_mode_with_a_fifo_style(tmp_path):
    user = user_folder(tmp_path)
    os.mkfifo(user / "pipe.png")
    before = snapshot(tmp_path)
    result = cli_subprocess("run", user / "pipe.png", "--mode", "texture", "-o", tmp_path / "out", *FAST, timeout=240)
    assert_one_line(result, 2, "named pipe")
    assert_unchanged(before, tmp_path)


@pytest.mark.parametrize("kind", ["directory", "text", "nan_tiff", "thin_strip"])
def test_bad_picture_on_compare(tmp_path, kind):
    user = user_folder(tmp_path)
    bad, word = _make_bad(user, kind)
    before = snapshot(tmp_path)
    result = cli("compare", user / "content.png", bad, "-o", tmp_path / "out" / "cmp", *FAST[:-4])
    assert_one_line(result, 2, word)
    assert_unchanged(before, tmp_path)


@pytest.mark.parametrize("kind", ["directory", "text", "huge"])
def test_bad_picture_on_bench(tmp_path, kind):
    user = user_folder(tmp_path)
    bad, word = _make_bad(user, kind)
    before = snapshot(tmp_path)
    result = cli("bench", "--content", bad, "--style", user / "style.png", "--weights", "random", "--iterations", "1")
    assert_one_line(result, 2, word)
    assert_unchanged(before, tmp_path)


def test_malformed_exif_still_runs(tmp_path):
    """A JPEG whose EXIF block has a tag Pillow cannot re-serialise: the run works (exit 0), no traceback."""
    user = user_folder(tmp_path)
    orientation = struct.pack("<HHI", 0x0112, 3, 1) + struct.pack("<HH", 6, 0)
    nan_float = struct.pack("<HHI", 0x0100, 11, 1) + struct.pack("<f", float("nan"))
    exif = b"Exif\x00\x00II*\x00" + struct.pack("<IH", 8, 2) + orientation + nan_float + struct.pack("<I", 0)
    pixels = np.asarray(Image.open(user / "content.png"))
    Image.fromarray(pixels).save(user / "odd.jpg", exif=exif, quality=95)
    before = snapshot(user)
    result = cli("run", user / "odd.jpg", user / "style.png", "-o", tmp_path / "out", *FAST)
    assert result.rc == 0 and "Traceback" not in result.err, result.err
    assert len(result.err_lines) <= 1  # at most the one warning about the EXIF block
    assert_unchanged(before, user)
    assert Image.open(tmp_path / "out" / "odd_style" / "content.png").size == (32 * 32 // 48, 32)  # upright


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=300), header=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"]))
def test_random_bytes_as_the_style_picture(tmp_path, data, header):
    user = user_folder(tmp_path / "h")
    (user / "random.png").write_bytes(header + data)
    before = snapshot(user)
    result = cli("run", user / "content.png", user / "random.png", "-o", tmp_path / "h" / "out", *FAST)
    if result.rc == 0:  # random bytes that Pillow decodes as a picture (a header + bytes can be): a real run
        assert (tmp_path / "h" / "out" / "content_random" / "generated.png").is_file(), result.err
    else:  # anything else is a one-line refusal that names the file
        assert_one_line(result, 2, "random.png")
        assert not (tmp_path / "h" / "out").exists()  # nothing half-written
    assert_unchanged(before, user)


def test_a_thin_style_within_the_limit_is_enlarged_and_runs(tmp_path):
    """A 1:40 strip is accepted: the style is enlarged until its short side has the 16 px VGG needs."""
    user = user_folder(tmp_path)
    picture(user / "strip.png", 5, 200)
    before = snapshot(user)
    result = cli("run", user / "content.png", user / "strip.png", "-o", tmp_path / "out", *FAST)
    assert result.rc == 0 and "Traceback" not in result.err, result.err
    assert min(Image.open(tmp_path / "out" / "content_strip" / "style.png").size) >= 16
    assert_unchanged(before, user)
