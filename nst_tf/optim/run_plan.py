"""A run's preparation: every input, setting and output place checked before anything is written.

`plan_new_run` and `plan_resume` read the settings and pictures (and, for a resume, the run folder) into a
`RunPlan` without writing a byte; `check_run` then does the checks that need TensorFlow or the weights
(picture sizes at every scale, the memory estimate, the saved state's shape, the torch backend's
presence). Only when all of them pass does `start_run` create or change the run folder, so a refused run,
or a refused resume, leaves the disk exactly as it was. `nst_tf.optim.to_folder` strings them together.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nst_tf.config import INIT_MODES, Config
from nst_tf.errors import ConfigError
from nst_tf.io import images as image_io
from nst_tf.io.rundir import RunFolder
from nst_tf.runtime import import_tensorflow_quietly

# Keys a run record must hold to be resumed.
RESUME_RECORD_KEYS = ("status", "config", "content", "styles", "image_size")

log = logging.getLogger(__name__)


@dataclass
class RunPlan:
    """Everything a run needs, checked before anything is written."""

    config: Config
    content: np.ndarray | None
    styles: list[np.ndarray]
    blend: list[float] | None
    folder: RunFolder
    record: dict
    backend: str = "tf"
    resume: dict[str, np.ndarray] | None = None  # the saved state's arrays
    resume_steps: int = 0
    prepared: dict = dataclasses.field(default_factory=dict)  # weights, extractor: made by check_run


def parse_blend(text: str | None, count: int, flag: str = "--style-blend") -> list[float] | None:
    """`0.7,0.3` -> [0.7, 0.3], checked against the number of style pictures (`flag` names it in errors)."""
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"{flag} must be numbers separated by commas, got {text!r}") from None
    if len(values) != count:
        raise ConfigError(f"{flag} has {len(values)} weights for {count} style pictures")
    if not all(math.isfinite(v) and v >= 0 for v in values) or sum(values) <= 0:
        raise ConfigError(f"{flag} weights must be finite, >= 0 and not all zero")
    return values


def picture_paths(pictures: list[str], mode: str) -> tuple[str | None, list[str]]:
    """(content, styles) from the positional pictures, as the mode wants them."""
    if mode == "texture":
        if not pictures:
            raise ConfigError("texture synthesis needs at least one STYLE picture")
        if len(pictures) > 1:  # said, not silent: a user may have meant the first as a content picture
            log.warning("texture synthesis has no content picture: all %d pictures are style pictures", len(pictures))
        return None, list(pictures)
    if mode == "invert":
        if len(pictures) != 1:
            raise ConfigError("feature inversion needs exactly one CONTENT picture")
        return pictures[0], []
    if len(pictures) < 2:
        raise ConfigError("run needs a CONTENT picture and at least one STYLE picture (or --resume RUN_DIR)")
    return pictures[0], list(pictures[1:])


def run_stem(mode: str, content: str | None, styles: list[str]) -> str:
    """The default run folder name: CONTENT_STYLE, texture_STYLE or CONTENT_invert."""
    if mode == "texture":
        return f"texture_{Path(styles[0]).stem}"
    if mode == "invert":
        return f"{Path(str(content)).stem}_invert"
    return f"{Path(str(content)).stem}_{Path(styles[0]).stem}"


def plan_new_run(
    config: Config,
    pictures: list[str],
    output_dir: str | Path = "output",
    name: str | None = None,
    *,
    overwrite: bool = False,
    style_blend: str | None = None,
    backend: str = "tf",
    command: list[str] | None = None,
) -> RunPlan:
    """Settings, pictures and the run folder's place, checked; nothing written.

    Args:
        config: the run's settings (resolved).
        pictures: picture paths: content, then style(s) (texture: styles only; invert: the content only).
        output_dir, name: the run folder is OUTPUT_DIR/NAME (default name CONTENT_STYLE, numbered if taken).
        overwrite: replace an earlier nst_tf run folder of that name (never a folder nst_tf did not make).
        style_blend: weights of several style pictures as text, e.g. "0.7,0.3".
        backend: "tf", or "torch" (the PyTorch twin).
        command: the command line recorded in config.json (default: this process's).
    """
    content_path, style_paths = picture_paths(pictures, config.mode)
    content = image_io.load_image(content_path) if content_path else None
    styles = [image_io.load_image(path) for path in style_paths]
    blend = parse_blend(style_blend, len(styles))
    if config.init not in INIT_MODES:
        image_io.load_image(config.init)  # a bad init picture must fail now, not mid-run
    stem = run_stem(config.mode, content_path, style_paths)
    folder = RunFolder.plan_new(output_dir, name, stem, overwrite=overwrite)
    record = {
        "status": "running",
        "command": command if command is not None else [Path(sys.argv[0]).name, *sys.argv[1:]],
        "content": str(Path(content_path).resolve()) if content_path else None,
        "styles": [str(Path(s).resolve()) for s in style_paths],
        "style_blend": blend,
        "backend": backend,
        "config": config.to_dict(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return RunPlan(config, content, styles, blend, folder, record, backend=backend)


def plan_resume(run_dir: str | Path, iterations: int | None = None) -> RunPlan:
    """The run folder's record, metrics and saved state, checked; nothing written or deleted.

    Args:
        run_dir: an earlier run's folder (TensorFlow backend, single scale, with a saved state).
        iterations: the new total of steps (more than the folder has); None: the run's own.
    """
    folder = RunFolder.open(run_dir)
    record = folder.read_record(required=RESUME_RECORD_KEYS)
    config = _record_config(folder, record)
    if iterations is not None:
        config = config.replace(iterations=iterations)
    if config.scales > 1:
        raise ConfigError("--resume works with single-scale runs only")
    folder.read_metrics()  # a malformed metrics.csv is refused now, not after the first step
    snapshots = folder.path / "snapshots"
    if snapshots.exists() and not snapshots.is_dir():  # else the first snapshot fails after config.json changed
        raise ConfigError(f"--resume {folder.path}: its snapshots is not a folder")
    arrays = _saved_state(folder, record)
    steps = int(arrays["steps"])
    if config.iterations <= steps:
        raise ConfigError(
            f"{folder.path} already has {steps} steps; pass --iterations N (more than {steps}) to continue"
        )
    content = image_io.load_image(record["content"]) if record["content"] else None
    styles = [image_io.load_image(path) for path in record["styles"]]
    blend = record.get("style_blend")
    if blend is not None:
        if not isinstance(blend, list):
            raise ConfigError(f"{folder.path / 'config.json'}: 'style_blend' is not a list of weights")
        blend = parse_blend(",".join(str(v) for v in blend), len(styles))
    record.update(status="running", config=config.to_dict())
    if not isinstance(record.get("resumed"), list):
        record["resumed"] = []
    record["resumed"].append({"from_step": steps, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    plan = RunPlan(config, content, styles, blend, folder, record, "tf", arrays, steps)
    return plan


def _record_config(folder: RunFolder, record: dict) -> Config:
    settings = record["config"]
    where = folder.path / "config.json"
    if not isinstance(settings, dict):
        raise ConfigError(f"{where}: 'config' is not a set of settings")
    settings = {**_LATER_SETTINGS, **settings}  # a run folder written before a setting existed
    missing = sorted({f.name for f in dataclasses.fields(Config)} - set(settings))
    if missing:
        raise ConfigError(f"{where}: the settings lack {', '.join(missing)}")
    if not isinstance(record["styles"], list) or not all(isinstance(s, str) for s in record["styles"]):
        raise ConfigError(f"{where}: 'styles' is not a list of picture paths")
    if record["content"] is not None and not isinstance(record["content"], str):
        raise ConfigError(f"{where}: 'content' is not a picture path")
    wrong = [f.name for f in dataclasses.fields(Config) if not _has_type(settings[f.name], str(f.type))]
    if wrong:
        raise ConfigError(f"{where}: the settings {', '.join(wrong)} have the wrong type")
    try:
        return Config.from_dict(settings)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: a setting has the wrong type ({' '.join(str(exc).split())[:80]})") from None


# Settings added after run folders were first written, with the value such a run had: --max-memory (issue 26).
_LATER_SETTINGS = {"max_memory": None}

# Field annotations (as text, `from __future__ import annotations`) -> the JSON types config.json may hold.
_JSON_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}


def _has_type(value: object, annotation: str) -> bool:
    """Does a config.json value fit a Config field's annotation? (Tuples are checked by Config.from_dict.)"""
    kinds = annotation.replace(" ", "").split("|")
    if value is None:
        return "None" in kinds
    for kind in (k for k in kinds if k != "None"):
        allowed = _JSON_TYPES.get(kind)
        if allowed is None:  # tuples, LayerWeights: from_dict converts and checks them
            return True
        if isinstance(value, allowed) and (kind == "bool" or not isinstance(value, bool)):
            return True
    return False


def _saved_state(folder: RunFolder, record: dict) -> dict[str, np.ndarray]:
    size = record["image_size"]
    try:
        shape = (1, int(size["height"]), int(size["width"]), 3)
    except (TypeError, KeyError, ValueError):
        raise ConfigError(f"{folder.path / 'config.json'}: 'image_size' is not {{height, width}}") from None
    if min(shape) < 1 or math.prod(shape) > 2**31:
        raise ConfigError(f"{folder.path / 'config.json'}: 'image_size' {size} is not a picture size")
    picture_bytes = math.prod(shape) * 4
    if not folder.state.exists():
        raise ConfigError(f"--resume {folder.path}: no saved state (the run saved none before it stopped)")
    import_tensorflow_quietly()  # the state reader is TensorFlow's; its start-up lines stay off stderr
    expected = {"steps": ((), "exact"), "image": (shape, "exact"), "optimizer": (None, "prefix")}
    arrays = folder.state.load(expected, max_bytes=4 * picture_bytes + 2**20)
    steps = arrays["steps"]
    if steps.dtype.kind not in "iu" or int(steps) < 1:
        raise ConfigError(f"--resume {folder.path}: the saved state's step count is not a positive integer")
    if not np.isfinite(arrays["image"]).all():
        raise ConfigError(f"--resume {folder.path}: the saved picture holds NaN or infinity")
    return arrays


def check_run(plan: RunPlan) -> None:
    """The checks that need the weights or TensorFlow; fills plan.prepared. Writes nothing."""
    from nst_tf.vgg import weights as weights_module  # h5py only: still no TensorFlow

    weights = weights_module.resolve_weights_for_config(plan.config)
    import_tensorflow_quietly()
    from nst_tf.optim import pictures
    from nst_tf.optim.engine import resolve_device
    from nst_tf.optim.memory_plan import plan_memory
    from nst_tf.perf.precision import resolve_config
    from nst_tf.vgg.extractor import build_extractor

    # "auto" precision is decided once, here, and the run uses and records what it resolved to (a resumed
    # run's config holds the resolved value already, and its record keeps the original decision).
    plan.config, decision = resolve_config(plan.config, plan.backend, weights.architecture)
    plan.record["config"] = plan.config.to_dict()
    plan.record.setdefault("precision_decision", decision.to_dict())
    plan.prepared["precision"] = decision
    config = plan.config

    device = resolve_device(config.device)
    shown_content, shown_styles = pictures.inputs_for_mode(plan.content, plan.styles, config)
    if device == "/CPU:0":  # planned (or refused) before any picture is resized or folder made
        planned = plan_memory(config, *shown_content.shape[1:3], weights.architecture)
        if planned.changes_anything and (plan.backend == "torch" or plan.resume is not None):
            raise ConfigError(f"{planned.line()[8:]}: only a new run on the TensorFlow backend can do that")
        plan.prepared["memory_plan"] = planned
        plan.record["memory_plan"] = planned.line()[8:]
        config = planned.config  # with the coarse-to-fine stages the plan added, if any
    for stage_config, _ in pictures.stage_plan(config)[:-1]:  # every scale's size must work: check now
        pictures.prepare_images(shown_content, [], stage_config)
    content, styles = pictures.prepare_images(shown_content, shown_styles, config)
    height, width = int(content.shape[1]), int(content.shape[2])
    if plan.resume is not None and tuple(plan.resume["image"].shape) != tuple(content.shape):
        raise ConfigError(
            f"the saved state is for a {plan.resume['image'].shape} picture, this run makes {tuple(content.shape)}"
        )
    if plan.resume is not None and config.optimizer == "adam" and not _optimizer_arrays(plan.resume):
        raise ConfigError("the saved state is an L-BFGS run's; it cannot be continued with Adam")
    extractor = None
    if plan.backend == "torch":
        _check_torch(plan)
    else:
        extractor = build_extractor(config, weights)
    plan.record.update(image_size={"height": height, "width": width}, weights=weights.summary(), device=device)
    plan.prepared.update(weights=weights, extractor=extractor, content=content, styles=styles)


def plan_lines(plan: RunPlan) -> list[str]:
    """What a checked run says on stderr before it starts: the precision probe's decision when it measured,
    and the memory plan when --max-memory was given or the plan changed the run (stages, Adam, tiles)."""
    lines = []
    if (decision := plan.prepared.get("precision")) is not None and decision.measured:
        lines.append(decision.line())
    if (planned := plan.prepared.get("memory_plan")) is not None and (planned.given or planned.changes_anything):
        lines.append(planned.line())
    return lines


def _optimizer_arrays(arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    count = sum(1 for key in arrays if key.startswith("optimizer_"))
    return [arrays[f"optimizer_{i}"] for i in range(count)]


def import_torch_run():
    """nst_tf.twin.torch_run (no TensorFlow import), or one line saying PyTorch is missing."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle torch threads must not spin on 2 cores
    try:
        from nst_tf.twin import torch_run
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        raise ConfigError("--backend torch needs PyTorch: pip install torch==2.13.0") from None
    return torch_run


def _check_torch(plan: RunPlan) -> None:
    """Refuse, before anything is made, what the PyTorch twin cannot do."""
    import_torch_run().check_supported(plan.config, resume=plan.resume is not None)


def optimizer_state(plan: RunPlan):
    """The saved arrays as the engine's OptimizerState (for stylize's `resume`)."""
    from nst_tf.optim.records import OptimizerState

    if plan.resume is None:
        return None
    arrays = plan.resume
    return OptimizerState(int(arrays["steps"]), np.asarray(arrays["image"], np.float32), _optimizer_arrays(arrays))
