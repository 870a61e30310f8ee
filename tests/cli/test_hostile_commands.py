"""Hostile input on the other commands (apply, train, universal, universal-train, audio, score): a bad
picture or sound (text, NaN TIFF, FIFO), a bad data folder, or an output place that cannot be written is
one line naming the culprit, exit status 2, no traceback, never a hang, nothing of the user's changed.

Every command named here is part of nst_tf (a missing one fails, it is not skipped). Each refusal must name
the bad thing, so an argparse usage error (also one line, also status 2) cannot pass for a refusal."""

from __future__ import annotations

import json
import os
import wave
from pathlib import Path

import numpy as np
import pytest
from hostile import assert_one_line, assert_unchanged, cli, cli_subprocess, picture, snapshot, user_folder
from PIL import Image


def _shipped_model() -> str:
    """The first shipped network `models --json` lists (models/ ships three)."""
    result = cli("models", "--json")
    assert result.rc == 0, result.err
    names = [m["name"] for m in json.loads(result.out)["models"]]
    assert names, "models --json lists no shipped network"
    return names[0]


def _bad_inputs(user: Path) -> dict[str, tuple[Path, str]]:
    """{kind: (path, a word the refusal must contain)}."""
    (user / "bad_text.png").write_text("not a picture\n")
    pixels = np.full((32, 32), 0.5, np.float32)
    pixels[1, 1] = np.nan
    Image.fromarray(pixels, "F").save(user / "bad_nan.tif")
    (user / "bad_text.wav").write_text("not a sound\n")
    return {
        "text": (user / "bad_text.png", "bad_text.png"),
        "nan_tiff": (user / "bad_nan.tif", "bad_nan.tif"),
        "missing": (user / "bad_missing.png", "bad_missing.png"),
    }


def _sound(path: Path, seconds: float = 0.5, rate: int = 8000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(samples.tobytes())
    return path


def _argv(command: str, user: Path, tmp_path: Path, bad: Path | None = None, out: Path | None = None) -> list:
    """The command with one bad input (`bad`) or one bad output place (`out`), everything else good."""
    content, style = user / "content.png", user / "style.png"
    out = out or tmp_path / "out" / "result"
    if command == "apply":
        return ["apply", _shipped_model(), bad or content, "-o", out if bad is None else tmp_path / "out" / "a.png"]
    if command == "universal":  # its -o is a picture file
        return ["universal", bad or content, style, "-o", out if bad is None else tmp_path / "out" / "u.png"]
    if command == "train":
        photos = tmp_path.parent / f"{tmp_path.name}_photos"  # outside the hashed folders: made on demand
        if not photos.exists():
            for i in range(3):
                picture(photos / f"p{i}.png", 40, 40, seed=10 + i)
        return [
            "train",
            bad or style,
            "--data",
            photos,
            "-o",
            out,
            "--steps",
            "1",
            "--batch",
            "2",
            "--weights",
            "random",
        ]
    if command == "score":
        return ["score", bad or content, "--content", content, "--style", style]  # a fixed evaluator
    if command == "audio":
        a, b = _sound(user / "a.wav"), _sound(user / "b.wav")
        return ["audio", bad or a, b, "-o", out]
    raise AssertionError(command)


PICTURE_COMMANDS = ["apply", "universal", "train", "score"]


@pytest.mark.parametrize("kind", ["text", "nan_tiff", "missing"])
@pytest.mark.parametrize("command", PICTURE_COMMANDS)
def test_bad_picture_on_other_commands(tmp_path, command, kind):
    user = user_folder(tmp_path)
    bad, word = _bad_inputs(user)[kind]
    before = snapshot(tmp_path)
    assert_one_line(cli(*_argv(command, user, tmp_path, bad=bad)), 2, word)
    assert_unchanged(before, tmp_path)


@pytest.mark.parametrize("command", [*PICTURE_COMMANDS, "audio"])
def test_fifo_input_on_other_commands_never_blocks(tmp_path, command):
    user = user_folder(tmp_path)
    argv = _argv(command, user, tmp_path, bad=user / "pipe.png")  # made first, so the sound files exist
    os.mkfifo(user / "pipe.png")
    before = snapshot(tmp_path)
    assert_one_line(cli_subprocess(*argv, timeout=240), 2, "pipe")
    assert_unchanged(before, tmp_path)


@pytest.mark.parametrize("place", ["under_a_plain_file", "in_proc"])
@pytest.mark.parametrize("command", ["apply", "universal", "train", "audio"])
def test_unwritable_output_on_other_commands(tmp_path, command, place):
    user = user_folder(tmp_path)
    (user / "thesis.txt").write_text("mine\n")
    out = {"under_a_plain_file": user / "thesis.txt" / "out", "in_proc": Path("/proc/nst_tf_out")}[place]
    argv = _argv(command, user, tmp_path, out=out)
    before = snapshot(tmp_path)
    word = "thesis.txt" if place == "under_a_plain_file" else "/proc"
    assert_one_line(cli(*argv), 2, word)
    assert_unchanged(before, tmp_path)


@pytest.mark.parametrize("data", ["plain_file", "empty_folder", "fifo", "missing"])
def test_bad_training_data(tmp_path, data):
    user = user_folder(tmp_path)
    path = user / "data"
    if data == "plain_file":
        path.write_text("photos\n")
    elif data == "empty_folder":
        path.mkdir()
    elif data == "fifo":
        os.mkfifo(path)
    argv = ["train", user / "style.png", "--data", path, "-o", tmp_path / "out" / "m", "--steps", "1",
            "--weights", "random"]  # fmt: skip
    before = snapshot(tmp_path)
    assert_one_line(cli_subprocess(*argv, timeout=240), 2, "data")
    assert_unchanged(before, tmp_path)
