"""The command line: read arguments, show progress, write the run folder. The only place that writes runs.

`python -m nst_tf run CONTENT STYLE [STYLE ...] [options]` (also `nst-tf run ...`). Defaults come from the
chosen preset (`nst_tf.config`), and any flag given overrides its preset. Every input is checked before
anything is written: a bad picture, weights file or setting gives one line on stderr and exit status 2,
with no traceback and no run folder. A run writes `OUTPUT/NAME/`: generated.png, snapshots/iter_NNNNN.png,
config.json and metrics.csv. Ctrl-C keeps what was written so far and says where it is.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import logging
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nst_tf import __version__
from nst_tf.cli import score as score_cli
from nst_tf.cli.weights import add_weights_parser, command_weights
from nst_tf.config import INIT_MODES, PRESETS, Config, parse_style_layers, preset
from nst_tf.errors import ConfigError, NSTError
from nst_tf.io import images as image_io

log = logging.getLogger("nst_tf")

METRIC_FIELDS = ("iteration", "total", "content", "style", "tv", "seconds")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"nst_tf: error: {message} (see --help)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; setting defaults are None so that the preset decides."""
    parser = _Parser(prog="nst_tf", description="Neural style transfer (Gatys et al.) in TensorFlow/Keras.")
    parser.add_argument("--version", action="version", version=f"nst_tf {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("run", help="stylize a content picture with one or more style pictures")
    run.add_argument("pictures", nargs="*", metavar="CONTENT STYLE", help="content picture, then style picture(s)")
    run.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last snapshot (see --iterations)")
    run.add_argument("-o", "--output-dir", default="output", help="where run folders go (default: output)")
    run.add_argument("--name", help="run folder name (default: CONTENT_STYLE, numbered if taken)")
    run.add_argument("--backend", choices=("tf", "torch"), default="tf", help="TensorFlow, or the PyTorch twin")
    run.add_argument("--overwrite", action="store_true", help="replace an existing run folder of that name")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    run.add_argument("--no-tb", action="store_true", help="write no TensorBoard event files")
    _add_setting_options(run)
    compare = commands.add_parser("compare", help="TensorFlow and the PyTorch twin from one start: a parity report")
    compare.add_argument("pictures", nargs="+", metavar="CONTENT STYLE", help="content picture, then style picture(s)")
    compare.add_argument("-o", "--output", help="report folder (default: output/compare_CONTENT_STYLE)")
    compare.add_argument("--float64", action="store_true", help="run both backends in double precision")
    compare.add_argument("--overwrite", action="store_true", help="replace an existing report")
    _add_setting_options(compare)
    add_weights_parser(commands)
    from nst_tf.perf.bench import add_bench_parser  # argparse only; TensorFlow is imported when it runs

    add_bench_parser(commands)
    score_cli.add_parser(commands)
    from nst_tf.cli import apply, models, train  # one-pass networks (issue 14): argparse only at import

    [module.add_parser(commands) for module in (train, apply, models)]
    return parser


def _add_setting_options(parser: argparse.ArgumentParser) -> None:
    """The flags that override a preset's settings (shared by run and compare)."""
    parser.add_argument("--preset", choices=list(PRESETS), help="starting recipe (default: default)")
    parser.add_argument("--iterations", type=int, help="optimizer steps")
    parser.add_argument("--snapshot-every", type=int, help="save the picture every N steps (0: only the final)")
    parser.add_argument("--image-size", type=int, help="longest side of the result in px (aspect kept)")
    parser.add_argument("--content-weight", type=float, help="alpha")
    parser.add_argument("--style-weight", type=float, help="beta")
    parser.add_argument("--tv-weight", type=float, help="gamma, total-variation smoothing")
    parser.add_argument("--content-layer", help="e.g. conv4_2 or block4_conv2")
    parser.add_argument("--style-layers", help="e.g. conv1_1,conv2_1 (equal weights) or conv1_1:0.5,conv3_1:0.5")
    parser.add_argument("--style-blend", help="weights of several style pictures, e.g. 0.7,0.3")
    parser.add_argument("--learning-rate", type=float, help="Adam step size (pixel units of the preset)")
    parser.add_argument("--init", help=f"{', '.join(INIT_MODES)} or a picture file")
    parser.add_argument("--pooling", choices=("max", "avg"))
    parser.add_argument("--weights", help="auto, imagenet, hed-vgg16, random or a weights file")
    parser.add_argument("--device", choices=("auto", "cpu", "gpu"))
    parser.add_argument("--seed", type=int, help="seed the init noise and TensorFlow (repeatable CPU runs)")
    parser.add_argument(
        "--mode",
        choices=("transfer", "texture", "invert"),
        help="transfer (CONTENT STYLE...), texture synthesis (STYLE...) or feature inversion (CONTENT)",
    )
    parser.add_argument("--size", metavar="WxH", help="exact result size, e.g. 400x300 (replaces --image-size)")
    parser.add_argument(
        "--style-scale", type=float, help="style picture size relative to the result (0.5: bigger strokes)"
    )
    parser.add_argument(
        "--preserve-colors", choices=("post", "luminance", "histogram"), help="keep the content's colours"
    )
    parser.add_argument("--scales", type=int, help="coarse-to-fine stages, for large pictures (e.g. 3)")
    parser.add_argument("--optimizer", choices=("adam", "lbfgs"), help="Adam, or SciPy's L-BFGS-B")
    parser.add_argument("--precision", choices=("float32", "bfloat16"), help="VGG's arithmetic")
    parser.add_argument("--jit", action=argparse.BooleanOptionalAction, default=None, help="XLA-compile the step")


def config_from_args(args: argparse.Namespace) -> Config:
    """The preset, with every flag the user gave applied on top, validated."""
    base = preset(args.preset or "default", args.optimizer)  # the default preset's Adam takes Adam's counts
    changes: dict = {}
    for flag in (
        "iterations",
        "snapshot_every",
        "content_weight",
        "style_weight",
        "tv_weight",
        "content_layer",
        "learning_rate",
        "init",
        "pooling",
        "weights",
        "device",
        "seed",
        "mode",
        "style_scale",
        "preserve_colors",
        "scales",
        "optimizer",
        "precision",
    ):
        value = getattr(args, flag)
        if value is not None:
            changes[flag] = value
    if args.image_size is not None:
        changes["image_size"] = args.image_size
        changes["exact_size"] = None  # an explicit size replaces the preset's squash-to-exact size
    if args.size is not None:
        changes["exact_size"] = parse_size(args.size)
    if args.jit is not None:
        changes["jit_compile"] = args.jit
    if args.style_layers is not None:
        changes["style_layers"] = parse_style_layers(args.style_layers)
    return base.replace(**changes).resolved()


def parse_size(text: str) -> tuple[int, int]:
    """`400x300` (width x height) -> (300, 400) as (height, width)."""
    width, sep, height = text.lower().partition("x")
    try:
        size = (int(height), int(width))
    except ValueError:
        raise ConfigError(f"--size must look like 400x300 (width x height), got {text!r}") from None
    if not sep or min(size) < 16:
        raise ConfigError(f"--size must be WIDTHxHEIGHT with both at least 16 px, got {text!r}")
    return size


def parse_blend(text: str | None, count: int) -> list[float] | None:
    """`0.7,0.3` -> [0.7, 0.3], checked against the number of style pictures."""
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"--style-blend must be numbers separated by commas, got {text!r}") from None
    if len(values) != count:
        raise ConfigError(f"--style-blend has {len(values)} weights for {count} style pictures")
    if any(v < 0 for v in values) or sum(values) <= 0:
        raise ConfigError("--style-blend weights must be >= 0 and not all zero")
    return values


def picture_paths(pictures: list[str], mode: str) -> tuple[str | None, list[str]]:
    """(content, styles) from the positional pictures, as the mode wants them."""
    if mode == "texture":
        if not pictures:
            raise ConfigError("texture synthesis needs at least one STYLE picture")
        return None, list(pictures)
    if mode == "invert":
        if len(pictures) != 1:
            raise ConfigError("feature inversion needs exactly one CONTENT picture")
        return pictures[0], []
    if len(pictures) < 2:
        raise ConfigError("run needs a CONTENT picture and at least one STYLE picture (or --resume RUN_DIR)")
    return pictures[0], list(pictures[1:])


def _run_stem(mode: str, content: str | None, styles: list[str]) -> str:
    """The default run folder name: CONTENT_STYLE, texture_STYLE or CONTENT_invert."""
    if mode == "texture":
        return f"texture_{Path(styles[0]).stem}"
    if mode == "invert":
        return f"{Path(str(content)).stem}_invert"
    return f"{Path(str(content)).stem}_{Path(styles[0]).stem}"


def choose_run_dir(args: argparse.Namespace, stem: str) -> Path:
    """OUTPUT/NAME; a derived name is numbered when taken, an explicit one needs --overwrite."""
    root = Path(args.output_dir)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--output-dir {root} exists and is not a folder")
    if args.name:
        if "/" in args.name or args.name in (".", ".."):
            raise ConfigError(f"--name must be a plain folder name, got {args.name!r}")
        run_dir = root / args.name
        if run_dir.exists() and not args.overwrite:
            raise ConfigError(f"{run_dir} already exists; pass --overwrite to replace it or choose another --name")
        return run_dir
    run_dir, n = root / stem, 2
    while run_dir.exists() and not args.overwrite:
        run_dir, n = root / f"{stem}_{n}", n + 1
    return run_dir


def library_versions() -> dict[str, str]:
    """Versions that decide a run's numbers, for config.json."""
    import h5py
    import keras
    import numpy
    import PIL
    import tensorflow

    return {
        "nst_tf": __version__,
        "python": platform.python_version(),
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "pillow": PIL.__version__,
        "h5py": h5py.__version__,
    }


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


@dataclass
class _RunPlan:
    """Everything a run needs, checked before anything is written."""

    config: Config
    content: np.ndarray
    styles: list[np.ndarray]
    blend: list[float] | None
    run_dir: Path
    record: dict
    resume: object | None = None  # optimize.OptimizerState


def command_run(args: argparse.Namespace) -> int:
    """`run`: validate everything, then stylize and write the run folder (or continue one: --resume)."""
    plan = _plan_resume(args) if args.resume else _plan_new_run(args)
    from nst_tf.vgg import weights as weights_module  # h5py only: still no TensorFlow

    weights = weights_module.resolve_weights_for_config(plan.config)
    with _native_stderr_silenced():  # TensorFlow from here on; its C++ start-up logs bypass Python
        from nst_tf.optim import engine as optimize

        device = optimize.resolve_device(plan.config.device)
    extractor = optimize.build_extractor(plan.config, weights) if args.backend == "tf" else None
    shown_content, shown_styles = optimize.inputs_for_mode(plan.content, plan.styles, plan.config)
    for stage_config, _ in optimize.stage_plan(plan.config)[:-1]:  # every scale's size must work: check now
        optimize.prepare_images(shown_content, [], stage_config)
    content, styles = optimize.prepare_images(shown_content, shown_styles, plan.config)
    if plan.resume is not None:
        optimize.check_resume(plan.resume, content.shape)
    plan.record.update(
        image_size={"height": int(content.shape[1]), "width": int(content.shape[2])},
        weights=weights.summary(),
        device=device,
        versions=library_versions(),
    )
    if plan.resume is None:
        if plan.run_dir.exists():  # --overwrite was given: clear the old run only now that every input is good
            shutil.rmtree(plan.run_dir)
        (plan.run_dir / "snapshots").mkdir(parents=True)
        if plan.content is not None:  # the inputs as the run saw them
            image_io.save_image(content, plan.run_dir / "content.png")
        if styles:
            image_io.save_image(styles[0], plan.run_dir / "style.png")
    if args.backend == "torch":
        steps = _torch_steps(plan, weights)
    else:
        steps = optimize.stylize(
            plan.content, plan.styles, plan.config, extractor=extractor, style_blend=plan.blend, resume=plan.resume
        )
    return _execute(plan, steps, tensorboard=not args.no_tb, quiet=args.quiet)


def _torch_steps(plan: _RunPlan, weights):
    """The PyTorch twin's Step stream for `run --backend torch` (no resume: it keeps no optimizer state)."""
    if plan.resume is not None:
        raise ConfigError("--resume works with the TensorFlow backend only")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle torch threads must not spin on 2 cores
    try:
        import torch

        from nst_tf.twin import torch_vgg as torch_twin
    except ModuleNotFoundError:
        raise ConfigError("--backend torch needs PyTorch: pip install torch==2.13.0") from None
    plan.record["versions"]["torch"] = torch.__version__
    return torch_twin.stylize(plan.content, plan.styles, plan.config, weights=weights, style_blend=plan.blend)


def _plan_new_run(args: argparse.Namespace) -> _RunPlan:
    config = config_from_args(args)
    content_path, style_paths = picture_paths(args.pictures, config.mode)
    content = image_io.load_image(content_path) if content_path else None
    styles = [image_io.load_image(path) for path in style_paths]
    blend = parse_blend(args.style_blend, len(styles))
    if config.init not in INIT_MODES:
        image_io.load_image(config.init)  # a bad init picture must fail now, not mid-run
    run_dir = choose_run_dir(args, _run_stem(config.mode, content_path, style_paths))
    record = {
        "status": "running",
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "content": str(Path(content_path).resolve()) if content_path else None,
        "styles": [str(Path(s).resolve()) for s in style_paths],
        "style_blend": blend,
        "backend": args.backend,
        "config": config.to_dict(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return _RunPlan(config, content, styles, blend, run_dir, record)


# Flags that may accompany --resume: everything else is the run's own and comes from its config.json.
_RESUME_FLAGS = {"resume", "iterations", "quiet", "no_tb", "command", "output_dir", "pictures", "backend"}


def _plan_resume(args: argparse.Namespace) -> _RunPlan:
    from nst_tf.optim.engine import OptimizerState  # numpy only until stylize runs

    run_dir = Path(args.resume)
    given = sorted(k for k, v in vars(args).items() if k not in _RESUME_FLAGS and v not in (None, False))
    if args.pictures or given:
        extra = ", ".join(["pictures"] * bool(args.pictures) + ["--" + k.replace("_", "-") for k in given])
        raise ConfigError(f"--resume continues a run with its own settings; only --iterations may change (got {extra})")
    try:
        record = json.loads((run_dir / "config.json").read_text())
        config = Config.from_dict(record["config"])
        with np.load(run_dir / "state.npz", allow_pickle=False) as saved:
            state = OptimizerState.from_arrays(saved)
    except FileNotFoundError as exc:
        raise ConfigError(
            f"--resume {run_dir}: not a run folder with a saved state ({Path(exc.filename).name} missing)"
        ) from None
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise ConfigError(f"--resume {run_dir}: unreadable run folder ({' '.join(str(exc).split())[:120]})") from None
    if args.iterations is not None:
        config = config.replace(iterations=args.iterations)
    if config.iterations <= state.steps:
        raise ConfigError(
            f"{run_dir} already has {state.steps} steps; pass --iterations N (more than {state.steps}) to continue"
        )
    content = image_io.load_image(record["content"]) if record.get("content") else None
    styles = [image_io.load_image(path) for path in record["styles"]]
    record.update(status="running", config=config.to_dict())
    record.setdefault("resumed", []).append({"from_step": state.steps, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    _forget_after(run_dir, state.steps)
    return _RunPlan(config, content, styles, record.get("style_blend"), run_dir, record, state)


def _forget_after(run_dir: Path, steps: int) -> None:
    """Drop metrics rows and snapshots past the saved state: the resumed run makes them again."""
    with open(run_dir / "metrics.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    kept = [rows[0]] + [row for row in rows[1:] if int(row[0]) < steps]
    with open(run_dir / "metrics.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(kept)
    for path in (run_dir / "snapshots").glob("iter_*.png"):
        if int(path.stem.split("_")[1]) >= steps:
            path.unlink()
    (run_dir / "generated.png").unlink(missing_ok=True)


def _execute(plan: _RunPlan, steps, tensorboard: bool, quiet: bool) -> int:
    """Consume the Step stream: metrics, snapshots, state, TensorBoard, then the final picture and report."""
    run_dir, config, record = plan.run_dir, plan.config, plan.record
    _write_json(run_dir / "config.json", record)
    metrics_path = run_dir / "metrics.csv"
    offset = 0.0  # seconds already spent before a resume
    if plan.resume is not None:
        with open(metrics_path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        offset = float(rows[-1]["seconds"]) if rows else 0.0
    board = _TensorBoard(run_dir / "tb") if tensorboard else None
    progress = _Progress(config.iterations, quiet=quiet, first=plan.resume.steps if plan.resume else 0)
    done, last = (plan.resume.steps if plan.resume else 0), None
    try:
        with open(metrics_path, "a" if plan.resume else "w", newline="") as handle:
            writer = csv.writer(handle)
            if plan.resume is None:
                writer.writerow(METRIC_FIELDS)
            for step in steps:
                seconds = offset + step.seconds
                costs = [f"{step.costs[k]:.9g}" for k in METRIC_FIELDS[1:5]]
                writer.writerow([step.iteration, *costs, f"{seconds:.4f}"])
                handle.flush()
                if board:
                    board.costs(step.iteration, step.costs)
                if step.image is not None:
                    image_io.save_image(step.image, run_dir / "snapshots" / f"iter_{step.iteration:05d}.png")
                    if step.state is not None:  # single-scale TensorFlow runs; the torch twin keeps none
                        _save_state(run_dir, step.state)
                    if board:
                        board.image(step.iteration, step.image)
                    last = step
                done = step.iteration + 1
                progress.update(step, seconds)
    except KeyboardInterrupt:
        progress.close()
        record.update(status="interrupted", iterations_done=done)
        _finish(run_dir, record, board)
        sys.stderr.write(f"nst_tf: interrupted after {done} steps; snapshots and metrics so far are in {run_dir}\n")
        return 130
    progress.close()
    assert last is not None and last.image is not None
    image_io.save_image(last.image, run_dir / "generated.png")
    record.update(
        status="complete", iterations_done=done, seconds=round(offset + last.seconds, 3), final_costs=last.costs
    )
    _finish(run_dir, record, board)
    if not quiet:
        size, total_seconds = record["image_size"], offset + last.seconds
        print(
            f"wrote {run_dir / 'generated.png'} ({size['width']}x{size['height']}, {done} steps, {total_seconds:.1f} s)"
        )
        print(f"report: {run_dir / 'report.html'}")
    return 0


def _save_state(run_dir: Path, state) -> None:
    """state.npz beside the snapshots: the exact variable and Adam's moments, written atomically."""
    tmp = run_dir / "state.tmp.npz"
    np.savez(tmp, **state.to_arrays())
    os.replace(tmp, run_dir / "state.npz")


def _finish(run_dir: Path, record: dict, board) -> None:
    """config.json's final word, then the plots and the page (also for an interrupted run)."""
    from nst_tf.io import report

    _write_json(run_dir / "config.json", record)
    if board:
        board.close()
    if (run_dir / "metrics.csv").stat().st_size and report.read_metrics(run_dir)["iteration"].size:
        report.make_all(run_dir)


class _TensorBoard:
    """Cost scalars every step and snapshot pictures, as TensorBoard event files under tb/."""

    def __init__(self, folder: Path) -> None:
        import tensorflow as tf

        self._tf = tf
        self.writer = tf.summary.create_file_writer(str(folder))

    def costs(self, iteration: int, costs: dict[str, float]) -> None:
        with self.writer.as_default(step=iteration):
            for name, value in costs.items():
                self._tf.summary.scalar(f"cost/{name}", value)

    def image(self, iteration: int, image: np.ndarray) -> None:
        with self.writer.as_default(step=iteration):
            self._tf.summary.image("generated", image)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send file descriptor 2 to /dev/null for the block (TensorFlow's CUDA probing on import writes
    absl lines there before any log level applies). NST_TF_DEBUG=1 keeps them."""
    if os.environ.get("NST_TF_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class _Progress:
    """A tqdm bar on a terminal; plain lines (about 20 per run) when stderr is a log file or pipe."""

    def __init__(self, total: int, quiet: bool, first: int = 0) -> None:
        self.total = total
        self.quiet = quiet
        self.every = max(1, total // 20)
        self.bar = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=first, unit="step", dynamic_ncols=True)

    def update(self, step, seconds: float) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.set_postfix(total=f"{step.costs['total']:.4g}", refresh=False)
            self.bar.update(1)
        elif step.iteration % self.every == 0 or step.iteration == self.total - 1:
            c = step.costs
            print(
                f"step {step.iteration + 1:>5}/{self.total}  total {c['total']:.5g}  content {c['content']:.5g}  "
                f"style {c['style']:.5g}  tv {c['tv']:.3g}  {seconds:.1f}s",
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is at the time (so redirection and test capture both work)."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(self.format(record) + "\n")


def _configure_logging() -> None:
    """Library warnings (e.g. the weights fallback) as one `nst_tf: ...` line each on stderr."""
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("nst_tf: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.WARNING)
        log.propagate = False


def main(argv: list[str] | None = None) -> int:
    """Entry point of `nst-tf` and `python -m nst_tf`; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter off stderr
    _configure_logging()
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return command_run(args)
        if args.command == "weights":
            return command_weights(args)
        if args.command == "compare":
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle torch threads must not spin (2 cores)
            from nst_tf.twin.parity import command_compare

            return command_compare(args)
        if args.command == "score":
            return score_cli.command(args)
        if args.command == "bench":
            from nst_tf.perf.bench import command_bench

            return command_bench(args)
        if args.command in ("train", "apply", "models"):
            return __import__(f"nst_tf.cli.{args.command}", fromlist=["command"]).command(args)
    except NSTError as exc:
        sys.stderr.write(f"nst_tf: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("nst_tf: interrupted before the run started; nothing was written\n")
        return 130
    return 2
