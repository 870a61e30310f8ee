"""`python -m nst_tf video INPUT -o OUTPUT (--model NAME | --style PICTURE | --optimise STYLE)`: stylize a clip.

Checks everything first (the input is a readable video with a frame, the output may be written, the model
or style picture loads), then streams frames through `nst_tf.video.stylize.stylize_video` into
`nst_tf.video.io.write_clip`: the input's frame rate, size (or --image-size) and sound are kept, temporal
consistency is on unless --no-temporal, and Ctrl-C leaves a playable clip of the frames made so far.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from nst_tf.cli.common import import_tensorflow_quietly, sigterm_as_interrupt
from nst_tf.errors import ConfigError
from nst_tf.video.temporal import DEFAULT_WEIGHT


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("video", help="stylize a video clip, temporally consistent (any method)")
    p.add_argument("input", help="video file (any format ffmpeg reads)")
    p.add_argument("-o", "--output", required=True, help="output video (.mp4, .mov, .mkv, .m4v, .webm)")
    route = p.add_mutually_exclusive_group(required=True)
    route.add_argument("--model", help="a per-style network: shipped name or model folder")
    route.add_argument("--style", metavar="PICTURE", help="any style picture (universal WCT/AdaIN)")
    route.add_argument("--optimise", metavar="STYLE", help="optimise each frame toward this style (short clips)")
    p.add_argument("--method", choices=("adain", "wct"), default="adain", help="with --style (default adain)")
    p.add_argument("--style-size", type=int, default=256, help="with --style: its longest side in px (default 256)")
    p.add_argument("--image-size", type=int, help="longest side of the result (default: the clip's; --optimise 256)")
    p.add_argument("--frames", type=int, help="stylize only the first N frames")
    p.add_argument("--no-temporal", action="store_true", help="frame by frame, no temporal consistency")
    p.add_argument(
        "--temporal-weight", type=float, help=f"previous frame's share where the flow holds ({DEFAULT_WEIGHT})"
    )
    p.add_argument("--iterations", type=int, default=100, help="--optimise: L-BFGS steps on the first frame (100)")
    p.add_argument("--later-iterations", type=int, help="--optimise: steps on each later frame (default 1/4)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--json", action="store_true", help="print a JSON summary")


def _route(args: argparse.Namespace, height: int, width: int):
    from nst_tf.io.images import fit_size, load_image, resize
    from nst_tf.video import routes

    if args.model:
        route = routes.NetworkRoute(args.model)
        route.check(height, width)
        return route
    style = load_image(args.style or args.optimise)
    if args.style:
        style = resize(style, *fit_size(style.shape[1], style.shape[2], args.style_size))
        return routes.UniversalRoute(args.method, style)
    from nst_tf.config import Config

    later = args.later_iterations or max(1, args.iterations // 4)
    return routes.OptimisedRoute(style, Config(iterations=args.iterations).validated(), later)


def _check(args: argparse.Namespace):
    from nst_tf.video.io import check_output, fit_even, probe

    for flag in ("image_size", "frames", "iterations", "later_iterations", "style_size"):
        value = getattr(args, flag)
        if value is not None and not 1 <= value <= 100_000:
            raise ConfigError(f"--{flag.replace('_', '-')} must be a positive number, not {value}")
    weight = DEFAULT_WEIGHT if args.temporal_weight is None else args.temporal_weight
    if not 0.0 <= weight < 1.0:
        raise ConfigError(f"--temporal-weight must be in [0, 1), not {weight}")
    output = check_output(args.output, args.overwrite)
    info = probe(args.input)
    if output.exists() and os.path.samefile(output, info.path):  # --overwrite is no consent to lose the input
        raise ConfigError(f"-o {output}: is the input clip; write the result elsewhere")
    longest = args.image_size or (256 if args.optimise else None)
    return info, output, fit_even(info.height, info.width, longest), weight


def command(args: argparse.Namespace) -> int:
    """`video`: check, load, stylize and write frame by frame; returns the exit status."""
    info, output, (height, width), weight = _check(args)  # before TensorFlow: bad input is refused at once
    import_tensorflow_quietly()
    route = _route(args, height, width)  # loads the model / style before anything is written
    from tqdm import tqdm

    from nst_tf.video.io import read_frames, write_clip
    from nst_tf.video.stylize import stylize_video

    total = min(info.frames or args.frames or 0, args.frames or info.frames or 0) or None  # None: unknown
    frames = read_frames(info.path, (height, width), args.frames)
    steps = write_clip(stylize_video(frames, route, not args.no_temporal, weight), output, info.fps, info)
    started, done, interrupted = time.perf_counter(), 0, None
    bar = tqdm(total=total, unit="frame", dynamic_ncols=True, disable=None)
    try:
        with sigterm_as_interrupt():
            for step in steps:
                done = step.iteration + 1
                bar.update(1)
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: write_clip has finished the partial clip
        interrupted = exc
    finally:
        steps.close()  # a consumer stopped by anything else: the clip so far is still finished
        bar.close()
    seconds = time.perf_counter() - started
    summary = {
        "output": str(output), "frames": done, "fps": info.fps, "width": width, "height": height,
        "audio": bool(info.audio_codec), "temporal": not args.no_temporal, "seconds": round(seconds, 3),
        "seconds_per_frame": round(seconds / max(done, 1), 4), "interrupted": interrupted is not None,
    }  # fmt: skip
    if args.json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        sys.stdout.write(f"{output}: {done} frames, {width}x{height} at {info.fps:g} fps in {seconds:.1f} s\n")
    if interrupted is not None:
        raise interrupted  # main's one line and exit status (130, or 143 for SIGTERM)
    return 0
