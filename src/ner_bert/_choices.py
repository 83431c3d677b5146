"""Closed option sets: parse a ``str`` enum value once, at the boundary (STYLE habit 5)."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from .errors import ConfigError

__all__ = ["parse_choice"]

_E = TypeVar("_E", bound=Enum)


def parse_choice(enum: type[_E], name: str, value: object, *, where: str = "") -> _E:
    """Return the member of ``enum`` whose value matches ``value`` (case-insensitive).

    Raises:
        ConfigError: ``value`` is not one of the choices; the message names the option and
            lists every choice.

    Example:
        >>> from ner_bert.labels import TagScheme
        >>> parse_choice(TagScheme, "scheme", "bioes")
        <TagScheme.BIOES: 'BIOES'>
        >>> parse_choice(TagScheme, "scheme", "iobes")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ner_bert.errors.ConfigError: scheme must be one of 'IOB1', ..., got 'iobes'.
    """
    if isinstance(value, enum):
        return value
    text = str(value).lower()
    for member in enum:
        if str(member.value).lower() == text:
            return member
    choices = ", ".join(repr(member.value) for member in enum)
    raise ConfigError(f"{where}{name} must be one of {choices}, got {value!r}.")
