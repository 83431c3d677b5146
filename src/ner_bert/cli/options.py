"""``ner-bert train`` options: flags generated from :class:`~ner_bert.config.TrainingConfig`,
TOML config files read and written.

Every ``TrainingConfig`` field becomes a flag (``learning_rate`` -> ``--learning-rate``) whose
type, choices and help come from the dataclass itself, so the command line cannot drift from
the library. A config file is flat TOML: the run keys (:data:`RUN_KEYS`) and any training
field; the command line overrides the file. ``training.toml`` written next to a trained model
is such a file, so ``ner-bert train --config model/training.toml`` trains again.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import enum
import inspect
import json
import math
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataNotFoundError

__all__ = [
    "DATA_FORMATS",
    "RUN_KEYS",
    "TRAINING_ARGS_KEY",
    "add_training_options",
    "dump_toml",
    "load_toml",
    "positive_int",
    "resolve_train_options",
    "training_args",
]

RUN_KEYS = ("model", "train", "dev", "test", "dataset", "format")
DATA_FORMATS = ("conll", "jsonl", "label-studio", "spacy")
"""Values of ``--format`` / ``format = ...``: the reader of the data files."""
"""Keys of a config file that are not training options: what to fine-tune, on which data."""
TRAINING_ARGS_KEY = "training_args"
"""A TOML table of ``transformers.TrainingArguments`` fields (``[training_args]``)."""
_PATH_KEYS = ("train", "dev", "test")
_PATH_FIELDS = ("output_dir", "checkpoint_dir")
_ALIASES = {"output_dir": ("--output", "DIR"), "overwrite_output_dir": ("--overwrite", None)}
"""Training fields with a shorter flag than their name (``--output`` for ``output_dir``,
``--overwrite`` for ``overwrite_output_dir``)."""
_SAME_FLAGS = {"progress_bar": ("--progress",)}
"""Second spellings of a flag: ``--progress``/``--no-progress``, as ``predict`` says it."""
_DEST = "training_option."
_NONE_WORDS = ("none", "null")


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """Add one flag per ``TrainingConfig`` field (absent flags leave the field unset)."""
    from ..config import TrainingConfig

    hints = typing.get_type_hints(TrainingConfig)
    docs = _attribute_docs(TrainingConfig.__doc__ or "")
    defaults = TrainingConfig()
    group = parser.add_argument_group("training options (TrainingConfig fields; default shown)")
    taken = set(parser._option_string_actions)
    for field in dataclasses.fields(TrainingConfig):
        if not field.init:
            continue
        flag, metavar = _ALIASES.get(field.name, ("--" + field.name.replace("_", "-"), None))
        if flag in taken:  # pragma: no cover - a field named like a run option
            flag = "--training-" + field.name.replace("_", "-")
        base, optional, sequence = _unwrap(hints[field.name])
        default = _toml_value(getattr(defaults, field.name))
        help_ = docs.get(field.name, field.name.replace("_", " ")).replace("``", "")
        help_ = f"{help_} [{json.dumps(default) if default is not None else 'none'}]"
        kwargs: dict[str, Any] = {"dest": _DEST + field.name, "default": argparse.SUPPRESS}
        if base is bool and not sequence:
            flags = (flag, *_SAME_FLAGS.get(field.name, ()))
            group.add_argument(*flags, action=argparse.BooleanOptionalAction, help=help_, **kwargs)
            continue
        choices = _choices(base)
        if metavar is not None:
            kwargs["metavar"] = metavar
        elif choices is not None:
            kwargs["metavar"] = "{" + ",".join(choices) + "}"
        else:
            kwargs["metavar"] = {int: "N", float: "X"}.get(base, "TEXT")
        kwargs["type"] = _converter(field.name, base, optional=optional, choices=choices)
        if sequence:
            kwargs["nargs"] = "+"
        group.add_argument(flag, help=help_.replace("%", "%%"), **kwargs)


def resolve_train_options(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """Merge ``--config`` and the command line: ``(run options, TrainingConfig)``."""
    from ..config import TrainingConfig

    run: dict[str, Any] = dict.fromkeys(RUN_KEYS)
    training: dict[str, Any] = {}
    if args.config is not None:
        file_run, training = load_toml(args.config)
        run.update(file_run)
    for key in RUN_KEYS:
        value = getattr(args, key, None)
        if value is not None:
            run[key] = value
    for dest, value in vars(args).items():
        if dest.startswith(_DEST):
            training[dest[len(_DEST) :]] = value
    # A bar only on a terminal: in a log file it is a line of carriage returns.
    training.setdefault("progress_bar", sys.stderr.isatty())
    from_dict = getattr(TrainingConfig, "from_dict", None)
    config = from_dict(training) if from_dict is not None else TrainingConfig(**training)
    return run, config


def load_toml(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a config file: ``(run options with paths resolved, training options)``.

    Relative paths are relative to the file's folder. Unknown keys are a
    :class:`~ner_bert.errors.ConfigError` that lists the valid ones.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise ConfigError(
                f"{path}: reading TOML needs Python 3.11+ or the tomli package (pip install tomli)."
            ) from None
    from ..config import TrainingConfig

    if not path.is_file():
        raise DataNotFoundError(f"--config {path}: no such file (cwd is {Path.cwd()}).")
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML: {error}.") from None
    hints = typing.get_type_hints(TrainingConfig)
    fields = [f.name for f in dataclasses.fields(TrainingConfig) if f.init]
    valid = [*RUN_KEYS, *fields, TRAINING_ARGS_KEY]
    run: dict[str, Any] = {}
    training: dict[str, Any] = {}
    for key, value in values.items():
        if key == TRAINING_ARGS_KEY and key in valid:
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: {key} must be a table ([{key}]), got {value!r}.")
            run[key] = value
            continue
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{path}: unknown key {key!r}.{hint} Valid keys: {', '.join(valid)}.")
        if key in RUN_KEYS:
            if not isinstance(value, str):
                raise ConfigError(f"{path}: {key} must be a string, got {value!r}.")
            if key in _PATH_KEYS:
                run[key] = path.parent / value
            elif key in ("model", "dataset") and (path.parent / value).exists():
                run[key] = str(path.parent / value)
            else:
                run[key] = value
        else:
            base, optional, sequence = _unwrap(hints[key])
            if optional and isinstance(value, str) and value.lower() in _NONE_WORDS:
                value = None
            elif key in _PATH_FIELDS and isinstance(value, str):
                value = str(path.parent / value)
            elif base is float and not sequence and isinstance(value, int):
                value = float(value)
            training[key] = value
    if run.get("format") not in (None, *DATA_FORMATS):
        raise ConfigError(
            f"{path}: format must be one of {list(DATA_FORMATS)}, got {run['format']!r}."
        )
    return run, training


def training_args(args: argparse.Namespace, run: dict[str, Any]) -> dict[str, Any]:
    """The ``TrainingArguments`` fields of a ``train`` command: the config file's
    ``[training_args]`` table, then ``--report-to``, ``--eval-steps`` and ``--training-arg``.

    Raises:
        ConfigError: A ``--training-arg`` that is not ``KEY=VALUE``.
    """
    out: dict[str, Any] = dict(run.get(TRAINING_ARGS_KEY) or {})
    if getattr(args, "report_to", None):
        out["report_to"] = list(args.report_to)
    if getattr(args, "eval_steps", None):
        out.update(eval_strategy="steps", eval_steps=args.eval_steps)
    for item in getattr(args, "training_arg", None) or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--training-arg {item!r}: expected KEY=VALUE.")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        out[key.strip()] = value
    return out


def dump_toml(run: dict[str, Any], config: Any) -> str:
    """The options as a config file that ``--config`` reads back to the same options.

    Paths are written absolute; unset values are written as comments.
    """
    lines = ["# ner-bert train --config FILE: run options, then TrainingConfig fields.\n"]
    for key in RUN_KEYS:
        value = run.get(key)
        if value is not None and (key in _PATH_KEYS or Path(str(value)).exists()):
            value = str(Path(value).resolve())
        lines.append(_toml_line(key, value))
    lines.append("\n# training options\n")
    defaults = type(config)()
    for field in dataclasses.fields(config):
        if field.init:
            value = _toml_value(getattr(config, field.name))
            if field.name in _PATH_FIELDS and value is not None:
                value = str(Path(value).resolve())
            if value is None and getattr(defaults, field.name) is not None:
                value = "none"  # TOML has no null; load_toml reads "none" back as None
            lines.append(_toml_line(field.name, value))
    extra = run.get(TRAINING_ARGS_KEY)
    if extra:
        lines.append(f"\n[{TRAINING_ARGS_KEY}]  # transformers.TrainingArguments fields\n")
        lines += [_toml_line(key, _toml_value(value)) for key, value in extra.items()]
    return "".join(lines)


def _toml_line(key: str, value: Any) -> str:
    if value is None:
        return f"# {key} = (not set)\n"
    return f"{key} = {_toml_literal(value)}\n"


def _toml_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_literal(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a TOML basic string


def _toml_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [_toml_value(v) for v in value]
    return value


def _unwrap(hint: Any) -> tuple[Any, bool, bool]:
    """``(base type, accepts None, is a sequence)`` of a field's annotation."""
    optional = False
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(members) < len(typing.get_args(hint))
        hint = members[0] if len(members) == 1 else str
        origin = typing.get_origin(hint)
    if origin in (list, tuple, typing.Sequence) or str(origin).endswith("Sequence'>"):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return (args[0] if args else str), optional, True
    if origin is typing.Literal:
        return hint, optional, False
    return hint, optional, False


def _choices(base: Any) -> list[str] | None:
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return [str(member.value) for member in base]
    if typing.get_origin(base) is typing.Literal:
        return [str(value) for value in typing.get_args(base)]
    return None


def _converter(
    name: str, base: Any, *, optional: bool, choices: list[str] | None
) -> typing.Callable[[str], Any]:
    def convert(text: str) -> Any:
        if optional and text.lower() in _NONE_WORDS:
            return None
        if choices is not None:
            if text not in choices:
                raise argparse.ArgumentTypeError(
                    f"invalid choice {text!r} (choose from {', '.join(choices)})"
                )
            return text
        target = base if base in (int, float, bool, str) else str
        try:
            if target is bool:
                return {"true": True, "false": False}[text.lower()]
            return target(text)
        except (ValueError, KeyError):
            kind = {int: "an integer", float: "a number", bool: "true or false"}[target]
            none = " or 'none'" if optional else ""
            raise argparse.ArgumentTypeError(f"expected {kind}{none}, got {text!r}") from None

    convert.__name__ = name  # argparse names the option's type in errors
    return convert


_ATTRIBUTE = re.compile(r"(\w+)(?: \([^)]*\))?:\s*(.*)")


def _attribute_docs(doc: str) -> dict[str, str]:
    """``{field: first sentence}`` from the Google-style ``Attributes:`` of a docstring."""
    lines = inspect.cleandoc(doc).splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == "Attributes:"]
    if not starts:
        return {}
    docs: dict[str, str] = {}
    base: int | None = None
    current: str | None = None
    for line in lines[starts[0] + 1 :]:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0 or (base is not None and indent < base):
            break  # the next section (Example:, Raises:)
        base = indent if base is None else base
        match = _ATTRIBUTE.fullmatch(line.strip()) if indent == base else None
        if match:
            current = match.group(1)
            docs[current] = match.group(2)
        elif current is not None:
            docs[current] += " " + line.strip()
    return {key: _first_sentence(value) for key, value in docs.items()}


def _first_sentence(text: str) -> str:
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def positive_int(value: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number
