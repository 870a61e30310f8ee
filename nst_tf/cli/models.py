"""`python -m nst_tf models [--json]`: the shipped one-pass networks, their styles and how they were trained."""

from __future__ import annotations

import argparse
import json
import sys

from nst_tf.runtime import import_tensorflow_quietly


def add_parser(commands) -> None:
    p = commands.add_parser("models", help="list the shipped one-pass style networks")
    p.add_argument("--json", action="store_true", help="print the models' descriptions as JSON")


def command(args: argparse.Namespace) -> int:
    import_tensorflow_quietly()
    from nst_tf.feedforward.model_io import shipped_dir, shipped_models

    models = shipped_models()
    if args.json:
        json.dump({"folder": str(shipped_dir()), "models": [{"name": n, **m} for n, m in models]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not models:
        print(f"no shipped models in {shipped_dir()}")
        return 0
    for name, meta in models:
        arch, style = meta["architecture"], meta.get("style", {})
        print(
            f"{name:24s} {arch['generator']} width {arch['width']}, style {style.get('file', '?')} "
            f"({style.get('licence') or 'licence not recorded'}), {meta.get('steps', '?')} steps "
            f"at {meta.get('image_size', '?')} px"
        )
    return 0
