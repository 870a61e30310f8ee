"""`python -m nst_tf video INPUT -o OUTPUT (--model NAME | --style PICTURE | --optimise STYLE)`: stylize a clip.

Checks everything first (`nst_tf.video.session.plan_video`, before TensorFlow: the input is a readable video
with a frame, the output may be written), loads the route (the model or style picture), then streams the
frames into the output (`stylize_to_file`): the input's frame rate, size (or --image-size) and sound are
kept, temporal consistency is on unless --no-temporal, and Ctrl-C leaves a playable clip of the frames made.
Flags come from `nst_tf.video.settings.VideoSettings`.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from nst_tf.cli.common import warnings_held
from nst_tf.cli.settings import add_dataclass_options, settings_from_args
from nst_tf.runtime import Terminated, import_tensorflow_quietly, stop_on_signals
from nst_tf.video.settings import VideoSettings


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("video", help="stylize a video clip, temporally consistent (any method)")
    p.add_argument("input", help="video file (any format ffmpeg reads)")
    p.add_argument("-o", "--output", required=True, help="output video (.mp4, .mov, .mkv, .m4v, .webm)")
    route = p.add_mutually_exclusive_group(required=True)
    route.add_argument("--model", help="a per-style network: shipped name or model folder")
    route.add_argument("--style", metavar="PICTURE", help="any style picture (universal WCT/AdaIN)")
    route.add_argument("--optimise", metavar="STYLE", help="optimise each frame toward this style (short clips)")
    add_dataclass_options(p, VideoSettings)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--json", action="store_true", help="print a JSON summary")


def command(args: argparse.Namespace) -> int:
    """`video`: check, load, stylize and write frame by frame; returns the exit status."""
    from nst_tf.video import session

    settings = settings_from_args(VideoSettings, args).validate()
    plan = session.plan_video(args.input, args.output, settings, args.overwrite, bool(args.optimise))
    import_tensorflow_quietly()
    with warnings_held():  # the weights' fallback line waits: a refused budget stays the only line
        route = session.load_route(plan, settings, model=args.model, style=args.style, optimise=args.optimise)
    if route.decision.measured:
        sys.stderr.write(route.decision.line() + "\n")
    if route.frame_plan.said:  # --max-memory given, or tiles: whole frames or tiles, the estimate, the budget
        sys.stderr.write(f"nst_tf: {route.frame_plan.line()}\n")
    from tqdm import tqdm

    steps = session.stylize_to_file(plan, route, settings)
    started, done, interrupted = time.perf_counter(), 0, None
    bar = tqdm(total=plan.total, unit="frame", dynamic_ncols=True, disable=None)
    try:  # a signal sets a flag read between frames, so it never cuts a frame's write to ffmpeg in half
        with stop_on_signals() as should_stop:
            for step in steps:
                done = step.iteration + 1
                bar.update(1)
                if should_stop():
                    interrupted = Terminated() if should_stop() == signal.SIGTERM else KeyboardInterrupt()
                    break
    except KeyboardInterrupt as exc:  # a second Ctrl-C: the writer still finishes the partial clip
        interrupted = exc
    finally:
        steps.close()  # a consumer stopped by anything else: the clip so far is still finished
        bar.close()
    seconds = time.perf_counter() - started
    summary = session.finish(plan, route, settings, done, seconds, interrupted is not None)
    if args.json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        size = f"{plan.width}x{plan.height}"
        sys.stdout.write(f"{plan.output}: {done} frames, {size} at {plan.info.fps:g} fps in {seconds:.1f} s\n")
        if "run_dir" in summary:
            sys.stdout.write(f"run folder {summary['run_dir']}: warping error {summary['warping_error']}\n")
    if interrupted is not None:
        raise interrupted  # main's one line and exit status (130, or 143 for SIGTERM)
    return 0
