"""The `audio` command: style transfer and texture synthesis for sound (Ulyanov & Lebedev 2016).

    python -m nst_tf audio CONTENT.wav STYLE.wav -o DIR [options]
    python -m nst_tf audio STYLE.wav --mode texture --duration 6 -o DIR

Parses (flags from `nst_tf.audio.transfer.AudioConfig`), checks everything through
`nst_tf.audio.to_folder.plan_sound_run` (nothing written on a refusal), then `write_sound_run` makes DIR,
with a progress line every few iterations. Ctrl-C or SIGTERM keeps what was written: exit 130 or 143.
"""

from __future__ import annotations

import argparse
import sys

from nst_tf.audio.transfer import AudioConfig
from nst_tf.cli.common import HelpFormatter
from nst_tf.cli.settings import add_dataclass_options, settings_from_args
from nst_tf.runtime import import_tensorflow_quietly, interrupted_status, sigterm_as_interrupt


def add_parser(subparsers) -> None:
    """Add the `audio` command to an argparse subparsers object."""
    p = subparsers.add_parser(
        "audio",
        help="style transfer for sound: a content WAV in the texture of a style WAV",
        description="Audio style transfer (Ulyanov & Lebedev 2016): spectrograms, a random 1-D convolution, "
        "Griffin-Lim. In --mode texture give only STYLE.wav.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("sounds", nargs="+", metavar="WAV", help="CONTENT.wav STYLE.wav (texture mode: STYLE.wav)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="the run folder to create")
    p.add_argument("--overwrite", action="store_true", help="replace DIR if it holds an earlier audio run")
    add_dataclass_options(p, AudioConfig)
    p.add_argument("--no-tb", action="store_true", help="write no TensorBoard event files")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def command(args: argparse.Namespace) -> int:
    """Check everything, then make the run folder; returns the exit status."""
    from nst_tf.audio.to_folder import decide_precision, plan_sound_run, progress_line, write_sound_run

    config = settings_from_args(AudioConfig, args).validate()
    plan = plan_sound_run(args.sounds, config, args.output, args.overwrite)
    every = max(1, config.iterations // 20)

    def show(step) -> None:
        if not args.quiet and (step.iteration % every == 0 or step.iteration + 1 == config.iterations):
            print(progress_line(step, config.iterations), flush=True)

    with sigterm_as_interrupt():
        try:
            import_tensorflow_quietly()
            plan = decide_precision(plan)  # "auto": the probe, or its cached answer
        except KeyboardInterrupt as exc:
            sys.stderr.write("nst_tf: interrupted before the run started; nothing was written\n")
            return interrupted_status(exc)
        if plan.decision.measured and not args.quiet:
            sys.stderr.write(plan.decision.line() + "\n")
        try:
            run = write_sound_run(plan, tensorboard=not args.no_tb, on_step=show)
        except KeyboardInterrupt as exc:
            sys.stderr.write(f"nst_tf: interrupted while making {plan.folder.path}; what was written is there\n")
            return interrupted_status(exc)
    if run.interruption is not None:
        done = run.iterations_done
        sys.stderr.write(f"nst_tf: interrupted after {done} iterations; what was made so far is in {run.path}\n")
        return interrupted_status(run.interruption)
    if not args.quiet:
        inputs = plan.inputs
        print(f"wrote {run.path / 'result.wav'} ({inputs.length / inputs.rate:.2f} s at {inputs.rate} Hz)")
        print(f"report: {run.path / 'report.html'}")
    return 0
