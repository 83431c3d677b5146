"""What ner_bert takes as a word or a text: a ``str`` every tokenizer can read.

Private: the one home of the rule, applied where words and texts enter (``TaggedSentence``,
so every reader, the datasets reader and the predictor). Pure Python, like the rest of the
base layer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .errors import DataFormatError, InputTypeError

__all__ = ["check_sequence", "check_strings", "check_text"]


def check_text(value: object, name: str) -> None:
    """Raise unless ``value`` is a ``str`` without lone surrogates.

    A lone surrogate (``"\\udc80"``, what ``errors="surrogateescape"`` leaves for a byte that is
    not UTF-8) cannot be encoded, so the Rust tokenizer would fail on it with a TypeError that
    names no sentence.

    Args:
        value: The word or text.
        name: What it is, for the message, e.g. ``"texts[3]"`` or ``"train.jsonl:5: word 2"``.

    Raises:
        InputTypeError: ``value`` is not a ``str``.
        DataFormatError: ``value`` holds a lone surrogate.
    """
    if type(value) is str and value.isascii():
        return
    if not isinstance(value, str):
        shown = "" if value is None else " " + repr(value)[:40]
        raise InputTypeError(f"{name} is {type(value).__name__}{shown}; expected a str.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise DataFormatError(
            f"{name} holds a lone surrogate {value[error.start]!r} at character {error.start} "
            f"(in {value[max(0, error.start - 20) : error.start + 20]!r}), which is not text "
            "a tokenizer can read; it usually comes from bytes decoded with "
            "errors='surrogateescape'. Decode the input strictly, or replace them: "
            "text.encode('utf-8', 'replace').decode('utf-8')."
        ) from None


def check_strings(values: Iterable[object], name: Callable[[int], str]) -> None:
    """Apply :func:`check_text` to each value; ``name(index)`` names the bad one."""
    for index, value in enumerate(values):
        check_text(value, name(index))


def check_sequence(value: object, name: str, example: str) -> None:
    """Raise unless ``value`` is a list-like of items, not one string (which would iterate
    into characters) nor a scalar.

    Raises:
        InputTypeError: ``value`` is a ``str``/``bytes`` or not iterable.
    """
    if isinstance(value, (str, bytes)):
        raise InputTypeError(
            f"{name} is a {type(value).__name__}, which would be read character by character; "
            f"expected a list, e.g. {example}."
        )
    if not isinstance(value, Iterable):
        raise InputTypeError(f"{name} is {type(value).__name__}; expected a list, e.g. {example}.")
