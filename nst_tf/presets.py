"""The presets: each source's recipe as an instance of the one frozen `Config`, and `preset(name)`.

`default` is this project's own choice (README "Presets" says why); `course` and `course-tf2` are the
deep-learning course's two notebooks; `pytorch-tutorial`, `mastering-pytorch` and `cs231n` the other
recipes, each number with where it comes from. Flags override a preset field by field (nst_tf.cli.settings
reads these instances for `--help`). No TensorFlow import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nst_tf.config import PAPER_STYLE_LAYERS, Config
from nst_tf.errors import ConfigError

if TYPE_CHECKING:
    from nst_tf.vgg.weights.base import Preprocessing, VGGWeights

# --- presets -----------------------------------------------------------------------------------------

# Tuned for good pictures on a laptop CPU on ImageNet VGG16 (`auto` without a VGG19 file); the README
# explains each choice. Unlike every source, each cost term is relative to its target's own size
# ("relative" forms, nst_tf.losses.costs), so α = 1, β = 5 mean the same for any weights file, layer and
# picture size (chosen by looking at tubingen/starry night, golden gate/the scream and chelsea/ihc: α/β from
# 0.1, strong style, to 0.5, mostly photo). The start is the content picture itself, not noise, and the
# optimizer 100 L-BFGS-B iterations, chosen by measurement (benchmarks/README.md).
DEFAULT = Config()

# What the default preset does with `--optimizer adam` (and no --iterations / --snapshot-every): 300 steps
# of 0.02 in [0, 1] units (about 5 grey levels), the count that gives a finished picture with Adam.
DEFAULT_ADAM = {"iterations": 300, "snapshot_every": 50}

# The TF1 course notebook (the design card's recipe): MatConvNet/ImageNet VGG19, average pooling,
# 400x300, conv4_2 content, Adam(2.0) on 0-255 pixels, 0.6 noise blend, snapshots every 20 of 200 steps.
COURSE = Config(
    preset="course",
    precision="float32",  # the recipe promises exact numbers: no bfloat16, whatever the machine
    iterations=200,
    snapshot_every=20,
    image_size=400,
    exact_size=(300, 400),
    content_layer="conv4_2",
    style_layers=PAPER_STYLE_LAYERS,
    content_cost_form="course",  # stated: the default preset's terms are relative
    style_cost_form="course",
    content_weight=10.0,
    style_weight=40.0,
    optimizer="adam",  # stated, not inherited: the default preset's optimizer is L-BFGS
    learning_rate=2.0,
    adam_epsilon=1e-8,  # tf.train.AdamOptimizer's default
    pixel_scale=255.0,
    clip_every_step=False,  # the TF1 notebook clips only when it saves a picture
    init="blend",
    init_noise_ratio=0.6,
    init_noise_range=20.0 / 255.0,  # np.random.uniform(-20, 20) on 0-255 pixels
    pooling="avg",
    pool_padding="same",  # nst_utils: tf.nn.avg_pool(..., padding='SAME'); 75 px -> 38, not 37
    weights="imagenet",
    imagenet_layout="matconvnet",
    strict_weights=True,
)

# The TF2 notebook: Keras VGG19 notop, max pooling, 400x400, block5_conv4 content, RGB in [0, 1] fed
# to VGG unnormalised (the notebook's quirk), Adam(0.01), content + U(-0.25, 0.25), 2501 steps.
COURSE_TF2 = Config(
    preset="course-tf2",
    precision="float32",  # the recipe promises exact numbers: no bfloat16, whatever the machine
    iterations=2501,
    snapshot_every=250,
    image_size=400,
    exact_size=(400, 400),
    content_layer="block5_conv4",
    style_layers=tuple((f"block{b}_conv1", 0.2) for b in range(1, 6)),
    content_cost_form="course",  # stated: the default preset's terms are relative
    style_cost_form="course",
    content_weight=10.0,
    style_weight=40.0,
    optimizer="adam",
    learning_rate=0.01,
    adam_epsilon=1e-7,  # Keras Adam's default
    pixel_scale=1.0,
    clip_every_step=True,
    init="content+noise",
    init_noise_range=0.25,
    pooling="max",
    weights="imagenet",
    imagenet_layout="keras",
    input_preprocessing="none",
    seed=272,
    strict_weights=True,
)

# The other sources' recipes (README "Presets" says where each number comes from). The two PyTorch recipes
# count convolutions: their conv_1 ... conv_5 are conv1_1, conv1_2, conv2_1, conv2_2, conv3_1 and conv_4 is
# conv2_2, not the paper's layers; their loss modules sit right after each nn.Conv2d, before its ReLU.
COUNTED_CONVS = ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1")
_PYTORCH_COSTS = {"content_cost_form": "mse", "style_cost_form": "mse", "gram_normalisation": "size"}

# The PyTorch tutorial "Neural Transfer Using PyTorch": torchvision's VGG19 (its ImageNet mean/std comes
# with the weights), optim.LBFGS with its defaults for 300 closure calls, the picture clamped in each call.
PYTORCH_TUTORIAL = Config(
    preset="pytorch-tutorial",
    precision="float32",  # the recipe promises exact numbers: no bfloat16, whatever the machine
    iterations=300,  # closure calls, one Step each
    snapshot_every=50,
    image_size=128,  # 512 on a GPU (--image-size 512), 128 on a CPU
    content_layer="conv2_2",  # ['conv_4']
    style_layers=tuple((name, 1.0) for name in COUNTED_CONVS),  # ['conv_1' ... 'conv_5'], summed
    content_weight=1.0,
    style_weight=1e6,
    optimizer="torch-lbfgs",
    init="content",
    pooling="max",
    weights="imagenet",
    imagenet_layout="torchvision",
    strict_weights=True,
    feature_tap="conv",
    **_PYTORCH_COSTS,
)

# "Mastering PyTorch", neural style transfer chapter: VGG19 with average pooling, fed ToTensor's [0, 1]
# RGB without normalisation, Adam(0.1) from torch.randn, clamped to [0, 1] every epoch.
MASTERING_PYTORCH = Config(
    preset="mastering-pytorch",
    precision="float32",  # the recipe promises exact numbers: no bfloat16, whatever the machine
    iterations=180,  # the chapter's epochs (its repository's notebook runs 300)
    snapshot_every=50,
    image_size=128,
    content_layer="conv2_2",  # layers {1: 's', 2: 's', 3: 's', 4: 'sc', 5: 's'}
    style_layers=tuple((name, 1.0) for name in COUNTED_CONVS),
    content_weight=1.0,
    style_weight=1e6,
    optimizer="adam",
    learning_rate=0.1,
    adam_epsilon=1e-8,  # torch's default
    init="gaussian",
    pooling="avg",
    weights="imagenet",
    imagenet_layout="torchvision",
    input_preprocessing="none",
    strict_weights=True,
    feature_tap="conv",
    **_PYTORCH_COSTS,
)

# The cs231n assignment's first run. Its SqueezeNet 1.1 layers (features 3 content; 1, 4, 6, 7 style) are
# stood in for by VGG19 layers at the same resolution: 1 (1/2) conv2_1, 3 and 4 (1/4) conv3_1 and conv3_2,
# 6 and 7 (1/8) conv4_1 and conv4_2. It optimises the normalised picture: one unit is one ImageNet std
# (0.226, the three channels' mean, stands in for per-channel ones); it clamps to ±1.5 std before step 190,
# this preset to the valid range every step.
CS231N = Config(
    preset="cs231n",
    precision="float32",  # the recipe promises exact numbers: no bfloat16, whatever the machine
    iterations=200,
    snapshot_every=100,
    image_size=192,
    style_scale=512 / 192,  # style_size 512
    content_layer="conv3_1",
    style_layers=(("conv2_1", 20000.0), ("conv3_2", 500.0), ("conv4_1", 12.0), ("conv4_2", 1.0)),
    content_weight=5e-2,
    style_weight=1.0,  # the layer weights carry it
    tv_weight=5e-2,
    optimizer="adam",
    learning_rate=3.0,
    lr_decay_at=180,  # a new Adam with lr 0.1
    decayed_learning_rate=0.1,
    adam_epsilon=1e-8,
    pixel_scale=1 / 0.226,
    init="content",
    pooling="max",
    weights="imagenet",
    strict_weights=True,
    content_cost_form="sum",
    style_cost_form="sum",
    gram_normalisation="size",
    tv_form="sum",
)

# What a run of a preset says on stderr (where it departs from its source in a way the user must know).
PRESET_NOTES = {"cs231n": "cs231n preset: VGG19 conv3_1 stands in for SqueezeNet 1.1 features[3] (content), "
                "conv2_1, conv3_2, conv4_1, conv4_2 for features[1, 4, 6, 7] (style)"}  # fmt: skip
# The network input's scale each recipe's cost weights were set for (Preprocessing.scale / its std): torchvision's
# RGB / ImageNet std (1 / 0.226 on average) for the PyTorch tutorial and cs231n, MatConvNet's 0-255 for the TF1
# course; "mastering-pytorch" and "course-tf2" feed [0, 1] whatever the weights (input_preprocessing "none").
SOURCE_INPUT_SCALES = {"pytorch-tutorial": 1 / 0.226, "cs231n": 1 / 0.226, "course": 255.0}
# Beyond this factor between the source's input scale and the weights' the balance is another recipe's: the
# features grow about linearly with the input (ReLU networks; the biases make it approximate), a content cost as
# its square and a Gram cost as its fourth power, so β/α moves by the factor squared (4x at 2).
INPUT_SCALE_TOLERANCE = 2.0


def preset_notes(config: Config, weights: VGGWeights, preprocessing: Preprocessing) -> list[str]:
    """The lines a run of `config`'s preset says on stderr, on `weights` fed through `preprocessing`.

    The cs231n stand-ins' note on VGG weights; and, for a recipe run on trained weights whose input is at another
    scale than its source's (the PyTorch tutorial on `imagenet-vgg16`'s 0-255 pixels: about 57x torchvision's),
    unless --style-weight was changed, how far the recipe's balance moved and the style weight that undoes it (an
    estimate from the input alone: the trained layers' gains differ too, so it is where to start looking).
    The numbers stay the recipe's: a preset reproduces its source, and the note says what to change.
    """
    stand_ins = config.preset in PRESET_NOTES and weights.architecture != "squeezenet1_1"  # SqueezeNet: the source's
    notes = [PRESET_NOTES[config.preset]] if stand_ins else []
    source = SOURCE_INPUT_SCALES.get(config.preset) if config.input_preprocessing != "none" else None
    if source is None or weights.source == "random" or config.style_weight != PRESETS[config.preset].style_weight:
        return notes  # random weights were trained on no input scale: no balance to keep
    ratio = preprocessing.input_scale / source
    if not 1 / INPUT_SCALE_TOLERANCE <= ratio <= INPUT_SCALE_TOLERANCE:
        factor, larger = max(ratio, 1 / ratio), ratio > 1
        notes.append(
            f"{config.preset} preset: its style weight {config.style_weight:g} was set for a network input "
            f"{factor:.3g}x {'smaller' if larger else 'larger'} than these weights take, so style weighs about "
            f"{factor**2:.3g}x {'more' if larger else 'less'} than in the recipe; "
            f"--style-weight {config.style_weight / ratio**2:.3g} undoes that factor"
        )
    return notes


PRESETS: dict[str, Config] = {
    "default": DEFAULT,
    "course": COURSE,
    "course-tf2": COURSE_TF2,
    "pytorch-tutorial": PYTORCH_TUTORIAL,
    "mastering-pytorch": MASTERING_PYTORCH,
    "cs231n": CS231N,
}


def preset(name: str, optimizer: str | None = None) -> Config:
    """Return the preset called `name`, for `optimizer` when one is named.

    The default preset's step counts are L-BFGS's; with `optimizer="adam"` it takes Adam's own
    (`DEFAULT_ADAM`). The other presets are recipes and keep their counts whatever the optimizer.

    Raises:
        ConfigError: for an unknown name.
    """
    try:
        base = PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}") from None
    if base is DEFAULT and optimizer == "adam":
        base = base.replace(optimizer="adam", **DEFAULT_ADAM)
    return base
