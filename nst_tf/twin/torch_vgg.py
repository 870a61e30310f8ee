"""The PyTorch twin: the same style transfer as `nst_tf.optim.engine`, in plain torch.nn, for parity checks.

This module owns a second implementation of the whole pipeline so the two can be tested against each
other (DESIGN.md §1, "people who compare frameworks"): `TorchVGG` (VGG19 or VGG16 as the weights say,
built from `torch.nn.functional` without torchvision, with the Keras layer names and the very same
`Preprocessing` object as `nst_tf.vgg.extractor.FeatureExtractor`), the costs of `nst_tf.losses.costs` term for term,
`KerasAdam` (Keras 3's Adam arithmetic by hand), L-BFGS through the very same SciPy driver as the
TensorFlow route (`nst_tf.optim.lbfgs.steps`, fed this module's cost and gradient), and `stylize`, a
generator of the same `nst_tf.optim.engine.Step` records as `nst_tf.optim.engine.stylize`. Sizing and the
starting picture come from
`nst_tf.optim.engine` itself (`prepare_images`, `initial_image` with the same seeded NumPy generator), and
the weights from the same `VGGWeights` object, so both backends start from the very same pixels and
kernels. Features are returned as (N, h, w, C), like Keras's, so the two can be compared element-wise.

PyTorch is an optional dependency: only this module imports it, and nothing in `nst_tf` imports this
module at import time. It runs in float32 (the product's precision) or float64 (to separate algorithmic
disagreement from rounding).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from nst_tf.config import Config
from nst_tf.errors import ConfigError
from nst_tf.optim.engine import COST_NAMES, Step, _normalised_blend, initial_image, prepare_images
from nst_tf.vgg.weights import IDENTITY, Preprocessing, VGGWeights, conv_layer_names, resolve_weights, select_layers

log = logging.getLogger(__name__)


def resolve_device(choice: str) -> torch.device:
    """ "auto" -> cuda when PyTorch sees a GPU, else cpu; "gpu" without one is an error (as TF's side)."""
    has_gpu = torch.cuda.is_available()
    if choice == "gpu" and not has_gpu:
        raise ConfigError("--device gpu: PyTorch sees no GPU here")
    return torch.device("cuda" if choice in ("gpu", "auto") and has_gpu else "cpu")


# --- the network ---------------------------------------------------------------------------------------


def pool2d(x: torch.Tensor, pooling: str, padding: str) -> torch.Tensor:
    """2x2, stride-2 pooling of (N, C, H, W) with TensorFlow's padding semantics.

    "valid" drops an odd last row/column (floor), as PyTorch does by default. "same" keeps it
    (ceil(H/2) rows): TF pads one row/column at the bottom/right only, and the padded cells never take
    part: a max ignores them, and an average divides by the number of real cells in its window (2 or 1
    at the edge, not 4). PyTorch has no such padding mode, so it is spelled out here.
    """
    if pooling not in ("max", "avg"):
        raise ConfigError(f"unknown pooling {pooling!r}; choose max or avg")
    pad_h, pad_w = (x.shape[2] % 2, x.shape[3] % 2) if padding == "same" else (0, 0)
    if pooling == "max":
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), value=-math.inf)  # -inf never wins a max
        return F.max_pool2d(x, 2, 2)
    if not (pad_h or pad_w):
        return F.avg_pool2d(x, 2, 2)
    sums = F.avg_pool2d(F.pad(x, (0, pad_w, 0, pad_h)), 2, 2, divisor_override=1)  # window sums
    ones = torch.ones((1, 1, x.shape[2], x.shape[3]), dtype=x.dtype, device=x.device)
    counts = F.avg_pool2d(F.pad(ones, (0, pad_w, 0, pad_h)), 2, 2, divisor_override=1)  # real cells: 4, 2 or 1
    return sums / counts


class TorchVGG(torch.nn.Module):
    """Frozen VGG up to the deepest requested layer; `vgg(images)` -> {keras_layer_name: (N, h, w, C)}.

    The mirror of `nst_tf.vgg.extractor.FeatureExtractor`, with the same arguments and checks.

    Args:
        weights: the very `VGGWeights` the TF extractor loads (kernels HWIO, copied to OIHW here).
        layers: layer names to return, paper or Keras spelling.
        pooling: "max" or "avg".
        pool_padding: "valid" (Keras VGG) or "same" (the TF1 course's VGG).
        preprocessing: override the weights' own preprocessing (the TF2 notebook feeds [0, 1] as is).
        dtype: torch.float32 or torch.float64.
        device: where the parameters live (default cpu).
    """

    def __init__(
        self,
        weights: VGGWeights,
        layers: Iterable[str],
        pooling: str = "max",
        pool_padding: str = "valid",
        preprocessing: Preprocessing | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.layer_names: list[str] = select_layers(weights, layers)
        if pooling not in ("max", "avg"):
            raise ConfigError(f"unknown pooling {pooling!r}; choose max or avg")
        if pool_padding not in ("valid", "same"):
            raise ConfigError(f"unknown pool padding {pool_padding!r}")
        self.weights = weights
        self.pooling = pooling
        self.pool_padding = pool_padding
        self.preprocessing = preprocessing or weights.preprocessing
        self.dtype = dtype
        device = torch.device(device or "cpu")
        order = conv_layer_names(weights.architecture)
        deepest = max(order.index(name) for name in self.layer_names)
        self.conv_names = order[: deepest + 1]  # nothing deeper is needed, as in the Keras model
        self.kernels = torch.nn.ParameterDict()
        self.biases = torch.nn.ParameterDict()
        for name in self.conv_names:
            kernel, bias = weights.layers[name]  # (3, 3, C_in, C_out) HWIO, (C_out,)
            oihw = np.ascontiguousarray(np.transpose(kernel, (3, 2, 0, 1)))  # -> (C_out, C_in, 3, 3)
            self.kernels[name] = torch.nn.Parameter(torch.tensor(oihw, dtype=dtype, device=device), False)
            self.biases[name] = torch.nn.Parameter(torch.tensor(bias, dtype=dtype, device=device), False)
        p = self.preprocessing
        self._bgr = p.channel_order == "BGR"
        self.register_buffer("_scale", torch.tensor(p.scale, dtype=dtype, device=device), persistent=False)
        self.register_buffer("_mean", torch.tensor(p.mean, dtype=dtype, device=device), persistent=False)
        # A per-channel std is not part of Preprocessing today; honour one if it is added, and skip the
        # division when it is all ones so the arithmetic stays exactly the TF extractor's.
        std = tuple(float(s) for s in getattr(p, "std", (1.0, 1.0, 1.0)))
        self._std = None if std == (1.0, 1.0, 1.0) else torch.tensor(std, dtype=dtype, device=device)

    @property
    def device(self) -> torch.device:
        return self._mean.device

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """(N, H, W, 3) RGB in [0, 1] -> what the weights were trained on, still (N, H, W, 3)."""
        x = images.to(self.dtype) * self._scale
        if self._bgr:
            x = torch.flip(x, dims=(-1,))
        x = x - self._mean
        if self._std is not None:
            x = x / self._std
        return x

    def forward(self, images: torch.Tensor | np.ndarray) -> dict[str, torch.Tensor]:
        """Feature maps of (N, H, W, 3) RGB images in [0, 1], keyed by Keras layer name, (N, h, w, C)."""
        images = torch.as_tensor(images, device=self.device)
        x = self.preprocess(images).permute(0, 3, 1, 2)  # (N, 3, H, W)
        taps: dict[str, torch.Tensor] = {}
        for name in self.conv_names:
            if name.endswith("_conv1") and not name.startswith("block1"):
                x = pool2d(x, self.pooling, self.pool_padding)
            # Keras's 3x3 "same" convolution with stride 1 pads one cell on every side.
            x = F.relu(F.conv2d(x, self.kernels[name], self.biases[name], padding=1))
            if name in self.layer_names:
                taps[name] = x.permute(0, 2, 3, 1)  # (N, h, w, C), as Keras returns it
        return {name: taps[name] for name in self.layer_names}

    @property
    def feeds_raw_unit_rgb(self) -> bool:
        """True when the input goes to VGG untouched (the TF2 notebook's quirk)."""
        return self.preprocessing == IDENTITY


def build_extractor(
    config: Config,
    weights: VGGWeights | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> TorchVGG:
    """The twin of `nst_tf.optim.engine.build_extractor`: the layers, pooling and preprocessing a run needs."""
    if weights is None:
        weights = resolve_weights(config.weights, strict=config.strict_weights, seed=config.seed)
    layers = [config.content_layer_key, *config.style_layer_weights]
    preprocessing = IDENTITY if config.input_preprocessing == "none" else None
    return TorchVGG(weights, layers, config.pooling, config.pool_padding, preprocessing, dtype, device)


# --- the costs: nst_tf.losses.costs, term for term -------------------------------------------------------------


def _positions_and_channels(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(n_H·n_W, n_C) of a (1, n_H, n_W, n_C) tensor as scalars of its dtype (TF casts them the same way)."""
    kw = {"dtype": features.dtype, "device": features.device}
    return torch.tensor(features.shape[1] * features.shape[2], **kw), torch.tensor(features.shape[3], **kw)


def content_cost(content_features: torch.Tensor, generated_features: torch.Tensor) -> torch.Tensor:
    """J_content = 1/(4·n_H·n_W·n_C) · Σ (a_C − a_G)², on (1, n_H, n_W, n_C) feature maps."""
    positions, channels = _positions_and_channels(generated_features)
    return torch.sum(torch.square(content_features - generated_features)) / (4.0 * positions * channels)


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """G = Aᵀ·A, with A the (n_H·n_W, n_C) unrolled activations: (1, n_H, n_W, n_C) -> (n_C, n_C)."""
    unrolled = features.reshape(-1, features.shape[-1])  # (n_H·n_W, n_C)
    return unrolled.T @ unrolled


def layer_style_cost(
    style_gram: torch.Tensor, generated_features: torch.Tensor, style_positions: float | None = None
) -> torch.Tensor:
    """J_style[l] = 1/(4·n_C²·(n_H·n_W)²) · Σ (G_S − G_G)², G_S rescaled per position as in nst_tf.losses.costs.

    Departure from the paper (as `nst_tf.losses.costs.layer_style_cost`): when the style picture's n_H·n_W
    differs, G_S is multiplied by (n_H·n_W)_G / (n_H·n_W)_S.
    """
    positions, channels = _positions_and_channels(generated_features)
    generated_gram = gram_matrix(generated_features)
    if style_positions is not None:
        style = torch.tensor(style_positions, dtype=generated_features.dtype, device=generated_features.device)
        style_gram = style_gram * (positions / style)
    return torch.sum(torch.square(style_gram - generated_gram)) / (4.0 * torch.square(channels * positions))


def style_cost(
    style_grams: Mapping[str, torch.Tensor],
    generated_features: Mapping[str, torch.Tensor],
    layer_weights: Mapping[str, float],
    style_positions: Mapping[str, float] | None = None,
) -> torch.Tensor:
    """J_style = Σ_l λ_l · J_style[l], accumulated in layer order from zero (as nst_tf.losses.costs)."""
    first = next(iter(generated_features.values()))
    total = torch.zeros((), dtype=first.dtype, device=first.device)
    for layer, weight in layer_weights.items():
        positions = None if style_positions is None else style_positions[layer]
        total = total + weight * layer_style_cost(style_grams[layer], generated_features[layer], positions)
    return total


def total_variation_cost(image: torch.Tensor) -> torch.Tensor:
    """J_tv = mean((x[i+1, j] − x[i, j])²) + mean((x[i, j+1] − x[i, j])²) over a (1, H, W, 3) image."""
    down = image[:, 1:, :, :] - image[:, :-1, :, :]
    right = image[:, :, 1:, :] - image[:, :, :-1, :]
    return torch.mean(torch.square(down)) + torch.mean(torch.square(right))


def total_cost(
    content: torch.Tensor | float,
    style: torch.Tensor | float,
    tv: torch.Tensor | float = 0.0,
    alpha: float = 10.0,
    beta: float = 40.0,
    gamma: float = 0.0,
) -> torch.Tensor:
    """J = α·J_content + β·J_style + γ·J_tv."""
    return alpha * content + beta * style + gamma * tv


# --- targets, costs of a picture, Adam -----------------------------------------------------------------


@dataclass
class Targets:
    """The twin of `nst_tf.optim.engine.Targets`: computed once per run."""

    content: torch.Tensor  # a_C, (1, n_H, n_W, n_C)
    style_grams: dict[str, torch.Tensor]  # {layer: G_S (n_C, n_C)}
    style_positions: dict[str, float]  # {layer: n_H·n_W the Grams were taken over}


@torch.no_grad()
def compute_targets(
    extractor: TorchVGG,
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    config: Config,
    style_blend: Sequence[float] | None = None,
) -> Targets:
    """Content features and style Gram targets, blended exactly as `nst_tf.optim.engine.compute_targets`."""
    content_features = extractor(content)[config.content_layer_key]
    blend = _normalised_blend(style_blend, len(styles))
    per_style = [extractor(s) for s in styles]
    grams: dict[str, torch.Tensor] = {}
    positions: dict[str, float] = {}
    for layer in config.style_layer_weights:
        if len(styles) == 1:
            features = per_style[0][layer]
            grams[layer] = gram_matrix(features)
            positions[layer] = float(features.shape[1] * features.shape[2])
        else:
            terms = [
                w * gram_matrix(f[layer]) / float(f[layer].shape[1] * f[layer].shape[2])
                for w, f in zip(blend, per_style, strict=True)
            ]
            grams[layer] = torch.stack(terms).sum(0)  # tf.add_n
            positions[layer] = 1.0
    return Targets(content_features, grams, positions)


def picture_costs(
    extractor: TorchVGG, targets: Targets, config: Config, picture: torch.Tensor
) -> dict[str, torch.Tensor]:
    """{"total", "content", "style", "tv"} of a (1, H, W, 3) picture in [0, 1]: the forward half of the step."""
    features = extractor(picture)
    j_content = content_cost(targets.content, features[config.content_layer_key])
    j_style = style_cost(targets.style_grams, features, config.style_layer_weights, targets.style_positions)
    gamma = config.tv_weight
    j_tv = total_variation_cost(picture) if gamma else torch.zeros((), dtype=picture.dtype, device=picture.device)
    j_total = total_cost(j_content, j_style, j_tv, config.content_weight, config.style_weight, gamma)
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


def make_step(
    extractor: TorchVGG, targets: Targets, config: Config, image: torch.Tensor, optimizer: KerasAdam
) -> Callable[[], dict[str, torch.Tensor]]:
    """The twin of `nst_tf.optim.engine.make_step`: forward -> gradient -> Adam -> clip, on `image` in place.

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


def stylize(
    content: np.ndarray,
    styles: np.ndarray | Sequence[np.ndarray],
    config: Config | None = None,
    *,
    weights: VGGWeights | None = None,
    style_blend: Sequence[float] | None = None,
    snapshot_every: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> Iterator[Step]:
    """Run style transfer in PyTorch, yielding a `Step` after every optimizer step (as nst_tf.optim.engine).

    Args:
        content: the content picture, (1, H, W, 3) RGB in [0, 1] (any size; resized per `config`).
        styles: one style picture or a list of them, same layout.
        config: the run's settings (default: the `default` preset).
        weights: the VGG weights (else resolved from `config.weights`); pass the TF run's object for parity.
        style_blend: weights of several styles (normalised); default equal.
        snapshot_every: attach the picture every this many steps (default `config.snapshot_every`);
            the last step always carries it.
        dtype: torch.float32 or torch.float64. A Step's picture has this dtype (float64 runs keep their
            precision for parity checks).

    Yields:
        `nst_tf.optim.engine.Step` records; the generator can be stopped at any time.
    """
    config = (config or Config()).validated()
    style_list = [styles] if isinstance(styles, np.ndarray) and styles.ndim == 4 else list(styles)
    every = config.snapshot_every if snapshot_every is None else snapshot_every
    rng = np.random.default_rng(config.seed)  # the same generator and draws as the TF run: same start
    device = resolve_device(config.device)
    content, style_list = prepare_images(content, style_list, config)
    extractor = build_extractor(config, weights, dtype, device)
    targets = compute_targets(extractor, content, style_list, config, style_blend)
    start = initial_image(content, config, rng)
    if config.optimizer == "lbfgs":
        yield from _stylize_lbfgs(extractor, targets, config, start * config.pixel_scale, dtype, device, every)
        return
    # The variable holds start·scale computed in float32, as TF's tf.Variable(start * scale) does.
    image = torch.tensor(start * config.pixel_scale, dtype=dtype, device=device, requires_grad=True)
    optimizer = KerasAdam(image, config.learning_rate, config.adam_epsilon)
    step = make_step(extractor, targets, config, image, optimizer)
    log.info("stylizing %dx%d in PyTorch (%s, %s) for %d steps", content.shape[2], content.shape[1], device,
             dtype, config.iterations)  # fmt: skip
    began = time.perf_counter()
    for i in range(config.iterations):
        values = step()
        step_costs = {name: float(values[name]) for name in COST_NAMES}
        last = i == config.iterations - 1
        picture = None
        if last or (every and i % every == 0):
            picture = np.clip(image.detach().cpu().numpy() / config.pixel_scale, 0.0, 1.0)
        yield Step(i, step_costs, time.perf_counter() - began, picture)


def _stylize_lbfgs(
    extractor: TorchVGG,
    targets: Targets,
    config: Config,
    start: np.ndarray,
    dtype: torch.dtype,
    device: torch.device,
    every: int,
) -> Iterator[Step]:
    """L-BFGS-B over the pixels by `nst_tf.optim.lbfgs.steps` (the TF route's own driver), costs from PyTorch."""
    from nst_tf.optim import lbfgs

    scale = float(config.pixel_scale)

    def evaluate(pixels: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        image = torch.tensor(pixels, dtype=dtype, device=device, requires_grad=True)
        values = picture_costs(extractor, targets, config, image / scale)
        values["total"].backward()
        return {name: float(values[name].detach()) for name in COST_NAMES}, image.grad.detach().cpu().numpy()

    log.info("L-BFGS %dx%d in PyTorch (%s, %s) for %d iterations", start.shape[2], start.shape[1], device, dtype,
             config.iterations)  # fmt: skip
    began = time.perf_counter()
    accepted = lbfgs.steps(evaluate, start, config.iterations, scale)
    for i, (x, step_costs, evaluations) in enumerate(accepted):
        picture = None
        if i == config.iterations - 1 or (every and i % every == 0):
            picture = np.clip(x / scale, 0.0, 1.0).astype(np.float64 if dtype == torch.float64 else np.float32)
        yield Step(i, step_costs, time.perf_counter() - began, picture, evaluations=evaluations)
