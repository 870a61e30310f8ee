"""nst_tf: neural style transfer (Gatys, Ecker, Bethge 2015) in TensorFlow 2 / Keras 3.

The public API, loaded lazily so that `import nst_tf` does no work: no TensorFlow import, no files read,
no models built until a name that needs them is used.

    from nst_tf import Config, load_image, stylize
    for step in stylize(load_image("images/chelsea.png"), load_image("images/ihc.png"), Config(iterations=50)):
        print(step.iteration, step.costs["total"])

One entry per method, each a generator of the one record `Step` (settings in, Steps out), and for those
that keep a run folder an entry that writes it (the same path the command line takes):

    optimising a picture    stylize (Config)                 run_to_folder, continue_run
    a trained network       stylize_photos (ApplySettings)
    training a network      train_network (TrainSettings)    NetworkTraining (writes the model folder)
    any painting            stylize_universal (UniversalSettings)
    training a decoder      train_decoder (DecoderTraining)  DecoderRun (writes the decoder files)
    sound                   stylize_sound (AudioConfig)      sound_to_folder
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
    "run_to_folder": "nst_tf.optim.to_folder",
    "continue_run": "nst_tf.optim.to_folder",
    "ApplySettings": "nst_tf.feedforward.settings",
    "TrainSettings": "nst_tf.feedforward.settings",
    "stylize_photos": "nst_tf.feedforward.apply",
    "train_network": "nst_tf.feedforward.session",
    "NetworkTraining": "nst_tf.feedforward.session",
    "UniversalSettings": "nst_tf.universal.settings",
    "DecoderTraining": "nst_tf.universal.settings",
    "stylize_universal": "nst_tf.universal.stream",
    "train_decoder": "nst_tf.universal.train",
    "DecoderRun": "nst_tf.universal.training_run",
    "AudioConfig": "nst_tf.audio.transfer",
    "stylize_sound": "nst_tf.audio.to_folder",
    "sound_to_folder": "nst_tf.audio.to_folder",
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
    "run_to_folder",
    "continue_run",
    "ApplySettings",
    "TrainSettings",
    "stylize_photos",
    "train_network",
    "NetworkTraining",
    "UniversalSettings",
    "DecoderTraining",
    "stylize_universal",
    "train_decoder",
    "DecoderRun",
    "AudioConfig",
    "stylize_sound",
    "sound_to_folder",
    "__version__",
]

if TYPE_CHECKING:
    from nst_tf.audio.to_folder import sound_to_folder, stylize_sound
    from nst_tf.audio.transfer import AudioConfig
    from nst_tf.config import Config
    from nst_tf.errors import ConfigError, ImageError, NSTError, WeightsError
    from nst_tf.feedforward.apply import stylize_photos
    from nst_tf.feedforward.session import NetworkTraining, train_network
    from nst_tf.feedforward.settings import ApplySettings, TrainSettings
    from nst_tf.io.images import load_image, save_image
    from nst_tf.optim.engine import stylize
    from nst_tf.optim.to_folder import continue_run, run_to_folder
    from nst_tf.presets import PRESETS, preset
    from nst_tf.records import Step
    from nst_tf.universal.settings import DecoderTraining, UniversalSettings
    from nst_tf.universal.stream import stylize_universal
    from nst_tf.universal.train import train_decoder
    from nst_tf.universal.training_run import DecoderRun
    from nst_tf.vgg.extractor import FeatureExtractor, build_extractor
    from nst_tf.vgg.weights import resolve_weights


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'nst_tf' has no attribute {name!r}")
