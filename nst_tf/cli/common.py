"""What every command shares: the one-line argparse, the help formatter, logging.

Commands report bad input as one `nst_tf: error: ...` line on stderr and exit status 2; this module holds
the pieces that make that true whatever the command: an ArgumentParser whose usage errors are one line,
the stderr log handler, and the hold on library warnings during the checks. Quiet TensorFlow start-up,
SIGTERM and the exit statuses are the library's (`nst_tf.runtime`), used by the commands directly.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator

from nst_tf.runtime import EXIT_BAD_INPUT

log = logging.getLogger("nst_tf")


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
