"""The ownership rule (nst_tf.io.ownership) for every command that takes an output place: a user's files in
or at that place are left byte for byte, and the exit status says why (2: refused before anything was made).

The two cases of issue 22 are here as they were found: `universal --run-dir FOLDER --overwrite` over a
folder holding the user's config.json and thesis.txt, and `compare -o FOLDER` over the user's diff.png.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_image
from PIL import Image
from scipy.io import wavfile

from nst_tf.cli.main import main
from nst_tf.errors import ConfigError
from nst_tf.io.ownership import LEDGER, MARKER, OwnedFiles

ROOT = Path(__file__).resolve().parents[2]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` (and the folder's entries) by SHA-256: what 'byte for byte' compares."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(folder.rglob("*"))
    }


def user_folder(folder: Path, files: dict[str, bytes]) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return snapshot(folder)


def refused(capsys, argv: list[str], words: str = "") -> str:
    """The command exits 2 with one line on stderr (containing `words`) and no traceback."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nst_tf: error: ") and "Traceback" not in err, err
    assert words in err, err
    return err


@pytest.fixture()
def pictures(tmp_path) -> dict[str, Path]:
    paths = {}
    for name, seed in (("content", 1), ("style", 2)):
        paths[name] = tmp_path / f"{name}.png"
        Image.fromarray((tiny_image(32, 40, seed=seed)[0] * 255).astype(np.uint8)).save(paths[name])
    return paths


THESIS = {"config.json": b'{"my": "settings"}\n', "thesis.txt": b"chapter 1\n"}


# --- the two cases of the issue -----------------------------------------------------------------------


def test_universal_run_dir_overwrite_leaves_the_users_folder(tmp_path, pictures, capsys):
    folder = tmp_path / "mine"
    before = user_folder(folder, THESIS)
    argv = ["universal", str(pictures["content"]), str(pictures["style"]), "--run-dir", str(folder)]
    refused(capsys, [*argv, "--overwrite"], "not an nst_tf run folder")
    refused(capsys, argv, "already exists")
    assert snapshot(folder) == before


def test_compare_leaves_the_users_diff_png(tmp_path, pictures, capsys):
    folder = tmp_path / "cmp"
    before = user_folder(folder, {"diff.png": b"my own diff", "notes.txt": b"notes"})
    argv = ["compare", str(pictures["content"]), str(pictures["style"]), "--image-size", "16", "-o", str(folder)]
    refused(capsys, [*argv, "--iterations", "1", "--overwrite"], "not written by nst_tf")
    refused(capsys, [*argv, "--iterations", "1"], "not written by nst_tf")
    assert snapshot(folder) == before


def test_compare_writes_beside_the_users_files_and_replaces_only_its_own_report(tmp_path, pictures, capsys):
    pytest.importorskip("torch")
    folder = tmp_path / "cmp"
    user_folder(folder, {"notes.txt": b"mine"})
    argv = ["compare", str(pictures["content"]), str(pictures["style"]), "--image-size", "32", "--iterations", "1"]
    argv += ["--weights", "hed-vgg16", "-o", str(folder), "-q"]
    assert main(argv) in (0, 1)  # 1: the backends disagree beyond a tolerance (the report is written either way)
    ledger = json.loads((folder / LEDGER).read_text())["files"]
    assert set(ledger) == {"report.json", "report.md", "parity.png", "tf.png", "torch.png", "diff.png"}
    refused(capsys, argv, "pass --overwrite")
    assert main([*argv, "--overwrite"]) in (0, 1)  # its own report, named in the ledger
    assert (folder / "notes.txt").read_bytes() == b"mine" and not (folder / MARKER).exists()


# --- the rule itself ----------------------------------------------------------------------------------


def test_owned_files_replace_only_what_the_ledger_names(tmp_path):
    folder = tmp_path / "users"
    user_folder(folder, {"notes.txt": b"mine"})
    planned = OwnedFiles.plan(folder, ["a.txt"], overwrite=False, what="-o")
    planned.write("a.txt", lambda tmp: tmp.write_text("first"))
    ledger = json.loads((folder / LEDGER).read_text())["files"]
    assert ledger == {"a.txt": hashlib.sha256(b"first").hexdigest()} and not (folder / MARKER).exists()
    with pytest.raises(ConfigError, match="pass --overwrite"):
        OwnedFiles.plan(folder, ["a.txt"], overwrite=False, what="-o")
    OwnedFiles.plan(folder, ["a.txt"], overwrite=True, what="-o").write("a.txt", lambda tmp: tmp.write_text("2nd"))
    assert (folder / "a.txt").read_text() == "2nd"
    (folder / "a.txt").write_text("the user edited it")  # no longer the bytes nst_tf wrote: the user's now
    with pytest.raises(ConfigError, match="not written by nst_tf"):
        OwnedFiles.plan(folder, ["a.txt"], overwrite=True, what="-o")
    with pytest.raises(ConfigError, match="not written by nst_tf"):
        OwnedFiles.plan(folder, ["notes.txt"], overwrite=True, what="-o")
    assert (folder / "notes.txt").read_bytes() == b"mine" and (folder / "a.txt").read_text() == "the user edited it"


def test_owned_files_new_folder_with_a_kind_is_marked_and_a_foreign_ledger_is_refused(tmp_path):
    planned = OwnedFiles.plan(tmp_path / "new", ["r.json"], overwrite=False, what="-o", kind="compare")
    assert not (tmp_path / "new").exists()  # planning makes nothing
    planned.write("r.json", lambda tmp: tmp.write_text("{}"))
    assert json.loads((tmp_path / "new" / MARKER).read_text())["kind"] == "compare"
    assert not (tmp_path / "new" / LEDGER).exists()  # a marked folder is nst_tf's whole: no ledger needed
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / LEDGER).write_text("the user's own file of that name")
    with pytest.raises(ConfigError, match="never replaced"):
        OwnedFiles.plan(tmp_path / "odd", ["r.json"], overwrite=True, what="-o")


# --- every command with an output place ---------------------------------------------------------------


def test_run_refuses_the_users_folder(tmp_path, pictures, capsys):
    before = user_folder(tmp_path / "out" / "mine", THESIS)
    argv = ["run", str(pictures["content"]), str(pictures["style"]), "--iterations", "1", "--image-size", "16"]
    refused(capsys, [*argv, "-o", str(tmp_path / "out"), "--name", "mine", "--overwrite"], "not an nst_tf run")
    refused(capsys, [*argv, "-o", str(tmp_path / "out"), "--name", "mine"], "already exists")
    assert snapshot(tmp_path / "out" / "mine") == before


def test_audio_refuses_the_users_folder(tmp_path, capsys):
    wavfile.write(tmp_path / "a.wav", 8000, np.zeros(4000, np.float32))
    before = user_folder(tmp_path / "mine", THESIS)
    argv = [
        "audio",
        str(tmp_path / "a.wav"),
        str(tmp_path / "a.wav"),
        "-o",
        str(tmp_path / "mine"),
        "--iterations",
        "1",
    ]
    refused(capsys, [*argv, "--overwrite"], "not an nst_tf run folder")
    assert snapshot(tmp_path / "mine") == before


def _photos(folder: Path) -> Path:
    folder.mkdir()
    for seed in range(2):
        Image.fromarray((tiny_image(40, 40, seed=seed)[0] * 255).astype(np.uint8)).save(folder / f"p{seed}.png")
    return folder


def test_train_refuses_a_model_dir_whose_run_or_model_is_the_users(tmp_path, pictures, capsys):
    photos = _photos(tmp_path / "photos")
    model = tmp_path / "model"
    before = user_folder(model, {"run/config.json": b"{}", "run/thesis.txt": b"mine"})
    argv = ["train", str(pictures["style"]), "--data", str(photos), "--steps", "1", "-o", str(model)]
    refused(capsys, argv, "not an nst_tf training run folder")
    assert snapshot(model) == before
    other = tmp_path / "model2"
    before = user_folder(other, {"model.json": b'{"mine": 1}', "notes.txt": b"x"})
    refused(capsys, [*argv[:-1], str(other)], "not a model nst_tf saved")
    assert snapshot(other) == before


def test_universal_train_refuses_the_users_run_folder_and_decoder_files(tmp_path, capsys):
    photos = _photos(tmp_path / "photos")
    argv = ["universal-train", "--data", str(photos), "--steps", "1", "--crop", "32", "--batch", "1", "--name", "d"]
    ck, out = tmp_path / "ck", tmp_path / "out"
    before_ck = user_folder(ck, {"run/config.json": b"{}", "run/thesis.txt": b"mine"})
    refused(capsys, [*argv, "--checkpoint-dir", str(ck), "-o", str(out)], "not an nst_tf training run folder")
    assert snapshot(ck) == before_ck and not out.exists()
    before_out = user_folder(out, {"d.json": b'{"my": "decoder notes"}', "d.weights.h5": b"mine"})
    refused(capsys, [*argv, "--checkpoint-dir", str(tmp_path / "ck2"), "-o", str(out)], "not written by nst_tf")
    assert snapshot(out) == before_out and not (tmp_path / "ck2").exists()


def test_universal_output_file_is_kept_without_overwrite(tmp_path, pictures, capsys):
    target = tmp_path / "result.png"
    target.write_bytes(b"the user's picture")
    argv = ["universal", str(pictures["content"]), str(pictures["style"]), "-o", str(target)]
    refused(capsys, argv, "exists")
    assert target.read_bytes() == b"the user's picture"


def test_bench_json_keeps_a_file_that_is_not_a_bench_report(tmp_path, capsys):
    target = tmp_path / "mine.json"
    target.write_bytes(b'{"my": "numbers"}')
    refused(capsys, ["bench", "--iterations", "1", "--warmup", "1", "--json", str(target)], "not written by nst_tf")
    assert target.read_bytes() == b'{"my": "numbers"}' and sorted(os.listdir(tmp_path)) == ["mine.json"]


def test_weights_convert_keeps_an_existing_destination(tmp_path, capsys):
    source, target = tmp_path / "src.h5", tmp_path / "mine.npz"
    source.write_bytes(b"not read: the destination is checked first")
    target.write_bytes(b"the user's weights")
    refused(capsys, ["weights", "convert", str(source), str(target)], "already exists")
    assert target.read_bytes() == b"the user's weights"


def test_score_json_writes_no_file(tmp_path, pictures, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    argv = ["score", str(pictures["content"]), "--content", str(pictures["content"]), "--style", str(pictures["style"])]
    assert main([*argv, "--json"]) == 0
    assert "style_distance" in json.loads(capsys.readouterr().out)
    assert snapshot(tmp_path) == before


def test_apply_writes_beside_the_users_files_and_replaces_only_its_own(tmp_path, capsys):
    photo = ROOT / "images" / "chelsea.png"
    folder = tmp_path / "out"
    user_folder(folder, {"notes.txt": b"mine", "chelsea_starry_night.png": b"the user's picture"})
    argv = ["apply", "starry_night", str(photo), "--image-size", "32", "-o", str(folder)]
    before = snapshot(folder)
    refused(capsys, [*argv, "--overwrite"], "not written by nst_tf")
    assert snapshot(folder) == before
    os.rename(folder / "chelsea_starry_night.png", tmp_path / "moved.png")  # the user moves theirs away
    assert main(argv) == 0
    first = (folder / "chelsea_starry_night.png").read_bytes()
    capsys.readouterr()
    assert main(argv) == 0  # a re-run skips what it already wrote (issue 26): its own file, in the ledger
    assert "1 of 1 pictures already written; skipped" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0  # --overwrite redoes its own file
    assert (folder / "chelsea_starry_night.png").read_bytes() == first  # the same network, the same picture
    assert (folder / "notes.txt").read_bytes() == b"mine" and (
        tmp_path / "moved.png"
    ).read_bytes() == b"the user's picture"


def test_an_old_universal_run_folder_may_be_replaced_but_not_with_the_users_file_in_it(tmp_path):
    from nst_tf.universal.report import plan_run_folder

    record = json.dumps({"command": "universal", "settings": {}, "timing": {}, "pictures": {"result": "result.png"}})
    old = {"config.json": record.encode(), "result.png": b"png", "style_1.png": b"png", "report.html": b"<p>"}
    user_folder(tmp_path / "old", old)
    planned = plan_run_folder(tmp_path / "old", overwrite=True)  # written before the marker existed: nst_tf's
    assert planned.replaces
    before = user_folder(tmp_path / "mixed", {**old, "thesis.txt": b"mine"})
    with pytest.raises(ConfigError, match="not an nst_tf run folder"):
        plan_run_folder(tmp_path / "mixed", overwrite=True)
    assert snapshot(tmp_path / "mixed") == before


def test_an_old_training_run_folder_is_adopted_and_a_users_is_refused(tmp_path):
    from nst_tf.training.runlog import RunLog, check_run_folder

    user_folder(tmp_path / "old", {"config.json": b"{}", "metrics.csv": b"step,total,seconds\n1,2.0,0.5\n"})
    log = RunLog(tmp_path / "old", {"steps": 2}, start_step=1, tensorboard=False, fields=("step", "total", "seconds"))
    log.step(2, {"total": 1.0}, 0.25)
    log.close()
    assert (tmp_path / "old" / MARKER).is_file()
    assert (tmp_path / "old" / "metrics.csv").read_text() == "step,total,seconds\n1,2,0.5\n2,1,0.25\n"
    before = user_folder(tmp_path / "users", {"config.json": b"{}", "thesis.txt": b"mine"})
    with pytest.raises(ConfigError, match="not an nst_tf training run folder"):
        check_run_folder(tmp_path / "users")
    with pytest.raises(ConfigError, match="not an nst_tf training run folder"):
        RunLog(tmp_path / "users", {"steps": 1}, tensorboard=False)
    assert snapshot(tmp_path / "users") == before


def test_an_old_compare_report_may_be_replaced_unless_the_folder_holds_anything_else(tmp_path):
    from nst_tf.parity.report import plan_report

    report = {"tolerances": {}, "within_tolerance": True, "costs": {}, "diff_amplification": 10.0}
    old = {"report.json": json.dumps(report).encode(), "report.md": b"# old", "diff.png": b"png", "tf.png": b"png"}
    user_folder(tmp_path / "old", old)
    with pytest.raises(ConfigError, match="pass --overwrite"):
        plan_report(tmp_path / "old", overwrite=False)
    assert plan_report(tmp_path / "old", overwrite=True).names  # nst_tf's report from before the ledger
    before = user_folder(tmp_path / "mixed", {**old, "thesis.txt": b"mine"})
    with pytest.raises(ConfigError, match="not written by nst_tf"):
        plan_report(tmp_path / "mixed", overwrite=True)
    assert snapshot(tmp_path / "mixed") == before


def test_a_folder_filled_by_an_older_apply_is_recognised_only_while_it_holds_nothing_else(tmp_path):
    from nst_tf.io.ownership import recognise_filled_folder

    old = recognise_filled_folder(r".+_starry\.png")
    user_folder(tmp_path / "out", {"a_starry.png": b"1", "b_starry.png": b"2"})
    assert OwnedFiles.plan(tmp_path / "out", ["a_starry.png"], overwrite=True, what="-o", recognise=old).names
    before = user_folder(tmp_path / "out", {"notes.txt": b"mine"})
    with pytest.raises(ConfigError, match="not written by nst_tf"):
        OwnedFiles.plan(tmp_path / "out", ["a_starry.png"], overwrite=True, what="-o", recognise=old)
    assert snapshot(tmp_path / "out") == before
