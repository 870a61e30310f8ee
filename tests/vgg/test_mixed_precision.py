"""A bfloat16 step against float32: the features, the costs and the gradient L-BFGS is handed, each within a
bound derived from bfloat16's 8-bit significand; and the bfloat16 extractor's fast path really computes in
bfloat16 while the picture, the Grams and the costs stay float32.

The derivation (normwise). bfloat16 keeps 8 significant bits, so one rounding to nearest changes a value
by at most u = 2^-8 relative. The extractor rounds the preprocessed picture once; every conv layer rounds
its kernel, its convolution's output and its bias_add's output (3 roundings; oneDNN sums the products in
float32, at most 9·C_in·2^-24 relative, under u for C_in ≤ 512: one more u); every 2x2 average pooling
rounds once; ReLU is exact and 1-Lipschitz. So a feature map after L conv layers and P poolings is within
ε ≤ (1 + 4·L + P)·u of float32's (`feature_bound`): the bound grows with the depth, 5u at conv1_1 and 57u at
conv5_1. Costs: a relative cost J = ‖X − T‖²/‖T‖² whose X and T (picture and target, both computed by the
same extractor, as in a run) each carry relative error e moves by at most ((1 + e·κ)/(1 − e))² − 1
(`cost_bound`), κ = (‖X‖ + ‖T‖)/‖X − T‖ the term's conditioning measured in float32 (a picture near its
target has a large κ: the cost is a small difference of large values); e = ε for content (X = F), and
e = 2ε + ε² for a Gram G = FᵀF in float32; the style cost is a weighted sum of non-negative layer terms, so
its relative error is at most the worst layer's. Gradient: d J/d F carries ε from F, e·κ from the
difference and 2e from the denominator; the way back through the network rounds as often as the way
forward (each convolution's and pooling's output; the same rounded kernels), another `feature_bound`.
The costs' and the gradient's bounds use each layer's measured ε (itself checked against its bound).
These are worst cases (every rounding aligned); independent roundings add in quadrature, so the measured
errors sit 10-1000x below them (content 5e-4 against 0.06, style 1e-4 against 0.26, gradient 0.015 against
0.36 on TF 2.21, oneDNN, this picture). Max pooling is left out: where bfloat16 rounds two neighbours to the
same value its gradient goes to the first of them, not to float32's maximum, an error no rounding bound
covers (measured: 18 % of the gradient's norm at 64 px on random weights; the default preset pools by average).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_image

from nst_tf.losses import costs
from nst_tf.optim.lbfgs_tf import make_cost_and_gradient, target_arguments
from nst_tf.optim.targets import compute_targets
from nst_tf.presets import DEFAULT
from nst_tf.vgg.extractor import BFloat16Extractor, FeatureExtractor
from nst_tf.vgg.weights import random_weights

U = 2.0**-8  # bfloat16's unit roundoff: 8 significant bits, round to nearest
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
CONTENT_LAYER = "block4_conv2"
# (conv layers up to and including it, poolings before it) for each tapped layer of VGG19
DEPTH = {"block1_conv1": (1, 0), "block2_conv1": (3, 1), "block3_conv1": (5, 2), "block4_conv1": (9, 3),
         "block4_conv2": (10, 3), "block5_conv1": (13, 4)}  # fmt: skip
CONFIG = DEFAULT.replace(weights="random", precision="float32")


def feature_bound(layer: str) -> float:
    convs, pools = DEPTH[layer]
    return (1 + 4 * convs + pools) * U


def cost_bound(error: float, kappa: float) -> float:
    """|δJ|/J for J = ‖X − T‖²/‖T‖² when X and T each carry relative `error` and κ = (‖X‖ + ‖T‖)/‖X − T‖:
    the numerator moves by at most (1 + error·κ)², the denominator by (1 − error)²."""
    return ((1 + error * kappa) / (1 - error)) ** 2 - 1


def _relative(value, reference) -> float:
    return float(np.linalg.norm(np.asarray(value) - np.asarray(reference)) / np.linalg.norm(reference))


def _norm(x) -> float:
    return float(np.linalg.norm(np.asarray(x)))


@pytest.fixture(scope="module")
def step():
    weights = random_weights(seed=3)
    layers = [CONTENT_LAYER, *STYLE_LAYERS]
    content, style = tiny_image(48, 48, seed=8), tiny_image(48, 48, seed=5)
    picture = tf.constant(tiny_image(48, 48, seed=9))
    out = {}
    for name, kind in (("float32", FeatureExtractor), ("bfloat16", BFloat16Extractor)):
        extractor = kind(weights, layers, CONFIG.pooling, CONFIG.pool_padding)
        targets = compute_targets(extractor, content, [style], CONFIG)
        function = make_cost_and_gradient(extractor, CONFIG, tuple(picture.shape))
        values, gradient = function(picture, target_arguments(targets, CONFIG, True))
        out[name] = {
            "extractor": extractor,
            "features": {k: v.numpy() for k, v in extractor(picture).items()},
            "targets": targets,
            "costs": {k: float(v) for k, v in values.items()},
            "gradient": gradient.numpy(),
        }
    return out


def test_the_fast_path_computes_in_bfloat16_on_float32_variables(step):
    extractor = step["bfloat16"]["extractor"]
    assert extractor.fast_gradient and extractor.compute_dtype == "bfloat16"
    assert {conv.kernel.dtype for conv in extractor._chain} == {tf.bfloat16}
    assert {v.dtype for v in extractor.model.weights} == {"float32"}
    assert {v.dtype for v in step["bfloat16"]["features"].values()} == {np.dtype("float32")}  # handed out in float32
    assert step["bfloat16"]["gradient"].dtype == np.float32
    assert {g.dtype for g in step["bfloat16"]["targets"].style_grams.values()} == {tf.float32}


def test_features_are_within_the_rounding_bound_of_their_depth(step):
    for layer in (CONTENT_LAYER, *STYLE_LAYERS):
        error = _relative(step["bfloat16"]["features"][layer], step["float32"]["features"][layer])
        assert error <= feature_bound(layer), (layer, error / U)
        # and bfloat16 was really used: float32 alone differs by ~1e-7, not a tenth of a bfloat16 rounding
        assert error > U / 10, (layer, error / U)


def _kappas(step) -> tuple[float, dict[str, float]]:
    """The float32 step's conditioning: content (‖F‖ + ‖P‖)/‖F − P‖, style (‖G‖ + ‖A‖)/‖G − A‖ per layer."""
    f32 = step["float32"]
    features, targets = f32["features"], f32["targets"]
    f, p = features[CONTENT_LAYER], targets.content.numpy()
    content = (_norm(f) + _norm(p)) / _norm(f - p)
    style = {}
    for layer in STYLE_LAYERS:
        g, a = costs.gram_matrix(tf.constant(features[layer])).numpy(), targets.style_grams[layer].numpy()
        style[layer] = (_norm(g) + _norm(a)) / _norm(g - a)
    return content, style


def _errors(step) -> dict[str, float]:
    return {
        layer: _relative(step["bfloat16"]["features"][layer], step["float32"]["features"][layer])
        for layer in (CONTENT_LAYER, *STYLE_LAYERS)
    }


def test_costs_are_within_the_bound_of_their_features_and_conditioning(step):
    content_kappa, style_kappa = _kappas(step)
    errors = _errors(step)
    bf16, f32 = step["bfloat16"]["costs"], step["float32"]["costs"]
    content_bound = cost_bound(errors[CONTENT_LAYER], content_kappa)
    # A Gram doubles its features' relative error (2ε + ε²); the style cost is a weighted sum of layers.
    style_bound = max(cost_bound(2 * errors[k] + errors[k] ** 2, style_kappa[k]) for k in STYLE_LAYERS)
    assert abs(bf16["content"] - f32["content"]) <= content_bound * f32["content"]
    assert abs(bf16["style"] - f32["style"]) <= style_bound * f32["style"]
    assert content_bound < 0.5 and style_bound < 0.5  # the bounds say something on this picture


def test_the_gradient_is_within_the_bound_of_the_way_forward_and_back(step):
    content_kappa, style_kappa = _kappas(step)
    errors = _errors(step)
    # d J/d F: the features' ε, the difference's ε·κ (content) or (2ε + ε²)·κ (style), the denominator's 2e;
    # then the way back, as many roundings as the way forward: the layer's feature bound.
    terms = [errors[CONTENT_LAYER] * (1 + content_kappa + 2) + feature_bound(CONTENT_LAYER)]
    for k in STYLE_LAYERS:
        gram_error = 2 * errors[k] + errors[k] ** 2
        terms.append(errors[k] + gram_error * (style_kappa[k] + 2) + feature_bound(k))
    bound = max(terms)
    error = _relative(step["bfloat16"]["gradient"], step["float32"]["gradient"])
    assert error <= bound, (error, bound)
    assert bound < 0.5  # a wrong kernel flip or a dropped gradient gives an error of 1 or more
