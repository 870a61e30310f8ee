"""`python -m nst_tf train STYLE --data DIR -o MODEL_DIR`: train a one-pass network for one style.

Checks every input first (style picture, photo folder, settings, the model folder's state), then builds the
training session (`nst_tf.feedforward.trainer`), shows a tqdm bar, writes the run folder (MODEL_DIR/run/,
see `nst_tf.feedforward.runlog`) and checkpoints (MODEL_DIR/checkpoints/), and at the end, or when stopped
by Ctrl-C or SIGTERM between two steps, the model itself (MODEL_DIR/model.weights.h5 + model.json).
`--resume` continues from the last checkpoint with the folder's own settings (`--steps` may raise the total).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import time
from pathlib import Path

import numpy as np

from nst_tf.errors import ConfigError
from nst_tf.io import package_data, provenance
from nst_tf.io.places import check_creatable

DEFAULT_SAMPLES = ("chelsea.png", "coffee.png")  # the project's own held-out photos (images/)


def add_parser(commands) -> None:
    p = commands.add_parser("train", help="train a one-pass style network (Johnson et al. / texture networks)")
    p.add_argument("style", nargs="?", help="the style picture (not needed with --resume)")
    p.add_argument("--data", help="folder of training photos (e.g. ../shared/train/coco128)")
    p.add_argument("-o", "--output", required=True, metavar="MODEL_DIR", help="model folder to create (or resume)")
    p.add_argument("--generator", choices=("johnson", "texture-net", "texture"), help="network (default johnson)")
    p.add_argument("--width", type=float, help="channel multiplier (default 0.5)")
    p.add_argument("--image-size", type=int, help="training crop side in px (default 128)")
    p.add_argument("--photo-size", type=int, help="photos' shorter side before cropping (default: --image-size)")
    p.add_argument("--style-size", type=int, help="style picture's longest side in px (default 256)")
    p.add_argument("--batch", type=int, help="photos per step (default 4)")
    p.add_argument("--steps", type=int, default=2000, help="total training steps (default 2000)")
    p.add_argument("--learning-rate", type=float, help="Adam's learning rate (default 1e-3)")
    p.add_argument("--content-weight", type=float, help="alpha (default 1)")
    p.add_argument("--style-weight", type=float, help="beta (default 10)")
    p.add_argument("--tv-weight", type=float, help="gamma, total variation (default 10)")
    p.add_argument("--weights", help="VGG16 loss network weights (default imagenet-vgg16; random for tests)")
    p.add_argument("--mixed-precision", action="store_true", help="compute in bfloat16 (float32 variables)")
    p.add_argument("--seed", type=int, help="seed of the initial weights, crops and noise (default 0)")
    p.add_argument("--checkpoint-every", type=int, help="checkpoint every N steps (default 200)")
    p.add_argument("--sample-every", type=int, default=100, help="stylize the held-out photos every N steps")
    p.add_argument("--samples", nargs="*", help="held-out photos for the samples (default: images/chelsea, coffee)")
    p.add_argument("--sample-size", type=int, default=192, help="longest side of the samples in px")
    p.add_argument("--style-licence", default="", help="licence of the style picture, recorded in model.json")
    p.add_argument("--strategy", choices=("mirrored", "multi-worker", "default"), help="tf.distribute strategy")
    p.add_argument("--resume", action="store_true", help="continue MODEL_DIR's run from its last checkpoint")
    p.add_argument("--no-tb", action="store_true", help="write no TensorBoard events")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


_SETTING_FLAGS = (
    "generator width image_size photo_size style_size batch learning_rate content_weight style_weight tv_weight "
    "weights seed checkpoint_every strategy"
).split()


def _settings(args: argparse.Namespace, model_dir: Path):
    """TrainSettings from the flags (new run) or from the folder's config.json (resume)."""
    from nst_tf.feedforward.trainer import TrainSettings

    if args.resume:
        config_path = model_dir / "run" / "config.json"
        if not config_path.is_file():
            raise ConfigError(f"{model_dir}: nothing to resume (no run/config.json)")
        try:
            settings = TrainSettings.from_dict(json.loads(config_path.read_text(encoding="utf-8"))["settings"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{config_path}: not a training run's config ({type(exc).__name__})") from None
    else:
        if not args.style or not args.data:
            raise ConfigError("train needs a STYLE picture and --data DIR (or --resume)")
        if model_dir.exists() and (not model_dir.is_dir() or any(model_dir.iterdir())):
            raise ConfigError(f"{model_dir}: already exists and is not empty (use --resume, or another folder)")
        given = {k: getattr(args, k) for k in _SETTING_FLAGS if getattr(args, k) is not None}
        settings = TrainSettings(
            style=str(Path(args.style).resolve()),
            data=str(Path(args.data).resolve()),
            mixed_precision=args.mixed_precision,
            **given,
        )
    settings.check()
    return settings


def _sample_photos(args: argparse.Namespace, min_side: int) -> list[np.ndarray]:
    from nst_tf.io.images import fit_size, load_image, resize

    paths = args.samples
    if paths is None:
        root = package_data.package_path(package_data.SAMPLES)
        paths = [str(root / name) for name in DEFAULT_SAMPLES if (root / name).is_file()]
    photos = []
    for path in paths:
        picture = load_image(path)
        longest = max(args.sample_size, min_side)
        photos.append(resize(picture, *fit_size(picture.shape[1], picture.shape[2], longest)))
    return photos


@contextlib.contextmanager
def _stop_on_signals():
    """Ctrl-C and SIGTERM set a flag that the loop reads between steps (a second Ctrl-C aborts)."""
    flag = {"stop": False}

    def handler(signum, frame):
        if flag["stop"] and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag["stop"] = True

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: flag["stop"]
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def command(args: argparse.Namespace) -> int:
    _quiet_tensorflow_import()
    if args.steps < 1 or args.sample_every < 0 or args.sample_size < 16:
        raise ConfigError("--steps must be ≥ 1, --sample-every ≥ 0 and --sample-size ≥ 16")
    model_dir = Path(args.output)
    if not model_dir.is_dir():  # under a plain file, in /proc, a name too long ...: one line, before any work
        check_creatable(model_dir, "-o")
    from nst_tf.feedforward.runlog import check_model_files, check_run_folder

    check_run_folder(model_dir / "run")  # the ownership rule: never write into a folder nst_tf did not make
    check_model_files(model_dir)
    settings = _settings(args, model_dir)
    from nst_tf.feedforward.data import scan_photos
    from nst_tf.feedforward.trainer import load_style

    load_style(settings.style, settings.style_size)  # a bad style picture fails here, before any folder
    scan_photos(settings.data)
    samples = _sample_photos(args, 32)
    from nst_tf.feedforward.runlog import RunLog
    from nst_tf.feedforward.trainer import Training

    started = time.time()
    training = Training(settings, str(model_dir / "checkpoints"))
    if training.start_step >= args.steps:
        raise ConfigError(f"{model_dir}: already trained {training.start_step} steps (raise --steps to go on)")
    config = {"settings": settings.to_dict(), "steps": args.steps, "command": _command_line(), **_machine()}
    log = RunLog(model_dir / "run", config, training.start_step, tensorboard=not args.no_tb)
    if training.photos.skipped:
        sys.stderr.write(f"nst_tf: skipped {len(training.photos.skipped)} unreadable photo(s) in {settings.data}\n")
    with _stop_on_signals() as should_stop:
        last = _train(training, log, samples, args, should_stop)
        interrupted = should_stop()
    log.plot()
    log.close()
    _write_model(model_dir, training, settings, last, args, started)
    if interrupted:
        sys.stderr.write(f"nst_tf: stopped at step {last['step']}; continue with --resume -o {model_dir}\n")
        return 130
    if not args.quiet:
        print(f"model written to {model_dir} ({last['step']} steps)")
    return 0


def _train(training, log, samples: list[np.ndarray], args: argparse.Namespace, should_stop) -> dict:
    """Run the loop with a progress bar; samples every --sample-every steps; returns the last step's summary."""
    from tqdm import tqdm

    bar = tqdm(total=args.steps, initial=training.start_step, disable=args.quiet, unit="step", dynamic_ncols=True)
    recent: list[dict[str, float]] = []
    last = {"step": training.start_step, "losses": {}, "seconds": 0.0}
    try:
        for record in training.records(args.steps, should_stop):
            log.step(record.step, record.losses, record.seconds)
            recent = (recent + [record.losses])[-50:]
            last = {"step": record.step, "losses": _mean(recent), "seconds": last["seconds"] + record.seconds}
            bar.update(1)
            bar.set_postfix(loss=f"{record.losses['total']:.4g}", s=f"{record.seconds:.2f}")
            if samples and args.sample_every and record.step % args.sample_every == 0:
                log.samples(record.step, _sample_strip(training, samples))
    finally:
        bar.close()
    if samples:
        log.samples(last["step"], _sample_strip(training, samples))
    return last


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


def _write_model(model_dir: Path, training, settings, last: dict, args: argparse.Namespace, started: float) -> None:
    from nst_tf.feedforward.model_io import save_model_folder

    previous = {}
    meta_path = model_dir / "model.json"
    if meta_path.is_file():  # a resumed run adds its time to the earlier runs'
        with contextlib.suppress(ValueError, OSError):
            previous = json.loads(meta_path.read_text())
    arch = {"generator": settings.generator, "width": settings.width, "seed": settings.seed}
    style = {
        "file": Path(settings.style).name,
        "licence": args.style_licence or previous.get("style", {}).get("licence", ""),
    }
    meta = {
        "architecture": arch,
        "style": style,
        "steps": last["step"],
        "image_size": settings.image_size,
        "batch": settings.batch,
        "losses_last_50_steps": last["losses"],
        "train_seconds": round(float(previous.get("train_seconds", 0.0)) + time.time() - started, 1),
        "settings": settings.to_dict(),
        "training_data": Path(settings.data).name,
        "commands": previous.get("commands", []) + [_command_line()],
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **_machine(),
    }
    save_model_folder(model_dir, training.model, meta)


def _command_line() -> str:
    return "python -m nst_tf " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["-m"] else sys.argv[1:])


def _machine() -> dict:
    return {"machine": provenance.machine(), "versions": provenance.library_versions()}


def _quiet_tensorflow_import() -> None:
    """Import TensorFlow and Keras with fd 2 silenced: their C++ start-up lines would precede a one-line error."""
    from nst_tf.cli.main import _native_stderr_silenced

    with _native_stderr_silenced():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
