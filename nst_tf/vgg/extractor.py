"""The VGG feature extractor: RGB in [0, 1] in, a dict of feature maps keyed by layer name out.

`FeatureExtractor` builds Keras's VGG layer stack (the same layer names as `keras.applications.VGG19`,
`include_top=False`), truncated after the deepest layer a run needs, as one multi-output Keras model, and
loads frozen weights into it. It owns the preprocessing the weights expect (scale, channel order,
means, per-channel std), so nothing outside it knows about BGR or ImageNet means. Pooling can be max
(Keras, the TF2 notebook) or average (Gatys et al., the TF1 notebook), with "valid" (Keras) or "same" (the
TF1 notebook's `tf.nn.avg_pool(..., padding='SAME')`) padding.

Calling the extractor does not run the Keras model, by default: it runs the same network as a chain of
`tf.nn` ops (`conv2d` with "SAME" padding, `bias_add`, `relu`, `avg_pool2d`/`max_pool2d`) on the Keras
model's own kernels and biases. These are the ops Keras's Conv2D and pooling layers call, so the feature
maps are the same numbers (the tests check them against the model). What differs is the gradient: each
convolution has a custom one that computes d/d input as a *forward* convolution of the upstream gradient
with the kernel rotated by 180° and its input/output channels swapped (both kernels precomputed once).
TensorFlow's own gradient, Conv2DBackpropInput, runs the large early layers at about 60 % of the forward
convolution's speed on oneDNN (CPU); the forward convolution runs at forward speed, which takes a 256 px
step from 81 % to 95 % of the machine's matmul peak together with the Gram's one-matmul gradient
(`nst_tf.losses.costs.gram_matrix`); see benchmarks/README.md, "Step variants". block1_conv1 keeps the native
op: its input gradient has 3 channels, where the native op is the faster one.

`fast_gradient=False` calls the Keras model instead, as before; so does a model built under a mixed
precision policy (compute dtype other than the variables'), where Keras's casts are part of the numbers.

Mixed precision (`BFloat16Extractor`, `--precision bfloat16`, and "auto" where the probe picks it): the
fast path with `compute_dtype="bfloat16"`. The model's variables stay float32; the chain's kernels and
biases are bfloat16 copies made once, the preprocessed picture is cast to bfloat16 on the way in, and every
convolution (forward, and the flipped-kernel gradient) runs in bfloat16 with float32 accumulation inside
oneDNN's kernel (its bfloat16 convolution sums in float32 and rounds the output once). The feature maps
handed out are cast back to float32, so Grams, costs, their gradients, the picture and the optimizer all
stay in float32; only the convolutions, bias, ReLU and pooling (and their gradients) see bfloat16.

Where a layer is tapped: `tap="relu"` (the default) hands out each conv layer's ReLU output, as Gatys et
al., the courses and cs231n do; `tap="conv"` hands out the conv output before its ReLU, as the PyTorch
tutorial and Mastering PyTorch do (their loss modules sit right after `nn.Conv2d` in the Sequential; the
network itself still applies the ReLU before the next layer). `build_extractor(config)` builds the
extractor a run's settings ask for.
"""

from __future__ import annotations

from collections.abc import Iterable

import keras
import tensorflow as tf

from nst_tf.config import Config
from nst_tf.errors import ConfigError
from nst_tf.vgg.weights import (
    IDENTITY,
    VGG_BLOCKS,
    Preprocessing,
    VGGWeights,
    conv_layer_names,
    resolve_weights_for_config,
    select_layers,
)

TAPS = ("relu", "conv")


class FeatureExtractor:
    """Frozen VGG up to the deepest requested layer; `extractor(images)` -> {keras_layer_name: (1, h, w, C)}.

    Args:
        weights: loaded conv weights (see `nst_tf.vgg.weights.resolve_weights`).
        layers: layer names to return, paper or Keras spelling.
        pooling: "max" or "avg".
        pool_padding: "valid" (Keras VGG) or "same" (the TF1 course's VGG).
        preprocessing: override the weights' own preprocessing (the TF2 notebook feeds [0, 1] as is).
        fast_gradient: compute the features with `tf.nn` ops whose convolutions have the flipped-kernel
            gradient (the default); False runs the Keras model under TensorFlow's own gradients. A model
            built under a mixed precision policy always runs as the Keras model. The fast path reads the
            model's weights once, here: weights set on `self.model` afterwards reach only the Keras path.
        tap: "relu" (after each conv's ReLU) or "conv" (before it; see the module's notes).
        compute_dtype: the fast path's arithmetic, None for the model's variable dtype; "bfloat16" computes
            the chain in bfloat16 on float32 variables (see the module's notes on mixed precision).
    """

    def __init__(
        self,
        weights: VGGWeights,
        layers: Iterable[str],
        pooling: str = "max",
        pool_padding: str = "valid",
        preprocessing: Preprocessing | None = None,
        fast_gradient: bool = True,
        tap: str = "relu",
        compute_dtype: str | None = None,
    ) -> None:
        self.layer_names: list[str] = select_layers(weights, layers)
        if pooling not in ("max", "avg"):
            raise ConfigError(f"unknown pooling {pooling!r}; choose max or avg")
        if tap not in TAPS:
            raise ConfigError(f"unknown feature tap {tap!r}; choose relu or conv")
        self.weights = weights
        self.pooling = pooling
        self.tap = tap
        self.preprocessing = preprocessing or weights.preprocessing
        self.model = _build_vgg(weights, self.layer_names, pooling, pool_padding, tap)
        p = self.preprocessing
        self._scale = tf.constant(p.scale, tf.float32)
        self._mean = tf.constant(p.mean, tf.float32)
        self._bgr = p.channel_order == "BGR"
        # Only torchvision's weights divide by a std; the others skip the op, so their numbers stay bit-exact.
        self._std = None if tuple(p.std) == (1.0, 1.0, 1.0) else tf.constant(p.std, tf.float32)
        convs = [layer for layer in self.model.layers if isinstance(layer, keras.layers.Conv2D)]
        # Under a mixed policy (bfloat16 maths on float32 variables) Keras casts inputs and kernels in every
        # layer; the tf.nn chain would compute in float32 instead, so such a model keeps the Keras path.
        mixed = any(layer.compute_dtype != layer.variable_dtype for layer in convs)
        self.fast_gradient = bool(fast_gradient) and not mixed
        self._chain: list[_FlippedConv] = []
        if self.fast_gradient:
            self._dtype = tf.as_dtype(compute_dtype or convs[0].variable_dtype)
            self._pool = tf.nn.avg_pool2d if pooling == "avg" else tf.nn.max_pool2d
            self._pool_padding = pool_padding.upper()
            self._chain = [_FlippedConv(layer, self._dtype) for layer in convs]
        elif compute_dtype is not None and compute_dtype != convs[0].compute_dtype:
            raise ValueError(f"compute_dtype {compute_dtype} needs the fast path (or a model built under that policy)")

    @property
    def compute_dtype(self) -> str:
        """The convolutions' arithmetic: "float32", "bfloat16" or "float64"."""
        if self.fast_gradient:
            return self._dtype.name
        return self.model.layers[1].compute_dtype

    def preprocess(self, images: tf.Tensor) -> tf.Tensor:
        """(N, H, W, 3) RGB in [0, 1] -> what the weights were trained on."""
        x = tf.convert_to_tensor(images, tf.float32) * self._scale
        if self._bgr:
            x = x[..., ::-1]
        x = x - self._mean
        if self._std is not None:
            x = x / self._std
        return x

    def __call__(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        """Feature maps of (N, H, W, 3) RGB images in [0, 1], keyed by Keras layer name."""
        x = self.preprocess(images)
        if not self.fast_gradient:
            return self.model(x, training=False)
        x = tf.cast(x, self._dtype)  # as a Keras layer casts its input to its dtype
        wanted, features, block = set(self.layer_names), {}, 1
        for conv in self._chain:
            if conv.block != block:  # a 2x2 pooling between blocks, as the model's blockN_pool
                x, block = self._pool(x, 2, 2, self._pool_padding), conv.block
            before_relu = conv.linear(x)
            x = tf.nn.relu(before_relu)
            if conv.name in wanted:
                features[conv.name] = before_relu if self.tap == "conv" else x
        return {name: features[name] for name in self.layer_names}  # the model's order

    @property
    def feeds_raw_unit_rgb(self) -> bool:
        """True when the input goes to VGG untouched (the TF2 notebook's quirk)."""
        return self.preprocessing == IDENTITY


class _FlippedConv:
    """One VGG conv layer as relu(bias_add(conv2d(x, kernel, "SAME"), bias)), the ops Keras's Conv2D runs, with
    the input gradient computed as a forward convolution (see the module docstring).

    For a stride-1 "SAME" convolution with an odd-sized kernel K (HWIO), d/dx of conv2d(x, K) applied to an
    upstream gradient g is conv2d(g, K'), K' = K rotated by 180° in space with its I and O axes swapped.
    Both kernels, and the bias, are tensors made once here, in `dtype` (the layer's variable dtype: float64
    for a float64 model; or bfloat16 copies of float32 variables, for mixed precision). block1_conv1 keeps
    TensorFlow's Conv2DBackpropInput (3 output channels in its gradient, where that op is the faster one)
    and so holds no backward kernel.
    """

    def __init__(self, layer: keras.layers.Conv2D, dtype: tf.DType | None = None) -> None:
        # The variables' values as tensors, read once: in their own dtype they share the variables' memory;
        # in another (bfloat16) they are a rounded copy (nst_tf.optim.memory counts it).
        dtype = dtype or tf.as_dtype(layer.variable_dtype)
        forward = tf.cast(tf.convert_to_tensor(layer.kernel.value), dtype)
        bias = tf.cast(tf.convert_to_tensor(layer.bias.value), dtype)
        if forward.shape[0] % 2 == 0 or forward.shape[1] % 2 == 0:
            raise ValueError(f"{layer.name}: the flipped-kernel gradient needs an odd kernel size, not {forward.shape}")
        self.name: str = layer.name
        self.block = int(layer.name[len("block")])
        backward = None
        if self.name != "block1_conv1":  # a new copy of the kernel: nst_tf.optim.memory counts it
            backward = tf.transpose(tf.reverse(forward, axis=[0, 1]), [0, 1, 3, 2])  # exact in any dtype
        self.kernel, self.backward_kernel, self.bias = forward, backward, bias

        @tf.custom_gradient
        def convolve(inputs: tf.Tensor):
            def gradient(upstream: tf.Tensor) -> tf.Tensor:
                if backward is None:
                    return tf.raw_ops.Conv2DBackpropInput(
                        input_sizes=tf.shape(inputs),
                        filter=forward,
                        out_backprop=upstream,
                        strides=[1, 1, 1, 1],
                        padding="SAME",
                    )
                return tf.nn.conv2d(upstream, backward, 1, "SAME")

            return tf.nn.conv2d(inputs, forward, 1, "SAME"), gradient

        self._convolve = convolve

    def linear(self, x: tf.Tensor) -> tf.Tensor:
        """The conv layer's output before its ReLU."""
        return tf.nn.bias_add(self._convolve(x), self.bias)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.nn.relu(self.linear(x))


def _build_vgg(weights: VGGWeights, outputs: list[str], pooling: str, pool_padding: str, tap: str) -> keras.Model:
    """Keras functional VGG (layer names as keras.applications), cut after the deepest output.

    With tap "conv" each conv layer has no activation of its own and is followed by a ReLU layer named
    `<conv>_relu`; the model outputs the conv's (pre-ReLU) values.
    """
    order = conv_layer_names(weights.architecture)
    deepest = max(order.index(name) for name in outputs)
    pool_layer = keras.layers.MaxPooling2D if pooling == "max" else keras.layers.AveragePooling2D
    inputs = keras.Input(shape=(None, None, 3), name="input")
    x = inputs
    taps: dict[str, keras.KerasTensor] = {}
    convs: list[keras.layers.Conv2D] = []
    for block, count in enumerate(VGG_BLOCKS[weights.architecture], 1):
        if block > 1:
            x = pool_layer(2, strides=2, padding=pool_padding, name=f"block{block - 1}_pool")(x)
        for c in range(1, count + 1):
            name = f"block{block}_conv{c}"
            activation = "relu" if tap == "relu" else None
            conv = keras.layers.Conv2D(
                weights.layers[name][0].shape[3], 3, padding="same", activation=activation, name=name
            )
            x = conv(x)
            if name in outputs:
                taps[name] = x
            if tap == "conv":
                x = keras.layers.ReLU(name=f"{name}_relu")(x)
            convs.append(conv)
            if len(convs) > deepest:  # nothing deeper is needed: stop building here
                break
        if len(convs) > deepest:
            break
    model = keras.Model(inputs, {name: taps[name] for name in outputs}, name=f"{weights.architecture}_features")
    for conv in convs:
        conv.set_weights(list(weights.layers[conv.name]))
    model.trainable = False
    return model


class BFloat16Extractor(FeatureExtractor):
    """VGG computed in bfloat16 on float32 variables; the feature maps are handed out as float32, so Grams
    and costs still accumulate in float32.

    With the fast gradient (the default) the `tf.nn` chain runs in bfloat16, its flipped-kernel gradient
    too (see the module's notes); `fast_gradient=False` builds the Keras model under Keras's
    "mixed_bfloat16" policy (float32 weights, bfloat16 maths) and runs it with TensorFlow's own gradients.
    """

    def __init__(
        self,
        weights: VGGWeights,
        layers: Iterable[str],
        pooling: str = "max",
        pool_padding: str = "valid",
        preprocessing: Preprocessing | None = None,
        fast_gradient: bool = True,
        tap: str = "relu",
    ) -> None:
        if fast_gradient:
            super().__init__(weights, layers, pooling, pool_padding, preprocessing, True, tap, "bfloat16")
            return
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_bfloat16")  # layers take the policy in force when built
        try:
            super().__init__(weights, layers, pooling, pool_padding, preprocessing, False, tap)
        finally:
            keras.config.set_dtype_policy(previous)

    def __call__(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {name: tf.cast(value, tf.float32) for name, value in super().__call__(images).items()}


def input_preprocessing(config: Config) -> Preprocessing | None:
    """The preprocessing a config asks for instead of the weights' own: None keeps the weights'."""
    return IDENTITY if config.input_preprocessing == "none" else None


def extractor_layers(config: Config) -> list[str]:
    """The layers a run of `config` needs: the content layer (when α > 0) and the style layers (β > 0)."""
    layers = [config.content_layer_key] if config.content_weight else []
    layers += list(config.style_layer_weights) if config.style_weight else []
    return layers or [config.content_layer_key]


def build_extractor(config: Config, weights: VGGWeights | None = None) -> FeatureExtractor:
    """The extractor a run of `config` needs, weights resolved if not given.

    A config whose precision is still "auto" is resolved here (nst_tf.perf.precision), for a library call
    on its own; a run resolves it once at its start and records the result, then builds with that.
    """
    if weights is None:
        weights = resolve_weights_for_config(config)
    layers = extractor_layers(config)
    preprocessing = input_preprocessing(config)
    if weights.architecture == "squeezenet1_1":  # the cs231n assignment's network (nst_tf.vgg.squeezenet)
        from nst_tf.vgg.squeezenet import SqueezeNetExtractor

        if config.precision == "bfloat16":
            raise ConfigError("SqueezeNet 1.1 weights run in float32 only (drop --precision)")
        return SqueezeNetExtractor(weights, layers, preprocessing)
    if config.precision == "auto":
        from nst_tf.perf.precision import resolve_config

        config, _ = resolve_config(config)
    kind = BFloat16Extractor if config.precision == "bfloat16" else FeatureExtractor
    return kind(weights, layers, config.pooling, config.pool_padding, preprocessing, tap=config.feature_tap)
