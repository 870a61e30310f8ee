"""The one record every library entry yields: `Step` (framework-free, NumPy only).

Every method is a generator of `Step`s: optimising a picture (one per optimizer step), training a network
or a decoder (one per training step), stylizing photos with a network or universally (one per picture),
sound (one per iteration). Consumers — the run folder, the progress bar, the web page, the video writer —
read only these fields, so they need not know which method made the stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Step:
    """One step of any method.

    Attributes:
        iteration: 0-based index of the step just taken (the notebooks' `i`; a training step's count
            after it, minus one; the index of a picture in a stream).
        costs: named float costs or losses of this step ({} where the method has none, e.g. one pass).
            For optimising a picture: {"total", "content", "style", "tv"}; Adam's are those of the
            picture the step started from, L-BFGS's those of the picture its iteration accepted.
        seconds: wall time since the first step began.
        image: the picture (or a training sample) after this step, (1, H, W, 3) float32 in [0, 1]; only on
            snapshot steps and the last (optimisation), on sample steps (training), on every step of a
            picture stream. Sound puts its log-magnitude spectrogram (frames, bins) here on its last step.
        state: everything needed to continue from here (the method's own resumable state), or None.
        raw_image: the unclipped picture in [0, 1] units (optimisation, with `image`).
        evaluations: cost evaluations so far (L-BFGS and sound, whose iteration may take several); None
            where a step spends exactly one.
        info: anything else the method reports for this step (a photo's source path, its output path, a
            plan), as plain values.
    """

    iteration: int
    costs: dict[str, float]
    seconds: float
    image: np.ndarray | None = None
    state: Any = None
    raw_image: np.ndarray | None = field(default=None, repr=False, compare=False)
    evaluations: int | None = field(default=None, compare=False)
    info: Mapping[str, Any] = field(default_factory=dict, compare=False)
