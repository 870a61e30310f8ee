"""Compiled inference graphs for universal style transfer: the encoder to every level in one pass, and the
decoders, each one `tf.function` for pictures of any size.

Why not the training path: `FeatureExtractor` runs its `tf.nn` chain eagerly, op by op, with a custom
gradient around every convolution (for the optimisation route). Inference needs no gradient, and in one
graph TensorFlow's optimiser fuses each convolution with its bias and ReLU (one pass over the activations
instead of three; at 512 px a relu1_2 map is 50 MB), so the same numbers come out faster. The encoder also
hands out every level at once, so a style picture is encoded once for all four WCT levels instead of four
times; a content picture, which needs one level, gets that level alone (`last`). Each function is traced
once per process, on the first call, with the spatial sizes left open (`warm_up` does that on a tiny
picture at load time, so a stylization's clock holds no tracing).

The encoder takes a compute dtype: "bfloat16" (what `--precision auto` picks on a CPU with AMX,
nst_tf.perf.precision) rounds its kernels, biases and the preprocessed picture to bfloat16 once and runs
every convolution, ReLU and pooling in it (oneDNN sums in float32); the features it hands out are float32,
so the WCT and AdaIN statistics (means, covariances, their eigendecompositions) stay float32 or wider.
The decoders take one too: in bfloat16 their layers run as plain ops on bfloat16 activations (float32
variables rounded once), in float32 as their Keras call.
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
        self._deepest = deepest
        spec = [tf.TensorSpec([None, None, None, 3], tf.float32)]
        self._run = tf.function(self._graph, input_signature=spec)
        # The deepest level alone: the graph without the shallower levels' float32 copies, which TensorFlow
        # prunes when they are not returned (the same convolutions, the same numbers; measured at 640 × 360
        # in bfloat16: 109 instead of 123 ms, as relu1_1's copy alone is 60 MB)
        self._last = tf.function(lambda images: self._graph(images)[deepest], input_signature=spec)

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

    def last(self, images: tf.Tensor) -> tf.Tensor:
        """(1, H, W, 3) RGB in [0, 1] -> (1, h, w, C) relu{deepest}_1 features only (what a content needs)."""
        return self._last(tf.convert_to_tensor(images, tf.float32))


class InferenceDecoder:
    """A decoder as one graph: (1, h, w, C) features -> (1, H, W, 3) picture clipped to [0, 1].

    `compute_dtype="bfloat16"` runs the decoder's layers as plain ops in bfloat16 (kernels and biases rounded
    once; the features scaled in float32, then rounded; every pad, upsampling, convolution and ReLU in
    bfloat16, oneDNN summing in float32), the picture handed back as float32. Its float32 Keras call spends
    most of a 512 px AdaIN stylization (measured: 1.0 of 1.5 s on an Intel Xeon with AMX, 0.15 s in
    bfloat16): few channels at full resolution, where bfloat16 halves the memory traffic and AMX the
    arithmetic.
    """

    def __init__(self, decoder: keras.Model, compute_dtype: str = "float32") -> None:
        if compute_dtype not in ("float32", "bfloat16"):
            raise ValueError(f"compute_dtype must be float32 or bfloat16, not {compute_dtype!r}")
        self.decoder = decoder
        self.compute_dtype = compute_dtype
        channels = int(decoder.input_shape[-1])
        spec = [tf.TensorSpec([None, None, None, channels], tf.float32)]
        if compute_dtype == "float32":
            self._run = tf.function(
                lambda f: tf.clip_by_value(decoder(f, training=False), 0.0, 1.0), input_signature=spec
            )
        else:
            self._steps = _decoder_steps(decoder, tf.as_dtype(compute_dtype))
            self._run = tf.function(self._graph, input_signature=spec)

    def _graph(self, features: tf.Tensor) -> tf.Tensor:
        x = features
        for kind, *args in self._steps:
            if kind == "scale":  # in float32, before the features are rounded
                x = tf.cast(x * args[0] + args[1], args[2])
            elif kind == "pad":
                x = tf.pad(x, [[0, 0], [args[0], args[0]], [args[0], args[0]], [0, 0]], mode="REFLECT")
            elif kind == "up_pad":  # nearest ×2 then a reflect pad of 1, as two gathers (`_up_pad_rows`)
                x = tf.gather(x, _up_pad_rows(tf.shape(x)[1]), axis=1)
                x = tf.gather(x, _up_pad_rows(tf.shape(x)[2]), axis=2)
            elif kind == "reflect":  # the reflect pad as two gathers (`_reflect_rows`)
                x = tf.gather(x, _reflect_rows(tf.shape(x)[1], args[0]), axis=1)
                x = tf.gather(x, _reflect_rows(tf.shape(x)[2], args[0]), axis=2)
            elif kind == "up":  # nearest ×2: each pixel repeated along both axes
                n, h, w, c = tf.unstack(tf.shape(x))
                x = tf.reshape(tf.tile(x[:, :, None, :, None, :], [1, 1, 2, 1, 2, 1]), [n, 2 * h, 2 * w, c])
            else:
                kernel, bias, relu = args
                x = tf.nn.bias_add(tf.nn.conv2d(x, kernel, 1, "VALID"), bias)
                x = tf.nn.relu(x) if relu else x
        return tf.clip_by_value(tf.cast(x, tf.float32), 0.0, 1.0)

    def __call__(self, features: tf.Tensor) -> tf.Tensor:
        return self._run(tf.convert_to_tensor(features, tf.float32))


def _reflect_rows(length: tf.Tensor, pad: int) -> tf.Tensor:
    """Which of `length` rows each row of a reflect pad of `pad` is (pad < length, as tf.pad asks): the same
    copies as tf.pad's REFLECT, faster (measured in bfloat16, the AdaIN decoder at 640 × 360 with the
    upsamplings already gathered: 55 -> 38 ms, its pictures equal to the bit)."""
    rows = tf.range(-pad, length + pad)
    return tf.where(rows < 0, -rows, tf.where(rows > length - 1, 2 * (length - 1) - rows, rows))


def _up_pad_rows(length: tf.Tensor) -> tf.Tensor:
    """Which of `length` rows each row of reflect-pad-1(nearest-×2(rows)) is: the same pixels as the tile,
    reshape and pad they replace (pure copies), in one pass instead of three (measured in bfloat16, the
    three upsamplings of a 640 × 360 AdaIN decode alone: 63 ms as tile + reshape + pad, 19 ms as gathers;
    the whole decoder 78 -> 58 ms, its pictures equal to the bit)."""
    rows = tf.range(-1, 2 * length + 1)  # the padded picture's rows, in the upsampled picture's numbering
    # reflecting one row of a ×2 upsampling lands on the edge row's twin: the edge row itself
    return tf.clip_by_value(rows, 0, 2 * length - 1) // 2


def _decoder_steps(decoder: keras.Model, dtype: tf.DType) -> list[tuple]:
    """The decoder's layers (`nst_tf.universal.networks.build_decoder`'s kinds) as ("scale", s, o, dtype),
    ("reflect", p) (a reflect pad as gathers), ("up_pad",) (an upsampling and the pad of 1 after it, as one
    step) and ("conv", kernel, bias, relu) steps, kernels and biases cast to `dtype`. ("pad", p) and ("up",),
    the same copies by tf.pad and tile + reshape, are what they replace (a test's reference)."""
    from nst_tf.universal.networks import ReflectionPad

    steps: list[tuple] = []
    for layer in decoder.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.layers.Rescaling):
            steps.append(("scale", float(layer.scale), float(layer.offset), dtype))
        elif isinstance(layer, ReflectionPad):
            steps.append(("pad", layer.pad))
        elif isinstance(layer, keras.layers.UpSampling2D) and tuple(layer.size) == (2, 2):
            steps.append(("up",))
        elif isinstance(layer, keras.layers.Conv2D) and tuple(layer.strides) == (1, 1) and layer.padding == "valid":
            relu = keras.activations.get(layer.activation) is keras.activations.relu
            if not relu and keras.activations.get(layer.activation) is not keras.activations.linear:
                raise ValueError(f"{layer.name}: activation {layer.activation} is not served in bfloat16")
            steps.append(("conv", tf.cast(layer.kernel.value, dtype), tf.cast(layer.bias.value, dtype), relu))
        else:
            raise ValueError(f"{layer.name}: a {type(layer).__name__} is not served in bfloat16")
        if steps[-2:] == [("up",), ("pad", 1)]:  # the decoders' every upsampling is followed by a pad of 1
            steps[-2:] = [("up_pad",)]
    steps = [("reflect", step[1]) if step[0] == "pad" else step for step in steps]
    return steps
