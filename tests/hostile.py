"""Shared kit of the hostile-input suite (tests/test_hostile_*.py): run a command, check the promise.

The promise (README, issue 12): bad input is one line on stderr and exit status 2 (interruptions 130/143),
no traceback, nothing of the user's touched, nothing half-written, never a hang. `cli()` runs a command
in-process (fast: TensorFlow is imported once per test session); `cli_subprocess()` runs it in a child
with a timeout for what can hang (FIFOs) or must be seen at the file-descriptor level (signals, TensorFlow's
own log lines). `snapshot()` hashes every file under a folder so a test can say "nothing changed".
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent

# The cheapest real run: random VGG weights, two steps, a 32 px picture, no progress, no TensorBoard.
FAST = ["--weights", "random", "--iterations", "2", "--image-size", "32", "-q", "--no-tb", "--seed", "1"]


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def cli(*argv: str | os.PathLike) -> Result:
    """`nst_tf ARGV` in this process: exit status, stdout and stderr (what Python wrote to them)."""
    from nst_tf.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse's own errors and --help
            rc = exc.code if isinstance(exc.code, int) else 2
        except Exception:  # what the user would see: Python's traceback and exit status 1
            err.write(traceback.format_exc())
            rc = 1
    return Result(int(rc), out.getvalue(), err.getvalue())


# Root reads and writes whatever a file's mode says (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH). The promises
# about read-only folders and unreadable files are checked in a child without those two capabilities:
# setpriv (util-linux) drops them from the bounding set, so the exec'd Python never gets them.
DROP_DAC = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--inh-caps", "-all"]


def unprivileged_prefix(probe_dir: Path) -> list[str]:
    """The command prefix that makes a child obey file modes: [] for a normal user, DROP_DAC for root.

    For root it checks that the prefix really works here (a child must fail to write into a 0o555 folder);
    where it cannot (no setpriv, a container without the capability to drop), the test is skipped, saying so.
    """
    if os.geteuid() != 0:
        return []
    import pytest

    probe = probe_dir / "dac_probe"
    probe.mkdir(mode=0o555)
    try:
        done = subprocess.run(
            [*DROP_DAC, sys.executable, "-c", f"open({str(probe / 'x')!r}, 'w')"], capture_output=True, timeout=60
        )
    except FileNotFoundError:
        done = None
    finally:
        probe.chmod(0o755)
        if (probe / "x").exists():
            (probe / "x").unlink()
        probe.rmdir()
    if done is None or done.returncode == 0:
        pytest.skip("running as root and setpriv cannot drop CAP_DAC_OVERRIDE here: file modes cannot be tested")
    return DROP_DAC


def python_subprocess(code: str, prefix: list[str], timeout: float = 240) -> Result:
    """`python -c CODE` in a child (with this worktree's nst_tf), behind `prefix` (e.g. unprivileged_prefix)."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [*prefix, sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=environment,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return Result(done.returncode, done.stdout, done.stderr)


def cli_subprocess(
    *argv: str | os.PathLike,
    timeout: float = 90,
    env: dict | None = None,
    cwd=None,
    memory_gb: float = 0,
    prefix: list[str] | None = None,
) -> Result:
    """`python -m nst_tf ARGV` in a child; a hang fails the test (TimeoutExpired) instead of blocking CI.

    memory_gb > 0 caps the child's address space, so a case that would allocate tens of gigabytes fails
    with MemoryError in the child instead of taking a shared machine's memory. `prefix` goes before the
    interpreter (unprivileged_prefix: a root child that obeys file modes).
    """
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}

    def _cap() -> None:
        if memory_gb:
            import resource

            limit = int(memory_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    done = subprocess.run(
        [*(prefix or []), sys.executable, "-m", "nst_tf", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        preexec_fn=_cap if memory_gb else None,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def assert_one_line(result: Result, rc: int = 2, *words: str) -> str:
    """Exit status `rc`, exactly one line on stderr, no traceback; returns the line."""
    assert "Traceback" not in result.err and "Traceback" not in result.out, result.err
    assert result.rc == rc, f"exit {result.rc}, wanted {rc}; stderr: {result.err!r}"
    assert len(result.err_lines) == 1, f"{len(result.err_lines)} lines on stderr: {result.err!r}"
    line = result.err_lines[0]
    for word in words:
        assert word.lower() in line.lower(), f"{word!r} not in {line!r}"
    return line


def assert_no_traceback(result: Result) -> None:
    assert "Traceback" not in result.err and "Traceback" not in result.out, result.err


def snapshot(root: Path) -> dict[str, tuple]:
    """{relative path: what it is} for everything under root: file hashes and modes, link targets, kinds.

    Named pipes and devices are recorded by kind only (reading a FIFO would block).
    """
    found: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            info = os.lstat(path)
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(info.st_mode):
                found[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest(), stat.S_IMODE(info.st_mode))
            elif stat.S_ISDIR(info.st_mode):
                found[rel] = ("dir", stat.S_IMODE(info.st_mode))
            else:
                found[rel] = ("special", stat.S_IFMT(info.st_mode))
    return found


def assert_unchanged(before: dict[str, tuple], root: Path) -> None:
    """Nothing under root changed, and nothing was added (no half-written run folder)."""
    after = snapshot(root)
    changed = sorted(k for k in before if before[k] != after.get(k))
    added = sorted(set(after) - set(before))
    assert not changed and not added, f"changed: {changed[:5]}, added: {added[:5]}"


def picture(path: Path, height: int = 32, width: int = 48, seed: int = 0) -> Path:
    """A small smooth colourful PNG (or whatever the suffix says)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    phases = rng.uniform(0, 2 * np.pi, size=3)
    channels = [0.5 + 0.4 * np.sin(x / (3 + c) + y / (5 + c) + phases[c]) for c in range(3)]
    pixels = np.round(np.stack(channels, axis=2) * 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def user_folder(tmp_path: Path) -> Path:
    """tmp_path/user: a content and a style picture, and some of the user's own files beside them."""
    user = tmp_path / "user"
    picture(user / "content.png", 32, 48, seed=1)
    picture(user / "style.png", 40, 40, seed=2)
    (user / "notes.txt").write_text("the user's own notes\n")
    return user


def finished_run(tmp_path: Path, name: str = "done", *extra: str) -> Path:
    """A complete run folder OUT/NAME made by the real command (random weights, 2 steps, snapshots each)."""
    user = tmp_path / "user"
    if not (user / "content.png").exists():
        user_folder(tmp_path)
    result = cli(
        "run", user / "content.png", user / "style.png", "-o", tmp_path / "out", "--name", name,
        "--snapshot-every", "1", "--optimizer", "adam", *FAST, *extra,
    )  # fmt: skip
    assert result.rc == 0, result.err
    return tmp_path / "out" / name


def copy_run(template: Path, tmp_path: Path, name: str = "run") -> Path:
    """A private copy of a finished run folder, at tmp_path/out/NAME, with private copies of its pictures.

    The pictures the run names are copied to tmp_path/user (a test may replace or delete them) and the
    copy's config.json is pointed at them, so one run made per module serves every test.
    """
    import json
    import shutil

    target = tmp_path / "out" / name
    shutil.copytree(template, target, symlinks=True)
    record = json.loads((target / "config.json").read_text())
    user = tmp_path / "user"
    user.mkdir(exist_ok=True)
    (user / "notes.txt").write_text("the user's own notes\n")
    for key in ("content", "styles"):
        paths = record[key] if isinstance(record[key], list) else [record[key]]
        copies = []
        for original in paths:
            if original is None:
                copies.append(None)
                continue
            copy = user / Path(original).name
            shutil.copyfile(original, copy)
            copies.append(str(copy))
        record[key] = copies if isinstance(record[key], list) else copies[0]
    (target / "config.json").write_text(json.dumps(record, indent=2) + "\n")
    return target
