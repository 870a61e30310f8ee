"""`nst_tf run`: stylize a content picture (or continue a run: --resume) into a run folder.

`python -m nst_tf run CONTENT STYLE [STYLE ...] [options]`. Defaults come from the chosen preset
(`nst_tf.config`); any flag given overrides it. Order of work: plan (settings, pictures, output place;
nst_tf.cli.run_plan), check (weights, sizes at every scale, memory, saved state), and only then create or
change the run folder (nst_tf.io.rundir) and run the loop (nst_tf.cli.run_loop). So a refusal at any
check leaves nothing behind and touches nothing: no folder made, no old run replaced, no resumed run's
files deleted. SIGTERM is handled like Ctrl-C (exit 143).
"""

from __future__ import annotations

import argparse
import sys

from nst_tf.cli.common import HelpFormatter, interrupted_status, sigterm_as_interrupt, warnings_held
from nst_tf.cli.run_loop import execute
from nst_tf.cli.run_plan import RunPlan, check_run, optimizer_state, plan_new_run, plan_resume
from nst_tf.cli.settings import add_setting_options
from nst_tf.io.provenance import library_versions


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


def command(args: argparse.Namespace) -> int:
    """`run`: check everything, then stylize and write the run folder; returns the exit status."""
    with sigterm_as_interrupt():
        try:
            with warnings_held():  # a refusal is the only line; the fallback note comes once the run starts
                plan = plan_resume(args) if args.resume else plan_new_run(args)
                check_run(plan)
            plan.record["versions"] = library_versions()
            decision = plan.prepared.get("precision")
            if decision is not None and decision.measured and not args.quiet:
                sys.stderr.write(decision.line() + "\n")
        except KeyboardInterrupt as exc:
            sys.stderr.write("nst_tf: interrupted before the run started; nothing was written\n")
            return interrupted_status(exc)
        try:
            _commit(plan)
            return execute(plan, _steps(plan), tensorboard=not args.no_tb, quiet=args.quiet)
        except KeyboardInterrupt as exc:  # while the folder was being made, before the first step
            sys.stderr.write(f"nst_tf: interrupted while starting the run; what was written is in {plan.folder.path}\n")
            return interrupted_status(exc)


def _commit(plan: RunPlan) -> None:
    """Every check passed: make the run folder (replacing an old run), or trim the resumed one."""
    folder = plan.folder
    if plan.resume is not None:
        folder.adopt()
        folder.forget_after(plan.resume_steps)
        (folder.path / "generated.png").unlink(missing_ok=True)
        return
    folder.create()
    content, styles = plan.prepared["content"], plan.prepared["styles"]
    if plan.content is not None:  # the inputs as the run saw them
        folder.save_picture("content.png", content)
    if styles:
        folder.save_picture("style.png", styles[0])


def _steps(plan: RunPlan):
    """The Step stream: TensorFlow's stylize, or the PyTorch twin's."""
    if plan.backend == "torch":
        from nst_tf.cli.run_plan import import_torch_run

        weights = plan.prepared["weights"]
        return import_torch_run().stylize(
            plan.content, plan.styles, plan.config, weights=weights, style_blend=plan.blend
        )
    from nst_tf.optim import engine

    return engine.stylize(
        plan.content,
        plan.styles,
        plan.config,
        extractor=plan.prepared["extractor"],
        style_blend=plan.blend,
        resume=optimizer_state(plan),
    )
