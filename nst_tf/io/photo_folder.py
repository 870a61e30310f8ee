"""Photos in, one picture file each out, a few at a time: the folder side every streaming command shares
(`apply`, `universal`; issue 26). No TensorFlow.

`plan_folder(specs, output, tag, overwrite, default)` expands folders into their picture files
(`photo_paths`), decides every output file (`output_paths`: `STEM_TAG.png` in a folder, the folder's ownership
rule and its ledger, `nst_tf.io.ownership`) and leaves out what nst_tf already wrote there, so a refusal
writes nothing and a re-run does only what is missing. `check_photos` reads every photo's header (nothing
decoded) before the first is stylized. `write_pictures(steps, plan)` then writes each stylized picture the
method's stream yields (a generator of `nst_tf.records.Step`, reading its photos a window at a time),
atomically, recording it in the ledger as soon as it is there, so Ctrl-C keeps every picture finished; a
tqdm bar on stderr (shown on a terminal only) counts photos per second.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from nst_tf.errors import ConfigError
from nst_tf.io.images import PICTURE_SUFFIXES, fit_size, picture_size
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
    inputs: list[Path],
    output: str | None,
    model_name: str,
    overwrite: bool = False,
    skip_done: bool = False,
    default: str = "apply",
) -> tuple[list[Path | None], OwnedFiles | None]:
    """One output file per input: OUTPUT itself (a picture name, one photo) or OUTPUT/STEM_MODEL.png
    (default folder output/DEFAULT_MODEL), and for a folder the ledger to record each written file in.

    In a folder the ownership rule holds (`nst_tf.io.ownership`): only files nst_tf wrote there are
    replaced, even with `overwrite`; one picture at a path the user named is replaced with `overwrite`.
    With `skip_done` (and no `overwrite`), a folder's outputs nst_tf already wrote are left out of the
    targets (None in their place): a re-run does only what is missing.

    Raises:
        ConfigError: one picture name for several photos, a file where the folder goes, two photos with one
            stem, an existing output without `overwrite`, or a file in the folder that nst_tf did not write.
    """
    out = Path(output) if output else Path("output") / f"{default}_{model_name}"
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
        # apply's outputs from before the ledger; `universal` wrote none into folders before it
        old = recognise_filled_folder(rf".+_{re.escape(model_name)}\.png") if default == "apply" else None
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


@dataclass(frozen=True)
class FolderPlan:
    """What a streaming command will make: `work` (photo, output file) pairs, `owned` the output folder's
    ledger (None for one named picture), `skipped` of `total` photos already written by an earlier run."""

    work: list[tuple[Path, Path]]
    owned: OwnedFiles | None
    skipped: int
    total: int

    def note(self) -> str | None:
        """One line for stderr when an earlier run's pictures are skipped."""
        if not self.skipped:
            return None
        return f"nst_tf: {self.skipped} of {self.total} pictures already written; skipped (--overwrite redoes)"


def plan_folder(
    specs: list[str], output: str | None, tag: str, overwrite: bool = False, default: str = "apply"
) -> FolderPlan:
    """`photo_paths(specs)` and their `output_paths(..., skip_done=True)` as a `FolderPlan` (ConfigError
    as those, before anything is written)."""
    inputs = photo_paths(specs)
    targets, owned = output_paths(inputs, output, tag, overwrite, skip_done=True, default=default)
    work = [(photo, target) for photo, target in zip(inputs, targets, strict=True) if target is not None]
    return FolderPlan(work, owned, targets.count(None), len(targets))


def check_photos(inputs: Sequence[Path], image_size: int | None, min_size: int) -> None:
    """Every photo's header read (nothing decoded), its size as `image_size` makes it: ImageError or
    ConfigError for the first bad one (unreadable, too large, or under `min_size` px on a side)."""
    for path in inputs:
        height, width = picture_size(path)
        if image_size:
            height, width = fit_size(height, width, image_size)
        if min(height, width) < min_size:
            raise ConfigError(f"{path}: smaller than {min_size} px on a side (see --image-size)")


def write_pictures(steps: Iterable, plan: FolderPlan) -> Iterator[dict]:
    """Write the picture of each Step in `steps` (one per photo of `plan.work`, in order) into its output
    file, recorded in the ledger at once; yields {"input", "output", "height", "width", "step": the Step}."""
    from tqdm import tqdm

    from nst_tf.io.images import save_image

    bar = tqdm(total=len(plan.work), unit="photo", disable=None if len(plan.work) > 1 else True, leave=False)
    try:
        for step, (photo, target) in zip(steps, plan.work, strict=True):
            save_image(step.image, target)
            if plan.owned is not None:
                plan.owned.record(target.name)  # the ledger: this file is nst_tf's to replace (or skip) next time
            bar.update(1)
            height, width = step.image.shape[1:3]
            yield {"input": str(photo), "output": str(target), "height": int(height), "width": int(width), "step": step}
    finally:
        bar.close()


def report_pictures(pictures: Iterable[dict], decision, summary: dict | None, out: TextIO, err: TextIO) -> list[dict]:
    """What a streaming command (`apply`, `universal DIR`) says while its pictures are written: the precision
    `decision`'s line (`nst_tf.perf.precision`, when measured) before the first, each picture's plan on `err`
    when it changes, each file on `out`; with a `summary` (--json) nothing per file but
    `{**summary, "pictures": [...]}` as JSON at the end."""
    done: list[dict] = []
    said = None
    for picture in pictures:
        if not done and decision.measured:  # said once the plan held: a refusal stays the only line
            err.write(decision.line() + "\n")
        if (plan := picture.pop("plan")) != said:
            err.write(f"nst_tf: {plan}\n")
            said = plan
        done.append(picture)
        if summary is None:
            out.write(f"{picture['output']}  ({picture['width']}x{picture['height']}, {picture['seconds']:.3f} s)\n")
            out.flush()
    if summary is not None:
        out.write(json.dumps({**summary, "pictures": done}, indent=2) + "\n")
    return done
