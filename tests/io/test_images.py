"""Picture loading (every odd kind of file people have, and hostile ones), resizing, atomic saving, and the
shared guards of nst_tf.io.safe (regular files only, declared sizes)."""

from __future__ import annotations

import errno
import os
import stat
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from nst_tf.errors import ImageError, NSTError
from nst_tf.io import atomic, safe
from nst_tf.io import images as image_io

# Library-level reads take well under a second; a FIFO or device opened by mistake would block forever, so
# every test here fails after 60 s (pytest-timeout's SIGALRM: one timer per test, no alarm() of our own).
pytestmark = pytest.mark.timeout(60)


def _gradient_rgb(h=12, w=20) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), np.full_like(x, 128)], axis=2).astype(np.uint8)


def test_rgb_png_round_trip(tmp_path):
    pixels = _gradient_rgb()
    Image.fromarray(pixels).save(tmp_path / "a.png")
    loaded = image_io.load_image(tmp_path / "a.png")
    assert loaded.shape == (1, 12, 20, 3) and loaded.dtype == np.float32
    np.testing.assert_array_equal(image_io.to_uint8(loaded), pixels)
    image_io.save_image(loaded, tmp_path / "b.png")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "b.png")), pixels)


def test_greyscale_becomes_three_equal_channels(tmp_path):
    Image.fromarray(np.full((5, 6), 51, np.uint8), "L").save(tmp_path / "g.png")
    loaded = image_io.load_image(tmp_path / "g.png")
    assert loaded.shape == (1, 5, 6, 3)
    np.testing.assert_allclose(loaded, 0.2, atol=1e-6)


def test_sixteen_bit_greyscale_keeps_its_range(tmp_path):
    Image.fromarray(np.full((4, 4), 32768, np.uint16)).save(tmp_path / "g16.png")
    loaded = image_io.load_image(tmp_path / "g16.png")
    np.testing.assert_allclose(loaded, 32768 / 65535, atol=1e-4)  # not clipped to white


def test_alpha_is_composited_on_white(tmp_path):
    rgba = np.zeros((3, 3, 4), np.uint8)
    rgba[..., 0] = 255  # red ...
    rgba[0, 0, 3] = 255  # ... opaque in one corner, fully transparent elsewhere
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    loaded = image_io.load_image(tmp_path / "a.png")[0]
    np.testing.assert_allclose(loaded[0, 0], [1, 0, 0])
    np.testing.assert_allclose(loaded[1, 1], [1, 1, 1])


def test_palette_picture(tmp_path):
    img = Image.fromarray(_gradient_rgb()).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    img.save(tmp_path / "p.png")
    loaded = image_io.load_image(tmp_path / "p.png")
    expected = np.asarray(img.convert("RGB"), np.float32) / 255
    np.testing.assert_allclose(loaded[0], expected)


def test_exif_rotation_is_applied(tmp_path):
    pixels = np.zeros((10, 30, 3), np.uint8)  # wide picture, stored sideways with orientation 6
    pixels[:, :5] = 255  # bright left edge
    img = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    img.save(tmp_path / "r.jpg", exif=exif, quality=100)
    loaded = image_io.load_image(tmp_path / "r.jpg")
    assert loaded.shape == (1, 30, 10, 3)  # upright: tall
    assert loaded[0, :5].mean() > 0.9 and loaded[0, -5:].mean() < 0.1  # the bright edge is now on top


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "truncated"])
def test_unreadable_files_raise_one_line(tmp_path, kind):
    path = tmp_path / "bad.png"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a picture\n")
    elif kind == "truncated":
        Image.fromarray(_gradient_rgb(64, 64)).save(tmp_path / "full.png")
        data = (tmp_path / "full.png").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError) as info:
        image_io.load_image(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_resize_and_fit_size():
    assert image_io.fit_size(300, 451, 128) == (85, 128)
    assert image_io.fit_size(600, 400, 300) == (300, 200)
    picture = np.random.default_rng(0).uniform(size=(1, 40, 60, 3)).astype(np.float32)
    small = image_io.resize(picture, 20, 30)
    assert small.shape == (1, 20, 30, 3) and 0 <= small.min() and small.max() <= 1
    # 8-bit sources resize as Pillow does (the notebooks' Image.resize, bicubic)
    eight_bit = np.round(picture * 255) / 255
    expected = np.asarray(Image.fromarray(image_io.to_uint8(eight_bit)).resize((30, 20), Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(image_io.to_uint8(image_io.resize(eight_bit.astype(np.float32), 20, 30)), expected)


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    image_io.save_image(np.zeros((1, 4, 4, 3), np.float32), tmp_path / "x.png")
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


# --- hostile pictures, library level (the end-to-end cases are in tests/cli/test_hostile_pictures.py) ---------


def _refused(path, *words) -> str:
    with pytest.raises(ImageError) as info:
        image_io.load_image(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    for word in words:
        assert word in message, message
    return message


def test_non_files_say_what_they_are(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    (tmp_path / "dangling.png").symlink_to(tmp_path / "gone.png")
    _refused(tmp_path / "pipe.png", "named pipe")
    _refused(tmp_path / "folder.png", "is a directory")
    _refused(tmp_path / "loop.png", "symlink loop")
    _refused(tmp_path / "dangling.png", "broken symlink")
    _refused(tmp_path / "missing.png", "no such file")
    _refused(Path("/dev/null"), "device")


def test_a_symlink_to_a_picture_loads(tmp_path):
    Image.fromarray(_gradient_rgb()).save(tmp_path / "a.png")
    (tmp_path / "link.png").symlink_to(tmp_path / "a.png")
    assert image_io.load_image(tmp_path / "link.png").shape == (1, 12, 20, 3)


def test_eps_named_png_never_reaches_ghostscript(tmp_path, monkeypatch):
    from PIL import EpsImagePlugin

    def _ghostscript(*args, **kwargs):
        raise AssertionError("Ghostscript was called")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", _ghostscript)
    path = tmp_path / "a.png"
    path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\nshowpage\n%%EOF\n")
    _refused(path, "not a picture")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF", "PPM"])
def test_the_formats_people_mean_load(tmp_path, fmt):
    path = tmp_path / f"a.{fmt.lower()}"
    Image.fromarray(_gradient_rgb(16, 24)).save(path, format=fmt)
    assert image_io.load_image(path).shape == (1, 16, 24, 3)


def _png_header_only(path, width: int, height: int) -> None:
    """A PNG that declares width x height but holds no pixel data: refusing it must not need decoding."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)  # a few rows' worth: the rest is "missing"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def test_huge_pictures_are_refused_from_the_header(tmp_path, monkeypatch):
    _png_header_only(tmp_path / "big.png", 12000, 12000)
    message = _refused(tmp_path / "big.png", "12000x12000", "megapixels", "NST_TF_MAX_MEGAPIXELS")
    assert "too large" in message or "more than" in message
    _png_header_only(tmp_path / "bomb.png", 60000, 60000)  # past Pillow's own decompression-bomb limit
    _refused(tmp_path / "bomb.png", "too large", "shrink it")
    Image.fromarray(_gradient_rgb(40, 50)).save(tmp_path / "small.png")
    monkeypatch.setenv("NST_TF_MAX_MEGAPIXELS", "0.001")  # 1000 px: the limit can be lowered ...
    _refused(tmp_path / "small.png", "50x40")
    monkeypatch.setenv("NST_TF_MAX_MEGAPIXELS", "nonsense")  # ... and a nonsense value keeps the default
    assert image_io.load_image(tmp_path / "small.png").shape == (1, 40, 50, 3)


def test_thin_strips_are_refused(tmp_path):
    Image.fromarray(np.zeros((3, 10000, 3), np.uint8)).save(tmp_path / "strip.png")
    _refused(tmp_path / "strip.png", "10000x3", "crop")
    Image.fromarray(np.zeros((20, 600, 3), np.uint8)).save(tmp_path / "panorama.png")  # 1:30 is fine
    assert image_io.load_image(tmp_path / "panorama.png").shape == (1, 20, 600, 3)
    assert image_io.load_image(tmp_path / "strip.png", max_aspect=None).shape == (1, 3, 10000, 3)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_tiff_with_non_finite_values_is_refused(tmp_path, bad):
    pixels = np.full((8, 8), 0.5, np.float32)
    pixels[2, 3] = bad
    Image.fromarray(pixels, "F").save(tmp_path / "f.tif")
    _refused(tmp_path / "f.tif", "NaN or infinite")


def test_float_tiff_in_either_range_loads(tmp_path):
    Image.fromarray(np.full((4, 4), 0.25, np.float32), "F").save(tmp_path / "unit.tif")
    np.testing.assert_allclose(image_io.load_image(tmp_path / "unit.tif"), 0.25)
    Image.fromarray(np.full((4, 4), 127.5, np.float32), "F").save(tmp_path / "bytes.tif")
    np.testing.assert_allclose(image_io.load_image(tmp_path / "bytes.tif"), 0.5)


def _tiff_ifd(entries) -> bytes:
    out = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        out += struct.pack("<HHI", tag, kind, count) + value
    return out + struct.pack("<I", 0)


def test_malformed_exif_loads_upright_or_as_stored_with_one_warning(tmp_path, caplog):
    pixels = _gradient_rgb(10, 30)
    orientation = (0x0112, 3, 1, struct.pack("<HH", 6, 0))
    nan_float_tag = (0x0100, 11, 1, struct.pack("<f", float("nan")))  # makes ImageOps.exif_transpose raise
    exif = b"Exif\x00\x00" + _tiff_ifd([orientation, nan_float_tag])
    Image.fromarray(pixels).save(tmp_path / "odd.jpg", exif=exif, quality=100)
    with caplog.at_level("WARNING"):
        loaded = image_io.load_image(tmp_path / "odd.jpg")
    assert loaded.shape == (1, 30, 10, 3)  # the orientation was still honoured
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []  # the tag was readable
    garbage = b"Exif\x00\x00" + b"\xff" * 40  # Pillow drops a block it cannot parse at all: as stored, silent
    Image.fromarray(pixels).save(tmp_path / "garbage.jpg", exif=garbage, quality=100)
    assert image_io.load_image(tmp_path / "garbage.jpg").shape == (1, 10, 30, 3)
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []
    # An orientation tag that is text, not a number: unusable, so one warning naming the file, and as stored.
    text_orientation = (0x0112, 2, 4, b"abc\x00")
    Image.fromarray(pixels).save(tmp_path / "garbage.jpg", exif=b"Exif\x00\x00" + _tiff_ifd([text_orientation]))
    with caplog.at_level("WARNING"):
        assert image_io.load_image(tmp_path / "garbage.jpg").shape == (1, 10, 30, 3)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "garbage.jpg" in warnings[0] and "EXIF" in warnings[0], warnings


def test_exif_that_cannot_be_parsed_is_a_warning_not_a_crash(tmp_path, monkeypatch, caplog):
    Image.fromarray(_gradient_rgb()).save(tmp_path / "a.jpg")

    def _broken(self):
        raise struct.error("required argument is not an integer")

    monkeypatch.setattr(Image.Image, "getexif", _broken)
    with caplog.at_level("WARNING", logger="nst_tf.io.images"):
        assert image_io.load_image(tmp_path / "a.jpg").shape == (1, 12, 20, 3)
    assert len(caplog.records) == 1 and "EXIF" in caplog.records[0].getMessage()


def test_sixteen_bit_rgb_and_cmyk_load(tmp_path):
    Image.fromarray(_gradient_rgb()).convert("CMYK").save(tmp_path / "c.jpg")
    assert image_io.load_image(tmp_path / "c.jpg").shape == (1, 12, 20, 3)
    Image.fromarray(np.full((6, 7), 70000, np.int32), "I").save(tmp_path / "i.tif")
    np.testing.assert_allclose(image_io.load_image(tmp_path / "i.tif"), 1.0)  # 32-bit ints past 65535 clip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=400), prefix=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"]))
def test_random_bytes_are_a_picture_or_one_line(tmp_path, data, prefix):
    path = tmp_path / "random.png"
    path.write_bytes(prefix + data)
    try:
        loaded = image_io.load_image(path)
    except ImageError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
    else:
        assert loaded.ndim == 4 and np.isfinite(loaded).all() and 0 <= loaded.min() <= loaded.max() <= 1


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_saved_files_follow_the_umask(tmp_path, umask, monkeypatch):
    monkeypatch.setattr(atomic, "_UMASK", None)  # nst_tf.io.atomic reads the umask once per process
    previous = os.umask(umask)
    try:
        image_io.save_image(np.zeros((1, 4, 4, 3), np.float32), tmp_path / "x.png")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "x.png").stat().st_mode) == 0o666 & ~umask


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    image_io.save_image(np.zeros((1, 4, 4, 3), np.float32), tmp_path / "x.png")
    before = (tmp_path / "x.png").read_bytes()

    def _disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", _disk_full)
    with pytest.raises(ImageError, match="disk is full"):
        image_io.save_image(np.ones((1, 4, 4, 3), np.float32), tmp_path / "x.png")
    assert (tmp_path / "x.png").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


def test_saving_under_a_plain_file_or_in_proc_is_one_line(tmp_path):
    (tmp_path / "file").write_text("mine")
    for place in (tmp_path / "file" / "x.png", Path("/proc/nst_tf_test/x.png")):
        with pytest.raises(ImageError) as info:
            image_io.save_image(np.zeros((1, 4, 4, 3), np.float32), place)
        assert "\n" not in str(info.value) and str(place) in str(info.value)
    assert (tmp_path / "file").read_text() == "mine"


# --- the shared guards in nst_tf.io.safe -------------------------------------------------------------------


def test_one_regular_file_guard_names_each_kind_and_lets_callers_word_it(tmp_path):
    """safe.stat_regular / open_regular are the one check the picture, weights, state and sound readers share:
    each caller gets a Refusal saying what the path is, and raises its own error class with its own words."""
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "file").write_bytes(b"bytes")
    seen = []

    def words(refusal: safe.Refusal) -> str:
        seen.append(refusal)
        return f"mine: {refusal.path.name} {refusal.problem}"

    expected = {"folder": "directory", "pipe": "pipe", "dangling": "broken link", "loop": "loop", "nothing": "missing"}
    for name, problem in expected.items():
        for guard in (safe.stat_regular, lambda *a, **k: safe.open_regular(*a, **k).__enter__()):
            with pytest.raises(ImageError, match=f"^mine: {name} {problem}$"):
                guard(tmp_path / name, ImageError, words=words)
    assert seen[2].words == "is a named pipe (FIFO), not a file" and seen[4].target == str(tmp_path / "gone")
    with safe.open_regular(tmp_path / "file", ImageError, words=words) as handle:
        assert handle.read() == b"bytes" and safe.stat_regular(tmp_path / "file").st_size == 5
    with pytest.raises(NSTError, match=r"pipe: is a named pipe \(FIFO\), not a file$"):  # the standard words
        safe.stat_regular(tmp_path / "pipe")


def test_npz_members_read_headers_only_and_refuse_bombs(tmp_path):
    np.savez(tmp_path / "ok.npz", image=np.zeros((1, 4, 4, 3), np.float32), steps=np.array(3))
    members = safe.npz_members(tmp_path / "ok.npz")
    assert members["image"] == ((1, 4, 4, 3), np.dtype(np.float32)) and members["steps"][0] == ()
    np.savez_compressed(tmp_path / "bomb.npz", big=np.zeros((64, 1024, 1024), np.float32))  # 256 MB, ~250 KB
    assert (tmp_path / "bomb.npz").stat().st_size < 2**20
    with pytest.raises(NSTError, match="MB allowed"):
        safe.npz_members(tmp_path / "bomb.npz", max_bytes=2**26)
    np.savez(tmp_path / "objects.npz", thing=np.array([{"a": 1}], dtype=object))
    with pytest.raises(NSTError, match="pickle"):
        safe.npz_members(tmp_path / "objects.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(NSTError, match="not a readable .npz"):
        safe.npz_members(tmp_path / "text.npz")
    os.mkfifo(tmp_path / "pipe.npz")
    with pytest.raises(NSTError, match="named pipe"):
        safe.npz_members(tmp_path / "pipe.npz")


def test_resizing_beyond_the_megapixel_limit_is_refused_before_allocating():
    picture = np.zeros((1, 8, 8, 3), np.float32)
    with pytest.raises(ImageError, match="100000x66667 px") as info:
        image_io.resize(picture, 66667, 100000)  # 25 GB as 8-bit RGB: must not be attempted
    assert "--image-size" in str(info.value) and "\n" not in str(info.value)
    assert image_io.resize(picture, 16, 16).shape == (1, 16, 16, 3)


@pytest.mark.parametrize(("height", "width"), [(5, 200), (3, 1000), (200, 5), (1, 50), (7, 113), (15, 16)])
@pytest.mark.parametrize("longest", [16, 32, 64, 256])
def test_fit_size_with_a_minimum_side_never_leaves_it_short(height, width, longest):
    h, w = image_io.fit_size(height, width, longest, min_side=16)
    assert min(h, w) >= 16
    if round(min(height, width) * longest / max(height, width)) >= 16:
        assert (h, w) == image_io.fit_size(height, width, longest)  # no enlargement where none is needed
    # Each side is within one pixel of the exact scaled side (rounding, or the ceil that enlarges a short side),
    # so |w'/h' − W/H| = |Δw·H − Δh·W| / (H·h') ≤ (H + W) / (H·h') = (1 + W/H) / h' for the short sides H, h'.
    ratio = max(height, width) / min(height, width)
    assert abs(max(h, w) / min(h, w) - ratio) <= (1 + ratio) / min(h, w) + 1e-12


@pytest.mark.parametrize(
    ("short", "long_", "accepted"), [(2, 100, True), (2, 101, False), (100, 2, True), (101, 2, False)]
)
def test_panoramas_up_to_1_to_50_load_and_longer_ones_are_refused(tmp_path, short, long_, accepted):
    # README: "panoramas up to 1:50 are enlarged"; MAX_ASPECT is the boundary, inclusive.
    path = tmp_path / "strip.png"
    Image.fromarray(np.full((short, long_, 3), 128, np.uint8)).save(path)
    if accepted:
        assert image_io.load_image(path).shape == (1, short, long_, 3)
    else:
        with pytest.raises(ImageError, match="strip.png") as refused:
            image_io.load_image(path)
        assert "50" in str(refused.value) and "\n" not in str(refused.value)


def test_avif_pictures_are_read(tmp_path):
    # README lists AVIF among the formats opened; Pillow >= 11.3 reads it (pillow is a requirement).
    pixels = _gradient_rgb(16, 24)  # 16 rows, 24 columns
    Image.fromarray(pixels).save(tmp_path / "photo.avif", quality=100)
    loaded = image_io.load_image(tmp_path / "photo.avif")
    assert loaded.shape == (1, 16, 24, 3)
    # lossy even at quality 100 (4:2:0 chroma): the gradient comes back within a few 8-bit steps on average
    assert np.abs(loaded[0] - pixels / 255.0).mean() < 0.02
