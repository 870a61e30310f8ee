"""The bench command: FLOPs counted by hand, and well-formed JSON from a tiny run."""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics

from conftest import IMAGES

from nst_tf.cli import bench as bench_cli
from nst_tf.perf import bench
from nst_tf.presets import DEFAULT


def test_flops_of_one_layer_match_a_hand_count():
    config = DEFAULT.replace(content_layer="conv1_1", style_layers=(("conv1_1", 1.0),))
    flops = bench.step_flops(config, 32, 32)
    conv = 2 * 32 * 32 * 9 * 3 * 64  # 2·H·W·K²·C_in·C_out = 3 538 944
    gram = 2 * 2 * (32 * 32) * 64**2  # G = AᵀA and its gradient 2·A·dG: 2·n·C² each
    assert flops == {"conv_forward": conv, "conv_backward": conv, "gram": gram, "total": 23_855_104}


def test_flops_through_a_pooling_stop_at_the_deepest_layer():
    config = DEFAULT.replace(content_layer="conv2_1", style_layers=(("conv1_1", 0.5), ("conv2_1", 0.5)))
    flops = bench.step_flops(config, 16, 20)
    forward = 2 * 320 * 9 * (3 * 64 + 64 * 64) + 2 * 80 * 9 * 64 * 128  # conv1_1, conv1_2 at 16x20; conv2_1 at 8x10
    gram = 4 * 320 * 64**2 + 4 * 80 * 128**2
    assert flops["total"] == 2 * forward + gram == 83_476_480
    assert bench.step_flops(config.replace(style_weight=0.0), 16, 20)["gram"] == 0


def _bench_args(out):
    parser = argparse.ArgumentParser()
    bench_cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(
        [
            "bench",
            "--image-size",
            "32",
            "--iterations",
            "2",
            "--warmup",
            "1",
            "--weights",
            "random",
            "--optimizer",
            "adam",
        ]
        + ["--json", str(out)]
    )


def _run_bench(out, monkeypatch) -> dict:
    args = _bench_args(out)
    args.content, args.style = str(IMAGES / "chelsea.png"), str(IMAGES / "ihc.png")
    monkeypatch.setattr(bench, "MATMUL_SIZES", (128, 256))  # the real probes (2048-4096) take seconds each
    monkeypatch.setattr(bench, "CONV_PEAK_SHAPE", (16, 16, 64, 64))
    assert bench_cli.command(args) == 0
    return json.loads(out.read_text())


def test_bench_writes_well_formed_json(tmp_path, capsys, monkeypatch):
    out = tmp_path / "bench.json"
    result = _run_bench(out, monkeypatch)
    for key in (
        "seconds_per_iteration",
        "gflop_per_iteration",
        "achieved_gflops",
        "matmul_peak_gflops",
        "fraction_of_peak",
        "conv_peak_gflops",
        "fraction_of_conv_peak",
        "peak_rss_mb",
    ):
        assert isinstance(result[key], float) and math.isfinite(result[key]) and result[key] > 0, key
    assert result["image"] == {"height": 21, "width": 32}  # chelsea.png is 451x300
    assert result["device"].startswith(("CPU", "GPU"))
    assert len(result["iteration_seconds"]) == 2 and result["evaluations_per_iteration"] == 1.0
    assert result["seconds_per_evaluation"] == result["seconds_per_iteration"]  # Adam: one evaluation each
    flops = bench.step_flops(DEFAULT, 21, 32, result["config"]["architecture"])
    assert math.isclose(result["gflop_per_iteration"], flops["total"] / 1e9)
    assert math.isclose(result["achieved_gflops"], result["gflop_per_iteration"] / result["seconds_per_iteration"])
    assert math.isclose(result["fraction_of_conv_peak"], result["achieved_gflops"] / result["conv_peak_gflops"])
    assert result["peak_precision"] == result["config"]["precision"] == "float32"  # NST_TF_PRECISION (conftest)
    assert result["precision_decision"]["requested"] == "auto"
    assert math.isclose(result["fraction_of_peak"], result["achieved_gflops"] / result["matmul_peak_gflops"])
    assert result["seconds_per_iteration"] == statistics.median(result["iteration_seconds"])
    # ru_maxrss of this very process, which has TensorFlow loaded (hundreds of MB) and cannot exceed the machine.
    rss_now = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    assert 100 < result["peak_rss_mb"] <= rss_now
    assert capsys.readouterr().out.startswith("bench 32x21 adam float32 xla off:")


def test_a_bfloat16_bench_is_held_against_the_bfloat16_peaks(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NST_TF_PRECISION", "bfloat16")  # what "auto" picks on a machine with AMX
    result = _run_bench(tmp_path / "bench.json", monkeypatch)
    assert result["peak_precision"] == result["config"]["precision"] == "bfloat16"
    assert len(result["conv_gflops_next_to_steps"]) == 2 and result["conv_peak_gflops"] > 0
    assert "GFLOP/s bfloat16 matmul peak" in capsys.readouterr().out
