"""Decoder training: a few reconstruction steps on three tiny pictures (loss finite, checkpoint resumes,
decoder saved with its JSON), and the least-squares relu1_1 decoder inverting relu1_1 closely."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_image
from PIL import Image


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
    assert [r.iteration + 1 for r in records] == [1, 2, 3]
    assert all(np.isfinite(r.costs["total"]) and r.costs["feature"] > 0 for r in records)
    longer = DecoderTraining(**{**cfg.__dict__, "steps": 4})
    assert [r.iteration + 1 for r in train_decoder(vgg16, photos, longer, tmp_path / "ck")] == [4]  # resumed at 3
    path = save_decoder(build_decoder(2, 0.25), tmp_path / "out", "d2", cfg, {"note": "test"})
    assert path.is_file() and json.loads((tmp_path / "out" / "d2.json").read_text())["level"] == 2


def test_bfloat16_adain_losses_match_float32s_with_float32_variables_and_losses(vgg16):
    """--precision bfloat16 (issue 25): the encoder's and the decoder's convolutions in bfloat16, the decoder's
    variables (so Adam's slots) and the losses float32; on the same weights and crops the losses agree with
    float32's to within one bfloat16 rounding step."""
    import tensorflow as tf

    from nst_tf.universal.networks import LEVEL_LAYERS, build_decoder
    from nst_tf.universal.train import DecoderTraining, adain_losses
    from nst_tf.vgg.extractor import BFloat16Extractor, FeatureExtractor

    d32 = build_decoder(4, 0.125)
    d16 = build_decoder(4, 0.125, precision="bfloat16")
    d16.set_weights(d32.get_weights())
    assert (d16.layers[-1].compute_dtype, d16.layers[-1].variable_dtype) == ("bfloat16", "float32")
    assert all(v.dtype == "float32" for v in d16.trainable_variables)
    photos = tf.constant(np.concatenate([tiny_image(32, 32, seed=s) for s in (0, 1)]))
    styles = tf.constant(np.concatenate([tiny_image(32, 32, seed=s) for s in (5, 6)]))
    layers, cfg = [LEVEL_LAYERS[k] for k in (1, 2, 3, 4)], DecoderTraining(mode="adain", width=0.125)
    f32 = adain_losses(FeatureExtractor(vgg16, layers, pooling="max"), d32, cfg)((photos, styles))
    b16 = adain_losses(BFloat16Extractor(vgg16, layers, pooling="max"), d16, cfg)((photos, styles))
    # Each loss is a mean over thousands of feature values, each off by a few bfloat16 roundings (2^-9
    # relative) of either sign: relatively it stays within one rounding step 2^-8 (measured ~1e-3), while a
    # "bfloat16" path that computed nothing in bfloat16 would match float32 to ~1e-7.
    for key in ("total", "content", "style"):
        assert b16[key].dtype == tf.float32
        assert 1e-6 < abs(float(b16[key]) / float(f32[key]) - 1) < 2**-8, (key, float(b16[key]), float(f32[key]))


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


def test_universal_train_command_writes_a_run_folder_and_resumes_it(tmp_path, photos):
    """`universal-train` keeps CHECKPOINT_DIR/run/ (metrics.csv with its own loss columns, TensorBoard,
    loss.png); a resumed run appends the steps after the checkpoint."""
    import csv

    from nst_tf.cli.main import main

    style = tmp_path / "style.png"
    Image.fromarray((tiny_image(36, 36, seed=9)[0] * 255).astype(np.uint8)).save(style)
    data = Path(photos[0]).parent / "photos"
    data.mkdir()
    for path in photos:
        Path(path).rename(data / Path(path).name)
    ck, out = tmp_path / "ck", tmp_path / "out"
    argv = ["universal-train", "--data", str(data), "--styles", str(style), "--mode", "adain", "--width", "0.125"]
    argv += ["--batch", "1", "--crop", "32", "--checkpoint-dir", str(ck), "-o", str(out), "--name", "d"]
    assert main([*argv, "--steps", "2"]) == 0
    assert main([*argv, "--steps", "3", "--augment-styles"]) == 0  # step 3 through the style augmentation
    with open(ck / "run" / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    assert set(rows[0]) == {"step", "loss", "content", "style", "seconds"}
    assert all(float(r["loss"]) > 0 for r in rows)
    assert (ck / "run" / "loss.png").is_file() and any((ck / "run" / "tb").iterdir())
    meta = json.loads((out / "d.json").read_text())
    assert meta["training"]["steps"] == 3
    assert meta["training"]["augment_styles"] is True and meta["style_augmentation"]["hue"] == 0.1
    # --precision auto, decided once (conftest forces float32 through NST_TF_PRECISION) and recorded in both
    config = json.loads((ck / "run" / "config.json").read_text())
    assert meta["training"]["precision"] == config["settings"]["precision"] == "float32"
    assert meta["precision_decision"]["source"] == config["precision_decision"]["source"] == "environment"
    from nst_tf.io import provenance

    assert meta["machine"] == provenance.machine()  # the machine it ran on, not a description by hand
    assert meta["versions"]["tensorflow"] == provenance.library_versions()["tensorflow"]


@pytest.mark.parametrize(
    "place, words",
    [("ckpt_is_file", "--checkpoint-dir"), ("out_is_file", "-o"), ("bad_name", "--name"), ("fifo_init", "--init")],
)
def test_universal_train_refuses_bad_places_before_making_anything(tmp_path, photos, capsys, place, words):
    import os

    from nst_tf.cli.main import main

    afile = tmp_path / "afile"
    afile.write_text("mine")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    ck, out, name = tmp_path / "ck", tmp_path / "out", "d"
    extra = []
    if place == "ckpt_is_file":
        ck = afile
    elif place == "out_is_file":
        out = afile
    elif place == "bad_name":
        name = "a/b"
    else:
        extra = ["--init", str(fifo)]
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = ["universal-train", "--data", str(tmp_path), "--steps", "1", "--crop", "32", "--batch", "1"]
    assert main([*argv, "--checkpoint-dir", str(ck), "-o", str(out), "--name", name, *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before and afile.read_text() == "mine"
