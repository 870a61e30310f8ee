"""The optimisation: targets computed once, a compiled Adam step, and `stylize`, a generator of Steps.

`stylize(content, styles, config)` sizes the pictures, builds (or takes) the feature extractor, computes
the content target and the style Gram targets once, makes the generated picture a `tf.Variable`, and
then yields one `Step` record per optimizer step. The step is a `tf.function` made by `make_step` from
explicit arguments, traced once per run: tape -> features -> costs -> gradient -> Adam -> clip.

The library never writes files: the caller decides what to keep of the Steps (`nst_tf.cli.main` saves
snapshots and metrics). Pictures are (1, H, W, 3) float32 RGB in [0, 1] at every boundary.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from nst_tf.config import IMAGENET_MEAN_RGB, INIT_MODES, Config
from nst_tf.errors import ConfigError
from nst_tf.io import images as image_io
from nst_tf.losses import color, costs
from nst_tf.perf import memory
from nst_tf.vgg.extractor import FeatureExtractor
from nst_tf.vgg.weights import IDENTITY, VGGWeights, resolve_weights_for_config

log = logging.getLogger(__name__)

COST_NAMES = ("total", "content", "style", "tv")
# Four 2x2 poolings lie before conv5_1: a side shorter than 16 px leaves no feature map there.
MIN_SIDE = 16


@dataclass(frozen=True)
class Step:
    """One optimizer step.

    Attributes:
        iteration: 0-based index of the step just taken (the notebooks' `i`).
        costs: {"total", "content", "style", "tv"} of the picture this step started from (the step's own
            forward pass, so no extra evaluation is spent on reporting).
        seconds: wall time since the first step began.
        image: the picture after this step, (1, H, W, 3) in [0, 1]; only on snapshot steps and the last.
        state: everything needed to continue from here (see `OptimizerState`); with `image` only, in
            single-scale runs.
        evaluations: cost evaluations so far, for L-BFGS (whose iteration may take several; see
            nst_tf.optim.lbfgs); None for Adam, which spends exactly one per step.
    """

    iteration: int
    costs: dict[str, float]
    seconds: float
    image: np.ndarray | None = None
    state: OptimizerState | None = None
    raw_image: np.ndarray | None = field(default=None, repr=False, compare=False)  # unclipped, [0, 1] units
    evaluations: int | None = field(default=None, compare=False)  # cost evaluations so far (L-BFGS only)


@dataclass
class OptimizerState:
    """A run's position: the unclipped variable and the optimizer's own arrays, after `steps` updates.

    Adam: resuming continues bit for bit as if the run had never stopped (on a seeded CPU run). L-BFGS
    saves no arrays of its own (`optimizer` is empty): it restarts from the picture (see nst_tf.optim.lbfgs).
    """

    steps: int  # updates applied so far
    image: np.ndarray  # the variable's value, in the config's pixel units, (1, H, W, 3) float32
    optimizer: list[np.ndarray]  # Adam's variables in `optimizer.variables` order (iteration, lr, m, v); L-BFGS: []

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for np.savez (read back with allow_pickle=False)."""
        arrays = {"steps": np.asarray(self.steps, np.int64), "image": self.image}
        arrays.update({f"optimizer_{i}": value for i, value in enumerate(self.optimizer)})
        return arrays

    @classmethod
    def from_arrays(cls, arrays) -> OptimizerState:
        count = sum(1 for key in arrays if key.startswith("optimizer_"))
        return cls(int(arrays["steps"]), np.asarray(arrays["image"]), [arrays[f"optimizer_{i}"] for i in range(count)])


@dataclass
class Targets:
    """What the generated picture is pulled towards: computed once per run, never per step."""

    content: tf.Tensor | None  # a_C at the content layer, (1, n_H, n_W, n_C); None when α = 0
    style_grams: dict[str, tf.Tensor]  # {layer: G_S (n_C, n_C)}
    style_positions: dict[str, float]  # {layer: n_H·n_W the Grams were taken over}


def resolve_device(choice: str) -> str:
    """ "auto" -> /GPU:0 when TensorFlow sees a GPU, else /CPU:0; "gpu" without one is an error."""
    gpus = tf.config.list_logical_devices("GPU")
    if choice == "gpu" and not gpus:
        raise ConfigError("--device gpu: TensorFlow sees no GPU here")
    if choice in ("gpu", "auto") and gpus:
        return "/GPU:0"
    return "/CPU:0"


def build_extractor(config: Config, weights: VGGWeights | None = None) -> FeatureExtractor:
    """The extractor a run of `config` needs (content layer + style layers), weights resolved if not given."""
    if weights is None:
        weights = resolve_weights_for_config(config)
    layers = [config.content_layer_key] if config.content_weight else []
    layers += list(config.style_layer_weights) if config.style_weight else []
    layers = layers or [config.content_layer_key]
    preprocessing = IDENTITY if config.input_preprocessing == "none" else None
    kind = BFloat16Extractor if config.precision == "bfloat16" else FeatureExtractor
    return kind(weights, layers, config.pooling, config.pool_padding, preprocessing)


class BFloat16Extractor(FeatureExtractor):
    """VGG computed in bfloat16 (Keras's mixed_bfloat16 policy: float32 weights, bfloat16 maths); the
    feature maps are handed out as float32, so Grams and costs still accumulate in float32."""

    def __init__(self, *args, **kwargs) -> None:
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_bfloat16")  # layers take the policy in force when built
        try:
            super().__init__(*args, **kwargs)
        finally:
            keras.config.set_dtype_policy(previous)

    def __call__(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {name: tf.cast(value, tf.float32) for name, value in super().__call__(images).items()}


def prepare_images(
    content: np.ndarray, styles: Sequence[np.ndarray], config: Config
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Resize content and styles as `config` says.

    With `exact_size` the content is squashed to exactly that (height, width), and so are the styles at
    style_scale 1, as the notebooks do. Otherwise the content's longest side becomes `image_size` (aspect
    kept), and each style's longest side becomes style_scale times the result's.
    """
    if config.exact_size is not None:
        h, w = config.exact_size
        sized = image_io.resize(content, h, w)
        if config.style_scale == 1.0:
            return sized, [image_io.resize(s, h, w) for s in styles]
    else:
        h, w = image_io.fit_size(content.shape[1], content.shape[2], config.image_size)
        if min(h, w) < MIN_SIDE:
            raise ConfigError(
                f"at {config.image_size} px the picture would be {w}x{h}: VGG needs at least {MIN_SIDE} px a side"
            )
        sized = image_io.resize(content, h, w)
    longest = round(config.style_scale * max(sized.shape[1:3]))
    return sized, [image_io.resize(s, *_fit_at_least(s.shape[1], s.shape[2], longest)) for s in styles]


def _fit_at_least(height: int, width: int, longest: int) -> tuple[int, int]:
    """fit_size, enlarged where needed so that the shorter side keeps MIN_SIDE px."""
    h, w = image_io.fit_size(height, width, longest)
    if min(h, w) < MIN_SIDE:
        h, w = image_io.fit_size(height, width, round(longest * MIN_SIDE / min(h, w)))
    return h, w


def compute_targets(
    extractor: FeatureExtractor,
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    config: Config,
    style_blend: Sequence[float] | None = None,
) -> Targets:
    """Content features and style Gram targets, computed once.

    Several styles are blended as Σ_i w_i·G_i/(n_H·n_W)_i (weights normalised to sum 1); one style keeps
    its raw Gram, so the course formula holds to the last bit.
    """
    content_features = extractor(tf.constant(content))[config.content_layer_key] if config.content_weight else None
    if not (config.style_weight and styles):  # feature inversion: no style term
        return Targets(content_features, {}, {})
    layer_weights = config.style_layer_weights
    blend = _normalised_blend(style_blend, len(styles))
    grams: dict[str, tf.Tensor] = {}
    positions: dict[str, float] = {}
    per_style = [extractor(tf.constant(s)) for s in styles]
    for layer in layer_weights:
        if len(styles) == 1:
            features = per_style[0][layer]
            grams[layer] = costs.gram_matrix(features)
            positions[layer] = float(features.shape[1] * features.shape[2])
        else:
            grams[layer] = tf.add_n(
                [
                    w * costs.gram_matrix(f[layer]) / float(f[layer].shape[1] * f[layer].shape[2])
                    for w, f in zip(blend, per_style, strict=True)
                ]
            )
            positions[layer] = 1.0
    return Targets(content_features, grams, positions)


def check_resume(resume: OptimizerState, shape: tuple[int, ...]) -> None:
    """Refuse a saved state made for a picture of another size."""
    if tuple(resume.image.shape) != tuple(shape):
        raise ConfigError(f"the saved state is for a {resume.image.shape} picture, this run makes {tuple(shape)}")


def _normalised_blend(style_blend: Sequence[float] | None, count: int) -> list[float]:
    if count < 1:
        raise ConfigError("at least one style picture is needed")
    if style_blend is None:
        return [1.0 / count] * count
    if len(style_blend) != count:
        raise ConfigError(f"style blend has {len(style_blend)} weights for {count} style pictures")
    if any(w < 0 or not np.isfinite(w) for w in style_blend) or sum(style_blend) <= 0:
        raise ConfigError("style blend weights must be >= 0 and not all zero")
    total = float(sum(style_blend))
    return [float(w) / total for w in style_blend]


def initial_image(content: np.ndarray, config: Config, rng: np.random.Generator) -> np.ndarray:
    """The starting picture, (1, H, W, 3) in [0, 1] units (float32).

    - "content": the content picture.
    - "noise": the ImageNet mean colour plus U(−r, r) noise.
    - "blend": ratio·noise + (1 − ratio)·content, the TF1 notebook's generate_noise_image (which mixes in
      mean-subtracted space; adding the mean back gives exactly this).
    - "content+noise": clip(content + U(−r, r), 0, 1), the TF2 notebook's start.
    - a path: that picture, resized to the content's size.
    """
    r = config.init_noise_range
    mode = config.init
    if mode == "content":
        return content.astype(np.float32)
    if mode not in INIT_MODES:
        picture = image_io.load_image(mode)
        return image_io.resize(picture, content.shape[1], content.shape[2])
    noise = rng.uniform(-r, r, size=content.shape).astype(np.float32)
    if mode == "content+noise":
        return np.clip(content + noise, 0.0, 1.0).astype(np.float32)
    noise_image = np.asarray(IMAGENET_MEAN_RGB, np.float32) / 255.0 + noise
    if mode == "noise":
        return np.clip(noise_image, 0.0, 1.0).astype(np.float32)
    ratio = config.init_noise_ratio
    return (ratio * noise_image + (1.0 - ratio) * content).astype(np.float32)


def make_optimizer(config: Config) -> keras.optimizers.Optimizer:
    """Adam with the config's learning rate and ε (β₁ = 0.9, β₂ = 0.999 as in both notebooks)."""
    return keras.optimizers.Adam(learning_rate=config.learning_rate, epsilon=config.adam_epsilon)


def picture_costs(
    extractor: FeatureExtractor, targets: Targets, config: Config, picture: tf.Tensor
) -> dict[str, tf.Tensor]:
    """The forward half of a step: {"total", "content", "style", "tv"} of a (1, H, W, 3) [0, 1] picture,
    in the picture's dtype. A term whose weight is zero is not computed at all (texture, inversion)."""
    alpha, beta, gamma = config.content_weight, config.style_weight, config.tv_weight
    features = extractor(picture)
    zero = tf.zeros([], picture.dtype)
    j_content = costs.content_cost(targets.content, features[config.content_layer_key]) if alpha else zero
    j_style = zero
    if beta and targets.style_grams:
        j_style = costs.style_cost(targets.style_grams, features, config.style_layer_weights, targets.style_positions)
    j_tv = costs.total_variation_cost(picture) if gamma else zero
    j_total = costs.total_cost(j_content, j_style, j_tv, alpha, beta, gamma)
    return {"total": j_total, "content": j_content, "style": j_style, "tv": j_tv}


def make_step(
    extractor: FeatureExtractor,
    targets: Targets,
    config: Config,
    image: tf.Variable,
    optimizer: keras.optimizers.Optimizer,
) -> Callable[[], dict[str, tf.Tensor]]:
    """Build the compiled optimizer step. Everything it closes over is frozen at trace time.

    Returns:
        A `tf.function` taking no arguments that applies one update to `image` and returns the costs of
        the picture it started from.
    """
    scale = float(config.pixel_scale)
    clip = config.clip_every_step
    # Build Adam's slots now: creating variables inside the first trace would make TensorFlow trace twice.
    optimizer.build([image])

    @tf.function(jit_compile=config.jit_compile)
    def step() -> dict[str, tf.Tensor]:
        with tf.GradientTape() as tape:
            values = picture_costs(extractor, targets, config, image / scale)  # picture in [0, 1]
        gradient = tape.gradient(values["total"], image)
        optimizer.apply_gradients([(gradient, image)])
        if clip:
            image.assign(tf.clip_by_value(image, 0.0, scale))
        return values

    return step


def stylize(
    content: np.ndarray | None,
    styles: np.ndarray | Sequence[np.ndarray],
    config: Config | None = None,
    *,
    extractor: FeatureExtractor | None = None,
    style_blend: Sequence[float] | None = None,
    snapshot_every: int | None = None,
    resume: OptimizerState | None = None,
) -> Iterator[Step]:
    """Run style transfer (or texture synthesis, or feature inversion), yielding a `Step` per update.

    Args:
        content: the content picture, (1, H, W, 3) RGB in [0, 1] (any size; resized per `config`); None
            in texture mode.
        styles: one style picture or a list of them, same layout (may be empty in invert mode).
        config: the run's settings (default: the `default` preset); its mode's rules are applied.
        extractor: a ready extractor (else built from `config.weights`).
        style_blend: weights of several styles (normalised); default equal.
        snapshot_every: attach the picture every this many steps (default `config.snapshot_every`);
            the last step (and the last of each scale) always carries it.
        resume: continue from this state (a Step's `state`) up to `config.iterations` steps in all.

    Yields:
        Step records; the generator can be stopped at any time.
    """
    config = (config or Config()).resolved()
    style_list = [styles] if isinstance(styles, np.ndarray) and styles.ndim == 4 else list(styles)
    content, style_list = inputs_for_mode(content, style_list, config)
    if resume is not None and config.scales > 1:
        raise ConfigError("--resume works with single-scale runs only")
    every = config.snapshot_every if snapshot_every is None else snapshot_every
    if config.seed is not None:
        tf.random.set_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = resolve_device(config.device)
    seen_content, seen_styles, recolour = _colour_plan(content, style_list, config)
    with tf.device(device):
        extractor = extractor or build_extractor(config)
    needed = ({config.content_layer_key} if config.content_weight else set()) | (
        set(config.style_layer_weights) if config.style_weight and style_list else set()
    )
    missing = needed - set(extractor.layer_names)
    if missing:
        raise ConfigError(f"the extractor given does not compute {', '.join(sorted(missing))}")
    if device == "/CPU:0":  # refuse a run that cannot fit before allocating it (GPU memory is not checked)
        height, width = config.exact_size or image_io.fit_size(content.shape[1], content.shape[2], config.image_size)
        memory.check_memory(config, height, width, extractor.weights.architecture)
    began = time.perf_counter()
    previous: np.ndarray | None = None
    first = 0 if resume is None else resume.steps
    for stage_config, last in stage_plan(config):
        stage_content, stage_styles = prepare_images(seen_content, seen_styles, stage_config)
        if previous is None:
            start = None if resume is None else resume
        else:  # coarse to fine: the previous scale's picture, upsampled, starts this one
            start = image_io.resize(np.clip(previous, 0.0, 1.0), *stage_content.shape[1:3]) * config.pixel_scale
        colour_reference = prepare_images(content, [], stage_config)[0] if recolour else None
        for step in _run_stage(
            extractor, stage_content, stage_styles, stage_config, style_blend, start, rng, first, last, every, device
        ):
            if step.image is not None and colour_reference is not None:
                step = dataclasses.replace(step, image=recolour(step.image, colour_reference))
            yield dataclasses.replace(step, seconds=time.perf_counter() - began)
            if step.iteration == last - 1:
                previous = step.raw_image
        first = last


def stage_plan(config: Config) -> list[tuple[Config, int]]:
    """[(the stage's config, the global step count at its end)] for `config.scales` stages.

    Stage k of N works at 1/2^(N-1-k) of the size and runs iterations/2^k steps: most steps where they
    are cheap. One stage is simply the run itself.
    """
    if config.scales == 1:
        return [(config, config.iterations)]
    plan, end = [], 0
    for k in range(config.scales):
        factor = 2 ** (config.scales - 1 - k)
        changes: dict = {"image_size": max(16, round(config.image_size / factor))}
        if config.exact_size is not None:
            changes["exact_size"] = tuple(max(16, round(v / factor)) for v in config.exact_size)
        end += max(1, config.iterations // 2**k)
        plan.append((dataclasses.replace(config, **changes), end))
    return plan


def inputs_for_mode(
    content: np.ndarray | None, styles: list[np.ndarray], config: Config
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Check the pictures a mode needs; texture synthesis gets a stand-in content of the output's shape."""
    if config.mode == "invert":
        if content is None:
            raise ConfigError("feature inversion (mode invert) needs a content picture")
        return content, []
    if not styles:
        raise ConfigError("at least one style picture is needed")
    if config.mode == "texture":
        style = styles[0]
        if config.exact_size is not None:
            h, w = config.exact_size
        else:
            h, w = image_io.fit_size(style.shape[1], style.shape[2], config.image_size)
        # Only its shape (and mean colour for the noise start) matter: α = 0.
        return np.full((1, h, w, 3), np.asarray(IMAGENET_MEAN_RGB, np.float32) / 255.0), styles
    if content is None:
        raise ConfigError("style transfer needs a content picture (use mode texture for none)")
    return content, styles


def _colour_plan(content: np.ndarray, styles: list[np.ndarray], config: Config):
    """(content the network sees, styles it sees, recolour function or None) for --preserve-colors."""
    mode = config.preserve_colors
    if mode is None or config.mode == "texture":
        return content, styles, None
    if mode == "histogram":
        return content, [color.match_color_histogram(s, content) for s in styles], None
    if mode == "luminance":
        grey_styles = [color.match_luminance(s, content) for s in styles]
        return color.luminance_only(content), grey_styles, color.transfer_luminance
    return content, styles, color.transfer_luminance  # "post"


def _run_stage(
    extractor: FeatureExtractor,
    content: np.ndarray,
    styles: list[np.ndarray],
    config: Config,
    style_blend: Sequence[float] | None,
    start: np.ndarray | OptimizerState | None,
    rng: np.random.Generator,
    first: int,
    last: int,
    every: int,
    device: str,
) -> Iterator[Step]:
    """Steps `first` .. `last` - 1 at one size, from `start` (pixels, a saved state, or None: the init)."""
    if config.optimizer == "lbfgs":
        from nst_tf.optim import lbfgs  # SciPy only for L-BFGS runs

        stage = (extractor, content, styles, config, style_blend, start, rng, first, last, every, device)
        yield from lbfgs.run_stage(*stage)
        return
    with tf.device(device):
        targets = compute_targets(extractor, content, styles, config, style_blend)
        if start is None:
            value = initial_image(content, config, rng) * config.pixel_scale
        elif isinstance(start, OptimizerState):
            check_resume(start, content.shape)
            if not start.optimizer:
                raise ConfigError("the saved state is an L-BFGS run's; it cannot be continued with Adam")
            value = start.image
        else:
            value = start
        image = tf.Variable(value, dtype=tf.float32, name="generated_image")
        optimizer = make_optimizer(config)
        step = make_step(extractor, targets, config, image, optimizer)
        if isinstance(start, OptimizerState):
            for variable, saved in zip(optimizer.variables, start.optimizer, strict=True):
                variable.assign(saved)
    log.info("stylizing %dx%d on %s, steps %d to %d", content.shape[2], content.shape[1], device, first, last)
    began = time.perf_counter()
    for i in range(first, last):
        with tf.device(device):
            values = step()
        step_costs = {name: float(values[name]) for name in COST_NAMES}
        picture = state = raw = None
        if i == last - 1 or (every and i % every == 0):
            raw = image.numpy() / config.pixel_scale
            picture = np.clip(raw, 0.0, 1.0)
            if config.scales == 1:
                state = OptimizerState(i + 1, image.numpy(), [v.numpy() for v in optimizer.variables])
        yield Step(i, step_costs, time.perf_counter() - began, picture, state, raw)
    # Tracing more than once would mean the step is rebuilt per call: slow, and a bug.
    if step.experimental_get_tracing_count() != 1:
        log.warning("the optimizer step was traced %d times", step.experimental_get_tracing_count())
