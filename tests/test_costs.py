"""nst_tf.losses.costs against hand-computed values and a float64 NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from nst_tf.losses import costs


def test_content_cost_hand_computed():
    # a_C all ones, a_G all zeros, shape (1, 2, 3, 4): Σ(1)² = 24, / (4·2·3·4 = 96) = 0.25
    a_C = tf.ones((1, 2, 3, 4))
    a_G = tf.zeros((1, 2, 3, 4))
    assert float(costs.content_cost(a_C, a_G)) == pytest.approx(0.25)
    assert float(costs.content_cost(a_C, a_C)) == 0.0


def test_gram_matrix_hand_computed():
    # positions (1,2), (3,4) with 2 channels: G = [[1+9, 2+12], [2+12, 4+16]]
    features = tf.constant([[[[1.0, 2.0], [3.0, 4.0]]]])  # (1, 1, 2, 2)
    np.testing.assert_allclose(costs.gram_matrix(features).numpy(), [[10.0, 14.0], [14.0, 20.0]])


def test_layer_style_cost_hand_computed():
    # G_S = [[10, 14], [14, 20]], G_G = 0: Σ = 100 + 196 + 196 + 400 = 892; / (4·2²·2²) = 892 / 64
    style = tf.constant([[[[1.0, 2.0], [3.0, 4.0]]]])
    generated = tf.zeros((1, 1, 2, 2))
    value = costs.layer_style_cost(costs.gram_matrix(style), generated)
    assert float(value) == pytest.approx(892.0 / 64.0)


def test_layer_style_cost_matches_numpy_float64():
    rng = np.random.default_rng(3)
    a_S = rng.normal(size=(1, 5, 7, 6)).astype(np.float32)
    a_G = rng.normal(size=(1, 5, 7, 6)).astype(np.float32)
    A_S, A_G = a_S.reshape(-1, 6).astype(np.float64), a_G.reshape(-1, 6).astype(np.float64)
    expected = np.sum((A_S.T @ A_S - A_G.T @ A_G) ** 2) / (4 * 6**2 * 35**2)
    value = costs.layer_style_cost(costs.gram_matrix(tf.constant(a_S)), tf.constant(a_G))
    assert float(value) == pytest.approx(expected, rel=1e-5)


def test_style_positions_compare_grams_per_position():
    # A style map twice as large with the same per-position statistics costs nothing.
    rng = np.random.default_rng(4)
    a_G = rng.normal(size=(1, 4, 4, 3)).astype(np.float32)
    a_S = np.concatenate([a_G, a_G], axis=1)  # (1, 8, 4, 3): Gram doubles, positions double
    gram_S = costs.gram_matrix(tf.constant(a_S))
    assert float(costs.layer_style_cost(gram_S, tf.constant(a_G), style_positions=32.0)) == pytest.approx(0, abs=1e-5)
    assert float(costs.layer_style_cost(gram_S, tf.constant(a_G))) > 0.05  # raw Grams differ by 2x


def test_style_cost_weights_layers():
    rng = np.random.default_rng(5)
    feats_S = {k: tf.constant(rng.normal(size=(1, 3, 3, 2)).astype(np.float32)) for k in ("a", "b")}
    feats_G = {k: tf.constant(rng.normal(size=(1, 3, 3, 2)).astype(np.float32)) for k in ("a", "b")}
    grams = {k: costs.gram_matrix(v) for k, v in feats_S.items()}
    per_layer = {k: float(costs.layer_style_cost(grams[k], feats_G[k])) for k in grams}
    total = costs.style_cost(grams, feats_G, {"a": 0.25, "b": 0.75})
    assert float(total) == pytest.approx(0.25 * per_layer["a"] + 0.75 * per_layer["b"], rel=1e-6)


def test_total_variation_hand_computed():
    image = np.zeros((1, 2, 2, 3), np.float32)
    image[0, 0, 0, :] = 1.0  # one bright corner: one vertical and one horizontal difference of 1 per channel
    # down diffs: (1, 1, 2, 3) -> mean of [1,0]*3 = 0.5; right diffs likewise 0.5
    assert float(costs.total_variation_cost(tf.constant(image))) == pytest.approx(1.0)
    assert float(costs.total_variation_cost(tf.zeros((1, 5, 5, 3)))) == 0.0


def test_total_cost_weights():
    assert float(costs.total_cost(0.2, 0.8)) == pytest.approx(34.0)
    assert float(costs.total_cost(1.0, 2.0, 3.0, alpha=1, beta=10, gamma=100)) == pytest.approx(321.0)


def test_costs_work_with_unknown_height_and_width():
    spec = tf.TensorSpec((1, None, None, 3), tf.float32)

    @tf.function(input_signature=[spec, spec])
    def both(a, b):
        return costs.content_cost(a, b), costs.layer_style_cost(costs.gram_matrix(a), b), costs.total_variation_cost(b)

    a = tf.ones((1, 4, 6, 3))
    b = tf.zeros((1, 4, 6, 3))
    content, style, tv = both(a, b)
    assert float(content) == pytest.approx(0.25)  # Σ 72 / (4·72)
    # G_S = 24·ones(3,3), Σ = 9·576, / (4·9·24²)
    assert float(style) == pytest.approx(9 * 576 / (4 * 9 * 24**2))
    assert float(tv) == 0.0
    content2, _, _ = both(tf.ones((1, 8, 2, 3)), tf.zeros((1, 8, 2, 3)))  # another size, same trace
    assert float(content2) == pytest.approx(0.25)
    assert both.experimental_get_tracing_count() == 1


def _plain_gram(features: tf.Tensor) -> tf.Tensor:
    """AᵀA under TensorFlow's own matmul gradient, the reference for the custom one."""
    unrolled = tf.reshape(features, [-1, tf.shape(features)[-1]])
    return tf.matmul(unrolled, unrolled, transpose_a=True)


def _gram_gradient(gram_fn, features: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """d Σ(W ⊙ G) / d features, W not symmetric so both halves of the gradient matter."""
    with tf.GradientTape() as tape:
        tape.watch(features)
        total = tf.reduce_sum(weights * gram_fn(features)) + tf.reduce_sum(tf.square(gram_fn(features)))
    return tape.gradient(total, features)


def test_gram_gradient_equals_autodiff_of_the_product_float64():
    rng = np.random.default_rng(6)
    features = tf.constant(rng.normal(size=(1, 5, 7, 6)))  # float64
    weights = tf.constant(rng.normal(size=(6, 6)))
    np.testing.assert_array_equal(costs.gram_matrix(features).numpy(), _plain_gram(features).numpy())
    custom = _gram_gradient(costs.gram_matrix, features, weights)
    reference = _gram_gradient(_plain_gram, features, weights)
    assert custom.dtype == tf.float64
    np.testing.assert_allclose(custom.numpy(), reference.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_gram_gradient_with_unknown_height_and_width_and_xla(jit_compile):
    spec = tf.TensorSpec((1, None, None, 4), tf.float32)

    @tf.function(input_signature=[spec, tf.TensorSpec((4, 4), tf.float32)], jit_compile=jit_compile)
    def custom(features, weights):
        return _gram_gradient(costs.gram_matrix, features, weights)

    rng = np.random.default_rng(7)
    weights = tf.constant(rng.normal(size=(4, 4)).astype(np.float32))
    for shape in ((1, 3, 5, 4), (1, 6, 2, 4)):  # two sizes, one trace
        features = tf.constant(rng.normal(size=shape).astype(np.float32))
        reference = _gram_gradient(_plain_gram, features, weights).numpy()
        np.testing.assert_allclose(custom(features, weights).numpy(), reference, rtol=1e-5, atol=1e-5)
    assert custom.experimental_get_tracing_count() == 1
