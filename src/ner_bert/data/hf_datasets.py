"""Convert between Hugging Face :class:`datasets.Dataset` objects and sentences.

The layout is the hub's ``conll2003`` / ``wnut_17`` one: a ``tokens`` column of word lists
and a ``ner_tags`` column of ``Sequence(ClassLabel)`` whose names are the tags.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import Any

import datasets

from .._words import check_strings
from ..errors import DataFormatError, LabelError
from ..labels import LabelSet, TagScheme, convert_to_iob2
from ..types import TaggedSentence
from .conll import convert_tags

__all__ = [
    "DOCUMENT_COLUMNS",
    "EVAL_SPLITS",
    "from_hf_dataset",
    "hf_dataset_labels",
    "stream_hf_dataset",
    "to_hf_dataset",
]

EVAL_SPLITS = ("validation", "valid", "dev")
"""Names of a ``DatasetDict``'s dev split, the first present one wins (training and the CLI)."""

DOCUMENT_COLUMNS = ("document", "document_id", "doc_id")
"""Columns read as document ids by :func:`from_hf_dataset`, the first present one wins."""


def from_hf_dataset(
    dataset: datasets.Dataset,
    *,
    tokens_column: str = "tokens",
    tags_column: str = "ner_tags",
    scheme: str | TagScheme = "auto",
    strict: bool = True,
    label_names: Sequence[str] | None = None,
    document_column: str | None = None,
) -> list[TaggedSentence]:
    """Read a dataset split into sentences with IOB2 tags.

    The tag column is a ``Sequence(ClassLabel)`` (its ``names`` give the tags), a sequence of
    strings (the tags themselves), or a sequence of integers together with ``label_names``
    (``label_names`` also overrides a ``ClassLabel``'s names). Rows become sentences in
    order. The values of ``document_column`` (by default the first column of
    :data:`DOCUMENT_COLUMNS` the dataset has) give the documents, numbered ``0, 1, ...`` by
    first appearance; without one, every row is its own document, so document context never
    reads across rows that may come from different articles. ``source`` and error locations
    are ``"<split>[<row>]"`` (``dataset[<row>]`` when the dataset has no split name).

    Args:
        dataset: One split, e.g. ``dataset_dict["train"]``.
        tokens_column: Column of word lists.
        tags_column: Column of tag lists.
        scheme: Tag scheme of the tags, or ``"auto"`` to detect it (see :func:`read_conll`).
        strict: Reject IOB2 violations instead of reading them as opening a mention.
        label_names: Tag names by id, for integer tags without a ``ClassLabel``.
        document_column: Column of document ids (any hashable values).

    Raises:
        DataFormatError: A ``DatasetDict`` (pick a split) or not a ``Dataset``; a missing
            column; a words column that is not lists of strings; integer tags without
            names; a row whose tag count differs from its word count; an empty dataset.
        LabelError: A tag id outside the names' range (the message names the row).
        TagSchemeError: Tags that do not follow the scheme (the message names the row).

    Example:
        >>> from datasets import ClassLabel, Dataset, Features, List, Value
        >>> features = Features({"tokens": List(Value("string")),
        ...                      "ner_tags": List(ClassLabel(names=["O", "B-PER", "I-PER"]))})
        >>> ds = Dataset.from_dict({"tokens": [["Jane", "Doe", "left"]], "ner_tags": [[1, 2, 0]]},
        ...                        features=features)
        >>> from_hf_dataset(ds)[0].tags
        ('B-PER', 'I-PER', 'O')
    """
    columns = (tokens_column, tags_column, *([document_column] if document_column else []))
    name = _check_dataset(dataset, columns)
    _check_tokens_feature(dataset.features[tokens_column], tokens_column, name)
    names = _tag_names(dataset.features[tags_column], tags_column, name, label_names)
    words_per_row, tags_per_row = _read_rows(dataset, tokens_column, tags_column, names, name)
    iob2 = convert_tags(
        tags_per_row,
        scheme=scheme,
        strict=strict,
        locate=lambda row, _word: f"{name}[{row}]",
        name=name,
    )
    documents = _documents(dataset, len(iob2), document_column)
    return [
        TaggedSentence(words=tuple(w), tags=tuple(t), document=d, source=f"{name}[{row}]")
        for row, (w, t, d) in enumerate(zip(words_per_row, iob2, documents, strict=True))
    ]


def stream_hf_dataset(
    dataset: datasets.IterableDataset,
    *,
    tokens_column: str = "tokens",
    tags_column: str = "ner_tags",
    scheme: str | TagScheme = "IOB2",
    label_names: Sequence[str] | None = None,
    document_column: str | None = None,
) -> Iterator[TaggedSentence]:
    """Read a streamed dataset (``load_dataset(..., streaming=True)``) row by row into
    sentences with IOB2 tags, never holding more than one row.

    The columns, tag names and documents are read as :func:`from_hf_dataset` reads them,
    except that a document is a run of consecutive rows with the same document value (a
    stream cannot be searched for a document's other rows), and the tag scheme cannot be
    detected from a stream: ``scheme`` names it (rows are converted one at a time). Errors are
    raised when the bad row is reached and name it (``"<split>[<row>]"``).

    Raises:
        DataFormatError: Not an ``IterableDataset``; a missing column; a row whose tag count
            differs from its word count, or whose words are not strings.
        LabelError: A tag id outside the names' range.
        TagSchemeError: A row's tags do not follow ``scheme``.

    Example:
        >>> from datasets import Dataset
        >>> rows = {"tokens": [["Jane", "left"], ["Bob"]], "ner_tags": [["B-PER", "O"], ["B-PER"]]}
        >>> stream = Dataset.from_dict(rows).to_iterable_dataset()
        >>> [s.tags for s in stream_hf_dataset(stream)]
        [('B-PER', 'O'), ('B-PER',)]
    """
    if not isinstance(dataset, datasets.IterableDataset):
        raise DataFormatError(
            f"expected a datasets.IterableDataset, got {type(dataset).__name__}; read a "
            "Dataset with from_hf_dataset."
        )
    name = str(dataset.split) if dataset.split is not None else "dataset"
    features = dataset.features
    names = list(label_names) if label_names is not None else None
    if features is not None:
        for column in (tokens_column, tags_column):
            if column not in features:
                raise DataFormatError(
                    f"{name}: no column {column!r}; the columns are {list(features)}. Pass "
                    "tokens_column=... / tags_column=... to name the right ones."
                )
        _check_tokens_feature(features[tokens_column], tokens_column, name)
        names = _tag_names(features[tags_column], tags_column, name, label_names)
    document, previous = -1, object()
    for row, record in enumerate(dataset):
        where = f"{name}[{row}]"
        words, tags = _row_columns(record, tokens_column, tags_column, document_column, where)
        iob2 = convert_to_iob2(_tags_of_row(tags, names, where), scheme, where=where)
        key = record[document_column] if document_column else _document_of(record, row)
        if key != previous:
            document, previous = document + 1, key
        yield TaggedSentence(words=tuple(words), tags=tuple(iob2), document=document, source=where)


def _row_columns(
    record: dict[str, Any],
    tokens_column: str,
    tags_column: str,
    document_column: str | None,
    where: str,
) -> tuple[Sequence[Any], Sequence[Any]]:
    for column in (tokens_column, tags_column, *([document_column] if document_column else [])):
        if column not in record:
            raise DataFormatError(
                f"{where}: no column {column!r}; the row has {list(record)}. Pass "
                "tokens_column=... / tags_column=... / document_column=... to name the right ones."
            )
    words, tags = record[tokens_column], record[tags_column]
    if isinstance(words, str) or not isinstance(words, Sequence):
        raise DataFormatError(
            f"{where}: {tokens_column!r} is a {type(words).__name__}, not a list of words; "
            "split the text into words first (dataset.map)."
        )
    if tags is None or len(tags) != len(words):
        raise DataFormatError(
            f"{where}: {len(words)} words but {_count(tags)} tags; give exactly one tag per word."
        )
    check_strings(words, lambda index: f"{where}: word {index + 1}")
    return words, tags


def _document_of(record: dict[str, Any], row: int) -> Hashable:
    """The row's value in the first :data:`DOCUMENT_COLUMNS` column it has, else the row."""
    column = next((c for c in DOCUMENT_COLUMNS if c in record), None)
    return row if column is None else record[column]


def hf_dataset_labels(dataset: Any, *, tags_column: str = "ner_tags") -> LabelSet | None:
    """The labels a dataset declares, in its order: its tag ``ClassLabel``'s names when they
    are IOB2 labels (``O`` and a ``B-``/``I-`` pair per type), else ``None``.

    Training on such a dataset keeps that order, so the model's label ids are the dataset's
    (as ``run_ner.py`` does).

    Example:
        >>> from datasets import ClassLabel, Dataset, Features, List, Value
        >>> names = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
        >>> features = Features({"tokens": List(Value("string")),
        ...                      "ner_tags": List(ClassLabel(names=names))})
        >>> ds = Dataset.from_dict({"tokens": [["a"]], "ner_tags": [[0]]}, features=features)
        >>> hf_dataset_labels(ds).labels
        ('O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC')
    """
    features = getattr(dataset, "features", None) or {}
    inner = getattr(features.get(tags_column), "feature", None)
    if not isinstance(inner, datasets.ClassLabel) or "O" not in inner.names:
        return None
    try:
        return LabelSet(tuple(inner.names))
    except LabelError:  # IOB1/BIOES names, converted to IOB2 on reading
        return None


def to_hf_dataset(
    sentences: Iterable[TaggedSentence], *, label_set: LabelSet | None = None
) -> datasets.Dataset:
    """Build a dataset with columns ``tokens``, ``ner_tags`` and ``document``.

    ``ner_tags`` is ``Sequence(ClassLabel(names=label_set.labels))``, so
    :func:`from_hf_dataset` reads it back to the same sentences.

    Args:
        sentences: Sentences with IOB2 tags.
        label_set: The labels (their order gives the ids); by default every type in the tags.

    Raises:
        LabelError: A tag is not in ``label_set`` (the message names the sentence).

    Example:
        >>> ds = to_hf_dataset([TaggedSentence(words=("Jane", "left"), tags=("B-PER", "O"))])
        >>> ds[0]
        {'tokens': ['Jane', 'left'], 'ner_tags': [1, 0], 'document': 0}
        >>> ds.features["ner_tags"].feature.names
        ['O', 'B-PER', 'I-PER']
    """
    sentences = list(sentences)
    if label_set is None:
        label_set = LabelSet.from_tags(tag for s in sentences for tag in s.tags)
    label2id = label_set.label2id
    ner_tags: list[list[int]] = []
    for index, sentence in enumerate(sentences):
        try:
            ner_tags.append([label2id[tag] for tag in sentence.tags])
        except KeyError:
            where = sentence.source or f"sentence {index}"
            bad = next(tag for tag in sentence.tags if tag not in label2id)
            label_set.id_of(bad, where=where)  # raises LabelError listing the labels
            raise
    features = datasets.Features(
        {
            "tokens": datasets.List(datasets.Value("string")),
            "ner_tags": datasets.List(datasets.ClassLabel(names=list(label_set.labels))),
            "document": datasets.Value("int64"),
        }
    )
    return datasets.Dataset.from_dict(
        {
            "tokens": [list(s.words) for s in sentences],
            "ner_tags": ner_tags,
            "document": [s.document for s in sentences],
        },
        features=features,
    )


def _check_dataset(dataset: datasets.Dataset, columns: Sequence[str]) -> str:
    """Check that ``dataset`` is one non-empty split with ``columns``; return its name."""
    if isinstance(dataset, datasets.DatasetDict):
        splits = list(dataset)
        first = splits[0] if splits else "train"
        raise DataFormatError(
            f"got a DatasetDict with splits {splits}; pass one split, e.g. "
            f"from_hf_dataset(dataset[{first!r}])."
        )
    if not isinstance(dataset, datasets.Dataset):
        raise DataFormatError(
            f"expected a datasets.Dataset, got {type(dataset).__name__}; an IterableDataset "
            "can be materialized with Dataset.from_generator or .to_list()."
        )
    name = str(dataset.split) if dataset.split is not None else "dataset"
    present = list(dataset.column_names)
    for column in columns:
        if column not in present:
            raise DataFormatError(
                f"{name}: no column {column!r}; the columns are {present}. Pass "
                "tokens_column=... / tags_column=... to name the right ones."
            )
    if len(dataset) == 0:
        raise DataFormatError(f"{name}: the dataset has no rows.")
    return name


def _read_rows(
    dataset: datasets.Dataset,
    tokens_column: str,
    tags_column: str,
    names: list[str] | None,
    name: str,
) -> tuple[list[list[str]], list[list[str]]]:
    """The words and the tag strings of every row, checking one tag per word."""
    words_per_row = list(dataset[tokens_column])
    raw_tags = list(dataset[tags_column])
    tags_per_row: list[list[str]] = []
    for row, (words, tags) in enumerate(zip(words_per_row, raw_tags, strict=True)):
        if tags is None or words is None or len(tags) != len(words):
            raise DataFormatError(
                f"{name}[{row}]: {_count(words)} words but {_count(tags)} tags; give "
                "exactly one tag per word."
            )
        tags_per_row.append(_tags_of_row(tags, names, f"{name}[{row}]"))
    return [list(words) for words in words_per_row], tags_per_row


def _check_tokens_feature(feature: Any, column: str, name: str) -> None:
    """The words column holds lists of strings; a column of strings would split into characters."""
    inner = getattr(feature, "feature", None)
    if isinstance(inner, datasets.Value) and inner.dtype in ("string", "large_string"):
        return
    if isinstance(feature, datasets.Value) and feature.dtype in ("string", "large_string"):
        raise DataFormatError(
            f"{name}: column {column!r} holds strings, not lists of words, so each row would be "
            "read character by character. Split it into words first, e.g. "
            f"dataset.map(lambda row: {{{column!r}: row[{column!r}].split()}}), or predict raw "
            "text with NERPredictor.predict."
        )
    raise DataFormatError(
        f"{name}: column {column!r} has type {feature}; expected a list of strings (the words), "
        "e.g. datasets.List(datasets.Value('string'))."
    )


def _tag_names(
    feature: Any, column: str, name: str, label_names: Sequence[str] | None
) -> list[str] | None:
    """Names by id, or ``None`` when the tags are strings."""
    inner = getattr(feature, "feature", None)
    if label_names is not None:
        return list(label_names)
    if isinstance(inner, datasets.ClassLabel):
        return list(inner.names)
    if isinstance(inner, datasets.Value) and inner.dtype in ("string", "large_string"):
        return None
    raise DataFormatError(
        f"{name}: column {column!r} has type {feature}, not a sequence of ClassLabel, so the "
        "tag names are unknown. Pass label_names=[...] (the tag of each id), or cast it: "
        f"dataset.cast_column({column!r}, datasets.List(datasets.ClassLabel(names=[...])))."
    )


def _tags_of_row(tags: Sequence[Any], names: list[str] | None, where: str) -> list[str]:
    if names is None:
        check_strings(tags, lambda index: f"{where}: tag {index + 1}")
        return list(tags)
    out: list[str] = []
    for tag in tags:
        if not isinstance(tag, int) or not 0 <= tag < len(names):
            raise LabelError(
                f"{where}: tag id {tag!r} is outside the {len(names)} tag names {names}; "
                "fix the row or pass the full label_names=[...]."
            )
        out.append(names[tag])
    return out


def _documents(dataset: datasets.Dataset, n_rows: int, column: str | None) -> list[int]:
    if column is None:
        column = next((c for c in DOCUMENT_COLUMNS if c in dataset.column_names), None)
    if column is None:
        return list(range(n_rows))
    index: dict[Hashable, int] = {}
    return [index.setdefault(value, len(index)) for value in dataset[column]]


def _count(values: Sequence[Any] | None) -> str:
    return "no" if values is None else str(len(values))
