"""The exceptions nst_tf raises for bad input.

Every error a user can cause (a bad picture, a bad weights file, a nonsense setting) is one of these. The
command line turns them into one line on stderr and exit status 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations


class NSTError(Exception):
    """Base class: bad input that the user can fix. The message is one line, meant to be read."""


class ConfigError(NSTError, ValueError):
    """A setting that makes no sense (negative iterations, unknown layer, zero size ...)."""


class ImageError(NSTError):
    """A picture that cannot be read: missing, empty, truncated or not an image."""


class WeightsError(NSTError):
    """Weights that cannot be found, read or trusted (wrong shapes, truncated, non-finite ...)."""
