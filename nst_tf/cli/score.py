"""The `score` command: `python -m nst_tf score RESULT --content C --style S [--json]`.

Reads the three pictures (every picture checked before TensorFlow is imported, so a bad one costs one line
and no start-up chatter), calls `nst_tf.score.score_pictures` and prints the content and style distances,
as text or as JSON. What the numbers are is said in `nst_tf.score` and repeated in `--help`.
"""

from __future__ import annotations

import argparse
import json

from nst_tf.runtime import import_tensorflow_quietly
from nst_tf.score import EXPLANATION, load_pictures, report_lines


def add_parser(subparsers) -> None:
    """Add the `score` command to an argparse subparsers object (its parser class is used)."""
    parser = subparsers.add_parser(
        "score",
        help="content and style distances of a picture under a fixed ImageNet VGG16 evaluator",
        description=EXPLANATION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("result", help="the picture to score")
    parser.add_argument("--content", required=True, help="its content picture")
    parser.add_argument("--style", required=True, help="its style picture")
    parser.add_argument("--json", action="store_true", help="print the scores as one JSON object")


def command(args: argparse.Namespace) -> int:
    """Run `score`; returns the exit status.

    Raises:
        ImageError, WeightsError: a bad picture or missing evaluator weights (the caller prints one line, 2).
    """
    pictures = load_pictures(args.result, args.content, args.style)
    import_tensorflow_quietly()  # TensorFlow's native start-up and CUDA-probing lines stay off stderr, as in `run`
    from nst_tf.score import score_pictures  # TensorFlow: only once the pictures are known to be good

    report = score_pictures(pictures["result"], pictures["content"], pictures["style"])
    report["pictures"] = {"result": args.result, "content": args.content, "style": args.style}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print("\n".join(report_lines(report)))
    return 0
