"""The TensorFlow side of the parity report: the product's extractor and step, in float32 or float64.

In float32 the TF side is the product itself (`nst_tf.optim.engine.stylize`). In float64 (the rounding
envelope's reference run, and `--float64`) the product's step is float32-only in one place: its variable.
So `stage_runner(float64=True)` builds a float64 variable and Adam and then uses the product's own
`make_step`, on the product's Keras VGG built with a float64 dtype policy; its L-BFGS runs the shared
NumPy drivers (`nst_tf.optim.lbfgs`) on `evaluator`, a float64 cost and gradient.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import keras
import numpy as np
import tensorflow as tf

from nst_tf.config import Config
from nst_tf.optim import lbfgs
from nst_tf.optim.adam import make_optimizer, make_step, restart
from nst_tf.optim.lbfgs_tf import start_pixels
from nst_tf.optim.records import COST_NAMES, Stage, Step
from nst_tf.optim.targets import Targets, compute_targets, picture_costs
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


def evaluator(extractor, targets: Targets, config: Config, float64: bool) -> lbfgs.Evaluate:
    """pixels (config units) -> ({cost: value}, d total / d pixels) in TensorFlow, in float32 or float64:
    what the L-BFGS drivers call, and what step parity evaluates both backends with."""
    dtype = tf.float64 if float64 else tf.float32
    scale = float(config.pixel_scale)

    @tf.function(autograph=False)
    def cost_and_gradient(pixels: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(pixels)
            values = picture_costs(extractor, targets, config, pixels / scale)
        return values, tape.gradient(values["total"], pixels)

    def evaluate(pixels: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        values, gradient = cost_and_gradient(tf.constant(pixels, dtype))
        return {name: float(values[name]) for name in COST_NAMES}, gradient.numpy()

    return evaluate


def stage_runner(float64: bool) -> Callable[[Stage], Iterator[Step]]:
    """A `nst_tf.optim.stages.run_stages` runner computing in float64 (or float32): the product's Adam step
    on a variable of that dtype, or the shared L-BFGS drivers on `evaluator`."""
    dtype = tf.float64 if float64 else tf.float32
    picture_dtype = np.float64 if float64 else np.float32

    def run(stage: Stage) -> Iterator[Step]:
        config = stage.config
        targets = compute_targets(stage.extractor, stage.content, stage.styles, config, stage.style_blend)
        if config.optimizer != "adam":
            evaluate = evaluator(stage.extractor, targets, config, float64)
            points = lbfgs.accepted_points(evaluate, start_pixels(stage), stage)
            yield from lbfgs.steps_from_points(points, stage, picture_dtype)
            return
        image = tf.Variable(start_pixels(stage), dtype=dtype, name="generated_image")
        with keras_float64() if float64 else contextlib.nullcontext():  # Adam's learning rate in the dtype too
            optimizer = make_optimizer(config)
            step = make_step(stage.extractor, targets, config, image, optimizer)
        began = time.perf_counter()
        for i in range(stage.first, stage.last):
            if i == config.lr_decay_at:
                restart(optimizer, config.decayed_learning_rate)
            values = step()
            raw = picture = None
            if stage.is_snapshot(i):
                raw = image.numpy() / config.pixel_scale
                picture = np.clip(raw, 0.0, 1.0)
            yield Step(i, {k: float(values[k]) for k in COST_NAMES}, time.perf_counter() - began, picture, None, raw)

    return run


def features(extractor: FeatureExtractor, picture: np.ndarray, float64: bool) -> dict[str, np.ndarray]:
    """The extractor's feature maps of `picture` as arrays."""
    values = extractor(tf.constant(picture, tf.float64 if float64 else tf.float32))
    return {name: value.numpy() for name, value in values.items()}


def versions() -> dict[str, str]:
    """TensorFlow's and Keras's versions, for the report."""
    return {"tensorflow": tf.__version__, "keras": keras.__version__}
