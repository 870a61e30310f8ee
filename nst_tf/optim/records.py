"""The records every optimiser loop hands out, and their names: framework-free (NumPy only).

`Step` (defined in nst_tf.records, the one record of every method) is what the loops yield (TensorFlow's
Adam and L-BFGS, and the PyTorch twin alike); `OptimizerState`
is a run's resumable position; `COST_NAMES` are the cost terms a Step reports, in metrics.csv's order.
`Stage` gathers what one stage of a run (one picture size) needs, so the stage runners take one argument
instead of a long positional list. `PixelTarget` is an optional extra cost in pixel space (Ruder et al.
2016's temporal cost for video). Nothing here imports TensorFlow or torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nst_tf.config import COST_NAMES  # (re-exported too: the Step records' cost names)
from nst_tf.records import Step  # noqa: F401  (re-exported: the one record type, nst_tf.records)

if TYPE_CHECKING:
    from nst_tf.config import Config


@dataclass
class OptimizerState:
    """A run's position: the unclipped variable and the optimizer's own arrays, after `steps` updates.

    Adam: resuming continues bit for bit as if the run had never stopped (on a seeded CPU run). L-BFGS
    saves no arrays of its own (`optimizer` is empty): it restarts from the picture (see nst_tf.optim.lbfgs).
    """

    steps: int  # updates applied so far
    image: np.ndarray  # the variable's value, in the config's pixel units, (1, H, W, 3) float32
    optimizer: list[np.ndarray]  # Adam's variables in `optimizer.variables` order (iteration, lr, m, v); L-BFGS: []

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for np.savez (read back with allow_pickle=False)."""
        arrays = {"steps": np.asarray(self.steps, np.int64), "image": self.image}
        arrays.update({f"optimizer_{i}": value for i, value in enumerate(self.optimizer)})
        return arrays

    @classmethod
    def from_arrays(cls, arrays) -> OptimizerState:
        """The inverse of `to_arrays` (a mapping such as np.load's NpzFile)."""
        count = sum(1 for key in arrays if key.startswith("optimizer_"))
        return cls(int(arrays["steps"]), np.asarray(arrays["image"]), [arrays[f"optimizer_{i}"] for i in range(count)])


@dataclass(frozen=True)
class PixelTarget:
    """An extra cost that pulls the picture x toward a given picture p on weighted pixels:

        J_name = weight / D · Σ_x c(x) · ‖x(x) − p(x)‖²,   D = H · W · 3,

    with pictures in [0, 1] (whatever the config's pixel units). It is added to the total (unlike α, β, γ's
    terms it carries its own weight) and reported in each Step's costs under `name`. Ruder et al. (2016)'s
    temporal cost is one: p the previous result warped into this frame, c the flow's reliable mask.

    Attributes:
        picture: p, (1, H, W, 3) in [0, 1], the size of the run's (single-scale) picture.
        mask: c, (H, W) in [0, 1].
        weight: the term's weight (λ), >= 0.
        name: its name in the Step's costs (not one of the engine's own, `COST_NAMES`).
    """

    picture: np.ndarray
    mask: np.ndarray
    weight: float
    name: str = "temporal"

    def __post_init__(self) -> None:
        picture, mask = np.asarray(self.picture), np.asarray(self.mask)
        if picture.ndim != 4 or picture.shape[0] != 1 or picture.shape[3] != 3 or mask.shape != picture.shape[1:3]:
            raise ValueError(f"a pixel target needs a (1, H, W, 3) picture and an (H, W) mask, not "
                             f"{picture.shape} and {mask.shape}")  # fmt: skip
        if not self.weight >= 0.0 or self.name in COST_NAMES:
            raise ValueError(f"a pixel target needs a weight >= 0 and a new name, not {self.weight}, {self.name!r}")


@dataclass
class Stage:
    """One stage of a run: steps `first` .. `last` - 1 at one picture size.

    Attributes:
        extractor: the feature extractor (TensorFlow's or the twin's).
        content, styles: pictures already sized for this stage, (1, H, W, 3) in [0, 1].
        config: the stage's settings (its size).
        style_blend: weights of several styles, or None for equal ones.
        start: where the picture starts: None (the config's init), pixels in the config's units, or a
            saved `OptimizerState`.
        rng: the run's seeded generator (the init noise).
        first, last: the global step numbers this stage covers.
        snapshot_every: attach the picture every this many steps (0: only the stage's last).
        device: where to compute ("/CPU:0", "/GPU:0"; a torch device for the twin).
        pixel_target: an extra pixel-space cost (`PixelTarget`), or None (TensorFlow's engine only).
    """

    extractor: Any
    content: np.ndarray
    styles: Sequence[np.ndarray]
    config: Config
    style_blend: Sequence[float] | None
    start: np.ndarray | OptimizerState | None
    rng: np.random.Generator
    first: int
    last: int
    snapshot_every: int
    device: Any
    pixel_target: PixelTarget | None = None

    def is_snapshot(self, iteration: int) -> bool:
        """Does step `iteration` carry the picture? (every `snapshot_every`, and the stage's last)"""
        every = self.snapshot_every
        return iteration == self.last - 1 or bool(every and iteration % every == 0)
