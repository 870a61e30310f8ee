"""The web page's test kit: one live app on a free loopback port for the session (uvicorn in a thread),
so the HTTP tests and the browser tests talk to a real server, and the networks load once."""

from __future__ import annotations

import socket
import threading
import time

import pytest


@pytest.fixture(scope="session")
def live_app():
    """(base URL, the app) of a running server; stopped, and its folder removed, at the end."""
    import uvicorn

    from nst_tf.serve.app import create_app

    app = create_app()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # a free port chosen by the kernel, held from here on (no race)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start in 30 s"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(30)
    sock.close()
