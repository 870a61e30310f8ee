"""Run configuration: one frozen dataclass, its fields' flags, and layer-name spelling.

`Config` holds every setting of a run; the presets (nst_tf.presets) are instances of it and the command
line derives its flags and defaults from its fields, so a default lives in exactly one place. This
module imports no TensorFlow, so the command line can validate settings (and fail fast) before the heavy
import.

Layer names: users may write the paper's names (`conv4_2`) or Keras's (`block4_conv2`); inside, the
Keras spelling is canonical.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from nst_tf.errors import ConfigError

LayerWeights = tuple[tuple[str, float], ...]

PAPER_STYLE_LAYERS: LayerWeights = (
    ("conv1_1", 0.2),
    ("conv2_1", 0.2),
    ("conv3_1", 0.2),
    ("conv4_1", 0.2),
    ("conv5_1", 0.2),
)

# ImageNet mean colour (RGB, 0-255): the centre of the course's noise image.
IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)

INIT_MODES = ("content", "recoloured", "noise", "blend", "content+noise", "gaussian")
# The starts that draw no noise (from the content picture, and the style pictures' colours).
DETERMINISTIC_INITS = ("content", "recoloured")
OPTIMIZERS = ("adam", "lbfgs", "torch-lbfgs")
# "auto": bfloat16 where the probe measures it faster, float32 elsewhere (nst_tf.perf.precision).
PRECISIONS = ("auto", "float32", "bfloat16")
POOLINGS = ("max", "avg")
DEVICES = ("auto", "cpu", "gpu")
PREPROCESSING = ("weights", "none")
MODES = ("transfer", "texture", "invert")
COLOR_MODES = ("post", "luminance", "histogram")
# Universal stylization's (nst_tf.universal): no "luminance", which optimises the luminance alone.
UNIVERSAL_COLOR_MODES = ("post", "histogram")
# Cost conventions of each source's recipe (see nst_tf.losses.costs for the formulas).
CONTENT_FORMS = ("course", "mse", "sum", "relative")
STYLE_FORMS = ("course", "mse", "sum", "relative")
GRAM_NORMALISATIONS = ("none", "size")
TV_FORMS = ("mean", "sum")
FEATURE_TAPS = ("relu", "conv")
# The cost terms every Step, metrics.csv row and report carries, in this order.
COST_NAMES = ("total", "content", "style", "tv")

_PAPER = re.compile(r"^conv([1-5])_([1-4])$")
_KERAS = re.compile(r"^block([1-5])_conv([1-4])$")


def keras_layer_name(name: str) -> str:
    """Return the Keras spelling of a VGG conv layer name (`conv4_2` -> `block4_conv2`).

    Raises:
        ConfigError: when the name is neither spelling.
    """
    name = name.strip()
    if m := _PAPER.match(name):
        return f"block{m.group(1)}_conv{m.group(2)}"
    if _KERAS.match(name) or re.match(r"^features\.(\d|1[0-2])$", name):  # SqueezeNet 1.1's (cs231n)
        return name
    raise ConfigError(f"unknown layer name {name!r}: use conv4_2, block4_conv2 or (SqueezeNet 1.1) features.0 … 12")


def paper_layer_name(name: str) -> str:
    """Return the paper's spelling of a VGG conv layer name (`block4_conv2` -> `conv4_2`)."""
    m = _KERAS.match(keras_layer_name(name))
    assert m is not None
    return f"conv{m.group(1)}_{m.group(2)}"


def setting(
    default,
    help: str | None = None,
    *,
    flag: str | None = None,
    parse: str = "",
    choices: tuple | None = None,
    metavar: str | None = None,
    clears: tuple[str, ...] = (),
    nargs: str | None = None,
    const: object = None,
):
    """A Config field whose metadata also describes its command-line flag (read by nst_tf.cli.settings).

    Args:
        default: the field's default (the default preset's value).
        help: the flag's help text; None: the field has no flag (a recipe setting only presets change).
        flag: the flag's name when it is not the field's name with dashes (e.g. "--jit" for jit_compile).
        parse: how the flag's text becomes the value: "int", "float", "str", "bool" (--x/--no-x) or the
            name of a parser in this module ("parse_style_layers", "parse_size").
        choices: the allowed values, when they are a fixed list.
        metavar: the placeholder --help shows.
        clears: fields reset to None when the flag is given (an explicit --image-size replaces a preset's
            exact size).
        nargs, const: argparse's, for a flag taking several values (a tuple field) or an optional one.

    Every family's settings dataclass (`Config`, `nst_tf.feedforward.settings`, `nst_tf.universal.settings`,
    `nst_tf.audio.transfer.AudioConfig`) declares its fields this way; parse "switch" is an on-only flag
    (`--mixed-precision`), "bool" an --x/--no-x pair.
    """
    metadata = {
        "help": help,
        "flag": flag,
        "parse": parse,
        "choices": choices,
        "metavar": metavar,
        "clears": clears,
        "nargs": nargs,
        "const": const,
    }
    return dataclasses.field(default=default, metadata=metadata)


def parse_size(text: str) -> tuple[int, int]:
    """`400x300` (width x height) -> (300, 400) as (height, width).

    Raises:
        ConfigError: when the text is not WIDTHxHEIGHT with both at least 16 px.
    """
    width, sep, height = text.lower().partition("x")
    try:
        size = (int(height), int(width))
    except ValueError:
        raise ConfigError(f"--size must look like 400x300 (width x height), got {text!r}") from None
    if not sep or min(size) < 16:
        raise ConfigError(f"--size must be WIDTHxHEIGHT with both at least 16 px, got {text!r}")
    return size


@dataclass(frozen=True)
class Config:
    """Every setting of one style-transfer run. Images are RGB in [0, 1] everywhere outside the extractor.

    Attributes:
        preset: name of the preset this configuration started from (recorded, not used).
        iterations: optimizer steps.
        snapshot_every: keep the picture every this many steps (0: only the final picture).
        image_size: longest side of the generated picture, px (the content keeps its aspect ratio).
        exact_size: (height, width) to squash both pictures to, as the course notebooks do; overrides
            image_size when set.
        content_layer: layer whose feature maps the content cost compares.
        style_layers: (layer, weight λ_l) pairs for the style cost.
        content_weight, style_weight, tv_weight: α, β, γ of the total cost.
        optimizer: "adam" or "lbfgs" (SciPy's L-BFGS-B over the pixels, bounded to the valid range; one
            iteration is one L-BFGS iteration, which may spend several cost evaluations; see nst_tf.optim.lbfgs).
        learning_rate: Adam's step, in units of `pixel_scale`.
        adam_epsilon: Adam's ε (Keras 1e-7; TF1's tf.train.AdamOptimizer 1e-8).
        pixel_scale: the units the optimised variable lives in: 1 -> [0, 1], 255 -> 0-255 (the TF1
            course optimises 0-255 pixels, so its learning rate 2.0 means two grey levels).
        clip_every_step: clip to the valid range after every step (TF2 notebook) or only when a picture is
            read out (TF1 notebook, which never clips its variable).
        init: "recoloured" (the content picture in the style's colours, the default: it reaches a given cost
            in fewer steps), "content", "noise", "blend" (ratio·noise + (1-ratio)·content, the TF1 course),
            "content+noise" (content + uniform noise, clipped, the TF2 course), or a path to a picture.
        init_noise_ratio: the noise share of "blend".
        init_noise_range: half-width of the uniform noise, in [0, 1] units.
        pooling: "max" or "avg".
        pool_padding: "valid" (Keras's VGG) or "same" (the TF1 course's VGG, which rounds odd sizes up).
        weights: "auto", "imagenet", "hed-vgg16", "random" or a file path.
        imagenet_layout: which ImageNet file to look for first: "matconvnet" (the TF1 course's .mat),
            "keras" (the TF2 course's notop .h5) or None (Keras .h5, then .mat, then a converted .npz).
        input_preprocessing: "weights" (what the weights expect) or "none" (feed RGB in [0, 1] as it is:
            the TF2 notebook's quirk).
        device: "auto", "cpu" or "gpu".
        seed: seeds the init noise and TensorFlow; a CPU run with a seed repeats bit for bit.
        strict_weights: refuse to fall back from the requested weights (the course presets).
        jit_compile: compile the step with XLA (tf.function(jit_compile=True)).
        precision: "auto" (bfloat16 where a probe measures it faster on this machine, else float32; resolved
            once at the run's start by nst_tf.perf.precision), "float32", or "bfloat16" (VGG's convolutions
            in bfloat16; the picture, costs, Grams and the optimizer in float32).
        mode: "transfer" (content + style), "texture" (texture synthesis: α = 0, start from noise, no
            content picture) or "invert" (feature inversion: β = 0, start from noise, no style picture).
        style_scale: the style picture's longest side relative to the result's (0.5: larger strokes).
        preserve_colors: None, "post", "luminance" or "histogram" (see nst_tf.losses.color).
        scales: coarse-to-fine stages; stage k of N works at image_size / 2^(N-1-k) and runs
            iterations / 2^k steps (the coarsest the full count; finer ones start from a good picture).
        max_memory: the memory (CPU) a run plans within, e.g. "3G"; None: what the machine has free. A stage
            whose step would not fit runs on tiles (nst_tf.optim.tiled); see nst_tf.optim.memory.plan_memory.
        content_cost_form, style_cost_form, gram_normalisation, tv_form: each source's cost conventions,
            see nst_tf.losses.costs ("course"/"mse"/"sum"; Gram "none"/"size"; TV "mean"/"sum").
        feature_tap: "relu" (each conv's ReLU output) or "conv" (before the ReLU: the PyTorch recipes).
        lr_decay_at, decayed_learning_rate: Adam restarts with this rate at this step (cs231n); None: never.
    """

    preset: str = setting("default")
    iterations: int = setting(100, "optimizer steps", parse="int", metavar="N")
    snapshot_every: int = setting(10, "save the picture every N steps (0: only the final)", parse="int", metavar="N")
    image_size: int = setting(
        256, "longest side of the result in px (aspect kept)", parse="int", metavar="PX", clears=("exact_size",)
    )
    exact_size: tuple[int, int] | None = setting(
        None,
        "exact result size, e.g. 400x300 (replaces --image-size)",
        flag="--size",
        parse="parse_size",
        metavar="WxH",
    )
    content_layer: str = setting("conv4_2", "content layer, e.g. conv4_2 or block4_conv2", parse="str", metavar="LAYER")
    style_layers: LayerWeights = setting(
        PAPER_STYLE_LAYERS,
        "e.g. conv1_1,conv2_1 (equal weights) or conv1_1:0.5,conv3_1:0.5",
        parse="parse_style_layers",
        metavar="LAYERS",
    )
    content_weight: float = setting(1.0, "alpha, the content cost's weight", parse="float", metavar="ALPHA")
    style_weight: float = setting(5.0, "beta, the style cost's weight", parse="float", metavar="BETA")
    tv_weight: float = setting(0.0, "gamma, total-variation smoothing", parse="float", metavar="GAMMA")
    optimizer: str = setting("lbfgs", "Adam, or SciPy's L-BFGS-B", parse="str", choices=OPTIMIZERS)
    learning_rate: float = setting(0.02, "Adam's step size (pixel units of the preset)", parse="float", metavar="LR")
    adam_epsilon: float = setting(1e-7)
    pixel_scale: float = setting(1.0)
    clip_every_step: bool = setting(True)
    init: str = setting("recoloured", f"{', '.join(INIT_MODES)} or a picture file", parse="str", metavar="INIT")
    init_noise_ratio: float = setting(0.6)
    init_noise_range: float = setting(0.25)
    pooling: str = setting("avg", "VGG's pooling", parse="str", choices=POOLINGS)
    pool_padding: str = setting("valid")
    weights: str = setting(
        "auto", "auto, imagenet, imagenet-vgg16, hed-vgg16, random or a weights file", parse="str", metavar="WEIGHTS"
    )
    imagenet_layout: str | None = setting(None)
    input_preprocessing: str = setting("weights")
    device: str = setting("auto", "where TensorFlow runs", parse="str", choices=DEVICES)
    seed: int | None = setting(
        None, "seed the init noise and TensorFlow (repeatable CPU runs)", parse="int", metavar="N"
    )
    strict_weights: bool = setting(False)
    jit_compile: bool = setting(False, "XLA-compile the step", flag="--jit", parse="bool")
    precision: str = setting(
        "auto", "VGG's arithmetic (auto: bfloat16 where measured faster)", parse="str", choices=PRECISIONS
    )
    mode: str = setting(
        "transfer",
        "transfer (CONTENT STYLE...), texture synthesis (STYLE...) or feature inversion (CONTENT)",
        parse="str",
        choices=MODES,
    )
    style_scale: float = setting(
        1.0, "style picture size relative to the result (0.5: bigger strokes)", parse="float", metavar="S"
    )
    preserve_colors: str | None = setting(None, "keep the content's colours", parse="str", choices=COLOR_MODES)
    scales: int = setting(1, "coarse-to-fine stages, for large pictures (e.g. 3)", parse="int", metavar="N")
    max_memory: str | None = setting(
        None,
        "memory to fit in, e.g. 3G: adds coarse-to-fine stages and steps in tiles where a step would not fit "
        "(default: what is free)",
        parse="str",
        metavar="SIZE",
    )
    content_cost_form: str = setting("relative")
    style_cost_form: str = setting("relative")
    gram_normalisation: str = setting("none")
    tv_form: str = setting("mean")
    feature_tap: str = setting("relu")
    lr_decay_at: int | None = setting(None)
    decayed_learning_rate: float = setting(0.1)

    def replace(self, **changes) -> Config:
        """Return a validated copy with `changes` applied."""
        return dataclasses.replace(self, **changes).validated()

    def validate(self) -> Config:
        """Check every setting; return self or raise ConfigError (the verb every settings dataclass has)."""
        return self.validated()

    def validated(self) -> Config:
        """Check every setting; return self or raise ConfigError with one readable line."""
        _require(self.iterations >= 1, f"iterations must be at least 1, got {self.iterations}")
        _require(self.snapshot_every >= 0, f"snapshot-every must be 0 or more, got {self.snapshot_every}")
        _require(self.image_size >= 16, f"image-size must be at least 16 px, got {self.image_size}")
        if self.exact_size is not None:
            h, w = self.exact_size
            _require(h >= 16 and w >= 16, f"exact size must be at least 16x16 px, got {h}x{w}")
        for name in ("content_weight", "style_weight", "tv_weight", "init_noise_range"):
            value = getattr(self, name)
            _require(math.isfinite(value) and value >= 0, f"{_flag(name)} must be a number >= 0, got {value}")
        _require(
            math.isfinite(self.learning_rate) and self.learning_rate > 0,
            f"learning-rate must be > 0, got {self.learning_rate}",
        )
        _require(self.adam_epsilon > 0, f"adam epsilon must be > 0, got {self.adam_epsilon}")
        _require(self.pixel_scale > 0, f"pixel scale must be > 0, got {self.pixel_scale}")
        _require(0 <= self.init_noise_ratio <= 1, f"init noise ratio must be in [0, 1], got {self.init_noise_ratio}")
        _require(self.optimizer in OPTIMIZERS, f"unknown optimizer {self.optimizer!r}; choose from {OPTIMIZERS}")
        _require(self.precision in PRECISIONS, f"unknown precision {self.precision!r}; choose from {PRECISIONS}")
        _require(self.pooling in POOLINGS, f"unknown pooling {self.pooling!r}; choose from {POOLINGS}")
        _require(self.pool_padding in ("valid", "same"), f"unknown pool padding {self.pool_padding!r}")
        _require(self.device in DEVICES, f"unknown device {self.device!r}; choose from {DEVICES}")
        _require(
            self.input_preprocessing in PREPROCESSING,
            f"unknown input preprocessing {self.input_preprocessing!r}; choose from {PREPROCESSING}",
        )
        _require(
            self.imagenet_layout in (None, "matconvnet", "keras", "torchvision"),
            f"unknown imagenet layout {self.imagenet_layout!r}; choose matconvnet, keras or torchvision",
        )
        _require(bool(self.init), "init must not be empty")
        _require(self.mode in MODES, f"unknown mode {self.mode!r}; choose from {', '.join(MODES)}")
        _require(
            math.isfinite(self.style_scale) and 0.05 <= self.style_scale <= 8,
            f"style-scale must be between 0.05 and 8, got {self.style_scale}",
        )
        _require(
            self.preserve_colors in (None, *COLOR_MODES),
            f"unknown preserve-colors {self.preserve_colors!r}; choose from {', '.join(COLOR_MODES)}",
        )
        _require(self.seed is None or 0 <= self.seed < 2**32, f"seed must be between 0 and 2**32 - 1, got {self.seed}")
        _require(1 <= self.scales <= 6, f"scales must be between 1 and 6, got {self.scales}")
        if self.max_memory is not None:
            from nst_tf.perf.tiling import parse_memory  # a shared room, imports no TensorFlow

            parse_memory(self.max_memory)
        self._validate_conventions()
        if self.scales > 1:
            smallest = self.image_size / 2 ** (self.scales - 1)
            _require(smallest >= 16, f"{self.scales} scales from {self.image_size} px start below 16 px")
        keras_layer_name(self.content_layer)
        _require(len(self.style_layers) > 0, "at least one style layer is needed")
        seen = set()
        for layer, weight in self.style_layers:
            key = keras_layer_name(layer)
            _require(key not in seen, f"style layer {layer!r} is listed twice")
            seen.add(key)
            _require(math.isfinite(weight) and weight >= 0, f"style layer weight must be >= 0, got {weight}")
        _require(sum(w for _, w in self.style_layers) > 0, "style layer weights must not all be zero")
        return self

    def _validate_conventions(self) -> None:
        """The cost conventions and the learning-rate schedule."""
        for name, choices in (
            ("content_cost_form", CONTENT_FORMS),
            ("style_cost_form", STYLE_FORMS),
            ("gram_normalisation", GRAM_NORMALISATIONS),
            ("tv_form", TV_FORMS),
            ("feature_tap", FEATURE_TAPS),
        ):
            value = getattr(self, name)
            _require(value in choices, f"unknown {_flag(name)} {value!r}; choose from {', '.join(choices)}")
        if self.lr_decay_at is not None:
            _require(self.lr_decay_at >= 1, f"lr-decay-at must be at least 1, got {self.lr_decay_at}")
        _require(
            math.isfinite(self.decayed_learning_rate) and self.decayed_learning_rate > 0,
            f"decayed-learning-rate must be > 0, got {self.decayed_learning_rate}",
        )

    def resolved(self) -> Config:
        """The configuration a run really uses: the mode's rules applied on top of the settings.

        "texture" drops the content term (α = 0) and "invert" the style term (β = 0); both start from
        noise unless an init other than "content" or "recoloured" (the default) was asked for.
        """
        changes: dict = {}
        if self.mode == "texture":
            changes["content_weight"] = 0.0
        elif self.mode == "invert":
            changes["style_weight"] = 0.0
        if self.mode != "transfer" and self.init in DETERMINISTIC_INITS:
            changes["init"] = "noise"
        return dataclasses.replace(self, **changes).validated() if changes else self.validated()

    @property
    def style_layer_weights(self) -> dict[str, float]:
        """Style layers as {keras_name: λ_l}, in the configured order."""
        return {keras_layer_name(name): float(w) for name, w in self.style_layers}

    @property
    def content_layer_key(self) -> str:
        """The content layer's Keras name."""
        return keras_layer_name(self.content_layer)

    @classmethod
    def from_dict(cls, data: dict) -> Config:
        """The inverse of `to_dict` (config.json's "config"), validated."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ConfigError(f"unknown settings {', '.join(sorted(unknown))}")
        data = dict(data)
        data["style_layers"] = tuple((str(name), float(w)) for name, w in data.get("style_layers", ()))
        if data.get("exact_size") is not None:
            data["exact_size"] = tuple(data["exact_size"])
        return cls(**data).validated()

    def to_dict(self) -> dict:
        """A JSON-ready dict of every setting (for config.json)."""
        data = dataclasses.asdict(self)
        data["style_layers"] = [[name, w] for name, w in self.style_layers]
        data["exact_size"] = list(self.exact_size) if self.exact_size else None
        return data


def parse_style_layers(text: str) -> LayerWeights:
    """Parse `conv1_1,conv2_1` (equal weights summing to 1) or `conv1_1:0.5,conv2_1:0.5`.

    Raises:
        ConfigError: on an empty list, a bad weight or an unknown layer name.
    """
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ConfigError("style-layers must name at least one layer")
    pairs: list[tuple[str, float]] = []
    for item in items:
        name, _, weight_text = item.partition(":")
        keras_layer_name(name)
        if weight_text:
            try:
                weight = float(weight_text)
            except ValueError:
                raise ConfigError(f"bad style layer weight {weight_text!r} in {item!r}") from None
        else:
            weight = 1.0 / len(items)
        pairs.append((name.strip(), weight))
    return tuple(pairs)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _flag(attribute: str) -> str:
    return attribute.replace("_", "-")
