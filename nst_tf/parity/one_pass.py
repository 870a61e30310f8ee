"""TensorFlow against the PyTorch twin for the one-pass families: a trained network, universal AdaIN and WCT.

The same weights (copied out of the Keras objects), the same input, one forward pass each, and the same
arithmetic: the twin computes every convolution as TensorFlow does on a CPU (oneDNN, channels-last;
`nst_tf.twin.ops`), Johnson's network the way `apply` computes it (`JohnsonForward`'s kernels), instance norm
with the product's statistics, WCT's and AdaIN's statistics and eigendecompositions in float64. What is left
is where the two frameworks' own routines differ: the order of an instance norm's row sums, the sigmoid's last
bit, float64 eigendecompositions (LAPACK against LAPACK) and the float32 matmul applying a WCT map. So the
pictures must agree to IMAGE_TOLERANCE, max|tf − torch| ≤ 1e-5, flat.

That rests on the two frameworks' convolutions giving the same bits, which `same_convolutions` checks on the
machine at hand (one probe convolution each way). Where they do not (another oneDNN, TensorFlow on a GPU),
float32's own rounding, which Johnson's first 9×9 convolution alone amplifies to 2e-5 in the picture, differs
on each side; then the twin also runs in float64 and the bound is max(IMAGE_TOLERANCE, ENVELOPE_FACTOR ·
max|torch32 − torch64|): by the triangle inequality two float32 roundings of one exact result are at most the
sum of their distances from it. The report says which rule judged it, and why.

- a network (`compare_network`): TensorFlow runs what `apply` runs (`nst_tf.feedforward.apply.Stylizer`,
  float32: Johnson's network through the fast `JohnsonForward`), the twin is `nst_tf.twin.johnson_torch` or
  `nst_tf.twin.texture_torch`; a texture network is handed the very noise TensorFlow drew
  (`TextureNet.noise_for`), since the two frameworks' random generators differ;
- universal (`compare_universal`): TensorFlow runs `nst_tf.universal.stylize.Universal.stylize` on the
  shipped decoders in float32, the twin `nst_tf.twin.universal_torch.UniversalTorch` (VGG16 encoder
  `TorchVGG`, the decoders, AdaIN/WCT with the statistics and eigendecompositions in float64).

`plan(...)` checks every input and the report folder before any work (ConfigError: nothing written),
`run(plan)` measures, `write_report(plan.out, result)` writes report.json, report.md, tf.png, torch.png,
diff.png and parity.png (the histogram of the pixel differences) under the ownership rule
(`nst_tf.parity.report.plan_report`). `nst_tf.cli.compare` is the command (`--network`, `--universal`).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nst_tf.errors import ConfigError
from nst_tf.io import images as image_io
from nst_tf.io.ownership import OwnedFiles
from nst_tf.parity.compare import _amplification, _versions
from nst_tf.parity.report import plan_report
from nst_tf.parity.stepwise import ENVELOPE_FACTOR  # the triangle inequality's, where the convolutions differ

# Pictures in [0, 1], the units report.json uses. Measured on an Intel Xeon (Sapphire Rapids) with the same
# convolutions on both sides, full size (451 × 300 and 600 × 400): the shipped networks ≤ 1.5e-6 (row sums),
# a random texture network ≤ 4e-6 (row sums; 1.8e-7 with float64 row sums on both sides), AdaIN 0, WCT
# ≤ 2.4e-7; at 32–48 px WCT ≤ 8e-6 (eigendecompositions of near-singular covariances). 1e-5 is the issue's
# float32 bound, ~170 ulp at 1; a real difference moves a picture by more: a norm or a statistic off by 0.1 %
# moves it by 2e-4 or more (tests/parity/test_one_pass.py).
IMAGE_TOLERANCE = 1e-5


@dataclass
class OnePassPlan:
    """Everything checked: what to compare, the sized pictures, the report's planned folder."""

    kind: str  # "network" or "universal"
    name: str  # the network's name or folder, or "adain" / "wct"
    pictures: list[np.ndarray]  # network: [photo]; universal: [content, style]
    sources: list[str]
    out: OwnedFiles
    folder: Path | None = None  # the network's model folder


@dataclass
class OnePassResult:
    """What `run` measured: the report and both pictures, (1, H, W, 3) in [0, 1]."""

    report: dict
    tf_image: np.ndarray
    twin_image: np.ndarray
    image_diff: np.ndarray  # |tf − torch|, float64


def plan(
    network: str | None,
    universal: str | None,
    pictures: list[str],
    image_size: int | None,
    output: str | None,
    overwrite: bool,
) -> OnePassPlan:
    """Check a one-pass comparison's inputs and report folder; nothing is created.

    Args:
        network: a shipped network's name or a model folder (`python -m nst_tf models`), or None.
        universal: "adain" or "wct", or None (exactly one of network/universal).
        pictures: network: [PHOTO]; universal: [CONTENT, STYLE].
        image_size: the longest side the content/photo (and style) is read at; None: the photo's own size, the
            style at the `universal` command's default style size.
        output: the report folder (None: output/compare_NAME_PHOTO[_STYLE]).
        overwrite: replace an earlier report there.

    Raises:
        ConfigError: an unknown network or method, a wrong number of pictures, a picture that cannot be read,
            or a folder that cannot be used (see `plan_report`).
    """
    from nst_tf.universal.settings import STYLE_SIZE
    from nst_tf.universal.stream import load_content

    if (network is None) == (universal is None):
        raise ConfigError("give one of --network NAME and --universal adain|wct")
    wanted = 1 if network is not None else 2
    if len(pictures) != wanted:
        flag, what = ("--network", "PHOTO") if network is not None else ("--universal", "CONTENT STYLE")
        raise ConfigError(f"compare {flag} takes {what}, not {len(pictures)} pictures")
    if universal is not None and universal not in ("adain", "wct"):
        raise ConfigError(f"--universal {universal}: choose adain or wct")
    if image_size is not None and image_size < 8:
        raise ConfigError(f"--image-size {image_size}: at least 8 px")
    folder = None
    if network is not None:
        from nst_tf.feedforward.model_io import find_model, read_meta

        folder = find_model(network)
        read_meta(folder)
    loaded = [load_content(pictures[0], image_size)]
    if universal is not None:
        loaded.append(load_content(pictures[1], image_size or STYLE_SIZE))
    name = Path(network).name if network is not None else universal
    stems = "_".join(Path(p).stem for p in pictures)
    out = plan_report(Path(output) if output else Path("output") / f"compare_{name}_{stems}", overwrite)
    kind = "network" if network is not None else "universal"
    return OnePassPlan(kind, str(network or universal), loaded, list(pictures), out, folder)


def run(plan: OnePassPlan) -> OnePassResult:
    """The comparison `plan` describes (see the module)."""
    if plan.kind == "network":
        from nst_tf.feedforward.model_io import load_model

        model, meta = load_model(plan.folder)
        result = compare_network(model, plan.pictures[0])
        result.report.update(network=plan.name, architecture=meta["architecture"])
    else:
        result = compare_universal(plan.name, *plan.pictures)
    result.report["inputs"] = plan.sources
    return result


def compare_network(model, photo: np.ndarray) -> OnePassResult:
    """A trained JohnsonNet or TextureNet (float32) and its PyTorch twin on one (1, H, W, 3) photo."""
    import tensorflow as tf

    from nst_tf.feedforward.apply import Stylizer
    from nst_tf.feedforward.networks import JohnsonNet, TextureNet, _pad_to_multiple, named_weights

    if min(photo.shape[1:3]) < model.min_size:
        raise ConfigError(f"the photo must be at least {model.min_size} px on each side for this network")
    if isinstance(model, JohnsonNet):
        from nst_tf.twin.johnson_torch import JohnsonNetTorch, stylize_numpy

        stylizer = Stylizer(model, precision="float32")  # what `apply` runs
        stylizer.warm_up()  # traced before the clock starts, as `apply` does
        started = time.perf_counter()
        tf_image = stylizer(photo)
        tf_seconds = time.perf_counter() - started
        twin = JohnsonNetTorch(model.width, model.residual_blocks)
        twin.load_keras_weights(named_weights(model))
        began = time.perf_counter()
        twin_image = stylize_numpy(twin, photo)
        twin_seconds = time.perf_counter() - began
        reference = _float64_run(twin, photo)
    elif isinstance(model, TextureNet):
        from nst_tf.twin import texture_torch

        noise = model.noise_for(_pad_to_multiple(tf.convert_to_tensor(photo), model.stride)[0])
        started = time.perf_counter()
        tf_image = model(photo, noise=noise).numpy()  # the Keras call `apply` runs, with this draw of noise
        tf_seconds = time.perf_counter() - started
        twin = texture_torch.TextureNetTorch(model.scales, model.width, model.photo, model.noise_channels)
        twin.load_keras_weights(named_weights(model))
        began = time.perf_counter()
        twin_image = texture_torch.stylize_numpy(twin, photo, [np.asarray(n) for n in noise])
        twin_seconds = time.perf_counter() - began
        reference = _float64_run(twin, photo, [np.asarray(n) for n in noise])
    else:
        raise ConfigError(f"no PyTorch twin for a {type(model).__name__}")
    texture = isinstance(model, TextureNet)
    notes = ["a texture network draws noise: the twin is given TensorFlow's draw"] if texture else []
    return _result("network", tf_image, twin_image, reference, {"tf": tf_seconds, "torch": twin_seconds}, notes)


def _float64_run(twin: torch.nn.Module, photo: np.ndarray, noise: list[np.ndarray] | None = None) -> np.ndarray:
    """The twin network, copied to float64, on the same input: the rounding reference (`_result`)."""

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(array, np.float64).copy())

    with torch.no_grad():
        twin64 = copy.deepcopy(twin).double()
        out = twin64(tensor(photo)) if noise is None else twin64(tensor(photo), [tensor(n) for n in noise])
    return out.numpy()


def compare_universal(
    method: str, content: np.ndarray, style: np.ndarray, weights=None, decoders: dict | None = None
) -> OnePassResult:
    """Universal AdaIN or WCT in TensorFlow (the shipped decoders unless `decoders` {level: Keras model} are
    given; ImageNet VGG16 unless `weights`) and in the twin, built from those very Keras objects."""
    from nst_tf.twin.torch_vgg import TorchVGG
    from nst_tf.twin.universal_torch import ENCODER_LAYERS, DecoderTorch, UniversalTorch
    from nst_tf.universal.decoders import load_decoders
    from nst_tf.universal.networks import FEATURE_SCALE
    from nst_tf.universal.stylize import Universal
    from nst_tf.vgg.weights import resolve_weights

    weights = weights or resolve_weights("imagenet-vgg16")
    model = Universal(weights, decoders or load_decoders(method), method, precision="float32")
    model.warm_up()  # the graphs traced before the clock starts, as `universal` does
    started = time.perf_counter()
    tf_image = model.stylize(content, [style])
    tf_seconds = time.perf_counter() - started
    encoder = model.encoders[max(model.levels)]
    keras_layers = {name: (np.asarray(kernel), np.asarray(bias)) for name, kernel, bias in encoder._convs}
    twin_weights = dataclasses.replace(weights, layers={**weights.layers, **keras_layers})
    layers = [ENCODER_LAYERS[level] for level in model.levels]
    twins = {}
    for dtype in (torch.float32, torch.float64):
        encoder = TorchVGG(twin_weights, layers, "max", "valid", dtype=dtype, channels_last=True)
        decoders = {level: DecoderTorch(decoder_steps(d), FEATURE_SCALE[level]).to(dtype)
                    for level, d in model.decoders.items()}  # fmt: skip
        twins[dtype] = UniversalTorch(encoder, decoders, method, dtype)
    began = time.perf_counter()
    twin_image = twins[torch.float32].stylize(content, style)
    seconds = {"tf": tf_seconds, "torch": time.perf_counter() - began}
    reference = twins[torch.float64].stylize(content, style)
    result = _result("universal", tf_image, twin_image, reference, seconds, [])
    decoder_names = ",".join(d.name for d in model.decoders.values())
    result.report.update(method=method, levels=model.levels, decoders=decoder_names, weights=weights.summary())
    return result


def decoder_steps(decoder) -> list:
    """A Keras decoder's convolutions (HWIO kernel, bias as NumPy) and upsamplings, in order: the twin's recipe."""
    import keras

    steps = []
    for layer in decoder.layers:
        if isinstance(layer, keras.layers.Conv2D):
            steps.append(("conv", np.asarray(layer.kernel.value), np.asarray(layer.bias.value)))
        elif isinstance(layer, keras.layers.UpSampling2D):
            steps.append(("up", None, None))
    return steps


def _result(kind: str, tf_image, twin_image, reference, seconds: dict, notes: list[str]) -> OnePassResult:
    """The report: the pictures' distance judged against IMAGE_TOLERANCE where both frameworks' convolutions give
    the same bits, else against max(IMAGE_TOLERANCE, ENVELOPE_FACTOR · the twin's own float32-vs-float64
    distance); see the module."""
    tf_image, twin_image = np.asarray(tf_image, np.float32), np.asarray(twin_image, np.float32)
    image_diff = np.abs(tf_image.astype(np.float64) - twin_image.astype(np.float64))
    diff = float(image_diff.max())
    rounding = float(np.abs(twin_image.astype(np.float64) - np.asarray(reference, np.float64)).max())
    same = same_convolutions()
    tolerance = IMAGE_TOLERANCE if same else max(IMAGE_TOLERANCE, ENVELOPE_FACTOR * rounding)
    if not same:
        notes = [*notes, "TensorFlow's and PyTorch's float32 convolutions give different bits on this machine "
                 f"(same_convolutions), so each side rounds on its own: float32's rounding moves this picture by "
                 f"{rounding:.3g} (the twin against its float64 run), and the bound is {ENVELOPE_FACTOR:g}× that "
                 f"or {IMAGE_TOLERANCE:g}, whichever is larger"]  # fmt: skip
    ok = diff <= tolerance
    report = {
        "kind": kind,
        "dtype": "float32",
        "image_size": list(tf_image.shape[1:3]),
        "within_tolerance": ok,
        "failed": [] if ok else ["pictures"],
        "verdict": "the backends agree" if ok else "DISAGREE: pictures failed",
        "image_max_abs_diff": diff,
        "image_mean_abs_diff": float(image_diff.mean()),
        "rounding_max_abs_diff": rounding,
        "tolerances": {"image_max_abs_diff": tolerance},
        "tolerance_rule": "flat" if same else "rounding envelope",
        "same_convolutions": same,
        "diff_amplification": _amplification(diff),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "versions": _versions(),
        "notes": notes,
    }
    return OnePassResult(report, tf_image, twin_image, image_diff)


@functools.cache
def same_convolutions() -> bool:
    """Whether TensorFlow's float32 convolution and the twin's (`nst_tf.twin.ops.conv`) give the same bits on this
    machine: a fixed random 3×3 convolution with a bias, 48 channels to 64 on 12 × 10 px, each way (once a
    process). TensorFlow on a GPU, or another oneDNN choosing another kernel, gives False."""
    import tensorflow as tf

    from nst_tf.twin.ops import conv

    rng = np.random.default_rng(0)
    x, kernel = rng.random((1, 12, 10, 48), np.float32), rng.standard_normal((3, 3, 48, 64)).astype(np.float32)
    bias = rng.standard_normal(64).astype(np.float32)
    ours = tf.nn.bias_add(tf.nn.conv2d(x, kernel, 1, "VALID"), bias).numpy()
    oihw = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
    theirs = conv(torch.from_numpy(x), oihw, torch.from_numpy(bias)).numpy()
    return bool(np.array_equal(ours, theirs))


def markdown(report: dict) -> str:
    """report.md of a one-pass comparison."""
    what = f"network {report['network']}" if report["kind"] == "network" else f"universal {report['method']}"
    height, width = report["image_size"]
    lines = [
        f"# TensorFlow vs PyTorch parity: {what} ({report['dtype']})",
        "",
        f"**{report['verdict']}.**",
        "",
        f"One forward pass each on a {width}x{height} picture ({', '.join(report['inputs'])}), the same weights "
        "copied from the Keras model. TF {tf} s, PyTorch {torch} s (the pass alone).".format(**report["seconds"]),
        "",
        "| judged figure | value | tolerance | ok |",
        "|---|---|---|---|",
        f"| image_max_abs_diff | {report['image_max_abs_diff']:.3g} | "
        f"{report['tolerances']['image_max_abs_diff']:.3g} | {'yes' if report['within_tolerance'] else '**no**'} |",
        "",
        f"Mean |tf − torch| {report['image_mean_abs_diff']:.3g}; float32's own rounding (the twin against its float64 "
        f"run) {report['rounding_max_abs_diff']:.3g}. diff.png shows |tf − torch| × "
        f"{report['diff_amplification']:g} (clipped); parity.png the histogram of the differences.",
        "",
        "Pixel values in [0, 1]. "
        + (
            f"Bound: the flat {IMAGE_TOLERANCE:g}. TensorFlow's and PyTorch's convolutions give the same bits on this "
            "machine and the twin computes as TensorFlow does, so only an instance norm's row sums, the sigmoid's "
            "last bit, LAPACK's float64 eigendecompositions and a WCT map's float32 matmul may differ."
            if report["tolerance_rule"] == "flat"
            else "Bound: the rounding envelope (below)."
        ),
    ]
    if report["kind"] == "universal":
        lines.append(f"Decoders {report['decoders']} (levels {report['levels']}), encoder ImageNet VGG16.")
    lines += [f"- {note}" for note in report["notes"]]
    return "\n".join(lines) + "\n"


def write_report(out: OwnedFiles, result: OnePassResult) -> None:
    """report.json, report.md, tf.png, torch.png, diff.png and parity.png, each atomically, into the planned folder."""
    report = result.report
    pictures = {
        "tf.png": result.tf_image,
        "torch.png": result.twin_image,
        "diff.png": np.clip(result.image_diff * report["diff_amplification"], 0.0, 1.0),
    }
    for name, picture in pictures.items():
        out.write(name, lambda tmp, p=picture: image_io.save_image(p.astype(np.float32), tmp))
    out.write("parity.png", lambda tmp: _histogram(result.image_diff, report, tmp))
    out.write("report.md", lambda tmp: Path(tmp).write_text(markdown(report)))
    out.write("report.json", lambda tmp: Path(tmp).write_text(json.dumps(report, indent=2) + "\n"))


def _histogram(image_diff: np.ndarray, report: dict, path: str | os.PathLike) -> None:
    """parity.png: how many pixel values differ by how much (log scale), against the tolerance."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots()
    floor = 1e-9  # exact agreement is drawn in the first bin
    edges = np.logspace(np.log10(floor), 0, 46)
    axes.hist(np.clip(image_diff.ravel(), floor, 1.0), bins=edges, color="C0")
    tolerance = report["tolerances"]["image_max_abs_diff"]
    axes.axvline(tolerance, color="C3", linestyle=":", label=f"tolerance {tolerance:.3g}")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("|tf − torch| per pixel value")
    axes.set_ylabel("count")
    axes.set_title(f"TensorFlow vs PyTorch, one pass: {report['verdict']}")
    axes.legend(fontsize="small")
    fig.savefig(path, dpi=100)
