"""Picture loading (every odd kind of file people have), resizing and atomic saving."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from nst_tf.errors import ImageError
from nst_tf.io import images as image_io


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
