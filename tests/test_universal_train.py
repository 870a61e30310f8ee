"""Decoder training: a few reconstruction steps on three tiny pictures (loss finite, checkpoint resumes,
decoder saved with its JSON), and the least-squares relu1_1 decoder inverting relu1_1 closely."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import tiny_image


@pytest.fixture(scope="module")
def vgg16():
    from nst_tf.vgg.weights import resolve_weights

    return resolve_weights("imagenet-vgg16")


@pytest.fixture
def photos(tmp_path: Path) -> list[str]:
    paths = []
    for seed in range(3):
        path = tmp_path / f"photo{seed}.png"
        Image.fromarray((tiny_image(40, 44, seed=seed)[0] * 255).astype(np.uint8)).save(path)
        paths.append(str(path))
    return paths


def test_reconstruction_training_runs_resumes_and_saves(tmp_path, vgg16, photos):
    from nst_tf.universal.networks import build_decoder
    from nst_tf.universal.train import DecoderTraining, save_decoder, train_decoder

    cfg = DecoderTraining(level=2, width=0.25, crop=32, batch=2, steps=3, checkpoint_every=2, crops_per_photo=2)
    records = list(train_decoder(vgg16, photos, cfg, tmp_path / "ck"))
    assert [r["step"] for r in records] == [1, 2, 3]
    assert all(np.isfinite(r["loss"]) and r["feature"] > 0 for r in records)
    longer = DecoderTraining(**{**cfg.__dict__, "steps": 4})
    assert [r["step"] for r in train_decoder(vgg16, photos, longer, tmp_path / "ck")] == [4]  # resumed at 3
    path = save_decoder(build_decoder(2, 0.25), tmp_path / "out", "d2", cfg, {"note": "test"})
    assert path.is_file() and json.loads((tmp_path / "out" / "d2.json").read_text())["level"] == 2


def test_least_squares_level1_decoder_inverts_relu1_1(vgg16, photos):
    from nst_tf.universal.networks import LEVEL_LAYERS, build_decoder, build_encoder
    from nst_tf.universal.train import DecoderTraining, fit_level1_decoder

    decoder = fit_level1_decoder(vgg16, photos, DecoderTraining(level=1, crop=32, steps=6), samples=512)
    picture = tiny_image(36, 36, seed=7)
    features = build_encoder(vgg16, 1)(picture)[LEVEL_LAYERS[1]]
    fitted = np.mean((decoder(features).numpy() - picture) ** 2)
    untrained = np.mean((build_decoder(1)(features).numpy() - picture) ** 2)
    assert fitted < 0.01 and fitted < untrained / 20


def test_picture_batches_come_from_the_feedforward_pipeline_even_with_fewer_pictures_than_a_batch(photos):
    from nst_tf.errors import ConfigError
    from nst_tf.universal.train import picture_batches

    batches = picture_batches(photos[:2], crop=24, batch=3, seed=1)
    first, second = next(batches).numpy(), next(batches).numpy()
    assert first.shape == second.shape == (3, 24, 24, 3) and first.dtype == np.float32
    assert 0.0 <= first.min() and first.max() <= 1.0 and not np.array_equal(first, second)
    again = next(picture_batches(photos[:2], crop=24, batch=3, seed=1)).numpy()
    assert np.array_equal(first, again)  # the seed decides the crops
    with pytest.raises(ConfigError, match="at least one picture"):
        picture_batches([], crop=24, batch=3)
