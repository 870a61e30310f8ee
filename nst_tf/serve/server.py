"""Running the app: `serve(host, port)` checks the address, then runs uvicorn until Ctrl+C.

One process, one worker thread for the jobs (`nst_tf.serve.jobs`); bound to loopback unless the caller
names another address. The app's temporary folder is removed when uvicorn shuts the app down, and again
(harmlessly) on the way out, so an interrupted start leaves nothing behind.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

from nst_tf.errors import ConfigError

log = logging.getLogger(__name__)


def check_address(host: str, port: int) -> None:
    """Refuse a port out of range or an address this machine cannot listen on, before anything starts.

    Raises:
        ConfigError: one line saying which and why.
    """
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535, not {port}")
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind((host, port))
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def serve(host: str = "127.0.0.1", port: int = 8000, report: Callable[[str], None] = log.info) -> None:
    """Run the page at http://HOST:PORT/ until interrupted (SIGINT or SIGTERM: uvicorn's graceful stop).

    Args:
        host, port: where to listen (loopback by default: the page is for this machine's user).
        report: told, once listening is about to start, the page's address and the work folder.

    Raises:
        ConfigError: the address cannot be used.
    """
    check_address(host, port)
    import uvicorn

    from nst_tf.runtime import import_tensorflow_quietly
    from nst_tf.serve.app import close, create_app

    import_tensorflow_quietly()  # TensorFlow's start-up lines now, not in the middle of the first job
    app = create_app()
    report(f"nst_tf serve: http://{host}:{port}/ (work folder {app.state.workspace.root}, removed at exit)")
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
    finally:
        close(app)
