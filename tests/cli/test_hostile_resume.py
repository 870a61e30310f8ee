"""Hostile `run --resume`: a damaged run folder (truncated or corrupt state, a FIFO as state, config.json
missing keys or not JSON, odd metrics.csv, a user's copy among the snapshots) is resumed or refused in one
line with exit status 2 — never a traceback, never a hang, and a refusal leaves the folder byte for byte
as it was. Harmless oddities (a trailing blank line in metrics.csv, `iter_00001 (copy).png`) resume, and
the user's copy survives."""

from __future__ import annotations

import json
import os

import pytest
from hostile import (
    assert_one_line,
    assert_unchanged,
    cli,
    cli_subprocess,
    copy_run,
    finished_run,
    snapshot,
)

RESUME = ["--iterations", "4", "-q", "--no-tb"]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """One finished 2-step Adam run, made once; each test resumes a copy of it."""
    return finished_run(tmp_path_factory.mktemp("template"), "template")


def _state_files(run):
    """The saved state's files: the checkpoint's under state/ (or the legacy state.npz)."""
    found = sorted(p for p in (run / "state").glob("*") if p.is_file()) if (run / "state").is_dir() else []
    return found or [run / "state.npz"]


def _damage(run, case: str) -> None:
    files = _state_files(run)
    data_files = [p for p in files if ".data" in p.name or p.suffix == ".npz"]
    index_files = [p for p in files if p.suffix == ".index" or p.suffix == ".npz"]
    if case == "state_truncated":
        for path in data_files:
            path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])
    elif case == "state_index_truncated":
        for path in index_files:
            path.write_bytes(path.read_bytes()[:20])
    elif case == "state_random_bytes":
        for path in files:
            path.write_bytes(os.urandom(path.stat().st_size or 64))
    elif case == "state_empty":
        for path in files:
            path.write_bytes(b"")
    elif case == "state_missing":
        for path in files:
            path.unlink()
    elif case == "state_is_a_folder":
        for path in index_files:
            path.unlink()
            path.mkdir()
    elif case.startswith("config_without_"):
        record = json.loads((run / "config.json").read_text())
        del record[case.removeprefix("config_without_")]
        (run / "config.json").write_text(json.dumps(record))
    elif case == "config_settings_missing_a_field":
        record = json.loads((run / "config.json").read_text())
        del record["config"]["style_layers"]
        (run / "config.json").write_text(json.dumps(record))
    elif case == "config_wrong_types":
        record = json.loads((run / "config.json").read_text())
        record["config"]["iterations"] = "many"
        record["styles"] = "style.png"
        (run / "config.json").write_text(json.dumps(record))
    elif case == "config_not_json":
        (run / "config.json").write_text("{ this is not json")
    elif case == "config_a_list":
        (run / "config.json").write_text("[1, 2, 3]\n")
    elif case == "config_huge_image_size":
        record = json.loads((run / "config.json").read_text())
        record["image_size"] = {"height": 10**9, "width": 10**9}
        (run / "config.json").write_text(json.dumps(record))
    elif case == "metrics_garbage_row":
        with open(run / "metrics.csv", "a") as handle:
            handle.write("not,a,number,row,at,all\n")
    elif case == "metrics_missing":
        (run / "metrics.csv").unlink()
    elif case == "snapshots_is_a_file":
        for path in (run / "snapshots").iterdir():
            path.unlink()
        (run / "snapshots").rmdir()
        (run / "snapshots").write_text("not a folder\n")
    elif case == "too_few_iterations":
        pass  # --iterations 1 below
    else:
        raise AssertionError(case)


REFUSALS = [
    "state_truncated", "state_index_truncated", "state_random_bytes", "state_empty", "state_missing",
    "state_is_a_folder", "config_without_config", "config_without_styles", "config_without_content",
    "config_without_status", "config_without_image_size", "config_settings_missing_a_field",
    "config_wrong_types", "config_not_json", "config_a_list", "config_huge_image_size", "metrics_garbage_row",
    "metrics_missing", "snapshots_is_a_file", "too_few_iterations",
]  # fmt: skip


@pytest.mark.parametrize("case", REFUSALS)
def test_damaged_run_folder_is_refused_untouched(tmp_path, template, case):
    run = copy_run(template, tmp_path)
    _damage(run, case)
    before = snapshot(tmp_path)
    iterations = ["--iterations", "1"] if case == "too_few_iterations" else ["--iterations", "4"]
    result = cli("run", "--resume", run, *iterations, "-q", "--no-tb")
    assert_one_line(result, 2)
    assert_unchanged(before, tmp_path)


@pytest.mark.parametrize("where", ["state_file", "config_json", "metrics_csv"])
def test_a_fifo_in_the_run_folder_never_blocks(tmp_path, template, where):
    run = copy_run(template, tmp_path)
    target = {
        "state_file": _state_files(run)[0],
        "config_json": run / "config.json",
        "metrics_csv": run / "metrics.csv",
    }
    path = target[where]
    path.unlink()
    os.mkfifo(path)
    before = snapshot(tmp_path)
    result = cli_subprocess("run", "--resume", run, *RESUME, timeout=240)
    assert_one_line(result, 2)
    assert_unchanged(before, tmp_path)


def test_metrics_with_a_trailing_blank_line_resumes(tmp_path, template):
    run = copy_run(template, tmp_path)
    with open(run / "metrics.csv", "a") as handle:
        handle.write("\n")
    result = cli("run", "--resume", run, "--iterations", "3", "-q", "--no-tb")
    assert result.rc == 0 and "Traceback" not in result.err, result.err
    rows = [line for line in (run / "metrics.csv").read_text().splitlines() if line.strip()]
    assert [row.split(",")[0] for row in rows[1:]] == ["0", "1", "2"]


def test_a_users_copy_among_the_snapshots_survives_a_resume(tmp_path, template):
    run = copy_run(template, tmp_path)
    copy = run / "snapshots" / "iter_00001 (copy).png"
    copy.write_bytes((run / "snapshots" / "iter_00000.png").read_bytes())  # what a file manager's copy holds
    (run / "snapshots" / "notes.txt").write_text("mine\n")
    before = {k: v for k, v in snapshot(run).items() if "(copy)" in k or "notes" in k}
    result = cli("run", "--resume", run, "--iterations", "3", "-q", "--no-tb")
    assert result.rc == 0 and "Traceback" not in result.err, result.err
    after = snapshot(run)
    assert all(after.get(k) == v for k, v in before.items()), "the user's files among the snapshots changed"


@pytest.mark.slow
def test_a_refusal_after_tensorflow_starts_is_still_one_line(tmp_path, template):
    """TensorFlow's C++ start-up lines go to file descriptor 2: only a child process shows them."""
    run = copy_run(template, tmp_path)
    _damage(run, "state_truncated")
    before = snapshot(tmp_path)
    result = cli_subprocess("run", "--resume", run, *RESUME, timeout=240, env={"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert_one_line(result, 2)
    assert_unchanged(before, tmp_path)
