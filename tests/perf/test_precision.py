"""The precision policy (nst_tf.perf.precision): the threshold, names and NST_TF_PRECISION passing through,
the per-machine cache (reused, rewritten when corrupt, never trusted blindly), the real probe's figures,
and a run's config.json recording what "auto" resolved to. Every test sets or clears the environment
itself, so the outcome is the same on machines with and without AMX."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nst_tf.config import Config
from nst_tf.errors import ConfigError
from nst_tf.perf import precision

ROOT = Path(__file__).resolve().parents[2]


def _fake_probe(speedup: float, calls: list):
    def probe(tf_device: str, identity: str) -> precision.Decision:
        calls.append(tf_device)
        figures = {"conv_float32": 100.0, "conv_bfloat16": 100.0 * speedup, "matmul_float32": 1.0, "matmul_bfloat16": 2}
        return precision.Decision(precision.decide(speedup), "auto", "probe", identity, speedup, 2.0, figures)

    return probe


def _no_probe(*args):
    raise AssertionError("the probe ran")


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    """An empty cache folder of the test's own, and no NST_TF_PRECISION: "auto" probes or reads the cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(precision.ENV_VAR, raising=False)
    return tmp_path / "cache" / "nst_tf" / "precision.json"


def test_bfloat16_only_from_the_threshold_up():
    assert precision.decide(precision.BFLOAT16_MIN_SPEEDUP) == "bfloat16"
    assert precision.decide(precision.BFLOAT16_MIN_SPEEDUP - 0.01) == "float32"
    assert precision.decide(0.15) == "float32"  # AVX-512 bf16 without AMX: ~7x slower
    assert precision.decide(float("nan")) == "float32" and precision.decide(None) == "float32"


def test_names_and_the_environment_decide_without_probing(cache_home, monkeypatch):
    monkeypatch.setattr(precision, "probe", _no_probe)
    assert precision.resolve_precision("bfloat16") == precision.Decision("bfloat16", "bfloat16", "explicit")
    monkeypatch.setenv(precision.ENV_VAR, "bfloat16")
    forced = precision.resolve_precision("auto")
    assert (forced.precision, forced.source, forced.measured) == ("bfloat16", "environment", False)
    assert precision.resolve_precision("float32").precision == "float32"  # a name beats the environment
    monkeypatch.setenv(precision.ENV_VAR, "float16")
    with pytest.raises(ConfigError, match="NST_TF_PRECISION"):
        precision.resolve_precision("auto")
    with pytest.raises(ConfigError, match="unknown precision"):
        precision.resolve_precision("fp8")
    assert not cache_home.exists()


def test_the_probe_runs_once_per_machine_then_the_cache_answers(cache_home, monkeypatch):
    calls: list = []
    monkeypatch.setattr(precision, "probe", _fake_probe(3.0, calls))
    first = precision.resolve_precision("auto", "cpu")
    assert (first.precision, first.source, calls) == ("bfloat16", "probe", ["/CPU:0"])
    assert "at 3.0x float32's speed" in first.line() and first.line().startswith("precision: bfloat16 (probe")
    monkeypatch.setattr(precision, "probe", _no_probe)
    second = precision.resolve_precision("auto", "cpu")
    assert (second.precision, second.source, second.conv_speedup) == ("bfloat16", "cache", 3.0)
    assert second.gflops == first.gflops
    stored = json.loads(cache_home.read_text())
    assert stored["format"] == precision.CACHE_FORMAT and len(stored["entries"]) == 1


def test_another_tensorflow_version_probes_again(cache_home, monkeypatch):
    import tensorflow as tf

    calls: list = []
    monkeypatch.setattr(precision, "probe", _fake_probe(3.0, calls))
    precision.resolve_precision("auto", "cpu")
    monkeypatch.setattr(tf, "__version__", "9.99.0")
    precision.resolve_precision("auto", "cpu")
    assert len(calls) == 2 and len(json.loads(cache_home.read_text())["entries"]) == 2


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        json.dumps([1, 2]),
        json.dumps({"format": 99, "entries": {}}),
        "HAND-EDITED",  # a decision that does not follow from its own figures
    ],
    ids=["garbage", "not-a-dict", "other-format", "hand-edited"],
)
def test_a_cache_that_does_not_check_out_is_ignored_and_rewritten(cache_home, monkeypatch, content):
    calls: list = []
    monkeypatch.setattr(precision, "probe", _fake_probe(0.2, calls))
    if content == "HAND-EDITED":
        precision.resolve_precision("auto", "cpu")  # float32, from 0.2x
        stored = json.loads(cache_home.read_text())
        (entry,) = stored["entries"].values()
        entry["precision"] = "bfloat16"
        content = json.dumps(stored)
        calls.clear()
    cache_home.parent.mkdir(parents=True, exist_ok=True)
    cache_home.write_text(content)
    decision = precision.resolve_precision("auto", "cpu")
    assert (decision.precision, decision.source, len(calls)) == ("float32", "probe", 1)
    (entry,) = json.loads(cache_home.read_text())["entries"].values()
    assert entry["precision"] == "float32" and entry["conv_speedup"] == 0.2


def test_a_cache_that_cannot_be_written_costs_only_the_probe(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.delenv(precision.ENV_VAR, raising=False)
    monkeypatch.setattr(precision, "probe", _fake_probe(4.0, []))
    assert precision.resolve_precision("auto", "cpu").precision == "bfloat16"
    assert blocker.read_text() == "not a folder"


def test_the_twin_and_squeezenet_resolve_auto_to_float32_without_probing(cache_home, monkeypatch):
    monkeypatch.setattr(precision, "probe", _no_probe)
    config, decision = precision.resolve_config(Config(), backend="torch")
    assert (config.precision, decision.source) == ("float32", "backend")
    config, decision = precision.resolve_config(Config(), architecture="squeezenet1_1")
    assert (config.precision, decision.source) == ("float32", "network")


def test_the_real_probe_measures_both_precisions_and_decides_by_its_threshold():
    decision = precision.probe("/CPU:0", "CPU under test")
    if decision.conv_speedup is None:  # a CPU without bfloat16 kernels: the probe's failure is float32
        assert decision.precision == "float32"
        return
    figures = decision.gflops
    assert set(figures) == {"conv_float32", "conv_bfloat16", "matmul_float32", "matmul_bfloat16"}
    assert all(math.isfinite(v) and v > 0 for v in figures.values())
    assert decision.conv_speedup == pytest.approx(figures["conv_bfloat16"] / figures["conv_float32"], rel=1e-3)
    assert decision.precision == precision.decide(decision.conv_speedup)


def test_cpu_description_names_the_bfloat16_flags():
    text = precision.cpu_description()
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    assert ("amx_bf16" in text) == (" amx_bf16" in flags)


def test_a_run_records_what_auto_resolved_to(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), precision.ENV_VAR: "bfloat16", "NST_TF_OFFLINE": "1"}
    picture = ROOT / "images" / "chelsea.png"
    command = [sys.executable, "-m", "nst_tf", "run", str(picture), str(picture), "-o", str(tmp_path), "--name", "r"]
    command += ["--weights", "random", "--iterations", "1", "--image-size", "32", "--no-tb", "-q"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "r" / "config.json").read_text())
    assert record["config"]["precision"] == "bfloat16"
    decision = record["precision_decision"]
    assert decision["requested"] == "auto" and decision["source"] == "environment"


def test_a_device_without_bfloat16_kernels_gets_float32_and_no_cache_entry(cache_home, monkeypatch):
    def no_bfloat16(tf_device):
        raise RuntimeError("no bfloat16 Conv2D kernel registered")

    monkeypatch.setattr(precision, "_measure", no_bfloat16)
    decision = precision.resolve_precision("auto", "cpu")
    assert (decision.precision, decision.conv_speedup) == ("float32", None)
    assert "no bfloat16 convolution ran" in decision.line()
    assert not cache_home.exists()  # the next run tries again
