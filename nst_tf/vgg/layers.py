"""VGG's layer tables: how many convolutions each block has, their channel counts and Keras names.

The single source of the architecture facts the rest of the package relies on: `VGG_BLOCKS` (convs per
block for VGG16 and VGG19), `conv_layer_names` (Keras's `blockB_convC` names in network order),
`expected_shapes` (every kernel's HWIO shape) and `select_layers` (user layer names, either spelling,
checked against an architecture). Plain Python: no TensorFlow, no files.
"""

from __future__ import annotations

from collections.abc import Iterable

from nst_tf.config import keras_layer_name, paper_layer_name
from nst_tf.errors import ConfigError

# Convolutions per block.
VGG_BLOCKS: dict[str, tuple[int, ...]] = {"vgg19": (2, 2, 4, 4, 4), "vgg16": (2, 2, 3, 3, 3)}
# Output channels of every conv in block 1 ... 5 (the same for VGG16 and VGG19).
BLOCK_CHANNELS = (64, 128, 256, 512, 512)


def conv_layer_names(architecture: str) -> list[str]:
    """Keras names of the conv layers of `architecture` ("vgg16" or "vgg19"), in network order."""
    return [f"block{b}_conv{c}" for b, n in enumerate(VGG_BLOCKS[architecture], 1) for c in range(1, n + 1)]


def expected_shapes(architecture: str) -> dict[str, tuple[int, ...]]:
    """{layer: kernel shape (3, 3, C_in, C_out)} for `architecture`, in network order."""
    shapes, c_in = {}, 3
    for b, n in enumerate(VGG_BLOCKS[architecture], 1):
        c_out = BLOCK_CHANNELS[b - 1]
        for c in range(1, n + 1):
            shapes[f"block{b}_conv{c}"] = (3, 3, c_in, c_out)
            c_in = c_out
    return shapes


def select_layers(weights, layers: Iterable[str]) -> list[str]:
    """Keras names of `layers` (either spelling), de-duplicated in order, each checked to exist in the
    weights' architecture.

    Args:
        weights: anything with `.architecture` and `.source` (a `VGGWeights`).
        layers: paper (conv4_2) or Keras (block4_conv2) names.

    Raises:
        ConfigError: an unknown layer, or none at all.
    """
    available = conv_layer_names(weights.architecture)
    chosen: list[str] = []
    for name in layers:
        key = keras_layer_name(name)
        if key not in available:
            raise ConfigError(
                f"layer {paper_layer_name(key)} ({key}) does not exist in {weights.architecture.upper()} "
                f"({weights.source} weights)"
            )
        if key not in chosen:
            chosen.append(key)
    if not chosen:
        raise ConfigError("the extractor needs at least one layer")
    return chosen
