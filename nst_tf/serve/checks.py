"""The checks every job request shares: a number within its bounds, a picture named by an upload id or a
sample's name (never a path), and the universal methods the page offers. Each refusal is a `ConfigError`, one
line naming the request's key, which the app answers as a 400.
"""

from __future__ import annotations

import math
from pathlib import Path

from nst_tf.errors import ConfigError
from nst_tf.serve.workspace import Workspace, samples

METHODS = ("adain", "wct")


def picture_ref(value: object, workspace: Workspace, what: str) -> Path:
    """The file a picture reference names: {"upload": ID} (this session's) or {"sample": NAME}."""
    if isinstance(value, dict) and isinstance(value.get("upload"), str):
        path = workspace.upload(value["upload"])
        if path is None:
            raise ConfigError(f"no such upload for the {what} picture (uploads last one session)")
        return path
    if isinstance(value, dict) and isinstance(value.get("sample"), str):
        found = samples().get(value["sample"])
        if found is None:
            raise ConfigError(f"no sample picture named {value['sample']!r} for the {what}")
        return found
    raise ConfigError(f"give the {what} picture as an upload or a sample")


def number(request: dict, key: str, kind: type, bounds: tuple, default):
    """request[key] as `kind` within `bounds` (inclusive), or ConfigError naming the key."""
    value = request.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{key} must be a number, not {value!r}")
    if kind is int and value != int(value):
        raise ConfigError(f"{key} must be a whole number, not {value!r}")
    value = kind(value)
    if not bounds[0] <= value <= bounds[1]:
        raise ConfigError(f"{key} must be between {bounds[0]} and {bounds[1]}, not {value}")
    return value
