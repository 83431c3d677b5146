"""Tag schemes: their names, splitting a tag, detecting the scheme and converting to IOB2.

Private: users import these names from :mod:`ner_bert.labels`, which re-exports them. Pure
Python, like the rest of the base layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import Enum

from ._choices import parse_choice
from .errors import TagSchemeError

__all__ = [
    "OUTSIDE",
    "TagScheme",
    "convert_to_iob2",
    "detect_scheme",
    "parse_scheme",
    "split_tag",
    "where_prefix",
]

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

_OPENING = frozenset("BSU")
"""Prefixes that always open a mention."""

_CLOSING = frozenset("ESLU")
"""Prefixes after which the mention is closed."""


def parse_scheme(value: str | TagScheme) -> TagScheme:
    """Parse a scheme name (case-insensitive); the error lists the choices.

    Example:
        >>> parse_scheme("bioes")
        <TagScheme.BIOES: 'BIOES'>
    """
    return parse_choice(TagScheme, "scheme", value)


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
    _check_tag_text(tag, where)
    if len(tag) >= 2 and tag[1] in "-_" and (tag[0] in "bieslu" or tag[0].isupper()):
        prefix, label = tag[0], tag[2:]
        if prefix in "bieslu":
            raise TagSchemeError(
                f"{where}tag {tag!r} has a lowercase prefix; write it {tag[0].upper() + tag[1:]!r}"
                " (prefixes are B, I, E, S, L, U; the outside tag is 'O')."
            )
        if not label or label.upper() == OUTSIDE:
            raise TagSchemeError(
                f"{where}tag {tag!r} has no entity type after its prefix; expected 'O' or a "
                "tag like 'B-PER'."
            )
        return prefix, label
    return "", tag


def _check_tag_text(tag: str, where: str) -> None:
    """The text of a tag that is not ``O``: no whitespace or control characters, not a
    spelling of ``O``, not a bare prefix."""
    if not tag or any(c.isspace() or not c.isprintable() for c in tag):
        raise TagSchemeError(
            f"{where}tag {tag!r} is empty or has whitespace or control characters; "
            "expected 'O' or a tag like 'B-PER'."
        )
    if tag in ("o", "0"):
        raise TagSchemeError(f"{where}tag {tag!r}: the outside tag is 'O' (capital letter O).")
    if tag in ("B", "I", "E", "S", "L", "U"):
        raise TagSchemeError(
            f"{where}tag {tag!r} is a prefix without an entity type; expected a tag like 'B-PER'."
        )


def where_prefix(where: str) -> str:
    """A location as the start of an error message: ``"train.txt:12"`` -> ``"train.txt:12: "``."""
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
    where = where_prefix(where)
    out: list[str] = []
    previous: str | None = None  # type of the previous word's mention, None after O
    for index, tag in enumerate(tags):
        prefix, label = split_tag(tag, where=where)
        if label is None:
            out.append(OUTSIDE)
            previous = None
            continue
        _check_prefix(tag, prefix, scheme, here=f"{where}word {index + 1}: ")
        # B-/S-/U- open a mention; so does any other prefix that does not continue one (for
        # IOB1 that is the rule, for BIOES/BILOU/IO lenient reading, for IOB2 a violation).
        opens = prefix in _OPENING or previous != label
        if opens and prefix == "I" and scheme is TagScheme.IOB2 and strict:
            raise _iob2_violation(tags, index, label, here=f"{where}word {index + 1}: ")
        out.append(("B-" if opens else "I-") + label)
        previous = None if prefix in _CLOSING else label
    return out


def _check_prefix(tag: str, prefix: str, scheme: TagScheme, *, here: str) -> None:
    """Reject a prefix ``scheme`` does not have (IO also takes plain labels, prefix ``""``)."""
    allowed = _PREFIXES[scheme]
    if prefix in allowed or (scheme is TagScheme.IO and prefix == ""):
        return
    expected = ", ".join(sorted(p + "-" for p in allowed))
    shown = prefix + "-" if prefix else "(none)"
    raise TagSchemeError(
        f"{here}tag {tag!r} has prefix {shown} but {scheme.value} tags are 'O' or start with "
        f"{expected}; pass the right scheme (or scheme='auto')."
    )


def _iob2_violation(tags: Sequence[str], index: int, label: str, *, here: str) -> TagSchemeError:
    """The error for an IOB2 ``I-X`` at ``tags[index]`` that does not continue an ``X`` mention."""
    before = f"follows {tags[index - 1]!r}" if index else "opens the sentence"
    return TagSchemeError(
        f"{here}tag {tags[index]!r} {before}; IOB2 mentions start with 'B-{label}' (pass "
        "scheme='IOB1' if the data is IOB1, or scheme='auto' to detect it)."
    )
