"""The command line end to end: the run folder, overwrite rules, bad input, Ctrl-C."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import IMAGES, ROOT
from PIL import Image

from nst_tf.cli import main as cli
from nst_tf.cli import settings
from nst_tf.cli.settings import config_from_args

CONTENT = str(IMAGES / "chelsea.png")
STYLE = str(IMAGES / "ihc.png")
FAST = ["--image-size", "32", "--iterations", "3", "--snapshot-every", "1"]


def run_cli(args, capsys):
    code = cli.main(["run", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_run_writes_a_complete_consistent_folder(tmp_path, capsys):
    code, out, err = run_cli([CONTENT, STYLE, "-o", str(tmp_path), "--name", "r", "--seed", "1", *FAST], capsys)
    assert code == 0, err
    run = tmp_path / "r"
    assert sorted(p.name for p in (run / "snapshots").iterdir()) == [
        "iter_00000.png",
        "iter_00001.png",
        "iter_00002.png",
    ]
    picture = Image.open(run / "generated.png")
    assert picture.size == (32, 21)  # chelsea is 451x300
    np.testing.assert_array_equal(np.asarray(picture), np.asarray(Image.open(run / "snapshots" / "iter_00002.png")))
    record = json.loads((run / "config.json").read_text())
    assert record["status"] == "complete" and record["iterations_done"] == 3
    assert record["weights"]["source"] == "imagenet-vgg16" and "auto:" in record["weights"]["note"]
    assert record["config"]["iterations"] == 3 and record["config"]["seed"] == 1
    assert record["versions"]["tensorflow"] and record["image_size"] == {"height": 21, "width": 32}
    with open(run / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["iteration"]) for r in rows] == [0, 1, 2]
    c = record["config"]
    for r in rows:  # the total is α·content + β·style + γ·tv of the same row
        expected = c["content_weight"] * float(r["content"]) + c["style_weight"] * float(r["style"])
        assert float(r["total"]) == pytest.approx(expected, rel=1e-5)
    assert float(rows[-1]["seconds"]) >= float(rows[0]["seconds"])
    assert record["final_costs"]["total"] == pytest.approx(float(rows[-1]["total"]), rel=1e-6)
    assert err.count("\n") == 1 and "imagenet-vgg16" in err  # the single fallback line
    assert "generated.png" in out


def test_max_memory_plans_the_run_and_says_so_in_one_line(tmp_path, capsys):
    """A budget the default L-BFGS run at 96 px does not fit (the runtime alone is 0.8 GiB of the estimate):
    the plan adds a coarser stage and runs by Adam, and says so; the record keeps the line."""
    args = [CONTENT, STYLE, "-o", str(tmp_path), "--name", "m", "--weights", "random", "--image-size", "96"]
    code, out, err = run_cli([*args, "--iterations", "2", "--max-memory", "1.11G"], capsys)
    assert code == 0, err
    # progress counts every stage's steps (each line printed at this size), not the finest stage's 2
    lines = [line for line in out.splitlines() if line.startswith("step ")]
    assert len(lines) > 2 and all(f"/{len(lines)} " in line for line in lines)
    plan = [line for line in err.splitlines() if line.startswith("nst_tf: run:")]
    assert len(plan) == 1 and "scales: " in plan[0] and "by adam" in plan[0] and "of a budget of 1.11 GiB" in plan[0]
    record = json.loads((tmp_path / "m" / "config.json").read_text())
    assert record["status"] == "complete" and record["memory_plan"] == plan[0].removeprefix("nst_tf: ")


def test_flags_override_the_preset(tmp_path, capsys):
    args = [CONTENT, STYLE, "-o", str(tmp_path), "--name", "o", *FAST, "--preset", "course", "--weights", "random"]
    args += ["--style-layers", "conv1_1,conv2_1", "--content-layer", "block3_conv1", "--learning-rate", "3"]
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    config = json.loads((tmp_path / "o" / "config.json").read_text())["config"]
    assert config["preset"] == "course" and config["pooling"] == "avg" and config["pixel_scale"] == 255.0
    assert config["style_layers"] == [["conv1_1", 0.5], ["conv2_1", 0.5]] and config["learning_rate"] == 3.0
    assert config["content_layer"] == "block3_conv1" and config["exact_size"] is None and config["image_size"] == 32


@pytest.mark.parametrize(
    "flags, expected",
    [
        ([], ("lbfgs", 100, 10)),
        (["--optimizer", "adam"], ("adam", 300, 50)),  # the default preset's Adam schedule
        (["--optimizer", "adam", "--iterations", "7"], ("adam", 7, 50)),
        (["--preset", "course"], ("adam", 200, 20)),  # the course recipes are Adam's
        (["--preset", "course-tf2"], ("adam", 2501, 250)),
        (["--preset", "course", "--optimizer", "lbfgs"], ("lbfgs", 200, 20)),  # other presets keep their counts
    ],
)
def test_the_optimizer_decides_the_default_presets_step_count(flags, expected):
    config = config_from_args(cli.build_parser().parse_args(["run", CONTENT, STYLE, *flags]))
    assert (config.optimizer, config.iterations, config.snapshot_every) == expected


@pytest.mark.slow
def test_existing_runs_are_never_overwritten_unasked(tmp_path, capsys):
    base = [CONTENT, STYLE, "-o", str(tmp_path), *FAST, "--weights", "random"]
    assert run_cli(base, capsys)[0] == 0
    assert run_cli(base, capsys)[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chelsea_ihc", "chelsea_ihc_2"]
    marker = tmp_path / "chelsea_ihc" / "keep.txt"
    marker.write_text("mine")
    code, _, err = run_cli([*base, "--name", "chelsea_ihc"], capsys)
    assert code == 2 and "--overwrite" in err and marker.exists()
    code, _, _ = run_cli([*base, "--name", "chelsea_ihc", "--overwrite"], capsys)
    assert code == 0 and not marker.exists() and (tmp_path / "chelsea_ihc" / "generated.png").exists()


def _bad_inputs(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("hello")
    data = (IMAGES / "chelsea.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "weights.h5").write_text("not weights")
    return {
        "missing content": [str(tmp_path / "nope.png"), STYLE],
        "empty style": [CONTENT, str(tmp_path / "empty.png")],
        "text as picture": [CONTENT, str(tmp_path / "text.jpg")],
        "truncated picture": [str(tmp_path / "truncated.png"), STYLE],
        "bad weights file": [CONTENT, STYLE, "--weights", str(tmp_path / "weights.h5")],
        "absent weights": [CONTENT, STYLE, "--weights", str(tmp_path / "absent.h5")],
        "negative iterations": [CONTENT, STYLE, "--iterations", "-1"],
        "zero size": [CONTENT, STYLE, "--image-size", "0"],
        "unknown content layer": [CONTENT, STYLE, "--content-layer", "conv9_1"],
        "layer not in vgg16": [CONTENT, STYLE, "--content-layer", "conv5_4", "--weights", "hed-vgg16"],
        "unknown style layer": [CONTENT, STYLE, "--style-layers", "conv1_1,pool3"],
        "nan weight": [CONTENT, STYLE, "--style-weight", "nan"],
        "course refuses fallback": [CONTENT, STYLE, "--preset", "course"],
        "missing init picture": [CONTENT, STYLE, "--init", str(tmp_path / "start.png")],
        "blend count": [CONTENT, STYLE, "--style-blend", "0.5,0.5"],
        "not a number": [CONTENT, STYLE, "--iterations", "many"],
        "unknown preset": [CONTENT, STYLE, "--preset", "fancy"],
        "memory not a size": [CONTENT, STYLE, "--max-memory", "lots"],
        "memory too small even in tiles": [CONTENT, STYLE, "--max-memory", "1G", "--weights", "random"],
        "memory absurdly small": [CONTENT, STYLE, "--max-memory", "10K", "--weights", "random"],
    }


BAD_CASES = [
    "missing content",
    "empty style",
    "text as picture",
    "truncated picture",
    "bad weights file",
    "absent weights",
    "negative iterations",
    "zero size",
    "unknown content layer",
    "layer not in vgg16",
    "unknown style layer",
    "nan weight",
    "course refuses fallback",
    "missing init picture",
    "blend count",
    "not a number",
    "unknown preset",
    "memory not a size",
    "memory too small even in tiles",
    "memory absurdly small",
]


@pytest.mark.parametrize("name", BAD_CASES)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, name):
    out_dir = tmp_path / "out"
    args = ["run", *_bad_inputs(tmp_path)[name], "-o", str(out_dir)]
    if "--iterations" not in args:
        args += ["--iterations", "2"]
    try:
        code = cli.main(args)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    _, err = capsys.readouterr()
    assert code == 2, name
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("nst_tf: error:"), (name, err)
    assert "Traceback" not in err
    assert not out_dir.exists(), name  # nothing half-written


def test_bad_input_from_a_real_process_has_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "nst_tf", "run", str(tmp_path / "missing.png"), STYLE, "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no such file" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o").exists()


@pytest.mark.slow
def test_ctrl_c_keeps_snapshots_and_metrics(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, "-m", "nst_tf", "run", CONTENT, STYLE, "-o", str(tmp_path), "--name", "c"]
    args += ["--image-size", "32", "--iterations", "2000", "--snapshot-every", "1", "--weights", "random"]
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "c" / "metrics.csv"
    deadline = time.time() + 120
    snapshots = tmp_path / "c" / "snapshots"

    def enough() -> bool:  # three steps in metrics.csv and their snapshots (written just after the row)
        rows = metrics.read_text().count("\n") if metrics.exists() else 0
        return rows >= 4 and snapshots.is_dir() and len(list(snapshots.iterdir())) >= 3

    while time.time() < deadline and not enough():
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted after" in err and str(tmp_path / "c") in err and "Traceback" not in err
    assert not (tmp_path / "c" / "generated.png").exists()
    assert len(list((tmp_path / "c" / "snapshots").iterdir())) >= 3
    assert metrics.read_text().count("\n") >= 4
    assert json.loads((tmp_path / "c" / "config.json").read_text())["status"] == "interrupted"


def test_run_with_the_torch_backend_writes_the_same_folder(tmp_path, capsys):
    code, _, err = run_cli([CONTENT, STYLE, "-o", str(tmp_path), "--name", "t", *FAST, "--backend", "torch"], capsys)
    assert code == 0, err
    record = json.loads((tmp_path / "t" / "config.json").read_text())
    assert record["backend"] == "torch" and record["versions"]["torch"].startswith("2.")
    assert (tmp_path / "t" / "generated.png").exists() and (tmp_path / "t" / "report.html").exists()
    assert not (tmp_path / "t" / "state").exists()  # the twin keeps no resumable state


@pytest.mark.slow
def test_compare_command_writes_every_file(tmp_path, capsys):
    out = tmp_path / "cmp"
    args = ["compare", CONTENT, STYLE, "-o", str(out), "--image-size", "32", "--iterations", "2", "--weights", "random"]
    assert cli.main([*args, "--seed", "0"]) == 0, capsys.readouterr().err
    for name in ("report.json", "report.md", "parity.png", "tf.png", "torch.png", "diff.png"):
        assert (out / name).stat().st_size > 0, name
    report = json.loads((out / "report.json").read_text())
    assert report["iterations"] == 2 and report["feature_max_rel_err"] < 1e-5
    assert cli.main(args) == 2  # an existing report is not replaced unasked
    # L-BFGS is compared too (step parity along TensorFlow's accepted points); random weights may put a ReLU
    # input on its kink, so the verdict is not asserted here (tests/parity/test_stepwise.py does, on real weights)
    assert cli.main([*args, "--overwrite", "--optimizer", "lbfgs"]) in (0, 1)
    assert json.loads((out / "report.json").read_text())["optimizer"] == "lbfgs"


def test_help_works_everywhere_and_shows_every_default():
    result = subprocess.run(
        [sys.executable, "-m", "nst_tf", "--help"], capture_output=True, text=True, cwd="/", timeout=120
    )
    assert result.returncode == 0 and "run" in result.stdout and not result.stderr, result.stderr
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, sub in commands.items():
        text = " ".join(sub.format_help().split())
        assert "usage:" in text, name
    run_help = " ".join(commands["run"].format_help().split())
    for field in settings.setting_fields():
        flag = settings.flag_name(field)
        assert re.search(re.escape(flag) + r"\b.*?\(default: ", run_help), flag
    assert "--output-dir OUTPUT_DIR where run folders go (default: output)" in run_help
    assert "(default: 100; with --optimizer adam: 300; preset course: 200; preset course-tf2: 2501;" in run_help


def test_the_nst_tf_console_script_is_the_same_program(tmp_path):
    # README: "`nst-tf ...` is the same as `python -m nst_tf ...`". pyproject declares the script; the README's
    # set-up (`pip install -e .`) puts it beside this interpreter.
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "nst-tf"]
    assert script.value == "nst_tf.cli.main:main" and script.load() is cli.main
    executable = os.path.join(os.path.dirname(sys.executable), "nst-tf")
    assert os.access(executable, os.X_OK), f"{executable} missing: install with `pip install -e .` (README)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = [
        subprocess.run([*prefix, "run", str(tmp_path / "missing.png"), STYLE, "-o", str(tmp_path / "out")],
                       capture_output=True, text=True, env=env, timeout=300)
        for prefix in ([executable], [sys.executable, "-m", "nst_tf"])
    ]  # fmt: skip
    assert [r.returncode for r in runs] == [2, 2]
    assert runs[0].stderr == runs[1].stderr and "missing.png" in runs[0].stderr
    assert not (tmp_path / "out").exists()


def test_compare_float64_agrees_to_1e_10(tmp_path, capsys):
    # README: "`--float64` brings every figure to about 1e-15"; the report's float64 figures are 1e-10.
    out = tmp_path / "cmp"
    args = ["compare", CONTENT, STYLE, "-o", str(out), "--image-size", "32", "--iterations", "2", "--weights", "random"]
    assert cli.main([*args, "--seed", "0", "--float64"]) == 0, capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert report["dtype"] == "float64" and report["within_tolerance"] is True
    for key in ("feature_max_rel_err", "grad_max_rel_err", "cost_max_rel_err", "image_max_abs_diff"):
        assert report[key] <= 1e-10, (key, report[key])
