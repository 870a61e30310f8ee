"""Training a one-pass network into a model folder: the library entry behind the `train` command.

`NetworkTraining(model_dir, settings, steps=…)` checks everything first (the settings, or with `resume=True`
the folder's own; the style picture, the photo folder, the sample photos, the model folder's state) and
writes nothing; `.steps(should_stop)` then trains (`nst_tf.feedforward.trainer.Training`), yielding one
`nst_tf.records.Step` per training step (`image` the held-out samples beside their stylization on sample
steps), while it writes MODEL_DIR/run/ (`nst_tf.training.runlog`) and MODEL_DIR/checkpoints/, and at the
end — finished, or stopped by `should_stop()` between two steps — the model itself
(MODEL_DIR/model.weights.h5 + model.json). `train_network(...)` is the same as one generator call.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from nst_tf.errors import ConfigError
from nst_tf.feedforward.settings import TrainSettings
from nst_tf.io import package_data, provenance
from nst_tf.io.places import check_creatable
from nst_tf.records import Step

log = logging.getLogger(__name__)

DEFAULT_SAMPLES = ("chelsea.png", "coffee.png")  # the project's own held-out photos (images/)


def read_run_settings(model_dir: Path) -> TrainSettings:
    """The settings of the training run in `model_dir` (its run/config.json), for a resume."""
    config_path = model_dir / "run" / "config.json"
    if not config_path.is_file():
        raise ConfigError(f"{model_dir}: nothing to resume (no run/config.json)")
    try:
        return TrainSettings.from_dict(json.loads(config_path.read_text(encoding="utf-8"))["settings"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{config_path}: not a training run's config ({type(exc).__name__})") from None


def sample_photos(paths: list[str] | None, sample_size: int, min_side: int = 32) -> list[np.ndarray]:
    """The held-out photos (default: the project's images/chelsea.png and coffee.png, where present), each
    with its longest side `sample_size` px (at least `min_side`)."""
    from nst_tf.io.images import fit_size, load_image, resize

    if paths is None:
        root = package_data.package_path(package_data.SAMPLES)
        paths = [str(root / name) for name in DEFAULT_SAMPLES if (root / name).is_file()]
    photos = []
    for path in paths:
        picture = load_image(path)
        longest = max(sample_size, min_side)
        photos.append(resize(picture, *fit_size(picture.shape[1], picture.shape[2], longest)))
    return photos


class NetworkTraining:
    """A checked training run (see the module docstring); nothing is written until `steps()` runs.

    Args:
        model_dir: the model folder to create (empty or absent), or with `resume` the one to continue.
        settings: the recipe (style picture, photo folder …); ignored with `resume` (the folder's own).
        steps: the total number of training steps (with `resume`, more than the folder has).
        resume: continue `model_dir`'s run from its last checkpoint.
        samples: held-out photo paths (default: the project's two photos); sample_every: every N steps
            (0: only at the end); sample_size: their longest side in px.
        style_licence: recorded in model.json; tensorboard: write tb/ event files.
        command: the command line recorded in config.json and model.json (default: this process's).
    """

    def __init__(
        self,
        model_dir: str | Path,
        settings: TrainSettings | None = None,
        *,
        steps: int = 2000,
        resume: bool = False,
        samples: list[str] | None = None,
        sample_every: int = 100,
        sample_size: int = 192,
        style_licence: str = "",
        tensorboard: bool = True,
        command: str | None = None,
    ) -> None:
        if steps < 1 or sample_every < 0 or sample_size < 16:
            raise ConfigError("--steps must be ≥ 1, --sample-every ≥ 0 and --sample-size ≥ 16")
        self.model_dir = model_dir = Path(model_dir)
        if not model_dir.is_dir():  # under a plain file, in /proc, a name too long ...: one line, before any work
            check_creatable(model_dir, "-o")
        from nst_tf.feedforward.model_io import check_model_files
        from nst_tf.training.runlog import check_run_folder

        check_run_folder(model_dir / "run")  # the ownership rule: never write into a folder nst_tf did not make
        check_model_files(model_dir)
        if resume:
            settings = read_run_settings(model_dir)
        else:
            if settings is None:
                raise ConfigError("train needs a STYLE picture and --data DIR (or --resume)")
            if model_dir.exists() and (not model_dir.is_dir() or any(model_dir.iterdir())):
                raise ConfigError(f"{model_dir}: already exists and is not empty (use --resume, or another folder)")
        # "auto" precision decided once, here; a resumed run's settings hold the value its first start chose
        self.settings, self.decision = settings.validate().resolved()
        from nst_tf.feedforward.trainer import load_style
        from nst_tf.training.data import scan_photos

        load_style(settings.style, settings.style_size)  # a bad style picture fails here, before any folder
        scan_photos(settings.data)
        self.samples = sample_photos(samples, sample_size)
        self.total_steps, self.sample_every = steps, sample_every
        self.style_licence, self.tensorboard = style_licence, tensorboard
        self.command = command or _command_line()
        self.stopped = False  # set when should_stop() ended the run early
        self.last = {"step": 0, "losses": {}, "seconds": 0.0}  # the summary model.json records

    def steps(self, should_stop: Callable[[], bool] = lambda: False) -> Iterator[Step]:
        """Train; one Step per training step. Raises ConfigError when the folder already has the steps."""
        from nst_tf.feedforward.trainer import Training
        from nst_tf.training.runlog import RunLog

        started = time.time()
        training = Training(self.settings, str(self.model_dir / "checkpoints"))
        if training.start_step >= self.total_steps:
            raise ConfigError(f"{self.model_dir}: already trained {training.start_step} steps (raise --steps to go on)")
        config = {"settings": self.settings.to_dict(), "steps": self.total_steps, "command": self.command}
        config["precision_decision"] = self.decision.to_dict()
        run_log = RunLog(self.model_dir / "run", {**config, **_machine()}, training.start_step, self.tensorboard)
        if training.photos.skipped:
            log.warning("skipped %d unreadable photo(s) in %s", len(training.photos.skipped), self.settings.data)
        recent: list[dict[str, float]] = []
        self.last = last = {"step": training.start_step, "losses": {}, "seconds": 0.0}
        try:
            for step in training.records(self.total_steps, should_stop):
                done = step.iteration + 1
                run_log.step(done, step.costs, step.seconds)
                recent = (recent + [step.costs])[-50:]
                self.last = last = {"step": done, "losses": _mean(recent), "seconds": last["seconds"] + step.seconds}
                image = None
                if self.samples and self.sample_every and done % self.sample_every == 0:
                    strip = _sample_strip(training, self.samples)
                    run_log.samples(done, strip)
                    image = np.concatenate([p[0] for p in strip], axis=1)[np.newaxis]
                yield Step(step.iteration, step.costs, step.seconds, image)
        finally:
            self.stopped = should_stop()
        if self.samples:
            run_log.samples(last["step"], _sample_strip(training, self.samples))
        run_log.plot()
        run_log.close()
        self._write_model(training, started)

    def _write_model(self, training, started: float) -> None:
        from nst_tf.feedforward.model_io import save_model_folder

        settings, previous = self.settings, {}
        meta_path = self.model_dir / "model.json"
        if meta_path.is_file():  # a resumed run adds its time to the earlier runs'
            with contextlib.suppress(ValueError, OSError):
                previous = json.loads(meta_path.read_text())
        arch = {"generator": settings.generator, "width": settings.width, "seed": settings.seed}
        style = {
            "file": Path(settings.style).name,
            "licence": self.style_licence or previous.get("style", {}).get("licence", ""),
        }
        meta = {
            "architecture": arch,
            "style": style,
            "steps": self.last["step"],
            "image_size": settings.image_size,
            "batch": settings.batch,
            "losses_last_50_steps": self.last["losses"],
            "train_seconds": round(float(previous.get("train_seconds", 0.0)) + time.time() - started, 1),
            "settings": settings.to_dict(),
            "training_data": Path(settings.data).name,
            "commands": previous.get("commands", []) + [self.command],
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **_machine(),
        }
        save_model_folder(self.model_dir, training.model, meta)


def train_network(model_dir: str | Path, settings: TrainSettings | None = None, **options) -> Iterator[Step]:
    """Train a one-pass network into `model_dir`: `NetworkTraining(model_dir, settings, **options).steps()`."""
    yield from NetworkTraining(model_dir, settings, **options).steps()


def _sample_strip(training, samples: list[np.ndarray]) -> list[np.ndarray]:
    """Each held-out photo beside its stylization, all at the first photo's height."""
    from nst_tf.io.images import resize

    height = samples[0].shape[1]
    out = []
    for photo in samples:
        photo = resize(photo, height, max(1, round(photo.shape[2] * height / photo.shape[1])))
        out += [photo, training.stylize(photo)]
    return out


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} if rows else {}


def _command_line() -> str:
    return "python -m nst_tf " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["-m"] else sys.argv[1:])


def _machine() -> dict:
    return {"machine": provenance.machine(), "versions": provenance.library_versions()}
