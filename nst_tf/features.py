"""The VGG feature extractor: RGB in [0, 1] in, a dict of feature maps keyed by layer name out.

`FeatureExtractor` builds Keras's VGG layer stack (the same layer names as `keras.applications.VGG19`,
`include_top=False`), truncated after the deepest layer a run needs, as one multi-output Keras model, and
loads frozen weights into it. It owns the preprocessing the weights expect (scale, channel order,
means, per-channel std), so nothing outside it knows about BGR or ImageNet means. Pooling can be max
(Keras, the TF2 notebook) or average (Gatys et al., the TF1 notebook), with "valid" (Keras) or "same" (the
TF1 notebook's `tf.nn.avg_pool(..., padding='SAME')`) padding.
"""

from __future__ import annotations

from collections.abc import Iterable

import keras
import tensorflow as tf

from nst_tf.errors import ConfigError
from nst_tf.weights import IDENTITY, VGG_BLOCKS, Preprocessing, VGGWeights, conv_layer_names, select_layers


class FeatureExtractor:
    """Frozen VGG up to the deepest requested layer; `extractor(images)` -> {keras_layer_name: (1, h, w, C)}.

    Args:
        weights: loaded conv weights (see `nst_tf.weights.resolve_weights`).
        layers: layer names to return, paper or Keras spelling.
        pooling: "max" or "avg".
        pool_padding: "valid" (Keras VGG) or "same" (the TF1 course's VGG).
        preprocessing: override the weights' own preprocessing (the TF2 notebook feeds [0, 1] as is).
    """

    def __init__(
        self,
        weights: VGGWeights,
        layers: Iterable[str],
        pooling: str = "max",
        pool_padding: str = "valid",
        preprocessing: Preprocessing | None = None,
    ) -> None:
        self.layer_names: list[str] = select_layers(weights, layers)
        if pooling not in ("max", "avg"):
            raise ConfigError(f"unknown pooling {pooling!r}; choose max or avg")
        self.weights = weights
        self.pooling = pooling
        self.preprocessing = preprocessing or weights.preprocessing
        self.model = _build_vgg(weights, self.layer_names, pooling, pool_padding)
        p = self.preprocessing
        self._scale = tf.constant(p.scale, tf.float32)
        self._mean = tf.constant(p.mean, tf.float32)
        self._bgr = p.channel_order == "BGR"
        # Only torchvision's weights divide by a std; the others skip the op, so their numbers stay bit-exact.
        self._std = None if tuple(p.std) == (1.0, 1.0, 1.0) else tf.constant(p.std, tf.float32)

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
        return self.model(self.preprocess(images), training=False)

    @property
    def feeds_raw_unit_rgb(self) -> bool:
        """True when the input goes to VGG untouched (the TF2 notebook's quirk)."""
        return self.preprocessing == IDENTITY


def _build_vgg(weights: VGGWeights, outputs: list[str], pooling: str, pool_padding: str) -> keras.Model:
    """Keras functional VGG (layer names as keras.applications), cut after the deepest output."""
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
            conv = keras.layers.Conv2D(
                weights.layers[name][0].shape[3], 3, padding="same", activation="relu", name=name
            )
            x = conv(x)
            convs.append(conv)
            if name in outputs:
                taps[name] = x
            if len(convs) > deepest:  # nothing deeper is needed: stop building here
                break
        if len(convs) > deepest:
            break
    model = keras.Model(inputs, {name: taps[name] for name in outputs}, name=f"{weights.architecture}_features")
    for conv in convs:
        conv.set_weights(list(weights.layers[conv.name]))
    model.trainable = False
    return model
