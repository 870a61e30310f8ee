"""nst_tf.losses.costs against hand-computed values and a float64 NumPy reference; per picture in a batch;
in each source's conventions."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from nst_tf.losses import costs


def one(values: tf.Tensor) -> float:
    """The single picture's value of a (1,) per-picture cost."""
    assert values.shape == (1,)
    return float(values[0])


def test_content_cost_hand_computed():
    # a_C all ones, a_G all zeros, shape (1, 2, 3, 4): Σ(1)² = 24, / (4·2·3·4 = 96) = 0.25
    a_C = tf.ones((1, 2, 3, 4))
    a_G = tf.zeros((1, 2, 3, 4))
    assert one(costs.content_cost(a_C, a_G)) == pytest.approx(0.25)
    assert one(costs.content_cost(a_C, a_C)) == 0.0


def test_gram_matrix_hand_computed():
    # positions (1,2), (3,4) with 2 channels: G = [[1+9, 2+12], [2+12, 4+16]]
    features = tf.constant([[[[1.0, 2.0], [3.0, 4.0]]]])  # (1, 1, 2, 2)
    np.testing.assert_allclose(costs.gram_matrix(features).numpy(), [[[10.0, 14.0], [14.0, 20.0]]])  # (1, C, C)


def test_layer_style_cost_hand_computed():
    # G_S = [[10, 14], [14, 20]], G_G = 0: Σ = 100 + 196 + 196 + 400 = 892; / (4·2²·2²) = 892 / 64
    style = tf.constant([[[[1.0, 2.0], [3.0, 4.0]]]])
    generated = tf.zeros((1, 1, 2, 2))
    value = costs.layer_style_cost(costs.gram_matrix(style), generated)
    assert one(value) == pytest.approx(892.0 / 64.0)


def test_layer_style_cost_matches_numpy_float64():
    rng = np.random.default_rng(3)
    a_S = rng.normal(size=(1, 5, 7, 6)).astype(np.float32)
    a_G = rng.normal(size=(1, 5, 7, 6)).astype(np.float32)
    A_S, A_G = a_S.reshape(-1, 6).astype(np.float64), a_G.reshape(-1, 6).astype(np.float64)
    expected = np.sum((A_S.T @ A_S - A_G.T @ A_G) ** 2) / (4 * 6**2 * 35**2)
    value = costs.layer_style_cost(costs.gram_matrix(tf.constant(a_S)), tf.constant(a_G))
    assert one(value) == pytest.approx(expected, rel=1e-5)


def test_style_positions_compare_grams_per_position():
    # A style map twice as large with the same per-position statistics costs nothing.
    rng = np.random.default_rng(4)
    a_G = rng.normal(size=(1, 4, 4, 3)).astype(np.float32)
    a_S = np.concatenate([a_G, a_G], axis=1)  # (1, 8, 4, 3): Gram doubles, positions double
    gram_S = costs.gram_matrix(tf.constant(a_S))
    assert one(costs.layer_style_cost(gram_S, tf.constant(a_G), style_positions=32.0)) == pytest.approx(0, abs=1e-5)
    assert one(costs.layer_style_cost(gram_S, tf.constant(a_G))) > 0.05  # raw Grams differ by 2x


def test_style_cost_weights_layers():
    rng = np.random.default_rng(5)
    feats_S = {k: tf.constant(rng.normal(size=(1, 3, 3, 2)).astype(np.float32)) for k in ("a", "b")}
    feats_G = {k: tf.constant(rng.normal(size=(1, 3, 3, 2)).astype(np.float32)) for k in ("a", "b")}
    grams = {k: costs.gram_matrix(v) for k, v in feats_S.items()}
    per_layer = {k: one(costs.layer_style_cost(grams[k], feats_G[k])) for k in grams}
    total = costs.style_cost(grams, feats_G, {"a": 0.25, "b": 0.75})
    assert one(total) == pytest.approx(0.25 * per_layer["a"] + 0.75 * per_layer["b"], rel=1e-6)


def test_total_variation_hand_computed():
    image = np.zeros((1, 2, 2, 3), np.float32)
    image[0, 0, 0, :] = 1.0  # one bright corner: one vertical and one horizontal difference of 1 per channel
    # down diffs: (1, 1, 2, 3) -> mean of [1,0]*3 = 0.5; right diffs likewise 0.5
    assert one(costs.total_variation_cost(tf.constant(image))) == pytest.approx(1.0)
    assert one(costs.total_variation_cost(tf.zeros((1, 5, 5, 3)))) == 0.0


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
    assert one(content) == pytest.approx(0.25)  # Σ 72 / (4·72)
    # G_S = 24·ones(3,3), Σ = 9·576, / (4·9·24²)
    assert one(style) == pytest.approx(9 * 576 / (4 * 9 * 24**2))
    assert one(tv) == 0.0
    content2, _, _ = both(tf.ones((1, 8, 2, 3)), tf.zeros((1, 8, 2, 3)))  # another size, same trace
    assert one(content2) == pytest.approx(0.25)
    assert both.experimental_get_tracing_count() == 1


def _plain_gram(features: tf.Tensor) -> tf.Tensor:
    """AᵀA under TensorFlow's own matmul gradient, the reference for the custom one."""
    unrolled = tf.reshape(features, [tf.shape(features)[0], -1, tf.shape(features)[-1]])
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


def test_a_batch_of_two_equals_two_single_pictures():
    rng = np.random.default_rng(8)
    # float64, so that "equal" means equal to rounding (float32 batched matmuls may sum in another order).
    a_C, a_G, a_S = (tf.constant(rng.normal(size=(2, 5, 7, 6))) for _ in range(3))
    images = tf.constant(rng.uniform(size=(2, 9, 11, 3)))
    for form, norm in (("course", "none"), ("mse", "size"), ("sum", "size")):
        batch_content = costs.content_cost(a_C, a_G, form)
        grams = costs.gram_matrix(a_S, norm)
        assert grams.shape == (2, 6, 6)
        batch_style = costs.layer_style_cost(grams, a_G, form=form, normalisation=norm)
        assert batch_content.shape == batch_style.shape == (2,)
        for i in range(2):
            pick = slice(i, i + 1)
            np.testing.assert_allclose(grams[pick].numpy(), costs.gram_matrix(a_S[pick], norm).numpy(), rtol=1e-12)
            single = costs.layer_style_cost(
                costs.gram_matrix(a_S[pick], norm), a_G[pick], form=form, normalisation=norm
            )
            assert float(batch_style[i]) == pytest.approx(one(single), rel=1e-6)
            assert float(batch_content[i]) == pytest.approx(
                one(costs.content_cost(a_C[pick], a_G[pick], form)), rel=1e-6
            )
    for form in ("mean", "sum"):
        batch_tv = costs.total_variation_cost(images, form)
        for i in range(2):
            assert float(batch_tv[i]) == pytest.approx(
                one(costs.total_variation_cost(images[i : i + 1], form)), rel=1e-6
            )
    # One style's Gram (batch 1) is compared with every generated picture.
    shared = costs.layer_style_cost(costs.gram_matrix(a_S[:1]), a_G)
    assert float(shared[1]) == pytest.approx(one(costs.layer_style_cost(costs.gram_matrix(a_S[:1]), a_G[1:])), rel=1e-6)


def test_conventions_hand_computed():
    # a_C ones, a_G zeros, (1, 2, 3, 4): Σ = 24; mse = 24 / 24 = 1; sum = 24
    a_C, a_G = tf.ones((1, 2, 3, 4)), tf.zeros((1, 2, 3, 4))
    assert one(costs.content_cost(a_C, a_G, "mse")) == pytest.approx(1.0)
    assert one(costs.content_cost(a_C, a_G, "sum")) == pytest.approx(24.0)
    # positions (1,2), (3,4), 2 channels: AᵀA = [[10, 14], [14, 20]]; "size" divides by n_H·n_W·n_C = 1·2·2 = 4
    style = tf.constant([[[[1.0, 2.0], [3.0, 4.0]]]])
    np.testing.assert_allclose(costs.gram_matrix(style, "size").numpy(), [[[2.5, 3.5], [3.5, 5.0]]])
    zero = tf.zeros((1, 1, 2, 2))
    # G_G = 0: Σ(G_S)² = 6.25 + 12.25 + 12.25 + 25 = 55.75; mse / n_C² = 55.75 / 4
    gram_size = costs.gram_matrix(style, "size")
    assert one(costs.layer_style_cost(gram_size, zero, form="mse", normalisation="size")) == pytest.approx(55.75 / 4)
    assert one(costs.layer_style_cost(gram_size, zero, form="sum", normalisation="size")) == pytest.approx(55.75)
    # A Gram already divided by its size is not rescaled per position (the style's size does not matter).
    assert one(
        costs.layer_style_cost(gram_size, zero, style_positions=8.0, form="sum", normalisation="size")
    ) == pytest.approx(55.75)
    image = np.zeros((1, 2, 2, 3), np.float32)
    image[0, 0, 0, :] = 1.0  # 3 vertical and 3 horizontal differences of 1
    assert one(costs.total_variation_cost(tf.constant(image), "sum")) == pytest.approx(6.0)


def test_relative_forms_are_scale_free_and_one_against_zero():
    # "relative": Σ(a_C − a_G)²/Σa_C² and Σ(G_S − G_G)²/ΣG_S²: 1 for all-zero generated features, 0 at the
    # target, and unchanged when every feature is scaled (a weights file with larger activations).
    rng = np.random.default_rng(3)
    a_c = tf.constant(rng.random((1, 4, 5, 3)), tf.float64)
    a_g = tf.constant(rng.random((2, 4, 5, 3)), tf.float64)
    zero = tf.zeros((1, 4, 5, 3), tf.float64)
    assert float(costs.content_cost(a_c, zero, "relative")[0]) == pytest.approx(1.0)
    assert float(costs.content_cost(a_c, a_c, "relative")[0]) == 0.0
    hand = np.sum((a_c.numpy() - a_g.numpy()[1:]) ** 2) / np.sum(a_c.numpy() ** 2)
    assert float(costs.content_cost(a_c, a_g, "relative")[1]) == pytest.approx(hand, rel=1e-12)
    scaled = costs.content_cost(7.0 * a_c, 7.0 * a_g, "relative").numpy()
    np.testing.assert_allclose(scaled, costs.content_cost(a_c, a_g, "relative").numpy(), rtol=1e-12)
    g_s = costs.gram_matrix(a_c)
    assert float(costs.layer_style_cost(g_s, zero, form="relative")[0]) == pytest.approx(1.0)
    style = costs.layer_style_cost(g_s, a_g, form="relative").numpy()
    scaled_style = costs.layer_style_cost(costs.gram_matrix(3.0 * a_c), 3.0 * a_g, form="relative").numpy()
    np.testing.assert_allclose(scaled_style, style, rtol=1e-12)


def test_default_preset_uses_relative_terms_and_the_courses_keep_theirs():
    from nst_tf.presets import COURSE, COURSE_TF2, DEFAULT

    assert (DEFAULT.content_cost_form, DEFAULT.style_cost_form) == ("relative", "relative")
    assert (DEFAULT.content_weight, DEFAULT.style_weight) == (1.0, 5.0)
    for recipe in (COURSE, COURSE_TF2):
        assert (recipe.content_cost_form, recipe.style_cost_form) == ("course", "course")
