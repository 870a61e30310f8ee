"""`python -m nst_tf apply MODEL PHOTO… | DIR [-o OUT] [--image-size PX] [--json] [--preserve-colors]`.

MODEL is a shipped model's name (`python -m nst_tf models`) or a model folder. Every photo is read and every
output path decided before anything is written (`nst_tf.feedforward.batch`); an existing output file is never
replaced unless --overwrite, and in a folder only when nst_tf wrote it (`nst_tf.io.ownership`). The pictures
come from `nst_tf.feedforward.apply.stylize_photos` (flags from `ApplySettings`). `--json` prints each picture's
model seconds (the forward pass alone; start-up, reading and writing excluded).
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
    targets, owned = output_paths(inputs, args.output, folder.name, args.overwrite)
    from nst_tf.feedforward.apply import load_stylizer, stylize_photos
    from nst_tf.io.images import save_image

    stylizer = load_stylizer(folder, settings.precision)
    if stylizer.decision.measured:
        sys.stderr.write(stylizer.decision.line() + "\n")
    stylizer.warm_up()
    startup = time.perf_counter() - started
    pictures = []
    steps = list(stylize_photos(stylizer, inputs, settings))  # every photo read and checked before a write
    for step, target in zip(steps, targets, strict=True):
        save_image(step.image, target)
        if owned is not None:
            owned.record(target.name)  # the ledger: this file is nst_tf's to replace next time
        height, width = step.image.shape[1:3]
        pictures.append(
            {
                "input": step.info["source"],
                "output": str(target),
                "height": int(height),
                "width": int(width),
                "seconds": round(step.info["seconds"], 5),
            }
        )
    if args.json:
        summary = {"model": folder.name, "model_folder": str(folder), "startup_seconds": round(startup, 3)}
        summary["precision_decision"] = stylizer.decision.to_dict()
        json.dump({**summary, "pictures": pictures}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for p in pictures:
            print(f"{p['output']}  ({p['width']}x{p['height']}, {p['seconds']:.3f} s)")
    return 0
