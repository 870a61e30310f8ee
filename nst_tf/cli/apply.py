"""`python -m nst_tf apply MODEL PHOTO… | DIR [-o OUT] [--image-size PX] [--json] [--preserve-colors]`.

MODEL is a shipped model's name (`python -m nst_tf models`) or a model folder. Every photo's header is checked
and every output path decided before anything is written (`nst_tf.feedforward.batch`); an existing output file
is never replaced unless --overwrite, and in a folder only when nst_tf wrote it (`nst_tf.io.ownership`); a
re-run skips the folder's pictures it already wrote. Photos stream through `nst_tf.feedforward.folder` (flags
from `ApplySettings`; --max-memory plans tiles, said in one line). `--json` prints each picture's model
seconds (the forward pass alone; start-up, reading and writing excluded).
"""

from __future__ import annotations

import argparse
import json
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
    from nst_tf.feedforward.batch import output_paths, photo_paths
    from nst_tf.feedforward.model_io import find_model, read_meta

    folder = find_model(args.model)
    read_meta(folder)
    inputs = photo_paths(args.photos)
    targets, owned = output_paths(inputs, args.output, folder.name, args.overwrite, skip_done=True)
    if skipped := targets.count(None):
        sys.stderr.write(
            f"nst_tf: {skipped} of {len(targets)} pictures already written; skipped (--overwrite redoes)\n"
        )
    from nst_tf.feedforward.apply import load_stylizer
    from nst_tf.feedforward.folder import apply_files

    stylizer = load_stylizer(folder, settings.precision)
    stylizer.warm_up()
    startup, pictures, said = time.perf_counter() - started, [], None
    for picture in apply_files(stylizer, inputs, targets, owned, settings):  # a few photos in memory at a time
        if said is None and stylizer.decision.measured:  # said once the plan held: a refusal stays the only line
            sys.stderr.write(stylizer.decision.line() + "\n")
        if (plan := picture.pop("plan")) != said:
            sys.stderr.write(f"nst_tf: {plan}\n")
            said = plan
        pictures.append(picture)
        if not args.json:
            print(f"{picture['output']}  ({picture['width']}x{picture['height']}, {picture['seconds']:.3f} s)")
    if args.json:
        summary = {"model": folder.name, "model_folder": str(folder), "startup_seconds": round(startup, 3)}
        summary["precision_decision"] = stylizer.decision.to_dict()
        json.dump({**summary, "pictures": pictures}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0
