"""`python -m nst_tf universal-train`: train one universal decoder (reconstruction or AdaIN) and save it.

Parses (the recipe's flags come from `nst_tf.universal.settings.DecoderTraining`), hands everything to
`nst_tf.universal.training_run.DecoderRun` (checks first, trains through the one training loop, writes
`OUT/NAME.weights.h5` + `OUT/NAME.json`), prints one line per `--log-every` steps. Checkpoints go to
`--checkpoint-dir` and a re-run with the same folder resumes; a re-run whose `--steps` the checkpoint already
reached just exports the decoder. SIGTERM is handled like Ctrl-C (a checkpoint is kept; exit 143).
"""

from __future__ import annotations

import argparse
import sys

from nst_tf.cli.settings import add_dataclass_options, settings_from_args
from nst_tf.runtime import sigterm_as_interrupt
from nst_tf.universal.settings import DecoderTraining


def add_parser(subparsers) -> None:
    """Register `universal-train`."""
    p = subparsers.add_parser("universal-train", help="train a universal style transfer decoder")
    p.add_argument("--data", required=True, help="folder of training photos")
    p.add_argument("--styles", nargs="*", default=[], help="style pictures or folders (--mode adain)")
    add_dataclass_options(p, DecoderTraining)
    p.add_argument("--init", help="start from this decoder .weights.h5 (same level and width)")
    p.add_argument("--checkpoint-dir", required=True)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--no-tb", action="store_true", help="no TensorBoard log in CHECKPOINT_DIR/run/tb")
    p.add_argument("-o", "--output", required=True, help="folder for NAME.weights.h5 and NAME.json")
    p.add_argument("--name", required=True)


def command(args: argparse.Namespace) -> int:
    """Train, log, save; returns the exit status."""
    from nst_tf.universal.training_run import DecoderRun, step_line

    settings = settings_from_args(DecoderTraining, args)
    run = DecoderRun(
        args.data,
        settings,
        args.checkpoint_dir,
        args.output,
        args.name,
        styles=args.styles,
        init=args.init,
        tensorboard=not args.no_tb,
    )
    if run.decision.measured:
        sys.stderr.write(run.decision.line() + "\n")
    with sigterm_as_interrupt():
        for step in run.steps():
            if (step.iteration + 1) % args.log_every == 0:
                print(step_line(step), flush=True)
    sys.stdout.write(f"saved {run.path}\n")
    return 0
