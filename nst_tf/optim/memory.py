"""A run's peak memory, estimated before it starts, and a refusal instead of an out-of-memory kill.

`estimate_peak_bytes` adds up what a run holds at its busiest moment, the step's backward pass: the
runtime (TensorFlow, Keras, Python), the VGG weights (and the backward kernels of the extractor's fast
gradient), every feature map up to the deepest layer the costs need (held more than once: the forward
maps kept for the backward pass, the gradients flowing back and the convolution's temporaries), and the
optimizer's own arrays (Adam: the picture, its gradient and two moments; L-BFGS: SciPy's float64 history
and work arrays). `check_memory` compares that with the memory this machine has free (/proc/meminfo's
MemAvailable, a cgroup limit when one is set) and raises ConfigError with a size that would fit. No
TensorFlow import: the estimate is arithmetic on shapes.

The constants were calibrated against measured peak RSS on CPU (see benchmarks/README.md).
"""

from __future__ import annotations

import math

from nst_tf.config import Config, keras_layer_name
from nst_tf.errors import ConfigError
from nst_tf.perf.tiling import available_bytes  # what the machine has free (shared with the tiling planner)

# What the process holds besides the feature maps: Python, TensorFlow, Keras, oneDNN, the pictures and
# the allocator's slack. Fitted together with the copies below to peak RSS measured at 256-1024 px with
# `nst_tf bench` (benchmarks/README.md): the estimate lands 5-13 % above each measurement.
RUNTIME_BYTES = 800 * 2**20
# Feature maps are held about this many times over at the peak of a step (the forward maps kept for the
# backward pass, the gradient flowing back, the convolution's temporaries). The extractor's tf.nn path
# (nst_tf.vgg.extractor) holds fewer than Keras's own layers and gradients did (measured: 2270 against 3715 MB
# at 1024x768 with Adam); a bfloat16 run takes the same path, its maps in 2 bytes a value.
ACTIVATION_COPIES = 1.75
# Weights are held twice: the loaded arrays and the Keras model's variables.
WEIGHT_COPIES = 2
# The extractor's fast gradient (nst_tf.vgg.extractor) holds one more copy of every conv kernel it runs after
# block1_conv1: the kernel rotated by 180° with its channels swapped, for the input gradient as a forward
# convolution (49 MB in float32 for VGG19 up to conv5_1; its forward kernels share the Keras variables'
# memory). A bfloat16 run holds both kernels as bfloat16 copies instead (2 bytes a value, the forward one
# too, since it no longer shares the float32 variables' memory). (Measured at 256 px, the fast path's peak RSS
# was no higher than the Keras path's, so this errs on the safe side.)
BACKWARD_KERNEL_COPIES = 1
# SciPy L-BFGS-B: 2·m history vectors and 5 work vectors in its workspace, plus x, g, bounds and the copies
# SciPy and nst_tf.optim.lbfgs keep, all float64: about 40 vectors measured (256-1024 px), and SciPy itself.
LBFGS_VECTORS = 40
LBFGS_FIXED_BYTES = 64 * 2**20
# Adam: variable, gradient, m, v, plus the snapshot copies; float32.
ADAM_VECTORS = 6
# Refuse when the estimate is above this share of the available memory: the estimate is not exact.
HEADROOM = 0.9

_BLOCK_CHANNELS = (64, 128, 256, 512, 512)
_BLOCK_CONVS = {"vgg19": (2, 2, 4, 4, 4), "vgg16": (2, 2, 3, 3, 3)}


def conv_layers(config: Config, height: int, width: int, architecture: str = "vgg19") -> list[dict]:
    """The conv layers a step of `config` runs, in order: name, output height/width, C_in, C_out.

    The network stops at the deepest layer the costs need (the extractor is cut there); every conv
    keeps its input's size ("same" padding) and each 2x2 pooling halves it (rounding down for "valid"
    pooling, up for "same").
    """
    needed = _needed_layers(config)
    layers: list[dict] = []
    h, w, c_in = height, width, 3
    for block, (convs, channels) in enumerate(zip(_BLOCK_CONVS[architecture], _BLOCK_CHANNELS, strict=True), 1):
        if block > 1:
            h, w = (_half_up(h), _half_up(w)) if config.pool_padding == "same" else (h // 2, w // 2)
        for c in range(1, convs + 1):
            name = f"block{block}_conv{c}"
            layers.append({"name": name, "height": h, "width": w, "c_in": c_in, "c_out": channels})
            c_in = channels
            needed.discard(name)
            if not needed:
                return layers
    return layers


def estimate_peak_bytes(config: Config, height: int, width: int, architecture: str = "vgg19") -> int:
    """Peak resident memory of a `height` x `width` run of `config`, in bytes (CPU).

    Args:
        config: the run's settings (layers, pooling, optimizer and precision matter).
        height, width: the generated picture's size in px.
        architecture: "vgg19" or "vgg16" (the weights' network).

    Returns:
        runtime + weights (with the backward kernels) + feature maps x ACTIVATION_COPIES (in bfloat16: 2
        bytes a value, plus the float32 copies of the maps the costs read) + the optimizer's arrays.
        "auto" precision is counted as float32, the larger of the two.
    """
    layers = conv_layers(config, height, width, architecture)
    bfloat16 = config.precision == "bfloat16"
    value_bytes = 2 if bfloat16 else 4
    activations = sum(layer["height"] * layer["width"] * layer["c_out"] for layer in layers)
    # Each pooling output (a quarter of its input) and the preprocessed picture are held too.
    activations += sum(layer["height"] * layer["width"] * layer["c_in"] for layer in layers if layer["name"][-1] == "1")
    weights = _weight_count(architecture) * 4 * WEIGHT_COPIES
    flipped = sum(9 * layer["c_in"] * layer["c_out"] for layer in layers if layer["name"] != "block1_conv1")
    weights += BACKWARD_KERNEL_COPIES * flipped * value_bytes
    map_bytes = ACTIVATION_COPIES * activations * value_bytes
    if bfloat16:  # the forward kernels' bfloat16 copies; the tapped maps cast to float32, and their gradients
        weights += sum(9 * layer["c_in"] * layer["c_out"] for layer in layers) * 2
        tapped = _needed_layers(config)
        tapped_values = sum(x["height"] * x["width"] * x["c_out"] for x in layers if x["name"] in tapped)
        map_bytes += 2 * 4 * tapped_values
    pixels = height * width * 3
    if config.optimizer == "lbfgs":
        optimizer_bytes = LBFGS_FIXED_BYTES + LBFGS_VECTORS * pixels * 8
    else:
        optimizer_bytes = ADAM_VECTORS * pixels * 4
    return int(RUNTIME_BYTES + weights + map_bytes + optimizer_bytes)


def check_memory(
    config: Config, height: int, width: int, architecture: str = "vgg19", available: int | None = None
) -> int:
    """Refuse a run that would not fit in memory, before anything is allocated.

    Args:
        config, height, width, architecture: as `estimate_peak_bytes`.
        available: bytes free (default: `available_bytes()`; no check when that is unknown).

    Returns:
        The estimate, in bytes.

    Raises:
        ConfigError: the estimate is above HEADROOM x the available memory; the message suggests an
            --image-size that would fit.
    """
    if architecture not in _BLOCK_CONVS:  # the estimate models VGG only (SqueezeNet 1.1 is far smaller)
        return 0
    needed = estimate_peak_bytes(config, height, width, architecture)
    available = available_bytes() if available is None else available
    if available is None or needed <= HEADROOM * available:
        return needed
    fitting = _largest_fitting_side(config, height, width, architecture, HEADROOM * available)
    advice = (
        f"try --image-size {fitting} or fewer, or --scales to work coarse to fine"
        if fitting
        else "not even a tiny picture fits: free some memory"
    )
    raise ConfigError(
        f"a {width}x{height} picture needs about {_gib(needed)} of memory and {_gib(available)} is free; {advice}"
    )


def _largest_fitting_side(config: Config, height: int, width: int, architecture: str, budget: float) -> int | None:
    """The largest longest side (px, same aspect) whose estimate is within `budget`; None below 16 px."""
    longest = max(height, width)

    def fits(side: int) -> bool:
        h, w = max(1, round(height * side / longest)), max(1, round(width * side / longest))
        return estimate_peak_bytes(config, h, w, architecture) <= budget

    low, high = 16, longest
    if not fits(low):
        return None
    while high - low > 1:  # memory grows with the side squared: bisect
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def _needed_layers(config: Config) -> set[str]:
    layers = {config.content_layer_key} if config.content_weight else set()
    if config.style_weight:
        layers |= {keras_layer_name(name) for name, _ in config.style_layers}
    return layers or {config.content_layer_key}


def _weight_count(architecture: str) -> int:
    """Conv kernel and bias values of the whole network (the loaded weights hold every layer)."""
    count, c_in = 0, 3
    for convs, channels in zip(_BLOCK_CONVS[architecture], _BLOCK_CHANNELS, strict=True):
        for _ in range(convs):
            count += 9 * c_in * channels + channels
            c_in = channels
    return count


def _half_up(n: int) -> int:
    return math.ceil(n / 2)


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"
