"""The PyTorch twin's optimisation: targets, costs of a picture, Keras's Adam by hand, and `stylize`.

`stylize(content, styles, config)` is the twin of `nst_tf.optim.engine.stylize` and yields the same
`nst_tf.optim.records.Step` records. Everything around the optimisation is shared with TensorFlow, not
copied: the mode's inputs, sizing, the seeded start, colour preservation and the coarse-to-fine stages
(`nst_tf.optim.pictures`, `nst_tf.optim.stages`), and the L-BFGS drivers (`nst_tf.optim.lbfgs`: SciPy's
L-BFGS-B, or torch.optim.LBFGS's algorithm for the PyTorch tutorial's recipe), fed this module's cost and
gradient. Only the network (`nst_tf.twin.torch_vgg`), the costs (`nst_tf.twin.torch_costs`) and Adam are
PyTorch's. `check_supported(config)` refuses, before anything is made, what the twin cannot do.

Imports no TensorFlow: `run --backend torch` runs without it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from nst_tf.config import Config
from nst_tf.errors import ConfigError
from nst_tf.optim import lbfgs
from nst_tf.optim.pictures import initial_image, inputs_for_mode, normalised_blend
from nst_tf.optim.records import COST_NAMES, Stage, Step
from nst_tf.optim.stages import run_stages
from nst_tf.presets import preset_notes
from nst_tf.twin import torch_costs as costs
from nst_tf.twin.torch_vgg import TorchVGG, build_extractor, resolve_device
from nst_tf.vgg.weights import VGGWeights

log = logging.getLogger(__name__)


def check_supported(config: Config, *, resume: bool = False) -> None:
    """Refuse, in one line, a setting the twin cannot honour (call it before anything is created).

    bfloat16: torch's CPU bfloat16 convolutions round differently from Keras's mixed policy (float32
    variables, bfloat16 maths), so a twin run would not mirror the TensorFlow one; XLA is TensorFlow's
    compiler; a resumed run needs the optimizer state only TensorFlow's runs keep.
    """
    if config.precision == "bfloat16":  # "auto" is float32 here (nst_tf.perf.precision.resolve_config)
        raise ConfigError(f"--precision {config.precision} runs on the TensorFlow backend only (--backend tf)")
    if config.jit_compile:
        raise ConfigError("--jit is TensorFlow's XLA compiler; the torch backend has no such option (drop --jit)")
    if resume:
        raise ConfigError("--resume works with the TensorFlow backend only")


# --- targets, costs of a picture, Adam -----------------------------------------------------------------


@dataclass
class Targets:
    """The twin of `nst_tf.optim.targets.Targets`: computed once per run."""

    content: torch.Tensor | None  # a_C, (1, n_H, n_W, n_C); None when α = 0
    style_grams: dict[str, torch.Tensor]  # {layer: G_S (1, n_C, n_C)}
    style_positions: dict[str, float]  # {layer: n_H·n_W the Grams were taken over}


@torch.no_grad()
def compute_targets(
    extractor: TorchVGG,
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    config: Config,
    style_blend: Sequence[float] | None = None,
) -> Targets:
    """Content features and style Gram targets, blended exactly as `nst_tf.optim.targets.compute_targets`."""
    content_features = extractor(content)[config.content_layer_key] if config.content_weight else None
    if not (config.style_weight and styles):
        return Targets(content_features, {}, {})
    blend = normalised_blend(style_blend, len(styles))
    per_style = [extractor(s) for s in styles]
    grams: dict[str, torch.Tensor] = {}
    positions: dict[str, float] = {}
    norm = config.gram_normalisation
    for layer in config.style_layer_weights:
        if len(styles) == 1:
            features = per_style[0][layer]
            grams[layer] = costs.gram_matrix(features, norm)
            positions[layer] = float(features.shape[1] * features.shape[2])
        else:
            terms = [
                w * costs.gram_matrix(f[layer], norm) / float(f[layer].shape[1] * f[layer].shape[2])
                for w, f in zip(blend, per_style, strict=True)
            ]
            grams[layer] = torch.stack(terms).sum(0)  # tf.add_n
            positions[layer] = 1.0
    return Targets(content_features, grams, positions)


def picture_costs(
    extractor: TorchVGG, targets: Targets, config: Config, picture: torch.Tensor
) -> dict[str, torch.Tensor]:
    """{"total", "content", "style", "tv"} of a (1, H, W, 3) picture in [0, 1]: the forward half of the step
    (`nst_tf.optim.targets.picture_costs`, term for term; a term whose weight is zero is not computed)."""
    alpha, beta, gamma = config.content_weight, config.style_weight, config.tv_weight
    features = extractor(picture)
    zero = torch.zeros((), dtype=picture.dtype, device=picture.device)
    j_content = zero
    if alpha:
        generated = features[config.content_layer_key]
        j_content = costs.content_cost(targets.content, generated, config.content_cost_form)[0]
    j_style = zero
    if beta and targets.style_grams:
        j_style = costs.style_cost(
            targets.style_grams,
            features,
            config.style_layer_weights,
            targets.style_positions,
            config.style_cost_form,
            config.gram_normalisation,
        )[0]
    tv_scale = 1.0 if config.tv_form == "mean" else float(config.pixel_scale)
    j_tv = costs.total_variation_cost(picture * tv_scale, config.tv_form)[0] if gamma else zero
    j_total = costs.total_cost(j_content, j_style, j_tv, alpha, beta, gamma)
    return {"total": j_total, "content": j_content, "style": j_style, "tv": j_tv}


class KerasAdam:
    """Keras 3's Adam on one tensor, by hand.

    torch.optim.Adam is not used on purpose: it adds ε to sqrt(v̂) after bias correction,
    θ -= lr·m̂/(sqrt(v̂) + ε), whereas Keras folds the bias corrections into the step size and adds ε
    to the uncorrected sqrt(v): θ -= lr_t·m/(sqrt(v) + ε) with lr_t = lr·sqrt(1 − β₂ᵗ)/(1 − β₁ᵗ),
    which in torch's terms is an ε of ε/sqrt(1 − β₂ᵗ) — 32x larger at step 1. The lines below follow
    keras/src/optimizers/adam.py operation by operation (m += (g − m)(1 − β₁) rather than
    β₁m + (1 − β₁)g), so that the rounding is the same too.
    """

    def __init__(
        self,
        variable: torch.Tensor,
        learning_rate: float,
        epsilon: float = 1e-7,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
    ) -> None:
        self.variable = variable
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        kw = {"dtype": variable.dtype, "device": variable.device}
        # Keras keeps the learning rate in a variable of floatx and casts it to the variable's dtype.
        self.learning_rate = torch.tensor(learning_rate, **kw)
        self.momentum = torch.zeros_like(variable)
        self.velocity = torch.zeros_like(variable)
        self.iterations = 0

    @torch.no_grad()
    def apply(self, gradient: torch.Tensor) -> None:
        """One update of `variable` with `gradient` (in place)."""
        kw = {"dtype": self.variable.dtype, "device": self.variable.device}
        local_step = torch.tensor(self.iterations + 1, **kw)
        # Keras's ops.cast(self.beta_1, dtype) turns the Python float into a float32 tensor first (tf.cast
        # does), so even a float64 run raises float32(0.9) and float32(0.999) to the power t. The
        # (1 − β) factors below are plain Python floats and stay exact. Mirrored, quirk included.
        beta_1_power = torch.pow(torch.tensor(float(np.float32(self.beta_1)), **kw), local_step)
        beta_2_power = torch.pow(torch.tensor(float(np.float32(self.beta_2)), **kw), local_step)
        alpha = self.learning_rate * torch.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        self.momentum.add_((gradient - self.momentum) * (1 - self.beta_1))
        self.velocity.add_((torch.square(gradient) - self.velocity) * (1 - self.beta_2))
        self.variable.sub_((self.momentum * alpha) / (torch.sqrt(self.velocity) + self.epsilon))
        self.iterations += 1

    def restart(self, learning_rate: float) -> None:
        """A fresh Adam (moments and step count zero) with a new learning rate, as `nst_tf.optim.adam.restart`."""
        self.learning_rate = torch.tensor(learning_rate, dtype=self.variable.dtype, device=self.variable.device)
        self.momentum.zero_()
        self.velocity.zero_()
        self.iterations = 0


def make_step(
    extractor: TorchVGG, targets: Targets, config: Config, image: torch.Tensor, optimizer: KerasAdam
) -> Callable[[], dict[str, torch.Tensor]]:
    """The twin of `nst_tf.optim.adam.make_step`: forward -> gradient -> Adam -> clip, on `image` in place.

    Returns:
        A callable taking no arguments that applies one update to `image` and returns the costs (detached
        tensors) of the picture it started from.
    """
    scale = float(config.pixel_scale)
    clip = config.clip_every_step

    def step() -> dict[str, torch.Tensor]:
        image.grad = None
        values = picture_costs(extractor, targets, config, image / scale)
        values["total"].backward()
        optimizer.apply(image.grad)
        if clip:
            with torch.no_grad():
                image.clamp_(0.0, scale)
        return {name: value.detach() for name, value in values.items()}

    return step


def _adam_stage(stage: Stage, targets: Targets, dtype: torch.dtype) -> Iterator[Step]:
    """Steps `stage.first` .. `stage.last` - 1 by Keras's Adam (by hand), from the stage's start."""
    config = stage.config
    start = _start_pixels(stage)
    # The variable holds start·scale computed in float32, as TF's tf.Variable(start * scale) does.
    image = torch.tensor(start, dtype=dtype, device=stage.device, requires_grad=True)
    optimizer = KerasAdam(image, config.learning_rate, config.adam_epsilon)
    step = make_step(stage.extractor, targets, config, image, optimizer)
    began = time.perf_counter()
    for i in range(stage.first, stage.last):
        if i == config.lr_decay_at:
            optimizer.restart(config.decayed_learning_rate)
        values = step()
        step_costs = {name: float(values[name]) for name in COST_NAMES}
        picture = raw = None
        if stage.is_snapshot(i):
            raw = image.detach().cpu().numpy() / config.pixel_scale
            picture = np.clip(raw, 0.0, 1.0)
        yield Step(i, step_costs, time.perf_counter() - began, picture, None, raw)


def _start_pixels(stage: Stage) -> np.ndarray:
    """The stage's start in pixel units: the init (seeded, the very draws of the TF run) or the given pixels."""
    if stage.start is None:
        return (
            initial_image(stage.content, stage.config, stage.rng, stage.styles, stage.style_blend)
            * stage.config.pixel_scale
        )
    return np.asarray(stage.start)


def evaluator(extractor: TorchVGG, targets: Targets, config: Config, dtype: torch.dtype, device) -> lbfgs.Evaluate:
    """pixels -> (costs, d total / d pixels) in PyTorch, for the shared L-BFGS drivers."""
    scale = float(config.pixel_scale)

    def evaluate(pixels: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        image = torch.tensor(pixels, dtype=dtype, device=device, requires_grad=True)
        values = picture_costs(extractor, targets, config, image / scale)
        values["total"].backward()
        return {name: float(values[name].detach()) for name in COST_NAMES}, image.grad.detach().cpu().numpy()

    return evaluate


def stage_runner(dtype: torch.dtype) -> Callable[[Stage], Iterator[Step]]:
    """The twin's counterpart of `nst_tf.optim.engine.run_stage`, computing in `dtype`."""

    def run(stage: Stage) -> Iterator[Step]:
        config = stage.config
        targets = compute_targets(stage.extractor, stage.content, stage.styles, config, stage.style_blend)
        log.info("%s %dx%d in PyTorch (%s, %s), steps %d to %d", config.optimizer, stage.content.shape[2],
                 stage.content.shape[1], stage.device, dtype, stage.first, stage.last)  # fmt: skip
        if config.optimizer == "adam":
            yield from _adam_stage(stage, targets, dtype)
            return
        evaluate = evaluator(stage.extractor, targets, config, dtype, stage.device)
        points = lbfgs.accepted_points(evaluate, _start_pixels(stage), stage)
        picture_dtype = np.float64 if dtype == torch.float64 else np.float32
        for step in lbfgs.steps_from_points(points, stage, picture_dtype):
            yield dataclasses.replace(step, state=None)  # the twin keeps no resumable state

    return run


def stylize(
    content: np.ndarray | None,
    styles: np.ndarray | Sequence[np.ndarray],
    config: Config | None = None,
    *,
    weights: VGGWeights | None = None,
    style_blend: Sequence[float] | None = None,
    snapshot_every: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> Iterator[Step]:
    """Run style transfer (or texture synthesis, or feature inversion) in PyTorch, a `Step` per update.

    Args:
        content: the content picture, (1, H, W, 3) RGB in [0, 1] (any size; resized per `config`); None
            in texture mode.
        styles: one style picture or a list of them, same layout.
        config: the run's settings (default: the `default` preset); its mode's rules are applied.
        weights: the VGG weights (else resolved from `config.weights`); pass the TF run's object for parity.
        style_blend: weights of several styles (normalised); default equal.
        snapshot_every: attach the picture every this many steps (default `config.snapshot_every`);
            the last step always carries it.
        dtype: torch.float32 or torch.float64. A Step's picture has this dtype (float64 runs keep their
            precision for parity checks).

    Yields:
        `nst_tf.optim.records.Step` records (without a resumable state); the generator can be stopped.
    """
    config = (config or Config()).resolved()
    check_supported(config)
    style_list = [styles] if isinstance(styles, np.ndarray) and styles.ndim == 4 else list(styles)
    content, style_list = inputs_for_mode(content, style_list, config)
    every = config.snapshot_every if snapshot_every is None else snapshot_every
    device = resolve_device(config.device)
    extractor = build_extractor(config, weights, dtype, device)
    for note in preset_notes(config, extractor.weights, extractor.preprocessing):
        log.warning(note)
    runner = stage_runner(dtype)
    yield from run_stages(extractor, content, style_list, config, style_blend, every, None, device, runner)
