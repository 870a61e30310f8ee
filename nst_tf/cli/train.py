"""`python -m nst_tf train STYLE --data DIR -o MODEL_DIR`: train a one-pass network for one style.

Parses (the recipe's flags come from `nst_tf.feedforward.settings.TrainSettings`), then hands everything to
`nst_tf.feedforward.session.NetworkTraining`: it checks every input before anything is written, trains,
writes the run folder (MODEL_DIR/run/), the checkpoints and, at the end or when stopped by Ctrl-C or SIGTERM
between two steps, the model (MODEL_DIR/model.weights.h5 + model.json). This module shows the progress bar.
`--resume` continues from the last checkpoint with the folder's own settings (`--steps` may raise the total).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nst_tf.cli.settings import add_dataclass_options, settings_from_args
from nst_tf.feedforward.settings import TrainSettings
from nst_tf.runtime import EXIT_INTERRUPTED, import_tensorflow_quietly, stop_on_signals


def add_parser(commands) -> None:
    p = commands.add_parser("train", help="train a one-pass style network (Johnson et al. / texture networks)")
    p.add_argument("style", nargs="?", help="the style picture (not needed with --resume)")
    p.add_argument("--data", help="folder of training photos (e.g. ../shared/train/coco128)")
    p.add_argument("-o", "--output", required=True, metavar="MODEL_DIR", help="model folder to create (or resume)")
    add_dataclass_options(p, TrainSettings)
    p.add_argument("--steps", type=int, default=2000, help="total training steps (default 2000)")
    p.add_argument("--sample-every", type=int, default=100, help="stylize the held-out photos every N steps")
    p.add_argument("--samples", nargs="*", help="held-out photos for the samples (default: images/chelsea, coffee)")
    p.add_argument("--sample-size", type=int, default=192, help="longest side of the samples in px")
    p.add_argument("--style-licence", default="", help="licence of the style picture, recorded in model.json")
    p.add_argument("--resume", action="store_true", help="continue MODEL_DIR's run from its last checkpoint")
    p.add_argument("--no-tb", action="store_true", help="write no TensorBoard events")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def command(args: argparse.Namespace) -> int:
    import_tensorflow_quietly()  # their C++ start-up lines would precede a one-line error
    from nst_tf.feedforward.session import NetworkTraining

    settings = None
    if not args.resume and args.style and args.data:
        style, data = str(Path(args.style).resolve()), str(Path(args.data).resolve())
        settings = settings_from_args(TrainSettings, args, style=style, data=data)
    training = NetworkTraining(
        args.output,
        settings,
        steps=args.steps,
        resume=args.resume,
        samples=args.samples,
        sample_every=args.sample_every,
        sample_size=args.sample_size,
        style_licence=args.style_licence,
        tensorboard=not args.no_tb,
    )
    if training.decision.measured and not args.quiet:
        sys.stderr.write(training.decision.line() + "\n")
    from tqdm import tqdm

    with stop_on_signals() as should_stop:
        bar = None
        try:
            for step in training.steps(should_stop):
                if bar is None:  # the first step says where a resumed run starts
                    bar = tqdm(
                        total=args.steps, initial=step.iteration, disable=args.quiet, unit="step", dynamic_ncols=True
                    )
                bar.update(1)
                bar.set_postfix(loss=f"{step.costs['total']:.4g}", s=f"{step.seconds:.2f}")
        finally:
            if bar is not None:
                bar.close()
    last = training.last["step"]
    if training.stopped:
        sys.stderr.write(f"nst_tf: stopped at step {last}; continue with --resume -o {args.output}\n")
        return EXIT_INTERRUPTED
    if not args.quiet:
        print(f"model written to {args.output} ({last} steps)")
    return 0
