"""How a long computation meets the process: quiet TensorFlow start-up, SIGTERM and Ctrl-C, exit statuses.

Shared by the library's run-folder entries (`nst_tf.optim.run_loop`, the trainers, sound) and the command
line: TensorFlow's native start-up lines (written to file descriptor 2 before any Python log level applies)
kept off the terminal, SIGTERM turned into an interruption handled like Ctrl-C (`Terminated`, exit 143
instead of 130), and a stop flag that a training loop reads between two steps.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so the same cleanup as Ctrl-C runs (exit 143)."""


def interrupted_status(exc: KeyboardInterrupt) -> int:
    """The exit status of an interruption: 143 for SIGTERM, 130 for Ctrl-C."""
    return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises `Terminated` (a KeyboardInterrupt) in the main thread."""

    def raise_terminated(signum, frame):
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, raise_terminated)
    except ValueError:  # not the main thread (e.g. a notebook's worker): leave SIGTERM alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[Callable[[], bool]]:
    """Ctrl-C and SIGTERM set a flag that a training loop reads between steps (a second Ctrl-C aborts).

    Yields `should_stop()`: False, or the number of the signal that asked (truthy). Outside the main thread
    (a notebook's worker) the signals are left alone.
    """
    flag = {"stop": False}

    def handler(signum, frame):
        if flag["stop"] and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag["stop"] = flag["stop"] or signum

    try:
        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:
        yield lambda: flag["stop"]
        return
    try:
        yield lambda: flag["stop"]
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the block (TensorFlow's CUDA probing on import writes
    absl lines there before any log level applies). NST_TF_DEBUG=1 keeps them."""
    if os.environ.get("NST_TF_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and Keras (and probe the devices) with their native start-up lines silenced."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_silenced():
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_logical_devices()


def exit_with(status: int) -> None:
    """Leave the process with `status`. A Ctrl-C that lands after the command returned (while the interpreter
    shuts down: threads joined, files closed) would otherwise end the process by SIGINT instead, losing the
    status the command chose (e.g. 130 with its one line already written); so SIGINT is ignored from here."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(status)
