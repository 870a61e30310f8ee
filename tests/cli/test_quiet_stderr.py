"""`apply` and `universal` keep TensorFlow's native start-up lines (cuInit, CUDA probing, absl) off stderr.

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
