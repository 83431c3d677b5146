"""Plain result and data types: frozen dataclasses with no torch and no file access."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from ._words import check_sequence, check_strings
from .errors import DataFormatError, InputTypeError

__all__ = ["Entity", "TaggedSentence", "WordPrediction", "iter_documents"]


@dataclass(frozen=True)
class Entity:
    """A named entity found in a text.

    Offsets are half-open character offsets into the caller's string, so
    ``text == original[start:end]`` always holds.

    Attributes:
        label: Entity type, e.g. ``"PER"``.
        start: Offset of the first character.
        end: Offset one past the last character.
        score: Confidence in ``[0, 1]`` (a plain ``float``); see the docs for its definition.
        text: The covered text, ``original[start:end]``.

    Example:
        >>> e = Entity(label="PER", start=0, end=4, score=0.98, text="Jane")
        >>> e.to_dict()
        {'label': 'PER', 'start': 0, 'end': 4, 'score': 0.98, 'text': 'Jane'}
    """

    label: str
    start: int
    end: int
    score: float
    text: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable dict of the fields."""
        return asdict(self)


@dataclass(frozen=True)
class TaggedSentence:
    """One sentence of words with one tag per word.

    Attributes:
        words: The words (tokens) of the sentence.
        tags: One tag per word, e.g. ``("B-PER", "I-PER", "O")``.
        document: Index of the document the sentence belongs to (``-DOCSTART-`` boundaries in
            CoNLL files; ``0`` when the source has no document structure).
        source: Where the sentence came from, e.g. ``"train.txt:1203"`` (first line), or
            ``None``. Used in error messages.

    Raises:
        InputTypeError: ``words`` or ``tags`` is a string or not a sequence, a word or tag is
            not a ``str``, or ``document`` is not an integer.
        DataFormatError: A word holds a lone surrogate, or the counts of words and tags differ.
            Messages start with ``source``.

    Example:
        >>> s = TaggedSentence(words=("EU", "rejects"), tags=("B-ORG", "O"))
        >>> len(s)
        2
    """

    words: tuple[str, ...]
    tags: tuple[str, ...]
    document: int = 0
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        where = f"{self.source}: " if self.source else ""
        check_sequence(self.words, f"{where}words", "['EU', 'rejects']")
        check_sequence(self.tags, f"{where}tags", "['B-ORG', 'O']")
        # Accept lists from callers but store tuples, so the dataclass stays hashable.
        object.__setattr__(self, "words", tuple(self.words))
        object.__setattr__(self, "tags", tuple(self.tags))
        check_strings(self.words, lambda i: f"{where}word {i + 1}")
        check_strings(self.tags, lambda i: f"{where}tag {i + 1}")
        try:  # numpy integers too, stored as an int
            object.__setattr__(self, "document", operator.index(self.document))
        except TypeError:
            raise InputTypeError(
                f"{where}document is {type(self.document).__name__} {self.document!r:.40}; "
                "expected an int (the index of the sentence's document)."
            ) from None
        if len(self.words) != len(self.tags):
            raise DataFormatError(
                f"{where}sentence has {len(self.words)} words but {len(self.tags)} tags; "
                "give exactly one tag per word."
            )

    def __len__(self) -> int:
        return len(self.words)


@dataclass(frozen=True)
class WordPrediction:
    """The prediction for one pre-tokenized word.

    Attributes:
        tag: IOB2 tag, e.g. ``"B-LOC"`` or ``"O"``.
        score: Probability of ``tag`` for this word, a plain ``float``.
    """

    tag: str
    score: float


def iter_documents(sentences: Iterable[TaggedSentence]) -> Iterator[list[TaggedSentence]]:
    """Group consecutive sentences with the same ``document`` index.

    Example:
        >>> a = TaggedSentence(words=("a",), tags=("O",), document=0)
        >>> b = TaggedSentence(words=("b",), tags=("O",), document=1)
        >>> [len(d) for d in iter_documents([a, a, b])]
        [2, 1]
    """
    current: list[TaggedSentence] = []
    for sentence in sentences:
        if current and sentence.document != current[-1].document:
            yield current
            current = []
        current.append(sentence)
    if current:
        yield current
