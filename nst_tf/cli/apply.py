"""`python -m nst_tf apply MODEL PHOTO… | DIR [-o OUT] [--image-size PX] [--json] [--preserve-colors]`.

MODEL is a shipped model's name (`python -m nst_tf models`) or a model folder. Every photo is read and every
output path decided before anything is written; an existing output file is never replaced unless
--overwrite, and in a folder only when nst_tf wrote it (`nst_tf.io.ownership`). Each photo goes through
the network once at its own size (or with its longest side --image-size px); photos of equal size go in
batches of --batch. `--json` prints each picture's model seconds (the forward pass alone; start-up, reading
and writing excluded).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from nst_tf.cli.common import import_tensorflow_quietly
from nst_tf.errors import ConfigError
from nst_tf.io.images import PICTURE_SUFFIXES
from nst_tf.io.ownership import OwnedFiles, recognise_filled_folder


def add_parser(commands) -> None:
    p = commands.add_parser("apply", help="stylize photos with a shipped or trained one-pass network")
    p.add_argument("model", help="shipped model name or model folder")
    p.add_argument("photos", nargs="+", metavar="PHOTO", help="photos, or folders of photos")
    p.add_argument("-o", "--output", help="output file (one photo) or folder (default: output/apply_MODEL)")
    p.add_argument("--image-size", type=int, help="longest side of each result in px (default: the photo's own)")
    p.add_argument("--batch", type=int, default=4, help="photos of equal size per forward pass (default 4)")
    p.add_argument("--preserve-colors", action="store_true", help="keep the photo's colours (luminance transfer)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--json", action="store_true", help="print a JSON report with each picture's model seconds")


def _inputs(specs: list[str]) -> list[Path]:
    """The photo files named, folders expanded (their picture files, sorted; regular files only)."""
    paths: list[Path] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in PICTURE_SUFFIXES and p.is_file())
            if not found:
                raise ConfigError(f"{path}: no pictures in the folder")
            paths += found
        elif path.is_file():
            paths.append(path)
        else:
            raise ConfigError(f"{path}: no such photo or folder (or not a regular file)")
    return paths


def _outputs(args: argparse.Namespace, inputs: list[Path], model_name: str) -> list[Path]:
    out = Path(args.output) if args.output else Path("output") / f"apply_{model_name}"
    if len(inputs) == 1 and out.suffix.lower() in PICTURE_SUFFIXES:
        targets = [out]
    elif out.suffix.lower() in PICTURE_SUFFIXES:
        raise ConfigError(f"{out}: one output picture for {len(inputs)} photos; give a folder with -o")
    else:
        if out.exists() and not out.is_dir():
            raise ConfigError(f"{out}: exists and is not a folder")
        targets = [out / f"{p.stem}_{model_name}.png" for p in inputs]
        if len(set(targets)) != len(targets):
            raise ConfigError("two photos have the same name stem; stylize them into separate folders")
        # A folder: the ownership rule (nst_tf.io.ownership): only files nst_tf wrote there are replaced.
        old = recognise_filled_folder(rf".+_{re.escape(model_name)}\.png")  # apply's outputs before the ledger
        args.owned = OwnedFiles.plan(out, [t.name for t in targets], args.overwrite, "-o", recognise=old)
        return targets
    for target in targets:  # one picture at a path the user named: --overwrite replaces it
        if target.exists() and not args.overwrite:
            raise ConfigError(f"{target}: exists (use --overwrite, or another -o)")
    return targets


def command(args: argparse.Namespace) -> int:
    import_tensorflow_quietly()  # TensorFlow's native start-up and CUDA-probing lines stay off stderr, as in `run`
    if args.batch < 1 or (args.image_size is not None and args.image_size < 1):
        raise ConfigError("--batch and --image-size must be positive")
    started = time.perf_counter()
    from nst_tf.feedforward.model_io import find_model, read_meta

    folder = find_model(args.model)
    read_meta(folder)
    inputs = _inputs(args.photos)
    targets = _outputs(args, inputs, folder.name)
    from nst_tf.io.images import fit_size, load_image, resize, save_image

    photos = []
    for path in inputs:
        picture = load_image(path)
        if args.image_size:
            picture = resize(picture, *fit_size(picture.shape[1], picture.shape[2], args.image_size))
        photos.append(picture)
    from nst_tf.feedforward.apply import Stylizer, group_by_size, preserve_colors
    from nst_tf.feedforward.model_io import load_model

    model, meta = load_model(folder)
    stylizer = Stylizer(model)
    small = [str(inputs[i]) for i, p in enumerate(photos) if min(p.shape[1:3]) < stylizer.min_size]
    if small:
        raise ConfigError(f"{small[0]}: smaller than {stylizer.min_size} px on a side (see --image-size)")
    stylizer.warm_up()
    startup = time.perf_counter() - started
    import numpy as np

    report = []
    for indices in group_by_size(photos, args.batch):
        batch = np.concatenate([photos[i] for i in indices], axis=0)
        results, seconds = stylizer.timed(batch)
        if args.preserve_colors:
            results = preserve_colors(results, batch)
        for k, i in enumerate(indices):
            save_image(results[k : k + 1], targets[i])
            if getattr(args, "owned", None) is not None:
                args.owned.record(targets[i].name)
            report.append((i, seconds / len(indices), photos[i].shape[1:3]))
    report.sort()
    pictures = [
        {"input": str(inputs[i]), "output": str(targets[i]), "height": int(h), "width": int(w), "seconds": round(s, 5)}
        for i, s, (h, w) in report
    ]
    if args.json:
        summary = {"model": folder.name, "model_folder": str(folder), "startup_seconds": round(startup, 3)}
        json.dump({**summary, "pictures": pictures}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for p in pictures:
            print(f"{p['output']}  ({p['width']}x{p['height']}, {p['seconds']:.3f} s)")
    return 0
