"""Compiled inference graphs for universal style transfer: the encoder to every level in one pass, and the
decoders, each one `tf.function` for pictures of any size.

Why not the training path: `FeatureExtractor` runs its `tf.nn` chain eagerly, op by op, with a custom
gradient around every convolution (for the optimisation route). Inference needs no gradient, and in one
graph TensorFlow's optimiser fuses each convolution with its bias and ReLU (one pass over the activations
instead of three; at 512 px a relu1_2 map is 50 MB), so the same numbers come out faster. The encoder also
hands out every level at once, so a style picture is encoded once for all four WCT levels instead of four
times. Each function is traced once per process, on the first call, with the spatial sizes left open
(`warm_up` does that on a tiny picture at load time, so a stylization's clock holds no tracing).

The encoder takes a compute dtype: "bfloat16" (what `--precision auto` picks on a CPU with AMX,
nst_tf.perf.precision) rounds its kernels, biases and the preprocessed picture to bfloat16 once and runs
every convolution, ReLU and pooling in it (oneDNN sums in float32); the features it hands out are float32,
so the WCT and AdaIN statistics (means, covariances, their eigendecompositions) stay float32 or wider.
The decoders stay float32 (their Keras layers compute in their own policy).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from nst_tf.universal.networks import LEVEL_LAYERS, build_encoder
from nst_tf.vgg.weights import VGGWeights


class InferenceEncoder:
    """ImageNet VGG16 up to relu{deepest}_1: (1, H, W, 3) RGB in [0, 1] -> {level: (1, h, w, C) features}.

    The same network and weights as `build_encoder` (its Keras model's kernels and biases, its
    preprocessing, max pooling), as plain forward ops in one graph.
    """

    def __init__(self, weights: VGGWeights, deepest: int, compute_dtype: str = "float32") -> None:
        if compute_dtype not in ("float32", "bfloat16"):
            raise ValueError(f"compute_dtype must be float32 or bfloat16, not {compute_dtype!r}")
        extractor = build_encoder(weights, deepest)
        convs = [layer for layer in extractor.model.layers if isinstance(layer, keras.layers.Conv2D)]
        dtype = tf.as_dtype(compute_dtype)
        tensors = [(layer.name, tf.cast(layer.kernel.value, dtype), tf.cast(layer.bias.value, dtype))
                   for layer in convs]  # fmt: skip
        self.compute_dtype = compute_dtype
        self._setup(extractor.preprocess, tensors, deepest)

    def _setup(self, preprocess, convs: list, deepest: int) -> None:
        self._preprocess = preprocess
        self._dtype = convs[0][1].dtype
        last = [name for name, _, _ in convs].index(LEVEL_LAYERS[deepest])
        self._convs = convs[: last + 1]
        self._levels = {LEVEL_LAYERS[level]: level for level in range(1, deepest + 1)}
        self._run = tf.function(self._graph, input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])

    def up_to(self, level: int) -> InferenceEncoder:
        """This encoder cut at relu{level}_1, sharing its weights and preprocessing (no second VGG is built)."""
        shallower = object.__new__(InferenceEncoder)
        shallower.compute_dtype = self.compute_dtype
        shallower._setup(self._preprocess, self._convs, level)
        return shallower

    def _graph(self, images: tf.Tensor) -> dict[int, tf.Tensor]:
        x, block, features = tf.cast(self._preprocess(images), self._dtype), 1, {}
        for name, kernel, bias in self._convs:
            if int(name[len("block")]) != block:  # the model's blockN_pool between blocks
                x, block = tf.nn.max_pool2d(x, 2, 2, "VALID"), int(name[len("block")])
            x = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, kernel, 1, "SAME"), bias))
            if name in self._levels:
                features[self._levels[name]] = tf.cast(x, tf.float32)  # statistics are taken in float32
        return features

    def __call__(self, images: tf.Tensor) -> dict[int, tf.Tensor]:
        return self._run(tf.convert_to_tensor(images, tf.float32))


class InferenceDecoder:
    """A decoder as one graph: (1, h, w, C) features -> (1, H, W, 3) picture clipped to [0, 1]."""

    def __init__(self, decoder: keras.Model) -> None:
        self.decoder = decoder
        channels = int(decoder.input_shape[-1])
        spec = [tf.TensorSpec([None, None, None, channels], tf.float32)]
        self._run = tf.function(lambda f: tf.clip_by_value(decoder(f, training=False), 0.0, 1.0), input_signature=spec)

    def __call__(self, features: tf.Tensor) -> tf.Tensor:
        return self._run(tf.convert_to_tensor(features, tf.float32))
