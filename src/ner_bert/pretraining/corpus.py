"""Unlabelled text for masked-language-model adaptation: documents of sentences of words.

A corpus is a list of documents, each a list of sentences, each a list of words, so the
sentences of one article end up in one sequence (see :mod:`.packing`). Raw text is cut into
the treebank words prediction uses (:func:`~ner_bert.subwords.segmentation.segment_sentences`),
so the encoder adapts on the words it will later be fine-tuned and asked to tag.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import DataFormatError, DataNotFoundError, InputTypeError
from ..subwords.segmentation import segment_sentences
from ..types import TaggedSentence

__all__ = ["Document", "documents_of_sentences", "documents_of_texts", "read_text_corpus"]

Document = list[list[str]]
"""The sentences of one document, each a list of words."""


def documents_of_texts(texts: Iterable[str]) -> list[Document]:
    """One document per text, cut into sentences of treebank words (empty texts dropped).

    Any iterable of strings will do, a ``datasets`` text column included
    (``documents_of_texts(dataset["text"])``).

    Raises:
        InputTypeError: A text is not a ``str`` (``None`` included), named by its position.

    Example:
        >>> documents_of_texts(["Ada left. Bob stayed.", "  "])
        [[['Ada', 'left', '.'], ['Bob', 'stayed', '.']]]
    """
    documents = []
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputTypeError(
                f"text {position} of the corpus is {type(text).__name__}, not str; drop or "
                "fill empty rows first (e.g. dataset.filter(lambda row: row['text'] is not None))."
            )
        sentences = [[text[a:b] for a, b in words] for words in segment_sentences(text)]
        if sentences:
            documents.append(sentences)
    return documents


def documents_of_sentences(sentences: Sequence[TaggedSentence]) -> list[Document]:
    """The words of labelled sentences (their tags are not used), one document per run of
    consecutive sentences with the same ``document``."""
    documents: list[Document] = []
    previous: object = object()
    for sentence in sentences:
        if not len(sentence):
            continue
        if sentence.document != previous or not documents:
            documents.append([])
            previous = sentence.document
        documents[-1].append(list(sentence.words))
    return documents


def read_text_corpus(paths: Sequence[str | Path], *, text_field: str = "text") -> list[Document]:
    """Read unlabelled text files: ``.jsonl`` files hold one document per line in
    ``text_field``; any other file is plain UTF-8 text in which blank lines separate documents
    and every line is cut into sentences.

    Raises:
        DataNotFoundError: A file does not exist.
        DataFormatError: A file is binary or not UTF-8 (the message names the line), a JSONL
            line is not an object with a string ``text_field``, or the files hold no words.
    """
    documents: list[Document] = []
    for path in map(Path, paths):
        if not path.is_file():
            raise DataNotFoundError(f"{path}: no such text file.")
        lines = _text_lines(path)
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            documents += documents_of_texts(_jsonl_texts(path, lines, text_field))
        else:
            documents += _plain_documents(lines)
    if not documents:
        raise DataFormatError(
            f"{', '.join(map(str, paths)) or 'no files'}: the corpus has no words; give text "
            "files with content (blank lines separate documents)."
        )
    return documents


def _text_lines(path: Path) -> list[str]:
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        raise DataFormatError(f"{path}: a binary file (NUL bytes), not text.")
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataFormatError(
            f"{path}:{line}: not UTF-8 text (byte {data[exc.start]:#04x}); convert the file "
            "to UTF-8 first."
        ) from exc


def _jsonl_texts(path: Path, lines: list[str], field: str) -> list[str]:
    texts = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"{path}:{number}: not JSON ({exc.msg}).") from exc
        if not isinstance(record, dict) or not isinstance(record.get(field), str):
            raise DataFormatError(
                f"{path}:{number}: expected an object with a string {field!r} field; pass "
                "text_field=... to name the right one."
            )
        texts.append(record[field])
    return texts


def _plain_documents(lines: list[str]) -> list[Document]:
    documents: list[Document] = [[]]
    for line in lines:
        if not line.strip():
            if documents[-1]:
                documents.append([])
            continue
        for sentence in documents_of_texts([line]):
            documents[-1] += sentence
    return [document for document in documents if document]
