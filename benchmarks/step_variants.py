"""Step variants, timed side by side in one process: what makes the cost-and-gradient evaluation faster.

    python benchmarks/step_variants.py --image-size 256 --rounds 8

Every variant computes the same thing, d J / d picture of the default cost on the same pictures, and
the script checks that they agree. The rounds interleave the variants with a 2048² matmul probe, so a
drift in this shared machine's speed hits them all alike; medians are reported, with the fraction of the
probe's GFLOP/s that `nst_tf.bench.step_flops` of work per second represents.

- plain: the Keras extractor under a GradientTape (what `optimize.make_step` does).
- xla: the same, `tf.function(jit_compile=True)`.
- flip: the same VGG written with `tf.nn.conv2d` and a custom gradient per conv: the gradient with
  respect to the input is computed as a forward convolution of the output gradient with the kernel
  rotated by 180° and its channels swapped (precomputed once), which oneDNN runs at forward speed;
  TensorFlow's own Conv2DBackpropInput is markedly slower at the large early layers. conv1_1 (3 output
  channels in its gradient) keeps the native op, which is faster there.
- flip+gram: also a Gram with a custom gradient, dJ/dA = A·(dG + dGᵀ), one matmul instead of the two
  TensorFlow's matmul gradient spends on G = AᵀA.
- flip+gram+xla: both, compiled with XLA.

These are prototypes for measurement: landing "flip" means giving `nst_tf.features` such a forward path.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from nst_tf import costs, image_io, optimize  # noqa: E402
from nst_tf.bench import default_pictures, step_flops  # noqa: E402
from nst_tf.config import DEFAULT  # noqa: E402


def flipped_conv(kernel: np.ndarray, bias: np.ndarray, native_gradient: bool):
    """conv + bias + ReLU whose input gradient is a forward conv with the rotated, transposed kernel."""
    forward_kernel = tf.constant(kernel)
    backward_kernel = tf.constant(np.ascontiguousarray(np.transpose(kernel[::-1, ::-1], (0, 1, 3, 2))))
    bias = tf.constant(bias)

    @tf.custom_gradient
    def conv(inputs):
        def gradient(upstream):
            if native_gradient:
                return tf.raw_ops.Conv2DBackpropInput(
                    input_sizes=tf.shape(inputs),
                    filter=forward_kernel,
                    out_backprop=upstream,
                    strides=[1, 1, 1, 1],
                    padding="SAME",
                )
            return tf.nn.conv2d(upstream, backward_kernel, 1, "SAME")

        return tf.nn.conv2d(inputs, forward_kernel, 1, "SAME"), gradient

    return lambda inputs: tf.nn.relu(tf.nn.bias_add(conv(inputs), bias))


def flipped_features(extractor, config):
    """A function picture -> {layer: features} equal to `extractor`, with flipped-kernel gradients."""
    import keras

    convs = [layer for layer in extractor.model.layers if isinstance(layer, keras.layers.Conv2D)]
    chain = [(c.name, int(c.name[5]), flipped_conv(*c.get_weights(), c.name == "block1_conv1")) for c in convs]
    wanted = set(extractor.layer_names)
    padding = config.pool_padding.upper()
    pool = tf.nn.avg_pool2d if config.pooling == "avg" else tf.nn.max_pool2d

    def features(picture):
        x, block, out = extractor.preprocess(picture), 1, {}
        for name, layer_block, layer in chain:
            if layer_block != block:
                x, block = pool(x, 2, 2, padding), layer_block
            x = layer(x)
            if name in wanted:
                out[name] = x
        return out

    return features


@tf.custom_gradient
def symmetric_gram(unrolled):
    """G = AᵀA for A (n, C), with the gradient A·(dG + dGᵀ) as one matmul."""
    gram = tf.matmul(unrolled, unrolled, transpose_a=True)
    return gram, lambda upstream: tf.matmul(unrolled, upstream + tf.transpose(upstream))


def variant_costs(features_of, targets, config, picture, gram_fn):
    """The default cost from `features_of(picture)`, Grams by `gram_fn` ((n, C) -> (C, C))."""
    features = features_of(picture)
    j_content = costs.content_cost(targets.content, features[config.content_layer_key])
    j_style = tf.constant(0.0)
    for layer, weight in config.style_layer_weights.items():
        a = features[layer]
        n = tf.cast(tf.shape(a)[1] * tf.shape(a)[2], tf.float32)
        c = tf.cast(tf.shape(a)[3], tf.float32)
        gram = gram_fn(tf.reshape(a, [-1, tf.shape(a)[3]]))
        style_gram = targets.style_grams[layer] * (n / targets.style_positions[layer])
        j_style += weight * tf.reduce_sum(tf.square(style_gram - gram)) / (4.0 * tf.square(c * n))
    return config.content_weight * j_content + config.style_weight * j_style


def main(argv: list[str] | None = None) -> int:
    content_path, style_path = default_pictures()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--weights", default="hed-vgg16")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)

    config = DEFAULT.replace(image_size=args.image_size, weights=args.weights)
    extractor = optimize.build_extractor(config)
    content, (style,) = optimize.prepare_images(
        image_io.load_image(content_path), [image_io.load_image(style_path)], config
    )
    targets = optimize.compute_targets(extractor, content, [style], config)
    picture = tf.Variable(content)
    fast = flipped_features(extractor, config)
    plain_gram = lambda a: tf.matmul(a, a, transpose_a=True)  # noqa: E731

    def gradient_of(features_of, gram_fn):
        def gradient():
            with tf.GradientTape() as tape:
                total = variant_costs(features_of, targets, config, picture, gram_fn)
            return tape.gradient(total, picture)

        return gradient

    def keras_gradient():
        with tf.GradientTape() as tape:
            total = optimize.picture_costs(extractor, targets, config, picture)["total"]
        return tape.gradient(total, picture)

    probe_a = tf.random.uniform((2048, 2048))
    variants = {
        "plain": tf.function(keras_gradient),
        "xla": tf.function(keras_gradient, jit_compile=True),
        "flip": tf.function(gradient_of(fast, plain_gram)),
        "flip+gram": tf.function(gradient_of(fast, symmetric_gram)),
        "flip+gram+xla": tf.function(gradient_of(fast, symmetric_gram), jit_compile=True),
    }
    probe = tf.function(lambda: tf.matmul(probe_a, probe_a)[0, 0])
    reference = variants["plain"]().numpy()
    agreement: dict[str, float] = {}
    for name, fn in variants.items():
        value = fn().numpy()
        error = float(np.linalg.norm(value - reference) / np.linalg.norm(reference))
        agreement[name] = error
        assert error < 1e-2, f"{name} disagrees with plain by {error:.2g} (relative norm)"
        fn()
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    peaks: list[float] = []
    for _ in range(args.rounds):
        for name, fn in variants.items():
            began = time.perf_counter()
            fn().numpy()
            seconds[name].append(time.perf_counter() - began)
        began = time.perf_counter()
        probe().numpy()
        peaks.append(2 * 2048**3 / (time.perf_counter() - began) / 1e9)
    gflop = step_flops(config, content.shape[1], content.shape[2], extractor.weights.architecture)["total"] / 1e9
    peak = statistics.median(peaks)
    result = {
        "image": list(content.shape[1:3]),
        "gflop": gflop,
        "matmul_gflops": peak,
        "relative_difference_from_plain": agreement,
        "variants": {
            name: {
                "seconds": statistics.median(times),
                "fraction_of_peak": gflop / statistics.median(times) / peak,
                "all_seconds": times,
            }
            for name, times in seconds.items()
        },
    }
    print(f"{content.shape[2]}x{content.shape[1]}: {gflop:.1f} GFLOP, matmul probe {peak:.1f} GFLOP/s")
    print("  gradients vs plain (relative norm): " + ", ".join(f"{k} {v:.1e}" for k, v in agreement.items()))
    for name, figures in result["variants"].items():
        print(f"  {name:14s} {figures['seconds']:.3f} s  {100 * figures['fraction_of_peak']:.0f}% of peak")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
