"""`python -m nst_tf universal CONTENT STYLE [STYLE…]`: stylize with any style picture in one pass (WCT or AdaIN).

Parses (flags from `nst_tf.universal.settings.UniversalSettings`), checks everything first — numbers,
pictures, masks, the output path, the shipped decoders (`nst_tf.universal.stream`) — then stylizes, then
writes: `-o OUT.png` (atomically) and/or `--run-dir DIR` (the pictures, config.json and report.html, see
`nst_tf.universal.report`). Bad input is one line on stderr and exit status 2 with nothing written. `--json`
prints the seconds the stylization took and what was written. CONTENT a folder: its photos stream into
`-o OUTDIR` (default output/universal_METHOD_STYLE) as `apply DIR` does (`nst_tf.universal.folder`)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from nst_tf.cli.settings import add_dataclass_options, settings_from_args
from nst_tf.errors import ConfigError
from nst_tf.runtime import import_tensorflow_quietly
from nst_tf.universal.settings import UniversalSettings


def add_parser(subparsers) -> None:
    """Register `universal` (`universal-train` is nst_tf.cli.universal_train)."""
    p = subparsers.add_parser("universal", help="stylize with any style picture in one pass (WCT or AdaIN)")
    p.add_argument("pictures", nargs="+", metavar="CONTENT STYLE", help="content picture or folder, then styles")
    add_dataclass_options(p, UniversalSettings)
    p.add_argument("-o", "--output", help="result picture (.png, .jpg …), or folder for a folder")
    p.add_argument("--run-dir", help="also write a run folder: pictures, config.json, report.html")
    p.add_argument("--overwrite", action="store_true", help="replace an existing -o file / run folder")
    p.add_argument("--json", action="store_true", help="print the seconds and outputs as JSON")


def command(args: argparse.Namespace) -> int:
    """`universal`: check everything, stylize, write; returns the exit status."""
    import_tensorflow_quietly()  # TensorFlow's native start-up and CUDA-probing lines stay off stderr, as in `run`
    from nst_tf.universal import stream

    if len(args.pictures) < 2:
        raise ConfigError("give a content picture and at least one style picture")
    settings = settings_from_args(UniversalSettings, args).validate(styles=len(args.pictures) - 1)
    if Path(args.pictures[0]).is_dir():
        return _folder(args, settings)
    if not args.output and not args.run_dir:
        raise ConfigError("say where the result goes: -o OUT.png and/or --run-dir DIR")
    run_folder = stream.check_places(args.output, args.run_dir, args.overwrite)
    inputs = stream.load_universal_inputs(args.pictures[0], args.pictures[1:], settings)
    started = time.perf_counter()
    model = stream.load_universal(settings)
    loaded = time.perf_counter()
    step = next(stream.stylize_universal([inputs.content], inputs.styles, settings, model=model, masks=inputs.masks))
    if model.decision.measured:  # said once the plan held: a refusal stays the only line
        sys.stderr.write(model.decision.line() + "\n")
    sys.stderr.write(f"nst_tf: {step.info['plan']}\n")
    timing = {
        "seconds": round(step.info["seconds"], 4),
        "load_seconds": round(loaded - started, 3),
        "decoders": step.info["decoders"],
        "precision_decision": model.decision.to_dict(),
    }
    plan = {"content": inputs.content, "styles": inputs.styles, "masks": inputs.masks, "run_folder": run_folder}
    return _write(args, plan, step.image, timing)


def _folder(args: argparse.Namespace, settings: UniversalSettings) -> int:
    """`universal DIR STYLE… [-o OUTDIR]`: the folder's photos streamed into OUTDIR (nst_tf.universal.folder)."""
    from nst_tf.io.photo_folder import plan_folder, report_pictures
    from nst_tf.universal.folder import folder_tag, load_for_folder, universal_files

    tag, styles = folder_tag(settings.method, args.pictures[1:]), args.pictures[1:]
    plan = plan_folder(args.pictures[:1], args.output, tag, args.overwrite, "universal")
    model = load_for_folder(plan, args.run_dir, settings, sys.stderr)
    summary = {"method": settings.method, "precision_decision": model.decision.to_dict()} if args.json else None
    report_pictures(universal_files(model, plan, styles, settings), model.decision, summary, sys.stdout, sys.stderr)
    return 0


def _write(args: argparse.Namespace, plan: dict, result, timing: dict) -> int:
    from nst_tf.io import images as image_io

    written: dict = {}
    if args.output:
        written["output"] = str(image_io.save_image(result, args.output))
    if args.run_dir:
        from nst_tf.universal.report import write_run_folder

        settings = {k: v for k, v in vars(args).items() if k not in ("func",)}
        write_run_folder(plan["run_folder"], result, plan, settings, timing)
        written["run_dir"] = str(Path(args.run_dir))
    record = {**timing, "method": args.method, "size": list(result.shape[1:3]), **written}
    if args.json:
        sys.stdout.write(json.dumps(record) + "\n")
    else:
        sys.stdout.write(f"{args.method}: {record['size'][1]}x{record['size'][0]} in {timing['seconds']:.2f} s -> ")
        sys.stdout.write(", ".join(written.values()) + "\n")
    return 0
