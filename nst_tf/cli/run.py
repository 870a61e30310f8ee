"""`nst_tf run`: stylize a content picture (or continue a run: --resume) into a run folder.

`python -m nst_tf run CONTENT STYLE [STYLE ...] [options]`. Defaults come from the chosen preset
(`nst_tf.config`); any flag given overrides it. Order of work: plan (settings, pictures, output place;
nst_tf.optim.run_plan), check (weights, sizes at every scale, memory, saved state), and only then create or
change the run folder (nst_tf.optim.to_folder.start_run) and run the loop (nst_tf.optim.run_loop). So a
refusal at any check leaves nothing behind and touches nothing. SIGTERM is handled like Ctrl-C (exit 143).
The same path is the library's `nst_tf.run_to_folder`.
"""

from __future__ import annotations

import argparse
import sys

from nst_tf.cli.common import HelpFormatter, warnings_held
from nst_tf.cli.settings import add_setting_options, config_from_args
from nst_tf.errors import ConfigError
from nst_tf.runtime import interrupted_status, sigterm_as_interrupt

# Flags that may accompany --resume: everything else is the run's own and comes from its config.json.
RESUME_FLAGS = {"resume", "iterations", "quiet", "no_tb", "command", "output_dir", "pictures", "backend"}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `run` to the command line's subcommands; returns its parser."""
    run = subparsers.add_parser(
        "run",
        help="stylize a content picture with one or more style pictures",
        description="Stylize CONTENT with STYLE(s) into OUTPUT_DIR/NAME/ (a run folder), or continue a run.",
        formatter_class=HelpFormatter,
    )
    run.add_argument("pictures", nargs="*", metavar="CONTENT STYLE", help="content picture, then style picture(s)")
    run.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last snapshot (see --iterations)")
    run.add_argument("-o", "--output-dir", default="output", help="where run folders go")
    run.add_argument("--name", help="run folder name (default: CONTENT_STYLE, numbered if taken)")
    run.add_argument("--backend", choices=("tf", "torch"), default="tf", help="TensorFlow, or the PyTorch twin")
    run.add_argument("--overwrite", action="store_true", help="replace an existing run folder of that name")
    run.add_argument("--style-blend", metavar="W,W", help="weights of several style pictures, e.g. 0.7,0.3")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    run.add_argument("--no-tb", action="store_true", help="write no TensorBoard event files")
    add_setting_options(run)
    return run


def _plan(args: argparse.Namespace):
    from nst_tf.optim.run_plan import plan_new_run, plan_resume

    if not args.resume:
        config = config_from_args(args)
        return plan_new_run(
            config,
            args.pictures,
            args.output_dir,
            args.name,
            overwrite=args.overwrite,
            style_blend=args.style_blend,
            backend=args.backend,
        )
    given = sorted(k for k, v in vars(args).items() if k not in RESUME_FLAGS and v not in (None, False))
    if args.pictures or given:
        extra = ", ".join(["pictures"] * bool(args.pictures) + ["--" + k.replace("_", "-") for k in given])
        raise ConfigError(f"--resume continues a run with its own settings; only --iterations may change (got {extra})")
    if args.backend != "tf":
        raise ConfigError("--resume works with the TensorFlow backend only (the torch twin saves no state)")
    return plan_resume(args.resume, args.iterations)


def command(args: argparse.Namespace) -> int:
    """`run`: check everything, then stylize and write the run folder; returns the exit status."""
    with sigterm_as_interrupt():
        try:
            with warnings_held():  # a refusal is the only line; the fallback note comes once the run starts
                from nst_tf.optim.run_plan import check_run, plan_lines

                plan = _plan(args)
                check_run(plan)
            if not args.quiet:  # the precision probe's decision, the memory plan (stages, tiles)
                sys.stderr.write("".join(line + "\n" for line in plan_lines(plan)))
        except KeyboardInterrupt as exc:
            sys.stderr.write("nst_tf: interrupted before the run started; nothing was written\n")
            return interrupted_status(exc)
        from nst_tf.optim.run_loop import execute
        from nst_tf.optim.to_folder import plan_steps, start_run

        try:
            start_run(plan)
            return execute(plan, plan_steps(plan), tensorboard=not args.no_tb, quiet=args.quiet)
        except KeyboardInterrupt as exc:  # while the folder was being made, before the first step
            sys.stderr.write(f"nst_tf: interrupted while starting the run; what was written is in {plan.folder.path}\n")
            return interrupted_status(exc)
