"""`python -m nst_tf serve` as a user runs it (issue 28): it listens on loopback, serves the page, and on
Ctrl+C stops with status 0 and its work folder gone; a bad or busy port is one line and exit status 2."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from conftest import ROOT


def nst_serve(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen(
        [sys.executable, "-m", "nst_tf", "serve", *args], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs,
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """The IPv4 addresses a socket listens on at `port`, from the kernel's table (/proc/net/tcp)."""
    found = set()
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = row.split()[1], row.split()[3]
        address, port_hex = local.split(":")
        if int(port_hex, 16) == port and state == "0A":  # 0A: LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))  # little-endian hex
    return found


def test_serve_listens_on_loopback_serves_the_page_and_cleans_up_on_ctrl_c():
    port = free_port()
    server = nst_serve("--port", str(port))
    try:
        line = server.stdout.readline()
        assert line.startswith(f"nst_tf serve: http://127.0.0.1:{port}/ (work folder "), line
        folder = Path(line.split("work folder ")[1].split(",")[0])
        assert folder.is_dir()
        deadline = time.monotonic() + 120
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline and server.poll() is None, server.stderr.read()
                time.sleep(0.2)
        assert page.status_code == 200 and "<title>nst_tf" in page.text
        assert listening_addresses(port) == {"127.0.0.1"}  # loopback only, not 0.0.0.0
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=60) == 0
        assert not folder.exists()  # the app's temporary folder is removed at exit
        assert "Traceback" not in server.stderr.read()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_a_port_out_of_range_is_one_line_and_status_2():
    done = nst_serve("--port", "70000")
    out, err = done.communicate(timeout=120)
    assert done.returncode == 2
    assert err == "nst_tf: error: --port must be between 0 and 65535, not 70000\n"
    assert out == ""


def test_a_busy_port_is_one_line_and_status_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = nst_serve("--port", str(port))
        out, err = done.communicate(timeout=120)
    assert done.returncode == 2
    assert err.startswith(f"nst_tf: error: cannot listen on 127.0.0.1:{port}: ") and err.count("\n") == 1
    assert out == ""
