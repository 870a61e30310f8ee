"""Which photos a batch stylization reads and which files it writes, decided before any work (no TensorFlow).

`photo_paths(specs)` expands folders into their picture files; `output_paths(inputs, output, model_name,
overwrite)` decides every output file and refuses one that exists (unless `overwrite`) or a clash, so a
refusal writes nothing. The pictures themselves are made by `nst_tf.feedforward.apply.stylize_photos`.
"""

from __future__ import annotations

import re
from pathlib import Path

from nst_tf.errors import ConfigError
from nst_tf.io.images import PICTURE_SUFFIXES
from nst_tf.io.ownership import OwnedFiles, recognise_filled_folder, written_by_nst_tf
from nst_tf.io.places import check_creatable


def photo_paths(specs: list[str]) -> list[Path]:
    """The photo files named, folders expanded (their picture files, sorted; regular files only).

    Raises:
        ConfigError: a path that is neither a file nor a folder, or a folder without pictures.
    """
    paths: list[Path] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in PICTURE_SUFFIXES and p.is_file())
            if not found:
                raise ConfigError(f"{path}: no pictures in the folder")
            paths += found
        elif path.is_file():
            paths.append(path)
        else:
            raise ConfigError(f"{path}: no such photo or folder (or not a regular file)")
    return paths


def output_paths(
    inputs: list[Path], output: str | None, model_name: str, overwrite: bool = False, skip_done: bool = False
) -> tuple[list[Path | None], OwnedFiles | None]:
    """One output file per input: OUTPUT itself (a picture name, one photo) or OUTPUT/STEM_MODEL.png
    (default folder output/apply_MODEL), and for a folder the ledger to record each written file in.

    In a folder the ownership rule holds (`nst_tf.io.ownership`): only files nst_tf wrote there are
    replaced, even with `overwrite`; one picture at a path the user named is replaced with `overwrite`.
    With `skip_done` (and no `overwrite`), a folder's outputs nst_tf already wrote are left out of the
    targets (None in their place): a re-run does only what is missing.

    Raises:
        ConfigError: one picture name for several photos, a file where the folder goes, two photos with one
            stem, an existing output without `overwrite`, or a file in the folder that nst_tf did not write.
    """
    out = Path(output) if output else Path("output") / f"apply_{model_name}"
    if len(inputs) == 1 and out.suffix.lower() in PICTURE_SUFFIXES:
        targets = [out]
    elif out.suffix.lower() in PICTURE_SUFFIXES:
        raise ConfigError(f"{out}: one output picture for {len(inputs)} photos; give a folder with -o")
    else:
        if out.exists() and not out.is_dir():
            raise ConfigError(f"{out}: exists and is not a folder")
        targets = [out / f"{p.stem}_{model_name}.png" for p in inputs]
        if len(set(targets)) != len(targets):
            raise ConfigError("two photos have the same name stem; stylize them into separate folders")
        old = recognise_filled_folder(rf".+_{re.escape(model_name)}\.png")  # apply's outputs before the ledger
        done = set(written_by_nst_tf(out, [t.name for t in targets], old)) if skip_done and not overwrite else set()
        todo = [t.name for t in targets if t.name not in done]
        owned = OwnedFiles.plan(out, todo, overwrite, "-o", recognise=old)
        return [None if t.name in done else t for t in targets], owned
    for target in targets:  # one picture at a path the user named: --overwrite replaces it
        if target.exists() and not overwrite:
            raise ConfigError(f"{target}: exists (use --overwrite, or another -o)")
        if not target.exists():  # under a plain file, in /proc, a name too long ...: refused before any work
            check_creatable(target, "-o")
    return targets, None
