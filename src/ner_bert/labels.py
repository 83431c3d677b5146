"""Tag schemes, their detection and conversion to IOB2, label sets and ``align_labels``.

Pure Python: no torch, no transformers, so everything here is testable with plain lists.

Internally ner_bert works in **IOB2** (``B-X`` opens every mention, ``I-X`` continues it).
Readers convert IOB1, BIOES, BILOU and plain (IO) labels to IOB2 on the way in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from ._choices import parse_choice
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

OUTSIDE = "O"


class TagScheme(str, Enum):
    """Tag schemes ner_bert reads. Everything is converted to :attr:`IOB2`."""

    IOB1 = "IOB1"
    IOB2 = "IOB2"
    BIOES = "BIOES"
    BILOU = "BILOU"
    IO = "IO"
    """Plain labels (``PER``, ``O``) or ``I-`` only: a run of the same type is one mention."""


_PREFIXES: dict[TagScheme, frozenset[str]] = {
    TagScheme.IOB1: frozenset("BI"),
    TagScheme.IOB2: frozenset("BI"),
    TagScheme.BIOES: frozenset("BIES"),
    TagScheme.BILOU: frozenset("BILU"),
    TagScheme.IO: frozenset("I"),
}


def parse_scheme(value: str | TagScheme) -> TagScheme:
    """Parse a scheme name (case-insensitive); the error lists the choices.

    Example:
        >>> parse_scheme("bioes")
        <TagScheme.BIOES: 'BIOES'>
    """
    return parse_choice(TagScheme, "scheme", value)


@dataclass(frozen=True)
class Span:
    """An entity mention over words: ``words[start:end]`` has type ``label``."""

    label: str
    start: int
    end: int


def split_tag(tag: str, *, where: str = "") -> tuple[str, str | None]:
    """Split ``"B-PER"`` into ``("B", "PER")``; ``"O"`` gives ``("O", None)``.

    A tag without a one-letter prefix (``"PER"``) gives ``("", "PER")``: a plain label.

    Example:
        >>> split_tag("I-MISC")
        ('I', 'MISC')
        >>> split_tag("O")
        ('O', None)
    """
    if tag == OUTSIDE:
        return OUTSIDE, None
    if not tag or tag != tag.strip():
        raise TagSchemeError(
            f"{where}tag {tag!r} is empty or has surrounding whitespace; "
            "expected 'O' or a tag like 'B-PER'."
        )
    if len(tag) > 2 and tag[1] in "-_" and tag[0].isalpha() and tag[0].isupper():
        return tag[0], tag[2:]
    return "", tag


def _where(where: str) -> str:
    return f"{where}: " if where and not where.endswith(": ") else where


def detect_scheme(tag_sequences: Iterable[Sequence[str]]) -> TagScheme:
    """Guess the tag scheme of some tag sequences.

    Plain labels give :attr:`TagScheme.IO`; any ``E-``/``S-`` gives BIOES, ``L-``/``U-``
    BILOU; an ``I-X`` that opens a mention gives IOB1; otherwise IOB2.

    Example:
        >>> detect_scheme([["I-PER", "I-PER", "O"]])
        <TagScheme.IOB1: 'IOB1'>
        >>> detect_scheme([["B-PER", "I-PER", "O", "B-LOC"]])
        <TagScheme.IOB2: 'IOB2'>
        >>> detect_scheme([["S-PER", "O"]])
        <TagScheme.BIOES: 'BIOES'>
    """
    prefixes: set[str] = set()
    i_opens = False
    for tags in tag_sequences:
        previous: str | None = None
        for tag in tags:
            prefix, label = split_tag(tag)
            prefixes.add(prefix)
            if prefix == "I" and previous != label:
                i_opens = True
            previous = label
    if "" in prefixes:
        return TagScheme.IO
    if prefixes & {"E", "S"}:
        return TagScheme.BIOES
    if prefixes & {"L", "U"}:
        return TagScheme.BILOU
    if i_opens:
        return TagScheme.IOB1
    return TagScheme.IOB2


def convert_to_iob2(
    tags: Sequence[str], scheme: TagScheme | str, *, where: str = "", strict: bool = True
) -> list[str]:
    """Convert one sentence's tags from ``scheme`` to IOB2.

    Args:
        tags: The tags of one sentence.
        scheme: The scheme they are in.
        where: Location for error messages, e.g. ``"train.txt:12"``.
        strict: For IOB2 input, reject an ``I-X`` that does not continue an ``X`` mention
            (with ``strict=False`` it opens a new mention, as conlleval reads it).

    Raises:
        TagSchemeError: A prefix the scheme does not have, or an IOB2 violation in strict mode.

    Example:
        >>> convert_to_iob2(["I-PER", "I-PER", "B-PER", "O"], "IOB1")
        ['B-PER', 'I-PER', 'B-PER', 'O']
        >>> convert_to_iob2(["B-LOC", "E-LOC", "S-PER"], "BIOES")
        ['B-LOC', 'I-LOC', 'B-PER']
        >>> convert_to_iob2(["PER", "PER", "O", "LOC"], "IO")
        ['B-PER', 'I-PER', 'O', 'B-LOC']
    """
    scheme = parse_scheme(scheme)
    allowed = _PREFIXES[scheme]
    out: list[str] = []
    previous: str | None = None  # type of the previous word's mention, None after O
    where = _where(where)
    for index, tag in enumerate(tags):
        prefix, label = split_tag(tag, where=where)
        if label is None:
            out.append(OUTSIDE)
            previous = None
            continue
        if scheme is TagScheme.IO and prefix in ("", "I"):
            out.append(("I-" if previous == label else "B-") + label)
        elif prefix not in allowed:
            expected = ", ".join(sorted(p + "-" for p in allowed))
            shown = prefix + "-" if prefix else "(none)"
            raise TagSchemeError(
                f"{where}word {index + 1}: tag {tag!r} has prefix {shown}"
                f" but {scheme.value} tags are 'O' or start with {expected}; "
                "pass the right scheme (or scheme='auto')."
            )
        elif prefix in ("B", "S", "U"):
            out.append("B-" + label)
        elif scheme is TagScheme.IOB2 and previous != label:
            if strict:
                before = f"follows {tags[index - 1]!r}" if index else "opens the sentence"
                raise TagSchemeError(
                    f"{where}word {index + 1}: tag {tag!r} {before}; IOB2 mentions start with "
                    f"'B-{label}' (pass scheme='IOB1' if the data is IOB1, or "
                    "scheme='auto' to detect it)."
                )
            out.append("B-" + label)
        elif scheme in (TagScheme.BIOES, TagScheme.BILOU) and previous != label:
            # An I-/E-/L- that does not continue a mention: read it as opening one.
            out.append("B-" + label)
        elif scheme is TagScheme.IOB1 and previous != label:
            out.append("B-" + label)
        else:
            out.append("I-" + label)
        # After E-/L-/S-/U- the mention is closed.
        previous = None if prefix in ("E", "S", "L", "U") else label
    return out


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
                f"{_where(where)}tag {tag!r} is not one of the model's labels "
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
