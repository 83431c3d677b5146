"""Checks of what callers hand to :class:`~ner_bert.NERPredictor`, and its progress bar."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError

__all__ = ["check_documents", "check_string_lists", "check_strings", "progress_bar"]


def check_documents(documents: Sequence[int], n: int) -> None:
    """Raise if ``documents`` does not hold one document id per sentence."""
    if isinstance(documents, (str, bytes)) or len(documents) != n:
        raise ConfigError(
            f"documents must give one document id per sentence ({n}), got "
            f"{len(documents)}; e.g. [0, 0, 1] for two documents."
        )


def check_string_lists(items: Sequence[Any], name: str, expected: str) -> None:
    for index, inner in enumerate(items):
        if isinstance(inner, str) or not isinstance(inner, Sequence):
            raise TypeError(
                f"{name}[{index}] is a {type(inner).__name__}; expected a sequence of {expected}."
            )
        check_strings(inner, 0, f"{name}[{index}]")


def check_strings(items: Sequence[Any], offset: int, name: str) -> None:
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(
                f"{name}[{offset + index}] is {type(item).__name__}"
                f"{'' if item is None else ' ' + repr(item)[:40]}; expected a str."
            )


def progress_bar(enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(desc="ner_bert predict", unit="text")
