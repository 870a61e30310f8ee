"""`nst_tf compare`: TensorFlow and the PyTorch twin from one start, and a report of how far they disagree.

The command parses the `run` setting options plus its own (`-o/--output`, `--float64`, `--overwrite`),
checks every input, then calls the library (`nst_tf.parity.compare.compare`) and writes the report with
`nst_tf.parity.report.write_report` (the folder under the ownership rule: a user's own files there are
never replaced). Exit status 0 when every judged figure is within its tolerance, 1
when not (the report is written either way), 2 for bad input (nothing written).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from nst_tf.cli.common import HelpFormatter
from nst_tf.cli.settings import add_setting_options, config_from_args
from nst_tf.errors import ConfigError
from nst_tf.io import images as image_io
from nst_tf.optim.run_plan import parse_blend, picture_paths
from nst_tf.runtime import native_stderr_silenced


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register `compare` with its options."""
    parser = subparsers.add_parser(
        "compare", help="TensorFlow and the PyTorch twin from one start: a parity report", formatter_class=HelpFormatter
    )
    parser.add_argument("pictures", nargs="+", metavar="CONTENT STYLE", help="content picture, then style picture(s)")
    parser.add_argument("-o", "--output", help="report folder (default: output/compare_CONTENT_STYLE)")
    parser.add_argument("--float64", action="store_true", help="run both backends in double precision")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing report")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("--style-blend", metavar="W,W", help="weights of several style pictures, e.g. 0.7,0.3")
    add_setting_options(parser)
    return parser


def _report_folder(args: argparse.Namespace, content_path: str | None, style_paths: list[str]):
    """-o, or output/compare_CONTENT_STYLE, planned (`nst_tf.parity.report.plan_report`): refused when it holds
    a report and --overwrite is not given, or a file of a report's name that nst_tf did not write."""
    if args.output:
        out_dir = Path(args.output)
    else:
        stem = Path(content_path).stem if content_path else "texture"
        out_dir = Path("output") / f"compare_{stem}_{Path(style_paths[0]).stem}"
    from nst_tf.parity.report import plan_report

    return plan_report(out_dir, args.overwrite)  # under a plain file, a user's diff.png ...: one line, before any work


def command(args: argparse.Namespace) -> int:
    """Run `compare`: check everything, compare, write the report, print its figures."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle torch threads must not spin on 2 cores
    config = config_from_args(args)
    content_path, style_paths = picture_paths(args.pictures, config.mode)
    content = image_io.load_image(content_path) if content_path else None
    styles = [image_io.load_image(path) for path in style_paths]
    blend = parse_blend(args.style_blend, len(styles))
    out_dir = _report_folder(args, content_path, style_paths)
    with native_stderr_silenced():  # TensorFlow's C++ start-up and device-probing lines, as `run` does
        try:
            from nst_tf.parity import compare as parity
            from nst_tf.parity import report as parity_report
            from nst_tf.twin import torch_vgg
        except ModuleNotFoundError as exc:
            if exc.name != "torch":
                raise
            raise ConfigError("compare needs PyTorch: pip install torch==2.13.0 (the CPU build)") from None
        config, _ = parity.comparable(config)
        parity.resolve_device(config.device)
        torch_vgg.resolve_device(config.device)
    from nst_tf.vgg.weights import resolve_weights_for_config

    weights = resolve_weights_for_config(config)
    result = parity.compare(content, styles, config, args.float64, weights=weights, style_blend=blend)
    parity_report.write_report(out_dir, result)
    report = result.report
    if not args.quiet:
        for key, tolerance in report["tolerances"].items():
            print(f"{key:<20} {report[key]:.3g}  (tolerance {tolerance:g})")
        where = f"{report['dtype']} (preset {config.preset}, {config.optimizer})"
        print(f"{where}: {report['verdict']}; report in {out_dir.given}")
    return 0 if report["within_tolerance"] else 1
