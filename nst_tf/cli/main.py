"""The command line's entry point: the parser made from the command modules, and the dispatch.

`python -m nst_tf COMMAND ...` and `nst-tf COMMAND ...` both land in `main`. Each command is a module
of this package with `add_parser(subparsers)` and `command(args) -> int` (see COMMANDS); this module
only builds the parser, configures logging and turns every `NSTError` into one `nst_tf: error: ...` line
on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from types import ModuleType

from nst_tf import __version__
from nst_tf.cli.common import OneLineParser, configure_logging
from nst_tf.errors import NSTError
from nst_tf.runtime import EXIT_BAD_INPUT, interrupted_status

# Command name -> module (each with add_parser(subparsers) and command(args) -> int). To add a command,
# write nst_tf/cli/<name>.py and add its line here.
COMMANDS = {
    "run": "nst_tf.cli.run",
    "compare": "nst_tf.cli.compare",
    "weights": "nst_tf.cli.weights",
    "bench": "nst_tf.cli.bench",
    "audio": "nst_tf.cli.audio",
    "score": "nst_tf.cli.score",
    "universal": "nst_tf.cli.universal",
    "universal-train": "nst_tf.cli.universal_train",
    "train": "nst_tf.cli.train",
    "apply": "nst_tf.cli.apply",
    "models": "nst_tf.cli.models",
    "video": "nst_tf.cli.video",
    "serve": "nst_tf.cli.serve",
}


def _module(name: str) -> ModuleType:
    return importlib.import_module(COMMANDS[name])


def build_parser() -> argparse.ArgumentParser:
    """The whole command line's parser (no TensorFlow is imported to build it)."""
    parser = OneLineParser(prog="nst_tf", description="Neural style transfer (Gatys et al.) in TensorFlow/Keras.")
    parser.add_argument("--version", action="version", version=f"nst_tf {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser)
    for name in COMMANDS:
        _module(name).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `nst-tf` and `python -m nst_tf`; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter off stderr
    configure_logging()
    args = build_parser().parse_args(argv)
    try:
        return _module(args.command).command(args)
    except NSTError as exc:
        sys.stderr.write(f"nst_tf: error: {' '.join(str(exc).split())}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as exc:
        sys.stderr.write("nst_tf: interrupted\n")
        return interrupted_status(exc)
