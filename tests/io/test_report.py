"""Seeing a run: loss plot, snapshot sheet, animation, TensorBoard events, report.html, resume, notebook."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from conftest import IMAGES, ROOT
from PIL import Image

from nst_tf import notebook
from nst_tf.cli import main as cli
from nst_tf.presets import DEFAULT

CONTENT = str(IMAGES / "chelsea.png")
STYLE = str(IMAGES / "ihc.png")
SMALL = ["--image-size", "32", "--weights", "random", "--seed", "0", "-q"]


def _state(run):
    """The run's saved state arrays (its tf.train.Checkpoint under state/)."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(run / "state"))
    suffix = "/.ATTRIBUTES/VARIABLE_VALUE"
    keys = [k for k in reader.get_variable_to_shape_map() if k.endswith(suffix) and not k.startswith("save_counter")]
    return {k[: -len(suffix)]: reader.get_tensor(k) for k in keys}


def _run(tmp_path, name, *extra):
    code = cli.main(["run", CONTENT, STYLE, "-o", str(tmp_path), "--name", name, *SMALL, *extra])
    assert code == 0
    return tmp_path / name


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("runs"), "seen", "--iterations", "7", "--snapshot-every", "2")


def test_every_view_is_written(finished_run):
    written = ("loss.png", "snapshots.png", "evolution.gif", "report.html", "content.png", "style.png", ".nst_tf-run")
    for name in written:
        assert (finished_run / name).stat().st_size > 0, name
    gif = Image.open(finished_run / "evolution.gif")
    snapshots = sorted(p.name for p in (finished_run / "snapshots").iterdir())
    assert snapshots == ["iter_00000.png", "iter_00002.png", "iter_00004.png", "iter_00006.png"]  # 6 is the last
    assert gif.n_frames == 4
    sheet = Image.open(finished_run / "snapshots.png")
    assert sheet.width > 200 and np.asarray(sheet).std() > 10  # pictures, not an empty canvas
    assert sheet.height < 200 + 22 + 16  # one row of landscape cells: no square cell's blank band
    plot = np.asarray(Image.open(finished_run / "loss.png").convert("L"))
    assert plot.shape[0] > 300 and plot.std() > 10


def test_report_links_are_relative_and_present(finished_run):
    page = (finished_run / "report.html").read_text()
    targets = re.findall(r"(?:src|href)='?\"?([^'\" >]+)", page)
    assert {"content.png", "style.png", "generated.png", "loss.png", "snapshots.png", "evolution.gif"} <= set(targets)
    for target in targets:
        assert not target.startswith(("/", "http")), target
        assert (finished_run / target).exists(), target
    assert "hed-vgg16" not in page and "random" in page  # the weights actually used
    assert "complete" in page


def test_tensorboard_events_hold_costs_and_pictures(finished_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(finished_run / "tb"), size_guidance={"tensors": 0})
    events.Reload()
    tags = events.Tags()["tensors"]
    assert {"cost/total", "cost/content", "cost/style", "cost/tv", "generated"} <= set(tags)
    totals = events.Tensors("cost/total")
    assert [t.step for t in totals] == list(range(7))
    with open(finished_run / "metrics.csv") as handle:
        first = float(next(csv.DictReader(handle))["total"])
    import tensorflow as tf

    assert float(tf.make_ndarray(totals[0].tensor_proto)) == pytest.approx(first, rel=1e-6)


def test_no_tb_writes_no_event_files(tmp_path):
    run = _run(tmp_path, "quiet", "--iterations", "2", "--no-tb")
    assert not (run / "tb").exists() and (run / "report.html").exists()


@pytest.mark.slow
def test_ten_plus_resumed_ten_equals_twenty(tmp_path):
    straight = _run(tmp_path, "straight", "--iterations", "20", "--snapshot-every", "5", "--optimizer", "adam")
    split = _run(tmp_path, "split", "--iterations", "10", "--snapshot-every", "5", "--optimizer", "adam")
    assert cli.main(["run", "--resume", str(split), "--iterations", "20", "-q"]) == 0
    np.testing.assert_array_equal(
        np.asarray(Image.open(split / "generated.png")), np.asarray(Image.open(straight / "generated.png"))
    )
    a, b = _state(split), _state(straight)
    np.testing.assert_array_equal(a["image"], b["image"])  # the exact, unquantised variable
    assert int(a["steps"]) == int(b["steps"]) == 20
    rows = {}
    for run in (straight, split):
        with open(run / "metrics.csv") as handle:
            rows[run.name] = [(r["iteration"], r["total"], r["content"], r["style"]) for r in csv.DictReader(handle)]
    assert rows["split"] == rows["straight"] and len(rows["split"]) == 20
    record = json.loads((split / "config.json").read_text())
    assert record["status"] == "complete" and record["resumed"][0]["from_step"] == 10
    assert record["config"]["iterations"] == 20


@pytest.mark.slow
def test_resume_after_an_interruption_redoes_steps_past_the_last_snapshot(tmp_path):
    straight = _run(tmp_path, "ref", "--iterations", "9", "--snapshot-every", "4", "--optimizer", "adam")
    run = _run(tmp_path, "cut", "--iterations", "5", "--snapshot-every", "4", "--optimizer", "adam")  # state after 5
    # As if Ctrl-C came after step 6: rows past the saved state exist, and the run says it was interrupted.
    with open(run / "metrics.csv", "a", newline="") as handle:
        csv.writer(handle).writerows([[5, 1, 1, 1, 0, 9.0], [6, 1, 1, 1, 0, 9.5]])
    record = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**record, "status": "interrupted"}))
    assert cli.main(["run", "--resume", str(run), "--iterations", "9", "-q"]) == 0
    picture = np.asarray(Image.open(run / "generated.png"))
    np.testing.assert_array_equal(picture, np.asarray(Image.open(straight / "generated.png")))
    with open(run / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["iteration"]) for r in rows] == list(range(9))
    with open(straight / "metrics.csv") as handle:
        assert [r["total"] for r in rows] == [r["total"] for r in csv.DictReader(handle)]


@pytest.mark.slow
def test_an_lbfgs_run_resumes_from_its_last_snapshot(tmp_path):
    run = _run(tmp_path, "lbfgs", "--iterations", "4", "--snapshot-every", "2")  # the default optimizer
    saved = _state(run)
    assert int(saved["steps"]) == 4 and not [k for k in saved if k.startswith("optimizer_")]
    assert cli.main(["run", "--resume", str(run), "--iterations", "7", "-q"]) == 0
    with open(run / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["iteration"]) for r in rows] == list(range(7))
    totals = [float(r["total"]) for r in rows]
    assert all(later <= earlier for earlier, later in zip(totals, totals[1:], strict=False))  # downhill throughout
    record = json.loads((run / "config.json").read_text())
    assert record["status"] == "complete" and record["config"]["optimizer"] == "lbfgs"
    assert sorted(p.name for p in (run / "snapshots").glob("*.png"))[-1] == "iter_00006.png"


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--iterations", "3"], "already has"),
        (["--style-weight", "5"], "only --iterations"),
        ([CONTENT, STYLE], "pictures"),
    ],
)
def test_resume_refuses_what_it_cannot_honour(tmp_path, capsys, extra, message):
    run = _run(tmp_path, "r", "--iterations", "3")
    capsys.readouterr()
    args = ["run", "--resume", str(run), *extra] if extra[0].startswith("-") else ["run", *extra, "--resume", str(run)]
    assert cli.main(args) == 2
    assert message in capsys.readouterr().err
    missing = tmp_path / "nothing"
    missing.mkdir()
    assert cli.main(["run", "--resume", str(missing)]) == 2


def test_notebook_helper_shows_snapshots_and_returns_the_picture(monkeypatch, content_image, style_image):
    shown = []

    class Handle:
        def update(self, picture):
            shown.append(picture.size)

    def fake_display(picture, display_id=False):
        shown.append(picture.size)
        return Handle()

    monkeypatch.setattr(notebook, "_display", lambda: fake_display)
    config = DEFAULT.replace(iterations=4, snapshot_every=2, image_size=32, weights="random", seed=0)
    result = notebook.stylize_live(content_image, style_image, config)
    assert result.shape == (1, 21, 32, 3) and 0 <= result.min() and result.max() <= 1
    assert shown == [(32, 21)] * 3  # steps 0, 2 and the last
    assert notebook.show(result).size == (32, 21)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_report_renders_in_a_headless_browser(finished_run, tmp_path):
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "screenshot_report.sh"), str(finished_run), str(shot)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[1] == 1280 and pixels.std() > 20
    top = pixels[:600]  # the three pictures sit near the top: plenty of non-white there
    assert (top.sum(axis=2) < 600).mean() > 0.1
