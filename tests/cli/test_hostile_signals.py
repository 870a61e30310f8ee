"""Interruptions: SIGTERM is handled like Ctrl-C (exit status 143 rather than 130), the run folder is left
resumable with config.json saying "interrupted", one line on stderr says where things are, and a second
Ctrl-C while the first is being handled never claims "nothing was written" when something was. These
need real signals, so each case runs the command in a child process (slow on 2 cores)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from hostile import ROOT, Result, assert_one_line, user_folder

pytestmark = pytest.mark.slow


def _start_long_run(tmp_path):
    user = user_folder(tmp_path)
    argv = [
        sys.executable, "-m", "nst_tf", "run", user / "content.png", user / "style.png", "-o", tmp_path / "out",
        "--name", "long", "--weights", "random", "--iterations", "100000", "--image-size", "32",
        "--optimizer", "adam", "--snapshot-every", "2", "-q", "--no-tb", "--seed", "1",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(list(map(str, argv)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    run = tmp_path / "out" / "long"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # wait until a few steps are written
        metrics = run / "metrics.csv"
        if metrics.is_file() and len(metrics.read_text().splitlines()) >= 5:
            return child, run
        if child.poll() is not None:
            break
        time.sleep(0.2)
    child.kill()
    out, err = child.communicate()
    pytest.fail(f"the run did not get going: exit {child.returncode}, {err[-500:]}")


def _finish(child) -> Result:
    try:
        out, err = child.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        pytest.fail("the run did not stop after the signal")
    return Result(child.returncode, out, err)


# SIGTERM only: Ctrl-C's 130 is covered by the second-Ctrl-C case below and by tests/cli/test_run_safety.py;
# each case here costs a TensorFlow start in a child process.
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143)], ids=["SIGTERM"])
def test_a_signal_stops_the_run_resumably(tmp_path, signum, status):
    child, run = _start_long_run(tmp_path)
    child.send_signal(signum)
    result = _finish(child)
    line = assert_one_line(result, status)
    assert str(run) in line or run.name in line, line
    record = json.loads((run / "config.json").read_text())
    assert record["status"] == "interrupted", record["status"]
    assert list((run / "snapshots").glob("iter_*.png")), "no snapshot kept"
    rows = (run / "metrics.csv").read_text().splitlines()
    assert len(rows) >= 5 and all(row.strip() for row in rows)


def test_a_second_ctrl_c_is_honest(tmp_path):
    child, run = _start_long_run(tmp_path)
    child.send_signal(signal.SIGINT)
    time.sleep(0.3)  # inside the first interruption's clean-up (plots, report)
    if child.poll() is None:
        child.send_signal(signal.SIGINT)
    result = _finish(child)
    assert "Traceback" not in result.err, result.err
    assert result.rc == 130, result.err
    assert len([line for line in result.err.splitlines() if line.strip()]) <= 2, result.err
    if "nothing was written" in result.err:
        assert not run.exists(), f"says nothing was written, but {sorted(p.name for p in run.iterdir())} exist"
    assert (run / "metrics.csv").is_file()


def test_sigterm_before_the_run_starts_leaves_nothing(tmp_path):
    """Terminated while TensorFlow is still loading: exit 143 (or killed by the signal), no result. The run
    asks for 10^6 steps, so finishing first is impossible and exit 0 is a failure on any machine."""
    user = user_folder(tmp_path)
    argv = [sys.executable, "-m", "nst_tf", "run", user / "content.png", user / "style.png", "-o", tmp_path / "out",
            "--weights", "random", "--iterations", "1000000", "--image-size", "32", "-q", "--no-tb"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(list(map(str, argv)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(1.0)
    child.send_signal(signal.SIGTERM)
    result = _finish(child)
    assert "Traceback" not in result.err, result.err
    # 143: nst_tf's handler turned it into an interruption; -SIGTERM: it came before the handler was set.
    assert result.rc in (143, -signal.SIGTERM), result.err
    assert not any((tmp_path / "out").rglob("generated.png"))
    for record in (tmp_path / "out").rglob("config.json"):  # a folder made before the signal says so
        assert json.loads(record.read_text())["status"] == "interrupted", record.read_text()
