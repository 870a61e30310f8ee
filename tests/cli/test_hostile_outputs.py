"""Hostile output places, on every command that writes: `run -o/--name`, `compare -o`, `bench --json`.

A place that cannot be written (under a plain file, in /proc, a read-only folder, a name longer than the
file system allows) is one line on stderr and exit status 2, found before any work is done and before
anything is created; a name with characters that mean something elsewhere (`$` is mathtext to matplotlib)
simply works. What a run writes gets the mode the user's umask asks for, not mkstemp's 600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hostile import (
    FAST,
    assert_one_line,
    assert_unchanged,
    cli,
    cli_subprocess,
    finished_run,
    snapshot,
    unprivileged_prefix,
    user_folder,
)


def _places(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """{case: (output place, a word its refusal must contain)}; made inside tmp_path where needed."""
    (tmp_path / "user" / "thesis.txt").write_text("the user's file\n")
    os.mkfifo(tmp_path / "user" / "pipe")
    return {
        "under_a_plain_file": (tmp_path / "user" / "thesis.txt" / "out", "thesis.txt"),
        "is_a_plain_file": (tmp_path / "user" / "thesis.txt", "thesis.txt"),
        "is_a_fifo": (tmp_path / "user" / "pipe", "pipe"),
        "in_proc": (Path("/proc/nst_tf_out"), "/proc"),
        "name_too_long": (tmp_path / ("o" * 300), ""),
    }


CASES = ["under_a_plain_file", "is_a_plain_file", "is_a_fifo", "in_proc", "name_too_long"]


@pytest.mark.timeout(60)  # a FIFO or device must be refused, not opened: a hang fails here instead of blocking CI
@pytest.mark.parametrize("case", CASES)
def test_run_output_dir(tmp_path, case):
    user = user_folder(tmp_path)
    place, word = _places(tmp_path)[case]
    before = snapshot(tmp_path)
    result = cli("run", user / "content.png", user / "style.png", "-o", place, *FAST)
    assert_one_line(result, 2, word)
    assert_unchanged(before, tmp_path)


@pytest.mark.parametrize("name", ["n" * 300, "a/b", "..", ".", ""])
def test_run_bad_names(tmp_path, name):
    user = user_folder(tmp_path)
    before = snapshot(tmp_path)
    result = cli("run", user / "content.png", user / "style.png", "-o", tmp_path / "out", "--name", name, *FAST)
    assert_one_line(result, 2, "name")  # an empty --name too: "no name" is leaving --name out
    assert_unchanged(before, tmp_path)


def test_run_into_a_read_only_folder(tmp_path):
    user = user_folder(tmp_path)
    prefix = unprivileged_prefix(tmp_path)  # root: a child without CAP_DAC_OVERRIDE
    (tmp_path / "locked").mkdir(mode=0o555)
    before = snapshot(tmp_path)
    result = cli_subprocess(
        "run", user / "content.png", user / "style.png", "-o", tmp_path / "locked", *FAST, timeout=240, prefix=prefix
    )
    assert_one_line(result, 2, "locked")
    assert_unchanged(before, tmp_path)


def test_dollar_and_mathtext_in_the_name_just_work(tmp_path):
    """matplotlib reads `$...$` as mathtext in plot titles: an odd name must not break the report."""
    user = user_folder(tmp_path)
    name = r"cost_$5_$\frac{x^"
    result = cli("run", user / "content.png", user / "style.png", "-o", tmp_path / "out", "--name", name, *FAST)
    assert result.rc == 0 and "Traceback" not in result.err, result.err
    assert result.err_lines == [], result.err
    for made in ("generated.png", "loss.png", "report.html"):
        assert (tmp_path / "out" / name / made).is_file(), made


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_run_files_follow_the_umask(tmp_path, umask, monkeypatch):
    from nst_tf.io import atomic

    monkeypatch.setattr(atomic, "_UMASK", None, raising=False)  # it reads the umask once per process
    previous = os.umask(umask)
    try:
        run = finished_run(tmp_path)
    finally:
        os.umask(previous)
    modes = {str(p.relative_to(run)): stat.S_IMODE(p.stat().st_mode) for p in run.rglob("*") if p.is_file()}
    wrong = {name: oct(mode) for name, mode in modes.items() if mode != 0o666 & ~umask}
    assert not wrong, f"umask {oct(umask)} but: {wrong}"


@pytest.mark.timeout(60)  # a FIFO or device must be refused, not opened: a hang fails here instead of blocking CI
@pytest.mark.parametrize("case", CASES)
def test_compare_output(tmp_path, case):
    user = user_folder(tmp_path)
    place, word = _places(tmp_path)[case]
    before = snapshot(tmp_path)
    result = cli("compare", user / "content.png", user / "style.png", "-o", place, *FAST[:6], "--seed", "1")
    assert_one_line(result, 2, word)
    assert_unchanged(before, tmp_path)


@pytest.mark.timeout(60)  # a FIFO or device must be refused, not opened: a hang fails here instead of blocking CI
@pytest.mark.parametrize("case", [c for c in CASES if c != "is_a_plain_file"] + ["is_a_folder"])
def test_bench_json(tmp_path, case):
    """Refused before the benchmark runs: nobody should wait minutes to learn the file cannot be written."""
    user = user_folder(tmp_path)
    places = _places(tmp_path)
    places["is_a_folder"] = (tmp_path / "user", "user")
    place, word = places[case]
    place = place if case in ("is_a_fifo", "is_a_folder") else place / "bench.json"
    before = snapshot(tmp_path)
    result = cli(
        "bench", "--content", user / "content.png", "--style", user / "style.png", "--weights", "random",
        "--image-size", "32", "--iterations", "1", "--warmup", "1", "--json", place,
    )  # fmt: skip
    assert_one_line(result, 2, word)
    assert_unchanged(before, tmp_path)


def test_a_relative_output_dir_puts_everything_inside_the_run_folder(tmp_path, monkeypatch):
    """`-o out` relative to the working folder: snapshots land in out/NAME/snapshots, nowhere deeper."""
    user = user_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = cli("run", user / "content.png", user / "style.png", "-o", "out", "--name", "rel", "--snapshot-every",
                 "1", "--optimizer", "adam", *FAST)  # fmt: skip
    assert result.rc == 0, result.err
    run = tmp_path / "out" / "rel"
    assert sorted(p.name for p in (run / "snapshots").iterdir()) == ["iter_00000.png", "iter_00001.png"]
    assert not (run / "out").exists(), "snapshots went to a nested out/rel/out/rel/snapshots"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "user"]
