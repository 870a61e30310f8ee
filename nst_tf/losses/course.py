"""The course notebook's graded functions, with the TF2 notebook's signatures and conventions.

A student of "Art Generation with Neural Style Transfer" can call these exactly as the notebook does and
compare against their own: `compute_content_cost` and `compute_style_cost` take the *lists* of model
outputs (style layers first, the content layer last), `gram_matrix` takes A of shape (n_C, n_H·n_W), and
`total_cost(J_content, J_style, alpha=10, beta=40)` is a `tf.function`. On the notebook's seeded test
tensors they print the notebook's values (tests/losses/test_course.py pins them).

They are written with `keras.ops`, which return TensorFlow tensors for eager input and also accept
symbolic Keras 3 tensors (a `KerasTensor` cannot go through raw `tf.*` ops any more), as the notebook's
tests check. The engine itself uses `nst_tf.losses.costs`, which takes precomputed Gram targets.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import ops

# The TF2 notebook's defaults.
STYLE_LAYERS: list[tuple[str, float]] = [
    ("block1_conv1", 0.2),
    ("block2_conv1", 0.2),
    ("block3_conv1", 0.2),
    ("block4_conv1", 0.2),
    ("block5_conv1", 0.2),
]
CONTENT_LAYER: list[tuple[str, int]] = [("block5_conv4", 1)]


def _dims(a) -> tuple[int, int, int]:
    """(n_H, n_W, n_C) of a (m, n_H, n_W, n_C) tensor, which must have static spatial sizes."""
    _, n_H, n_W, n_C = tuple(a.shape)
    if None in (n_H, n_W, n_C):
        raise ValueError(f"the graded functions need static feature-map sizes, got {tuple(a.shape)}")
    return int(n_H), int(n_W), int(n_C)


def compute_content_cost(content_output: Sequence, generated_output: Sequence):
    """J_content = 1/(4·n_H·n_W·n_C) · Σ (a_C − a_G)², on the last element of each output list.

    Arguments:
        content_output: the model's outputs for the content image; the last is a_C, (1, n_H, n_W, n_C).
        generated_output: the model's outputs for the generated image; the last is a_G.

    Returns:
        J_content, a scalar tensor.
    """
    a_C = content_output[-1]
    a_G = generated_output[-1]
    n_H, n_W, n_C = _dims(a_G)
    a_C_unrolled = ops.reshape(a_C, (-1, n_H * n_W, n_C))
    a_G_unrolled = ops.reshape(a_G, (-1, n_H * n_W, n_C))
    return ops.sum(ops.square(a_C_unrolled - a_G_unrolled)) / (4.0 * n_H * n_W * n_C)


def gram_matrix(A):
    """GA = A·Aᵀ for A of shape (n_C, n_H·n_W); returns (n_C, n_C)."""
    return ops.matmul(A, ops.transpose(A))


def compute_layer_style_cost(a_S, a_G):
    """J_style[l] = 1/(4·n_C²·(n_H·n_W)²) · Σ (G_S − G_G)² for one layer.

    Arguments:
        a_S: (1, n_H, n_W, n_C) activations of the style image.
        a_G: (1, n_H, n_W, n_C) activations of the generated image.
    """
    n_H, n_W, n_C = _dims(a_G)
    a_S = ops.transpose(ops.reshape(a_S, (-1, n_C)))  # (n_C, n_H·n_W)
    a_G = ops.transpose(ops.reshape(a_G, (-1, n_C)))
    GS = gram_matrix(a_S)
    GG = gram_matrix(a_G)
    return ops.sum(ops.square(GS - GG)) / (4.0 * ((n_H * n_W * n_C) ** 2))


def compute_style_cost(style_image_output: Sequence, generated_image_output: Sequence, STYLE_LAYERS=STYLE_LAYERS):
    """J_style = Σ_l λ_l · J_style[l], over all outputs but the last (the content layer).

    Arguments:
        style_image_output: the model's outputs for the style image (style layers, then content).
        generated_image_output: the same for the generated image.
        STYLE_LAYERS: (layer name, λ_l) pairs, in the outputs' order.
    """
    J_style = 0
    a_S = style_image_output[:-1]
    a_G = generated_image_output[:-1]
    # The notebook's loop, verbatim in shape: zip stops at the shorter of outputs and STYLE_LAYERS.
    for i, weight in zip(range(len(a_S)), STYLE_LAYERS):  # noqa: B905
        J_style += weight[1] * compute_layer_style_cost(a_S[i], a_G[i])
    return J_style


@tf.function()
def _total_cost_graph(J_content, J_style, alpha, beta):
    return alpha * J_content + beta * J_style


def total_cost(J_content, J_style, alpha=10, beta=40):
    """J = α·J_content + β·J_style. A `tf.function`, as in the notebook, for tensors and numbers."""
    if any(isinstance(x, keras.KerasTensor) for x in (J_content, J_style)):
        return alpha * J_content + beta * J_style  # symbolic: build the Keras graph instead
    return _total_cost_graph(J_content, J_style, alpha, beta)


def get_layer_outputs(vgg: keras.Model, layer_names: Sequence[tuple[str, float]]) -> keras.Model:
    """A model returning the list of `vgg`'s outputs at `layer_names` ((name, weight) pairs), in order."""
    outputs = [vgg.get_layer(name).output for name, _ in layer_names]
    return keras.Model([vgg.input], outputs)


def clip_0_1(image):
    """Clip pixel values to [0, 1], as the notebook's train_step does after every update."""
    return ops.clip(image, 0.0, 1.0)


def notebook_test_tensors(shape: Sequence[int], count: int = 2, seed: int = 1) -> list[tf.Tensor]:
    """The notebook's test inputs: tf.random.set_seed(seed), then `count` draws of
    tf.random.normal(shape, mean=1, stddev=4)."""
    tf.random.set_seed(seed)
    return [tf.random.normal(list(shape), mean=1, stddev=4) for _ in range(count)]


def numpy_reference_costs(a_C: np.ndarray, a_G: np.ndarray) -> dict[str, float]:
    """Float64 NumPy content and layer style costs of two (1, n_H, n_W, n_C) arrays (for cross-checks)."""
    a_C = np.asarray(a_C, np.float64)
    a_G = np.asarray(a_G, np.float64)
    _, n_H, n_W, n_C = a_G.shape
    A_C = a_C.reshape(-1, n_C)
    A_G = a_G.reshape(-1, n_C)
    content = float(np.sum((a_C - a_G) ** 2) / (4.0 * n_H * n_W * n_C))
    style = float(np.sum((A_C.T @ A_C - A_G.T @ A_G) ** 2) / (4.0 * n_C**2 * (n_H * n_W) ** 2))
    return {"content": content, "layer_style": style}
