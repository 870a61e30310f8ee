"""TF-vs-PyTorch parity: does the PyTorch twin compute what TensorFlow computes, whatever the optimiser does?

`compare(content, styles, config)` resolves nothing itself but the weights (once, when not given) and gives
a verdict from two checks that separate "a different algorithm" from "rounding the optimiser amplified":

1. Step parity, teacher-forced (`nst_tf.parity.stepwise`): at every step both backends start from
   TensorFlow's picture; their costs, gradient and (Adam) update must agree to float32's tolerance.
2. The rounding envelope: four free runs of the same algorithm (TensorFlow and the twin, each in float32
   and in float64). Let d_tf = max|tf32 − tf64|, d_torch = max|torch32 − torch64| (how far float32's own
   rounding takes each run), d_cross = max|tf32 − torch32| and d64 = max|tf64 − torch64|. The float64
   runs must agree (d64 ≤ FLOAT64_SHARE·max(d_tf, d_torch), at least 1e-10: float64 rounds 2²⁹ times finer
   than float32, so the same algorithm amplifying its own rounding stays ~1e-9 of the float32 envelope; a
   thousandth leaves six orders of room). Then, max|·| being a norm, d_cross ≤ d_tf + d64 + d_torch
   ≤ 2·max(d_tf, d_torch) + d64: two float32 roundings of one float64 trajectory cannot be further apart
   than twice the larger one's distance from it. So `envelope_ratio` = d_cross / max(d_tf, d_torch) must
   be ≤ ENVELOPE_FACTOR = 2 (plus d64's share): the backends' float32 distance is float32's own.

Before both, the feature maps of every layer and the gradient are compared on the start (as before).
Returns a `ParityResult`: the report (what report.json holds) and the two final float32 pictures.
`nst_tf.parity.report.write_report` writes the files; `nst_tf.cli.compare` is the command.
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
from nst_tf.io.provenance import cpu_model
from nst_tf.optim.engine import resolve_device, stylize
from nst_tf.optim.pictures import initial_image, inputs_for_mode, prepare_images
from nst_tf.optim.records import COST_NAMES, Step
from nst_tf.optim.stages import run_stages
from nst_tf.parity import stepwise, tf_side
from nst_tf.parity.report import REPORT_FILES  # noqa: F401  (re-exported: the files a report holds)
from nst_tf.parity.stepwise import ENVELOPE_FACTOR, NOISE_FLOOR, max_rel_err
from nst_tf.twin import torch_run, torch_vgg
from nst_tf.vgg.weights import VGGWeights, resolve_weights_for_config

# The start's feature maps: one forward pass, the cost tolerance's argument (nst_tf.parity.stepwise).
FEATURE_TOLERANCE = {"float32": 1e-5, "float64": 1e-10}
FLOAT64_SHARE = 1e-3  # how much of float32's envelope the float64 runs may disagree by (module docstring)
FLOAT64_FLOOR = 1e-10


@dataclass
class ParityResult:
    """What `compare` measured: the report and both final pictures, (1, H, W, 3) in [0, 1]."""

    report: dict
    tf_image: np.ndarray
    twin_image: np.ndarray
    image_diff: np.ndarray  # |tf − torch|, float64


def comparable(config: Config) -> tuple[Config, list[str]]:
    """The config both backends run, and notes: float32 for "auto"; a noisy init without a seed gets seed 0,
    so both backends draw the same noise."""
    config = config.resolved()
    if config.precision == "auto":  # compare promises float32 figures, whatever the machine
        config = config.replace(precision="float32")
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
    """Run TensorFlow and the PyTorch twin and judge their agreement (see the module).

    Args:
        content: the content picture, (1, H, W, 3) RGB in [0, 1] (resized per `config`); None in texture mode.
        styles: one style picture or a list of them.
        config: the run's settings, any optimiser (see `comparable`).
        float64: step parity in double precision (the envelope always runs both precisions).
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
    extractors = {
        False: tf_side.build_tf_extractor(config, weights),
        True: tf_side.build_tf_extractor(config, weights, True),
    }
    start = measure_start(sized_content, sized_styles, config, weights, float64, style_blend, extractors[float64])
    steps = step_parity(content, style_list, config, weights, float64, style_blend, extractors)
    runs = free_runs(content, style_list, config, weights, style_blend, extractors)
    shown = "64" if float64 else "32"
    tf_image, twin_image = runs["tf" + shown][-1].image, runs["torch" + shown][-1].image
    assert tf_image is not None and twin_image is not None  # the last Step always carries the picture
    image_diff = np.abs(tf_image.astype(np.float64) - twin_image.astype(np.float64))
    report = _report(config, weights, float64, start, steps, runs, image_diff, notes)
    return ParityResult(report, tf_image, twin_image, image_diff)


def step_parity(content, styles, config: Config, weights, float64: bool, style_blend, extractors) -> dict:
    """`nst_tf.parity.stepwise` over the run's stages (scales, colours, blends as the run has them); in float32
    both backends' float64 gradients are evaluated at each point too."""
    dtype = torch.float64 if float64 else torch.float32
    twin_extractor = torch_vgg.build_extractor(config, weights, dtype)
    references = None if float64 else (extractors[True], torch_vgg.build_extractor(config, weights, torch.float64))
    records: list[stepwise.StepParity] = []
    runner = stepwise.stage_runner(twin_extractor, dtype, records, references)
    for _ in run_stages(extractors[float64], content, styles, config, style_blend, 0, None, "/CPU:0", runner):
        pass
    return stepwise.summary(records, "float64" if float64 else "float32")


def free_runs(content, styles, config: Config, weights, style_blend, extractors) -> dict[str, list[Step]]:
    """{"tf32", "tf64", "torch32", "torch64": the Steps of a free run}; tf32 is the product itself."""
    runs = {"tf32": list(stylize(content, styles, config, extractor=extractors[False], style_blend=style_blend,
                                 snapshot_every=0))}  # fmt: skip
    float64_runner = tf_side.stage_runner(float64=True)
    runs["tf64"] = list(run_stages(extractors[True], content, styles, config, style_blend, 0, None, "/CPU:0",
                                   float64_runner))  # fmt: skip
    for name, dtype in (("torch32", torch.float32), ("torch64", torch.float64)):
        twin = torch_run.stylize(content, styles, config, weights=weights, style_blend=style_blend, snapshot_every=0,
                                 dtype=dtype)  # fmt: skip
        runs[name] = list(twin)
    return runs


def envelope(runs: dict[str, list[Step]]) -> dict:
    """The rounding envelope's distances and its two judged figures (module docstring)."""
    final = {name: steps[-1].image.astype(np.float64) for name, steps in runs.items()}

    def distance(a: str, b: str) -> float:
        return float(np.abs(final[a] - final[b]).max())

    d_tf, d_torch = distance("tf32", "tf64"), distance("torch32", "torch64")
    d_cross, d64 = distance("tf32", "torch32"), distance("tf64", "torch64")
    own = max(d_tf, d_torch)
    ratio = d_cross / own if own > 0 else (0.0 if d_cross == 0 else math.inf)
    float64_tolerance = max(FLOAT64_FLOOR, FLOAT64_SHARE * own)
    ratio_tolerance = ENVELOPE_FACTOR + (d64 / own if own > 0 else 0.0)
    return {
        "tf32_vs_tf64": d_tf,
        "torch32_vs_torch64": d_torch,
        "tf32_vs_torch32": d_cross,
        "float64_image_max_abs_diff": d64,
        "envelope_ratio": ratio,
        "tolerances": {"float64_image_max_abs_diff": float64_tolerance, "envelope_ratio": ratio_tolerance},
        "ok": d64 <= float64_tolerance and ratio <= ratio_tolerance,
    }


def _report(config: Config, weights: VGGWeights, float64: bool, start: dict, steps: dict, runs, image_diff, notes):
    """The report dict: the verdict and its judged figures first, then the detail they come from."""
    precision = "float64" if float64 else "float32"
    shown = "64" if float64 else "32"
    tf_steps, twin_steps = runs["tf" + shown], runs["torch" + shown]
    cost_errors = _cost_errors(tf_steps, twin_steps)
    rounding = envelope(runs)
    feature_err = max(start["feature_rel_err"].values())
    start_ok = feature_err <= FEATURE_TOLERANCE[precision]
    failed = [name for name, ok in (("start features", start_ok), ("step parity", steps["ok"]),
                                    ("rounding envelope", rounding["ok"])) if not ok]  # fmt: skip
    tolerances = {"feature_max_rel_err": FEATURE_TOLERANCE[precision], **steps["tolerances"], **rounding["tolerances"]}
    if steps["cost_bound_widened"]:
        notes = [*notes, f"step costs {', '.join(steps['cost_bound_widened'])}: float32's own rounding of the cost "
                 "(cancellation: a cost of near-equal features) exceeds the flat bound at some steps, so there the "
                 f"backends' difference is judged against {ENVELOPE_FACTOR:g}× that rounding (each backend's float32 "
                 "cost against its float64 cost at the same pixels)"]  # fmt: skip
    report = {
        "dtype": precision,
        "optimizer": config.optimizer,
        "iterations": len(tf_steps),
        "image_size": list(start["start"].shape[1:3]),
        "within_tolerance": not failed,
        "failed": failed,
        "verdict": "the backends agree" if not failed else "DISAGREE: " + ", ".join(failed) + " failed",
        "feature_max_rel_err": feature_err,
        **{key: steps[key] for key in steps["tolerances"]},
        "step_grad_max_rel_err": steps["step_grad_max_rel_err"],
        "float64_image_max_abs_diff": rounding["float64_image_max_abs_diff"],
        "envelope_ratio": rounding["envelope_ratio"],
        "tolerances": tolerances,
        "envelope": {k: v for k, v in rounding.items() if k not in ("tolerances", "ok")},
        "grad_max_rel_err": start["grad_max_rel_err"],
        "cost_max_rel_err": max((e for e in cost_errors.values() if e is not None), default=0.0),
        "image_max_abs_diff": float(image_diff.max()),
        "image_mean_abs_diff": float(image_diff.mean()),
        "diff_amplification": _amplification(float(image_diff.max())),
        "feature_rel_err": start["feature_rel_err"],
        "cost_rel_err": cost_errors,
        "step_parity": {
            "evaluations": steps["evaluations"],
            "cost_rel_err": steps["cost_rel_err"],
            "cost_bound_widened": steps["cost_bound_widened"],
            "rows": steps["rows"],
        },  # fmt: skip
        "seconds": {"tf": round(tf_steps[-1].seconds, 3), "torch": round(twin_steps[-1].seconds, 3)},
        "costs": {"tf": _cost_rows(tf_steps), "torch": _cost_rows(twin_steps)},
        "config": config.to_dict(),
        "weights": weights.summary(),
        "versions": _versions(),
        "notes": notes,
    }
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
    feature_errors = {name: max_rel_err(tf_features[name], twin_features[name].numpy()) for name in tf_features}
    tf_gradient = tf_side.tf_gradient(tf_extractor, content, styles, config, style_blend, start, float64)
    twin_targets = torch_run.compute_targets(twin_extractor, content, styles, config, style_blend)
    twin_gradient = _twin_gradient(twin_extractor, twin_targets, config, start, torch_dtype)
    return {
        "start": start,
        "feature_rel_err": feature_errors,
        "grad_max_rel_err": max_rel_err(tf_gradient, twin_gradient),
        "tf_gradient": tf_gradient,
        "torch_gradient": twin_gradient,
    }


def _twin_gradient(extractor, targets, config: Config, start: np.ndarray, dtype) -> np.ndarray:
    image = torch.tensor(start * config.pixel_scale, dtype=dtype, requires_grad=True)
    values = torch_run.picture_costs(extractor, targets, config, image / float(config.pixel_scale))
    values["total"].backward()
    return image.grad.numpy()


# --- measures -------------------------------------------------------------------------------------------


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
        # The CPU, and a cap on oneDNN's instruction set if one is set: they choose the convolution kernels.
        "cpu": cpu_model(),
        "ONEDNN_MAX_CPU_ISA": os.environ.get("ONEDNN_MAX_CPU_ISA", "(unset)"),
    }
