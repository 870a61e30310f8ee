"""The shipped decoders (nst_tf/models/universal/, package data) and loading them.

Each decoder is `NAME.weights.h5` (Keras 3 weights) beside `NAME.json` (level, width, how it was trained).
WCT uses wct_relu3_1 … wct_relu1_1 by default (`WCT_LEVELS`; `levels=(4, 3, 2, 1)` is Li et al.'s full
cascade); AdaIN uses adain_relu4_1 when it exists, else the reconstruction decoder wct_relu4_1 (Huang &
Belongie train theirs with a style loss; the reconstruction one inverts AdaIN's features too, less
faithfully to the style).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras

from nst_tf.errors import ConfigError
from nst_tf.io import package_data
from nst_tf.universal.networks import LEVELS, build_decoder


def models_dir() -> Path:
    """The shipped decoders' folder, nst_tf/models/universal/ (NST_TF_UNIVERSAL_MODELS overrides it, e.g. for
    tests)."""
    override = os.environ.get("NST_TF_UNIVERSAL_MODELS")
    return Path(override) if override else package_data.decoders_dir()


# WCT's default levels. Departure from Li et al. (relu5_1 … relu1_1; relu4_1 … relu1_1 on this VGG16): the
# shipped relu4_1 reconstruction decoder, trained for 800 steps on this CPU, blurs the picture so much that
# a cascade starting there loses the photo (`benchmarks/universal.py`: content distance 1.4–3.0 against
# 0.8–1.8 from relu3_1, style distance no better), so the cascade starts at relu3_1 until it is retrained.
WCT_LEVELS = (3, 2, 1)


def decoder_names(method: str, folder: Path | None = None, levels: tuple[int, ...] | None = None) -> dict[int, str]:
    """{level: file stem} of the decoders `method` uses, in the order it uses them (WCT: `levels`, default
    `WCT_LEVELS`, deepest first)."""
    if method == "adain":
        adain = (folder or models_dir()) / "adain_relu4_1.weights.h5"
        return {4: "adain_relu4_1" if adain.is_file() else "wct_relu4_1"}
    chosen = WCT_LEVELS if levels is None else levels
    unknown = [level for level in chosen if level not in LEVELS]
    if unknown or not chosen or len(set(chosen)) != len(chosen):
        raise ConfigError(f"WCT levels must be distinct values from {LEVELS}, not {list(chosen)}")
    return {level: f"wct_relu{level}_1" for level in sorted(chosen, reverse=True)}


def read_info(name: str, folder: Path | None = None) -> dict:
    """NAME.json of a shipped decoder, or ConfigError when it is missing or unreadable."""
    path = (folder or models_dir()) / f"{name}.json"
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the decoder's description ({exc.__class__.__name__})") from None
    if info.get("level") not in LEVELS or not isinstance(info.get("width"), int | float):
        raise ConfigError(f"{path}: no valid level/width")
    return info


def load_decoder(name: str, folder: Path | None = None) -> keras.Model:
    """Build the decoder NAME.json describes and load NAME.weights.h5 into it."""
    folder = folder or models_dir()
    info = read_info(name, folder)
    decoder = build_decoder(int(info["level"]), float(info["width"]), name=name)
    path = folder / f"{name}.weights.h5"
    if not path.is_file():
        raise ConfigError(f"{path}: decoder weights missing")
    try:
        decoder.load_weights(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot load the decoder ({' '.join(str(exc).split())[:200]})") from None
    return decoder


def load_decoders(
    method: str, folder: Path | None = None, levels: tuple[int, ...] | None = None
) -> dict[int, keras.Model]:
    """{level: decoder} for `method` ("wct" or "adain"; WCT at `levels`, default `WCT_LEVELS`)."""
    return {level: load_decoder(name, folder) for level, name in decoder_names(method, folder, levels).items()}
