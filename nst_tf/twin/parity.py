"""TF-vs-PyTorch parity: run both backends from one start and write a report of how far they disagree.

`compare(content, styles, config, out_dir)` resolves the weights once, sizes the pictures and draws the
starting picture once (`nst_tf.optim.engine`), then measures, on that very start, the feature maps of every
layer the run uses and the gradient of the total cost in TensorFlow (`FeatureExtractor` + `nst_tf.losses.costs`)
and in the PyTorch twin (`nst_tf.twin.torch_vgg`), runs both optimisations for `config.iterations` steps
and writes into `out_dir`: report.json, report.md, parity.png (both cost curves and their relative
difference), tf.png, torch.png and diff.png (|tf − torch|, amplified by a power of ten written in the
report). `command_compare(args)` is the command-line entry; `add_compare_options` adds its own flags.

In float32 the TF side is the product itself (`nst_tf.optim.engine.stylize`). With `float64=True` both
sides run in double precision, to separate algorithmic disagreement from rounding; the product's step is
float32-only in one place: its variable. So the TF float64 run here builds a float64 variable and Adam and
then uses the product's own `make_step`, on the product's Keras VGG built with a float64 dtype policy.

Relative errors are max|tf − torch| / max|tf| over a whole tensor (features, gradient), and
|tf − torch| / |tf| per cost value.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import platform
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nst_tf.config import INIT_MODES, Config
from nst_tf.errors import ConfigError
from nst_tf.io import images as image_io
from nst_tf.vgg.weights import IDENTITY, VGGWeights, resolve_weights

if TYPE_CHECKING:
    from nst_tf.vgg.extractor import FeatureExtractor

log = logging.getLogger(__name__)

# What "the backends agree" means, per precision. float32: the issue's acceptance figures (the gradient
# and the picture get more room: oneDNN and ATen sum in different orders, and Adam turns a gradient's
# rounding into a sign for pixels whose gradient is near zero). float64: rounding is ~1e-16, so anything
# above 1e-10 would be a real difference in the algorithm.
TOLERANCES = {
    "float32": {
        "feature_max_rel_err": 1e-5,
        "grad_max_rel_err": 1e-4,
        "cost_max_rel_err": 1e-5,
        "image_max_abs_diff": 1e-4,
    },
    "float64": {
        "feature_max_rel_err": 1e-10,
        "grad_max_rel_err": 1e-10,
        "cost_max_rel_err": 1e-10,
        "image_max_abs_diff": 1e-10,
    },
}
REPORT_FILES = ("report.json", "report.md", "parity.png", "tf.png", "torch.png", "diff.png")
_COST_TERMS = ("total", "content", "style", "tv")


# --- the library function -------------------------------------------------------------------------------


def compare(
    content: np.ndarray,
    styles: np.ndarray | Sequence[np.ndarray],
    config: Config,
    out_dir: str | os.PathLike,
    float64: bool = False,
    *,
    weights: VGGWeights | None = None,
    style_blend: Sequence[float] | None = None,
) -> dict:
    """Run TensorFlow and the PyTorch twin from one start; write the parity report into `out_dir`.

    Args:
        content: the content picture, (1, H, W, 3) RGB in [0, 1] (resized per `config`).
        styles: one style picture or a list of them.
        config: the run's settings, with optimizer "adam" (compare checks Adam's update step by step;
            L-BFGS's line search would turn float rounding into different accepted points). A noisy init
            without a seed gets seed 0, so both backends draw the same noise (recorded in the notes).
        out_dir: folder for the report files (created; files of an earlier report are replaced).
        float64: run both backends in double precision.
        weights: the VGG weights (else resolved from `config.weights`); both backends use this object.
        style_blend: weights of several styles.

    Returns:
        The report (what report.json holds).
    """
    torch_twin = _import_torch_twin()
    from nst_tf.optim import engine as optimize

    config = config.validated()
    if config.optimizer != "adam":
        raise ConfigError("compare runs Adam on both backends; pass a config with optimizer='adam'")
    notes: list[str] = []
    if config.seed is None and config.init in INIT_MODES and config.init != "content":
        config = config.replace(seed=0)
        notes.append("init draws noise and no seed was given: seed 0 used, so both backends start alike")
    if optimize.resolve_device(config.device) != "/CPU:0" or torch_twin.resolve_device(config.device).type != "cpu":
        notes.append("a GPU was used: TF32 matrix units, if enabled, limit float32 agreement")
    style_list = [styles] if isinstance(styles, np.ndarray) and styles.ndim == 4 else list(styles)
    if weights is None:
        weights = _resolve_weights(config)
    sized_content, sized_styles = optimize.prepare_images(content, style_list, config)

    # 1. Features and the first gradient, on the very same starting picture.
    tf_extractor = build_tf_extractor(config, weights, float64)
    start = measure_start(sized_content, sized_styles, config, weights, float64, style_blend, tf_extractor)
    # 2. Both optimisations, step by step.
    if float64:
        tf_run = _tf_float64_stylize(sized_content, sized_styles, config, tf_extractor, style_blend)
    else:  # the product itself
        tf_run = optimize.stylize(content, style_list, config, extractor=tf_extractor, style_blend=style_blend,
                                  snapshot_every=0)  # fmt: skip
    tf_steps = list(tf_run)
    torch_dtype = _torch().float64 if float64 else _torch().float32
    twin_run = torch_twin.stylize(
        content, style_list, config, weights=weights, style_blend=style_blend, snapshot_every=0, dtype=torch_dtype
    )
    twin_steps = list(twin_run)

    tf_image, twin_image = tf_steps[-1].image, twin_steps[-1].image
    assert tf_image is not None and twin_image is not None  # the last Step always carries the picture
    image_diff = np.abs(tf_image.astype(np.float64) - twin_image.astype(np.float64))
    report = _report(config, weights, float64, start, tf_steps, twin_steps, image_diff, notes)
    _write_outputs(Path(out_dir), report, tf_image, twin_image, image_diff, report["diff_amplification"])
    return report


def _report(config: Config, weights: VGGWeights, float64: bool, start: dict, tf_steps, twin_steps, image_diff, notes):
    """The report dict: headline figures first, then the detail they come from."""
    cost_errors = _cost_errors(tf_steps, twin_steps)
    precision = "float64" if float64 else "float32"
    report = {
        "dtype": precision,
        "iterations": len(tf_steps),
        "image_size": list(start["start"].shape[1:3]),
        "feature_max_rel_err": max(start["feature_rel_err"].values()),
        "grad_max_rel_err": start["grad_max_rel_err"],
        "cost_max_rel_err": max((e for e in cost_errors.values() if e is not None), default=0.0),
        "image_max_abs_diff": float(image_diff.max()),
        "image_mean_abs_diff": float(image_diff.mean()),
        "diff_amplification": _amplification(float(image_diff.max())),
        "tolerances": TOLERANCES[precision],
        "within_tolerance": None,
        "feature_rel_err": start["feature_rel_err"],
        "cost_rel_err": cost_errors,
        "seconds": {"tf": round(tf_steps[-1].seconds, 3), "torch": round(twin_steps[-1].seconds, 3)},
        "costs": {"tf": _cost_rows(tf_steps), "torch": _cost_rows(twin_steps)},
        "config": config.to_dict(),
        "weights": weights.summary(),
        "versions": _versions(),
        "notes": notes,
    }
    report["within_tolerance"] = all(report[k] <= v for k, v in TOLERANCES[precision].items())
    return report


def measure_start(
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    config: Config,
    weights: VGGWeights,
    float64: bool = False,
    style_blend: Sequence[float] | None = None,
    tf_extractor: FeatureExtractor | None = None,
) -> dict:
    """Features and the first gradient of both backends on the run's starting picture.

    Args:
        content, styles: pictures already sized (`nst_tf.optim.engine.prepare_images`).
        config, weights, style_blend: as for `compare`; the start is `initial_image` with `config.seed`.
        float64: measure in double precision.
        tf_extractor: a ready TF extractor of the right dtype (else built).

    Returns:
        {"start": the picture, "feature_rel_err": {layer: max|tf − torch| / max|tf|}, "grad_max_rel_err",
        "tf_gradient", "torch_gradient"} (gradients of J_total w.r.t. the optimised variable).
    """
    import tensorflow as tf

    from nst_tf.optim import engine as optimize

    torch_twin = _import_torch_twin()
    torch = _torch()
    tf_dtype, torch_dtype = (tf.float64, torch.float64) if float64 else (tf.float32, torch.float32)
    start = optimize.initial_image(content, config, np.random.default_rng(config.seed))
    tf_extractor = tf_extractor or build_tf_extractor(config, weights, float64)
    twin_extractor = torch_twin.build_extractor(config, weights, torch_dtype)
    tf_targets = optimize.compute_targets(tf_extractor, content, styles, config, style_blend)
    twin_targets = torch_twin.compute_targets(twin_extractor, content, styles, config, style_blend)
    tf_features = tf_extractor(tf.constant(start, tf_dtype))
    with torch.no_grad():
        twin_features = twin_extractor(torch.tensor(start, dtype=torch_dtype))
    feature_errors = {
        name: _max_rel_err(tf_features[name].numpy(), twin_features[name].numpy()) for name in tf_features
    }
    tf_gradient = _tf_gradient(tf_extractor, tf_targets, config, start, tf_dtype)
    twin_gradient = _twin_gradient(torch_twin, twin_extractor, twin_targets, config, start, torch_dtype)
    return {
        "start": start,
        "feature_rel_err": feature_errors,
        "grad_max_rel_err": _max_rel_err(tf_gradient, twin_gradient),
        "tf_gradient": tf_gradient,
        "torch_gradient": twin_gradient,
    }


# --- the TensorFlow side -------------------------------------------------------------------------------


@contextlib.contextmanager
def keras_float64() -> Iterator[None]:
    """Build Keras layers and variables in float64 for the block; the global settings are restored after."""
    import keras

    floatx, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")  # once set, the policy (not floatx) decides a layer's dtype
    try:
        yield
    finally:
        keras.config.set_dtype_policy(policy)
        keras.config.set_floatx(floatx)


def build_tf_extractor(config: Config, weights: VGGWeights, float64: bool = False) -> FeatureExtractor:
    """The product's extractor (`nst_tf.optim.engine.build_extractor`); in float64, the same Keras VGG built with a
    float64 dtype policy and a float64 preprocessing."""
    import tensorflow as tf

    from nst_tf.optim import engine as optimize
    from nst_tf.vgg.extractor import FeatureExtractor

    if not float64:
        return optimize.build_extractor(config, weights)

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

    layers = [config.content_layer_key, *config.style_layer_weights]  # as optimize.build_extractor
    preprocessing = IDENTITY if config.input_preprocessing == "none" else None
    with keras_float64():
        extractor = Float64Extractor(weights, layers, config.pooling, config.pool_padding, preprocessing)
    dtypes = {v.dtype for v in extractor.model.weights}
    if dtypes != {"float64"}:
        raise RuntimeError(f"the float64 Keras VGG holds {sorted(dtypes)} weights")
    return extractor


def _tf_gradient(extractor, targets, config: Config, start: np.ndarray, dtype) -> np.ndarray:
    """dJ/d(image variable) at the start, the variable in pixel_scale units as in the product's step."""
    import tensorflow as tf

    from nst_tf.optim import engine as optimize

    image = tf.Variable(start * config.pixel_scale, dtype=dtype)
    with tf.GradientTape() as tape:
        values = optimize.picture_costs(extractor, targets, config, image / float(config.pixel_scale))
    return tape.gradient(values["total"], image).numpy()


def _tf_float64_stylize(content, styles, config: Config, extractor, style_blend) -> Iterator:
    """`nst_tf.optim.engine.stylize` in float64 (pictures already sized): the same targets, start, Adam and clip."""
    import time

    import tensorflow as tf

    from nst_tf.optim import engine as optimize

    if config.seed is not None:
        tf.random.set_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    targets = optimize.compute_targets(extractor, content, styles, config, style_blend)
    start = optimize.initial_image(content, config, rng)
    scale = float(config.pixel_scale)
    image = tf.Variable(start * config.pixel_scale, dtype=tf.float64, name="generated_image")
    with keras_float64():  # so Adam's learning-rate variable is float64 too, as the twin's
        optimizer = optimize.make_optimizer(config)
        step = optimize.make_step(extractor, targets, config, image, optimizer)  # the product's step, in float64

    began = time.perf_counter()
    for i in range(config.iterations):
        values = step()
        picture = np.clip(image.numpy() / scale, 0.0, 1.0) if i == config.iterations - 1 else None
        yield optimize.Step(i, {k: float(values[k]) for k in optimize.COST_NAMES}, time.perf_counter() - began, picture)


# --- the PyTorch side ----------------------------------------------------------------------------------


def _import_torch_twin():
    try:
        from nst_tf.twin import torch_vgg as torch_twin
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        raise ConfigError("compare needs PyTorch: pip install torch==2.13.0 (the CPU build)") from None
    return torch_twin


def _torch():
    import torch

    return torch


def _twin_gradient(torch_twin, extractor, targets, config: Config, start: np.ndarray, dtype) -> np.ndarray:
    torch = _torch()
    image = torch.tensor(start * config.pixel_scale, dtype=dtype, requires_grad=True)
    values = torch_twin.picture_costs(extractor, targets, config, image / float(config.pixel_scale))
    values["total"].backward()
    return image.grad.numpy()


# --- measures -------------------------------------------------------------------------------------------


def _max_rel_err(reference: np.ndarray, other: np.ndarray) -> float:
    """max|reference − other| / max|reference| (0 when both are all zero)."""
    reference, other = np.asarray(reference, np.float64), np.asarray(other, np.float64)
    scale = float(np.abs(reference).max())
    diff = float(np.abs(reference - other).max())
    if scale == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / scale


def _cost_errors(tf_steps, twin_steps) -> dict[str, float | None]:
    """{term: max over iterations of |tf − torch| / |tf|}; None for a term exactly zero in both throughout.

    A value exactly zero in both backends is skipped (J_content on a content start, J_tv when γ = 0).
    """
    errors: dict[str, float | None] = {}
    for term in _COST_TERMS:
        worst = None
        for a, b in zip(tf_steps, twin_steps, strict=True):
            x, y = a.costs[term], b.costs[term]
            if x == 0.0 and y == 0.0:
                continue
            err = abs(x - y) / abs(x) if x != 0.0 else math.inf
            worst = err if worst is None else max(worst, err)
        errors[term] = worst
    return errors


def _amplification(max_diff: float) -> float:
    """A power of ten that lifts the largest difference into (0.1, 1]: diff.png = clip(|tf − torch|·factor)."""
    if max_diff <= 0.0 or not math.isfinite(max_diff):
        return 1.0
    return float(10.0 ** math.floor(-math.log10(max_diff)))


def _cost_rows(steps) -> list[dict[str, float]]:
    return [{"iteration": s.iteration, **{k: s.costs[k] for k in _COST_TERMS}} for s in steps]


def _versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "torch": _torch().__version__,
        "numpy": np.__version__,
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "(unset)"),
    }


# --- outputs --------------------------------------------------------------------------------------------


def _write_outputs(out_dir: Path, report: dict, tf_image, twin_image, image_diff, amplification: float) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    image_io.save_image(tf_image.astype(np.float32), out_dir / "tf.png")
    image_io.save_image(twin_image.astype(np.float32), out_dir / "torch.png")
    image_io.save_image(np.clip(image_diff * amplification, 0.0, 1.0).astype(np.float32), out_dir / "diff.png")
    plot_parity(report, out_dir / "parity.png")
    _write_text(out_dir / "report.md", report_markdown(report))
    _write_text(out_dir / "report.json", json.dumps(_json_safe(report), indent=2) + "\n")


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _json_safe(value):
    """inf/nan are not JSON: write them as strings."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.3g}"


def report_markdown(report: dict) -> str:
    """report.md: the headline figures against their tolerances, per-layer errors, per-iteration costs."""
    lines = [
        f"# TensorFlow vs PyTorch parity ({report['dtype']})",
        "",
        f"{report['iterations']} Adam steps on a {report['image_size'][1]}x{report['image_size'][0]} picture, "
        f"weights {report['weights']['source']} ({report['weights']['architecture']}), "
        f"pooling {report['config']['pooling']}/{report['config']['pool_padding']}. "
        f"TF {report['seconds']['tf']} s, PyTorch {report['seconds']['torch']} s.",
        "",
        "| measure | value | tolerance | ok |",
        "|---|---|---|---|",
    ]
    for key, tolerance in report["tolerances"].items():
        ok = "yes" if report[key] <= tolerance else "**no**"
        lines.append(f"| {key} | {report[key]:.3g} | {tolerance:g} | {ok} |")
    lines += [
        f"| image_mean_abs_diff | {report['image_mean_abs_diff']:.3g} | | |",
        "",
        f"diff.png shows |tf − torch| × {report['diff_amplification']:g} (pixels in [0, 1], clipped).",
        "Relative errors: max|tf − torch| / max|tf| over a tensor; |tf − torch| / |tf| per cost value.",
        "",
        "| layer | feature rel. err |",
        "|---|---|",
        *(f"| {name} | {err:.3g} |" for name, err in report["feature_rel_err"].items()),
        "",
        "| cost term | max rel. err over iterations |",
        "|---|---|",
        *(f"| {term} | {_fmt(err)} |" for term, err in report["cost_rel_err"].items()),
        "",
        "| iteration | J tf | J torch | J_content tf | J_content torch | J_style tf | J_style torch "
        "| J_tv tf | J_tv torch |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rows = list(zip(report["costs"]["tf"], report["costs"]["torch"], strict=True))
    if len(rows) > 60:  # a long run: every k-th step and the last
        k = math.ceil(len(rows) / 50)
        rows = rows[::k] + ([rows[-1]] if (len(rows) - 1) % k else [])
    for a, b in rows:
        cells = " | ".join(f"{a[t]:.9g} | {b[t]:.9g}" for t in _COST_TERMS)
        lines.append(f"| {a['iteration']} | {cells} |")
    if report["notes"]:
        lines += ["", *(f"- {note}" for note in report["notes"])]
    return "\n".join(lines) + "\n"


def plot_parity(report: dict, path: str | os.PathLike) -> None:
    """parity.png: both backends' total, content and style costs (log scale), their relative difference below.

    Uses a bare Agg canvas, not pyplot, so no global matplotlib backend is chosen for the caller.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ModuleNotFoundError:
        raise ConfigError("compare needs matplotlib for parity.png: pip install matplotlib") from None

    fig = Figure(figsize=(8, 7), layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    tf_rows, twin_rows = report["costs"]["tf"], report["costs"]["torch"]
    iterations = np.array([row["iteration"] for row in tf_rows])
    any_rel = False
    for term, colour in (("total", "C0"), ("content", "C1"), ("style", "C2")):
        a = np.array([row[term] for row in tf_rows], np.float64)
        b = np.array([row[term] for row in twin_rows], np.float64)
        top.plot(iterations, np.where(a > 0, a, np.nan), "-", color=colour, label=f"J_{term} TensorFlow")
        top.plot(iterations, np.where(b > 0, b, np.nan), "--", color=colour, marker=".", label=f"J_{term} PyTorch")
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.abs(a - b) / np.abs(a)
        rel = np.where(np.isfinite(rel) & (rel > 0), rel, np.nan)
        any_rel |= bool(np.isfinite(rel).any())
        bottom.plot(iterations, rel, "-", color=colour, marker=".", label=f"J_{term}")
    top.set_yscale("log")
    top.set_ylabel("cost")
    top.set_title(f"TensorFlow vs PyTorch ({report['dtype']})")
    top.legend(fontsize="small", ncols=2)
    tolerance = report["tolerances"]["cost_max_rel_err"]
    bottom.axhline(tolerance, color="grey", linestyle=":", label=f"tolerance {tolerance:g}")
    if any_rel:
        bottom.set_yscale("log")
    bottom.set_ylabel("|tf − torch| / |tf|")
    bottom.set_xlabel("iteration")
    bottom.legend(fontsize="small")
    fig.savefig(path, dpi=100)


# --- the command line ----------------------------------------------------------------------------------


def add_compare_options(parser: argparse.ArgumentParser) -> None:
    """The flags `compare` adds to the `run` options: --output and --float64."""
    parser.add_argument("--output", help="report folder (default: OUTPUT_DIR/compare_CONTENT_STYLE)")
    parser.add_argument("--float64", action="store_true", help="run both backends in double precision")


def command_compare(args: argparse.Namespace) -> int:
    """`compare`: the `run` options plus `output` and `float64`; writes the report and prints its figures.

    Returns 0 when every figure is within its tolerance, 1 when not (the report is written either way).
    Bad input raises `NSTError` before anything is written (the CLI turns it into exit status 2).
    """
    from nst_tf.cli import main as cli

    if getattr(args, "optimizer", None) == "lbfgs":
        raise ConfigError("compare runs Adam on both backends (--optimizer lbfgs is not compared; see README)")
    args.optimizer = "adam"  # the default preset's own optimizer is L-BFGS; compare checks Adam's update
    config = cli.config_from_args(args)
    content_path, style_paths = _picture_paths(args)
    content = image_io.load_image(content_path)
    styles = [image_io.load_image(path) for path in style_paths]
    blend = cli.parse_blend(getattr(args, "style_blend", None), len(styles))
    output = getattr(args, "output", None)
    if output:
        out_dir = Path(output)
    else:
        out_dir = Path(getattr(args, "output_dir", None) or "output")
        out_dir = out_dir / f"compare_{Path(content_path).stem}_{Path(style_paths[0]).stem}"
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir} exists and is not a folder")
    if (out_dir / "report.json").exists() and not getattr(args, "overwrite", False):
        raise ConfigError(f"{out_dir} already holds a report; pass --overwrite to replace it")
    with cli._native_stderr_silenced():  # TensorFlow's C++ start-up and device-probing lines, as `run` does
        torch_twin = _import_torch_twin()  # also fails now, not after the TF run, when PyTorch is missing
        from nst_tf.optim import engine as optimize

        optimize.resolve_device(config.device)
        torch_twin.resolve_device(config.device)
    weights = _resolve_weights(config)
    report = compare(content, styles, config, out_dir, bool(getattr(args, "float64", False)), weights=weights,
                     style_blend=blend)  # fmt: skip
    if not getattr(args, "quiet", False):
        for key, tolerance in report["tolerances"].items():
            print(f"{key:<20} {report[key]:.3g}  (tolerance {tolerance:g})")
        verdict = "agree" if report["within_tolerance"] else "DISAGREE"
        print(f"{report['dtype']}: the backends {verdict}; report in {out_dir}")
    return 0 if report["within_tolerance"] else 1


def _picture_paths(args: argparse.Namespace) -> tuple[str, list[str]]:
    """(content, styles) from the `run` options: `pictures` (CONTENT STYLE [STYLE ...]) or content + styles."""
    pictures = getattr(args, "pictures", None)
    if pictures is None:
        return args.content, list(args.styles)
    if len(pictures) < 2:
        raise ConfigError("compare needs a content picture and at least one style picture")
    return pictures[0], list(pictures[1:])


def _resolve_weights(config: Config) -> VGGWeights:
    """The weights `run` would use for `config`."""
    from nst_tf.vgg import weights as weights_module

    # resolve_weights_for_config also knows the course presets' preferred ImageNet layout; older trees
    # have only resolve_weights.
    for_config = getattr(weights_module, "resolve_weights_for_config", None)
    if for_config is not None:
        return for_config(config)
    return resolve_weights(config.weights, strict=config.strict_weights, seed=config.seed)
