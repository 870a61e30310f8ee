"""`weights convert`: any supported weights file, verified, rewritten as the project's `.npz`.

The source is loaded through `load_weights_file` (so it is checked like any other file), written by
`save_npz` (complete or not at all), and read back and verified before it is reported. The destination is
checked first — its name, that it is not the source, that it does not exist unless `overwrite` — so a
refused conversion touches nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from nst_tf.errors import WeightsError
from nst_tf.vgg.weights.base import VGGWeights
from nst_tf.vgg.weights.files import load_weights_file
from nst_tf.vgg.weights.npz import save_npz


def convert_weights(
    source: str | os.PathLike,
    destination: str | os.PathLike,
    *,
    float16: bool = False,
    torch_preprocessing: str | None = None,
    overwrite: bool = False,
) -> VGGWeights:
    """Load and verify any supported weights file and write it as the project's .npz.

    Args:
        source: a Keras .h5, MatConvNet .mat, PyTorch .pth, ONNX VGG16 or nst_tf .npz.
        destination: the .npz to write.
        float16: store float16 (half the size; about 3 significant digits).
        torch_preprocessing: for a PyTorch source, "torchvision" or "caffe" (see `torch_preprocessing_rule`).
        overwrite: replace an existing destination (a regular file only).

    Returns:
        The written file, loaded back and verified.

    Raises:
        WeightsError: a bad source, or a destination that exists (without overwrite), is not a regular
            file, or is the source.
    """
    source, destination = Path(source), Path(destination)
    if destination.suffix != ".npz":
        raise WeightsError(f"{destination}: the converted file's name must end in .npz")
    if os.path.lexists(destination):
        if destination.is_dir() or (destination.exists() and not destination.is_file()):
            raise WeightsError(f"{destination}: exists and is not a regular file; choose another name")
        if source.exists() and destination.exists() and destination.resolve() == source.resolve():
            raise WeightsError(f"{destination}: is the source file itself; choose another name")
        if not overwrite:
            raise WeightsError(f"{destination} already exists; pass --overwrite to replace it")
    if not destination.parent.is_dir():
        raise WeightsError(f"{destination}: the folder {destination.parent} does not exist")
    weights = load_weights_file(source, torch_preprocessing=torch_preprocessing)
    save_npz(weights, destination, float16=float16)
    return load_weights_file(destination)
