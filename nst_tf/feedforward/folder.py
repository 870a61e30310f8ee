"""Photos to picture files with a one-pass network, a few at a time (issue 26): what `apply` runs.

`apply_files(stylizer, inputs, targets, owned, settings)` checks every photo's header first (readable, size
within limits, large enough for the network at `--image-size`), so that a bad photo is refused before any
file is written; then it reads, stylizes and writes `settings.batch` photos at a time through
`nst_tf.feedforward.apply.stylize_photos` (a generator in, so no more than two windows of photos are ever
in memory), each file written atomically and recorded in the folder's ledger (`nst_tf.io.ownership`) as
soon as it is there, so Ctrl-C keeps every picture finished. A target of None is a picture a previous run
already wrote (`nst_tf.feedforward.batch.output_paths(..., skip_done=True)`): it is skipped. A tqdm bar on
stderr (shown on a terminal only) counts photos per second.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from nst_tf.errors import ConfigError
from nst_tf.feedforward.apply import Stylizer, stylize_photos
from nst_tf.feedforward.settings import ApplySettings
from nst_tf.io.ownership import OwnedFiles


def check_photos(inputs: Sequence[Path], settings: ApplySettings, min_size: int) -> None:
    """Every photo's header read (nothing decoded): ImageError or ConfigError for the first bad one."""
    from nst_tf.io.images import fit_size, picture_size

    for path in inputs:
        height, width = picture_size(path)
        if settings.image_size:
            height, width = fit_size(height, width, settings.image_size)
        if min(height, width) < min_size:
            raise ConfigError(f"{path}: smaller than {min_size} px on a side (see --image-size)")


def apply_files(
    stylizer: Stylizer,
    inputs: Sequence[Path],
    targets: Sequence[Path | None],
    owned: OwnedFiles | None,
    settings: ApplySettings,
) -> Iterator[dict]:
    """Stylize each photo whose target is not None into it; one record per picture written, in order:
    {"input", "output", "height", "width", "seconds" (its forward pass), "plan" (one line)}."""
    from tqdm import tqdm

    from nst_tf.io.images import save_image

    work = [(photo, target) for photo, target in zip(inputs, targets, strict=True) if target is not None]
    check_photos([photo for photo, _ in work], settings, stylizer.min_size)
    photos = (photo for photo, _ in work)  # a generator: stylize_photos reads a window at a time
    bar = tqdm(total=len(work), unit="photo", disable=None if len(work) > 1 else True, leave=False)
    try:
        for step, (_, target) in zip(stylize_photos(stylizer, photos, settings, as_bytes=True), work, strict=True):
            save_image(step.image, target)
            if owned is not None:
                owned.record(target.name)  # the ledger: this file is nst_tf's to replace (or skip) next time
            bar.update(1)
            height, width = step.image.shape[1:3]
            record = {"input": step.info["source"], "output": str(target), "height": int(height)}
            yield record | {"width": int(width), "seconds": round(step.info["seconds"], 5), "plan": step.info["plan"]}
    finally:
        bar.close()
