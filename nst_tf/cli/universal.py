"""`python -m nst_tf universal`: stylize with any style picture in one pass (WCT or AdaIN).

(The stylize command is being written; `universal-train` is registered from here.)
"""

from __future__ import annotations

import argparse

from nst_tf.cli import universal_train


def add_parser(subparsers) -> None:
    """Register `universal` and `universal-train`."""
    universal_train.add_parser(subparsers)


def command(args: argparse.Namespace) -> int:
    """Dispatch to the command the user chose; returns the exit status."""
    return universal_train.command(args)
