"""Hostile run folders: `run --overwrite` and refused `--resume` never lose anything of the user's.

`--overwrite` replaces only a run folder nst_tf wrote (it carries a marker); a user's folder, a symlink to
one, or a plain file of that name is refused in one line and left exactly as it was. An overwrite whose
new run is then refused by a later check leaves the old run intact (check everything, then create
anything). A refused `--resume` leaves the run folder byte for byte as it was, generated.png included."""

from __future__ import annotations

import pytest
from hostile import (
    FAST,
    assert_one_line,
    assert_unchanged,
    cli,
    cli_subprocess,
    copy_run,
    finished_run,
    picture,
    snapshot,
    user_folder,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """One finished 2-step Adam run, made once; each test works on a copy (with its own pictures)."""
    return finished_run(tmp_path_factory.mktemp("template"), "template")


def _user_documents(folder):
    folder.mkdir(parents=True)
    (folder / "chapter1.tex").write_text("\\chapter{One}\n")
    picture(folder / "figures" / "fig1.png")
    return folder


@pytest.mark.parametrize("kind", ["user_folder", "symlink_to_user_folder", "plain_file", "empty_folder"])
def test_overwrite_refuses_what_is_not_a_run(tmp_path, kind):
    user = user_folder(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    if kind == "user_folder":
        _user_documents(out / "thesis")
    elif kind == "symlink_to_user_folder":
        _user_documents(tmp_path / "documents")
        (out / "thesis").symlink_to(tmp_path / "documents")
    elif kind == "plain_file":
        (out / "thesis").write_text("my thesis\n")
    else:
        (out / "thesis").mkdir()
    before = snapshot(tmp_path)
    result = cli("run", user / "content.png", user / "style.png", "-o", out, "--name", "thesis", "--overwrite", *FAST)
    assert_one_line(result, 2, "thesis")
    assert_unchanged(before, tmp_path)


def test_a_derived_name_never_lands_in_a_user_folder(tmp_path):
    user = user_folder(tmp_path)
    _user_documents(tmp_path / "out" / "content_style")
    before = snapshot(tmp_path / "out" / "content_style")
    result = cli("run", user / "content.png", user / "style.png", "-o", tmp_path / "out", "--overwrite", *FAST)
    assert result.rc == 0, result.err  # numbered past the user's folder, which --overwrite never touches
    assert_unchanged(before, tmp_path / "out" / "content_style")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["content_style", "content_style_2"]
    assert (tmp_path / "out" / "content_style_2" / "generated.png").is_file()


def test_overwrite_of_a_finished_run_works(tmp_path):
    run = finished_run(tmp_path, "again")
    user = tmp_path / "user"
    result = cli("run", user / "content.png", user / "style.png", "-o", tmp_path / "out", "--name", "again",
                 "--overwrite", *FAST, "--iterations", "3")  # fmt: skip
    assert result.rc == 0, result.err
    assert (run / "generated.png").is_file() and not (run / "snapshots" / "iter_00001.png").exists()


LATE_REFUSALS = {
    "blend_nan": ["--style-blend", "nan,1"],
    "blend_inf": ["--style-blend", "inf,1"],
    "seed_negative": ["--seed", "-5"],
    "thin_style": [],
    "bad_init": ["--init", "not_a_picture.png"],
}


@pytest.mark.parametrize("case", sorted(LATE_REFUSALS))
def test_refused_overwrite_keeps_the_old_run(tmp_path, template, case):
    run = copy_run(template, tmp_path, "keep")
    user = tmp_path / "user"
    styles = [user / "style.png", user / "style.png"] if case.startswith("blend") else [user / "style.png"]
    if case == "thin_style":
        picture(user / "strip.png", 3, 1000)
        styles = [user / "strip.png"]
    before = snapshot(tmp_path)
    result = cli("run", user / "content.png", *styles, "-o", tmp_path / "out", "--name", "keep", "--overwrite",
                 *FAST, *LATE_REFUSALS[case])  # fmt: skip
    assert_one_line(result, 2)
    assert_unchanged(before, tmp_path)
    assert (run / "generated.png").is_file()


@pytest.mark.slow
def test_memory_refusal_on_overwrite_keeps_the_old_run(tmp_path, template):
    """The memory check used to run inside the optimiser, after the old run was deleted."""
    run = copy_run(template, tmp_path, "keep")
    user = tmp_path / "user"
    before = snapshot(tmp_path)
    # A run plans stages and tiles to fit its budget (issue 26); 1G is less than the runtime and weights
    # alone, so not even tiles fit and the run is refused, whatever this machine has free.
    result = cli_subprocess(
        "run", user / "content.png", user / "style.png", "-o", tmp_path / "out", "--name", "keep", "--overwrite",
        "--weights", "random", "-q", "--no-tb", "--image-size", 512, "--max-memory", "1G", timeout=240,
    )  # fmt: skip
    assert_one_line(result, 2, "memory")
    assert_unchanged(before, tmp_path)
    assert (run / "generated.png").is_file()


RESUME_REFUSALS = ["backend_torch", "content_replaced", "content_deleted", "style_is_now_a_folder", "extra_option"]


@pytest.mark.parametrize("case", RESUME_REFUSALS)
def test_refused_resume_keeps_the_run_byte_for_byte(tmp_path, template, case):
    run = copy_run(template, tmp_path, "resumable")
    user = tmp_path / "user"
    extra: list[str] = []
    if case == "backend_torch":
        extra = ["--backend", "torch"]
    elif case == "content_replaced":
        picture(user / "content.png", 40, 40, seed=7)  # another size: the saved state no longer fits
    elif case == "content_deleted":
        (user / "content.png").unlink()
    elif case == "style_is_now_a_folder":
        (user / "style.png").unlink()
        (user / "style.png").mkdir()
    elif case == "extra_option":
        extra = ["--style-weight", "3"]
    before = snapshot(tmp_path)
    result = cli("run", "--resume", run, "--iterations", "4", "-q", "--no-tb", *extra)
    assert_one_line(result, 2)
    assert_unchanged(before, tmp_path)
    assert (run / "generated.png").is_file()


@pytest.mark.parametrize("kind", ["user_folder", "plain_file", "missing", "symlink_loop"])
def test_resume_of_something_that_is_not_a_run(tmp_path, kind):
    user_folder(tmp_path)
    target = tmp_path / "thing"
    if kind == "user_folder":
        _user_documents(target)
    elif kind == "plain_file":
        target.write_text("not a run\n")
    elif kind == "symlink_loop":
        target.symlink_to(target)
    before = snapshot(tmp_path)
    result = cli("run", "--resume", target, "--iterations", "4", "-q", "--no-tb")
    assert_one_line(result, 2, "thing")
    assert_unchanged(before, tmp_path)
