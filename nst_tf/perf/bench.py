"""Benchmark: how close one optimisation step comes to this machine's matrix-multiply peak.

In one process it measures the float32 matmul peak (GFLOP/s, median of timed `tf.matmul`s of square
matrices, warm-up excluded), counts one step's FLOPs analytically (`step_flops`), times the real step
(`optimize.stylize`, median seconds per iteration after warm-up) and reports the achieved GFLOP/s, the
fraction of the peak, the peak resident memory and the memory estimate of `nst_tf.optim.memory`.

What is counted (multiply and add count as two FLOPs), per cost evaluation:
- forward: every conv layer up to the deepest one the costs need, 2·H·W·K²·C_in·C_out (K = 3);
- backward: the same again per conv layer, for the gradient with respect to its input (the data
  gradient); the weights are frozen, so no weight gradient is computed or counted;
- Gram matrices: 2·n·C² for G = AᵀA (n = H·W positions) and 2·n·C² for its gradient A·(dG + dGᵀ) per
  style layer (one matmul in `nst_tf.losses.costs.gram_matrix`; TensorFlow's own matmul gradient would spend
  another 2·n·C² on the symmetric twin).
Not counted: bias, ReLU, pooling and their gradients, the content difference, the optimizer update (all
linear in the feature-map size), and the targets (computed once per run, not per step).

An Adam iteration is one evaluation; an L-BFGS iteration is as many as its line search took, so its
FLOPs per iteration are the mean evaluations per timed iteration times the above. The achieved rate is
one evaluation's FLOPs over the median seconds per evaluation (each timed iteration's seconds divided by
its own evaluations), so iterations of one and of two evaluations are not mixed up; for Adam it is simply
`gflop_per_iteration / seconds_per_iteration`.

The peak is measured in the precision the step runs in (nst_tf.perf.precision resolves "auto" first): a
bfloat16 run is held against the bfloat16 matmul peak, which on a CPU with AMX is about 4x float32's. Next
to the matmul peak, a 3x3 convolution of CONV_PEAK_SHAPE (VGG's conv3 at 256 px) in the same precision gives
the convolution peak, the limit nearer to what the step runs ("fraction_of_conv_peak").

The machine is shared and its speed drifts, so the peaks are measured next to the steps: after the warm-up
steps, three probes at each of MATMUL_SIZES pick the fastest size, then every timed step is followed by
one probe at that size and one convolution probe, and each peak is the median of those. The peak resident
memory is read after the warm-up (which has reached the run's peak) and before the first probe, so the
probes' matrices do not count.
"""

from __future__ import annotations

import functools
import logging
import resource
import statistics
import sys
import time
from pathlib import Path

from nst_tf.config import Config
from nst_tf.errors import ConfigError
from nst_tf.io import package_data, provenance

log = logging.getLogger(__name__)

MATMUL_SIZES = (2048, 3072, 4096)
# (height, width, C_in, C_out) of the convolution-peak probe: VGG's block3 convs at 256 px (4.8 GFLOP).
CONV_PEAK_SHAPE = (64, 64, 256, 256)


def default_pictures() -> tuple[Path, Path]:
    """(content, style) when none are given: the package's sample pictures chelsea.png and ihc.png (the
    main command's pair), so a bench measures the same pictures wherever nst_tf is installed."""
    return package_data.sample_picture("chelsea.png"), package_data.sample_picture("ihc.png")


def step_flops(config: Config, height: int, width: int, architecture: str = "vgg19") -> dict[str, int]:
    """FLOPs of one cost-and-gradient evaluation on a `height` x `width` picture (see the module notes).

    Returns:
        {"conv_forward", "conv_backward", "gram", "total"} in FLOP.
    """
    from nst_tf.optim.memory import conv_layers

    layers = conv_layers(config, height, width, architecture)
    forward = sum(2 * layer["height"] * layer["width"] * 9 * layer["c_in"] * layer["c_out"] for layer in layers)
    gram = 0
    if config.style_weight:
        styled = {name for name, weight in config.style_layer_weights.items() if weight}
        for layer in layers:
            if layer["name"] in styled:
                gram += 2 * 2 * layer["height"] * layer["width"] * layer["c_out"] ** 2
    return {"conv_forward": forward, "conv_backward": forward, "gram": gram, "total": 2 * forward + gram}


class MatmulProbe:
    """Times one size x size matmul in `dtype` on `device`; the matrices are made (and the op traced) once."""

    def __init__(self, size: int, device: str, dtype: str = "float32") -> None:
        import tensorflow as tf

        self.size = size
        self.device = device
        with tf.device(device):
            self.a = tf.cast(tf.random.uniform((size, size)), dtype)
            self.b = tf.cast(tf.random.uniform((size, size)), dtype)
        self.product = _matmul_function()
        self.gflops()  # warm-up: tracing and first-touch allocations

    def gflops(self) -> float:
        import tensorflow as tf

        with tf.device(self.device):
            began = time.perf_counter()
            self.product(self.a, self.b).numpy()
            return 2 * self.size**3 / (time.perf_counter() - began) / 1e9


class ConvProbe:
    """Times one 3x3 "SAME" convolution of CONV_PEAK_SHAPE in `dtype` on `device` (made and traced once)."""

    def __init__(self, device: str, dtype: str = "float32", shape: tuple[int, int, int, int] | None = None) -> None:
        import tensorflow as tf

        height, width, c_in, c_out = shape or CONV_PEAK_SHAPE
        self.flop = 2 * height * width * 9 * c_in * c_out
        self.device = device
        with tf.device(device):
            self.x = tf.cast(tf.random.uniform((1, height, width, c_in)), dtype)
            self.kernel = tf.cast(tf.random.uniform((3, 3, c_in, c_out), -0.1, 0.1), dtype)
        self.convolve = _conv_function()
        self.gflops()  # warm-up

    def gflops(self) -> float:
        import tensorflow as tf

        with tf.device(self.device):
            began = time.perf_counter()
            self.convolve(self.x, self.kernel).numpy()
            return self.flop / (time.perf_counter() - began) / 1e9


def matmul_gflops(size: int, repeats: int, device: str, dtype: str = "float32") -> list[float]:
    """GFLOP/s of `repeats` timed size x size matmuls in `dtype` on `device` (after one untimed warm-up)."""
    probe = MatmulProbe(size, device, dtype)
    return [probe.gflops() for _ in range(repeats)]


@functools.cache
def _matmul_function():
    """One compiled matmul for all probes (traced once per size and dtype, not once per call)."""
    import tensorflow as tf

    @tf.function
    def product(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        return tf.matmul(a, b)[0, 0]  # one element back: forces completion without copying the result

    return product


@functools.cache
def _conv_function():
    """One compiled convolution for all probes."""
    import tensorflow as tf

    @tf.function
    def convolve(x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
        return tf.nn.conv2d(x, kernel, 1, "SAME")[0, 0, 0, 0]

    return convolve


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, MB (ru_maxrss is in KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def device_name(device: str) -> str:
    """A readable name of the device the bench ran on."""
    import tensorflow as tf

    if device.startswith("/GPU"):
        gpus = tf.config.list_physical_devices("GPU")
        details = tf.config.experimental.get_device_details(gpus[0]) if gpus else {}
        return f"GPU {details.get('device_name', 'unknown')}"
    return f"CPU {provenance.cpu_model()} ({provenance.usable_cpus()} cores)"


def run_bench(
    config: Config,
    content_path: str | Path,
    style_path: str | Path,
    iterations: int,
    warmup: int = 2,
    matmul_sizes: tuple[int, ...] | None = None,
) -> dict:
    """Time `iterations` steps of `config` (after `warmup`), measure the matmul peak, return the figures.

    Args:
        config: the run's settings (its image_size is the bench size; scales are ignored: one size).
        content_path, style_path: the pictures.
        iterations: timed steps (at least 1).
        warmup: untimed steps first, at least 1 (tracing, compilation, first-touch allocations).
        matmul_sizes: square sizes to probe the peak with (default MATMUL_SIZES); the best one is kept.

    Returns:
        A JSON-ready dict (see `nst_tf.cli.bench`).
    """
    from nst_tf.io import images as image_io
    from nst_tf.optim import engine as optimize
    from nst_tf.optim.pictures import prepare_images
    from nst_tf.perf.precision import resolve_config
    from nst_tf.vgg.extractor import build_extractor

    check_counts(iterations, warmup)
    config, decision = resolve_config(config)  # "auto" decided once, before anything is built
    config = config.replace(iterations=warmup + iterations, snapshot_every=0, scales=1)
    content = image_io.load_image(content_path)
    style = image_io.load_image(style_path)
    extractor = build_extractor(config)
    device = optimize.resolve_device(config.device)
    sized, _ = prepare_images(content, [], config)
    height, width = int(sized.shape[1]), int(sized.shape[2])
    steps = optimize.stylize(content, style, config, extractor=extractor)
    try:
        timing = _time_steps(steps, warmup, iterations, device, matmul_sizes or MATMUL_SIZES, config.precision)
    finally:
        steps.close()
    result = _figures(config, height, width, extractor, timing, warmup, iterations)
    result["precision_decision"] = decision.to_dict()
    result["pictures"] = {"content": str(content_path), "style": str(style_path)}
    result["device"] = device_name(device)
    return result


def _time_steps(
    steps, warmup: int, iterations: int, device: str, matmul_sizes: tuple[int, ...], dtype: str = "float32"
) -> dict:
    """Warm-up steps, the peak memory, the matmul probes, then each timed step next to a matmul and a conv
    probe, all in the step's precision `dtype`."""
    times: list[float] = []
    warmup_seconds: list[float] = []  # the first includes tracing (and XLA compilation)
    evaluations: list[int] = []
    for _ in range(warmup):
        began = time.perf_counter()
        step = next(steps)
        warmup_seconds.append(time.perf_counter() - began)
        evaluations.append(step.evaluations or step.iteration + 1)
    # The warm-up steps have reached the run's peak memory; read it before the probes allocate theirs.
    rss = peak_rss_mb()
    by_size = {size: matmul_gflops(size, 3, device, dtype) for size in matmul_sizes}
    best = max(by_size, key=lambda size: statistics.median(by_size[size]))
    probe = MatmulProbe(best, device, dtype)
    conv_probe = ConvProbe(device, dtype)
    rates: list[float] = []
    conv_rates: list[float] = []
    for _ in range(iterations):  # each step next to a probe: a drift in speed hits both alike
        began = time.perf_counter()
        step = next(steps)
        times.append(time.perf_counter() - began)
        evaluations.append(step.evaluations or step.iteration + 1)
        rates.append(probe.gflops())
        conv_rates.append(conv_probe.gflops())
    return {"times": times, "warmup_seconds": warmup_seconds, "evaluations": evaluations, "rss": rss,
            "by_size": by_size, "best": best, "rates": rates, "conv_rates": conv_rates, "dtype": dtype}  # fmt: skip


def _figures(config: Config, height: int, width: int, extractor, timing: dict, warmup: int, iterations: int) -> dict:
    """The JSON-ready figures from the timings (see the module notes for what is counted)."""
    import tensorflow as tf

    from nst_tf.optim import memory

    architecture = extractor.weights.architecture
    flops = step_flops(config, height, width, architecture)
    times, evaluations, rates = timing["times"], timing["evaluations"], timing["rates"]
    peak = statistics.median(rates)
    seconds = statistics.median(times)
    # Evaluations per timed iteration: the count after the timed steps minus the count before them.
    per_iteration = (evaluations[-1] - evaluations[warmup - 1]) / iterations
    counts = [b - a for a, b in zip(evaluations[warmup - 1 : -1], evaluations[warmup:], strict=True)]
    per_evaluation = statistics.median(t / max(n, 1) for t, n in zip(times, counts, strict=True))
    achieved = flops["total"] / 1e9 / per_evaluation
    conv_peak = statistics.median(timing["conv_rates"])
    return {
        "seconds_per_iteration": seconds,
        "gflop_per_iteration": flops["total"] * per_iteration / 1e9,
        "achieved_gflops": achieved,
        "matmul_peak_gflops": peak,
        "fraction_of_peak": achieved / peak,
        "peak_precision": timing["dtype"],
        "conv_peak_gflops": conv_peak,
        "fraction_of_conv_peak": achieved / conv_peak,
        "peak_rss_mb": timing["rss"],
        "estimated_peak_mb": memory.estimate_peak_bytes(config, height, width, architecture) / 2**20,
        "image": {"height": height, "width": width},
        "iterations": iterations,
        "warmup": warmup,
        "evaluations_per_iteration": per_iteration,
        "seconds_per_evaluation": per_evaluation,
        "gflop_per_evaluation": {name: value / 1e9 for name, value in flops.items()},
        "iteration_seconds": times,
        "warmup_seconds": timing["warmup_seconds"],
        "matmul_gflops_by_size": {str(size): values for size, values in timing["by_size"].items()},
        "matmul_size": timing["best"],
        "matmul_gflops_next_to_steps": rates,
        "conv_peak_shape": list(CONV_PEAK_SHAPE),
        "conv_gflops_next_to_steps": timing["conv_rates"],
        "config": {
            "preset": config.preset,
            "optimizer": config.optimizer,
            "jit_compile": config.jit_compile,
            "precision": config.precision,
            "weights": extractor.weights.source,
            "architecture": architecture,
            "layers": extractor.layer_names,
        },
        "versions": provenance.library_versions(),
        "threads": {
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        },
    }


def check_json_place(path: Path) -> None:
    """--json FILE may be written: absent, or a bench report nst_tf wrote (the ownership rule,
    `nst_tf.io.ownership`: a file of the user's at that path is never replaced). Nothing is created.

    Raises:
        ConfigError: the file there is not a bench report.
    """
    from nst_tf.io.ownership import OwnedFiles, recognise_json

    ours = recognise_json(("seconds_per_iteration", "gflop_per_iteration", "matmul_peak_gflops", "config"))
    OwnedFiles.plan(Path(path).parent, [Path(path).name], True, "--json", recognise=ours)


def check_counts(iterations: int, warmup: int) -> None:
    """Refuse counts that measure nothing."""
    if iterations < 1 or warmup < 1:
        raise ConfigError("bench needs --iterations >= 1 and --warmup >= 1")


def summary_line(result: dict) -> str:
    """The one line `bench` prints."""
    image, config = result["image"], result["config"]
    xla = "on" if config["jit_compile"] else "off"
    return (
        f"bench {image['width']}x{image['height']} {config['optimizer']} {config['precision']} xla {xla}: "
        f"{result['seconds_per_iteration']:.3f} s/it, {result['gflop_per_iteration']:.1f} GFLOP/it, "
        f"{result['achieved_gflops']:.1f} GFLOP/s = {100 * result['fraction_of_peak']:.0f}% of the "
        f"{result['matmul_peak_gflops']:.1f} GFLOP/s {result['peak_precision']} matmul peak, "
        f"{100 * result['fraction_of_conv_peak']:.0f}% of the {result['conv_peak_gflops']:.1f} GFLOP/s conv peak; "
        f"peak RSS {result['peak_rss_mb']:.0f} MB "
        f"(estimate {result['estimated_peak_mb']:.0f} MB); {result['device']}"
    )
