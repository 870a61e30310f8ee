"""The one-pass networks: shapes, the photo pipeline, the loss, and `train` / `apply` / `models` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("NST_TF_MODELS", None)
    return env


def _nst(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nst_tf", *args], capture_output=True, text=True, env=_env(), cwd=cwd, timeout=900
    )


@pytest.fixture
def nst_in_process(capsys, monkeypatch):
    """The command line's `main` in this process: (status, stdout, stderr) of one command.

    For the tests about what a command writes, not about the process (its exit status and one-line errors stay
    in `_nst`'s child processes): the same parser and command, without a child's ~5 s TensorFlow import.
    """
    from nst_tf.cli.main import main

    monkeypatch.delenv("NST_TF_MODELS", raising=False)

    def call(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        status = main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    return call


def _photos(folder: Path, count: int = 3, size: tuple[int, int] = (40, 52)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(count):
        base = np.linspace(0, 255, size[1], dtype=np.float32)[None, :, None] * np.ones((size[0], 1, 3))
        pixels = np.clip(base + rng.normal(0, 40, (*size, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"photo{i}.png")
    return folder


def _style(path: Path) -> Path:
    yy, xx = np.mgrid[0:48, 0:48]
    stripes = ((xx + yy) // 4 % 2).astype(np.float32)
    pixels = np.stack([stripes * 230, 40 + stripes * 60, 200 - stripes * 150], axis=-1).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.mark.parametrize("kind", ["johnson", "texture-net", "texture"])
@pytest.mark.parametrize("shape", [(1, 33, 47), (2, 35, 32)])
def test_generators_keep_any_size(kind, shape):
    from nst_tf.feedforward.networks import build_generator

    model = build_generator(kind, width=0.25)
    out = np.asarray(model(np.random.default_rng(0).random((*shape, 3), dtype=np.float32)))
    assert out.shape == (*shape, 3)
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_width_scales_the_channels():
    from nst_tf.feedforward.networks import build_generator

    assert build_generator("johnson", 0.5).count_params() < build_generator("johnson", 1.0).count_params() / 3


def test_batched_gram_is_per_picture():
    import tensorflow as tf

    from nst_tf.feedforward.loss import batched_gram

    features = np.random.default_rng(2).random((2, 3, 4, 5)).astype(np.float32)
    grams = batched_gram(tf.constant(features)).numpy()
    for b in range(2):
        a = features[b].reshape(-1, 5)
        np.testing.assert_allclose(grams[b], a.T @ a, rtol=1e-5)


def test_photo_dataset_crops_and_skips_bad_files(tmp_path):
    from nst_tf.training.data import photo_dataset

    folder = _photos(tmp_path / "photos")
    (folder / "broken.jpg").write_bytes(b"not a jpeg at all")
    (folder / "empty.png").write_bytes(b"")
    os.mkfifo(folder / "pipe.jpg")  # must be skipped without being opened (opening a FIFO would block)
    dataset, photos = photo_dataset(folder, size=24, batch=2, seed=0)
    assert len(photos.paths) == 3 and len(photos.skipped) == 3
    batches = [b.numpy() for b in dataset.take(4)]
    assert all(b.shape == (2, 24, 24, 3) and b.min() >= 0 and b.max() <= 1 for b in batches)
    again = [b.numpy() for b in photo_dataset(folder, size=24, batch=2, seed=0)[0].take(4)]
    np.testing.assert_array_equal(batches[3], again[3])  # seeded: the same crops


def test_the_pipeline_takes_the_picture_suffixes_tf_data_decodes(tmp_path):
    from nst_tf.io.images import PICTURE_SUFFIXES
    from nst_tf.training.data import PHOTO_SUFFIXES, scan_photos

    assert set(PHOTO_SUFFIXES) == set(PICTURE_SUFFIXES) - {".webp", ".tif", ".tiff"}  # one list, narrowed
    folder = _photos(tmp_path / "photos", count=2)
    for suffix in (".webp", ".tif", ".GIF"):
        Image.new("RGB", (40, 52), (90, 120, 30)).save(folder / f"other{suffix}")
    assert sorted(Path(p).name for p in scan_photos(folder).paths) == ["other.GIF", "photo0.png", "photo1.png"]


@pytest.mark.slow
def test_train_resume_apply_and_models(tmp_path, nst_in_process):
    photos, style, model_dir = _photos(tmp_path / "photos"), _style(tmp_path / "style.png"), tmp_path / "m"
    common = ["--data", str(photos), "-o", str(model_dir), "--weights", "random", "--image-size", "32"]
    common += ["--style-size", "48", "--batch", "2", "--width", "0.25", "--learning-rate", "0.003", "--samples"]
    common += [str(photos / "photo0.png"), "--sample-size", "32", "--sample-every", "4", "-q", "--no-tb"]
    done = _nst("train", str(style), *common, "--steps", "12", "--checkpoint-every", "6")
    assert done.returncode == 0, done.stderr
    meta = json.loads((model_dir / "model.json").read_text())
    assert meta["steps"] == 12 and meta["architecture"] == {"generator": "johnson", "width": 0.25, "seed": 0}
    with open(model_dir / "run" / "metrics.csv") as handle:
        rows = [line.split(",") for line in handle.read().split()[1:]]
    totals = [float(r[1]) for r in rows]
    assert [int(r[0]) for r in rows] == list(range(1, 13))
    assert np.mean(totals[-3:]) < np.mean(totals[:3])  # the loss falls
    assert (model_dir / "run" / "loss.png").is_file() and (model_dir / "run" / "samples" / "step_000004.png").is_file()
    resumed = _nst("train", *common, "--steps", "15", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((model_dir / "model.json").read_text())["steps"] == 15
    with open(model_dir / "run" / "metrics.csv") as handle:
        assert [int(line.split(",")[0]) for line in handle.read().split()[1:]] == list(range(1, 16))
    out = tmp_path / "out"
    status, stdout, err = nst_in_process("apply", str(model_dir), str(photos), "-o", str(out), "--json")
    assert status == 0, err
    report = json.loads(stdout)
    assert len(report["pictures"]) == 3 and all(p["seconds"] > 0 for p in report["pictures"])
    with Image.open(out / "photo1_m.png") as img:
        assert img.size == (52, 40)


def test_bad_inputs_exit_2_without_writing(tmp_path):
    photos, style = _photos(tmp_path / "photos"), _style(tmp_path / "style.png")
    cases = [
        ["train", str(tmp_path / "missing.png"), "--data", str(photos), "-o", str(tmp_path / "a")],
        ["train", str(style), "--data", str(tmp_path / "nothing"), "-o", str(tmp_path / "b")],
        ["train", str(style), "--data", str(photos), "-o", str(tmp_path / "c"), "--width", "-1"],
        ["train", "--resume", "-o", str(tmp_path / "d")],
        ["apply", "no_such_model", str(photos / "photo0.png"), "-o", str(tmp_path / "e")],
        ["apply", str(photos), str(photos / "photo0.png"), "-o", str(tmp_path / "f")],  # a folder, not a model
    ]
    for args in cases:
        done = _nst(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos", "style.png"]


def test_models_lists_the_shipped_networks(nst_in_process):
    status, stdout, err = nst_in_process("models", "--json")
    assert status == 0, err
    models = json.loads(stdout)["models"]
    assert len(models) >= 3
    for meta in models:
        assert meta["architecture"]["generator"] == "johnson" and meta["steps"] > 0
        assert "public domain" in meta["style"]["licence"]
        # README: "width 0.25 (0.6 MB each)" — 108,771 float32 values (0.44 MB) plus Keras's HDF5 layout.
        assert 550_000 <= (ROOT / "nst_tf" / "models" / meta["name"] / "model.weights.h5").stat().st_size < 650_000


def _chroma(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 2) YUV chroma of an 8-bit RGB array."""
    from nst_tf.losses.color import rgb_to_yuv

    return rgb_to_yuv(np.asarray(pixels, np.float64) / 255.0)[..., 1:]


def test_apply_shipped_models_and_preserve_colors(tmp_path, nst_in_process):
    from nst_tf.feedforward.model_io import shipped_models

    photo = ROOT / "images" / "chelsea.png"
    names = [name for name, _ in shipped_models()]
    assert "starry_night" in names
    for name in names:
        out = tmp_path / f"{name}.png"
        status, stdout, err = nst_in_process("apply", name, str(photo), "-o", str(out), "--image-size", "64", "--json")
        assert status == 0, err
        assert json.loads(stdout)["pictures"][0]["seconds"] > 0
        with Image.open(out) as img, Image.open(photo) as original:
            pixels = np.asarray(img, np.float32)
            assert max(img.size) == 64
            source = np.asarray(original.convert("RGB").resize(img.size), np.float32)
        assert np.abs(pixels - source).mean() > 5  # stylized, not the photo passed through
    # README: `apply --preserve-colors` keeps the photo's colours (its YUV chroma, the network's luminance);
    # the plain output to compare with is starry_night's above (the same command without the flag).
    kept = tmp_path / "starry_night_kept.png"
    status, _, err = nst_in_process(
        "apply", "starry_night", str(photo), "-o", str(kept), "--image-size", "64", "--preserve-colors"
    )
    assert status == 0, err
    distance = {}
    for flag, out in ((False, tmp_path / "starry_night.png"), (True, kept)):
        with Image.open(out) as img, Image.open(photo) as original:
            source = np.asarray(original.convert("RGB").resize(img.size, Image.BICUBIC))
            distance[flag] = float(np.abs(_chroma(np.asarray(img)) - _chroma(source)).mean())
    # Left: 8-bit rounding (0.002), the two resamplings of the photo, and chroma lost where luminance +
    # chroma leave the RGB cube (clipped). The plain network output moves the chroma far more (starry blue).
    assert distance[True] < 0.02 and distance[True] < distance[False] / 3, distance


def test_apply_refuses_to_overwrite(tmp_path):
    photo, out = ROOT / "images" / "chelsea.png", tmp_path / "taken.png"
    out.write_bytes(b"the user's file")
    done = _nst("apply", "starry_night", str(photo), "-o", str(out))
    assert done.returncode == 2 and "exists" in done.stderr
    assert out.read_bytes() == b"the user's file"


def test_run_log_writes_through_run_folder_and_resumes_its_metrics(tmp_path):
    from nst_tf.io.rundir import RunFolder
    from nst_tf.training.runlog import FIELDS, RunLog

    log = RunLog(tmp_path / "run", {"steps": 3}, tensorboard=False)
    for step in (1, 2, 3):
        log.step(step, {"total": 4.0 / step, "content": 1.0, "style": 2.0}, 0.25)
    strip = log.samples(3, [np.zeros((1, 8, 6, 3), np.float32), np.ones((1, 8, 6, 3), np.float32)])
    assert log.plot() == tmp_path / "run" / "loss.png" and (tmp_path / "run" / "loss.png").stat().st_size > 0
    log.close()
    with Image.open(strip) as img:
        assert strip.name == "step_000003.png" and img.size == (12, 8)
    run = RunFolder(tmp_path / "run")
    assert [r["step"] for r in run.read_metrics(FIELDS)] == [1, 2, 3] and run.read_metrics(FIELDS)[1]["total"] == 2
    assert run.read_record() == {"steps": 3}
    resumed = RunLog(tmp_path / "run", {"steps": 5}, start_step=2, tensorboard=False)  # step 3 is trained again
    resumed.step(3, {"total": 1.0}, 0.5)
    resumed.close()
    rows = run.read_metrics(FIELDS)
    assert [(r["step"], r["total"], r["tv"]) for r in rows] == [(1, 4, 0), (2, 2, 0), (3, 1, 0)]
    assert (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0] == ",".join(FIELDS)


@pytest.mark.slow
def test_train_generator_and_mixed_precision(tmp_path, nst_in_process):
    # README: `train --generator texture-net` trains that network (apply then loads it), and `--mixed-precision`
    # computes in bfloat16. Step 1's loss is measured before any update, from the same seeded weights and
    # crops, so the two runs differ there only by precision: by more than float32's rounding (~1e-6 relative)
    # and by about bfloat16's (8-bit mantissa: ~4e-3 per value), far less than 10 %.
    photos, style = _photos(tmp_path / "photos"), _style(tmp_path / "style.png")
    common = ["--data", str(photos), "--weights", "random", "--image-size", "32", "--style-size", "48"]
    common += ["--batch", "2", "--width", "0.25", "--steps", "1", "--generator", "texture-net", "-q", "--no-tb"]
    first = {}
    for flag in ([], ["--mixed-precision"]):
        model = tmp_path / f"m{len(flag)}"
        done = _nst("train", str(style), "-o", str(model), *common, *flag)
        assert done.returncode == 0, done.stderr
        meta = json.loads((model / "model.json").read_text())
        assert meta["architecture"]["generator"] == "texture-net" and meta["settings"]["mixed_precision"] == bool(flag)
        with open(model / "run" / "metrics.csv") as handle:
            first[bool(flag)] = float(handle.read().split()[1].split(",")[1])
    assert 1e-5 < abs(first[True] - first[False]) / first[False] < 0.1, first
    status, _, err = nst_in_process(
        "apply", str(tmp_path / "m1"), str(photos / "photo0.png"), "-o", str(tmp_path / "out.png")
    )
    assert status == 0, err
    with Image.open(tmp_path / "out.png") as img:
        assert img.size == (52, 40)


def test_train_resume_refuses_a_shipped_model_in_one_line(tmp_path):
    # A shipped model folder has no run/ (only model.weights.h5 and model.json), so `train --resume` on a copy
    # of it says so, names the folder, and changes nothing.
    copy = tmp_path / "starry_night"
    copy.mkdir()
    for name in ("model.weights.h5", "model.json"):
        (copy / name).write_bytes((ROOT / "nst_tf" / "models" / "starry_night" / name).read_bytes())
    before = {p.name: p.read_bytes() for p in copy.iterdir()}
    done = _nst("train", "--resume", "-o", str(copy), "--steps", "2", "-q", "--no-tb")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert str(copy) in done.stderr and "run/config.json" in done.stderr
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == before
