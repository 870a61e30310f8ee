"""The TensorFlow side of the parity report: the product's extractor and step, in float32 or float64.

In float32 the TF side is the product itself (`nst_tf.optim.engine.stylize`). With float64 both sides run
in double precision, to separate algorithmic disagreement from rounding; the product's step is
float32-only in one place: its variable. So the float64 run here builds a float64 variable and Adam and
then uses the product's own `make_step`, on the product's Keras VGG built with a float64 dtype policy.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import keras
import numpy as np
import tensorflow as tf

from nst_tf.config import Config
from nst_tf.optim.adam import make_optimizer, make_step
from nst_tf.optim.pictures import initial_image
from nst_tf.optim.records import COST_NAMES, Step
from nst_tf.optim.targets import compute_targets, picture_costs
from nst_tf.vgg.extractor import FeatureExtractor, build_extractor, input_preprocessing
from nst_tf.vgg.weights import VGGWeights


@contextlib.contextmanager
def keras_float64() -> Iterator[None]:
    """Build Keras layers and variables in float64 for the block; the global settings are restored after."""
    floatx, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")  # once set, the policy (not floatx) decides a layer's dtype
    try:
        yield
    finally:
        keras.config.set_dtype_policy(policy)
        keras.config.set_floatx(floatx)


def build_tf_extractor(config: Config, weights: VGGWeights, float64: bool = False) -> FeatureExtractor:
    """The product's extractor (`nst_tf.vgg.extractor.build_extractor`); in float64, the same Keras VGG built with a
    float64 dtype policy and a float64 preprocessing."""
    if not float64:
        return build_extractor(config, weights)
    if weights.architecture == "squeezenet1_1":  # the cs231n assignment's network, in float64
        from nst_tf.vgg.squeezenet import SqueezeNetExtractor

        layers = [config.content_layer_key, *config.style_layer_weights]
        return SqueezeNetExtractor(weights, layers, input_preprocessing(config), tf.float64)

    class Float64Extractor(FeatureExtractor):
        """FeatureExtractor whose model and preprocessing run in float64 (its own preprocess casts to float32)."""

        def preprocess(self, images):
            p = self.preprocessing
            x = tf.cast(images, tf.float64) * tf.constant(p.scale, tf.float64)
            if p.channel_order == "BGR":
                x = x[..., ::-1]
            x = x - tf.constant(p.mean, tf.float64)
            std = tuple(float(s) for s in getattr(p, "std", (1.0, 1.0, 1.0)))
            return x if std == (1.0, 1.0, 1.0) else x / tf.constant(std, tf.float64)

    layers = [config.content_layer_key, *config.style_layer_weights]  # as the twin's build_extractor
    with keras_float64():
        extractor = Float64Extractor(
            weights, layers, config.pooling, config.pool_padding, input_preprocessing(config), tap=config.feature_tap
        )
    dtypes = {v.dtype for v in extractor.model.weights}
    if dtypes != {"float64"}:
        raise RuntimeError(f"the float64 Keras VGG holds {sorted(dtypes)} weights")
    return extractor


def tf_gradient(
    extractor, content, styles, config: Config, style_blend, start: np.ndarray, float64: bool
) -> np.ndarray:
    """dJ/d(image variable) at the start, the variable in pixel_scale units as in the product's step
    (targets from the sized `content` and `styles`)."""
    targets = compute_targets(extractor, content, styles, config, style_blend)
    image = tf.Variable(start * config.pixel_scale, dtype=tf.float64 if float64 else tf.float32)
    with tf.GradientTape() as tape:
        values = picture_costs(extractor, targets, config, image / float(config.pixel_scale))
    return tape.gradient(values["total"], image).numpy()


def tf_float64_stylize(content, styles, config: Config, extractor, style_blend) -> Iterator:
    """`nst_tf.optim.engine.stylize` in float64 (Adam; pictures already sized): the same targets, start, Adam, clip."""
    if config.seed is not None:
        tf.random.set_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    targets = compute_targets(extractor, content, styles, config, style_blend)
    start = initial_image(content, config, rng, styles, style_blend)
    scale = float(config.pixel_scale)
    image = tf.Variable(start * config.pixel_scale, dtype=tf.float64, name="generated_image")
    with keras_float64():  # so Adam's learning-rate variable is float64 too, as the twin's
        optimizer = make_optimizer(config)
        step = make_step(extractor, targets, config, image, optimizer)  # the product's step, in float64

    began = time.perf_counter()
    for i in range(config.iterations):
        values = step()
        picture = np.clip(image.numpy() / scale, 0.0, 1.0) if i == config.iterations - 1 else None
        yield Step(i, {k: float(values[k]) for k in COST_NAMES}, time.perf_counter() - began, picture)


def features(extractor: FeatureExtractor, picture: np.ndarray, float64: bool) -> dict[str, np.ndarray]:
    """The extractor's feature maps of `picture` as arrays."""
    values = extractor(tf.constant(picture, tf.float64 if float64 else tf.float32))
    return {name: value.numpy() for name, value in values.items()}


def versions() -> dict[str, str]:
    """TensorFlow's and Keras's versions, for the report."""
    return {"tensorflow": tf.__version__, "keras": keras.__version__}
