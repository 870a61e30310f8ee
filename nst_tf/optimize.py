"""The optimisation: targets computed once, a compiled Adam step, and `stylize`, a generator of Steps.

`stylize(content, styles, config)` sizes the pictures, builds (or takes) the feature extractor, computes
the content target and the style Gram targets once, makes the generated picture a `tf.Variable`, and
then yields one `Step` record per optimizer step. The step is a `tf.function` made by `make_step` from
explicit arguments, traced once per run: tape -> features -> costs -> gradient -> Adam -> clip.

The library never writes files: the caller decides what to keep of the Steps (`nst_tf.cli` saves
snapshots and metrics). Pictures are (1, H, W, 3) float32 RGB in [0, 1] at every boundary.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from nst_tf import costs, image_io
from nst_tf.config import IMAGENET_MEAN_RGB, INIT_MODES, Config
from nst_tf.errors import ConfigError
from nst_tf.features import FeatureExtractor
from nst_tf.weights import IDENTITY, VGGWeights, resolve_weights_for_config

log = logging.getLogger(__name__)

COST_NAMES = ("total", "content", "style", "tv")


@dataclass(frozen=True)
class Step:
    """One optimizer step.

    Attributes:
        iteration: 0-based index of the step just taken (the notebooks' `i`).
        costs: {"total", "content", "style", "tv"} of the picture this step started from (the step's own
            forward pass, so no extra evaluation is spent on reporting).
        seconds: wall time since the first step began.
        image: the picture after this step, (1, H, W, 3) in [0, 1]; only on snapshot steps and the last.
        state: everything needed to continue from here (see `OptimizerState`); with `image` only.
    """

    iteration: int
    costs: dict[str, float]
    seconds: float
    image: np.ndarray | None = None
    state: OptimizerState | None = None


@dataclass
class OptimizerState:
    """A run's exact position: the unclipped variable and Adam's own variables, after `steps` updates.

    Resuming from it continues bit for bit as if the run had never stopped (on a seeded CPU run).
    """

    steps: int  # updates applied so far
    image: np.ndarray  # the variable's value, in the config's pixel units, (1, H, W, 3) float32
    optimizer: list[np.ndarray]  # Adam's variables in `optimizer.variables` order (iteration, lr, m, v)

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

    content: tf.Tensor  # a_C at the content layer, (1, n_H, n_W, n_C)
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
    layers = [config.content_layer_key, *config.style_layer_weights]
    preprocessing = IDENTITY if config.input_preprocessing == "none" else None
    return FeatureExtractor(weights, layers, config.pooling, config.pool_padding, preprocessing)


def prepare_images(
    content: np.ndarray, styles: Sequence[np.ndarray], config: Config
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Resize content and styles as `config` says.

    With `exact_size` both are squashed to exactly that (height, width), as the notebooks do. Otherwise
    the content's longest side becomes `image_size` (aspect kept) and so does each style's.
    """
    if config.exact_size is not None:
        h, w = config.exact_size
        return image_io.resize(content, h, w), [image_io.resize(s, h, w) for s in styles]
    h, w = image_io.fit_size(content.shape[1], content.shape[2], config.image_size)
    sized_styles = [image_io.resize(s, *image_io.fit_size(s.shape[1], s.shape[2], config.image_size)) for s in styles]
    return image_io.resize(content, h, w), sized_styles


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
    content_features = extractor(tf.constant(content))[config.content_layer_key]
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
    content_layer = config.content_layer_key
    layer_weights = config.style_layer_weights
    alpha, beta, gamma = config.content_weight, config.style_weight, config.tv_weight
    clip = config.clip_every_step
    # Build Adam's slots now: creating variables inside the first trace would make TensorFlow trace twice.
    optimizer.build([image])

    @tf.function
    def step() -> dict[str, tf.Tensor]:
        with tf.GradientTape() as tape:
            picture = image / scale  # (1, H, W, 3) in [0, 1]
            features = extractor(picture)
            j_content = costs.content_cost(targets.content, features[content_layer])
            j_style = costs.style_cost(targets.style_grams, features, layer_weights, targets.style_positions)
            j_tv = costs.total_variation_cost(picture) if gamma else tf.constant(0.0)
            j_total = costs.total_cost(j_content, j_style, j_tv, alpha, beta, gamma)
        gradient = tape.gradient(j_total, image)
        optimizer.apply_gradients([(gradient, image)])
        if clip:
            image.assign(tf.clip_by_value(image, 0.0, scale))
        return {"total": j_total, "content": j_content, "style": j_style, "tv": j_tv}

    return step


def stylize(
    content: np.ndarray,
    styles: np.ndarray | Sequence[np.ndarray],
    config: Config | None = None,
    *,
    extractor: FeatureExtractor | None = None,
    style_blend: Sequence[float] | None = None,
    snapshot_every: int | None = None,
    resume: OptimizerState | None = None,
) -> Iterator[Step]:
    """Run style transfer, yielding a `Step` after every optimizer step.

    Args:
        content: the content picture, (1, H, W, 3) RGB in [0, 1] (any size; resized per `config`).
        styles: one style picture or a list of them, same layout.
        config: the run's settings (default: the `default` preset).
        extractor: a ready extractor (else built from `config.weights`).
        style_blend: weights of several styles (normalised); default equal.
        snapshot_every: attach the picture every this many steps (default `config.snapshot_every`);
            the last step always carries it.
        resume: continue from this state (a Step's `state`) up to `config.iterations` steps in all.

    Yields:
        Step records; the generator can be stopped at any time.
    """
    config = (config or Config()).validated()
    style_list = [styles] if isinstance(styles, np.ndarray) and styles.ndim == 4 else list(styles)
    every = config.snapshot_every if snapshot_every is None else snapshot_every
    if config.seed is not None:
        tf.random.set_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = resolve_device(config.device)
    content, style_list = prepare_images(content, style_list, config)
    with tf.device(device):
        extractor = extractor or build_extractor(config)
        missing = {config.content_layer_key, *config.style_layer_weights} - set(extractor.layer_names)
        if missing:
            raise ConfigError(f"the extractor given does not compute {', '.join(sorted(missing))}")
        targets = compute_targets(extractor, content, style_list, config, style_blend)
        if resume is None:
            start = initial_image(content, config, rng) * config.pixel_scale
        else:
            check_resume(resume, content.shape)
            start = resume.image
        image = tf.Variable(start, dtype=tf.float32, name="generated_image")
        optimizer = make_optimizer(config)
        step = make_step(extractor, targets, config, image, optimizer)
        if resume is not None:
            for variable, value in zip(optimizer.variables, resume.optimizer, strict=True):
                variable.assign(value)
    first = 0 if resume is None else resume.steps
    log.info(
        "stylizing %dx%d on %s, steps %d to %d", content.shape[2], content.shape[1], device, first, config.iterations
    )
    began = time.perf_counter()
    for i in range(first, config.iterations):
        with tf.device(device):
            values = step()
        step_costs = {name: float(values[name]) for name in COST_NAMES}
        picture = state = None
        if i == config.iterations - 1 or (every and i % every == 0):
            value = image.numpy()
            picture = np.clip(value / config.pixel_scale, 0.0, 1.0)
            state = OptimizerState(i + 1, value, [v.numpy() for v in optimizer.variables])
        yield Step(i, step_costs, time.perf_counter() - began, picture, state)
    # Tracing more than once would mean the step is rebuilt per call: slow, and a bug.
    if step.experimental_get_tracing_count() != 1:
        log.warning("the optimizer step was traced %d times", step.experimental_get_tracing_count())
