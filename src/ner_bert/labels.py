"""Tag schemes, their detection and conversion to IOB2, label sets and ``align_labels``.

Pure Python: no torch, no transformers, so everything here is testable with plain lists.

Internally ner_bert works in **IOB2** (``B-X`` opens every mention, ``I-X`` continues it).
Readers convert IOB1, BIOES, BILOU and plain (IO) labels to IOB2 on the way in. The tag
scheme functions live in the private ``_schemes`` module and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ._schemes import (
    OUTSIDE,
    TagScheme,
    convert_to_iob2,
    detect_scheme,
    parse_scheme,
    split_tag,
    where_prefix,
)
from .errors import LabelError, TagSchemeError

__all__ = [
    "IGNORE_INDEX",
    "LabelSet",
    "Span",
    "TagScheme",
    "align_labels",
    "convert_to_iob2",
    "detect_scheme",
    "parse_scheme",
    "spans_to_tags",
    "split_tag",
    "tags_to_spans",
]

IGNORE_INDEX = -100
"""Label id ignored by the loss (special tokens and, by default, non-first subwords)."""


@dataclass(frozen=True)
class Span:
    """An entity mention over words: ``words[start:end]`` has type ``label``."""

    label: str
    start: int
    end: int


def tags_to_spans(tags: Sequence[str]) -> list[Span]:
    """Read IOB2 tags as mentions over words (an ``I-X`` that does not continue ``X`` opens one).

    Example:
        >>> for span in tags_to_spans(["B-PER", "I-PER", "O", "B-LOC", "B-LOC"]):
        ...     print(span)
        Span(label='PER', start=0, end=2)
        Span(label='LOC', start=3, end=4)
        Span(label='LOC', start=4, end=5)
    """
    spans: list[Span] = []
    start = 0
    current: str | None = None
    for index, tag in enumerate(tags):
        prefix, label = split_tag(tag)
        if current is not None and (label != current or prefix == "B"):
            spans.append(Span(current, start, index))
            current = None
        if label is not None and current is None:
            current, start = label, index
    if current is not None:
        spans.append(Span(current, start, len(tags)))
    return spans


def spans_to_tags(length: int, spans: Iterable[Span]) -> list[str]:
    """Write mentions over ``length`` words as IOB2 tags.

    Raises:
        TagSchemeError: Two spans overlap or one is out of range.

    Example:
        >>> spans_to_tags(4, [Span("PER", 0, 2), Span("LOC", 3, 4)])
        ['B-PER', 'I-PER', 'O', 'B-LOC']
    """
    tags = [OUTSIDE] * length
    for span in spans:
        if not 0 <= span.start < span.end <= length:
            raise TagSchemeError(f"span {span} is out of range for {length} words.")
        if any(t != OUTSIDE for t in tags[span.start : span.end]):
            raise TagSchemeError(f"span {span} overlaps another span.")
        tags[span.start] = "B-" + span.label
        for i in range(span.start + 1, span.end):
            tags[i] = "I-" + span.label
    return tags


@dataclass(frozen=True)
class LabelSet:
    """The IOB2 labels of a model, in id order.

    Build it from entity types (stable order: ``O`` then ``B-``/``I-`` per type, types sorted),
    from tags seen in data, or from a model's ``id2label``.

    Example:
        >>> ls = LabelSet.from_entity_types(["PER", "LOC"])
        >>> ls.labels
        ('O', 'B-LOC', 'I-LOC', 'B-PER', 'I-PER')
        >>> ls.label2id["B-PER"], ls.id2label[4]
        (3, 'I-PER')
        >>> ls.b_to_i
        {1: 2, 3: 4}
    """

    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        labels = tuple(self.labels)
        object.__setattr__(self, "labels", labels)
        if len(set(labels)) != len(labels):
            raise LabelError(f"labels must be unique, got {list(labels)}.")
        bad = [label for label in labels if split_tag(label)[0] not in ("O", "B", "I")]
        if bad:
            hint = (
                " The model has generic LABEL_<n> names: pass labels=[...] with the real tags."
                if any(b.startswith("LABEL_") for b in bad)
                else " Convert the data to IOB2 first (readers do it with scheme='auto')."
            )
            raise LabelError(
                f"labels must be 'O' or IOB2 tags like 'B-PER'/'I-PER', got {bad}.{hint}"
            )
        for label in labels:
            prefix, kind = split_tag(label)
            if prefix in ("B", "I"):
                partner = ("I-" if prefix == "B" else "B-") + str(kind)
                if partner not in labels:
                    raise LabelError(
                        f"label {label!r} has no partner {partner!r}; every type needs both "
                        f"B- and I- labels, got {list(labels)}."
                    )

    @classmethod
    def from_entity_types(cls, entity_types: Iterable[str]) -> LabelSet:
        """Labels ``O, B-T, I-T, ...`` for the sorted, de-duplicated types."""
        labels = [OUTSIDE]
        for kind in sorted(set(entity_types)):
            labels += ["B-" + kind, "I-" + kind]
        return cls(tuple(labels))

    @classmethod
    def from_tags(cls, tags: Iterable[str]) -> LabelSet:
        """Labels for every entity type seen in some IOB2 tags.

        Example:
            >>> LabelSet.from_tags(["O", "I-MISC", "B-ORG"]).labels
            ('O', 'B-MISC', 'I-MISC', 'B-ORG', 'I-ORG')
        """
        return cls.from_entity_types(
            kind for tag in set(tags) if (kind := split_tag(tag)[1]) is not None
        )

    @classmethod
    def from_id2label(cls, id2label: Mapping[int, str] | Mapping[str, str]) -> LabelSet:
        """Labels of a model config's ``id2label`` (keys may be ``int`` or ``str``)."""
        items = sorted((int(k), v) for k, v in id2label.items())
        if [k for k, _ in items] != list(range(len(items))):
            raise LabelError(f"id2label keys must be 0..n-1, got {[k for k, _ in items]}.")
        return cls(tuple(v for _, v in items))

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def label2id(self) -> dict[str, int]:
        """Map from label to id."""
        return {label: i for i, label in enumerate(self.labels)}

    @property
    def id2label(self) -> dict[int, str]:
        """Map from id to label."""
        return dict(enumerate(self.labels))

    @property
    def entity_types(self) -> tuple[str, ...]:
        """The entity types, in label order."""
        return tuple(str(split_tag(x)[1]) for x in self.labels if x.startswith("B-"))

    @property
    def b_to_i(self) -> dict[int, int]:
        """Map from the id of each ``B-X`` to the id of ``I-X``."""
        ids = self.label2id
        return {ids[x]: ids["I-" + x[2:]] for x in self.labels if x.startswith("B-")}

    def id_of(self, tag: str, *, where: str = "") -> int:
        """The id of ``tag``; a :class:`LabelError` lists the known labels if it is unknown."""
        try:
            return self.labels.index(tag)
        except ValueError:
            raise LabelError(
                f"{where_prefix(where)}tag {tag!r} is not one of the model's labels "
                f"{list(self.labels)}; retrain with it or map it to a known label."
            ) from None


def align_labels(
    word_ids: Sequence[int | None],
    word_tags: Sequence[str],
    label2id: Mapping[str, int],
    *,
    label_all_subwords: bool = False,
) -> list[int]:
    """Align word-level IOB2 tags to subword tokens.

    Works from a fast tokenizer's ``word_ids()`` alone, so it is tokenizer-agnostic.
    Special tokens (``None``) get ``-100``; the first subword of a word gets the word's label;
    later subwords get ``-100``, or with ``label_all_subwords=True`` the word's label with
    ``B-X`` turned into ``I-X``.

    Args:
        word_ids: For each subword, the index of its word, or ``None`` for special tokens.
        word_tags: One IOB2 tag per word.
        label2id: Map from tag to label id.
        label_all_subwords: Label continuation subwords too (``B-X`` becomes ``I-X``).

    Returns:
        One label id per subword, ``-100`` where the loss should ignore it.

    Raises:
        LabelError: A tag is not in ``label2id``, or a word id is out of range.

    Example:
        >>> align_labels([None, 0, 0, 1, None], ["B-PER", "O"], {"O": 0, "B-PER": 1, "I-PER": 2})
        [-100, 1, -100, 0, -100]
        >>> align_labels([None, 0, 0, 1, None], ["B-PER", "O"], {"O": 0, "B-PER": 1, "I-PER": 2},
        ...              label_all_subwords=True)
        [-100, 1, 2, 0, -100]
    """
    out: list[int] = []
    previous: int | None = None
    n_words = len(word_tags)
    for word in word_ids:
        if word is None:
            out.append(IGNORE_INDEX)
        elif not 0 <= word < n_words:
            raise LabelError(
                f"word id {word} is out of range for {n_words} tags; "
                "word_ids and word_tags must come from the same sentence."
            )
        else:
            tag = word_tags[word]
            if word != previous:
                out.append(_lookup(label2id, tag))
            elif label_all_subwords:
                out.append(_lookup(label2id, "I-" + tag[2:] if tag.startswith("B-") else tag))
            else:
                out.append(IGNORE_INDEX)
        previous = word
    return out


def _lookup(label2id: Mapping[str, int], tag: str) -> int:
    try:
        return label2id[tag]
    except KeyError:
        raise LabelError(
            f"tag {tag!r} is not in label2id (known: {sorted(label2id)}); "
            "build the label set from all the data, or convert the tags to IOB2 first."
        ) from None
