"""nst_tf: neural style transfer (Gatys, Ecker, Bethge 2015) in TensorFlow 2 / Keras 3.

The public API, loaded lazily so that `import nst_tf` does no work: no TensorFlow import, no files read,
no models built until a name that needs them is used.

    from nst_tf import Config, load_image, stylize
    for step in stylize(load_image("images/chelsea.png"), load_image("images/ihc.png"), Config(iterations=50)):
        print(step.iteration, step.costs["total"])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Config": "nst_tf.config",
    "PRESETS": "nst_tf.presets",
    "preset": "nst_tf.presets",
    "NSTError": "nst_tf.errors",
    "ConfigError": "nst_tf.errors",
    "ImageError": "nst_tf.errors",
    "WeightsError": "nst_tf.errors",
    "load_image": "nst_tf.io.images",
    "save_image": "nst_tf.io.images",
    "resolve_weights": "nst_tf.vgg.weights",
    "FeatureExtractor": "nst_tf.vgg.extractor",
    "Step": "nst_tf.records",
    "stylize": "nst_tf.optim.engine",
    "build_extractor": "nst_tf.vgg.extractor",
}

__all__ = [
    "Config",
    "PRESETS",
    "preset",
    "NSTError",
    "ConfigError",
    "ImageError",
    "WeightsError",
    "load_image",
    "save_image",
    "resolve_weights",
    "FeatureExtractor",
    "Step",
    "stylize",
    "build_extractor",
    "__version__",
]

if TYPE_CHECKING:
    from nst_tf.config import Config
    from nst_tf.errors import ConfigError, ImageError, NSTError, WeightsError
    from nst_tf.io.images import load_image, save_image
    from nst_tf.optim.engine import stylize
    from nst_tf.presets import PRESETS, preset
    from nst_tf.records import Step
    from nst_tf.vgg.extractor import FeatureExtractor, build_extractor
    from nst_tf.vgg.weights import resolve_weights


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'nst_tf' has no attribute {name!r}")
