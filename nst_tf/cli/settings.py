"""The setting flags, derived from the settings dataclasses' field metadata, and the settings a command asks for.

`add_setting_options(parser)` adds one flag per Config field that carries help text (see
`nst_tf.config.setting`): its name, type, choices and help come from the field, and its help shows the
value every preset gives it, so a default lives in one place. Flags default to None, meaning "the
preset's value"; `config_from_args` applies the flags the user gave on top of the chosen preset.
Used by `run`, `compare` and `bench`.

`add_dataclass_options(parser, cls)` and `settings_from_args(cls, args)` do the same for the other
families' settings (`TrainSettings`, `ApplySettings`, `UniversalSettings`, `DecoderTraining`,
`AudioConfig`), which have no presets: each flag's default is the field's default.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterable, Iterator

from nst_tf import config as config_module
from nst_tf.config import Config
from nst_tf.presets import DEFAULT_ADAM, PRESETS, preset


def setting_fields(names: Iterable[str] | None = None, cls: type = Config) -> Iterator[dataclasses.Field]:
    """A settings dataclass's fields that have a flag (all, or only those in `names`), in declaration order."""
    wanted = None if names is None else set(names)
    for field in dataclasses.fields(cls):
        if field.metadata.get("help") and (wanted is None or field.name in wanted):
            yield field


def flag_name(field: dataclasses.Field) -> str:
    """The flag of a setting field: its metadata's, else `--field-name`."""
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def show(value: object) -> str:
    """A setting's value as a user would type it on the command line."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):  # style layers
        return ",".join(f"{name}:{weight:g}" for name, weight in value)
    if isinstance(value, tuple):  # exact size (height, width)
        return f"{value[1]}x{value[0]}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def defaults_text(name: str) -> str:
    """`default: 100; --optimizer adam: 300; course: 200; course-tf2: 2501` for --help."""
    default = getattr(PRESETS["default"], name)
    parts = [f"default: {show(default)}"]
    if name in DEFAULT_ADAM:
        parts.append(f"with --optimizer adam: {show(DEFAULT_ADAM[name])}")
    for preset_name, recipe in PRESETS.items():
        value = getattr(recipe, name)
        if preset_name != "default" and value != default:
            parts.append(f"preset {preset_name}: {show(value)}")
    return "; ".join(parts)


def _parser_for(field: dataclasses.Field, cls: type = Config):
    """The function turning a flag's text into the field's value: a builtin, or a parser in cls's module."""
    kind = field.metadata["parse"]
    builtin = {"int": int, "float": float, "str": str}
    return builtin.get(kind) or getattr(sys.modules[cls.__module__], kind, None) or getattr(config_module, kind)


def add_setting_options(parser: argparse.ArgumentParser, names: Iterable[str] | None = None) -> None:
    """Add --preset and the setting flags (all, or those of the fields in `names`) to `parser`."""
    group = parser.add_argument_group("settings (each overrides the preset's value)")
    group.add_argument("--preset", choices=list(PRESETS), help="starting recipe (default: default)")
    for field in setting_fields(names):
        meta = field.metadata
        said = "(default" in meta["help"]  # a help that names its default itself (--max-memory: what is free)
        help_text = (meta["help"] if said else f"{meta['help']} ({defaults_text(field.name)})").replace("%", "%%")
        if meta["parse"] == "bool":
            group.add_argument(
                flag_name(field), dest=field.name, action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
            continue
        group.add_argument(
            flag_name(field),
            dest=field.name,
            type=_parser_for(field) if meta["parse"] in ("int", "float", "str") else str,
            choices=meta["choices"],
            metavar=meta["metavar"],
            help=help_text,
        )


def config_from_args(args: argparse.Namespace, names: Iterable[str] | None = None) -> Config:
    """The preset, with every setting flag the user gave (of the fields in `names`, default all) applied on
    top, validated and resolved.

    Raises:
        ConfigError: an unknown preset, a value that does not parse, or a setting out of range.
    """
    base = preset(getattr(args, "preset", None) or "default", getattr(args, "optimizer", None))
    changes: dict = {}
    for field in setting_fields(names):
        value = getattr(args, field.name, None)
        if value is None:
            continue
        for cleared in field.metadata["clears"]:  # fields come in order: --size (after) wins over this
            changes.setdefault(cleared, None)
        if field.metadata["parse"] not in ("int", "float", "str", "bool"):  # text parsed by a config helper
            value = _parser_for(field)(value)
        changes[field.name] = value
    return base.replace(**changes).resolved()


def add_dataclass_options(parser, cls: type, names: Iterable[str] | None = None) -> None:
    """Add a flag for each field of the settings dataclass `cls` that has help text (or those in `names`).

    Each flag's default is the field's default, shown in its help; "switch" fields are on-only flags.
    """
    for field in setting_fields(names, cls):
        meta = field.metadata
        default = field.default
        help_text = meta["help"]
        if default not in (None, False) and "default" not in help_text:
            help_text += f" (default {show(default)})"
        options: dict = {"dest": field.name, "default": default, "help": help_text.replace("%", "%%")}
        if meta["parse"] == "switch":
            options["action"] = "store_true"
        elif meta["parse"] == "bool":
            options["action"] = argparse.BooleanOptionalAction
        else:
            builtin = meta["parse"] in ("int", "float", "str")
            options.update(type=_parser_for(field, cls) if builtin else str, choices=meta["choices"])
            options.update({k: meta[k] for k in ("metavar", "nargs", "const") if meta.get(k) is not None})
        parser.add_argument(flag_name(field), **options)


def settings_from_args(cls: type, args: argparse.Namespace, **values):
    """`cls` built from the flags `add_dataclass_options` added (and `values` for fields without one),
    not yet validated.

    Raises:
        ConfigError: a flag's text that its field's parser refuses.
    """
    for field in setting_fields(None, cls):
        if field.name in values or not hasattr(args, field.name):
            continue
        value = getattr(args, field.name)
        if isinstance(value, str) and field.metadata["parse"] not in ("int", "float", "str"):
            value = _parser_for(field, cls)(value)
        elif isinstance(value, list):
            value = tuple(value)
        values[field.name] = value
    return cls(**values)
