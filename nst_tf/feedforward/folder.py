"""Photos to picture files with a one-pass network, a few at a time (issue 26): what `apply` runs.

`apply_files(stylizer, plan, settings)` checks every photo's header first (readable, size within limits,
large enough for the network at `--image-size`), so that a bad photo is refused before any file is written;
then it reads, stylizes and writes `settings.batch` photos at a time through
`nst_tf.feedforward.apply.stylize_photos` (a generator in, so no more than two windows of photos are ever in
memory; uint8 out, so a picture made in tiles is never held in float32 whole), each file written by the
shared `nst_tf.io.photo_folder.write_pictures` (atomically, recorded in the folder's ledger, a progress bar).
The plan (`nst_tf.io.photo_folder.plan_folder`) has already left out what a previous run wrote.
"""

from __future__ import annotations

from collections.abc import Iterator

from nst_tf.feedforward.apply import Stylizer, stylize_photos
from nst_tf.feedforward.settings import ApplySettings
from nst_tf.io.photo_folder import FolderPlan, check_photos, write_pictures


def apply_files(stylizer: Stylizer, plan: FolderPlan, settings: ApplySettings) -> Iterator[dict]:
    """Stylize each photo of `plan.work` into its file; one record per picture written, in order:
    {"input", "output", "height", "width", "seconds" (its forward pass), "plan" (one line)}."""
    check_photos([photo for photo, _ in plan.work], settings.image_size, stylizer.min_size)
    photos = (photo for photo, _ in plan.work)  # a generator: stylize_photos reads a window at a time
    for record in write_pictures(stylize_photos(stylizer, photos, settings, as_bytes=True), plan):
        info = record.pop("step").info
        yield record | {"seconds": round(info["seconds"], 5), "plan": info["plan"]}
