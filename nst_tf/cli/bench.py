"""`nst_tf bench`: time one step against this machine's matmul peak (the measuring is nst_tf.perf.bench).

The settings flags are the run command's (derived from Config), restricted to those that change speed;
`--json FILE` is checked before the minutes of measuring start and written atomically.
"""

from __future__ import annotations

import argparse
import sys

from nst_tf.cli.common import HelpFormatter
from nst_tf.cli.settings import add_setting_options, config_from_args
from nst_tf.io import atomic
from nst_tf.io.places import check_replaceable_file, make_parents
from nst_tf.io.provenance import library_versions
from nst_tf.runtime import import_tensorflow_quietly

# The Config fields bench lets the user change; the rest stay the preset's.
BENCH_SETTINGS = ("optimizer", "jit_compile", "precision", "weights", "device", "pooling", "style_layers")
BENCH_IMAGE_SIZE = 256


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `bench` to the command line's subcommands; returns its parser."""
    bench = subparsers.add_parser(
        "bench", help="time one step against this machine's matmul peak", formatter_class=HelpFormatter
    )
    bench.add_argument("--image-size", type=int, default=BENCH_IMAGE_SIZE, help="longest side in px")
    bench.add_argument("--iterations", type=int, default=10, help="timed steps")
    bench.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    bench.add_argument("--json", metavar="FILE", help="write the figures to FILE as JSON")
    bench.add_argument("--content", help="content picture (default: the sample chelsea.png)")
    bench.add_argument("--style", help="style picture (default: the sample ihc.png)")
    add_setting_options(bench, BENCH_SETTINGS)
    return bench


def bench_config(args: argparse.Namespace):
    """The preset with the bench's flags applied (its --image-size replaces a preset's exact size)."""
    config = config_from_args(args, BENCH_SETTINGS)
    return config.replace(image_size=args.image_size, exact_size=None)


def command(args: argparse.Namespace) -> int:
    """`bench`: check, run, print one line, write --json FILE; returns the exit status."""
    from nst_tf.io import images as image_io
    from nst_tf.optim import memory
    from nst_tf.perf import bench

    config = bench_config(args)
    bench.check_counts(args.iterations, args.warmup)
    json_path = check_replaceable_file(args.json, "--json") if args.json else None
    if json_path is not None:
        bench.check_json_place(json_path)  # replaces only an earlier bench report, never the user's file
    default_content, default_style = bench.default_pictures()
    content, style = args.content or default_content, args.style or default_style
    pictures = [image_io.load_image(picture) for picture in (content, style)]  # bad ones refused now
    height, width = image_io.fit_size(pictures[0].shape[1], pictures[0].shape[2], config.image_size)
    # Before any picture is resized: VGG19's estimate, the larger of the two networks (weights not read yet).
    memory.check_memory(config, height, width, "vgg19")
    import_tensorflow_quietly()
    result = bench.run_bench(config, content, style, args.iterations, args.warmup)
    result["versions"] = library_versions()
    decision = result["precision_decision"]
    if decision["source"] in ("probe", "cache"):  # what "auto" chose on this machine, and why
        from nst_tf.perf.precision import Decision

        fields = {k: v for k, v in decision.items() if k != "threshold"}
        sys.stderr.write(Decision(**fields).line() + "\n")
    print(bench.summary_line(result), flush=True)
    if json_path is not None:
        make_parents(json_path, "--json")
        atomic.write_json(json_path, result)
    return 0
