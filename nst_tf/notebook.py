"""Jupyter helpers: a live progress bar (tqdm.auto) and the latest snapshot shown inline.

    from nst_tf import Config, load_image
    from nst_tf.notebook import stylize_live, show
    result = stylize_live(load_image("images/chelsea.png"), load_image("images/ihc.png"), Config(iterations=100))
    show(result)

Outside a notebook the same calls work: tqdm.auto falls back to a text bar, and without IPython the
pictures are simply not displayed. Nothing here writes files.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from nst_tf.config import Config
from nst_tf.io import images as image_io
from nst_tf.optim.engine import Step, stylize


def to_pil(image: np.ndarray) -> Image.Image:
    """A (1, H, W, 3) or (H, W, 3) [0, 1] picture as a Pillow image (Jupyter shows these inline)."""
    return Image.fromarray(image_io.to_uint8(image), "RGB")


def _display():
    try:
        from IPython.display import display
    except ImportError:  # not in IPython: nothing to show pictures in
        return None
    return display


def show(image: np.ndarray):
    """Display a picture inline in Jupyter; returns the Pillow image either way."""
    picture = to_pil(image)
    display = _display()
    if display is not None:
        display(picture)
    return picture


def stylize_live(
    content: np.ndarray,
    styles: np.ndarray | Sequence[np.ndarray],
    config: Config | None = None,
    *,
    show_every: int | None = None,
    **kwargs,
) -> np.ndarray:
    """`nst_tf.stylize` with a tqdm.auto bar and the latest snapshot updated in place under it.

    Args:
        content, styles, config: as for `nst_tf.stylize`; further keyword arguments go to it too.
        show_every: refresh the picture every this many steps (default: the config's snapshot_every).

    Returns:
        The final picture, (1, H, W, 3) in [0, 1].
    """
    from tqdm.auto import tqdm

    config = config or Config()
    every = show_every if show_every is not None else config.snapshot_every
    display = _display()
    handle = None
    last: Step | None = None
    with tqdm(total=config.iterations, unit="step") as bar:
        for step in stylize(content, styles, config, snapshot_every=every, **kwargs):
            bar.set_postfix(total=f"{step.costs['total']:.4g}", refresh=False)
            bar.update(1)
            if step.image is not None:
                last = step
                if display is not None:
                    if handle is None:
                        handle = display(to_pil(step.image), display_id=True)
                    else:
                        handle.update(to_pil(step.image))
    assert last is not None and last.image is not None
    return last.image
