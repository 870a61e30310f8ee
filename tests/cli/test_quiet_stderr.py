"""`apply`, `universal`, `score` and `audio` keep TensorFlow's native lines (cuInit, CUDA, absl, oneDNN) off stderr.

TensorFlow writes them to file descriptor 2 before any Python log level applies, so the check runs the real
command line in a child process, with the environment a user has (no TF_CPP_MIN_LOG_LEVEL, no NST_TF_DEBUG).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import wavfile

ROOT = Path(__file__).resolve().parents[2]
NATIVE_MARKERS = ("cuinit", "cuda", "absl", "e0000 ", "i0000 ", "w0000 ", "onednn")


def _picture(path: Path, size: tuple[int, int], seed: int) -> Path:
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def _nst(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "NST_TF_DEBUG", "NST_TF_MODELS")}
    env["PYTHONPATH"] = str(ROOT)
    cmd = [sys.executable, "-m", "nst_tf", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def _nst_script(script: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "NST_TF_DEBUG", "NST_TF_MODELS")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, timeout=600)


def _assert_quiet(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stderr
    native = [line for line in result.stderr.splitlines() if any(m in line.lower() for m in NATIVE_MARKERS)]
    assert not native, native


@pytest.mark.skipif(not (ROOT / "nst_tf" / "models" / "starry_night").is_dir(), reason="no shipped model")
def test_apply_stderr_has_no_native_lines(tmp_path):
    photo = _picture(tmp_path / "photo.png", (32, 48), seed=0)
    result = _nst("apply", "starry_night", str(photo), "-o", str(tmp_path / "out.png"))
    _assert_quiet(result)
    assert (tmp_path / "out.png").is_file()


@pytest.mark.skipif(not (ROOT / "nst_tf" / "models" / "universal").is_dir(), reason="no shipped decoders")
def test_universal_stderr_has_no_native_lines(tmp_path):
    content = _picture(tmp_path / "content.png", (32, 48), seed=1)
    style = _picture(tmp_path / "style.png", (40, 40), seed=2)
    result = _nst("universal", str(content), str(style), "--image-size", "48", "-o", str(tmp_path / "out.png"))
    _assert_quiet(result)
    assert (tmp_path / "out.png").is_file()


# `score` then `audio` in one child process (one TensorFlow start-up for both, to keep the test cheap): score's
# import of TensorFlow must be the quiet one, and audio's TensorBoard sound summary is TensorFlow's first string
# op, which writes an "E0000 ... oneDNN supports DT_STRING only ..." line on fd 2 once per process.
BOTH = """
import sys
from nst_tf.cli.main import main
for argv in (sys.argv[1:7], sys.argv[7:]):  # score and its five arguments, then audio
    status = main(argv)
    if status:
        sys.exit(status)
"""


def test_score_and_audio_stderr_have_no_native_lines(tmp_path):
    result, content, style = (_picture(tmp_path / f"{n}.png", (32, 48), seed=s) for s, n in enumerate("rcs"))
    rate = 16000
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(rate // 2) / rate)).astype(np.float32)
    wavfile.write(tmp_path / "tone.wav", rate, tone)
    score = ["score", str(result), "--content", str(content), "--style", str(style)]
    audio = ["audio", str(tmp_path / "tone.wav"), "--mode", "texture", "--duration", "0.5", "--iterations", "1"]
    audio += ["--filters", "8", "--griffin-lim-iterations", "1", "-o", str(tmp_path / "sound")]
    completed = _nst_script(BOTH, *score, *audio)
    _assert_quiet(completed)
    assert "content distance" in completed.stdout
    assert (tmp_path / "sound" / "result.wav").is_file()
    assert list((tmp_path / "sound" / "tb").rglob("events.out.tfevents*"))  # the summary that used to speak ran
