"""Hostile weights files (issue 12's "weights files" category): never a hang, never a traceback, one line.

Generated inputs only: a named pipe (FIFO) given as a weights file or lying in the weights folder, a
directory, a symbolic-link loop, a dangling link, a file the user cannot read, an `.npz` whose member
inflates to a gigabyte, an `.npz` whose `.npy` header declares a giant shape, an `.npz` carrying a pickle,
truncated files. Command-line cases run as separate processes under a timeout (a hang fails the test) and
assert exit status 2, exactly one line on stderr, no traceback, and that nothing of the user's changed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import IMAGES, ROOT
from hostile import assert_one_line, cli_subprocess, unprivileged_prefix

from nst_tf.cli.main import main
from nst_tf.errors import WeightsError
from nst_tf.vgg import weights as W

GIB = 1 << 30


def _npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _metadata_member() -> bytes:
    meta = json.dumps(W.npz_metadata(W.random_weights(0))).encode()
    return _npy_header((len(meta),), "|u1") + meta


def _deflated_zeros(prefix: bytes, size: int) -> tuple[bytes, int]:
    """(raw deflate stream, CRC-32) of `prefix` + `size` zero bytes, in about a second.

    Each Z_FULL_FLUSH makes the compressor forget its history, so one compressed 16 MiB block of zeros
    can be repeated: the stream inflates to the full size, as any zip reader checks (CRC included).
    """
    chunk = bytes(1 << 24)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(prefix)
    for _ in range(size // len(chunk)):
        crc = zlib.crc32(chunk, crc)
    return head + block * (size // len(chunk)) + compressor.flush(), crc


def _write_zip(path: Path, members: list[tuple[str, bytes, int, int, int]]) -> Path:
    """A ZIP of (name, data, crc, uncompressed size, method 0 stored | 8 deflated) members, by the spec."""
    local, central = b"", b""
    for name, data, crc, size, method in members:
        raw = name.encode()
        central += struct.pack(
            "<4s6H3L5H2L",
            b"PK\x01\x02",
            20,
            20,
            0,
            method,
            0,
            0,
            crc,
            len(data),
            size,
            len(raw),
            0,
            0,
            0,
            0,
            0,
            len(local),
        )
        central += raw
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(data), size, len(raw), 0)
        local += raw + data
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(local), 0)
    path.write_bytes(local + central + end)
    return path


def write_npz_bomb(path: Path, member: str = "block1_conv1.kernel", size: int = GIB) -> Path:
    """An .npz of about 1 MB whose member `member` inflates to `size` bytes (zeros after its .npy header)."""
    header = _npy_header((size // (4 * 4096), 4096))
    data, crc = _deflated_zeros(header, size)
    members = [(f"{member}.npy", data, crc, len(header) + size, 8)]
    if member != W.npz.NPZ_META:
        meta = _metadata_member()
        members.insert(0, (f"{W.npz.NPZ_META}.npy", meta, zlib.crc32(meta), len(meta), 0))
    return _write_zip(path, members)


def write_npz_header_lie(path: Path) -> Path:
    """A small .npz whose kernel member's .npy header declares (16384, 16384) float32: 1 GiB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{W.npz.NPZ_META}.npy", _metadata_member())
        archive.writestr("block1_conv1.kernel.npy", _npy_header((16384, 16384)) + bytes(1024))
    return path


class Planted:
    """Unpickling it would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def write_npz_pickle(path: Path, marker: Path) -> Path:
    payload = np.empty(1, dtype=object)
    payload[0] = Planted(marker)
    np.savez(path, **{W.npz.NPZ_META: payload})  # NumPy pickles object arrays
    return path


@pytest.fixture
def hostile(tmp_path) -> dict[str, Path]:
    """One of each hostile entry, in a folder of its own."""
    folder = tmp_path / "hostile"
    folder.mkdir()
    os.mkfifo(folder / "fifo.h5")
    (folder / "folder.npz").mkdir()
    os.symlink(folder / "loop.pth", folder / "loop.pth")
    os.symlink(folder / "absent.h5", folder / "dangling.h5")
    onnx = W.onnx_file_path()
    (folder / "cut.onnx").write_bytes(onnx.read_bytes()[: 3 << 20])
    return {
        "fifo": folder / "fifo.h5",
        "dir": folder / "folder.npz",
        "loop": folder / "loop.pth",
        "dangling": folder / "dangling.h5",
        "cut_onnx": folder / "cut.onnx",
        "header_lie": write_npz_header_lie(folder / "lie.npz"),
        "pickle": write_npz_pickle(folder / "pickled.npz", tmp_path / "ran"),
    }


def _snapshot(folder: Path) -> dict[str, str]:
    """What is in `folder`: names, kinds, and the hash of every regular file (to show nothing changed)."""
    state = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            state[path.name] = "link->" + os.readlink(path)
        elif path.is_file():
            state[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            state[path.name] = oct(path.lstat().st_mode)
    return state


def run_process(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def assert_one_line_refusal(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("nst_tf: error: "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    for word in words:
        assert word in result.stderr


@pytest.mark.parametrize(
    "kind, words",
    [
        ("fifo", ["named pipe (FIFO)"]),
        ("dir", ["is a directory"]),
        ("loop", ["symbolic link loop"]),
        ("dangling", ["no such weights file", "symbolic link to a missing file"]),
        ("cut_onnx", ["not a readable ONNX file"]),
        ("header_lie", ["(16384, 16384)", "expected (3, 3, 3, 64)"]),
        ("pickle", ["not plain numbers", "never unpickled"]),
    ],
)
def test_weights_verify_refuses_in_one_line(hostile, kind, words):
    before = _snapshot(hostile["fifo"].parent)
    result = run_process("-m", "nst_tf", "weights", "verify", str(hostile[kind]))
    assert_one_line_refusal(result, str(hostile[kind]), *words)
    assert _snapshot(hostile["fifo"].parent) == before
    assert not (hostile["pickle"].parent.parent / "ran").exists()


def test_convert_and_run_refuse_a_fifo_and_create_nothing(hostile, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    result = run_process("-m", "nst_tf", "weights", "convert", str(hostile["fifo"]), str(out / "x.npz"))
    assert_one_line_refusal(result, "named pipe (FIFO)")
    content, style = str(IMAGES / "chelsea.png"), str(IMAGES / "ihc.png")
    argv = ["run", content, style, "--weights", str(hostile["fifo"]), "-o", str(out), "--image-size", "32"]
    result = run_process("-m", "nst_tf", *argv)
    assert_one_line_refusal(result, "named pipe (FIFO)")
    assert not list(out.iterdir())


def test_a_weights_folder_of_hostile_entries_never_blocks(hostile, tmp_path):
    """`--weights auto` and `weights list` with FIFOs named like the files they look for, a folder, a loop,
    and an .npz whose metadata member inflates to a gigabyte."""
    folder = hostile["fifo"].parent
    os.mkfifo(folder / W.KERAS_NOTOP)
    os.mkfifo(folder / W.MATCONVNET_FILE)
    os.mkfifo(folder / "converted.npz")
    write_npz_bomb(folder / "meta_bomb.npz", member=W.npz.NPZ_META)
    env = {"NST_TF_PRETRAINED": str(folder)}
    code = "from nst_tf.vgg.weights import resolve_weights; print(resolve_weights('auto').source)"
    result = run_process("-c", code, env=env)
    assert result.returncode == 0 and result.stdout.strip() == "imagenet-vgg16", result.stderr
    result = run_process("-m", "nst_tf", "weights", "list", env=env)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout.count("why: is a named pipe (FIFO)") == 4
    assert "why: is a directory" in result.stdout and "why: a symbolic link loop" in result.stdout
    assert "meta_bomb.npz" in result.stdout and "more than it can hold" in result.stdout


def test_an_npz_bomb_is_refused_from_its_declared_sizes(tmp_path):
    bomb = write_npz_bomb(tmp_path / "bomb.npz")
    assert bomb.stat().st_size < 2 << 20
    with zipfile.ZipFile(bomb) as archive:  # the member's true inflated size, as any writer declares it
        assert archive.getinfo("block1_conv1.kernel.npy").file_size > GIB
        with archive.open("block1_conv1.kernel.npy") as handle:  # and it does inflate: 64 MiB of it here
            assert len(handle.read(64 << 20)) == 64 << 20
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(WeightsError, match=r"block1_conv1.kernel declares 1,073,741,\d+ bytes") as info:
            W.load_weights_file(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "\n" not in str(info.value) and peak < 64 << 20 and time.perf_counter() - started < 10


def test_the_header_check_reads_no_data(tmp_path):
    """The .npy header's shape is refused before its data is read (the member here is only 1 KB long)."""
    with pytest.raises(WeightsError, match=r"has shape \(16384, 16384\), expected \(3, 3, 3, 64\)"):
        W.load_weights_file(write_npz_header_lie(tmp_path / "lie.npz"))


def test_an_unreadable_file_is_one_line(tmp_path, monkeypatch, capsys):
    path = tmp_path / "locked.npz"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    real_open = os.open

    def denied(name, *args, **kwargs):  # what chmod 000 does for anyone but root
        if Path(name) == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(name))
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    assert main(["weights", "verify", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "permission denied: the weights file cannot be read" in err


def test_chmod_000_is_one_line(tmp_path):
    # In a child that obeys file modes (root: CAP_DAC_READ_SEARCH dropped; see hostile.unprivileged_prefix).
    prefix = unprivileged_prefix(tmp_path)
    path = tmp_path / "locked.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    path.chmod(0)
    assert_one_line(cli_subprocess("weights", "verify", path, timeout=240, prefix=prefix), 2, "permission denied")


def test_truncated_keras3_and_onnx_files(tmp_path):
    hed = W.hed_file_path().read_bytes()  # a Keras 3 .weights.h5 layout
    (tmp_path / "cut.weights.h5").write_bytes(hed[: len(hed) // 2])
    onnx = W.onnx_file_path().read_bytes()
    (tmp_path / "cut.onnx").write_bytes(onnx[: len(onnx) - 1000])
    for name, message in (("cut.weights.h5", "cannot read the HDF5"), ("cut.onnx", "ONNX")):
        with pytest.raises(WeightsError, match=message) as info:
            W.load_weights_file(tmp_path / name)
        assert "\n" not in str(info.value)
    empty = tmp_path / "empty.npz"
    empty.touch()
    with pytest.raises(WeightsError, match="is empty"):
        W.load_weights_file(empty)


def test_an_hdf5_kernel_declaring_gigabytes_is_refused_before_reading(tmp_path):
    """A chunked HDF5 dataset never written reads back as its fill value: 7 GiB here, from a 4 KB file."""
    import h5py

    path = tmp_path / "giant.h5"
    layers = W.random_weights(0).layers
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [name.encode() for name in layers]
        for name, (_, bias) in layers.items():
            group = f.create_group(name)
            group.attrs["weight_names"] = [b"kernel:0", b"bias:0"]
            if name == "block1_conv1":
                group.create_dataset("kernel:0", shape=(3, 3, 3, 1 << 26), dtype="f4", chunks=True, compression="gzip")
            else:
                group.create_dataset("kernel:0", shape=(1, 1, 1, 1), dtype="f4")  # shape only, never read
            group.create_dataset("bias:0", data=bias)
    tracemalloc.start()
    try:
        with pytest.raises(WeightsError, match=r"block1_conv1 has kernel \(3, 3, 3, 67108864\)"):
            W.load_weights_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20


def test_a_torch_zip_that_inflates_is_refused(tmp_path):
    pickled = b"\x80\x02}q\x00."  # an empty dict, never unpickled here
    data, crc = _deflated_zeros(b"", GIB)
    members = [
        ("archive/data.pkl", pickled, zlib.crc32(pickled), len(pickled), 0),
        ("archive/data/0", data, crc, GIB, 8),
    ]
    path = _write_zip(tmp_path / "bomb.pth", members)
    with pytest.raises(WeightsError, match="more than the file holds"):
        W.load_weights_file(path)
