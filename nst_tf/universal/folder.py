"""Photos to picture files through universal style transfer, one at a time (issue 26): `universal DIR STYLE`.

`universal_files(model, plan, styles, settings)` reads every photo's header first (`check_photos`: a bad
file is refused before anything is written), then streams the photos of a `nst_tf.io.photo_folder.FolderPlan`
through `nst_tf.universal.stream.stylize_universal` (a generator in, so one photo and its result are in memory
at a time, whole or in tiles as `settings.max_memory` plans it) into the shared writer
`nst_tf.io.photo_folder.write_pictures` (atomic files, the folder's ledger, a progress bar: Ctrl-C keeps what
is written, a re-run skips it). `folder_tag` names the outputs: `STEM_METHOD_STYLE.png`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from nst_tf.errors import ConfigError
from nst_tf.io.photo_folder import FolderPlan, check_photos, write_pictures
from nst_tf.universal.settings import UniversalSettings
from nst_tf.universal.stream import load_universal, stylize_universal


def folder_tag(method: str, styles: Sequence[str]) -> str:
    """What each output's name ends with: the method and the style pictures' stems ("adain_starry_night")."""
    return "_".join([method, *(Path(style).stem for style in styles)])


def load_for_folder(plan: FolderPlan, run_dir: str | None, settings: UniversalSettings, err: TextIO):
    """The checks a folder run adds (no --run-dir: that is one picture's report), the plan's note on `err`,
    then the model (`load_universal`)."""
    if run_dir:
        raise ConfigError("--run-dir takes one content picture, not a folder (give -o OUTDIR)")
    if plan.note():
        err.write(plan.note() + "\n")
    return load_universal(settings)


def universal_files(model, plan: FolderPlan, styles: Sequence[str], settings: UniversalSettings) -> Iterator[dict]:
    """Stylize each photo of `plan.work` into its file with `model` (`load_universal(settings)`); one record
    per picture written, in order: {"input", "output", "height", "width", "seconds" (its stylization alone),
    "plan" (one line: whole or tiles)}."""
    check_photos([photo for photo, _ in plan.work], settings.image_size, 1)
    contents = (photo for photo, _ in plan.work)  # a generator: stylize_universal reads one photo at a time
    for record in write_pictures(stylize_universal(contents, styles, settings, model=model), plan):
        info = record.pop("step").info
        yield record | {"seconds": round(info["seconds"], 4), "plan": info["plan"]}
