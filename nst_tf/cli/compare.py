"""`nst_tf compare`: TensorFlow and the PyTorch twin from one start, a parity report (nst_tf.twin.parity).

Placeholder move by the cli helper: the parser that lived in the old cli/main.py, in the one-module-per-
command shape; the core helper's own nst_tf/cli/compare.py replaces this file.
"""

from __future__ import annotations

import argparse
import os

from nst_tf.cli.common import HelpFormatter
from nst_tf.cli.settings import add_setting_options


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `compare` to the command line's subcommands; returns its parser."""
    compare = subparsers.add_parser(
        "compare", help="TensorFlow and the PyTorch twin from one start: a parity report", formatter_class=HelpFormatter
    )
    compare.add_argument("pictures", nargs="+", metavar="CONTENT STYLE", help="content picture, then style picture(s)")
    compare.add_argument("-o", "--output", help="report folder (default: output/compare_CONTENT_STYLE)")
    compare.add_argument("--float64", action="store_true", help="run both backends in double precision")
    compare.add_argument("--overwrite", action="store_true", help="replace an existing report")
    compare.add_argument("--style-blend", metavar="W,W", help="weights of several style pictures, e.g. 0.7,0.3")
    add_setting_options(compare)
    return compare


def command(args: argparse.Namespace) -> int:
    """`compare`: see nst_tf.twin.parity.command_compare."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle torch threads must not spin (2 cores)
    from nst_tf.twin.parity import command_compare

    return command_compare(args)
