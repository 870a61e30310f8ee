"""`python -m nst_tf serve [--port 8000] [--host 127.0.0.1]`: the local web page (`nst_tf.serve`).

Parses and hands over to `nst_tf.serve.server.serve` (checks the address, runs the app until Ctrl+C).
"""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("serve", help="a local web page: drop a photo, pick a style, watch it happen")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")


def command(args: argparse.Namespace) -> int:
    from nst_tf.serve.server import serve

    serve(args.host, args.port, report=lambda line: print(line, flush=True))
    return 0
