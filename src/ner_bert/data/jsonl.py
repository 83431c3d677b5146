"""Read and write span JSONL: one JSON record per line with a text and its entity spans.

A record is ``{"text": "...", "entities": [{"start": 0, "end": 4, "label": "PER"}, ...]}``
with half-open character offsets. Also accepted, for Doccano and similar exports:

* the key ``"spans"`` or ``"label"`` instead of ``"entities"`` (exactly one of the three);
* list entries ``[start, end, label]`` instead of objects (Doccano's ``"label"`` format);
* ``"start_offset"``/``"end_offset"`` instead of ``"start"``/``"end"`` (doccano's export of
  entity objects).

Other keys (``"id"``, ``"meta"``, ...) and other fields of an entity object are ignored.
Blank lines are skipped.

Words come from the tokenization :data:`WORD_PATTERN`, ``\\w+|[^\\w\\s]``: each run of word
characters is a word, and every other non-space character is a word on its own, so
``"Jane's U.S.-based"`` gives ``Jane ' s U . S . - based``. An entity must start and end on
word boundaries.
"""

from __future__ import annotations

import json
import os
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._words import check_text
from ..errors import ConfigError, DataFormatError
from ..labels import Span, spans_to_tags, tags_to_spans
from ..types import TaggedSentence
from .conll import _read_lines

__all__ = [
    "WORD_PATTERN",
    "entities_to_tags",
    "read_jsonl",
    "sentence_text",
    "tokenize",
    "write_jsonl",
]

WORD_PATTERN = re.compile(r"\w+|[^\w\s]")
"""Words: runs of word characters, and every other non-space character on its own."""

_ENTITY_KEYS = ("entities", "spans", "label")


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """Split ``text`` into ``(word, start, end)`` with :data:`WORD_PATTERN`.

    Example:
        >>> [w for w, _, _ in tokenize("Jane's U.S.-based")]
        ['Jane', "'", 's', 'U', '.', 'S', '.', '-', 'based']
        >>> tokenize("Hi, Jo")
        [('Hi', 0, 2), (',', 2, 3), ('Jo', 4, 6)]
    """
    return [(m.group(), m.start(), m.end()) for m in WORD_PATTERN.finditer(text)]


def read_jsonl(path: str | os.PathLike[str], *, encoding: str = "utf-8") -> list[TaggedSentence]:
    """Read span JSONL into sentences with IOB2 tags (see the module docs for the format).

    Each record becomes one sentence (texts are not split into sentences) and one document:
    ``document`` is the record's number (``0, 1, ...``, blank lines not counted) and
    ``source`` is ``"path:line"``. Entity spans may include surrounding whitespace (it is
    trimmed), but must not start or end inside a word.

    Args:
        path: The file.
        encoding: Text encoding of the file.

    Returns:
        One sentence per record, in file order.

    Raises:
        DataNotFoundError: ``path`` does not exist or is not a file.
        DataFormatError: The file has no records; a line is not a JSON object; a record lacks
            ``text`` or has not exactly one of ``entities``/``spans``/``label``; a text has no
            words; an entity is malformed, has ``start >= end``, is out of range, covers only
            whitespace, overlaps another one, or starts or ends inside a word. Messages name
            ``path:line``.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "spans.jsonl"
        >>> _ = path.write_text(
        ...     '{"text": "Jane Doe lives in Paris.", '
        ...     '"entities": [{"start": 0, "end": 8, "label": "PER"}, [18, 23, "LOC"]]}\\n'
        ... )
        >>> s = read_jsonl(path)[0]
        >>> s.words
        ('Jane', 'Doe', 'lives', 'in', 'Paris', '.')
        >>> s.tags
        ('B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O')
    """
    name = str(path)
    sentences: list[TaggedSentence] = []
    for lineno, line in enumerate(_read_lines(Path(path), encoding), start=1):
        if not line.strip():
            continue
        where = f"{name}:{lineno}"
        words, tags = _parse_record(line, where)
        sentences.append(
            TaggedSentence(
                words=tuple(words), tags=tuple(tags), document=len(sentences), source=where
            )
        )
    if not sentences:
        raise DataFormatError(
            f"{name}: the file has no records; expected one JSON object per line like "
            '{"text": "...", "entities": [{"start": 0, "end": 4, "label": "PER"}]}.'
        )
    return sentences


def write_jsonl(
    path: str | os.PathLike[str],
    sentences: Iterable[TaggedSentence],
    *,
    style: str = "entities",
) -> None:
    """Write sentences as span JSONL, one record per sentence.

    The text is the words joined by single spaces; entities are the IOB2 mentions as
    ``{"start", "end", "label"}`` character offsets into it. Reading the file back with
    :func:`read_jsonl` gives the same sentences when every word is a single
    :data:`WORD_PATTERN` word (others come back split into their words, with the same
    entity text); each record is then its own document.

    Args:
        path: The file to write (overwritten), UTF-8.
        sentences: Sentences with IOB2 tags.
        style: ``"entities"`` (``{"start", "end", "label"}`` objects) or ``"doccano"``
            (doccano's import format: ``"label": [[start, end, label], ...]``).

    Raises:
        ConfigError: An unknown ``style``.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "out.jsonl"
        >>> write_jsonl(path, [TaggedSentence(words=("Jane", "left"), tags=("B-PER", "O"))])
        >>> print(path.read_text(), end="")
        {"text": "Jane left", "entities": [{"start": 0, "end": 4, "label": "PER"}]}
    """
    if style not in _STYLES:
        raise ConfigError(f"style must be one of {list(_STYLES)}, got {style!r}.")
    out: list[str] = []
    for sentence in sentences:
        text, spans = sentence_text(sentence)
        entities = [{"start": start, "end": end, "label": label} for start, end, label in spans]
        record: dict[str, Any] = {"text": text, "entities": entities}
        if style == "doccano":
            record = {"text": text, "label": [list(span) for span in spans]}
        out.append(json.dumps(record, ensure_ascii=False) + "\n")
    Path(path).write_text("".join(out), encoding="utf-8", newline="\n")


_STYLES = ("entities", "doccano")


def sentence_text(sentence: TaggedSentence) -> tuple[str, list[tuple[int, int, str]]]:
    """A sentence as text: its words joined by single spaces, and the ``(start, end, label)``
    character spans of its IOB2 entities in that text.

    Example:
        >>> jane = TaggedSentence(words=("Jane", "Doe", "left"), tags=("B-PER", "I-PER", "O"))
        >>> sentence_text(jane)
        ('Jane Doe left', [(0, 8, 'PER')])
    """
    starts: list[int] = []
    offset = 0
    for word in sentence.words:
        starts.append(offset)
        offset += len(word) + 1
    spans = [
        (starts[span.start], starts[span.end - 1] + len(sentence.words[span.end - 1]), span.label)
        for span in tags_to_spans(sentence.tags)
    ]
    return " ".join(sentence.words), spans


def _parse_record(line: str, where: str) -> tuple[list[str], list[str]]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataFormatError(
            f"{where}: invalid JSON ({error.msg} at column {error.colno}); each line must be "
            "one JSON object."
        ) from None
    if not isinstance(record, dict):
        raise DataFormatError(
            f"{where}: expected a JSON object with 'text' and 'entities', got "
            f"{type(record).__name__}."
        )
    text = record.get("text")
    if not isinstance(text, str):
        problem = "has no 'text'" if text is None else f"has a {type(text).__name__} 'text'"
        raise DataFormatError(f"{where}: the record {problem}; expected a string.")
    check_text(text, f"{where}: the record's 'text'")  # JSON can escape a lone surrogate
    keys = [key for key in _ENTITY_KEYS if key in record]
    if len(keys) != 1:
        found = f"found {keys}" if keys else f"found keys {sorted(record)}"
        raise DataFormatError(
            f"{where}: a record needs exactly one of 'entities', 'spans' or 'label' (a list of "
            f"entities, possibly empty); {found}."
        )
    entries = record[keys[0]]
    if not isinstance(entries, list):
        raise DataFormatError(
            f"{where}: {keys[0]!r} must be a list of entities, got {type(entries).__name__}."
        )
    return entities_to_tags(text, entries, where)


def entities_to_tags(text: str, entries: list[Any], where: str) -> tuple[list[str], list[str]]:
    """The words of ``text`` (:data:`WORD_PATTERN`) and their IOB2 tags for character-offset
    entities (objects or ``[start, end, label]`` lists, as in a record).

    Raises:
        DataFormatError: See :func:`read_jsonl`; messages start with ``where``.
    """
    tokens = tokenize(text)
    if not tokens:
        raise DataFormatError(
            f"{where}: the text {text!r} has no words; remove the record or give it text."
        )
    starts = [start for _, start, _ in tokens]
    ends = [end for _, _, end in tokens]
    entities = sorted(_parse_entity(entry, where, len(text)) for entry in entries)
    spans: list[Span] = []
    for index, (start, end, label) in enumerate(entities):
        shown = f"entity {label!r} [{start}, {end}) {text[start:end]!r}"
        if index and start < entities[index - 1][1]:
            other_start, other_end, other_label = entities[index - 1]
            raise DataFormatError(
                f"{where}: {shown} overlaps entity {other_label!r} [{other_start}, "
                f"{other_end}) {text[other_start:other_end]!r}; nested or overlapping "
                "entities cannot be tagged, keep one of them."
            )
        first = bisect_right(ends, start)  # first word ending after `start`
        last = bisect_left(starts, end)  # words before `last` start before `end`
        if first < len(tokens) and starts[first] < start:
            raise DataFormatError(_cut(where, shown, "starts", tokens[first]))
        if last and ends[last - 1] > end:
            raise DataFormatError(_cut(where, shown, "ends", tokens[last - 1]))
        if first >= last:
            raise DataFormatError(
                f"{where}: {shown} covers only whitespace; fix its offsets or remove it."
            )
        spans.append(Span(label, first, last))
    return [word for word, _, _ in tokens], spans_to_tags(len(tokens), spans)


def _parse_entity(entry: Any, where: str, length: int) -> tuple[int, int, str]:
    if isinstance(entry, dict):
        entry = {_DOCCANO_KEYS.get(key, key): value for key, value in entry.items()}
        missing = [key for key in ("start", "end", "label") if key not in entry]
        if missing:
            raise DataFormatError(
                f"{where}: entity {entry} lacks {missing}; expected "
                '{"start": int, "end": int, "label": str}.'
            )
        start, end, label = entry["start"], entry["end"], entry["label"]
    elif isinstance(entry, list) and len(entry) == 3:
        start, end, label = entry
    else:
        raise DataFormatError(
            f"{where}: entity {entry!r} is neither an object "
            '{"start": int, "end": int, "label": str} nor a list [start, end, label].'
        )
    if not (_is_int(start) and _is_int(end) and isinstance(label, str)):
        raise DataFormatError(
            f"{where}: entity {entry!r} needs integer start and end and a string label."
        )
    if not label or any(c.isspace() or not c.isprintable() for c in label):
        raise DataFormatError(
            f"{where}: entity {entry!r} has label {label!r}; labels must be non-empty with no "
            "whitespace or control characters."
        )
    if label.upper() == "O" or (len(label) > 1 and label[1] in "-_" and label[0] in "BIESLU"):
        raise DataFormatError(
            f"{where}: entity {entry!r} has label {label!r}; an entity's label is its type "
            "(PER, LOC, ...), not 'O' or a tag with a B-/I- prefix."
        )
    if start >= end:
        raise DataFormatError(
            f"{where}: entity {entry!r} has start {start} >= end {end}; offsets are half-open "
            "[start, end) with start < end."
        )
    if start < 0 or end > length:
        raise DataFormatError(
            f"{where}: entity {entry!r} [{start}, {end}) is out of range for a text of "
            f"{length} characters."
        )
    return start, end, label


_DOCCANO_KEYS = {"start_offset": "start", "end_offset": "end"}
"""doccano's entity fields, read as ours."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _cut(where: str, shown: str, verb: str, token: tuple[str, int, int]) -> str:
    word, start, end = token
    return (
        f"{where}: {shown} {verb} inside the word {word!r} [{start}, {end}); entity boundaries "
        r"must fall between words (words are \w+ runs and single other characters). Fix the "
        "offsets."
    )
