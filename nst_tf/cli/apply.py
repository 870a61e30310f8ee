"""`python -m nst_tf apply MODEL PHOTO… | DIR [-o OUT] [--image-size PX] [--json] [--preserve-colors]`.

MODEL is a shipped model's name (`python -m nst_tf models`) or a model folder. Every photo's header is checked
and every output path decided before anything is written (`nst_tf.io.photo_folder`); an existing output file
is never replaced unless --overwrite, and in a folder only when nst_tf wrote it (`nst_tf.io.ownership`); a
re-run skips the folder's pictures it already wrote. Photos stream through `nst_tf.feedforward.folder` (flags
from `ApplySettings`; --max-memory plans tiles, said in one line). `--json` prints each picture's model
seconds (the forward pass alone; start-up, reading and writing excluded).
"""

from __future__ import annotations

import argparse
import sys
import time

from nst_tf.cli.settings import add_dataclass_options, settings_from_args
from nst_tf.feedforward.settings import ApplySettings
from nst_tf.runtime import import_tensorflow_quietly


def add_parser(commands) -> None:
    p = commands.add_parser("apply", help="stylize photos with a shipped or trained one-pass network")
    p.add_argument("model", help="shipped model name or model folder")
    p.add_argument("photos", nargs="+", metavar="PHOTO", help="photos, or folders of photos")
    p.add_argument("-o", "--output", help="output file (one photo) or folder (default: output/apply_MODEL)")
    add_dataclass_options(p, ApplySettings)
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--json", action="store_true", help="print a JSON report with each picture's model seconds")


def command(args: argparse.Namespace) -> int:
    import_tensorflow_quietly()  # TensorFlow's native start-up and CUDA-probing lines stay off stderr, as in `run`
    settings = settings_from_args(ApplySettings, args).validate()
    started = time.perf_counter()
    from nst_tf.feedforward.model_io import find_model, read_meta
    from nst_tf.io.photo_folder import plan_folder, report_pictures

    folder = find_model(args.model)
    read_meta(folder)
    plan = plan_folder(args.photos, args.output, folder.name, args.overwrite)
    if plan.note():
        sys.stderr.write(plan.note() + "\n")
    from nst_tf.feedforward.apply import load_stylizer
    from nst_tf.feedforward.folder import apply_files

    stylizer = load_stylizer(folder, settings.precision)
    stylizer.warm_up()
    startup = round(time.perf_counter() - started, 3)
    summary = {"model": folder.name, "model_folder": str(folder), "startup_seconds": startup}
    summary["precision_decision"] = stylizer.decision.to_dict()
    pictures = apply_files(stylizer, plan, settings)  # a generator: a few photos in memory at a time
    report_pictures(pictures, stylizer.decision, args.json and summary or None, sys.stdout, sys.stderr)
    return 0
