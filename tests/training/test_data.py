"""The tf.data picture pipeline's style augmentation (`Augment`): it changes the pictures the way it says (scale,
colour), keeps their shape and range, follows its seed, and when it is off the pipeline is the plain crop-and-flip
one (each crop an exact window of the resized picture)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

SIZE = 24


def _save(path, array: np.ndarray) -> str:
    Image.fromarray(np.round(array * 255).astype(np.uint8)).save(path)
    return str(path)


@pytest.fixture(scope="module")
def ramp(tmp_path_factory) -> str:
    """A 60×60 PNG whose red rises by 4/255 a column (0 -> 236/255): a crop's red slope tells its scale."""
    picture = np.zeros((60, 60, 3), np.float32)
    picture[..., 0] = np.arange(60)[np.newaxis, :] * 4 / 255
    picture[..., 1] = 0.5
    return _save(tmp_path_factory.mktemp("ramp") / "ramp.png", picture)


@pytest.fixture(scope="module")
def red(tmp_path_factory) -> str:
    """A uniform, strongly red 40×40 PNG."""
    picture = np.zeros((40, 40, 3), np.float32) + np.array([0.8, 0.2, 0.2], np.float32)
    return _save(tmp_path_factory.mktemp("red") / "red.png", picture)


def _crops(path: str, augment, seed: int = 0, batches: int = 3, resize_to: int = 60) -> np.ndarray:
    from nst_tf.training.data import PhotoFolder, photo_dataset

    dataset, _ = photo_dataset(PhotoFolder((path,) * 4), SIZE, 4, seed, resize_to=resize_to, augment=augment)
    batch_list = iter(dataset)
    return np.concatenate([next(batch_list).numpy() for _ in range(batches)])


def test_augment_crops_at_random_scales_keeping_shape_range_and_the_seed(ramp):
    from nst_tf.training.data import Augment

    scale_only = Augment(zoom=2.0, flip_up_down=False, hue=0.0, saturation=(1.0, 1.0), brightness=0.0)
    crops = _crops(ramp, scale_only)
    assert crops.shape == (12, SIZE, SIZE, 3) and crops.dtype == np.float32
    assert crops.min() >= 0.0 and crops.max() <= 1.0
    # red slope per output pixel: 4/255 for a crop at the resized picture's scale, up to 2 × that for one cut
    # 2 × the output side and shrunk; the ramp is linear, so bilinear resizing keeps the slope exact inside.
    slopes = np.abs(np.diff(crops[:, :, 4:-4, 0], axis=2)).mean(axis=(1, 2)) * 255 / 4
    assert np.all(slopes > 0.97) and np.all(slopes < 2.03)
    assert slopes.max() > 1.3 and np.ptp(slopes) > 0.2  # the scale varies, not one fixed zoom
    plain = _crops(ramp, None)
    plain_slopes = np.abs(np.diff(plain[:, :, 4:-4, 0], axis=2)).mean(axis=(1, 2)) * 255 / 4
    np.testing.assert_allclose(plain_slopes, 1.0, atol=0.01)  # off: every crop at the picture's own scale
    np.testing.assert_array_equal(crops, _crops(ramp, scale_only))  # the seed decides
    assert not np.array_equal(crops, _crops(ramp, scale_only, seed=1))


def test_augment_jitters_hue_saturation_and_brightness(red):
    from nst_tf.training.data import Augment

    colour_only = Augment(zoom=1.0, flip_up_down=False, hue=0.5, saturation=(0.6, 1.4), brightness=0.1)
    crops = _crops(red, colour_only, resize_to=40)
    assert crops.min() >= 0.0 and crops.max() <= 1.0
    means = crops.mean(axis=(1, 2))  # each crop stays uniform: one colour per crop
    assert np.abs(crops - means[:, np.newaxis, np.newaxis]).max() < 1e-5
    red_is_largest = means.argmax(axis=1) == 0
    assert red_is_largest.sum() < len(means)  # some crops' hue moved away from red
    plain = _crops(red, None, resize_to=40)
    expected = np.broadcast_to(np.round(np.array([0.8, 0.2, 0.2]) * 255) / 255, plain.shape)
    np.testing.assert_allclose(plain, expected, atol=1e-6)  # off: the picture's colour untouched


def test_without_augment_every_crop_is_a_window_of_the_resized_picture(tmp_path):
    """The plain pipeline (what the shipped networks were trained with): crops copied, maybe mirrored, never
    resampled or recoloured."""
    from conftest import tiny_image

    from nst_tf.training.data import _decode_resized

    path = _save(tmp_path / "p.png", tiny_image(30, 40, seed=4)[0])
    whole = _decode_resized(path, 30).numpy()
    for crop in _crops(path, None, resize_to=30, batches=2):
        found = False
        for candidate in (crop, crop[:, ::-1]):
            for top in range(whole.shape[0] - SIZE + 1):
                for left in range(whole.shape[1] - SIZE + 1):
                    found = found or np.array_equal(whole[top : top + SIZE, left : left + SIZE], candidate)
        assert found


def test_augment_refuses_settings_out_of_range():
    from nst_tf.errors import ConfigError
    from nst_tf.training.data import Augment

    for bad in ({"zoom": 0.5}, {"hue": 0.6}, {"saturation": (1.2, 0.8)}, {"brightness": 1.0}):
        with pytest.raises(ConfigError, match="augmentation out of range"):
            Augment(**bad)
