"""Checks of what callers hand to :class:`~ner_bert.NERPredictor`, and its progress bar."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._words import check_strings as _check_strings
from ..errors import ConfigError, InputTypeError

__all__ = ["check_documents", "check_string_lists", "check_strings", "progress_bar"]


def check_documents(documents: Sequence[int], n: int) -> None:
    """Raise if ``documents`` does not hold one document id per sentence."""
    if isinstance(documents, (str, bytes)) or len(documents) != n:
        raise ConfigError(
            f"documents must give one document id per sentence ({n}), got "
            f"{len(documents)}; e.g. [0, 0, 1] for two documents."
        )


def check_string_lists(items: Sequence[Any], name: str, expected: str) -> None:
    """Every item of ``items`` is a list of strings (``name[i][j]`` names a bad one)."""
    for index, inner in enumerate(items):
        if isinstance(inner, str) or not isinstance(inner, Sequence):
            raise InputTypeError(
                f"{name}[{index}] is a {type(inner).__name__}; expected a sequence of {expected}."
            )
        check_strings(inner, 0, f"{name}[{index}]")


def check_strings(items: Sequence[Any], offset: int, name: str) -> None:
    """Every item is a ``str`` a tokenizer reads (``name[offset + i]`` names a bad one)."""
    _check_strings(items, lambda index: f"{name}[{offset + index}]")


def progress_bar(enabled: bool, *, total: int | None = None) -> Any:
    """A tqdm bar of texts done (its time left needs ``total``), or ``None``."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(desc="ner_bert predict", unit="text", total=total, dynamic_ncols=True)
