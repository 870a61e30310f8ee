"""TF-vs-PyTorch parity: run both backends from one start and measure how far they disagree.

`compare(content, styles, config)` resolves nothing itself but the weights (once, when not given), sizes
the pictures and draws the starting picture once (`nst_tf.optim.pictures`), then measures, on that very
start, the feature maps of every layer the run uses and the gradient of the total cost in TensorFlow
(`nst_tf.parity.tf_side`) and in the PyTorch twin (`nst_tf.twin.torch_run`), runs both optimisations for
`config.iterations` Adam steps and returns a `ParityResult`: the report (what report.json holds) and the
two final pictures. `nst_tf.parity.report.write_report` writes the files; `nst_tf.cli.compare` is the
command.

Relative errors are max|tf − torch| / max|tf| over a whole tensor (features, gradient), and
|tf − torch| / |tf| per cost value.
"""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from nst_tf.config import DETERMINISTIC_INITS, INIT_MODES, Config
from nst_tf.errors import ConfigError
from nst_tf.optim.engine import resolve_device, stylize
from nst_tf.optim.pictures import initial_image, inputs_for_mode, prepare_images
from nst_tf.optim.records import COST_NAMES, Step
from nst_tf.parity import tf_side
from nst_tf.parity.report import REPORT_FILES  # noqa: F401  (re-exported: the files a report holds)
from nst_tf.twin import torch_run, torch_vgg
from nst_tf.vgg.weights import VGGWeights, resolve_weights_for_config

# What "the backends agree" means, per precision. float32: the acceptance figures (the gradient
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
# A cost value this far below its term's largest is the rounding noise of a zero (J_content at a content
# start whose pixels went through a pixel scale, e.g. cs231n's 1/0.226): its relative error means nothing.
NOISE_FLOOR = 1e-6


@dataclass
class ParityResult:
    """What `compare` measured: the report and both final pictures, (1, H, W, 3) in [0, 1]."""

    report: dict
    tf_image: np.ndarray
    twin_image: np.ndarray
    image_diff: np.ndarray  # |tf − torch|, float64


def comparable(config: Config) -> tuple[Config, list[str]]:
    """The config both backends run, and notes: Adam (compare checks Adam's update step by step; L-BFGS's
    line search would turn float rounding into different accepted points); a noisy init without a seed gets
    seed 0, so both backends draw the same noise."""
    config = config.resolved()
    if config.precision == "auto":  # compare promises float32 figures, whatever the machine
        config = config.replace(precision="float32")
    if config.optimizer != "adam":
        raise ConfigError("compare runs Adam on both backends; pass a config with optimizer='adam'")
    torch_run.check_supported(config)
    notes: list[str] = []
    if config.seed is None and config.init in INIT_MODES and config.init not in DETERMINISTIC_INITS:
        config = config.replace(seed=0)
        notes.append("init draws noise and no seed was given: seed 0 used, so both backends start alike")
    return config, notes


def compare(
    content: np.ndarray | None,
    styles: np.ndarray | Sequence[np.ndarray],
    config: Config,
    float64: bool = False,
    *,
    weights: VGGWeights | None = None,
    style_blend: Sequence[float] | None = None,
) -> ParityResult:
    """Run TensorFlow and the PyTorch twin from one start and measure their disagreement.

    Args:
        content: the content picture, (1, H, W, 3) RGB in [0, 1] (resized per `config`); None in texture mode.
        styles: one style picture or a list of them.
        config: the run's settings, with optimizer "adam" (see `comparable`).
        float64: run both backends in double precision.
        weights: the VGG weights (else resolved from the config); both backends use this very object.
        style_blend: weights of several styles.
    """
    config, notes = comparable(config)
    if resolve_device(config.device) != "/CPU:0" or torch_vgg.resolve_device(config.device).type != "cpu":
        notes.append("a GPU was used: TF32 matrix units, if enabled, limit float32 agreement")
    style_list = [styles] if isinstance(styles, np.ndarray) and styles.ndim == 4 else list(styles)
    content, style_list = inputs_for_mode(content, style_list, config)
    weights = weights or resolve_weights_for_config(config)
    sized_content, sized_styles = prepare_images(content, style_list, config)
    tf_extractor = tf_side.build_tf_extractor(config, weights, float64)
    start = measure_start(sized_content, sized_styles, config, weights, float64, style_blend, tf_extractor)
    if float64:
        tf_run = tf_side.tf_float64_stylize(sized_content, sized_styles, config, tf_extractor, style_blend)
    else:  # the product itself
        tf_run = stylize(content, style_list, config, extractor=tf_extractor, style_blend=style_blend, snapshot_every=0)
    tf_steps = list(tf_run)
    dtype = torch.float64 if float64 else torch.float32
    twin_run = torch_run.stylize(
        content, style_list, config, weights=weights, style_blend=style_blend, snapshot_every=0, dtype=dtype
    )
    twin_steps = list(twin_run)
    tf_image, twin_image = tf_steps[-1].image, twin_steps[-1].image
    assert tf_image is not None and twin_image is not None  # the last Step always carries the picture
    image_diff = np.abs(tf_image.astype(np.float64) - twin_image.astype(np.float64))
    report = _report(config, weights, float64, start, tf_steps, twin_steps, image_diff, notes)
    return ParityResult(report, tf_image, twin_image, image_diff)


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
    tf_extractor=None,
) -> dict:
    """Features and the first gradient of both backends on the run's starting picture.

    Args:
        content, styles: pictures already sized (`nst_tf.optim.pictures.prepare_images`).
        config, weights, style_blend: as for `compare`; the start is `initial_image` with `config.seed`.
        float64: measure in double precision.
        tf_extractor: a ready TF extractor of the right dtype (else built).

    Returns:
        {"start": the picture, "feature_rel_err": {layer: max|tf − torch| / max|tf|}, "grad_max_rel_err",
        "tf_gradient", "torch_gradient"} (gradients of J_total w.r.t. the optimised variable).
    """
    torch_dtype = torch.float64 if float64 else torch.float32
    start = initial_image(content, config, np.random.default_rng(config.seed), styles, style_blend)
    tf_extractor = tf_extractor or tf_side.build_tf_extractor(config, weights, float64)
    twin_extractor = torch_vgg.build_extractor(config, weights, torch_dtype)
    tf_features = tf_side.features(tf_extractor, start, float64)
    with torch.no_grad():
        twin_features = twin_extractor(torch.tensor(start, dtype=torch_dtype))
    feature_errors = {name: _max_rel_err(tf_features[name], twin_features[name].numpy()) for name in tf_features}
    tf_gradient = tf_side.tf_gradient(tf_extractor, content, styles, config, style_blend, start, float64)
    twin_targets = torch_run.compute_targets(twin_extractor, content, styles, config, style_blend)
    twin_gradient = _twin_gradient(twin_extractor, twin_targets, config, start, torch_dtype)
    return {
        "start": start,
        "feature_rel_err": feature_errors,
        "grad_max_rel_err": _max_rel_err(tf_gradient, twin_gradient),
        "tf_gradient": tf_gradient,
        "torch_gradient": twin_gradient,
    }


def _twin_gradient(extractor, targets, config: Config, start: np.ndarray, dtype) -> np.ndarray:
    image = torch.tensor(start * config.pixel_scale, dtype=dtype, requires_grad=True)
    values = torch_run.picture_costs(extractor, targets, config, image / float(config.pixel_scale))
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


def _cost_errors(tf_steps: list[Step], twin_steps: list[Step]) -> dict[str, float | None]:
    """{term: max over iterations of |tf − torch| / |tf|}; None for a term exactly zero in both throughout.

    Values exactly zero in both backends are skipped (J_content on a content start, J_tv when γ = 0), and so
    are values below NOISE_FLOOR times the term's largest in both.
    """
    errors: dict[str, float | None] = {}
    for term in COST_NAMES:
        worst = None
        floor = NOISE_FLOOR * max(abs(s.costs[term]) for s in tf_steps)
        for a, b in zip(tf_steps, twin_steps, strict=True):
            x, y = a.costs[term], b.costs[term]
            if (x == 0.0 and y == 0.0) or max(abs(x), abs(y)) < floor:
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


def _cost_rows(steps: list[Step]) -> list[dict[str, float]]:
    return [{"iteration": s.iteration, **{k: s.costs[k] for k in COST_NAMES}} for s in steps]


def _versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        **tf_side.versions(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "(unset)"),
    }
