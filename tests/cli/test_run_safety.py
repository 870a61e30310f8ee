"""`run`, `--resume` and `bench` under hostile input: one line, exit 2, nothing of the user's touched.

Every case asserts the exit status, exactly one line on stderr, no traceback, and (by hashing every file
before and after) that nothing that was there changed. Real processes where start-up output or signals
matter; in-process runs (TensorFlow already loaded) elsewhere.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import IMAGES, ROOT

from nst_tf.cli import main as cli
from nst_tf.cli import settings as cli_settings
from nst_tf.optim import run_loop
from nst_tf.optim.engine import Step

CONTENT = str(IMAGES / "chelsea.png")
STYLE = str(IMAGES / "ihc.png")
FAST = ["--image-size", "32", "--iterations", "3", "--snapshot-every", "1", "--weights", "random", "-q"]
ADAM = ["--optimizer", "adam", "--seed", "0"]


def _tree(path):
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _refused(args, capsys, message=None):
    """Run in-process; assert exit 2 and one `nst_tf: error:` line (containing `message`)."""
    try:
        code = cli.main(args)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("nst_tf: error:") and "Traceback" not in err, err
    if message:
        assert message in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished Adam run (3 steps) to copy: resuming and overwriting work on copies."""
    root = tmp_path_factory.mktemp("done")
    assert cli.main(["run", CONTENT, STYLE, "-o", str(root), "--name", "done", *FAST, *ADAM]) == 0
    return root / "done"


def _copy(finished, tmp_path, name="run"):
    import shutil

    target = tmp_path / name
    shutil.copytree(finished, target)
    return target


# --- output places --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "place, message",
    [
        ("under_file", "is a file"),
        ("proc", "/proc"),
        ("long_name", "longer than"),
    ],
)
def test_impossible_output_places_are_one_line(tmp_path, capsys, place, message):
    (tmp_path / "file").write_text("x")
    out = {"under_file": ["-o", str(tmp_path / "file" / "o")], "proc": ["-o", "/proc/nst_tf_o"]}
    args = out.get(place, ["-o", str(tmp_path), "--name", "n" * 300])
    before = _tree(tmp_path)
    _refused(["run", CONTENT, STYLE, *FAST, *args], capsys, message)
    assert _tree(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_name_with_dollars_makes_a_complete_run(tmp_path, capsys):
    assert cli.main(["run", CONTENT, STYLE, "-o", str(tmp_path), "--name", "a$b $\\x$ $", *FAST]) == 0
    run = tmp_path / "a$b $\\x$ $"
    assert (run / "loss.png").stat().st_size > 1000 and (run / "report.html").exists()


def test_bench_json_to_an_unwritable_place_is_refused_before_measuring(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    for place in (tmp_path / "file" / "b.json", "/proc/nst_tf.json", tmp_path):
        started = time.perf_counter()
        _refused(["bench", "--json", str(place), "--weights", "random", "--image-size", "32"], capsys, "--json")
        assert time.perf_counter() - started < 30  # refused before the matmul probes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_bench_refuses_a_size_that_cannot_fit_before_allocating(tmp_path, capsys):
    out = tmp_path / "b.json"
    _refused(["bench", "--json", str(out), "--weights", "random", "--image-size", "100000"], capsys, "memory")
    assert not out.exists()


# --- overwrite and refusals after planning ------------------------------------------------------------


def test_overwrite_of_what_is_not_a_run_is_refused_and_untouched(tmp_path, capsys):
    thesis = tmp_path / "thesis"
    (thesis / "figures").mkdir(parents=True)
    (thesis / "chapter1.tex").write_text("\\chapter{One}")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("keep")
    (tmp_path / "link").symlink_to(mine)
    (tmp_path / "plain").write_text("a file")
    before = _tree(tmp_path)
    for name in ("thesis", "link", "plain"):
        _refused(["run", CONTENT, STYLE, "-o", str(tmp_path), "--name", name, "--overwrite", *FAST], capsys, name)
    assert _tree(tmp_path) == before and (tmp_path / "link").is_symlink()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--image-size", "30000"], "memory"),
        (["--style-blend", "nan"], "style-blend"),
        (["--seed", "-1"], "seed"),
    ],
)
def test_a_refused_overwrite_keeps_the_old_run(finished, tmp_path, capsys, flags, message):
    run = _copy(finished, tmp_path)
    before = _tree(tmp_path)
    args = ["run", CONTENT, STYLE, "-o", str(tmp_path), "--name", "run", "--overwrite", *FAST, *flags]
    _refused(args, capsys, message)
    assert _tree(tmp_path) == before and (run / "generated.png").exists()


def test_refusals_come_before_the_folder_is_made(tmp_path, capsys):
    out = tmp_path / "out"
    for flags in (["--image-size", "30000"], ["--style-blend", "inf"], ["--seed", "-5"]):
        _refused(["run", CONTENT, STYLE, "-o", str(out), *FAST, *flags], capsys)
        assert not out.exists()


# --- resume -----------------------------------------------------------------------------------------


def _resume(run, *extra):
    return ["run", "--resume", str(run), "--iterations", "5", *extra]


def test_a_refused_resume_deletes_nothing(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    before = _tree(run)
    _refused(_resume(run, "--backend", "torch"), capsys, "TensorFlow backend")
    record = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**record, "content": str(IMAGES / "ihc.png")}))  # another size
    before = _tree(run)
    _refused(_resume(run), capsys, "saved state")
    assert _tree(run) == before and (run / "generated.png").exists()


def _break(run, how):
    record = json.loads((run / "config.json").read_text())
    if how == "config.json missing keys":
        del record["styles"]
        (run / "config.json").write_text(json.dumps(record))
    elif how == "settings missing":
        del record["config"]["iterations"]
        (run / "config.json").write_text(json.dumps(record))
    elif how == "setting of the wrong type":
        record["config"]["iterations"] = 5.5
        (run / "config.json").write_text(json.dumps(record))
    elif how == "blend not a list":
        (run / "config.json").write_text(json.dumps({**record, "style_blend": 0.5}))
    elif how == "config.json not json":
        (run / "config.json").write_text("{ nope")
    elif how == "truncated state":
        data = next((run / "state").glob("*.data-*"))
        data.write_bytes(data.read_bytes()[:50])
    elif how == "corrupt state index":
        index = next((run / "state").glob("*.index"))
        index.write_bytes(b"\0" * 64)
    elif how == "fifo as state":
        (run / "state" / "checkpoint").unlink()
        os.mkfifo(run / "state" / "checkpoint")
    elif how == "state missing":
        for path in (run / "state").iterdir():
            path.unlink()
    elif how == "bad metrics":
        (run / "metrics.csv").write_text("iteration,total,content,style,tv,seconds\n0,x,1,1,0,1\n")


BROKEN = [
    "config.json missing keys",
    "settings missing",
    "setting of the wrong type",
    "blend not a list",
    "config.json not json",
    "truncated state",
    "corrupt state index",
    "fifo as state",
    "state missing",
    "bad metrics",
]


@pytest.mark.parametrize("how", BROKEN)
def test_a_broken_run_folder_is_refused_in_one_line(finished, tmp_path, capsys, how):
    run = _copy(finished, tmp_path)
    _break(run, how)
    before = _tree(run)
    _refused(_resume(run), capsys)
    assert _tree(run) == before


def test_blank_metrics_line_and_snapshot_copies_do_not_stop_a_resume(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    with open(run / "metrics.csv", "a") as handle:
        handle.write("\n")
    copy = run / "snapshots" / "iter_00001 (copy).png"
    copy.write_bytes((run / "snapshots" / "iter_00001.png").read_bytes())
    assert cli.main(_resume(run)) == 0, capsys.readouterr().err
    assert copy.exists() and (run / "snapshots" / "iter_00004.png").exists()
    assert json.loads((run / "config.json").read_text())["status"] == "complete"


def test_a_run_folder_from_before_checkpoints_is_resumed(finished, tmp_path, capsys):
    import shutil

    import tensorflow as tf

    run = _copy(finished, tmp_path)
    reader = tf.train.load_checkpoint(str(run / "state"))
    suffix = "/.ATTRIBUTES/VARIABLE_VALUE"
    names = [k[: -len(suffix)] for k in reader.get_variable_to_shape_map() if k.endswith(suffix)]
    arrays = {n: reader.get_tensor(n + suffix) for n in names if n != "save_counter"}
    shutil.rmtree(run / "state")
    (run / ".nst_tf-run").unlink()
    np.savez(run / "state.npz", **arrays)  # as nst_tf wrote it before
    assert cli.main(_resume(run)) == 0, capsys.readouterr().err
    assert (run / "state").is_dir() and not (run / "state.npz").exists() and (run / ".nst_tf-run").exists()


@pytest.mark.slow
def test_resume_errors_come_without_tensorflow_start_up_lines(finished, tmp_path):
    run = _copy(finished, tmp_path)
    _break(run, "truncated state")
    result = subprocess.run(
        [sys.executable, "-m", "nst_tf", *_resume(run)], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("nst_tf: error:"), result.stderr


# --- non-finite costs, signals ----------------------------------------------------------------------


def test_an_overflowing_cost_stops_the_run_in_one_line(tmp_path, capsys):
    # the course's cost form: the default preset's relative terms stay near 1, so 3e38 times them stays finite
    argv = ["run", CONTENT, STYLE, "-o", str(tmp_path), "--name", "inf", "--preset", "course", *FAST]
    line = _refused([*argv, "--optimizer", "lbfgs", "--style-weight", "3e38"], capsys)
    assert "cost became" in line
    record = json.loads((tmp_path / "inf" / "config.json").read_text())
    assert record["status"] == "failed" and not (tmp_path / "inf" / "generated.png").exists()


def test_a_nan_step_keeps_the_last_good_snapshot(finished, tmp_path, capsys, monkeypatch):
    from nst_tf.optim import run_plan

    args = cli.build_parser().parse_args(["run", CONTENT, STYLE, "-o", str(tmp_path), "--name", "n", *FAST])
    plan = run_plan.plan_new_run(cli_settings.config_from_args(args), args.pictures, args.output_dir, args.name)
    plan.record.update(image_size={"height": 4, "width": 4})
    plan.folder.create()
    good = np.full((1, 4, 4, 3), 0.5, np.float32)
    costs = {"total": 2.0, "content": 1.0, "style": 1.0, "tv": 0.0}
    steps = [Step(0, costs, 0.1, good), Step(1, costs, 0.2, good), Step(2, {**costs, "total": float("nan")}, 0.3)]
    code = run_loop.execute(plan, iter(steps), tensorboard=False, quiet=True)
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "iter_00001.png" in err
    run = tmp_path / "n"
    assert sorted(p.name for p in (run / "snapshots").iterdir()) == ["iter_00000.png", "iter_00001.png"]
    assert not (run / "generated.png").exists() and (run / "loss.png").exists()
    assert json.loads((run / "config.json").read_text())["status"] == "failed"


def test_a_second_interrupt_does_not_claim_nothing_was_written(tmp_path, capsys, monkeypatch):
    from nst_tf.io.rundir import RunFolder
    from nst_tf.optim import run_plan

    args = cli.build_parser().parse_args(["run", CONTENT, STYLE, "-o", str(tmp_path), "--name", "i", *FAST])
    plan = run_plan.plan_new_run(cli_settings.config_from_args(args), args.pictures, args.output_dir, args.name)
    plan.record.update(image_size={"height": 4, "width": 4})
    plan.folder.create()
    costs = {"total": 2.0, "content": 1.0, "style": 1.0, "tv": 0.0}

    def stream():
        yield Step(0, costs, 0.1, np.full((1, 4, 4, 3), 0.5, np.float32))
        raise KeyboardInterrupt

    def second_interrupt(self, makers=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(RunFolder, "make_report", second_interrupt)
    code = run_loop.execute(plan, stream(), tensorboard=False, quiet=True)
    err = capsys.readouterr().err
    assert code == 130 and "nothing was written" not in err and str(tmp_path / "i") in err
    assert json.loads((tmp_path / "i" / "config.json").read_text())["status"] == "interrupted"


@pytest.mark.slow
def test_sigterm_is_handled_like_ctrl_c(tmp_path):
    args = [sys.executable, "-m", "nst_tf", "run", CONTENT, STYLE, "-o", str(tmp_path), "--name", "t"]
    args += ["--image-size", "32", "--iterations", "2000", "--snapshot-every", "1", "--weights", "random"]
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "t" / "metrics.csv"
    deadline = time.time() + 240
    while time.time() < deadline and (not metrics.exists() or metrics.read_text().count("\n") < 4):
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    assert len(err.strip().splitlines()) == 1 and "interrupted after" in err and "Traceback" not in err
    record = json.loads((tmp_path / "t" / "config.json").read_text())
    assert record["status"] == "interrupted" and (tmp_path / "t" / "loss.png").exists()


def test_the_weights_fallback_note_does_not_come_with_a_refusal(tmp_path, capsys):
    # --weights auto falls back (no ImageNet file offline) with a note; a refusal after it is still one line.
    _refused(["run", CONTENT, STYLE, "-o", str(tmp_path / "o"), "--image-size", "30000"], capsys, "memory")
    assert not (tmp_path / "o").exists()


def test_a_write_failure_mid_run_is_one_line(tmp_path, capsys, monkeypatch):
    from nst_tf.io.rundir import RunFolder
    from nst_tf.optim import run_plan

    args = cli.build_parser().parse_args(["run", CONTENT, STYLE, "-o", str(tmp_path), "--name", "w", *FAST])
    plan = run_plan.plan_new_run(cli_settings.config_from_args(args), args.pictures, args.output_dir, args.name)
    plan.record.update(image_size={"height": 4, "width": 4})
    plan.folder.create()

    def disk_full(self, name, image):
        raise OSError(28, "No space left on device", name)

    monkeypatch.setattr(RunFolder, "save_picture", disk_full)
    costs = {"total": 2.0, "content": 1.0, "style": 1.0, "tv": 0.0}
    steps = [Step(0, costs, 0.1, np.full((1, 4, 4, 3), 0.5, np.float32))]
    code = run_loop.execute(plan, iter(steps), tensorboard=False, quiet=True)
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "No space left" in err
