"""What every command shares: the one-line argparse, quiet TensorFlow start-up, logging, signals.

Commands report bad input as one `nst_tf: error: ...` line on stderr and exit status 2; this module holds
the pieces that make that true whatever the command: an ArgumentParser whose usage errors are one line,
a context that keeps TensorFlow's native start-up lines (written to file descriptor 2 before any Python
log level applies) off the terminal, the stderr log handler, and SIGTERM turned into an interruption
that the command handles like Ctrl-C (exit 143 instead of 130).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator

log = logging.getLogger("nst_tf")

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"nst_tf: error: {' '.join(message.split())} (see --help)\n")
        raise SystemExit(EXIT_BAD_INPUT)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows `(default: X)` for options whose default is not None or False (settings say their own)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return super()._get_help_string(action)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so the same cleanup as Ctrl-C runs (exit 143)."""


def interrupted_status(exc: KeyboardInterrupt) -> int:
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
    """Import TensorFlow (and probe its devices) with its native start-up lines silenced."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_silenced():
        import tensorflow as tf

        tf.config.list_logical_devices()


class StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is at the time (so redirection and test capture both work)."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(self.format(record) + "\n")


@contextlib.contextmanager
def warnings_held() -> Iterator[None]:
    """Hold the library's warning lines (e.g. the weights fallback) during the checks: a refusal is then
    the only line on stderr; when the block succeeds, the held lines are written after all."""
    held: list[logging.LogRecord] = []

    class Hold(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            held.append(record)

    saved = log.handlers[:]
    log.handlers = [Hold()]
    try:
        yield
    finally:
        log.handlers = saved
    for record in held:
        log.handle(record)


def configure_logging() -> None:
    """Library warnings (e.g. the weights fallback) as one `nst_tf: ...` line each on stderr."""
    if not any(isinstance(h, StderrHandler) for h in log.handlers):
        handler = StderrHandler()
        handler.setFormatter(logging.Formatter("nst_tf: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.WARNING)
        log.propagate = False
