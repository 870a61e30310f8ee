"""Every family's settings dataclass generates its command's flags (nst_tf.cli.settings): the flags are the
ones the commands had before the settings moved into dataclasses (issue 22), each default lives in one
place (the dataclass), and every settings class refuses nonsense with the same verb, `validate()`."""

from __future__ import annotations

import dataclasses

import pytest

from nst_tf.audio.transfer import AudioConfig
from nst_tf.cli.main import build_parser
from nst_tf.cli.settings import settings_from_args
from nst_tf.config import Config
from nst_tf.errors import ConfigError
from nst_tf.feedforward.settings import ApplySettings, TrainSettings
from nst_tf.universal.settings import DecoderTraining, UniversalSettings

# The flags of each command before the change, as `python -m nst_tf COMMAND --help` listed them.
# The flags each command had before its settings became dataclasses (issue 22), plus the ones added since
# on purpose: --precision on apply, universal, train, universal-train and audio (issue 25), --max-memory and
# --tile (issue 26), --augment-styles on universal-train (issue 25).
FLAGS_BEFORE = {
    "train": "--batch --checkpoint-every --content-weight --data --generator --image-size --learning-rate "
    "--mixed-precision --no-tb --photo-size --precision --resume --sample-every --sample-size --samples --seed "
    "--steps --strategy --style-licence --style-size --style-weight --tv-weight --weights --width -h,--help "
    "-o,--output -q,--quiet",
    "universal-train": "--augment-styles --batch --checkpoint-dir --crop --crops-per-photo --data --feature-weight "
    "--init --learning-rate --level --log-every --mode --name --no-tb --precision --steps --style-weight --styles "
    "--width -h,--help -o,--output",
    "universal": "--alpha --image-size --json --levels --mask --max-memory --method --overwrite --precision "
    "--preserve-colors --run-dir --style-size --tile --weights-mix -h,--help -o,--output",
    "apply": "--batch --image-size --json --max-memory --overwrite --precision --preserve-colors --tile -h,--help "
    "-o,--output",
    "audio": "--content-weight --duration --filters --griffin-lim-iterations --iterations --kernel-width "
    "--learning-rate --mode --n-fft --no-tb --optimizer --overwrite --precision --seed --style-weight -h,--help "
    "-o,--output -q,--quiet",
}
# Where a command's settings come from, and the positional arguments a parse needs.
FAMILIES = {
    "train": (TrainSettings, ["style.png", "--data", "photos", "-o", "m"], {"style": "s", "data": "d"}),
    "universal-train": (DecoderTraining, ["--data", "d", "--checkpoint-dir", "c", "-o", "o", "--name", "n"], {}),
    "universal": (UniversalSettings, ["content.png", "style.png"], {}),
    "apply": (ApplySettings, ["starry_night", "photo.png"], {}),
    "audio": (AudioConfig, ["a.wav", "-o", "out"], {}),
}


def _subparsers():
    parser = build_parser()
    return next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices


@pytest.mark.parametrize("command", sorted(FLAGS_BEFORE))
def test_each_command_keeps_its_flags(command):
    actions = _subparsers()[command]._actions
    flags = sorted(",".join(a.option_strings) for a in actions if a.option_strings)
    assert flags == sorted(FLAGS_BEFORE[command].split())


@pytest.mark.parametrize("command", sorted(FAMILIES))
def test_no_flags_give_the_dataclass_defaults(command):
    cls, argv, required = FAMILIES[command]
    args = build_parser().parse_args([command, *argv])
    made = settings_from_args(cls, args, **required)
    assert made == cls(**required)


def test_no_flag_states_its_default_twice():
    # run --help said "(default: what is free) (default: none)" for --max-memory: the field's own words, then
    # the preset table's None
    for name, sub in _subparsers().items():
        for action in sub._actions:
            assert (action.help or "").count("(default") <= 1, (name, action.option_strings, action.help)


def test_the_defaults_that_had_drifted_are_the_ones_users_got():
    # train --help said the TV weight defaults to 10 while TrainSettings used 100 (what training used);
    # universal-train's --batch defaulted to 4 and DecoderTraining to 8 (Python trained other decoders).
    help_text = _subparsers()["train"].format_help()
    assert TrainSettings("s", "d").tv_weight == 100.0 and "(default 100)" in " ".join(help_text.split())
    assert DecoderTraining().batch == 4


def test_flags_reach_the_settings():
    argv = ["universal", "c.png", "s.png", "t.png", "--method", "wct", "--levels", "4,3,2,1", "--weights-mix"]
    argv += ["0.7,0.3", "--mask", "m1.png", "m2.png", "--preserve-colors", "--alpha", "0.5"]
    made = settings_from_args(UniversalSettings, build_parser().parse_args(argv)).validate(styles=2)
    assert made.levels == (4, 3, 2, 1) and made.weights_mix == (0.7, 0.3) and made.mask == ("m1.png", "m2.png")
    assert made.preserve_colors == "post" and made.alpha == 0.5
    args = build_parser().parse_args(
        ["train", "s.png", "--data", "d", "-o", "m", "--mixed-precision", "--tv-weight", "5"]
    )
    made = settings_from_args(TrainSettings, args, style="s", data="d")
    assert made.mixed_precision is True and made.tv_weight == 5.0


@pytest.mark.parametrize(
    "made",
    [
        lambda: Config(iterations=0),
        lambda: TrainSettings("s", "d", width=-1),
        lambda: ApplySettings(batch=0),
        lambda: UniversalSettings(alpha=2.0),
        lambda: UniversalSettings(method="adain", levels=(4, 3)),
        lambda: DecoderTraining(mode="least-squares", level=2),
        lambda: AudioConfig(iterations=0),
    ],
)
def test_one_validation_verb_refuses_nonsense(made):
    with pytest.raises(ConfigError):
        made().validate()


def test_every_settings_class_is_frozen():
    for cls in (Config, TrainSettings, ApplySettings, UniversalSettings, DecoderTraining, AudioConfig):
        assert cls.__dataclass_params__.frozen, cls
        assert all("help" in f.metadata for f in dataclasses.fields(cls) if f.name not in ("style", "data"))
