"""`nst_tf compare`: TensorFlow and the PyTorch twin from one start, and a report of how far they disagree.

The command parses the `run` setting options plus its own, checks every input, then calls the library
(`nst_tf.parity.compare.compare`; with `--network`/`--universal` the one-pass families, `nst_tf.parity.one_pass`)
and writes the report (the folder under the ownership rule: a user's own files there are never replaced).
Exit status 0 when every judged figure is within its tolerance, 1
when not (the report is written either way), 2 for bad input (nothing written).
"""

from __future__ import annotations

import argparse
import os

from nst_tf.cli.common import HelpFormatter
from nst_tf.cli.settings import add_setting_options, config_from_args
from nst_tf.errors import ConfigError
from nst_tf.io import images as image_io
from nst_tf.optim.run_plan import parse_blend, picture_paths
from nst_tf.parity.report import parity_module, plan_picture_report, summary_lines, write_report
from nst_tf.runtime import import_tensorflow_quietly, native_stderr_silenced


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register `compare` with its options."""
    parser = subparsers.add_parser(
        "compare", help="TensorFlow and the PyTorch twin from one start: a parity report", formatter_class=HelpFormatter
    )
    parser.add_argument("pictures", nargs="+", metavar="PICTURE", help="content picture, then style picture(s)")
    one_pass = parser.add_mutually_exclusive_group()
    one_pass.add_argument("--network", metavar="NAME", help="a one-pass network (shipped name, see `models`, or a "
                          "model folder) on PICTURE, one forward pass each; only --image-size applies")  # fmt: skip
    one_pass.add_argument("--universal", choices=("adain", "wct"), help="universal AdaIN or WCT (shipped decoders) "
                          "on CONTENT STYLE, one pass each; only --image-size applies")  # fmt: skip
    parser.add_argument("-o", "--output", help="report folder (default: output/compare_CONTENT_STYLE)")
    parser.add_argument("--float64", action="store_true", help="run both backends in double precision")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing report")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("--style-blend", metavar="W,W", help="weights of several style pictures, e.g. 0.7,0.3")
    add_setting_options(parser)
    return parser


def command(args: argparse.Namespace) -> int:
    """Run `compare`: check everything, compare, write the report, print its figures."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle torch threads must not spin on 2 cores
    if args.network or args.universal:
        return _one_pass(args)
    config = config_from_args(args)
    content_path, style_paths = picture_paths(args.pictures, config.mode)
    content = image_io.load_image(content_path) if content_path else None
    styles = [image_io.load_image(path) for path in style_paths]
    blend = parse_blend(args.style_blend, len(styles))
    out_dir = plan_picture_report(args.output, content_path, style_paths, args.overwrite)
    with native_stderr_silenced():  # TensorFlow's C++ start-up and device-probing lines, as `run` does
        parity, torch_vgg = parity_module("nst_tf.parity.compare"), parity_module("nst_tf.twin.torch_vgg")

        config, _ = parity.comparable(config)
        parity.resolve_device(config.device)
        torch_vgg.resolve_device(config.device)
    result = parity.compare(content, styles, config, args.float64, style_blend=blend)  # the weights resolved there
    write_report(out_dir, result)
    return _finish(args, result.report, out_dir)


def _one_pass(args: argparse.Namespace) -> int:
    """`compare --network NAME PHOTO` / `compare --universal adain|wct CONTENT STYLE` (nst_tf.parity.one_pass)."""
    if args.float64 or args.style_blend:
        raise ConfigError("--float64 and --style-blend are for the picture comparison, not --network/--universal")
    import_tensorflow_quietly()
    parity = parity_module("nst_tf.parity.one_pass")
    plan = parity.plan(args.network, args.universal, args.pictures, args.image_size, args.output, args.overwrite)
    result = parity.run(plan)
    parity.write_report(plan.out, result)
    return _finish(args, result.report, plan.out)


def _finish(args: argparse.Namespace, report: dict, out_dir) -> int:
    if not args.quiet:
        print("\n".join(summary_lines(report, out_dir.given)))
    return 0 if report["within_tolerance"] else 1
