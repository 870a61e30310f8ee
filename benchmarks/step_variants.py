"""Step variants, timed side by side in one process: the product's gradient against the one it replaced.

    python benchmarks/step_variants.py --image-size 256 --rounds 8

Every variant computes the same thing, d J / d picture of the default cost on the same pictures, and
the script checks that they agree. The rounds interleave the variants with a 2048² matmul probe, so a
drift in this shared machine's speed hits them all alike; medians are reported, with the fraction of the
probe's GFLOP/s that `nst_tf.perf.bench.step_flops` of work per second represents.

- keras: what the product did before the fast gradient: the Keras VGG model
  (`FeatureExtractor(..., fast_gradient=False)`) under a GradientTape, TensorFlow's own gradients for the
  convolutions (Conv2DBackpropInput) and for the Gram matrices (two matmuls for G = AᵀA).
- keras+xla: the same, `tf.function(jit_compile=True)`.
- product: `optim_targets.picture_costs` with the default extractor under a tape, as `adam.make_step`
  does: the VGG as `tf.nn` ops whose convolutions compute the input gradient as a forward convolution
  with the kernel rotated by 180° and its channels swapped (precomputed once; conv1_1 keeps the native
  op), and `costs.gram_matrix`'s one-matmul gradient A·(dG + dGᵀ). See `nst_tf.vgg.extractor`.
- product+xla: the same, compiled with XLA.
- keras-bfloat16: what `--precision bfloat16` did before: the Keras VGG model built under Keras's
  "mixed_bfloat16" policy (`BFloat16Extractor(..., fast_gradient=False)`), TensorFlow's own gradients.
- product-bfloat16: what `--precision bfloat16` (and "auto" where the probe picks it) does now: the product's
  fast path with bfloat16 convolutions and flipped-kernel gradients, Grams and costs in float32.
The bfloat16 variants agree with float32 to bfloat16's rounding (tests/vgg/test_mixed_precision.py derives the
bound), so they are checked against a looser tolerance, BFLOAT16_AGREEMENT. `--variants` picks a subset.
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

from nst_tf.io import images as image_io
from nst_tf.losses import costs
from nst_tf.optim import pictures  # noqa: E402
from nst_tf.optim import targets as optim_targets  # noqa: E402
from nst_tf.perf.bench import default_pictures, step_flops  # noqa: E402
from nst_tf.presets import DEFAULT  # noqa: E402
from nst_tf.vgg.extractor import BFloat16Extractor, FeatureExtractor, build_extractor  # noqa: E402

VARIANTS = ("keras", "keras+xla", "product", "product+xla", "keras-bfloat16", "product-bfloat16")
# bfloat16's gradients against float32's: the worst-case bound of tests/vgg/test_mixed_precision.py at conv5_1 is
# about 0.36 (measured there 0.015); a wrong gradient (a kernel not flipped, a term dropped) is off by ~1.
BFLOAT16_AGREEMENT = 0.36

# The pair benchmarks/README.md's figures were measured on; the package's samples when ../shared is absent.
SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "images"


def plain_gram(features: tf.Tensor) -> tf.Tensor:
    """G = AᵀA under TensorFlow's own matmul gradient (what `costs.gram_matrix` was before)."""
    unrolled = tf.reshape(features, [-1, tf.shape(features)[-1]])
    return tf.matmul(unrolled, unrolled, transpose_a=True)


def keras_costs(extractor, targets, config, picture) -> tf.Tensor:
    """`optim_targets.picture_costs(...)["total"]` as it was computed before: the same terms, Grams by `plain_gram`."""
    features = extractor(picture)
    total = tf.zeros([], picture.dtype)
    if config.content_weight:
        total += config.content_weight * costs.content_cost(targets.content, features[config.content_layer_key])
    if config.style_weight and targets.style_grams:
        j_style = tf.zeros([], picture.dtype)
        for layer, weight in config.style_layer_weights.items():
            a = features[layer]
            n = tf.cast(tf.shape(a)[1] * tf.shape(a)[2], a.dtype)
            c = tf.cast(tf.shape(a)[3], a.dtype)
            style_gram = targets.style_grams[layer] * (n / targets.style_positions[layer])
            j_style += weight * tf.reduce_sum(tf.square(style_gram - plain_gram(a))) / (4.0 * tf.square(c * n))
        total += config.style_weight * j_style
    if config.tv_weight:
        total += config.tv_weight * costs.total_variation_cost(picture)
    return total


def bench_pictures() -> tuple[Path, Path]:
    """(content, style): tubingen + starry night from ../shared/images, else `nst_tf bench`'s defaults."""
    content, style = SHARED / "tubingen.jpg", SHARED / "starry_night.jpg"
    return (content, style) if content.is_file() and style.is_file() else default_pictures()


def main(argv: list[str] | None = None) -> int:
    content_path, style_path = bench_pictures()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--weights", default="hed-vgg16")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    args = parser.parse_args(argv)

    # keras_costs writes the course's cost forms out by hand, so every variant computes those (the default
    # preset's relative forms differ only by constant factors per term: the same work, the same speed).
    config = DEFAULT.replace(
        image_size=args.image_size,
        weights=args.weights,
        precision="float32",
        content_cost_form="course",
        style_cost_form="course",
    )
    product = build_extractor(config)  # the default extractor: fast gradient
    keras_extractor = FeatureExtractor(
        product.weights,
        product.layer_names,
        config.pooling,
        config.pool_padding,
        product.preprocessing,
        fast_gradient=False,
    )
    assert product.fast_gradient and not keras_extractor.fast_gradient
    content, (style,) = pictures.prepare_images(
        image_io.load_image(content_path), [image_io.load_image(style_path)], config
    )
    targets = optim_targets.compute_targets(product, content, [style], config)
    picture = tf.Variable(content)

    def keras_gradient():
        with tf.GradientTape() as tape:
            total = keras_costs(keras_extractor, targets, config, picture)
        return tape.gradient(total, picture)

    def product_gradient():
        with tf.GradientTape() as tape:
            total = optim_targets.picture_costs(product, targets, config, picture)["total"]
        return tape.gradient(total, picture)

    layout = (product.weights, product.layer_names, config.pooling, config.pool_padding, product.preprocessing)
    bfloat16_product = BFloat16Extractor(*layout)
    bfloat16_keras = BFloat16Extractor(*layout, fast_gradient=False)

    def bfloat16_gradient(extractor):
        def gradient():
            with tf.GradientTape() as tape:
                total = optim_targets.picture_costs(extractor, targets, config, picture)["total"]
            return tape.gradient(total, picture)

        return gradient

    probe_a = tf.random.uniform((2048, 2048))
    every = {
        "keras": tf.function(keras_gradient),
        "keras+xla": tf.function(keras_gradient, jit_compile=True),
        "product": tf.function(product_gradient),
        "product+xla": tf.function(product_gradient, jit_compile=True),
        "keras-bfloat16": tf.function(bfloat16_gradient(bfloat16_keras)),
        "product-bfloat16": tf.function(bfloat16_gradient(bfloat16_product)),
    }
    variants = {name: every[name] for name in VARIANTS if name in args.variants}
    probe = tf.function(lambda: tf.matmul(probe_a, probe_a)[0, 0])
    reference = every["keras"]().numpy()
    agreement: dict[str, float] = {}
    for name, fn in variants.items():
        value = fn().numpy()
        error = float(np.linalg.norm(value - reference) / np.linalg.norm(reference))
        agreement[name] = error
        tolerance = BFLOAT16_AGREEMENT if "bfloat16" in name else 1e-2
        assert error < tolerance, f"{name} disagrees with keras by {error:.2g} (relative norm)"
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
    gflop = step_flops(config, content.shape[1], content.shape[2], product.weights.architecture)["total"] / 1e9
    peak = statistics.median(peaks)
    result = {
        "image": list(content.shape[1:3]),
        "gflop": gflop,
        "matmul_gflops": peak,
        "relative_difference_from_keras": agreement,
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
    print("  gradients vs keras (relative norm): " + ", ".join(f"{k} {v:.1e}" for k, v in agreement.items()))
    for name, figures in result["variants"].items():
        print(f"  {name:14s} {figures['seconds']:.3f} s  {100 * figures['fraction_of_peak']:.0f}% of peak")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
