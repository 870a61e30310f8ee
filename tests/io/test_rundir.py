"""The run folder library (nst_tf.io.rundir, runstate, places, atomic): what it refuses, what it keeps."""

from __future__ import annotations

import json
import os
import stat
import threading
import zipfile

import numpy as np
import pytest
from hostile import python_subprocess, unprivileged_prefix

from nst_tf.errors import ConfigError
from nst_tf.io import atomic, report
from nst_tf.io.places import check_creatable, check_replaceable_file
from nst_tf.io.rundir import MARKER, RunFolder, is_ours
from nst_tf.io.runstate import StateError

STATE_SHAPES = {"steps": ((), "exact"), "image": ((1, 4, 5, 3), "exact"), "optimizer": (None, "prefix")}


def _tree(path):
    """{relative path: bytes} of every file under `path` (to prove nothing changed)."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _made(tmp_path, name="r"):
    folder = RunFolder.plan_new(tmp_path, name, "stem")
    folder.create()
    folder.write_record({"status": "complete", "config": {}})
    return folder


def test_planning_creates_nothing_and_create_marks_the_folder(tmp_path):
    folder = RunFolder.plan_new(tmp_path / "deep" / "er", None, "chelsea_ihc")
    assert not (tmp_path / "deep").exists()
    folder.create()
    assert (folder.path / MARKER).is_file() and (folder.path / "snapshots").is_dir() and is_ours(folder.path)
    assert RunFolder.plan_new(tmp_path / "deep" / "er", None, "chelsea_ihc").path.name == "chelsea_ihc_2"


def test_overwrite_never_deletes_what_is_not_a_run(tmp_path):
    thesis = tmp_path / "thesis"
    (thesis / "figures").mkdir(parents=True)
    (thesis / "chapter1.tex").write_text("\\chapter{One}")
    (thesis / "config.json").write_text(json.dumps({"status": "complete", "config": {}}))  # looks like a run's
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    (tmp_path / "link").symlink_to(target)
    (tmp_path / "plain").write_text("a file")
    before = _tree(tmp_path)
    for name, message in (("thesis", "not an nst_tf run"), ("link", "symbolic link"), ("plain", "not a folder")):
        with pytest.raises(ConfigError, match=message):
            RunFolder.plan_new(tmp_path, name, "x", overwrite=True)
    assert _tree(tmp_path) == before


def test_an_old_run_folder_without_marker_is_still_ours_if_it_holds_only_run_files(tmp_path):
    old = tmp_path / "old"
    (old / "snapshots").mkdir(parents=True)
    (old / "config.json").write_text(json.dumps({"status": "complete", "config": {"iterations": 3}}))
    (old / "generated.png").write_bytes(b"png")
    (old / "state.npz").write_bytes(b"npz")
    assert is_ours(old)
    (old / "notes.txt").write_text("the user's")
    assert not is_ours(old)


def test_overwrite_replaces_only_at_create_and_checks_again(tmp_path):
    folder = _made(tmp_path)
    (folder.path / "generated.png").write_bytes(b"old result")
    plan = RunFolder.plan_new(tmp_path, "r", "x", overwrite=True)
    assert (folder.path / "generated.png").exists()  # planning deleted nothing
    (folder.path / MARKER).unlink()
    (folder.path / "thesis.tex").write_text("appeared meanwhile")
    with pytest.raises(ConfigError, match="not an nst_tf run"):
        plan.create()
    assert (folder.path / "thesis.tex").exists()


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_atomic_writes_honour_the_umask(tmp_path, monkeypatch, umask):
    previous = os.umask(umask)
    monkeypatch.setattr(atomic, "_UMASK", None)
    try:
        path = atomic.write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temporary file left


def test_an_interrupted_atomic_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("old")

    def fail(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic.atomic_write(path, fail)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_state_round_trip_and_corruption(tmp_path):
    folder = _made(tmp_path)
    arrays = {"steps": np.int64(3), "image": np.random.rand(1, 4, 5, 3).astype(np.float32)}
    arrays["optimizer_0"] = np.int64(3)
    folder.state.save(3, arrays)
    loaded = folder.state.load(STATE_SHAPES, max_bytes=2**20)
    np.testing.assert_array_equal(loaded["image"], arrays["image"])
    assert int(loaded["steps"]) == 3 and int(loaded["optimizer_0"]) == 3
    with pytest.raises(StateError, match="shape"):
        folder.state.load({**STATE_SHAPES, "image": ((1, 8, 8, 3), "exact")}, max_bytes=2**20)
    with pytest.raises(StateError, match="more than"):
        folder.state.load(STATE_SHAPES, max_bytes=10)
    data = next((folder.path / "state").glob("*.data-*"))
    data.write_bytes(data.read_bytes()[:40])  # truncated
    with pytest.raises(StateError):
        folder.state.load(STATE_SHAPES, max_bytes=2**20)


def test_a_fifo_as_state_is_refused_without_blocking(tmp_path):
    folder = _made(tmp_path)
    os.mkfifo(folder.path / "state.npz")
    result = []
    reader = threading.Thread(target=lambda: result.append(_error(folder)), daemon=True)
    reader.start()
    reader.join(timeout=20)
    assert result and "not a regular file" in result[0]


def _error(folder):
    try:
        folder.state.load(STATE_SHAPES, max_bytes=2**20)
    except StateError as exc:
        return str(exc)
    return "no error"


def test_legacy_state_npz_is_read_and_an_inflating_one_refused(tmp_path):
    folder = _made(tmp_path)
    image = np.random.rand(1, 4, 5, 3).astype(np.float32)
    np.savez(folder.path / "state.npz", steps=np.int64(2), image=image, optimizer_0=np.int64(2))
    assert int(folder.state.load(STATE_SHAPES, max_bytes=2**20)["steps"]) == 2
    np.savez_compressed(folder.path / "state.npz", steps=np.int64(2), image=np.zeros((1, 2000, 2000, 3), np.float32))
    assert (folder.path / "state.npz").stat().st_size < 200_000
    with pytest.raises(StateError, match="inflate"):
        folder.state.load(STATE_SHAPES, max_bytes=2**20)
    with zipfile.ZipFile(folder.path / "state.npz", "w") as archive:
        archive.writestr("steps.npy", b"garbage")
    with pytest.raises(StateError):
        folder.state.load(STATE_SHAPES, max_bytes=2**20)


def test_metrics_tolerate_a_trailing_blank_line_and_snapshot_copies_are_ignored(tmp_path):
    folder = _made(tmp_path)
    (folder.path / "metrics.csv").write_text("iteration,total,content,style,tv,seconds\n0,1,1,1,0,0.5\n1,1,1,1,0,1\n\n")
    assert [row["iteration"] for row in folder.read_metrics()] == [0, 1]
    for name in ("iter_00000.png", "iter_00001.png", "iter_00001 (copy).png", "iter_x.png"):
        (folder.path / "snapshots" / name).write_bytes(b"png")
    assert [i for i, _ in folder.snapshots()] == [0, 1]
    folder.forget_after(1)
    assert sorted(p.name for p in (folder.path / "snapshots").iterdir()) == [
        "iter_00000.png",
        "iter_00001 (copy).png",
        "iter_x.png",
    ]
    (folder.path / "metrics.csv").write_text("iteration,total\n0,1\n")
    with pytest.raises(ConfigError, match="header"):
        folder.read_metrics()


def test_output_places_are_checked_before_anything_is_made(tmp_path):
    (tmp_path / "file").write_text("x")
    cases = {
        str(tmp_path / "file" / "out"): "is a file",
        "/proc/nst_tf_out": "/proc",
        str(tmp_path / ("n" * 300)): "longer than",
    }
    for place, message in cases.items():
        with pytest.raises(ConfigError, match=message):
            check_creatable(place, "-o")
    with pytest.raises(ConfigError, match="is a folder"):
        check_replaceable_file(tmp_path, "--json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_read_only_folder_is_refused(tmp_path):
    # In a child that obeys file modes (root: CAP_DAC_OVERRIDE dropped; see hostile.unprivileged_prefix).
    prefix = unprivileged_prefix(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    code = (
        "from nst_tf.errors import ConfigError\n"
        "from nst_tf.io.rundir import check_creatable\n"
        "try:\n"
        f"    check_creatable({str(locked / 'run')!r}, '-o')\n"
        "except ConfigError as error:\n"
        "    print('refused:', error)\n"
    )
    try:
        done = python_subprocess(code, prefix)
    finally:
        locked.chmod(0o755)
    assert done.rc == 0, done.err
    assert done.out.startswith("refused:") and "cannot write" in done.out, done.out
    assert list(locked.iterdir()) == []


def test_a_dollar_in_the_run_name_is_plain_text_in_the_plots(tmp_path):
    folder = _made(tmp_path, name="price $5 $\\alpha$ and $")
    (folder.path / "metrics.csv").write_text("iteration,total,content,style,tv,seconds\n0,2,1,1,0,0.5\n1,1,1,0.5,0,1\n")
    made = report.make_all(folder.path)
    assert {p.name for p in made} == {"loss.png", "report.html"}
    assert (folder.path / "loss.png").stat().st_size > 1000
