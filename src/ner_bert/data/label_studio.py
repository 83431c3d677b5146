"""Read and write Label Studio's JSON export of span ("Labels") annotation.

A task is ``{"data": {"text": "..."}, "annotations": [{"result": [{"type": "labels",
"value": {"start": 0, "end": 4, "labels": ["PER"]}}, ...]}]}``; the export is a JSON list of
tasks. The minimal export (``JSON_MIN``: ``[{"text": "...", "label": [{"start", "end",
"labels"}]}]``) is read too. Each task becomes one sentence and one document; its words and
tags come from the character offsets exactly as in span JSONL (:mod:`ner_bert.data.jsonl`):
an entity that starts or ends inside a word, or overlaps another, is an error naming the task.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._words import check_text
from ..errors import DataFormatError
from ..types import TaggedSentence
from .conll import _read_lines
from .jsonl import entities_to_tags, sentence_text

__all__ = ["read_label_studio", "write_label_studio"]

logger = logging.getLogger(__name__)


def read_label_studio(
    path: str | os.PathLike[str], *, text_key: str = "text", encoding: str = "utf-8"
) -> list[TaggedSentence]:
    """Read a Label Studio JSON export into sentences with IOB2 tags.

    Each task's first annotation that was not cancelled gives its entities (``"labels"``
    results; other result types, such as relations or choices, are ignored). Tasks with no
    such annotation are unlabelled, so they are skipped (with a warning that counts them),
    never read as text without entities. ``source`` is ``"path[task N]"`` (from 1).

    Args:
        path: The ``.json`` export.
        text_key: The field of ``data`` that holds the text (the ``value="$text"`` of the
            labelling config).
        encoding: Text encoding of the file.

    Raises:
        DataNotFoundError: ``path`` does not exist.
        DataFormatError: Not a JSON list of tasks; a task without the text; a result with
            other than one label; spans that do not fall on word boundaries or overlap; no
            labelled task at all.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "export.json"
        >>> write_label_studio(path, [TaggedSentence(words=("Jane", "left"), tags=("B-PER", "O"))])
        >>> [(s.words, s.tags, s.source) for s in read_label_studio(path)][0][:2]
        (('Jane', 'left'), ('B-PER', 'O'))
    """
    name = str(path)
    tasks = _load_tasks(Path(path), encoding)
    sentences: list[TaggedSentence] = []
    unlabelled = 0
    for number, task in enumerate(tasks, start=1):
        where = f"{name}[task {number}]"
        text, entries = _task_text_and_entities(task, text_key, where)
        if entries is None:
            unlabelled += 1
            continue
        words, tags = entities_to_tags(text, entries, where)
        sentences.append(
            TaggedSentence(
                words=tuple(words), tags=tuple(tags), document=len(sentences), source=where
            )
        )
    if unlabelled:
        logger.warning("%s: skipped %d task(s) without an annotation", name, unlabelled)
    if not sentences:
        raise DataFormatError(
            f"{name}: none of its {len(tasks)} tasks has an annotation; export the project "
            "after labelling (Export > JSON)."
        )
    return sentences


def _load_tasks(path: Path, encoding: str) -> list[Any]:
    text = "\n".join(_read_lines(path, encoding))
    try:
        tasks = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataFormatError(
            f"{path}:{error.lineno}: invalid JSON ({error.msg}); a Label Studio export is one "
            "JSON list of tasks."
        ) from None
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise DataFormatError(f"{path}: expected a JSON list of tasks, got {type(tasks).__name__}.")
    return tasks


def _task_text_and_entities(
    task: Any, text_key: str, where: str
) -> tuple[str, list[list[Any]] | None]:
    """The task's text and its entities as ``[start, end, label]``; ``None``: unlabelled."""
    if not isinstance(task, dict):
        raise DataFormatError(f"{where}: a task is a JSON object, got {type(task).__name__}.")
    if "data" not in task and "label" in task:  # JSON_MIN: {"text": ..., "label": [...]}
        return _text(task, text_key, where), _entities(task["label"], where)
    text = _text(task.get("data") or {}, text_key, where)
    annotations = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
    if not annotations:
        return text, None
    results = [r for r in annotations[0].get("result") or [] if r.get("type") == "labels"]
    return text, _entities([r.get("value") for r in results], where)


def _text(fields: Any, key: str, where: str) -> str:
    text = fields.get(key) if isinstance(fields, dict) else None
    if not isinstance(text, str):
        present = sorted(fields) if isinstance(fields, dict) else []
        raise DataFormatError(
            f"{where}: no text under {key!r} (its fields are {present}); pass "
            "text_key=... (the $name of the labelling config's Text tag)."
        )
    check_text(text, f"{where}: the text")
    return text


def _entities(values: Any, where: str) -> list[list[Any]]:
    out: list[list[Any]] = []
    for value in values if isinstance(values, list) else []:
        labels = value.get("labels") if isinstance(value, dict) else None
        if not isinstance(labels, list) or len(labels) != 1:
            raise DataFormatError(
                f"{where}: the result {value!r} has labels {labels!r}; each span needs "
                'exactly one label (a Labels tag without choice="multiple").'
            )
        out.append([value.get("start"), value.get("end"), labels[0]])
    return out


def write_label_studio(
    path: str | os.PathLike[str],
    sentences: Iterable[TaggedSentence],
    *,
    from_name: str = "label",
    to_name: str = "text",
) -> None:
    """Write sentences as Label Studio tasks with their entities as annotations, to import
    into a project whose labelling config has ``<Labels name="label" toName="text">`` and
    ``<Text name="text" value="$text"/>`` (``from_name``/``to_name`` for other names).

    The text is the words joined by single spaces; ``path`` is overwritten.
    """
    tasks = []
    for sentence in sentences:
        text, spans = sentence_text(sentence)
        result = [
            {
                "from_name": from_name,
                "to_name": to_name,
                "type": "labels",
                "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]},
            }
            for start, end, label in spans
        ]
        tasks.append({"data": {"text": text}, "annotations": [{"result": result}]})
    text = json.dumps(tasks, ensure_ascii=False, indent=1) + "\n"
    Path(path).write_text(text, encoding="utf-8", newline="\n")
