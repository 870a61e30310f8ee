"""`python -m nst_tf video`: a clip made here through a shipped network (frame count, rate, size, sound kept),
and hostile input (not a video, a FIFO, zero frames, an unwritable or existing output): one line on stderr,
exit status 2, nothing written."""

from __future__ import annotations

import json
import os

import pytest
from hostile import ROOT, assert_one_line, cli, cli_subprocess, snapshot
from test_video import make_clip, make_wav, not_videos

from nst_tf.video import io as vio


@pytest.fixture
def clip(tmp_path):
    """tmp_path/user/in.mp4: 6 frames of 64x48 at 5 fps with a sine's sound."""
    user = tmp_path / "user"
    user.mkdir()
    make_clip(user / "in.mp4", 6, fps=5.0, audio=make_wav(tmp_path / "a.wav", seconds=2.0))
    return user / "in.mp4"


def test_video_with_a_shipped_network_keeps_frames_rate_size_and_sound(clip, tmp_path):
    out = tmp_path / "out" / "styled.mp4"
    out.parent.mkdir()
    result = cli("video", clip, "-o", out, "--model", "starry_night", "--json")
    assert result.rc == 0, result.err
    summary = json.loads(result.out)
    assert (summary["frames"], summary["width"], summary["height"], summary["temporal"]) == (6, 64, 48, True)
    info = vio.probe(out)
    assert (info.fps, info.width, info.height, info.audio_codec) == (5.0, 64, 48, "aac")
    frames = list(vio.read_frames(out))
    assert len(frames) == 6
    source = next(vio.read_frames(clip))
    assert abs(frames[0] - source).mean() > 0.05  # stylized, not the input passed through
    assert [p.name for p in out.parent.iterdir()] == ["styled.mp4"]  # no temporary file left
    assert summary["precision_decision"]["precision"] == "float32"  # "auto" under NST_TF_PRECISION (conftest)
    again = cli("video", clip, "-o", out, "--model", "starry_night", "--frames", "2", "--no-temporal", "--overwrite")
    assert again.rc == 0 and len(list(vio.read_frames(out))) == 2
    half = tmp_path / "out" / "bf16.mp4"
    argv = ["--model", "starry_night", "--frames", "2", "--precision", "bfloat16", "--json"]
    bf16 = cli("video", clip, "-o", half, *argv)
    assert bf16.rc == 0 and json.loads(bf16.out)["precision_decision"]["precision"] == "bfloat16"
    # bfloat16 convolutions (8 significant bits) move the pictures a little, not to another picture
    assert 0 < abs(next(vio.read_frames(half)) - next(vio.read_frames(out))).mean() < 0.03


@pytest.mark.parametrize("case", ["text.mp4", "empty.mp4", "sound.m4a", "zero.mkv", "missing.mp4"])
def test_what_is_not_a_video_is_refused(tmp_path, case):
    user = tmp_path / "user"
    user.mkdir()
    not_videos(user)
    before = snapshot(tmp_path)
    result = cli("video", user / case, "-o", tmp_path / "out.mp4", "--model", "starry_night")
    assert_one_line(result, 2, case)
    assert snapshot(tmp_path) == before


def test_a_still_picture_is_refused_before_a_model_loads_and_a_one_frame_clip_is_made(tmp_path, monkeypatch):
    from PIL import Image

    from nst_tf.video import session

    user = tmp_path / "user"
    user.mkdir()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(user / "picture.png")
    make_clip(user / "one.mp4", 1, fps=5.0)
    before = snapshot(tmp_path)
    loaded = []
    monkeypatch.setattr(session, "load_route", lambda *args, **kwargs: loaded.append(args) or 1 / 0)
    result = cli("video", user / "picture.png", "-o", tmp_path / "out.mp4", "--model", "starry_night")
    assert_one_line(result, 2, "picture.png: a still picture, not a clip")
    assert snapshot(tmp_path) == before and loaded == []  # refused before the route (the model) was loaded
    monkeypatch.undo()
    made = cli("video", user / "one.mp4", "-o", tmp_path / "one.mp4", "--model", "starry_night", "--json")
    assert made.rc == 0, made.err
    assert json.loads(made.out)["frames"] == 1 and len(list(vio.read_frames(tmp_path / "one.mp4"))) == 1


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    result = cli_subprocess("video", fifo, "-o", tmp_path / "out.mp4", "--model", "starry_night", timeout=60)
    assert_one_line(result, 2, "not a regular file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.mp4"]


def test_outputs_it_may_not_write_are_refused(clip, tmp_path):
    mine = tmp_path / "mine.mp4"
    mine.write_bytes(b"the user's clip")
    (tmp_path / "notes.txt").write_text("notes")
    before = snapshot(tmp_path)
    cases = [
        (mine, "exists"),  # no --overwrite
        (tmp_path / "notes.txt" / "out.mp4", "no folder"),  # a file as the folder
        (tmp_path / "out.gif", "video file name"),  # not a container we write
        ("/proc/nst_tf_video_test.mp4", "cannot write"),  # a file system that takes no new files
    ]
    for output, words in cases:
        assert_one_line(cli("video", clip, "-o", output, "--model", "starry_night"), 2, words)
    copy = tmp_path / "clip.mp4"
    copy.write_bytes(clip.read_bytes())
    before = snapshot(tmp_path)
    assert_one_line(cli("video", copy, "-o", copy, "--model", "starry_night", "--overwrite"), 2, "is the input")
    assert snapshot(tmp_path) == before


def test_bad_options_are_refused_before_anything(clip, tmp_path):
    before = snapshot(tmp_path)
    out = tmp_path / "out.mp4"
    for extra, words in (
        (["--model", "no_such_model"], "no_such_model"),
        (["--style", str(tmp_path / "none.png")], "none.png"),
        (["--model", "starry_night", "--temporal-weight", "1"], "temporal-weight"),
        (["--model", "starry_night", "--frames", "0"], "frames"),
        (["--optimise", str(clip), "--temporal-cost", "-1"], "temporal-cost"),
        (["--model", "starry_night", "--precision", "float8"], "float8"),
        (["--model", "starry_night", "--quality", "11"], "quality"),
        (["--model", "starry_night", "--max-memory", "0"], "max-memory"),
        (["--style", str(clip), "--max-memory", "abc"], "max-memory"),
        (["--model", "starry_night", "--max-memory", "10K"], "a 64x48 frame needs a memory budget of at least"),
        # whole frames only (the temporal cost has no tiled step); the weights' fallback line is held back
        (["--optimise", str(ROOT / "images" / "ihc.png"), "--max-memory", "10K"], "256x192 frames need about"),
    ):
        assert_one_line(cli("video", clip, "-o", out, *extra), 2, words)
    assert snapshot(tmp_path) == before


def test_a_run_folder_keeps_the_record_the_measure_and_a_preview(clip, tmp_path):
    run, out = tmp_path / "run", tmp_path / "out.mp4"
    argv = ["--model", "starry_night", "--frames", "3", "--run-dir", run, "--json"]
    result = cli("video", clip, "-o", out, *argv)
    assert result.rc == 0, result.err
    summary = json.loads(result.out)
    record = json.loads((run / "config.json").read_text())
    assert sorted(p.name for p in run.iterdir()) == [".nst_tf-run", "config.json", "preview.png"]
    assert record["status"] == "finished" and record["route"]["model"] == "starry_night"
    assert record["settings"]["frames"] == 3 and record["input"]["width"] == 64 and record["input"]["fps"] == 5.0
    assert record["summary"]["precision_decision"]["precision"] == "float32"
    measure = record["measure"]
    assert measure["pairs"] == 2 and measure["warping_error"] == summary["warping_error"] > 0
    assert measure["input_warping_error"] < measure["warping_error"]  # stylized strokes sit above the floor
    from nst_tf.io.images import load_image

    assert load_image(run / "preview.png").shape == (1, 2 * 144, 3 * 192, 3)  # 3 frames: input row, result row
    again = cli("video", clip, "-o", out, *argv, "--overwrite", "--no-temporal")  # its own folder: replaced
    assert again.rc == 0 and json.loads((run / "config.json").read_text())["settings"]["no_temporal"] is True


def test_run_folders_it_may_not_use_are_refused(clip, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's")
    (tmp_path / "file").write_text("a file")
    before = snapshot(tmp_path)
    out = tmp_path / "out.mp4"
    for run_dir, extra, words in (
        (mine, [], "already exists"),
        (mine, ["--overwrite"], "not an nst_tf run folder"),
        (tmp_path / "file", ["--overwrite"], "not a folder"),
        (tmp_path / "file" / "run", [], "run"),  # a file as the parent
        (tmp_path, [], "holds the output"),  # replacing it would remove the clip
        ("/proc/nst_tf_video_run", [], "run"),
    ):
        assert_one_line(cli("video", clip, "-o", out, "--model", "starry_night", "--run-dir", run_dir, *extra), 2,
                        words)  # fmt: skip
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(("signum", "status"), [(2, 130), (15, 143)])  # SIGINT (Ctrl-C), SIGTERM
def test_a_signal_leaves_a_playable_partial_clip(tmp_path, signum, status):
    import signal
    import subprocess
    import sys
    import time

    make_clip(tmp_path / "long.mp4", 150, fps=25.0, pan=(0.5, 0.25))
    out = tmp_path / "out"
    out.mkdir()
    argv = [sys.executable, "-m", "nst_tf", "video", tmp_path / "long.mp4", "-o", out / "styled.mp4"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [*map(str, argv), "--model", "starry_night"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    deadline = time.monotonic() + 120
    # the temporary clip appears as the stream starts (empty); ffmpeg writes into it once frames have come
    while time.monotonic() < deadline and child.poll() is None and not any(p.stat().st_size for p in out.iterdir()):
        time.sleep(0.05)
    child.send_signal(signal.Signals(signum))
    _, err = child.communicate(timeout=60)
    assert child.returncode == status and err.strip().splitlines() == ["nst_tf: interrupted"], err
    assert [p.name for p in out.iterdir()] == ["styled.mp4"]
    frames = len(list(vio.read_frames(out / "styled.mp4")))
    assert 1 <= frames < 150


def test_max_memory_plans_tiles_says_so_and_keeps_the_clip(tmp_path):
    """A budget 1 MiB below what whole frames need (the tool's own estimate, in a plain run's --json): the
    frames run in tiles, one line says so, config.json keeps it, and the clip is the whole frames' clip. With
    no flag the frames are whole and nothing more is said."""
    import numpy as np

    from nst_tf.perf.tiling import HEADROOM

    clip = tmp_path / "in.mp4"
    make_clip(clip, 3, fps=5.0, size=(120, 160))
    argv = ["--model", "starry_night", "--json"]
    default = cli("video", clip, "-o", tmp_path / "whole.mp4", *argv)
    assert default.rc == 0 and "video frames" not in default.err
    whole = json.loads(default.out)["memory_plan"]
    assert whole["tile"] is None and "in one piece" in whole["line"]
    budget = str(int(whole["estimate_bytes"] / HEADROOM) - 2**20)
    tiled = cli("video", clip, "-o", tmp_path / "tiled.mp4", *argv, "--max-memory", budget, "--run-dir", tmp_path / "r")
    assert tiled.rc == 0, tiled.err
    plan = json.loads(tiled.out)["memory_plan"]
    assert plan["tile"] is not None and f"tiles of {plan['tile']} px" in plan["line"]
    assert [line for line in tiled.err.splitlines() if "video frames" in line] == [f"nst_tf: {plan['line']}"]
    assert json.loads((tmp_path / "r" / "config.json").read_text())["summary"]["memory_plan"] == plan
    got, expected = list(vio.read_frames(tmp_path / "tiled.mp4")), list(vio.read_frames(tmp_path / "whole.mp4"))
    assert len(got) == len(expected) == 3
    for a, b in zip(got, expected, strict=True):  # through H.264 at CRF 10 (each ~50 dB from its frames)
        assert 10 * np.log10(1 / max(float(np.mean((a - b) ** 2)), 1e-20)) >= 40
