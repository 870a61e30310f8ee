"""A picture optimisation written into a run folder: the library's `run_to_folder` and `continue_run`.

The same path `python -m nst_tf run` takes, for a Python caller: plan and check everything
(`nst_tf.optim.run_plan`), only then make the run folder (`start_run`), and consume the Step stream of
`stylize` (or the PyTorch twin's) into it (`nst_tf.optim.run_loop.execute`: metrics.csv, snapshots, the
resumable state, TensorBoard, config.json, report.html).

    from nst_tf import Config, run_to_folder
    folder = run_to_folder(["photo.png", "painting.png"], Config(iterations=50), "output")
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from nst_tf.config import Config
from nst_tf.errors import NSTError
from nst_tf.io.provenance import library_versions
from nst_tf.optim.run_loop import execute
from nst_tf.optim.run_plan import RunPlan, check_run, import_torch_run, optimizer_state, plan_new_run, plan_resume
from nst_tf.records import Step
from nst_tf.runtime import EXIT_INTERRUPTED, EXIT_TERMINATED, Terminated


def start_run(plan: RunPlan) -> None:
    """Every check passed: make the run folder (replacing an old nst_tf run), or trim the resumed one."""
    plan.record["versions"] = library_versions()
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


def plan_steps(plan: RunPlan) -> Iterator[Step]:
    """The Step stream of a checked plan: TensorFlow's stylize, or the PyTorch twin's."""
    if plan.backend == "torch":
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
        memory_plan=plan.prepared.get("memory_plan"),
    )


def run_to_folder(
    pictures: list[str],
    config: Config,
    output_dir: str | Path = "output",
    name: str | None = None,
    *,
    overwrite: bool = False,
    style_blend: str | None = None,
    backend: str = "tf",
    tensorboard: bool = True,
    quiet: bool = True,
) -> Path:
    """Optimise a picture into a new run folder OUTPUT_DIR/NAME; returns the folder's path.

    Args:
        pictures: paths of the content picture, then the style picture(s) (texture mode: styles only;
            invert: the content only).
        config: the settings (a preset, or `Config(...)`); resolved here.
        output_dir, name, overwrite, style_blend, backend: as `nst_tf.optim.run_plan.plan_new_run`.
        tensorboard: write TensorBoard event files into the folder.
        quiet: no progress lines on stdout.

    Raises:
        NSTError: bad input (nothing written), or a run stopped by a non-finite cost or a failed write
            (the folder keeps what was written and config.json says why).
        KeyboardInterrupt: Ctrl-C; the folder keeps what was written and says "interrupted".
    """
    plan = plan_new_run(
        config.resolved(),
        list(pictures),
        output_dir,
        name,
        overwrite=overwrite,
        style_blend=style_blend,
        backend=backend,
        command=["nst_tf.run_to_folder"],
    )
    return _run(plan, tensorboard, quiet)


def continue_run(run_dir: str | Path, iterations: int, *, tensorboard: bool = True, quiet: bool = True) -> Path:
    """Continue an earlier run folder from its saved state up to `iterations` steps; returns its path.

    Raises: as `run_to_folder`.
    """
    return _run(plan_resume(run_dir, iterations), tensorboard, quiet)


def _run(plan: RunPlan, tensorboard: bool, quiet: bool) -> Path:
    check_run(plan)
    start_run(plan)
    status = execute(plan, plan_steps(plan), tensorboard=tensorboard, quiet=quiet)
    if status == EXIT_TERMINATED:
        raise Terminated()
    if status == EXIT_INTERRUPTED:
        raise KeyboardInterrupt
    if status:
        raise NSTError(f"the run stopped early; what was written is in {plan.folder.path} (see its config.json)")
    return plan.folder.path
